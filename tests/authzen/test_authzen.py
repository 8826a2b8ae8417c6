"""The AuthZEN Authorization API in process: evaluation semantics, defaults, the mapping of
a resource's organization and owner, the searches, errors and the metadata document."""

import pytest

from models import Membership, Organization, Resource, db
from tests.support import org_with

RICK = "CiRmZDA2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs"
MORTY = "CiRmZDE2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs"
BETH = "CiRmZDM2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs"


def todo(owner: str, id_: str = "t-1") -> dict:
    return {"type": "todo", "id": id_, "properties": {"ownerID": owner}}


def morty_updates(*owners, semantic=None) -> dict:
    body = {
        "subject": {"type": "user", "id": MORTY},
        "action": {"name": "can_update_todo"},
        "evaluations": [{"resource": todo(o, f"t-{i}")} for i, o in enumerate(owners)],
    }
    if semantic:
        body["options"] = {"evaluations_semantic": semantic}
    return body


RICKS, MORTYS = "rick@the-citadel.com", "morty@the-citadel.com"


def decisions_of(response) -> list:
    assert response.status_code == 200, response.get_json()
    return [e["decision"] for e in response.get_json()["evaluations"]]


def test_evaluation_decides_through_the_core_and_answers_the_reason(api, demo):
    allowed = api.post(
        "/access/v1/evaluation",
        {
            "subject": {"type": "user", "id": MORTY},
            "action": {"name": "can_update_todo"},
            "resource": todo(MORTYS),
            "context": {"time": "1985-10-26T01:22-07:00"},
        },
    )
    assert allowed.status_code == 200
    body = allowed.get_json()
    assert body["decision"] is True
    assert body["context"]["reason_admin"] == {"en": "allowed by the policy"}
    assert len(body["context"]["id"]) == 32  # the decision id of the decision log
    assert allowed.headers["X-RateLimit-Limit"]  # counted against the key's rate limit
    denied = api.post(
        "/access/v1/evaluation",
        {
            "subject": {"type": "user", "id": BETH},
            "action": {"name": "can_update_todo"},
            "resource": todo("beth@the-smiths.com"),
        },
    ).get_json()
    assert denied["decision"] is False
    assert denied["context"]["reason_admin"] == {"en": "no rule of the policy allows it"}


def test_execute_all_is_the_default_and_answers_in_order(api, demo):
    assert decisions_of(
        api.post("/access/v1/evaluations", morty_updates(MORTYS, RICKS, MORTYS))
    ) == [True, False, True]
    assert decisions_of(
        api.post(
            "/access/v1/evaluations", morty_updates(MORTYS, RICKS, MORTYS, semantic="execute_all")
        )
    ) == [True, False, True]


def test_deny_on_first_deny_stops_at_the_first_deny(api, demo):
    response = api.post(
        "/access/v1/evaluations",
        morty_updates(MORTYS, RICKS, MORTYS, semantic="deny_on_first_deny"),
    )
    assert decisions_of(response) == [True, False]
    assert response.get_json()["evaluations"][1]["context"]["reason"] == "deny_on_first_deny"


def test_permit_on_first_permit_stops_at_the_first_permit(api, demo):
    response = api.post(
        "/access/v1/evaluations",
        morty_updates(RICKS, MORTYS, RICKS, semantic="permit_on_first_permit"),
    )
    assert decisions_of(response) == [False, True]
    all_denied = api.post(
        "/access/v1/evaluations", morty_updates(RICKS, RICKS, semantic="permit_on_first_permit")
    )
    assert decisions_of(all_denied) == [False, False]


def test_top_level_values_are_defaults_an_evaluation_overrides(api, demo):
    body = {
        "subject": {"type": "user", "id": BETH},
        "action": {"name": "can_read_todos"},
        "resource": todo(RICKS),
        "context": {},
        "evaluations": [
            {},  # every default
            {"action": {"name": "can_create_todo"}},  # Beth may not create
            {"subject": {"type": "user", "id": RICK}, "action": {"name": "can_delete_todo"}},
        ],
    }
    assert decisions_of(api.post("/access/v1/evaluations", body)) == [True, False, True]


def test_no_evaluations_is_a_single_evaluation(api, demo):
    body = {
        "subject": {"type": "user", "id": RICK},
        "action": {"name": "can_create_todo"},
        "resource": todo(RICKS),
        "evaluations": [],
    }
    assert api.post("/access/v1/evaluations", body).get_json()["decision"] is True


@pytest.mark.parametrize(
    "body,field",
    [
        ({"action": {"name": "can_read_todos"}, "resource": todo(RICKS)}, "subject"),
        (
            {"subject": {"type": "user"}, "action": {"name": "x"}, "resource": todo(RICKS)},
            "subject.id",
        ),
        (
            {"subject": {"type": "user", "id": RICK}, "action": {}, "resource": todo(RICKS)},
            "action.name",
        ),
        (
            {
                "subject": {"type": "user", "id": RICK},
                "action": {"name": "x"},
                "resource": {"type": "todo", "id": 7},
            },
            "resource.id",
        ),
        (
            {
                "subject": {"type": "user", "id": RICK},
                "action": {"name": "x"},
                "resource": {"type": "todo", "id": "t", "properties": []},
            },
            "resource.properties",
        ),
    ],
)
def test_a_malformed_evaluation_is_a_400_naming_the_field(api, demo, body, field):
    response = api.post("/access/v1/evaluation", body)
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert field in response.get_json()["errors"]


@pytest.mark.parametrize(
    "body,field",
    [
        ({**morty_updates(MORTYS), "evaluations": "all"}, "evaluations"),
        ({**morty_updates(MORTYS), "evaluations": [3]}, "evaluations.0"),
        (morty_updates(MORTYS, semantic="first_come"), "options.evaluations_semantic"),
        ({"evaluations": [{"resource": todo(RICKS)}]}, "evaluations.0.subject"),
    ],
)
def test_a_malformed_evaluations_request_is_a_400_naming_the_field(api, demo, body, field):
    response = api.post("/access/v1/evaluations", body)
    assert response.status_code == 400
    assert field in response.get_json()["errors"], response.get_json()


def test_a_body_that_is_no_json_object_is_a_400(api, demo):
    for data in ("{not json", "[1, 2]"):
        response = api.client.post(
            "/access/v1/evaluation",
            data=data,
            headers={"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"},
        )
        assert response.status_code == 400, data


def test_no_key_or_a_wrong_one_is_a_401_before_the_body(api, demo):
    for headers in ({}, {"Authorization": "Bearer nope"}):
        response = api.client.post("/access/v1/evaluation", data="{not json", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_resources_organization(api, demo):
    # Named in properties.org; else the one org that registered it; else the subject's one.
    with db.connection_context():
        org_with("org-b", "todo", {MORTY: "viewer"})
        for org in ("org-todo", "org-b"):
            Resource.create(org=org, type="todo", rid="shared", attributes={})
    body = {
        "subject": {"type": "user", "id": MORTY},
        "action": {"name": "can_create_todo"},
        "resource": {"type": "todo", "id": "shared"},
    }
    ambiguous = api.post("/access/v1/evaluation", body)
    assert ambiguous.status_code == 400
    assert "resource.properties.org" in ambiguous.get_json()["errors"]
    body["resource"]["properties"] = {"org": "org-todo"}
    assert api.post("/access/v1/evaluation", body).get_json()["decision"] is True
    body["resource"]["properties"] = {"org": "org-b"}  # a viewer there
    assert api.post("/access/v1/evaluation", body).get_json()["decision"] is False
    # Not registered anywhere, and Morty in two orgs: the org must be named.
    body["resource"] = todo(MORTYS, "unregistered")
    assert api.post("/access/v1/evaluation", body).status_code == 400
    # In a batch, that error is the one evaluation's deny.
    batch = api.post("/access/v1/evaluations", {**body, "evaluations": [{}]}).get_json()
    assert batch["evaluations"][0]["decision"] is False
    assert batch["evaluations"][0]["context"]["error"]["status"] == 400


def test_the_owner_is_named_by_email_or_id(api, demo):
    for owner in (MORTYS, "MORTY@the-citadel.com", MORTY):
        body = {
            "subject": {"type": "user", "id": MORTY},
            "action": {"name": "can_delete_todo"},
            "resource": todo(owner),
        }
        assert api.post("/access/v1/evaluation", body).get_json()["decision"] is True, owner
    with db.connection_context():
        Membership.update(role="viewer").where(Membership.user == MORTY).execute()
    assert api.post("/access/v1/evaluation", body).get_json()["decision"] is False


def test_searches(api, demo):
    subjects = api.post(
        "/access/v1/search/subject",
        {
            "subject": {"type": "user"},
            "action": {"name": "can_create_todo"},
            "resource": {"type": "todo", "id": "t", "properties": {"org": "org-todo"}},
        },
    ).get_json()
    assert {r["id"] for r in subjects["results"]} == {
        RICK,
        MORTY,
        "CiRmZDI2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
    }
    assert subjects["page"] == {"next_token": "", "count": 3}
    actions = api.post(
        "/access/v1/search/action",
        {"subject": {"type": "user", "id": BETH}, "resource": todo(RICKS)},
    ).get_json()
    assert actions["results"] == [{"name": "can_read_todos"}]
    # Resources: the registered ones, a page at a time, each naming its org.
    seen, token = [], None
    while True:
        body = {
            "subject": {"type": "user", "id": "pix4d-owner"},
            "action": {"name": "view"},
            "resource": {"type": "Dataset"},
            "page": {"limit": 1},
        }
        if token:
            body["page"]["token"] = token
        page = api.post("/access/v1/search/resource", body).get_json()
        seen += page["results"]
        token = page["page"]["next_token"]
        if not token:
            break
    assert [r["id"] for r in seen] == ["pix4d-bridge-scan", "pix4d-quarry-march"]
    assert seen[0]["properties"] == {"org": "org-pix4d"}
    bad = api.post("/access/v1/search/resource", {**body, "page": {"token": "garbage!"}})
    assert bad.status_code == 400 and "page.token" in bad.get_json()["errors"]


def test_configuration_document_is_public(app, demo):
    response = app.test_client().get("/.well-known/authzen-configuration")
    assert response.status_code == 200
    body = response.get_json()
    base = body["policy_decision_point"]
    assert base == "http://localhost"
    assert body == {
        "policy_decision_point": base,
        "access_evaluation_endpoint": f"{base}/access/v1/evaluation",
        "access_evaluations_endpoint": f"{base}/access/v1/evaluations",
        "search_subject_endpoint": f"{base}/access/v1/search/subject",
        "search_resource_endpoint": f"{base}/access/v1/search/resource",
        "search_action_endpoint": f"{base}/access/v1/search/action",
    }
    assert "max-age" in response.headers["Cache-Control"]


def test_unknown_subjects_and_non_users_are_denied(api, demo):
    for subject in ({"type": "user", "id": "nobody"}, {"type": "service", "id": RICK}):
        body = {"subject": subject, "action": {"name": "can_read_todos"}, "resource": todo(RICKS)}
        answer = api.post("/access/v1/evaluation", body).get_json()
        assert answer["decision"] is False, subject
    with db.connection_context():
        assert Organization.get_by_id("org-todo").style == "todo"


def test_evaluations_reach_the_decision_log_as_one_item_and_a_line_each(
    api, demo, tmp_path, monkeypatch
):
    """As a /v1 batch: the evaluations' decisions are queued once, with one time, and the
    log still has one line per evaluation (those short-circuited away are not decided)."""
    import json

    from ops import decisionlog
    from routes.context import decision_context

    path = tmp_path / "authzen-decisions.log"
    decisionlog.install(str(path), 1.0, decision_context)
    try:
        writer = decisionlog._sink[0]
        queued: list = []
        put = writer.put
        monkeypatch.setattr(writer, "put", lambda item: (queued.append(item), put(item)))
        body = morty_updates(MORTYS, RICKS, MORTYS, RICKS, semantic="deny_on_first_deny")
        assert decisions_of(api.post("/access/v1/evaluations", body)) == [True, False]
        assert len(queued) == 1 and len(queued[0].records) == 2
        writer.flush()
        lines = [json.loads(t) for t in path.read_text().splitlines()]
        assert [(line["actor"], line["allowed"]) for line in lines] == [
            (MORTY, True),
            (MORTY, False),
        ]
        assert len({line["time"] for line in lines}) == 1
    finally:
        decisionlog.close(str(path))
