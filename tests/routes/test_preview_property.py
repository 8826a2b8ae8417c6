"""Property: a preview answers what the write does.

For random organization states of each style (members with random roles, some the last of
theirs; pending invitations; registered resources with grants; now and then a closed org)
and random actors (members, or a user of no membership), every management action is asked
twice: as a preview, ``/v1/authorize`` on the inline Invitation, RoleChange, Membership or
Grant (on the fast path and on the Flask route), and as the write itself, the domain call
the endpoint makes, run in a transaction that is rolled back. The preview's ``allowed`` must
be whether the write succeeded, for every action: invite as each role (a new email, a
member's, a pending one's), resend, cancel, change the role of (to each role) and accept
(as the actor; some are sent to a member's email) each pending invitation, change each
member to each role (their own included), remove each member (the actor included), grant each role of
a resource's type to members, revoke each grant (and one nobody holds).

``PREVIEW_STATES`` sets the number of states per style and database (default 15; e.g. 200
for a long run). A difference fails with the state and the action (Hypothesis shrinks it).
"""

import collections
import datetime
import itertools
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import models
from access import invitations, members, resources
from access.context import Context
from access.errors import DomainError
from models import (
    ApiKey,
    Grant,
    Invitation,
    Membership,
    Organization,
    Resource,
    db,
    hash_secret,
    transaction,
)
from tests.support import org_with

STATES = int(os.environ.get("PREVIEW_STATES", "15"))
# Resources registered in each state: (type, id, parent id or None, attributes).
RESOURCES = {
    "pix4d": [
        ("Folder", "f1", None, {}),
        ("Dataset", "d1", "f1", {}),
        ("License", "l1", None, {"kind": "desktop"}),
    ],
    "up42": [("Workspace", "w1", None, {}), ("Asset", "a1", "w1", {})],
    "respondio": [("Space", "s1", None, {}), ("Space", "s2", None, {})],
}
# What the run covered (-s prints it): style -> {"states": n, (action, allowed): n}
COUNTS: dict = {}
_orgs = itertools.count(1)


class Rollback(Exception):
    """Raised to roll the write's transaction back."""


def clear() -> None:
    """Empty every table but the API keys."""
    with db.connection_context():
        Resource.update(parent=None).execute()
        for model in reversed(models.MODELS):
            if model is not ApiKey:
                model.delete().execute()


def build(app, clock, style: str, data) -> dict:
    """A random state of a ``style`` organization; returns what the actions need."""
    engine = app.extensions["orgauthz.policy"].current.engine(style)
    roles = engine.roles("Organization")
    org = f"p{next(_orgs)}"
    n = data.draw(st.integers(1, 5), label="members")
    users = [f"{org}-u{i}" for i in range(n)]
    member_roles = data.draw(st.lists(st.sampled_from(roles), min_size=n, max_size=n))
    org_with(org, style, dict(zip(users, member_roles)))
    outsider = f"{org}-out"
    org_with(f"{org}-other", style, {outsider: roles[0]})  # a user of no membership here
    guest = f"{org}-guest"  # a user of no organization, invited now and then
    org_with(f"{org}-gone", style, {guest: roles[0]})
    with db.connection_context():
        made = {}
        for type_, rid, parent, attrs in RESOURCES[style]:
            made[rid] = Resource.create(
                org=org, type=type_, rid=rid, parent=made.get(parent), attributes=attrs
            )
        pending = data.draw(st.lists(st.sampled_from(roles), max_size=2), label="pending")
        people = [f"{u}@example.test" for u in [f"{org}-invited", outsider, *users]]
        for i, role in enumerate(pending):  # the first to the guest, the second to anyone
            email = data.draw(st.sampled_from(people)) if i else f"{guest}@example.test"
            Invitation.create(
                id=f"{org}-inv{i}",
                org=org,
                email=email,
                email_key=email,
                role=role,
                token_hash=hash_secret(f"{org}-inv{i}"),  # its token is its id
                invited_by=data.draw(st.sampled_from(users + [outsider])),
                created_at=clock(),
                expires_at=clock() + datetime.timedelta(days=3),
            )
        rows = list(made.values())
        held = data.draw(
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, len(rows) - 1)), max_size=4),
            label="grants",
        )
        grants = set()
        for u, r in held:
            type_roles = engine.roles(rows[r].type)
            if type_roles and (u, r) not in grants:
                role = data.draw(st.sampled_from(type_roles))
                Grant.create(user=users[u], resource=rows[r], org=org, role=role)
                grants.add((u, r))
        Membership.delete().where(Membership.org == f"{org}-gone").execute()
        if data.draw(st.integers(0, 9), label="closed") == 0:
            Organization.update(closed_at=clock()).where(Organization.id == org).execute()
    actors = data.draw(
        st.lists(st.sampled_from(users + [outsider]), min_size=1, max_size=2, unique=True),
        label="actors",
    )
    return {
        "org": org,
        "engine": engine,
        "roles": roles,
        "users": users,
        "member_roles": member_roles,
        "pending": [f"{org}-inv{i}" for i in range(len(pending))],
        "rows": [(r.type, r.rid) for r in rows],
        "grants": [(users[u], rows[r].type, rows[r].rid) for u, r in sorted(grants)],
        "actors": actors,
        "guest": guest,
    }


def actions(state: dict):
    """Every management action of the state: (name, action, inline resource, write)."""
    org, roles, users = state["org"], state["roles"], state["users"]
    engine = state["engine"]

    def ref(type_, attributes, id_="x", parent=None):
        body = {"type": type_, "id": id_, "org": org, "attributes": attributes}
        if parent:
            body["parent"] = parent
        return body

    for i, role in enumerate(roles):
        email = f"{org}-new{i}@example.test"
        yield (
            f"invite {email} as {role}",
            "invite",
            ref("Invitation", {"role": role, "email": email}),
            lambda ctx, a, e=email, r=role: invitations.invite(
                ctx, a, org, [{"email": e, "role": r}]
            ),
        )
    taken = [f"{users[0]}@example.test"] + [f"{org}-invited0@example.test"]
    for email in taken:
        yield (
            f"invite {email} (taken) as {roles[-1]}",
            "invite",
            ref("Invitation", {"role": roles[-1], "email": email}),
            lambda ctx, a, e=email: invitations.invite(
                ctx, a, org, [{"email": e, "role": roles[-1]}]
            ),
        )
    for inv in state["pending"]:
        yield (
            f"resend {inv}",
            "invite",
            ref("Invitation", {"role": "ignored"}, inv),
            lambda ctx, a, i=inv: invitations.resend(ctx, a, org, i),
        )
        yield (
            f"cancel {inv}",
            "cancel",
            ref("Invitation", {}, inv),
            lambda ctx, a, i=inv: invitations.cancel(ctx, a, org, i),
        )
        for role in roles:
            yield (
                f"change {inv} to {role}",
                "change_role",
                ref("Invitation", {"to_role": role, "role": roles[-1]}, inv),
                lambda ctx, a, i=inv, r=role: invitations.change_role(ctx, a, org, i, r),
            )
        lies = {"email_matches": True, "actor_in_other_org": False, "role": roles[0]}
        yield (
            f"accept {inv}",
            "accept",
            ref("Invitation", lies, inv),
            lambda ctx, a, i=inv: invitations.accept(
                ctx, i, {"id": a, "email": f"{a}@example.test", "name": a}
            ),
        )
    for user in users:
        for role in roles:
            # Service-owned facts the caller sends are ignored: these are all wrong on purpose.
            lies = {"from_role": role, "is_self": False, "last_of_role": False}
            yield (
                f"change {user} to {role}",
                "change_role",
                ref("RoleChange", {"member": user, "to_role": role, **lies}),
                lambda ctx, a, u=user, r=role: members.change_role(ctx, a, org, u, r),
            )
        yield (
            f"remove {user}",
            "remove",
            ref("Membership", {"user": user, "role": roles[-1], "last_of_role": False}),
            lambda ctx, a, u=user: members.remove(ctx, a, org, [u]),
        )
    for type_, rid in state["rows"]:
        for role in engine.roles(type_):
            for user in users[:3]:
                yield (
                    f"grant {role} on {type_} {rid} to {user}",
                    "grant",
                    ref("Grant", {"user": user, "role": role}, parent={"type": type_, "id": rid}),
                    lambda ctx, a, u=user, t=type_, i=rid, r=role: resources.put_grant(
                        ctx, a, org, t, i, u, r
                    ),
                )
    nobody = (users[-1], *state["rows"][0])
    for user, type_, rid in [*state["grants"], nobody]:
        yield (
            f"revoke {user}'s grant on {type_} {rid}",
            "revoke",
            ref("Grant", {"user": user, "role": "ignored"}, parent={"type": type_, "id": rid}),
            lambda ctx, a, u=user, t=type_, i=rid: resources.delete_grant(ctx, a, org, t, i, u),
        )


def write_succeeds(ctx: Context, actor: str, write) -> bool:
    """Whether the write succeeds, run in a transaction that is then rolled back."""
    with db.connection_context():
        ok = None
        try:
            with transaction():
                try:
                    write(ctx, actor)
                    ok = True
                except DomainError:
                    ok = False
                raise Rollback
        except Rollback:
            pass
    return ok


def preview(api, actor: str, action: str, resource: dict, flask: bool) -> bool:
    body = {"actor": {"id": actor}, "action": action, "resource": resource}
    headers = {"X-Actor-Id": actor} if flask else {}  # the header sends it to the Flask route
    response = api.post("/v1/authorize", body, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["allowed"]


@pytest.mark.parametrize("style", sorted(RESOURCES))
@settings(
    max_examples=STATES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_preview_answers_what_the_write_does(app, api, clock, style, data):
    clear()
    state = build(app, clock, style, data)
    ctx = Context(app.extensions["orgauthz.policy"].current, clock)
    count = COUNTS.setdefault(style, collections.Counter())
    count["states"] += 1
    asked = [(actor, a) for actor in state["actors"] for a in actions(state)]
    asked += [(state["guest"], a) for a in actions(state) if a[1] == "accept"]
    for actor, (name, action, resource, write) in asked:
        wrote = write_succeeds(ctx, actor, write)
        fast = preview(api, actor, action, resource, flask=False)
        slow = preview(api, actor, action, resource, flask=True)
        count[(action, wrote)] += 1
        assert fast == slow == wrote, (
            f"{style}: {actor} {name}: preview {fast} (Flask route {slow}), write {wrote}",
            state["member_roles"],
        )


def test_the_run_covered_every_style():
    """Says what the property covered (with ``-s``): states and actions per style."""
    for style, count in sorted(COUNTS.items()):
        asked = {k: n for k, n in count.items() if k != "states"}
        kinds = sorted({a for a, _ in asked})
        each = ", ".join(
            f"{a} {count[(a, True)]}/{count[(a, True)] + count[(a, False)]}" for a in kinds
        )
        print(f"{style}: {count['states']} states, {sum(asked.values())} actions ({each} allowed)")
