"""Grants: PUT/DELETE .../resources/{type}/{id}/grants/{user_id} and the batch form."""

from models import AuditEvent, Grant, db

PIX = "/v1/orgs/org-pix4d/resources"
RIO = "/v1/orgs/org-respondio"


def spaces(api, n):
    for i in range(n):
        r = api.put(f"{RIO}/resources/Space/sp-{i}", {}, actor="respondio-org-admin")
        assert r.status_code == 201, r.get_json()


def test_grant_flows_down_the_tree_and_revoke_takes_it_back(api, demo):
    deep = {"type": "Dataset", "id": "pix4d-bridge-scan"}
    assert api.allowed("pix4d-member", "upload", deep) is False
    r = api.put(
        f"{PIX}/Folder/pix4d-survey-2026/grants/pix4d-member",
        {"role": "editor"},
        actor="pix4d-manager",
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json() == {
        **r.get_json(),
        "user_id": "pix4d-member",
        "role": "editor",
        "type": "Folder",
        "id": "pix4d-survey-2026",
    }
    assert api.allowed("pix4d-member", "upload", deep) is True
    again = api.put(
        f"{PIX}/Folder/pix4d-survey-2026/grants/pix4d-member",
        {"role": "reader"},
        actor="pix4d-manager",
    )
    assert again.status_code == 200 and again.get_json()["role"] == "reader"
    assert api.allowed("pix4d-member", "upload", deep) is False
    assert (
        api.delete(
            f"{PIX}/Folder/pix4d-survey-2026/grants/pix4d-member", actor="pix4d-manager"
        ).status_code
        == 204
    )
    assert (
        api.delete(
            f"{PIX}/Folder/pix4d-survey-2026/grants/pix4d-member", actor="pix4d-manager"
        ).status_code
        == 404
    )
    with db.connection_context():
        actions = [e.action for e in AuditEvent.select().order_by(AuditEvent.id)]
    assert actions[-3:] == ["grant.create", "grant.update", "grant.delete"]


def test_the_policy_decides_who_grants(api, demo):
    r = api.put(
        f"{PIX}/Folder/pix4d-survey/grants/pix4d-reader", {"role": "editor"}, actor="pix4d-editor"
    )
    assert r.status_code == 403 and "grant" in r.get_json()["detail"]
    spaces(api, 1)
    # respond.io: a User Admin assigns spaces (role member only); a Billing Admin may not.
    path = f"{RIO}/resources/Space/sp-0/grants/respondio-member"
    assert api.put(path, {"role": "member"}, actor="respondio-billing-admin").status_code == 403
    assert api.put(path, {"role": "member"}, actor="respondio-user-admin").status_code == 201
    assert api.delete(path, actor="respondio-billing-admin").status_code == 403
    assert api.delete(path, actor="respondio-user-admin").status_code == 204


def test_role_must_be_declared_on_the_type_and_user_a_member(api, demo):
    r = api.put(
        f"{PIX}/Folder/pix4d-survey/grants/pix4d-member", {"role": "owner"}, actor="pix4d-owner"
    )
    assert r.status_code == 422 and "role" in r.get_json()["errors"]
    r = api.put(
        f"{PIX}/Folder/pix4d-survey/grants/pix4d-member",
        {"role": "reader", "x": 1},
        actor="pix4d-owner",
    )
    assert r.status_code == 422 and "x" in r.get_json()["errors"]
    r = api.put(
        f"{PIX}/Folder/pix4d-survey/grants/up42-member", {"role": "reader"}, actor="pix4d-owner"
    )
    assert r.status_code == 422 and "user_id" in r.get_json()["errors"]
    r = api.put(f"{PIX}/Folder/pix4d-survey/grants/nobody", {"role": "reader"}, actor="pix4d-owner")
    assert r.status_code == 404
    r = api.put(f"{PIX}/Folder/nope/grants/pix4d-member", {"role": "reader"}, actor="pix4d-owner")
    assert r.status_code == 404


def test_batch_assigns_spaces_up_to_the_policy_limit_all_or_nothing(api, demo):
    spaces(api, 11)
    path = f"{RIO}/members/respondio-member/grants"
    eleven = [{"type": "Space", "id": f"sp-{i}", "role": "member"} for i in range(11)]
    r = api.post(path, {"grants": eleven}, actor="respondio-org-admin")
    assert r.status_code == 403 and "10" in r.get_json()["detail"]  # respond.io: 10 at a time
    bad = eleven[:9] + [{"type": "Space", "id": "sp-nope", "role": "member"}]
    r = api.post(path, {"grants": bad}, actor="respondio-org-admin")
    assert r.status_code == 422 and "grants.9.id" in r.get_json()["errors"]
    with db.connection_context():
        assert Grant.select().where(Grant.user == "respondio-member").count() == 1  # demo's
    r = api.post(path, {"grants": eleven[:10]}, actor="respondio-org-admin")
    assert r.status_code == 200, r.get_json()
    assert len(r.get_json()["items"]) == 10
    assert api.allowed("respondio-member", "use", {"type": "Space", "id": "sp-9"})
    assert not api.allowed("respondio-member", "use", {"type": "Space", "id": "sp-10"})
    dup = [eleven[0], eleven[0]]
    assert api.post(path, {"grants": dup}, actor="respondio-org-admin").status_code == 422


def test_batch_is_refused_whole_when_one_is_forbidden(api, demo):
    spaces(api, 2)
    path = f"{RIO}/members/respondio-member/grants"
    r = api.post(
        path,
        {"grants": [{"type": "Space", "id": "sp-0", "role": "member"}]},
        actor="respondio-billing-admin",
    )
    assert r.status_code == 403
    # pix4d: an editor may not assign roles, so a batch of two writes neither
    r = api.post(
        "/v1/orgs/org-pix4d/members/pix4d-member/grants",
        {
            "grants": [
                {"type": "Folder", "id": "pix4d-survey", "role": "editor"},
                {"type": "License", "id": "pix4d-cloud-1", "role": "assignee"},
            ]
        },
        actor="pix4d-editor",
    )
    assert r.status_code == 403
    with db.connection_context():
        assert Grant.select().where(Grant.user == "pix4d-member").count() == 2  # demo's only
