"""Fail closed: an error while deciding is a deny, never an allow, at every place that
decides: a check, a batch, the allowed actions, both list queries, a preview of a
management write, and a write; on the fast path and on the Flask route. Each error is
counted (orgauthz_decision_errors_total) and a decision's deny is logged with its reason.

Each test first sees the question allowed, then breaks the engine (its answer or the view
it is shown raises) and sees it denied."""

import pytest
from prometheus_client import REGISTRY

from access import decisions, listing, members, previews
from ops import decisionlog

OWNER, ORG = "pix4d-owner", {"type": "Organization", "id": "org-pix4d"}
DATASET = {"type": "Dataset", "id": "pix4d-bridge-scan", "org": "org-pix4d"}
PATHS = ["fast", "flask"]


def errors() -> float:
    return REGISTRY.get_sample_value("orgauthz_decision_errors_total") or 0.0


def post(api, path, url, body):
    headers = {"X-Actor-Id": "anyone"} if path == "flask" else {}  # the header: Flask route
    response = api.post(url, body, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def check(action, resource, actor=OWNER, explain=False):
    return {"actor": {"id": actor}, "action": action, "resource": resource, "explain": explain}


def boom(*args, **kwargs):
    raise RuntimeError("the engine broke")


@pytest.fixture(params=["is_allowed", "build_view"])
def break_engine(request, app, monkeypatch):
    """Call it to make every decision raise: the engine's answer, or building the view."""

    def broken():
        if request.param == "is_allowed":
            for engine in app.extensions["orgauthz.policy"].current.engines.values():
                monkeypatch.setattr(engine, "is_allowed", boom)
        else:  # each module that builds views imported the one function
            for module in (decisions, listing):
                monkeypatch.setattr(module, "build_view", boom)

    return broken


def logged(app, decision_id: str) -> dict:
    decisionlog.flush()
    line = decisionlog.find(app.config["DECISION_LOG"], decision_id)
    assert line is not None, decision_id
    return line


@pytest.mark.parametrize("path", PATHS)
def test_a_check_is_denied(app, api, demo, break_engine, path):
    # explain: answered by deciding, never from the worker's known answers
    assert post(api, path, "/v1/authorize", check("edit_billing", ORG, explain=True))["allowed"]
    break_engine()
    before = errors()
    body = post(api, path, "/v1/authorize", check("edit_billing", ORG))
    assert body["allowed"] is False
    assert errors() == before + 1
    assert logged(app, body["decision_id"])["reason"] == decisions._ERROR


@pytest.mark.parametrize("path", PATHS)
def test_a_batch_is_denied(app, api, demo, break_engine, path):
    checks = [check("edit_billing", ORG, explain=True), check("view", DATASET, explain=True)]
    assert all(
        r["allowed"] for r in post(api, path, "/v1/authorize/batch", {"checks": checks})["results"]
    )
    break_engine()
    before = errors()
    checks = [check("edit_billing", ORG), check("view", DATASET)]
    results = post(api, path, "/v1/authorize/batch", {"checks": checks})["results"]
    assert [r["allowed"] for r in results] == [False, False]
    assert errors() == before + 2


@pytest.mark.parametrize("path", PATHS)
def test_no_action_is_allowed(api, demo, break_engine, path):
    body = {"actor": {"id": OWNER}, "resource": DATASET}
    assert post(api, path, "/v1/authorize/actions", body)["actions"]
    break_engine()
    before = errors()
    assert post(api, path, "/v1/authorize/actions", body)["actions"] == []
    assert errors() == before + 1


def test_no_resource_is_listed(api, demo, break_engine):
    body = {"actor": {"id": OWNER}, "action": "view", "type": "Dataset", "org": "org-pix4d"}
    assert api.post("/v1/authorize/resources", body).get_json()["items"]
    break_engine()
    before = errors()
    response = api.post("/v1/authorize/resources", body)
    assert response.status_code == 200
    assert response.get_json()["items"] == []
    assert errors() == before + 1


def test_no_actor_is_listed(api, demo, break_engine):
    body = {"action": "view", "resource": DATASET}
    assert api.post("/v1/authorize/actors", body).get_json()["items"]
    break_engine()
    before = errors()
    response = api.post("/v1/authorize/actors", body)
    assert response.status_code == 200
    assert response.get_json()["items"] == []
    assert errors() == before + 1


def test_a_write_is_refused(api, demo, break_engine):
    break_engine()
    response = api.put("/v1/orgs/org-pix4d/members/pix4d-reader", {"role": "editor"}, actor=OWNER)
    assert response.status_code == 403


CHANGE = {
    "type": "RoleChange",
    "id": "x",
    "org": "org-pix4d",
    "attributes": {"member": "pix4d-reader", "to_role": "editor"},
}
REMOVE = {
    "type": "Membership",
    "id": "x",
    "org": "org-pix4d",
    "attributes": {"user": "pix4d-reader"},
}


@pytest.mark.parametrize("path", PATHS)
def test_a_preview_is_denied_when_the_engine_breaks(api, demo, break_engine, path):
    assert post(api, path, "/v1/authorize", check("change_role", CHANGE))["allowed"]
    break_engine()
    before = errors()
    assert post(api, path, "/v1/authorize", check("change_role", CHANGE))["allowed"] is False
    body = {"actor": {"id": OWNER}, "resource": REMOVE}
    assert post(api, path, "/v1/authorize/actions", body)["actions"] == []
    assert errors() == before + 2


@pytest.mark.parametrize("path", PATHS)
def test_a_preview_is_denied_when_reading_its_facts_breaks(app, api, demo, monkeypatch, path):
    assert post(api, path, "/v1/authorize", check("change_role", CHANGE))["allowed"]
    monkeypatch.setattr(members, "change_plan", boom)
    monkeypatch.setattr(members, "removal_plan", boom)
    before = errors()
    body = post(api, path, "/v1/authorize", check("change_role", CHANGE))
    assert body["allowed"] is False
    assert logged(app, body["decision_id"])["reason"] == previews.ERROR
    actions = {"actor": {"id": OWNER}, "resource": REMOVE}
    assert post(api, path, "/v1/authorize/actions", actions)["actions"] == []
    assert errors() == before + 2
