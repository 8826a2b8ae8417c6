"""Two rules of the vendor pages, walked over HTTP.

UP42 "User management": "The invited users will have their own workspace." and "The
removed user's workspace and assets in storage will remain accessible to existing users."
The account's creator and each user who accepts get a Workspace they own, written with the
membership; removing the user keeps it, readable to the users who stay.

Pix4D "Organization Support": "The role can be changed by a Manager or an Owner after the
invitation is sent." ``PATCH /v1/orgs/{org}/invitations/{id} {"role"}`` changes a pending
invitation's role, decided by each style's policy, with an audit entry, an
``invitation.role_changed`` event, a new token and a fresh mail.
"""

import email
import email.policy
import re
import urllib.parse

import pytest

from access import mail
from models import AuditEvent, Invitation, Membership, Resource, db
from tests.support import accept, add_user, invite_one, join, new_org


def _patch(api, actor, org, inv_id, body):
    return api.patch(f"/v1/orgs/{org}/invitations/{inv_id}", body, actor=actor)


def _refused(response, status) -> str:
    assert response.status_code == status, response.get_json()
    assert response.content_type == "application/problem+json"
    return response.get_json()["detail"]


def _workspaces(org) -> dict:
    """{id: owner} of the org's Workspaces, read from the database."""
    with db.connection_context():
        rows = Resource.select().where((Resource.org == org) & (Resource.type == "Workspace"))
        return {r.rid: r.owner for r in rows}


def _may(api, actor, action, org, rid) -> bool:
    return api.allowed(actor, action, {"type": "Workspace", "id": rid, "org": org})


# ---------------------------------------------------------------- UP42 workspaces
def test_up42_creator_and_each_accepting_user_get_their_own_workspace(api, app):
    for uid in ("ada", "bob", "cy"):
        add_user(api, uid)
    org = new_org(api, "ada", "up42")["id"]
    # The account's creator, at its creation.
    assert _workspaces(org) == {"ws-ada": "ada"}
    join(api, "ada", org, "bob", "member")
    join(api, "ada", org, "cy", "admin")
    assert _workspaces(org) == {"ws-ada": "ada", "ws-bob": "bob", "ws-cy": "cy"}
    # Registered like any resource of the org: read through the API, owned by its user.
    got = api.get(f"/v1/orgs/{org}/resources/Workspace/ws-bob", actor="bob")
    assert got.status_code == 200, got.get_json()
    assert got.get_json()["owner"] == "bob" and got.get_json()["parent"] is None
    # Theirs: a user edits their own workspace, not a colleague's (an admin edits every one).
    assert _may(api, "bob", "edit", org, "ws-bob")
    assert not _may(api, "bob", "edit", org, "ws-ada")
    assert _may(api, "ada", "edit", org, "ws-bob")
    assert _may(api, "bob", "switch_to", org, "ws-ada")  # Switch workspaces: Member yes
    # Written by the unit that made the member, audited as created by that user.
    with db.connection_context():
        made = {
            a.target: a.actor
            for a in AuditEvent.select().where(
                (AuditEvent.org == org) & (AuditEvent.action == "resource.create")
            )
        }
    assert made == {
        "resource:Workspace/ws-ada": "ada",
        "resource:Workspace/ws-bob": "bob",
        "resource:Workspace/ws-cy": "cy",
    }


def test_other_styles_give_no_one_a_workspace(api, app):
    add_user(api, "pia")
    add_user(api, "rio")
    pix = new_org(api, "pia", "pix4d")["id"]
    join(api, "pia", pix, "pat", "reader")
    rio = new_org(api, "rio", "respondio")["id"]
    join(api, "rio", rio, "ray", "member")
    with db.connection_context():
        owned = Resource.select().where(Resource.owner.is_null(False)).count()
    assert owned == 0


def test_a_removed_users_workspace_stays_readable_to_the_users_who_stay(api, app):
    for uid in ("ada", "bob", "cy"):
        add_user(api, uid)
    org = new_org(api, "ada", "up42")["id"]
    join(api, "ada", org, "bob", "member")
    join(api, "ada", org, "cy", "member")
    asset = api.put(
        f"/v1/orgs/{org}/resources/Asset/scene-1",
        {"parent": {"type": "Workspace", "id": "ws-bob"}, "owner": "bob"},
        actor="bob",
    )
    assert asset.status_code == 201, asset.get_json()

    assert api.delete(f"/v1/orgs/{org}/members/bob", actor="ada").status_code == 204
    # "The removed user's workspace and assets in storage will remain accessible to
    # existing users."
    assert _workspaces(org)["ws-bob"] == "bob"
    for uid in ("ada", "cy"):
        assert _may(api, uid, "view", org, "ws-bob"), uid
        asset_ref = {"type": "Asset", "id": "scene-1", "org": org}
        assert api.allowed(uid, "view", asset_ref), uid
        got = api.get(f"/v1/orgs/{org}/resources/Workspace/ws-bob", actor=uid)
        assert got.status_code == 200, got.get_json()
    # Not to the removed user: owning gives nothing without a role in the account.
    assert not _may(api, "bob", "view", org, "ws-bob")
    assert api.get(f"/v1/orgs/{org}/resources/Workspace/ws-bob", actor="bob").status_code == 403

    # Back again, they find theirs: no second workspace.
    join(api, "ada", org, "bob", "member")
    assert _workspaces(org) == {"ws-ada": "ada", "ws-bob": "bob", "ws-cy": "cy"}
    assert _may(api, "bob", "edit", org, "ws-bob")


def test_a_workspace_id_taken_first_does_not_keep_a_user_from_theirs(api, app):
    add_user(api, "ada")
    org = new_org(api, "ada", "up42")["id"]
    join(api, "ada", org, "bob", "member")
    # A member registers a workspace of their own under the id the next user would get.
    squat = api.put(f"/v1/orgs/{org}/resources/Workspace/ws-dan", {"owner": "bob"}, actor="bob")
    assert squat.status_code == 201, squat.get_json()
    join(api, "ada", org, "dan", "member")
    spaces = _workspaces(org)
    assert spaces["ws-dan"] == "bob"  # left as it was
    [dans] = [rid for rid, owner in spaces.items() if owner == "dan"]
    assert re.fullmatch(r"ws-dan-[0-9a-f]{8}", dans)


# ---------------------------------------------------------------- an invitation's role
@pytest.fixture
def mailbox(app, tmp_path):
    """Invitation mail queued for the file transport; ``sent()`` sends what is due and
    returns the messages written, oldest first."""
    folder = tmp_path / "mail"
    mail.configure({"MAIL_URL": f"file://{folder}"}, app.instance_path)
    clock = app.config["CLOCK"]

    def sent() -> list:
        with db.connection_context():
            mail.send_due("tests", clock())
        return [
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted(folder.glob("*.eml"))
        ]

    yield sent
    mail.configure({"MAIL_URL": "off"}, app.instance_path)


def _token_of(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return urllib.parse.unquote(re.search(r"token=(\S+)", text).group(1))


def test_pix4d_managers_change_an_invitations_role_up_to_manager(api, app, mailbox):
    for uid in ("ole", "max", "eve"):
        add_user(api, uid)
    org = new_org(api, "ole", "pix4d")["id"]
    join(api, "ole", org, "max", "manager")
    join(api, "ole", org, "eve", "editor")
    sent = mailbox()
    inv = invite_one(api, "max", org, "nia", "reader")
    [first] = mailbox()[len(sent) :]
    assert "Reader" in first.get_body(("plain",)).get_content()

    # [P1] Manager: "Invite, remove, and assign roles up to Manager."
    changed = _patch(api, "max", org, inv["id"], {"role": "manager"})
    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert body["role"] == "manager" and body["status"] == "pending"
    assert body["invited_by"] == "max" and body["expires_at"] == inv["expires_at"]
    assert body["token"] and body["token"] != inv["token"]
    detail = _refused(_patch(api, "max", org, inv["id"], {"role": "owner"}), 403)
    assert detail.endswith("a Manager may change invitations only up to Manager, not to Owner")
    detail = _refused(_patch(api, "eve", org, inv["id"], {"role": "reader"}), 403)
    assert detail.endswith(
        "an Editor may not change the role of an invitation; Owners and Managers do"
    )
    owners = invite_one(api, "ole", org, "oz", "owner")
    detail = _refused(_patch(api, "max", org, owners["id"], {"role": "reader"}), 403)
    assert detail.endswith(
        "a Manager may change invitations only up to Manager, and this one is for an Owner"
    )
    # An Owner changes any: the invitation then carries the Owner's authority, so a
    # Manager's invitation raised to Owner is accepted as Owner.
    changed = _patch(api, "ole", org, owners["id"], {"role": "editor"})
    assert changed.status_code == 200 and changed.get_json()["invited_by"] == "ole"
    raised = _patch(
        api, "ole", org, invite_one(api, "max", org, "kim", "reader")["id"], {"role": "owner"}
    )
    assert raised.status_code == 200 and raised.get_json()["invited_by"] == "ole"
    joined = accept(api, raised.get_json()["token"], "kim")
    assert joined.status_code == 200 and joined.get_json()["role"] == "owner"

    # A fresh mail with the new role and the new token; the first one's token is dead.
    fresh = [m for m in mailbox() if m["To"] == "nia@example.com"]
    assert len(fresh) == 2 and "Manager" in fresh[-1].get_body(("plain",)).get_content()
    assert _token_of(fresh[-1]) == body["token"]
    assert _refused(accept(api, inv["token"], "nia"), 404)
    joined = accept(api, _token_of(fresh[-1]), "nia")
    assert joined.status_code == 200 and joined.get_json()["role"] == "manager"

    # Audited, and an event, with the role before and after.
    with db.connection_context():
        [entry] = AuditEvent.select().where(
            (AuditEvent.action == "invitation.change_role")
            & (AuditEvent.target == f"invitation:{inv['id']}")
        )
    assert (entry.actor, entry.before["role"], entry.after["role"]) == ("max", "reader", "manager")
    events = api.get("/v1/events", query_string={"org": org, "types": "invitation.role_changed"})
    assert events.status_code == 200, events.get_json()
    changes = [(e["before"]["role"], e["after"]["role"]) for e in events.get_json()["items"]]
    assert changes == [("reader", "manager"), ("owner", "editor"), ("reader", "owner")]


def test_up42_and_respondio_decide_by_their_pages(api, app):
    add_user(api, "ada")
    up = new_org(api, "ada", "up42")["id"]
    join(api, "ada", up, "bob", "member")
    inv = invite_one(api, "ada", up, "cal", "member")
    # UP42 table: Change user roles: Member no, Admin yes.
    assert _refused(_patch(api, "bob", up, inv["id"], {"role": "admin"}), 403).endswith(
        "a Member may not change the role of an invitation; Admins do"
    )
    changed = _patch(api, "ada", up, inv["id"], {"role": "admin"})
    assert changed.status_code == 200 and changed.get_json()["role"] == "admin"
    # A role UP42 does not have: 422 naming the field.
    bad = _patch(api, "ada", up, inv["id"], {"role": "owner"})
    assert bad.status_code == 422 and "role" in bad.get_json()["errors"]

    add_user(api, "rio")
    rio = new_org(api, "rio", "respondio")["id"]
    join(api, "rio", rio, "ua", "user_admin")
    join(api, "rio", rio, "ba", "billing_admin")
    inv = invite_one(api, "ua", rio, "mo", "member")  # "User Admins can only add ... Member"
    # "User Admins cannot promote or demote an organization member"
    for actor, label in (("ua", "a User Admin"), ("ba", "a Billing Admin")):
        detail = _refused(_patch(api, actor, rio, inv["id"], {"role": "user_admin"}), 403)
        assert detail.endswith(
            f"{label} may not change the role of an invitation; only Organization Admins do"
        )
    changed = _patch(api, "rio", rio, inv["id"], {"role": "user_admin"})
    assert changed.status_code == 200 and changed.get_json()["role"] == "user_admin"


def test_only_a_pending_invitation_of_the_org_changes_its_role(api, app, clock):
    add_user(api, "ole")
    org = new_org(api, "ole", "pix4d")["id"]
    other = new_org(api, "ole", "pix4d")["id"]
    pending = invite_one(api, "ole", org, "p1", "reader")
    # The same role: nothing changes, nothing is written, no new token.
    same = _patch(api, "ole", org, pending["id"], {"role": "reader"})
    assert same.status_code == 200 and "token" not in same.get_json()
    with db.connection_context():
        assert not AuditEvent.select().where(AuditEvent.action == "invitation.change_role").exists()
    # Validation: 422 naming role.
    for body in ({}, {"role": ""}, {"role": "wizard"}, {"role": 7}):
        bad = _patch(api, "ole", org, pending["id"], body)
        assert bad.status_code == 422 and "role" in bad.get_json()["errors"], body
    # Unknown, or another org's: 404.
    _refused(_patch(api, "ole", org, "inv-nope", {"role": "editor"}), 404)
    _refused(_patch(api, "ole", other, pending["id"], {"role": "editor"}), 404)
    # Cancelled, accepted or expired: 409.
    cancelled = invite_one(api, "ole", org, "p2", "reader")
    assert (
        api.delete(f"/v1/orgs/{org}/invitations/{cancelled['id']}", actor="ole").status_code == 200
    )
    accepted = invite_one(api, "ole", org, "p3", "reader")
    assert accept(api, accepted["token"], "p3").status_code == 200
    for inv, word in ((cancelled, "cancelled"), (accepted, "accepted")):
        detail = _refused(_patch(api, "ole", org, inv["id"], {"role": "editor"}), 409)
        assert f"the invitation is {word}" in detail
    clock.advance(days=16)  # [P1] "Invitations are valid for 15 days."
    detail = _refused(_patch(api, "ole", org, pending["id"], {"role": "editor"}), 409)
    assert "the invitation is expired" in detail
    with db.connection_context():
        assert {i.role for i in Invitation.select()} == {"reader"}
        assert Membership.select().where(Membership.user == "p3").get().role == "reader"
