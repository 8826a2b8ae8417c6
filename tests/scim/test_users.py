"""SCIM Users of a directory: each change makes or removes a membership decided by the
policy, answers SCIM documents and errors, and is audited."""

from models import Membership, ScimUser, User, db
from tests.scim.conftest import Scim, issue, patch_body, user_body


def _member_role(org, user_id):
    with db.connection_context():
        found = Membership.find(org, user_id)
        return found.role if found else None


def test_create_joins_with_the_default_role(directory):
    r = directory.post("/Users", user_body("ann@acme.example.com", external_id="okta-1"))
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert r.headers["Content-Type"].startswith("application/scim+json")
    assert body["userName"] == "ann@acme.example.com" and body["active"] is True
    assert body["meta"]["location"].endswith(f"/scim/v2/Users/{body['id']}")
    assert r.headers["ETag"] == body["meta"]["version"] == 'W/"1"'
    assert _member_role("org-pix4d", "ann@acme.example.com") == "member"
    got = directory.get(f"/Users/{body['id']}").get_json()
    assert got["externalId"] == "okta-1" and got["emails"][0]["value"] == "ann@acme.example.com"


def test_an_existing_member_is_linked_by_email_and_keeps_their_role(directory):
    r = directory.post("/Users", user_body("reader-at-idp", email="READER@pix4d.example"))
    assert r.status_code == 201, r.get_json()
    with db.connection_context():
        assert ScimUser.get_by_id(r.get_json()["id"]).user_id == "pix4d-reader"
    assert _member_role("org-pix4d", "pix4d-reader") == "reader"


def test_username_is_unique_case_insensitively(directory):
    assert directory.post("/Users", user_body("bob@acme.example.com")).status_code == 201
    r = directory.post("/Users", user_body("BOB@acme.example.com", email="bob2@acme.example.com"))
    assert r.status_code == 409
    assert r.get_json()["scimType"] == "uniqueness"
    assert r.get_json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_filters_and_pagination(directory):
    for i in range(5):
        body = user_body(f"u{i}@acme.example.com", external_id=f"ext-{i}")
        assert directory.post("/Users", body).status_code == 201
    found = directory.get('/Users?filter=userName eq "U3@ACME.example.com"').get_json()
    assert found["totalResults"] == 1 and found["Resources"][0]["userName"] == "u3@acme.example.com"
    found = directory.get('/Users?filter=externalId eq "ext-4"').get_json()
    assert [u["userName"] for u in found["Resources"]] == ["u4@acme.example.com"]
    page = directory.get("/Users?startIndex=2&count=2").get_json()
    assert page["totalResults"] == 5 and page["startIndex"] == 2 and page["itemsPerPage"] == 2
    assert [u["userName"] for u in page["Resources"]] == [
        "u1@acme.example.com",
        "u2@acme.example.com",
    ]
    r = directory.get('/Users?filter=title co "x"')
    assert r.status_code == 400 and r.get_json()["scimType"] == "invalidFilter"
    r = directory.get("/Users?filter=userName eq")
    assert r.status_code == 400 and r.get_json()["scimType"] == "invalidFilter"


def test_deactivate_removes_the_membership_and_reactivate_restores_it(directory):
    sid = directory.post("/Users", user_body("cat@acme.example.com")).get_json()["id"]
    op = {"op": "replace", "value": {"active": False}}
    r = directory.patch(f"/Users/{sid}", patch_body(op))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["active"] is False and r.get_json()["meta"]["version"] == 'W/"2"'
    assert _member_role("org-pix4d", "cat@acme.example.com") is None
    r = directory.patch(
        f"/Users/{sid}", patch_body({"op": "replace", "path": "active", "value": True})
    )
    assert r.status_code == 200, r.get_json()
    assert _member_role("org-pix4d", "cat@acme.example.com") == "member"


def test_delete_removes_the_membership(directory):
    sid = directory.post("/Users", user_body("dan@acme.example.com")).get_json()["id"]
    assert directory.delete(f"/Users/{sid}").status_code == 204
    assert _member_role("org-pix4d", "dan@acme.example.com") is None
    r = directory.get(f"/Users/{sid}")
    assert r.status_code == 404 and r.get_json()["status"] == "404"


def test_the_last_owner_is_not_deprovisioned_and_the_error_says_why(directory):
    # the Owner is linked by email, then deactivated by the identity provider
    r = directory.post("/Users", user_body("owner", email="owner@pix4d.example"))
    assert r.status_code == 201, r.get_json()
    sid = r.get_json()["id"]
    r = directory.put(
        f"/Users/{sid}", user_body("owner", email="owner@pix4d.example", active=False)
    )
    assert r.status_code == 403, r.get_json()
    assert "last" in r.get_json()["detail"].lower(), r.get_json()
    assert _member_role("org-pix4d", "pix4d-owner") == "owner"
    with db.connection_context():
        assert ScimUser.get_by_id(sid).active is True  # nothing was written


def test_if_match_is_honoured(directory):
    sid = directory.post("/Users", user_body("eve@acme.example.com")).get_json()["id"]
    op = patch_body({"op": "replace", "path": "displayName", "value": "Eve"})
    r = directory.patch(f"/Users/{sid}", op, headers={"If-Match": 'W/"7"'})
    assert r.status_code == 412
    r = directory.patch(f"/Users/{sid}", op, headers={"If-Match": 'W/"1"'})
    assert r.status_code == 200 and r.get_json()["displayName"] == "Eve"


def test_a_token_reaches_its_organization_only(app, directory):
    up42 = directory.__class__(app.test_client(), issue(app, "org-up42", "up42-admin", "member"))
    sid = directory.post("/Users", user_body("fay@acme.example.com")).get_json()["id"]
    assert up42.get(f"/Users/{sid}").status_code == 404
    assert up42.get("/Users").get_json()["totalResults"] == 0
    bad = directory.__class__(app.test_client(), "oazscim_nope")
    r = bad.get("/Users")
    assert r.status_code == 401 and r.get_json()["status"] == "401"


def test_changes_are_audited_and_in_the_events_feed(api, directory):
    sid = directory.post("/Users", user_body("gus@acme.example.com")).get_json()["id"]
    directory.delete(f"/Users/{sid}")
    events = api.get("/v1/events?org=org-pix4d&limit=100").get_json()["items"]
    types = [e["type"] for e in events]
    assert "scim.user_provisioned" in types and "scim.user_deprovisioned" in types
    assert types.count("member.added") >= 1 and "member.removed" in types


def test_joining_is_decided_as_the_acting_user(app, demo):
    # a Manager may not invite an Owner in pix4d: a directory acting as them cannot
    # provision one either, and nothing is written
    token = issue(app, acting="pix4d-manager", role="owner")
    manager = Scim(app.test_client(), token)
    r = manager.post("/Users", user_body("hal@acme.example.com"))
    assert r.status_code == 403, r.get_json()
    assert r.get_json()["detail"].startswith("pix4d-manager may not invite someone as owner")
    assert _member_role("org-pix4d", "hal@acme.example.com") is None
    with db.connection_context():
        assert ScimUser.select().count() == 0
        assert User.find("hal@acme.example.com") is None


def test_scim_writes_decide_only_inside_their_unit_of_work(directory, monkeypatch):
    from access import decisions, refusals, uow

    outside = []
    real_decide, real_would_allow = decisions._decide, refusals.would_allow

    def spy_decide(policy, facts, actor, action, target, **kw):
        if uow.current() is None:
            outside.append((actor, action))
        return real_decide(policy, facts, actor, action, target, **kw)

    def spy_would_allow(*args, **kw):
        if uow.current() is None:
            outside.append(("what-if", *args[2:4]))
        return real_would_allow(*args, **kw)

    monkeypatch.setattr(decisions, "_decide", spy_decide)
    monkeypatch.setattr(refusals, "would_allow", spy_would_allow)
    asked = []
    monkeypatch.setattr(
        decisions, "_decide", lambda *a, **kw: asked.append(a[3]) or spy_decide(*a, **kw)
    )
    sid = directory.post("/Users", user_body("ivo@acme.example.com")).get_json()["id"]
    off = patch_body({"op": "replace", "value": {"active": False}})
    assert directory.patch(f"/Users/{sid}", off).status_code == 200
    owner = directory.post("/Users", user_body("owner", email="owner@pix4d.example"))
    oid = owner.get_json()["id"]
    assert directory.delete(f"/Users/{oid}").status_code == 403
    assert directory.delete(f"/Users/{sid}").status_code == 204
    assert {"invite", "accept", "remove"} <= set(asked)
    assert outside == []
