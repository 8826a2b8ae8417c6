"""Property test over the API (hypothesis): no sequence of invite / accept / change_role
calls lets anyone bring about a membership with a role above what the policy lets them
grant. The actors never include the top role holder, so the roles only it may hand out
(Pix4D Owner; in respond.io anything but Member, since a User Admin adds Members only and
changes no role) must never appear on anyone else."""

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

COUNTER = itertools.count()

STYLES = {
    # style: (top role, second role invited by the top, roles nobody but the top may grant,
    #         every role)
    "pix4d": ("owner", "manager", {"owner"}, ["owner", "manager", "editor", "reader", "member"]),
    "respondio": (
        "org_admin",
        "user_admin",
        {"org_admin", "billing_admin", "user_admin"},
        ["org_admin", "billing_admin", "user_admin", "member"],
    ),
}

operation = st.tuples(
    st.sampled_from(["invite", "accept", "change_role"]),
    st.integers(min_value=0, max_value=3),  # who acts: the second, or user 1..3
    st.integers(min_value=0, max_value=3),  # whom it is about
    st.integers(min_value=0, max_value=4),  # which role
)


def _user(api, uid):
    assert api.put(f"/v1/users/{uid}", {"email": f"{uid}@x.io", "name": uid}).status_code in (
        200,
        201,
    )


def _invite_and_accept(api, org, actor, uid, role):
    made = api.post(
        f"/v1/orgs/{org}/invitations",
        {"invitations": [{"email": f"{uid}@x.io", "role": role}]},
        actor=actor,
    )
    if made.status_code != 201:
        return None
    token = made.get_json()["items"][0]["token"]
    return api.post(
        "/v1/invitations/accept",
        {"token": token, "user": {"id": uid, "email": f"{uid}@x.io", "name": uid}},
    )


def _run(api, style, ops):
    top_role, second_role, reserved, roles = STYLES[style]
    n = next(COUNTER)
    top, second = f"top-{style}-{n}", f"second-{style}-{n}"
    users = [second] + [f"u{i}-{style}-{n}" for i in (1, 2, 3)]
    for uid in [top, *users]:
        _user(api, uid)
    created = api.post("/v1/orgs", {"name": f"o{n}", "style": style}, actor=top)
    assert created.status_code == 201, created.get_json()
    org = created.get_json()["id"]
    accepted = _invite_and_accept(api, org, top, second, second_role)
    assert accepted is not None and accepted.status_code == 200, accepted and accepted.get_json()
    tokens = {}
    for kind, who, whom, role_index in ops:
        actor, target, role = users[who], users[whom], roles[role_index % len(roles)]
        if kind == "invite":
            made = api.post(
                f"/v1/orgs/{org}/invitations",
                {"invitations": [{"email": f"{target}@x.io", "role": role}]},
                actor=actor,
            )
            if made.status_code == 201:
                tokens[target] = made.get_json()["items"][0]["token"]
        elif kind == "accept" and target in tokens:
            api.post(
                "/v1/invitations/accept",
                {
                    "token": tokens.pop(target),
                    "user": {"id": target, "email": f"{target}@x.io", "name": target},
                },
            )
        elif kind == "change_role":
            api.put(f"/v1/orgs/{org}/members/{target}", {"role": role}, actor=actor)
        members = api.get(f"/v1/orgs/{org}/members?limit=500", actor=top).get_json()["items"]
        held = {m["user_id"]: m["role"] for m in members if m["status"] == "active"}
        assert held[top] == top_role
        if style == "pix4d":
            escalated = {u: r for u, r in held.items() if u != top and r in reserved}
        else:  # respond.io: the user admin keeps its role; everyone else is a Member
            escalated = {u: r for u, r in held.items() if u not in (top, second) and r in reserved}
        assert escalated == {}, (style, ops, held)


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=st.lists(operation, min_size=1, max_size=10))
def test_pix4d_nobody_but_an_owner_makes_an_owner(api, ops):
    _run(api, "pix4d", ops)


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=st.lists(operation, min_size=1, max_size=10))
def test_respondio_a_user_admin_only_ever_makes_members(api, ops):
    _run(api, "respondio", ops)
