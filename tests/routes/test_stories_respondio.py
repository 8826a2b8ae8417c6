"""The procedures of respond.io's help pages "Organization Users" and "Organization Overview", walked over HTTP.

An Organization Admin creates the org (a first Space comes with it), a User Admin adds a
Member, cannot add a Billing Admin, cannot delete themselves, and changes no one's role.
"""

from tests.support import accept, add_user, invite, join, members, new_org, problem


def test_respondio_user_admin_story(api, app):
    add_user(api, "oscar")
    org = new_org(api, "oscar", "respondio", name="Chatty")["id"]
    join(api, "oscar", org, "uma", "user_admin")
    join(api, "oscar", org, "bill", "billing_admin")

    # respond.io "Organization Users": "User Admins can only add users with Member access".
    sent = invite(api, "uma", org, ("mo@example.com", "member"))
    assert sent.status_code == 201
    assert accept(api, sent.get_json()["items"][0]["token"], "mo").status_code == 200
    assert members(api, "uma", org)["mo"]["role"] == "member"
    body = problem(invite(api, "uma", org, ("bea@example.com", "billing_admin")), 403)
    assert body["errors"]["invitations.0.role"] == [
        "respondio: a User Admin may invite only Members, and this invitation is for a "
        "Billing Admin"
    ]

    # respond.io "Organization Users": "A user cannot delete himself from the organization as it requires another
    # authorised user to do so."
    body = problem(api.delete(f"/v1/orgs/{org}/members/uma", actor="uma"), 403)
    assert "remove themselves" in body["detail"]
    problem(api.delete(f"/v1/orgs/{org}/members/mo", actor="mo"), 403)

    # respond.io "Organization Users": "User Admins cannot promote or demote an organization member".
    problem(api.put(f"/v1/orgs/{org}/members/mo", {"role": "user_admin"}, actor="uma"), 403)
    # respond.io "Organization Users": "User Admins can only delete users with Member access".
    problem(api.delete(f"/v1/orgs/{org}/members/bill", actor="uma"), 403)
    assert api.delete(f"/v1/orgs/{org}/members/mo", actor="uma").status_code == 204

    # respond.io "Organization Users": "Billing Admins can only view users and make no changes."
    assert set(members(api, "bill", org)) == {"oscar", "uma", "bill"}
    problem(invite(api, "bill", org, ("x@example.com", "member")), 403)
    # respond.io "Organization Users": "Each organization has to have at least one organization admin."
    body = problem(api.put(f"/v1/orgs/{org}/members/oscar", {"role": "member"}, actor="oscar"), 403)
    assert "keeps at least one" in body["detail"]
    # The Organization Admin removes the User Admin.
    assert api.delete(f"/v1/orgs/{org}/members/uma", actor="oscar").status_code == 204
