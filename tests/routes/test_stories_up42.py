"""The procedures of UP42's documentation page "User management", walked over HTTP.

An Admin invites 10 users at a time (11 is refused whole, naming the limit); cannot remove
another Admin until that Admin is demoted; an invitation is dead after 48 hours; no account
merging: a user with an account cannot accept an invitation to another.
"""

from models import Invitation, db
from tests.support import accept, add_user, invite, join, members, new_org, problem


def test_up42_admin_story(api, app, clock):
    add_user(api, "ada")
    org = new_org(api, "ada", "up42", name="Orbit")["id"]

    # UP42 "User management": "You can invite a maximum of 10 users at a time."
    eleven = [(f"user{i}@example.com", "member") for i in range(11)]
    body = problem(invite(api, "ada", org, *eleven), 403)
    assert "at most 10" in body["detail"] and "invitation_batch_limit" in body["detail"]
    with db.connection_context():
        assert Invitation.select().count() == 0  # refused whole
    sent = invite(api, "ada", org, *eleven[:10])
    assert sent.status_code == 201
    items = sent.get_json()["items"]
    assert [i["email"] for i in items] == [e for e, _ in eleven[:10]]
    # UP42 "User management": "The invitations are valid for 48 hours."
    assert {i["expires_at"] for i in items} == {"2026-11-25T12:00:00Z"}

    # Two of them accept; one is made an admin.
    assert accept(api, items[0]["token"], "user0").status_code == 200
    assert accept(api, items[1]["token"], "user1").status_code == 200
    assert (
        api.put(f"/v1/orgs/{org}/members/user1", {"role": "admin"}, actor="ada").status_code == 200
    )

    # UP42 "User management": "To remove a user, their role must be Member."
    body = problem(api.delete(f"/v1/orgs/{org}/members/user1", actor="ada"), 403)
    assert (
        "to remove a user, their role must be Member, and this user is an Admin" in body["detail"]
    )
    assert (
        api.put(f"/v1/orgs/{org}/members/user1", {"role": "member"}, actor="ada").status_code == 200
    )
    assert api.delete(f"/v1/orgs/{org}/members/user1", actor="ada").status_code == 204
    # A member removes no one (UP42 "User management" table: Remove a user: Member no).
    problem(api.delete(f"/v1/orgs/{org}/members/ada", actor="user0"), 403)
    # The last admin is never demoted.
    body = problem(api.put(f"/v1/orgs/{org}/members/ada", {"role": "member"}, actor="ada"), 403)
    assert "keeps at least one" in body["detail"]

    # The invitation is dead after 48 hours.
    clock.advance(hours=49)
    body = problem(accept(api, items[2]["token"], "user2"), 410)
    assert "expired" in body["detail"]
    listed = api.get(f"/v1/orgs/{org}/invitations?status=expired", actor="ada").get_json()
    assert len(listed["items"]) == 8 and {i["status"] for i in listed["items"]} == {"expired"}
    assert (
        api.get(f"/v1/orgs/{org}/invitations?status=pending", actor="ada").get_json()["items"] == []
    )
    assert set(members(api, "ada", org)) == {"ada", "user0"}  # expired ones are not pending
    # Expired: the same email may be invited again.
    assert invite(api, "ada", org, ("user2@example.com", "member")).status_code == 201


def test_up42_no_account_merging(api, app):
    add_user(api, "ada")
    add_user(api, "bob")
    org_a = new_org(api, "ada", "up42", name="A")["id"]
    new_org(api, "bob", "up42", name="B")
    token = invite(api, "ada", org_a, ("bob@example.com", "member")).get_json()["items"][0]["token"]
    body = problem(accept(api, token, "bob"), 403)
    assert "already belongs to another up42 organization" in body["detail"]
    assert "ada" in members(api, "ada", org_a) and "bob" not in members(api, "ada", org_a)
    # Another style merges nothing and minds nothing: Pix4D accepts.
    add_user(api, "pia")
    pix = new_org(api, "pia", "pix4d")["id"]
    join(api, "pia", pix, "bob", "reader")
