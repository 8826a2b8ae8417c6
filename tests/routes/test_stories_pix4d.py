"""The procedures of Pix4D's help pages "Organization management" (current) and "Organization Support" (older), walked over HTTP as one story.

An Owner invites a Manager; the Manager, after accepting, invites an Editor; the Manager
cannot give Owner; the Owner cannot leave while the only Owner; a Member leaves.
"""

from models import Grant, Membership, Resource, User, db
from tests.support import accept, add_user, invite, members, new_org, problem


def test_pix4d_people_management_story(api, app, clock):
    add_user(api, "olivia")
    org = new_org(api, "olivia", "pix4d", name="Survey Co")["id"]

    # Pix4D "Organization management": "Invite Users (Available to Owner and Managers.)"
    sent = invite(api, "olivia", org, ("Max@Example.com", "manager"))
    assert sent.status_code == 201
    item = sent.get_json()["items"][0]
    assert item["status"] == "pending" and item["role"] == "manager" and item["token"]
    # Pix4D "Organization management": "Invitations are valid for 15 days": the lifetime is the policy's setting.
    assert item["expires_at"] == "2026-12-08T12:00:00Z"
    assert members(api, "olivia", org)["Max@Example.com"]["status"] == "pending"

    # The invited person accepts (the email matches whatever its case); user created.
    joined = accept(api, item["token"], "max", email="max@example.com")
    assert joined.status_code == 200
    assert joined.get_json() == {
        **joined.get_json(),
        "org_id": org,
        "user_id": "max",
        "role": "manager",
        "status": "active",
    }
    listed = members(api, "olivia", org)
    assert listed["max"]["role"] == "manager" and listed["max"]["status"] == "active"
    assert "Max@Example.com" not in listed  # no longer pending
    # The token worked once.
    assert problem(accept(api, item["token"], "max", email="max@example.com"), 410)

    # The Manager invites an Editor (up to Manager).
    sent = invite(api, "max", org, ("erin@example.com", "editor"))
    assert sent.status_code == 201
    assert accept(api, sent.get_json()["items"][0]["token"], "erin").status_code == 200

    # Pix4D "Organization management", Manager: "assign roles up to Manager": not Owner, neither by invitation nor change.
    body = problem(api.put(f"/v1/orgs/{org}/members/erin", {"role": "owner"}, actor="max"), 403)
    assert body["detail"].endswith(
        "pix4d: a Manager may change roles only up to Manager, not to Owner"
    )
    body = problem(invite(api, "max", org, ("boss@example.com", "owner")), 403)
    assert "invitations.0.role" in body["errors"]
    # Up to Manager is fine.
    assert (
        api.put(f"/v1/orgs/{org}/members/erin", {"role": "manager"}, actor="max").get_json()["role"]
        == "manager"
    )
    assert (
        api.put(f"/v1/orgs/{org}/members/erin", {"role": "editor"}, actor="max").status_code == 200
    )

    # Pix4D "Organization management": "Requires at least one Owner": the only Owner cannot leave...
    body = problem(api.delete(f"/v1/orgs/{org}/members/olivia", actor="olivia"), 403)
    assert "keeps at least one" in body["detail"]
    # ... nor be demoted, by anyone.
    problem(api.put(f"/v1/orgs/{org}/members/olivia", {"role": "manager"}, actor="olivia"), 403)
    # With a second Owner, she may leave.
    assert (
        api.put(f"/v1/orgs/{org}/members/max", {"role": "owner"}, actor="olivia").status_code == 200
    )

    # Pix4D "Organization Support" (older page): "A member of an organization can leave at any time." With their grants.
    sent = invite(api, "max", org, ("mia@example.com", "member"))
    accept(api, sent.get_json()["items"][0]["token"], "mia")
    with db.connection_context():  # a folder assigned to her (the grants API is not this test's)
        Resource.create(org=org, type="Folder", rid="f-1")
        Grant.create(
            user="mia", org=org, role="reader", resource=Resource.get(Resource.rid == "f-1")
        )
        User.update(default_org=org).where(User.id == "mia").execute()
    assert api.allowed("mia", "view", {"type": "Folder", "id": "f-1"})
    assert api.delete(f"/v1/orgs/{org}/members/mia", actor="mia").status_code == 204
    assert not api.allowed("mia", "view", {"type": "Folder", "id": "f-1"})
    with db.connection_context():
        assert not Grant.select().where(Grant.user == "mia").exists()
        assert User.get_by_id("mia").default_org is None
        assert not Membership.select().where(Membership.user == "mia").exists()

    assert api.delete(f"/v1/orgs/{org}/members/olivia", actor="olivia").status_code == 204
    assert set(members(api, "max", org)) == {"max", "erin"}
