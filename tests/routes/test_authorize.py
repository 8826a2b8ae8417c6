"""POST /v1/authorize, /batch and /actions against the demo data, as a calling service."""

import pytest

from models import ApiKey, db

DATASET = {"type": "Dataset", "id": "pix4d-bridge-scan"}  # two folders deep
PIX4D = {"type": "Organization", "id": "org-pix4d"}


@pytest.mark.parametrize(
    "actor, action, resource, expected",
    [
        ("pix4d-owner", "edit_billing", PIX4D, True),
        ("pix4d-manager", "edit_billing", PIX4D, False),
        ("pix4d-manager", "invite_members", PIX4D, True),
        ("pix4d-editor", "upload", DATASET, True),
        ("pix4d-reader", "upload", DATASET, False),
        ("pix4d-reader", "view", DATASET, True),
        ("pix4d-member", "view", DATASET, True),  # grant on the folder two levels up
        ("pix4d-member", "upload", DATASET, False),
        ("pix4d-member", "view", {"type": "Dataset", "id": "pix4d-quarry-march"}, False),
        ("pix4d-member", "use", {"type": "License", "id": "pix4d-desktop-1"}, True),
        ("pix4d-reader", "use", {"type": "License", "id": "pix4d-desktop-1"}, False),
        ("pix4d-reader", "use", {"type": "License", "id": "pix4d-cloud-1"}, True),
        ("up42-member", "view", {"type": "Asset", "id": "up42-asset-1"}, True),
        ("up42-member", "delete", {"type": "Asset", "id": "up42-asset-1"}, False),
        ("up42-admin", "delete", {"type": "Asset", "id": "up42-asset-1"}, True),
        ("up42-member", "buy_credits", {"type": "Organization", "id": "org-up42"}, False),
        ("up42-admin", "buy_credits", {"type": "Organization", "id": "org-up42"}, True),
        ("respondio-member", "use", {"type": "Space", "id": "respondio-support"}, True),
        ("respondio-member", "use", {"type": "Space", "id": "respondio-my-workspace"}, False),
        ("respondio-org-admin", "use", {"type": "Space", "id": "respondio-my-workspace"}, True),
        (
            "respondio-billing-admin",
            "manage_subscription",
            {"type": "Organization", "id": "org-respondio"},
            True,
        ),
        (
            "respondio-user-admin",
            "manage_subscription",
            {"type": "Organization", "id": "org-respondio"},
            False,
        ),
        ("pix4d-owner", "view", {"type": "Organization", "id": "org-up42"}, False),  # not a member
    ],
)
def test_demo_users_get_the_policy_answer(api, demo, actor, action, resource, expected):
    assert api.allowed(actor, action, resource) is expected


def test_answer_carries_decision_id_and_policy_version(api, demo, app):
    body = api.post(
        "/v1/authorize", {"actor": {"id": "pix4d-owner"}, "action": "view", "resource": PIX4D}
    ).get_json()
    assert set(body) == {"allowed", "decision_id", "policy_version", "consistency_token"}
    assert body["policy_version"] == app.extensions["orgauthz.policy"].current.version
    assert len(body["decision_id"]) == 32


def test_explain_names_the_grant_and_the_rule(api, demo):
    body = api.post(
        "/v1/authorize",
        {"actor": {"id": "pix4d-member"}, "action": "view", "resource": DATASET, "explain": True},
    ).get_json()
    expl = body["explanation"]
    assert body["allowed"] is True
    assert {"type": "Folder", "id": "pix4d-survey", "role": "reader", "source": "grant"} in expl[
        "held"
    ]
    assert expl["effective_roles"] == ["reader"]
    assert expl["rule"] == '"view" if "reader" on Dataset'
    denied = api.post(
        "/v1/authorize",
        {"actor": {"id": "pix4d-member"}, "action": "upload", "resource": DATASET, "explain": True},
    ).get_json()
    assert denied["allowed"] is False and denied["explanation"]["rule"] is None
    assert "upload" in denied["explanation"]["reason"]


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"actor": {"id": "nobody"}, "action": "view", "resource": PIX4D}, "unknown actor"),
        ({"actor": {"id": "pix4d-owner"}, "action": "fly", "resource": PIX4D}, "no action 'fly'"),
        (
            {
                "actor": {"id": "pix4d-owner"},
                "action": "view",
                "resource": {"type": "Dataset", "id": "nope"},
            },
            "unknown resource",
        ),
        (
            {
                "actor": {"id": "pix4d-owner"},
                "action": "view",
                "resource": {"type": "Spaceship", "id": "x", "org": "org-pix4d"},
            },
            "no resource type",
        ),
    ],
)
def test_unknown_things_are_a_deny_with_a_reason_never_an_error(api, demo, body, reason):
    response = api.post("/v1/authorize", {**body, "explain": True})
    assert response.status_code == 200
    assert response.get_json()["allowed"] is False
    assert reason in response.get_json()["explanation"]["reason"]


def test_inline_resource_uses_registered_parent_and_declared_attributes_only(api, demo):
    inline = {
        "type": "Dataset",
        "id": "caller-owned-1",
        "org": "org-pix4d",
        "parent": {"type": "Folder", "id": "pix4d-survey-2026"},
    }
    assert api.allowed("pix4d-member", "view", inline) is True  # the grant on the folder above
    desktop = {
        "type": "License",
        "id": "l-9",
        "org": "org-pix4d",
        "attributes": {"kind": "desktop"},
    }
    assert api.allowed("pix4d-reader", "use", desktop) is False
    assert api.allowed("pix4d-reader", "use", {**desktop, "attributes": {"kind": "cloud"}}) is True


def test_stored_facts_win_over_inline_ones(api, demo):
    # pix4d-desktop-1 is stored as desktop: a caller claiming "cloud" does not change that.
    forged = {
        "type": "License",
        "id": "pix4d-desktop-1",
        "org": "org-pix4d",
        "attributes": {"kind": "cloud"},
    }
    assert api.allowed("pix4d-reader", "use", forged) is False


def _at_least(token: str) -> dict:
    return {"consistency": {"mode": "at_least_as_fresh", "token": token}}


def test_revoked_grant_is_denied_on_the_next_request(api, demo):
    assert api.allowed("pix4d-member", "view", DATASET) is True
    revoke = api.delete(
        "/v1/orgs/org-pix4d/resources/Folder/pix4d-survey/grants/pix4d-member",
        actor="pix4d-manager",
    )
    assert revoke.status_code == 204, revoke.get_json()
    written = revoke.headers["X-Consistency-Token"]  # the write's position
    assert api.allowed("pix4d-member", "view", DATASET, **_at_least(written)) is False


def test_role_change_takes_effect_on_the_next_request(api, demo):
    assert api.allowed("pix4d-editor", "upload", DATASET) is True
    change = api.put(
        "/v1/orgs/org-pix4d/members/pix4d-editor", {"role": "reader"}, actor="pix4d-owner"
    )
    assert change.status_code == 200, change.get_json()
    written = change.get_json()["consistency_token"]
    assert written == change.headers["X-Consistency-Token"]
    assert api.allowed("pix4d-editor", "upload", DATASET, **_at_least(written)) is False


def test_batch_answers_in_order_on_one_version(api, demo):
    checks = [
        {"actor": {"id": "pix4d-editor"}, "action": "upload", "resource": DATASET},
        {"actor": {"id": "pix4d-reader"}, "action": "upload", "resource": DATASET},
        {"actor": {"id": "ghost"}, "action": "upload", "resource": DATASET},
        {
            "actor": {"id": "up42-admin"},
            "action": "close",
            "resource": {"type": "Organization", "id": "org-up42"},
        },
    ]
    body = api.post("/v1/authorize/batch", {"checks": checks}).get_json()
    assert [r["allowed"] for r in body["results"]] == [True, False, False, True]
    assert len({r["policy_version"] for r in body["results"]}) == 1


def test_batch_limits(api, demo):
    check = {"actor": {"id": "a"}, "action": "view", "resource": PIX4D}
    assert api.post("/v1/authorize/batch", {"checks": []}).status_code == 422
    too_many = api.post("/v1/authorize/batch", {"checks": [check] * 1001})
    assert too_many.status_code == 422 and "checks" in too_many.get_json()["errors"]
    assert api.post("/v1/authorize/batch", {"checks": [check] * 1000}).status_code == 200


def test_actions_lists_what_the_policy_allows(api, demo):
    body = api.post(
        "/v1/authorize/actions",
        {"actor": {"id": "up42-member"}, "resource": {"type": "Organization", "id": "org-up42"}},
    ).get_json()
    assert body["actions"] == [
        "view",
        "view_members",
        "create_catalog_order",
        "create_tasking_order",
        "create_processing_job",
    ]
    nothing = api.post(
        "/v1/authorize/actions",
        {"actor": {"id": "ghost"}, "resource": {"type": "Organization", "id": "org-up42"}},
    ).get_json()
    assert nothing["actions"] == []


@pytest.mark.parametrize(
    "payload, status, field",
    [
        (b"{not json", 400, "_body"),
        (b"[1, 2]", 422, "_body"),
        (
            b'{"actor": {"id": 5}, "action": "view", "resource": {"type": "Organization", "id": "o"}}',
            422,
            "actor.id",
        ),
        (b'{"actor": {"id": "a"}, "resource": {"type": "Organization", "id": "o"}}', 422, "action"),
        (
            b'{"actor": {"id": "a"}, "action": "view", "resource": {"id": "o"}}',
            422,
            "resource.type",
        ),
        (
            b'{"actor": {"id": "a"}, "action": "view", "resource": {"type": "O", "id": "o"}, "explian": true}',
            422,
            "explian",
        ),
    ],
)
def test_bad_bodies_are_problem_documents_naming_the_field(api, demo, payload, status, field):
    response = api.call(
        "POST", "/v1/authorize", data=payload, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert field in body["errors"]


def test_body_over_the_limit_is_413(api, demo):
    big = b'{"checks": [' + b'"x",' * 400_000 + b'"x"]}'
    response = api.call(
        "POST", "/v1/authorize/batch", data=big, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.content_type == "application/problem+json"


def test_callers_need_a_valid_unrevoked_key(api, app, demo):
    body = {"actor": {"id": "pix4d-owner"}, "action": "view", "resource": PIX4D}
    client = app.test_client()
    assert client.post("/v1/authorize", json=body).status_code == 401
    wrong = client.post("/v1/authorize", json=body, headers={"Authorization": "Bearer oaz_nope"})
    assert wrong.status_code == 401 and wrong.content_type == "application/problem+json"
    assert api.post("/v1/authorize", body).status_code == 200
    with db.connection_context():  # as ``flask keys revoke`` does: no token to pass on
        ApiKey.update(revoked_at=ApiKey.created_at).execute()
    now = {"consistency": {"mode": "fully_consistent"}}  # the key as the database has it now
    assert api.post("/v1/authorize", {**body, **now}).status_code == 401
    assert client.get("/healthz").status_code == 200  # operational paths need no key


def test_keys_are_stored_only_as_hashes(api, app):
    with db.connection_context():
        stored = [k.key_hash for k in ApiKey.select()]
    assert api.key not in stored and all(len(h) == 64 for h in stored)


def test_decision_updates_last_active_at(api, demo, clock):
    from models import User

    api.allowed("pix4d-reader", "view", PIX4D)
    with db.connection_context():
        assert User.get_by_id("pix4d-reader").last_active_at == clock.now
