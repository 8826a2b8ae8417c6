"""Requests to join over HTTP: a user asks; the organization's admins approve (with a role)
or decline as each style's policy decides inviting and cancelling an invitation of that
role (pix4d: a Manager up to Manager; UP42: Admins; respond.io: a User Admin only Members);
requests expire after the style's ``join_request_lifetime_hours``; every change is audited
and an event."""

import pytest

from access import join_requests
from access.context import Context
from authz.engine import POLICY_DIR, PolicySet
from models import AuditEvent, Event, JoinRequest, Membership, db
from tests.support import add_user, join, new_org, problem

# style: (the creator's role, the admin who may approve a Member's request, the role that
# admin may not give, a member who may decide nothing)
STYLES = {
    "pix4d": ("owner", ("max", "manager"), "owner", ("erin", "editor")),
    "up42": ("admin", ("ada", "admin"), None, ("mo", "member")),
    "respondio": ("org_admin", ("uma", "user_admin"), "billing_admin", ("mel", "member")),
}


def build(api, style):
    add_user(api, "olivia")
    org_id = new_org(api, "olivia", style)["id"]
    _, (admin, admin_role), _, (member, member_role) = STYLES[style]
    join(api, "olivia", org_id, admin, admin_role)
    join(api, "olivia", org_id, member, member_role)
    return org_id


def ask(api, user, org_id, **body):
    return api.post(f"/v1/orgs/{org_id}/join-requests", body, actor=user)


def decide(api, actor, org_id, request_id, verb, **body):
    return api.post(f"/v1/orgs/{org_id}/join-requests/{request_id}/{verb}", body, actor=actor)


def role_of(org_id, user_id):
    with db.connection_context():
        m = Membership.get_or_none(Membership.user == user_id, Membership.org == org_id)
        return m and m.role


@pytest.mark.parametrize("style", sorted(STYLES))
def test_a_request_approved_and_one_declined_by_each_styles_rules(api, style):
    org_id = build(api, style)
    _, (admin, _), above, (member, _) = STYLES[style]
    add_user(api, "ann")
    add_user(api, "bob")
    first = ask(api, "ann", org_id, message="I run the survey team")
    assert first.status_code == 201, first.get_json()
    first = first.get_json()
    assert (first["status"], first["role"], first["via_domain"]) == ("pending", "member", None)

    # A member may neither approve nor decline (as they may not invite or cancel).
    assert problem(decide(api, member, org_id, first["id"], "approve"), 403)["detail"]
    assert problem(decide(api, member, org_id, first["id"], "decline"), 403)["detail"]
    if above is not None:  # the admin may not give a role above their reach
        body = problem(decide(api, admin, org_id, first["id"], "approve", role=above), 403)
        assert admin in body["detail"]
    response = decide(api, admin, org_id, first["id"], "approve")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "approved"
    assert response.get_json()["decided_by"] == admin
    assert role_of(org_id, "ann") == "member"
    # Decided once.
    assert problem(decide(api, admin, org_id, first["id"], "decline"), 409)

    second = ask(api, "bob", org_id).get_json()
    response = decide(api, admin, org_id, second["id"], "decline")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "declined"
    assert role_of(org_id, "bob") is None
    with db.connection_context():
        types = [e.type for e in Event.select().where(Event.type.startswith("join_request."))]
        assert sorted(types) == [
            "join_request.approved",
            "join_request.created",
            "join_request.created",
            "join_request.declined",
        ]
        actions = {a.action for a in AuditEvent.select().where(AuditEvent.org == org_id)}
        assert {"join_request.approve", "join_request.decline", "member.add"} <= actions
    listed = api.get(f"/v1/orgs/{org_id}/join-requests?status=declined", actor=admin).get_json()
    assert [r["user_id"] for r in listed["items"]] == ["bob"]


def test_pix4d_an_owner_gives_what_a_manager_may_not(api):
    org_id = build(api, "pix4d")
    add_user(api, "cy")
    jr = ask(api, "cy", org_id, role="manager").get_json()
    assert jr["role"] == "manager"
    response = decide(api, "olivia", org_id, jr["id"], "approve", role="owner")
    assert response.status_code == 200, response.get_json()
    assert role_of(org_id, "cy") == "owner"


def test_up42_a_user_of_another_account_may_not_ask(api):
    org_id = build(api, "up42")
    add_user(api, "eve")
    new_org(api, "eve", "up42", name="Eve's")
    body = problem(ask(api, "eve", org_id), 403)
    assert "accounts cannot be merged" in body["detail"]


def test_bad_input_and_conflicts_name_the_field(api):
    org_id = build(api, "pix4d")
    add_user(api, "ann")
    assert list(problem(ask(api, "ann", org_id, role="wizard"), 422)["errors"]) == ["role"]
    assert list(problem(ask(api, "ann", org_id, message="x" * 501), 422)["errors"]) == ["message"]
    assert problem(ask(api, "ghost", org_id), 404)
    assert problem(ask(api, "max", org_id), 409)["errors"] == {"user_id": ["a member"]}
    jr = ask(api, "ann", org_id).get_json()
    assert problem(ask(api, "ann", org_id), 409)["errors"] == {"user_id": ["a request is pending"]}
    assert list(
        problem(decide(api, "max", org_id, jr["id"], "approve", role="x"), 422)["errors"]
    ) == ["role"]
    assert problem(decide(api, "max", org_id, "jr-nope", "approve"), 404)
    # The requesting user reads their own; others need view_invitations.
    assert api.get(f"/v1/orgs/{org_id}/join-requests/{jr['id']}", actor="ann").status_code == 200
    assert problem(api.get(f"/v1/orgs/{org_id}/join-requests", actor="erin"), 403)
    assert list(
        problem(api.get(f"/v1/orgs/{org_id}/join-requests?status=maybe", actor="max"), 422)[
            "errors"
        ]
    ) == ["status"]


def test_a_request_expires_after_the_styles_lifetime(api, app, clock):
    org_id = build(api, "up42")  # 48 hours
    add_user(api, "ann")
    jr = ask(api, "ann", org_id).get_json()
    clock.advance(hours=47)
    assert (
        api.get(f"/v1/orgs/{org_id}/join-requests/{jr['id']}", actor="ada").get_json()["status"]
        == "pending"
    )
    clock.advance(hours=2)
    body = problem(decide(api, "ada", org_id, jr["id"], "approve"), 409)
    assert "expired" in body["detail"]
    ctx = Context(PolicySet(POLICY_DIR), clock)
    with db.connection_context():
        assert join_requests.expire_due(ctx) == 1
        assert join_requests.expire_due(ctx) == 0
        assert JoinRequest.get_by_id(jr["id"]).status == "expired"
        assert Event.select().where(Event.type == "join_request.expired").count() == 1
    # Expired, it no longer blocks asking again.
    assert ask(api, "ann", org_id).status_code == 201


def test_a_style_without_requests_or_domains_refuses_them(api, demo):
    """The AuthZEN todo scenario's policy states neither: a 403 saying so, not a fault."""
    add_user(api, "ann")
    body = problem(ask(api, "ann", "org-todo"), 403)
    assert "offers no requests to join" in body["detail"]
    rick = "CiRmZDA2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs"  # an admin there
    response = api.post("/v1/orgs/org-todo/domains", {"domain": "todo.test"}, actor=rick)
    assert response.status_code == 403, response.get_json()


def test_erasing_a_user_forgets_their_requests_and_names_the_decider_by_pseudonym(api):
    org_id = build(api, "pix4d")
    add_user(api, "ann")
    add_user(api, "bob")
    ask(api, "ann", org_id)
    jr = ask(api, "bob", org_id).get_json()
    assert decide(api, "max", org_id, jr["id"], "decline").status_code == 200
    assert api.delete("/v1/users/ann").status_code == 200
    erased = api.delete("/v1/users/max")
    assert erased.status_code == 200, erased.get_json()
    with db.connection_context():
        assert not JoinRequest.select().where(JoinRequest.user_id == "ann").exists()
        assert JoinRequest.get_by_id(jr["id"]).decided_by == erased.get_json()["user_id"]
