"""Lock, then decide, then write (access/uow.py).

1. On PostgreSQL, for every write route: another transaction holds the organization's row
   and lowers the actor's role (or revokes their grant); the write is sent and waits for the
   lock; the other transaction commits. The write must be decided on the committed facts,
   so it is refused. Before the unit of work, the resource and grant routes decided before
   their lock and wrote as the old role.
2. Rules that span organizations hold under races: a UP42 user accepting two accounts'
   invitations and creating a third account at once ends in one account; the same for
   respond.io's one organization per user.
3. Every decision a write route makes is made inside an entered unit of work.
"""

import threading

import psycopg2
import pytest

from access import decisions, refusals, uow
from models import Invitation, Membership, Organization, db
from tests.conftest import PG_URL, Api
from tests.support import accept, add_user, invite, new_org, race, waiting_on_a_lock

PIX = "/v1/orgs/org-pix4d"


def _connect(schema: str):
    conn = psycopg2.connect(PG_URL, options=f"-c search_path={schema}")
    return conn


def _invitation_id(email: str) -> str:
    with db.connection_context():
        return Invitation.get(Invitation.email == email).id


# (name, actor, the change committed while the write waits, method, path, body, status when
# the change is not made). ``setup`` runs first, as another user, to give the write its object.
def _demote(user, role):
    return ("UPDATE membership SET role = %s WHERE user_id = %s", (role, user))


def _revoke(user, rid):
    return (
        'DELETE FROM "grant" WHERE user_id = %s AND resource_id = '
        "(SELECT id FROM resource WHERE rid = %s)",
        (user, rid),
    )


CASES = [
    (
        "rename org",
        "pix4d-owner",
        _demote("pix4d-owner", "manager"),
        "PATCH",
        PIX,
        {"name": "New"},
        200,
    ),
    ("close org", "pix4d-owner", _demote("pix4d-owner", "manager"), "DELETE", PIX, None, 200),
    (
        "change a role",
        "pix4d-manager",
        _demote("pix4d-manager", "reader"),
        "PUT",
        f"{PIX}/members/pix4d-member",
        {"role": "editor"},
        200,
    ),
    (
        "remove a member",
        "pix4d-manager",
        _demote("pix4d-manager", "reader"),
        "DELETE",
        f"{PIX}/members/pix4d-member",
        None,
        204,
    ),
    (
        "remove members",
        "pix4d-manager",
        _demote("pix4d-manager", "reader"),
        "POST",
        f"{PIX}/members/remove",
        {"user_ids": ["pix4d-member"]},
        200,
    ),
    (
        "invite",
        "pix4d-manager",
        _demote("pix4d-manager", "reader"),
        "POST",
        f"{PIX}/invitations",
        {"invitations": [{"email": "n@x.example", "role": "reader"}]},
        201,
    ),
    (
        "cancel an invitation",
        "pix4d-manager",
        _demote("pix4d-manager", "reader"),
        "DELETE",
        f"{PIX}/invitations/{{invitation}}",
        None,
        200,
    ),
    (
        "change an invitation's role",
        "pix4d-manager",
        _demote("pix4d-manager", "reader"),
        "PATCH",
        f"{PIX}/invitations/{{invitation}}",
        {"role": "editor"},
        200,
    ),
    (
        "create a folder",
        "pix4d-editor",
        _demote("pix4d-editor", "reader"),
        "PUT",
        f"{PIX}/resources/Folder/new-folder",
        {},
        201,
    ),
    (
        "edit a folder",
        "pix4d-editor",
        _demote("pix4d-editor", "reader"),
        "PUT",
        f"{PIX}/resources/Folder/pix4d-survey",
        {"attributes": {"name": "x"}},
        200,
    ),
    (
        "delete a dataset",
        "pix4d-editor",
        _demote("pix4d-editor", "reader"),
        "DELETE",
        f"{PIX}/resources/Dataset/pix4d-quarry-march",
        None,
        204,
    ),
    (
        "create in a granted folder",
        "pix4d-member",
        _revoke("pix4d-member", "pix4d-survey"),
        "PUT",
        f"{PIX}/resources/Dataset/new-dataset",
        {"parent": {"type": "Folder", "id": "pix4d-survey"}},
        201,
    ),
    (
        "grant",
        "pix4d-manager",
        _demote("pix4d-manager", "reader"),
        "PUT",
        f"{PIX}/resources/Folder/pix4d-survey/grants/pix4d-reader",
        {"role": "editor"},
        201,
    ),
    (
        "revoke",
        "pix4d-manager",
        _demote("pix4d-manager", "reader"),
        "DELETE",
        f"{PIX}/resources/Folder/pix4d-survey/grants/pix4d-member",
        None,
        204,
    ),
    (
        "grant a batch",
        "pix4d-manager",
        _demote("pix4d-manager", "reader"),
        "POST",
        f"{PIX}/members/pix4d-reader/grants",
        {"grants": [{"type": "Folder", "id": "pix4d-survey", "role": "editor"}]},
        200,
    ),
]


def _prepare(api, name):
    """What a case needs beyond the demo data; returns the path's placeholders."""
    if name in ("cancel an invitation", "change an invitation's role"):
        r = invite(api, "pix4d-owner", "org-pix4d", ("c@x.example", "reader"))
        assert r.status_code == 201, r.get_json()
        return {"invitation": _invitation_id("c@x.example")}
    if name == "create in a granted folder":  # the member's reader grant becomes editor
        r = api.put(
            f"{PIX}/resources/Folder/pix4d-survey/grants/pix4d-member",
            {"role": "editor"},
            actor="pix4d-owner",
        )
        assert r.status_code == 200, r.get_json()
    return {}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("lowered", [False, True], ids=["as is", "lowered meanwhile"])
def test_a_write_waiting_for_the_lock_is_decided_on_what_committed(
    api, app, demo, backend, pg_schema, case, lowered
):
    if backend != "postgres":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises whole writes")
    name, actor, (sql, params), method, path, body, ok = case
    path = path.format(**_prepare(api, name))
    other = _connect(pg_schema)
    try:
        with other.cursor() as cur:
            cur.execute("SELECT id FROM organization WHERE id = 'org-pix4d' FOR UPDATE")
            if lowered:
                cur.execute(sql, params)
                assert cur.rowcount == 1
        result = {}

        def write():
            client = Api(app.test_client(), api.key)
            result["response"] = client.call(method, path, json=body, actor=actor)

        thread = threading.Thread(target=write)
        thread.start()
        assert waiting_on_a_lock(PG_URL), "the write did not wait for the org's lock"
        other.commit()
        thread.join(timeout=30)
    finally:
        other.close()
    response = result["response"]
    if lowered:
        assert response.status_code == 403, (name, response.status_code, response.get_json())
    else:
        assert response.status_code == ok, (name, response.status_code, response.get_json())


# ---------------------------------------------------------------- rules across organizations


def _invited_twice(api, n, style, orgs):
    uid = f"joiner-{style}-{n}"
    add_user(api, uid)
    tokens = []
    for inviter, org_id in zip(("owner-a", "owner-b"), orgs):
        r = invite(api, inviter, org_id, (f"{uid}@example.com", "member"))
        assert r.status_code == 201, r.get_json()
        tokens.append(r.get_json()["items"][0]["token"])
    person = {"id": uid, "email": f"{uid}@example.com", "name": uid}
    accepts = [
        ("POST", "/v1/invitations/accept", {"token": t, "user": person}, None) for t in tokens
    ]
    return uid, accepts


ROUNDS = 8


def test_up42_one_account_holds_under_concurrent_accepts_and_creation(api, app):
    """[U] no account merging: two accounts invite an existing user, who accepts both and
    creates a third, all at once: the user ends in exactly one account, every round."""
    add_user(api, "owner-a")
    add_user(api, "owner-b")
    orgs = (new_org(api, "owner-a", "up42")["id"], new_org(api, "owner-b", "up42")["id"])
    for n in range(ROUNDS):
        uid, accepts = _invited_twice(api, n, "up42", orgs)
        create = ("POST", "/v1/orgs", {"name": "Own", "style": "up42"}, uid)
        results = race(app, api.key, [*accepts, create])
        with db.connection_context():
            belongs = (
                Membership.select()
                .join(Organization)
                .where((Membership.user == uid) & (Organization.style == "up42"))
                .count()
            )
        assert belongs == 1, f"round {n}: {results}"
        assert sorted(results).count(403) == 2, f"round {n}: {results}"


def test_respondio_one_created_org_per_user_holds_under_concurrency(api, app):
    """[R2] a user creates one organization, and may join others by invitation: two
    creations and two accepts at once leave exactly one organization created by the user,
    and both invitations accepted, every round."""
    add_user(api, "owner-a")
    add_user(api, "owner-b")
    orgs = (new_org(api, "owner-a", "respondio")["id"], new_org(api, "owner-b", "respondio")["id"])
    for n in range(ROUNDS):
        uid, accepts = _invited_twice(api, n, "respondio", orgs)
        create = ("POST", "/v1/orgs", {"name": "Own", "style": "respondio"}, uid)
        results = race(app, api.key, [create, create, *accepts])
        with db.connection_context():
            created = Organization.select().where(Organization.created_by == uid).count()
        assert created == 1, f"round {n}: {results}"
        assert sorted(results) == [200, 200, 201, 403], f"round {n}: {results}"


# ---------------------------------------------------------------- decisions only inside


def test_write_routes_decide_only_inside_a_unit_of_work(api, demo, monkeypatch):
    """Every policy question a write route asks (decisions and the what-ifs that explain a
    refusal) is asked while its unit of work is entered and its locks taken."""
    outside = []
    real_decide, real_would_allow = decisions._decide, refusals.would_allow

    def spy_decide(policy, facts, actor, action, target, **kw):
        if uow.current() is None:
            outside.append((actor, action, target and target.node.type))
        return real_decide(policy, facts, actor, action, target, **kw)

    def spy_would_allow(*args, **kw):
        if uow.current() is None:
            outside.append(("what-if", *args[2:4]))
        return real_would_allow(*args, **kw)

    monkeypatch.setattr(decisions, "_decide", spy_decide)
    monkeypatch.setattr(refusals, "would_allow", spy_would_allow)

    add_user(api, "ann")
    calls = [
        ("POST", "/v1/orgs", {"name": "Mine", "style": "pix4d", "id": "org-ann"}, "ann", 201),
        ("PATCH", PIX, {"name": "Renamed"}, "pix4d-owner", 200),
        ("PUT", f"{PIX}/members/pix4d-member", {"role": "reader"}, "pix4d-manager", 200),
        ("PUT", f"{PIX}/members/pix4d-editor", {"role": "owner"}, "pix4d-manager", 403),
        (
            "POST",
            f"{PIX}/invitations",
            {"invitations": [{"email": "i@x.example", "role": "reader"}]},
            "pix4d-manager",
            201,
        ),
        ("PUT", f"{PIX}/resources/Folder/f-new", {}, "pix4d-editor", 201),
        ("PUT", f"{PIX}/resources/Folder/f-new", {"attributes": {"a": 1}}, "pix4d-editor", 200),
        (
            "PUT",
            f"{PIX}/resources/Folder/f-new/grants/pix4d-reader",
            {"role": "editor"},
            "pix4d-manager",
            201,
        ),
        (
            "POST",
            f"{PIX}/members/pix4d-reader/grants",
            {"grants": [{"type": "Folder", "id": "pix4d-survey", "role": "reader"}]},
            "pix4d-manager",
            200,
        ),
        ("DELETE", f"{PIX}/resources/Folder/f-new/grants/pix4d-reader", None, "pix4d-manager", 204),
        ("DELETE", f"{PIX}/resources/Folder/f-new", None, "pix4d-editor", 204),
        ("DELETE", f"{PIX}/members/pix4d-member", None, "pix4d-member", 204),
        ("POST", f"{PIX}/members/remove", {"user_ids": ["pix4d-reader"]}, "pix4d-manager", 200),
        ("DELETE", "/v1/orgs/org-ann", None, "ann", 200),
    ]
    for method, path, body, actor, status in calls:
        response = api.call(method, path, json=body, actor=actor)
        assert response.status_code == status, (method, path, response.get_json())
    r = invite(api, "pix4d-owner", "org-pix4d", ("z@x.example", "reader"))
    token = r.get_json()["items"][0]["token"]
    changed = api.patch(
        f"{PIX}/invitations/{_invitation_id('z@x.example')}",
        {"role": "editor"},
        actor="pix4d-owner",
    )
    assert changed.status_code == 200, changed.get_json()
    token = changed.get_json()["token"]  # a role change issues a new token
    assert (
        api.delete(
            f"{PIX}/invitations/{_invitation_id('i@x.example')}", actor="pix4d-owner"
        ).status_code
        == 200
    )
    assert accept(api, token, "zed", "z@x.example").status_code == 200
    assert outside == []

    # The spy does see a decision made outside: a read is one.
    assert api.get(PIX, actor="pix4d-owner").status_code == 200
    assert outside, "the spy saw no decision outside a unit of work"


def test_asking_for_a_write_outside_its_unit_raises(app):
    from access.context import Context

    ctx = Context(app.extensions["orgauthz.policy"].current, app.config["CLOCK"])
    unit = uow.UnitOfWork(ctx, "org-none")
    with pytest.raises(RuntimeError, match="inside its unit of work"):
        unit.require("ann", "close", None)
    with db.connection_context(), unit:
        pass
    with pytest.raises(RuntimeError, match="inside its unit of work"):
        unit.denial("ann", "remove", "Membership", {})


def test_a_unit_of_work_rolls_back_on_an_exception_and_lets_it_through(api, app):
    """An exception inside the block undoes every write of the unit, goes on to the caller,
    and leaves no change position to hand out; the next unit commits as usual."""
    from access.context import Context

    add_user(api, "ann")
    org = new_org(api, "ann", "pix4d")["id"]
    ctx = Context(app.extensions["orgauthz.policy"].current, app.config["CLOCK"])
    with db.connection_context():
        uow.take_committed()  # the requests above handed theirs out already; none is left
        unit = uow.UnitOfWork(ctx, org)
        with pytest.raises(LookupError, match="boom"), unit:
            Organization.update(name="changed").where(Organization.id == org).execute()
            raise LookupError("boom")
        assert Organization.get_by_id(org).name != "changed"
        assert unit.position is None and uow.take_committed() is None
        assert uow.current() is None
        with uow.UnitOfWork(ctx, org) as after:
            Organization.update(name="kept").where(Organization.id == org).execute()
        assert Organization.get_by_id(org).name == "kept"
        assert after.position is not None and uow.take_committed() == after.position
