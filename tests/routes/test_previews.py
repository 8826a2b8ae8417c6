"""Previews of management writes (access/previews.py): ``/v1/authorize``, its batch and its
actions on an inline Invitation, RoleChange, Membership or Grant decide on the facts the
write reads from the database, never on facts the caller sends; on the fast path and on the
Flask route alike. tests/routes/test_preview_property.py checks it on random states."""

import pytest

from models import Grant, Invitation, Resource, db
from tests.support import org_with

PATHS = ["fast", "flask"]


def ask(api, path, actor, action, resource, explain=False):
    """The decision body of one check, on the fast path or the Flask route (sent there by a
    valid X-Actor-Id)."""
    headers = {"X-Actor-Id": actor} if path == "flask" else {}
    body = {"actor": {"id": actor}, "action": action, "resource": resource, "explain": explain}
    response = api.post("/v1/authorize", body, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def role_change(org, member, to_role, **lies):
    attributes = {"member": member, "to_role": to_role, **lies}
    return {"type": "RoleChange", "id": "x", "org": org, "attributes": attributes}


def membership(org, user, **lies):
    return {"type": "Membership", "id": "x", "org": org, "attributes": {"user": user, **lies}}


@pytest.fixture
def orgs(app):
    org_with("pix", "pix4d", {"own": "owner", "man": "manager", "ed": "editor", "rd": "reader"})
    org_with("rio", "respondio", {"adm": "org_admin", "ua": "user_admin", "mem": "member"})


@pytest.mark.parametrize("path", PATHS)
def test_the_issue_cases_answer_what_the_writes_do(api, orgs, path):
    cases = [  # (actor, action, resource, what the write does)
        ("own", "change_role", role_change("pix", "own", "manager"), False),  # last Owner
        ("adm", "change_role", role_change("rio", "adm", "member"), False),  # last Org Admin
        ("man", "remove", membership("pix", "ed"), True),  # a Manager removes an Editor
        ("ed", "remove", membership("pix", "ed"), True),  # an Editor leaves
        ("ua", "remove", membership("rio", "mem"), True),  # a User Admin removes a Member
        ("man", "change_role", role_change("pix", "rd", "editor"), True),
    ]
    for actor, action, resource, allowed in cases:
        assert ask(api, path, actor, action, resource)["allowed"] is allowed, (actor, resource)
    # The writes agree.
    assert api.put("/v1/orgs/pix/members/own", {"role": "manager"}, actor="own").status_code == 403
    assert api.put("/v1/orgs/rio/members/adm", {"role": "member"}, actor="adm").status_code == 403
    assert api.delete("/v1/orgs/rio/members/mem", actor="ua").status_code in (200, 204)
    assert api.delete("/v1/orgs/pix/members/ed", actor="man").status_code in (200, 204)


@pytest.mark.parametrize("path", PATHS)
def test_facts_the_caller_sends_are_ignored(api, orgs, path):
    lies = {"from_role": "reader", "is_self": False, "last_of_role": False}
    body = ask(api, path, "own", "change_role", role_change("pix", "own", "manager", **lies), True)
    assert body["allowed"] is False
    shown = dict(body["explanation"]["facts_shown"][-1]["attributes"])
    assert shown == {
        "from_role": "owner",
        "to_role": "manager",
        "is_self": True,
        "last_of_role": True,
    }
    # A Manager may not remove an Owner, whatever role the caller says the member has.
    lie = membership("pix", "own", role="reader", is_self=False, last_of_role=False)
    assert ask(api, path, "man", "remove", lie)["allowed"] is False


@pytest.mark.parametrize("path", PATHS)
def test_what_names_no_change_is_a_deny_with_the_reason(api, orgs, path):
    nameless = {"type": "RoleChange", "id": "x", "org": "pix", "attributes": {"to_role": "x"}}
    body = ask(api, path, "own", "change_role", nameless, explain=True)
    assert body["allowed"] is False
    assert body["explanation"]["reason"] == "a RoleChange names its member in attributes.member"
    gone = ask(api, path, "own", "remove", membership("pix", "nobody"), explain=True)
    assert gone["allowed"] is False
    assert gone["explanation"]["reason"] == "not members of pix: nobody"
    no_org = {"type": "Membership", "id": "x", "attributes": {"user": "ed"}}
    assert ask(api, path, "own", "remove", no_org)["allowed"] is False
    other = ask(api, path, "own", "view", membership("pix", "ed"), explain=True)
    assert other["allowed"] is False
    assert "no management write" in other["explanation"]["reason"]


@pytest.mark.parametrize("path", PATHS)
def test_batch_and_actions_preview_as_single_checks(api, orgs, path):
    headers = {"X-Actor-Id": "anyone"} if path == "flask" else {}
    checks = [
        {
            "actor": {"id": "own"},
            "action": "change_role",
            "resource": role_change("pix", "own", "manager"),
        },
        {"actor": {"id": "man"}, "action": "remove", "resource": membership("pix", "ed")},
        {"actor": {"id": "ed"}, "action": "remove", "resource": membership("pix", "man")},
    ]
    response = api.post("/v1/authorize/batch", {"checks": checks}, headers=headers)
    assert [r["allowed"] for r in response.get_json()["results"]] == [False, True, False]
    body = {"actor": {"id": "ed"}, "resource": membership("pix", "ed")}
    assert api.post("/v1/authorize/actions", body, headers=headers).get_json()["actions"] == [
        "remove"
    ]
    body = {"actor": {"id": "own"}, "resource": role_change("pix", "own", "manager")}
    assert api.post("/v1/authorize/actions", body, headers=headers).get_json()["actions"] == []


def test_actors_of_a_management_resource_are_nobody(api, orgs):
    lies = {"role": "editor", "is_self": False, "last_of_role": False}
    body = {"action": "remove", "resource": membership("pix", "ed", **lies)}
    response = api.post("/v1/authorize/actors", body)
    assert response.status_code == 200
    assert response.get_json()["items"] == []


@pytest.mark.parametrize("path", PATHS)
def test_grants_and_invitations_read_what_is_stored(api, orgs, clock, path):
    with db.connection_context():
        folder = Resource.create(org="pix", type="Folder", rid="f1")
        Grant.create(user="rd", resource=folder, org="pix", role="editor")
        Invitation.create(
            id="inv-1",
            org="pix",
            email="owner2@example.test",
            email_key="owner2@example.test",
            role="owner",
            token_hash="h1",
            invited_by="own",
            created_at=clock(),
            expires_at=clock().replace(year=2030),
        )
    on = {"type": "Folder", "id": "f1"}

    def grant(user, role):
        attrs = {"user": user, "role": role}
        return {"type": "Grant", "id": "x", "org": "pix", "parent": on, "attributes": attrs}

    # revoke reads the role held (editor), not the one sent; a Manager revokes up to Manager
    assert ask(api, path, "man", "revoke", grant("rd", "owner"))["allowed"] is True
    assert ask(api, path, "man", "revoke", grant("ed", "reader"))["allowed"] is False  # none
    assert ask(api, path, "man", "grant", grant("ed", "reader"))["allowed"] is True
    assert ask(api, path, "man", "grant", grant("ghost", "reader"))["allowed"] is False
    # A stored invitation's role is its own: a Manager may not cancel an Owner's invitation,
    # whatever role the caller names.
    stored = {"type": "Invitation", "id": "inv-1", "org": "pix", "attributes": {"role": "reader"}}
    assert ask(api, path, "man", "cancel", stored)["allowed"] is False
    assert ask(api, path, "own", "cancel", stored)["allowed"] is True
    assert api.delete("/v1/orgs/pix/invitations/inv-1", actor="man").status_code == 403
    new = {"type": "Invitation", "id": "new", "org": "pix", "attributes": {"role": "manager"}}
    assert ask(api, path, "man", "invite", new)["allowed"] is True
    member = {**new, "attributes": {"role": "reader", "email": "ED@example.test"}}
    assert ask(api, path, "man", "invite", member)["allowed"] is False  # already a member


@pytest.mark.parametrize("path", PATHS)
def test_accept_reads_the_invited_users_email(api, orgs, clock, path):
    org_with("elsewhere", "pix4d", {"guest": "owner"})
    with db.connection_context():
        for inv_id, email in (("inv-g", "guest@example.test"), ("inv-x", "x@example.test")):
            Invitation.create(
                id=inv_id,
                org="pix",
                email=email,
                email_key=email,
                role="reader",
                token_hash=inv_id,
                invited_by="own",
                created_at=clock(),
                expires_at=clock().replace(year=2030),
            )
    lies = {"email_matches": True, "actor_in_other_org": False}
    mine = {"type": "Invitation", "id": "inv-g", "org": "pix", "attributes": lies}
    theirs = {**mine, "id": "inv-x"}
    assert ask(api, path, "guest", "accept", mine)["allowed"] is True
    assert ask(api, path, "guest", "accept", theirs)["allowed"] is False
