"""PUT/GET/DELETE /v1/orgs/{org}/resources/{type}/{id}: register, update, move, delete."""

from models import AuditEvent, Resource, db

BASE = "/v1/orgs/org-pix4d/resources"
OWNER = "pix4d-owner"


def put(api, type_, rid, body=None, actor=OWNER, org="org-pix4d"):
    return api.put(f"/v1/orgs/{org}/resources/{type_}/{rid}", body or {}, actor=actor)


def row(type_, rid, org="org-pix4d"):
    with db.connection_context():
        return Resource.get_or_none(org=org, type=type_, rid=rid)


def test_register_update_and_read(api, demo):
    r = put(
        api,
        "Folder",
        "f-new",
        {"parent": {"type": "Folder", "id": "pix4d-survey"}, "attributes": {"name": "new"}},
    )
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["parent"] == {"type": "Folder", "id": "pix4d-survey"}
    assert body["org"] == "org-pix4d" and body["attributes"] == {"name": "new"}
    assert row("Folder", "f-new").shape == "Folder/Folder"
    again = put(api, "Folder", "f-new", {"attributes": {"name": "renamed"}})
    assert again.status_code == 200
    assert again.get_json()["parent"] == {"type": "Folder", "id": "pix4d-survey"}  # kept
    got = api.get(f"{BASE}/Folder/f-new", actor=OWNER)
    assert got.status_code == 200 and got.get_json()["attributes"] == {"name": "renamed"}
    with db.connection_context():
        actions = [e.action for e in AuditEvent.select().order_by(AuditEvent.id)]
    assert actions[-2:] == ["resource.create", "resource.update"]


def test_type_must_be_declared_by_the_org_policy(api, demo):
    r = put(api, "Space", "s-1")  # a respond.io type
    assert r.status_code == 422 and "type" in r.get_json()["errors"]
    assert r.content_type == "application/problem+json"
    assert put(api, "Grant", "g-1").status_code == 422  # management types are not registered


def test_unknown_fields_and_bad_parents_are_named(api, demo):
    r = put(api, "Folder", "f-x", {"parnet": None})
    assert r.status_code == 422 and "parnet" in r.get_json()["errors"]
    r = put(api, "Folder", "f-x", {"parent": {"type": "Folder", "id": "nope"}})
    assert r.status_code == 422 and "parent" in r.get_json()["errors"]
    r = put(api, "Folder", "f-x", {"parent": {"type": "Space", "id": "respondio-support"}})
    assert r.status_code == 422 and "parent" in r.get_json()["errors"]  # another org
    r = put(api, "Folder", "f-x", {"parent": {"type": "License", "id": "pix4d-cloud-1"}})
    assert r.status_code == 422 and "parent" in r.get_json()["errors"]  # no such relation


def test_type_and_id_are_unique_within_an_org(api, demo):
    r = put(api, "Space", "respondio-support", org="org-pix4d")
    assert r.status_code == 422  # not a pix4d type anyway
    assert put(api, "Folder", "shared-id").status_code == 201
    assert put(api, "Folder", "shared-id").status_code == 200  # the same resource again
    with db.connection_context():
        from models import Membership, Organization

        Organization.create(id="org-other", name="o", style="pix4d")
        Membership.create(user=OWNER, org="org-other", role="owner")
    # another org's (type, id) is another resource: registered beside it, not a 409
    r = put(api, "Folder", "shared-id", {"attributes": {"name": "theirs"}}, org="org-other")
    assert r.status_code == 201, r.get_json()
    with db.connection_context():
        rows = {
            x.org_id: x.attributes for x in Resource.select().where(Resource.rid == "shared-id")
        }
    assert rows == {"org-pix4d": {}, "org-other": {"name": "theirs"}}


def test_each_operation_is_a_policy_decision(api, demo):
    # A reader may not create, an editor may; a member with an editor grant on a folder may
    # create inside it but not at the top.
    assert put(api, "Folder", "f-r", actor="pix4d-reader").status_code == 403
    assert put(api, "Folder", "f-e", actor="pix4d-editor").status_code == 201
    api.put(f"{BASE}/Folder/pix4d-survey/grants/pix4d-member", {"role": "editor"}, actor=OWNER)
    inside = {"parent": {"type": "Folder", "id": "pix4d-survey-2026"}}
    assert put(api, "Dataset", "d-m", inside, actor="pix4d-member").status_code == 201
    assert put(api, "Dataset", "d-top", actor="pix4d-member").status_code == 403
    # edit in place is allowed; moving out of the granted folder needs create at the target
    r = put(api, "Dataset", "d-m", {"attributes": {"a": 1}}, actor="pix4d-member")
    assert r.status_code == 200
    assert put(api, "Dataset", "d-m", {"parent": None}, actor="pix4d-member").status_code == 403
    r = api.delete(f"{BASE}/Dataset/d-m", actor="pix4d-reader")
    assert r.status_code == 403 and "delete" in r.get_json()["detail"]
    assert api.delete(f"{BASE}/Dataset/d-m", actor="pix4d-member").status_code == 204
    assert row("Dataset", "d-m") is None


def test_move_rewrites_the_whole_subtree(api, demo):
    for type_, rid, parent in [
        ("Folder", "a", None),
        ("Folder", "b", "a"),
        ("Folder", "c", "b"),
        ("Dataset", "d", "c"),
        ("Folder", "z", None),
    ]:
        body = {"parent": {"type": "Folder", "id": parent} if parent else None}
        assert put(api, type_, rid, body).status_code == 201
    assert row("Dataset", "d").shape == "Folder/Folder/Folder/Dataset"
    r = put(api, "Folder", "b", {"parent": {"type": "Folder", "id": "z"}})
    assert r.status_code == 200, r.get_json()
    z, b, c, d = row("Folder", "z"), row("Folder", "b"), row("Folder", "c"), row("Dataset", "d")
    assert b.path == f"/{z.id}/" and c.path == f"/{z.id}/{b.id}/"
    assert d.path == f"/{z.id}/{b.id}/{c.id}/" and d.shape == "Folder/Folder/Folder/Dataset"
    # move to the top: shapes get shorter
    assert put(api, "Folder", "b", {"parent": None}).status_code == 200
    assert row("Dataset", "d").shape == "Folder/Folder/Dataset"
    assert row("Dataset", "d").path == f"/{b.id}/{c.id}/"
    # decisions follow the move: a grant on z no longer reaches d
    api.put(f"{BASE}/Folder/b/grants/pix4d-member", {"role": "reader"}, actor=OWNER)
    assert api.allowed("pix4d-member", "view", {"type": "Dataset", "id": "d"})


def test_a_move_into_its_own_subtree_is_refused(api, demo):
    put(api, "Folder", "a", {"parent": None})
    put(api, "Folder", "b", {"parent": {"type": "Folder", "id": "a"}})
    put(api, "Folder", "c", {"parent": {"type": "Folder", "id": "b"}})
    for target in ("a", "c"):
        r = put(api, "Folder", "a", {"parent": {"type": "Folder", "id": target}})
        assert r.status_code == 409, target
        assert "parent" in r.get_json()["errors"]
    assert row("Folder", "a").path == ""


def test_delete_with_children_needs_recursive(api, demo):
    r = api.delete(f"{BASE}/Folder/pix4d-survey", actor=OWNER)
    assert r.status_code == 409 and "recursive" in r.get_json()["detail"]
    assert row("Dataset", "pix4d-bridge-scan") is not None
    r = api.delete(f"{BASE}/Folder/pix4d-survey?recursive=true", actor=OWNER)
    assert r.status_code == 204
    assert row("Folder", "pix4d-survey") is None and row("Folder", "pix4d-survey-2026") is None
    assert row("Dataset", "pix4d-bridge-scan") is None
    assert row("Site", "pix4d-quarry") is not None
    assert api.delete(f"{BASE}/Folder/pix4d-survey", actor=OWNER).status_code == 404


def test_acting_user_is_required_and_unknown_org_is_404(api, demo):
    r = api.put(f"{BASE}/Folder/x", {})
    assert r.status_code == 422 and "X-Actor-Id" in r.get_json()["errors"]
    assert put(api, "Folder", "x", org="org-none").status_code == 404


def test_recursive_delete_takes_the_grants_below_with_it(api, demo):
    from models import Grant

    assert api.allowed("pix4d-member", "view", {"type": "Dataset", "id": "pix4d-bridge-scan"})
    r = api.delete(f"{BASE}/Folder/pix4d-survey?recursive=yes", actor=OWNER)
    assert r.status_code == 204
    with db.connection_context():
        assert [g.role for g in Grant.select().where(Grant.user == "pix4d-member")] == ["assignee"]
    assert not api.allowed("pix4d-member", "view", {"type": "Dataset", "id": "pix4d-bridge-scan"})
    r = api.delete(f"{BASE}/Site/pix4d-quarry?recursive=maybe", actor=OWNER)
    assert r.status_code == 422 and "recursive" in r.get_json()["errors"]


def test_openapi_documents_the_resource_routes(api, app):
    paths = api.get("/openapi.json").get_json()["paths"]
    assert "/v1/orgs/{org_id}/resources/{type_}/{rid}/grants/{user_id}" in paths
    assert "/v1/authorize/resources" in paths and "/v1/authorize/actors" in paths
