"""AuthZEN's ``context`` (docs/authzen.md): the attributes a style declares are the check's
request context, loaded to their kind (a 400 naming the field); other keys are the PEP's
own and ignored; an evaluation inherits the request's top-level context."""

import pytest

from tests.support import context_policy_api

DATASET = {"type": "Dataset", "id": "pix4d-bridge-scan"}


def evaluation(actor, action, resource, context=None):
    body = {
        "subject": {"type": "user", "id": actor},
        "action": {"name": action},
        "resource": resource,
    }
    if context is not None:
        body["context"] = context
    return body


@pytest.fixture
def mfa_api(app, tmp_path, demo):
    return context_policy_api(app, tmp_path)


def test_the_policy_reads_the_declared_context(mfa_api):
    def decided(context=None):
        got = mfa_api.post(
            "/access/v1/evaluation", evaluation("pix4d-editor", "delete", DATASET, context)
        )
        assert got.status_code == 200, got.get_json()
        return got.get_json()["decision"]

    for _ in range(2):  # the second time from what the first left in the worker
        assert decided() is False
        assert decided({"mfa": True}) is True
        assert decided({"mfa": True, "time": "1985-10-26T01:22-07:00"}) is True  # a PEP's own
        assert decided({"mfa": False}) is False


def test_evaluations_take_the_top_level_context_as_a_default(mfa_api):
    body = {
        "subject": {"type": "user", "id": "pix4d-editor"},
        "action": {"name": "delete"},
        "context": {"mfa": True},
        "evaluations": [
            {"resource": DATASET},
            {"resource": DATASET, "context": {"mfa": False}},
            {"resource": DATASET, "context": {}},
        ],
    }
    got = mfa_api.post("/access/v1/evaluations", body)
    assert got.status_code == 200, got.get_json()
    assert [e["decision"] for e in got.get_json()["evaluations"]] == [True, False, False]


def test_an_ill_typed_declared_context_is_a_400_naming_the_field(api, demo):
    org = {"type": "Organization", "id": "org-pix4d"}
    got = api.post(
        "/access/v1/evaluation", evaluation("pix4d-owner", "edit_details", org, {"ip": "x"})
    )
    assert got.status_code == 400, got.get_json()
    assert got.get_json()["errors"] == {"context.ip": ["an IPv4 or IPv6 address"]}
    body = {
        "subject": {"type": "user", "id": "pix4d-owner"},
        "action": {"name": "edit_details"},
        "evaluations": [{"resource": org}, {"resource": org, "context": {"ip": 4}}],
    }
    got = api.post("/access/v1/evaluations", body)
    assert got.status_code == 400, got.get_json()
    assert got.get_json()["errors"] == {"evaluations.1.context.ip": ["an IPv4 or IPv6 address"]}
    fine = evaluation("pix4d-owner", "edit_details", org, {"ip": "203.0.113.7", "other": [1]})
    got = api.post("/access/v1/evaluation", fine)
    assert got.status_code == 200, got.get_json()
    assert got.get_json()["decision"] is True


def test_the_action_search_reads_the_declared_context(mfa_api):
    def actions(context=None):
        body = {
            "subject": {"type": "user", "id": "pix4d-editor"},
            "resource": {**DATASET, "properties": {"org": "org-pix4d"}},
        }
        if context is not None:
            body["context"] = context
        got = mfa_api.post("/access/v1/search/action", body)
        assert got.status_code == 200, got.get_json()
        return {r["name"] for r in got.get_json()["results"]}

    assert "delete" not in actions()
    assert actions({"mfa": True}) == actions() | {"delete"}
    assert "delete" not in actions({"mfa": False, "time": "now"})
