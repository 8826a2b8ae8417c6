"""Members over HTTP: the list (filters, pending invitations, pagination), role changes,
removal of one or several (all or nothing), leaving, and what the policy refuses."""

from models import AuditEvent, Membership, User, db
from tests.support import (
    accept,
    add_user,
    invite,
    join,
    members,
    new_org,
    problem,
)


def pix4d_org(api):
    add_user(api, "olivia", name="Olivia Owner")
    org = new_org(api, "olivia", "pix4d")["id"]
    for uid, role in [
        ("max", "manager"),
        ("erin", "editor"),
        ("rita", "reader"),
        ("mia", "member"),
    ]:
        join(api, "olivia", org, uid, role)
    return org


def test_list_filters_and_pending(api, app, clock):
    org = pix4d_org(api)
    invite(api, "olivia", org, ("newbie@example.com", "reader"))
    listed = members(api, "olivia", org)
    assert set(listed) == {"olivia", "max", "erin", "rita", "mia", "newbie@example.com"}
    assert listed["olivia"] == {
        "user_id": "olivia",
        "email": "olivia@example.com",
        "name": "Olivia Owner",
        "role": "owner",
        "status": "active",
        "last_active_at": "2026-11-23T12:00:00Z",
        "joined_at": "2026-11-23T12:00:00Z",
    }
    assert listed["newbie@example.com"]["status"] == "pending"
    assert listed["newbie@example.com"]["user_id"] is None
    assert set(members(api, "olivia", org, role="reader")) == {"rita", "newbie@example.com"}
    assert set(members(api, "olivia", org, q="OLIVIA")) == {"olivia"}  # name or email, any case
    assert set(members(api, "olivia", org, q="newbie")) == {"newbie@example.com"}
    assert set(members(api, "olivia", org, q="%")) == set()  # a wildcard is a plain character
    # Only those the policy allows (Pix4D: Owners and Managers manage people).
    problem(api.get(f"/v1/orgs/{org}/members", actor="erin"), 403)
    body = problem(api.get(f"/v1/orgs/{org}/members?colour=red", actor="olivia"), 422)
    assert "colour" in body["errors"]
    problem(api.get(f"/v1/orgs/{org}/members?cursor=bm9wZQ", actor="olivia"), 422)


def test_list_pages_through_members_then_pending(api, app):
    org = pix4d_org(api)
    invite(api, "olivia", org, ("p1@example.com", "reader"), ("p2@example.com", "member"))
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get(f"/v1/orgs/{org}/members", actor="olivia", query_string=params).get_json()
        assert len(page["items"]) <= 2
        seen += [m["user_id"] or m["email"] for m in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen[:5] == ["erin", "max", "mia", "olivia", "rita"]  # members by id, then pending
    assert sorted(seen[5:]) == ["p1@example.com", "p2@example.com"]


def test_change_role_validation_and_audit(api, app):
    org = pix4d_org(api)
    body = problem(api.put(f"/v1/orgs/{org}/members/erin", {"role": "wizard"}, actor="olivia"), 422)
    assert "role" in body["errors"] and "owner" in body["errors"]["role"][0]
    body = problem(
        api.put(f"/v1/orgs/{org}/members/erin", {"role": "reader", "x": 1}, actor="olivia"), 422
    )
    assert "x" in body["errors"]
    problem(api.put(f"/v1/orgs/{org}/members/ghost", {"role": "reader"}, actor="olivia"), 404)
    problem(api.put("/v1/orgs/org-none/members/erin", {"role": "reader"}, actor="olivia"), 404)
    problem(api.put(f"/v1/orgs/{org}/members/erin", {"role": "reader"}, actor="rita"), 403)
    ok = api.put(f"/v1/orgs/{org}/members/erin", {"role": "reader"}, actor="max")
    assert ok.status_code == 200 and ok.get_json()["role"] == "reader"
    # The same role again: nothing to do, nothing audited.
    assert (
        api.put(f"/v1/orgs/{org}/members/erin", {"role": "reader"}, actor="max").status_code == 200
    )
    with db.connection_context():
        changes = list(AuditEvent.select().where(AuditEvent.action == "member.change_role"))
        assert [(e.actor, e.before, e.after) for e in changes] == [
            ("max", {"role": "editor"}, {"role": "reader"})
        ]
    # A Manager cannot touch an Owner (roles above their own rank).
    problem(api.put(f"/v1/orgs/{org}/members/olivia", {"role": "manager"}, actor="max"), 403)
    problem(api.delete(f"/v1/orgs/{org}/members/olivia", actor="max"), 403)


def test_remove_several_is_all_or_nothing(api, app):
    org = pix4d_org(api)
    # The Manager may remove the reader and the member, not the owner: nobody is removed.
    body = problem(
        api.post(
            f"/v1/orgs/{org}/members/remove", {"user_ids": ["rita", "olivia", "mia"]}, actor="max"
        ),
        403,
    )
    assert list(body["errors"]) == ["user_ids.1"]
    assert set(members(api, "olivia", org)) == {"olivia", "max", "erin", "rita", "mia"}
    problem(
        api.post(f"/v1/orgs/{org}/members/remove", {"user_ids": ["rita", "ghost"]}, actor="max"),
        404,
    )
    problem(
        api.post(f"/v1/orgs/{org}/members/remove", {"user_ids": ["rita", "rita"]}, actor="max"), 422
    )
    problem(api.post(f"/v1/orgs/{org}/members/remove", {"user_ids": []}, actor="max"), 422)
    ok = api.post(f"/v1/orgs/{org}/members/remove", {"user_ids": ["rita", "mia"]}, actor="max")
    assert ok.status_code == 200 and ok.get_json()["removed"] == ["rita", "mia"]
    assert set(members(api, "olivia", org)) == {"olivia", "max", "erin"}


def test_removing_every_owner_at_once_is_removing_the_last(api, app):
    org = pix4d_org(api)
    api.put(f"/v1/orgs/{org}/members/max", {"role": "owner"}, actor="olivia")
    # Each alone is not the last Owner, but together they are.
    body = problem(
        api.post(f"/v1/orgs/{org}/members/remove", {"user_ids": ["max", "olivia"]}, actor="olivia"),
        403,
    )
    assert set(body["errors"]) == {"user_ids.0", "user_ids.1"}
    assert api.delete(f"/v1/orgs/{org}/members/max", actor="olivia").status_code == 204
    with db.connection_context():
        assert Membership.select().where(Membership.role == "owner").count() == 1


def test_management_calls_mark_the_user_active(api, app, clock):
    org = pix4d_org(api)
    clock.advance(hours=2)
    from routes.context import forget_last_active

    forget_last_active()
    members(api, "max", org)
    with db.connection_context():
        assert User.get_by_id("max").last_active_at == clock.now
        assert User.get_by_id("erin").last_active_at != clock.now


def test_leaving_and_rejoining(api, app):
    org = pix4d_org(api)
    assert api.delete(f"/v1/orgs/{org}/members/erin", actor="erin").status_code == 204
    problem(api.delete(f"/v1/orgs/{org}/members/erin", actor="erin"), 404)
    token = invite(api, "max", org, ("erin@example.com", "reader")).get_json()["items"][0]["token"]
    assert accept(api, token, "erin").get_json()["role"] == "reader"


def test_the_last_owner_is_not_demoted_and_one_of_two_is(api, app):
    """[P1] "Requires at least one Owner": the last Owner's role does not change, not even
    by themselves; with a second Owner either may be demoted, and then the other is last."""
    org = pix4d_org(api)
    body = problem(
        api.put(f"/v1/orgs/{org}/members/olivia", {"role": "manager"}, actor="olivia"), 403
    )
    assert body["detail"].startswith(
        "olivia may not change the role of olivia from owner to manager: "
    )
    assert "at least one Owner" in body["detail"]
    # The same role again asks only to see the members, which a Reader may not.
    body = problem(api.put(f"/v1/orgs/{org}/members/erin", {"role": "editor"}, actor="rita"), 403)
    assert body["detail"].startswith(f"rita may not view the members of {org}: ")
    assert (
        api.put(f"/v1/orgs/{org}/members/max", {"role": "owner"}, actor="olivia").status_code == 200
    )
    demoted = api.put(f"/v1/orgs/{org}/members/olivia", {"role": "manager"}, actor="max")
    assert demoted.status_code == 200 and demoted.get_json()["role"] == "manager"
    body = problem(api.put(f"/v1/orgs/{org}/members/max", {"role": "editor"}, actor="max"), 403)
    assert "at least one Owner" in body["detail"]
    with db.connection_context():
        owners = Membership.select().where(Membership.org == org, Membership.role == "owner")
        assert [m.user.id for m in owners] == ["max"]
