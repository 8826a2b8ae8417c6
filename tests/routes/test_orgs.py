"""Organizations over HTTP: create (creator role from the policy), read, update each field
under its own action, close, the audit trail."""

import pytest

from models import AuditEvent, Membership, Organization, Resource, User, db
from tests.support import accept, add_user, invite, join, new_org, problem

# ---------------------------------------------------------------- tests


@pytest.mark.parametrize(
    "style, role", [("pix4d", "owner"), ("up42", "admin"), ("respondio", "org_admin")]
)
def test_creator_gets_the_role_the_policy_names(api, app, style, role):
    add_user(api, "u-ann")
    org = new_org(api, "u-ann", style, legal={"vat": "CH-1"})
    assert org["style"] == style and org["role"] == role and org["legal"] == {"vat": "CH-1"}
    with db.connection_context():
        assert Membership.get(Membership.org == org["id"]).role == role
        assert User.get_by_id("u-ann").default_org == org["id"]
        assert AuditEvent.get(AuditEvent.org == org["id"]).action == "org.create"
    listed = api.get("/v1/users/u-ann/orgs").get_json()["items"]
    assert [(o["id"], o["role"], o["is_default"]) for o in listed] == [(org["id"], role, True)]


def test_respondio_org_comes_with_a_first_space_and_one_per_user(api, app):
    add_user(api, "u-ann")
    org = new_org(api, "u-ann", "respondio")
    assert org["initial_resource"]["type"] == "Space"
    with db.connection_context():
        space = Resource.get((Resource.org == org["id"]) & (Resource.type == "Space"))
        assert space.parent is None and space.path == ""
        assert space.attributes["name"] == org["initial_resource"]["name"]
    # The org admin may use it (their role on the org flows down to its spaces).
    assert api.allowed("u-ann", "use", {"type": "Space", "id": space.rid})
    second = api.post("/v1/orgs", {"name": "Two", "style": "respondio"}, actor="u-ann")
    assert "create" in problem(second, 403)["detail"]
    # Another style is another matter.
    new_org(api, "u-ann", "pix4d")


def test_up42_user_with_an_account_cannot_create_another(api, app):
    add_user(api, "u-ann")
    new_org(api, "u-ann", "up42")
    problem(api.post("/v1/orgs", {"name": "Two", "style": "up42"}, actor="u-ann"), 403)
    # Pix4D: several organizations per user.
    new_org(api, "u-ann", "pix4d")
    new_org(api, "u-ann", "pix4d")


def test_create_validation(api, app):
    add_user(api, "u-ann")
    body = problem(api.post("/v1/orgs", {"name": "X", "style": "nope"}, actor="u-ann"), 422)
    assert "style" in body["errors"]
    body = problem(
        api.post("/v1/orgs", {"name": "X", "style": "pix4d", "colour": 1}, actor="u-ann"), 422
    )
    assert "colour" in body["errors"]
    body = problem(api.post("/v1/orgs", {"name": "X", "style": "pix4d"}), 422)
    assert "X-Actor-Id" in body["errors"]
    problem(api.post("/v1/orgs", {"name": "X", "style": "pix4d"}, actor="ghost"), 403)
    new_org(api, "u-ann", "pix4d", id="org-fixed")
    body = problem(
        api.post("/v1/orgs", {"name": "X", "style": "pix4d", "id": "org-fixed"}, actor="u-ann"), 409
    )


def test_read_update_each_field_under_its_own_action(api, app):
    add_user(api, "u-own")
    org = new_org(api, "u-own", "respondio")
    oid = org["id"]
    join(api, "u-own", oid, "u-bill", "billing_admin")
    join(api, "u-own", oid, "u-mem", "member")
    assert api.get(f"/v1/orgs/{oid}", actor="u-bill").get_json()["role"] == "billing_admin"
    problem(api.get(f"/v1/orgs/{oid}", actor="u-mem"), 403)  # "Organization Overview": no settings
    problem(api.get("/v1/orgs/org-nope", actor="u-own"), 404)
    # billing: billing admin yes; name: no. All or nothing.
    ok = api.patch(f"/v1/orgs/{oid}", {"billing": {"iban": "CH00"}}, actor="u-bill")
    assert ok.status_code == 200 and ok.get_json()["billing"] == {"iban": "CH00"}
    body = problem(
        api.patch(f"/v1/orgs/{oid}", {"billing": {"iban": "X"}, "name": "Evil"}, actor="u-bill"),
        403,
    )
    assert "edit_details" in body["detail"]
    with db.connection_context():
        row = Organization.get_by_id(oid)
        assert row.name == "Acme" and row.billing == {"iban": "CH00"}
    ok = api.patch(f"/v1/orgs/{oid}", {"name": "Acme 2", "legal": {"vat": "1"}}, actor="u-own")
    assert ok.get_json()["name"] == "Acme 2" and ok.get_json()["legal"] == {"vat": "1"}
    problem(api.patch(f"/v1/orgs/{oid}", {}, actor="u-own"), 422)


def test_close_then_nothing_is_allowed(api, app):
    add_user(api, "u-own")
    oid = new_org(api, "u-own", "pix4d")["id"]
    join(api, "u-own", oid, "u-man", "manager")
    problem(api.delete(f"/v1/orgs/{oid}", actor="u-man"), 403)
    closed = api.delete(f"/v1/orgs/{oid}", actor="u-own")
    assert closed.status_code == 200 and closed.get_json()["closed_at"]
    assert not api.allowed("u-own", "view", {"type": "Organization", "id": oid})
    assert "closed" in problem(api.get(f"/v1/orgs/{oid}", actor="u-own"), 403)["detail"]


def test_audit_trail_for_those_the_policy_allows(api, app):
    add_user(api, "u-own")
    oid = new_org(api, "u-own", "pix4d")["id"]
    join(api, "u-own", oid, "u-man", "manager")
    join(api, "u-own", oid, "u-ed", "editor")
    api.put(
        f"/v1/orgs/{oid}/members/u-ed",
        {"role": "reader"},
        actor="u-man",
        headers={"X-Request-Id": "req-42"},
    )
    problem(api.get(f"/v1/orgs/{oid}/audit", actor="u-ed"), 403)
    page = api.get(f"/v1/orgs/{oid}/audit?limit=3", actor="u-man").get_json()
    events = page["items"]
    cursor = page["next_cursor"]
    while cursor:
        page = api.get(
            f"/v1/orgs/{oid}/audit", actor="u-man", query_string={"limit": 3, "cursor": cursor}
        ).get_json()
        events += page["items"]
        cursor = page["next_cursor"]
    actions = [e["action"] for e in events]
    assert actions[0] == "org.create" and actions[-1] == "member.change_role"
    assert actions.count("invitation.create") == 2 and actions.count("member.add") == 2
    last = events[-1]
    assert last["actor"] == "u-man" and last["target"] == "user:u-ed"
    assert last["before"] == {"role": "editor"} and last["after"] == {"role": "reader"}
    assert last["request_id"] == "req-42" and last["created_at"]


def test_answers_match_the_openapi_document(api, app):
    """Each management answer of a short walk validates against /openapi.json."""
    import jsonschema_rs

    document = api.get("/openapi.json").get_json()

    def check(response, method, path):
        status = str(response.status_code)
        spec = document["paths"][path][method]["responses"][status]
        schema = spec["content"]["application/json"]["schema"]
        validator = jsonschema_rs.Draft202012Validator(
            {**schema, "components": document["components"]}
        )
        errors = [e.message for e in validator.iter_errors(response.get_json())]
        assert errors == [], f"{method.upper()} {path} {status}: {errors}"
        return response.get_json()

    add_user(api, "u-own")
    check(
        api.put("/v1/users/u-own", {"email": "u-own@example.com", "name": "Own"}),
        "put",
        "/v1/users/{user_id}",
    )
    org = check(
        api.post("/v1/orgs", {"name": "Doc", "style": "respondio"}, actor="u-own"),
        "post",
        "/v1/orgs",
    )["id"]
    check(api.get(f"/v1/orgs/{org}", actor="u-own"), "get", "/v1/orgs/{org_id}")
    check(
        api.patch(f"/v1/orgs/{org}", {"legal": {"vat": "1"}}, actor="u-own"),
        "patch",
        "/v1/orgs/{org_id}",
    )
    sent = check(
        invite(
            api,
            "u-own",
            org,
            ("a@example.com", "member"),
            ("b@example.com", "user_admin"),
            ("c@example.com", "member"),
        ),
        "post",
        "/v1/orgs/{org_id}/invitations",
    )["items"]
    check(
        accept(api, sent[0]["token"], "u-a", email="a@example.com"),
        "post",
        "/v1/invitations/accept",
    )
    check(
        accept(api, sent[1]["token"], "u-b", email="b@example.com"),
        "post",
        "/v1/invitations/accept",
    )
    check(
        api.delete(f"/v1/orgs/{org}/invitations/{sent[2]['id']}", actor="u-own"),
        "delete",
        "/v1/orgs/{org_id}/invitations/{invitation_id}",
    )
    invite(api, "u-own", org, ("d@example.com", "member"))
    check(
        api.get(f"/v1/orgs/{org}/members?limit=2", actor="u-own"),
        "get",
        "/v1/orgs/{org_id}/members",
    )
    check(api.get(f"/v1/orgs/{org}/members", actor="u-own"), "get", "/v1/orgs/{org_id}/members")
    check(
        api.get(f"/v1/orgs/{org}/invitations", actor="u-own"),
        "get",
        "/v1/orgs/{org_id}/invitations",
    )
    check(
        api.put(f"/v1/orgs/{org}/members/u-a", {"role": "billing_admin"}, actor="u-own"),
        "put",
        "/v1/orgs/{org_id}/members/{user_id}",
    )
    check(api.get("/v1/users/u-a"), "get", "/v1/users/{user_id}")
    check(api.patch("/v1/users/u-a", {"default_org_id": org}), "patch", "/v1/users/{user_id}")
    check(api.get("/v1/users/u-a/orgs"), "get", "/v1/users/{user_id}/orgs")
    check(
        api.post(f"/v1/orgs/{org}/members/remove", {"user_ids": ["u-a", "u-b"]}, actor="u-own"),
        "post",
        "/v1/orgs/{org_id}/members/remove",
    )
    check(api.get(f"/v1/orgs/{org}/audit", actor="u-own"), "get", "/v1/orgs/{org_id}/audit")
    check(api.delete(f"/v1/orgs/{org}", actor="u-own"), "delete", "/v1/orgs/{org_id}")
    for response, method, path in [
        (api.get(f"/v1/orgs/{org}", actor="u-own"), "get", "/v1/orgs/{org_id}"),
        (api.get("/v1/users/nobody"), "get", "/v1/users/{user_id}"),
    ]:
        assert response.status_code in (403, 404)
        assert str(response.status_code) in document["paths"][path][method]["responses"]


def test_nobody_can_block_a_respondio_org_by_taking_its_first_space_id(api, app):
    """The first Space's id is ``<org id>-my-workspace``; a user of another org who
    registered that id first made creating the org fail for ever with 409. A resource is
    named by its org, type and id: the new org's first Space has its plain id, and the
    squatter's Space is another resource, theirs alone."""
    add_user(api, "mallory")
    add_user(api, "u-ann")
    theirs = new_org(api, "mallory", "respondio", id="org-mallory")["id"]
    squat = api.put(
        f"/v1/orgs/{theirs}/resources/Space/org-target-my-workspace", {}, actor="mallory"
    )
    assert squat.status_code == 201, squat.get_json()
    org = new_org(api, "u-ann", "respondio", id="org-target")
    first = org["initial_resource"]["id"]
    assert first == "org-target-my-workspace"
    mine = {"type": "Space", "id": first, "org": "org-target"}
    assert api.allowed("u-ann", "use", mine)
    assert not api.allowed("mallory", "use", mine)
    assert not api.allowed("u-ann", "use", {**mine, "org": "org-mallory"})
