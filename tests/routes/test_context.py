"""A check's request context (docs/API.md 1.3, "Request context") over HTTP: accepted on
/v1/authorize, each check of /batch and /actions, on the fast path and the Flask route;
unknown or ill-typed attributes a 422 naming the field; read by the policy's rules
(``actor.context``), a decision that differs with it, never answered from a known answer
or memo entry decided without it, and a deny with the policy's reason when a rule needs
context the check did not send."""

import json

import pytest

from tests.support import context_policy_api

PIX4D = {"type": "Organization", "id": "org-pix4d"}
DATASET = {"type": "Dataset", "id": "pix4d-bridge-scan"}


def flask_route(api, path, body):
    """The same request through the Flask route: a valid X-Actor-Id sends it there."""
    return api.post(path, body, headers={"X-Actor-Id": "anyone"})


def check(actor, action, resource, **extra):
    return {"actor": {"id": actor}, "action": action, "resource": resource, **extra}


@pytest.fixture
def mfa_api(app, tmp_path, demo):
    """The demo, served by an app whose pix4d policy also reads context (support.MFA_RULES)."""
    return context_policy_api(app, tmp_path)


@pytest.mark.parametrize("send", [lambda api, p, b: api.post(p, b), flask_route])
def test_a_declared_context_is_accepted_and_an_ip_alone_changes_nothing(api, demo, send):
    for ip in ("203.0.113.7", "2001:db8::1"):
        body = check("pix4d-owner", "edit_details", PIX4D, context={"ip": ip})
        got = send(api, "/v1/authorize", body)
        assert got.status_code == 200, got.get_json()
        assert got.get_json()["allowed"] is True  # the demo org set no allow-list
        body = check("pix4d-manager", "edit_details", PIX4D, context={"ip": ip})
        assert send(api, "/v1/authorize", body).get_json()["allowed"] is False


@pytest.mark.parametrize("send", [lambda api, p, b: api.post(p, b), flask_route])
@pytest.mark.parametrize(
    "context, field, says",
    [
        ({"ip": "not-an-ip"}, "context.ip", "an IPv4 or IPv6 address"),
        ({"ip": 7}, "context.ip", "an IPv4 or IPv6 address"),
        ({"ip": "10.0.0.1/8"}, "context.ip", "an IPv4 or IPv6 address"),
        ({"time": "1985-10-26T01:22-07:00"}, "context.time", "Unknown field."),
        ([], "context", "Not a valid mapping type."),
        ("10.0.0.1", "context", "Not a valid mapping type."),
    ],
)
def test_unknown_or_ill_typed_context_is_a_422_naming_the_field(
    api, demo, send, context, field, says
):
    got = send(api, "/v1/authorize", check("pix4d-owner", "view", PIX4D, context=context))
    assert got.status_code == 422, got.get_json()
    assert got.get_json()["errors"] == {field: [says]}
    batch = {
        "checks": [
            check("pix4d-owner", "view", PIX4D),
            check("pix4d-owner", "view", PIX4D, context=context),
        ]
    }
    got = send(api, "/v1/authorize/batch", batch)
    assert got.status_code == 422, got.get_json()
    assert got.get_json()["errors"] == {f"checks.1.{field}": [says]}
    actions = {"actor": {"id": "pix4d-owner"}, "resource": PIX4D, "context": context}
    got = send(api, "/v1/authorize/actions", actions)
    assert got.status_code == 422, got.get_json()
    assert got.get_json()["errors"] == {field: [says]}


def test_each_kind_is_checked(mfa_api):
    for context, field, says in [
        ({"mfa": "true"}, "context.mfa", "a boolean"),
        ({"mfa": 1}, "context.mfa", "a boolean"),
        ({"clearance": True}, "context.clearance", "an integer"),
        ({"clearance": 1.5}, "context.clearance", "an integer"),
        ({"region": ""}, "context.region", "a string of 1 to 200 characters"),
        ({"region": "x" * 201}, "context.region", "a string of 1 to 200 characters"),
    ]:
        got = mfa_api.post(
            "/v1/authorize", check("pix4d-owner", "delete", DATASET, context=context)
        )
        assert got.status_code == 422, (context, got.get_json())
        assert got.get_json()["errors"] == {field: [says]}
    for context in ({"mfa": False}, {"clearance": -3}, {"region": "eu"}):
        got = mfa_api.post(
            "/v1/authorize", check("pix4d-owner", "delete", DATASET, context=context)
        )
        assert got.status_code == 200, (context, got.get_json())


@pytest.mark.parametrize("send", [lambda api, p, b: api.post(p, b), flask_route])
def test_the_policy_reads_the_context(mfa_api, send):
    def allowed(context=None, actor="pix4d-editor", action="delete"):
        extra = {} if context is None else {"context": context}
        got = send(mfa_api, "/v1/authorize", check(actor, action, DATASET, **extra))
        assert got.status_code == 200, got.get_json()
        return got.get_json()["allowed"]

    # Asked without context first: the known answer and memo entry it leaves must not
    # answer the checks with context, nor the other way round.
    for _ in range(2):
        assert allowed() is False
        assert allowed({"mfa": True}) is True
        assert allowed({"mfa": False}) is False
        assert allowed({"mfa": True, "region": "eu"}) is True
        assert allowed({"mfa": True}, actor="pix4d-reader") is False  # roles still decide
        assert allowed() is False
    # An integer compared by a rule; a context attribute another type declares (the
    # Organization's ip) is accepted and not shown here.
    assert allowed({"clearance": 1}, action="download_report") is False
    assert allowed({"clearance": 2}, action="download_report") is True
    assert allowed({"clearance": 2, "ip": "10.0.0.1"}, action="download_report") is True
    assert allowed({}, action="download_report") is False  # no clearance sent


def test_batch_and_actions_read_each_checks_context(mfa_api):
    checks = [
        check("pix4d-editor", "delete", DATASET, context={"mfa": True}),
        check("pix4d-editor", "delete", DATASET),
        check("pix4d-editor", "delete", DATASET, context={"mfa": False}),
        check("pix4d-editor", "delete", DATASET, context={"mfa": True}),
    ]
    for send in (lambda p, b: mfa_api.post(p, b), lambda p, b: flask_route(mfa_api, p, b)):
        got = send("/v1/authorize/batch", {"checks": checks})
        assert got.status_code == 200, got.get_json()
        assert [r["allowed"] for r in got.get_json()["results"]] == [True, False, False, True]
        body = {"actor": {"id": "pix4d-editor"}, "resource": DATASET}
        without = send("/v1/authorize/actions", body).get_json()["actions"]
        with_mfa = send("/v1/authorize/actions", {**body, "context": {"mfa": True}})
        assert "delete" not in without
        assert set(with_mfa.get_json()["actions"]) == set(without) | {"delete"}


def test_a_check_without_the_context_a_rule_needs_is_a_deny_with_its_reason(mfa_api):
    got = mfa_api.post("/v1/authorize", check("pix4d-editor", "delete", DATASET, explain=True))
    body = got.get_json()
    assert body["allowed"] is False
    assert body["explanation"]["reason"] == (
        "pix4d: deleting a dataset needs a check whose context says mfa"
    )
    explained = check("pix4d-editor", "delete", DATASET, explain=True, context={"mfa": True})
    assert mfa_api.post("/v1/authorize", explained).get_json()["allowed"] is True
    # A deny the roles give keeps the roles' explanation.
    reader = check("pix4d-reader", "delete", DATASET, explain=True, context={"mfa": True})
    body = mfa_api.post("/v1/authorize", reader).get_json()
    assert body["allowed"] is False
    assert "carries 'delete'" in body["explanation"]["reason"]


def test_checks_with_context_are_answered_on_the_fast_path(api, app, demo, monkeypatch):
    lean = app.wsgi_app  # routes/fastpath.py FastPath, in front of Flask
    handed = []
    downstream = lean.downstream

    def flask_app(environ, start_response):
        handed.append(environ["PATH_INFO"])
        return downstream(environ, start_response)

    monkeypatch.setattr(lean, "downstream", flask_app)
    office = {"ip": "203.0.113.7"}
    one = check("pix4d-owner", "edit_details", PIX4D, context=office)
    assert api.post("/v1/authorize", one).get_json()["allowed"] is True
    batch = api.post("/v1/authorize/batch", {"checks": [one, check("pix4d-owner", "view", PIX4D)]})
    assert [r["allowed"] for r in batch.get_json()["results"]] == [True, True]
    actions = {"actor": {"id": "pix4d-owner"}, "resource": PIX4D, "context": office}
    assert "edit_details" in api.post("/v1/authorize/actions", actions).get_json()["actions"]
    assert handed == []
    refused = api.post("/v1/authorize", {**one, "context": {"ip": "x"}})
    assert refused.status_code == 422
    assert handed == ["/v1/authorize"]  # a refusal is rendered by the Flask route


def test_a_context_name_no_answer_could_carry_is_refused_whole(api, demo):
    """A lone surrogate in a context attribute's name: a 422 naming the context, never the
    name (the answer stays valid JSON text, as the fuzzing test requires)."""
    body = {"checks": [{"actor": {"id": "pix4d-member"}, "action": "view"}]}
    body["checks"][0]["resource"] = {"type": "Dataset", "id": "pix4d-bridge-scan"}
    body["checks"][0]["context"] = {"\udc80": 1}
    response = api.post("/v1/authorize/batch", body)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    json.dumps(errors, ensure_ascii=False).encode("utf-8")  # no lone surrogate in the answer
    assert list(errors) == ["checks.0.context"]


def test_an_unknown_field_named_with_a_lone_surrogate_is_written_escaped(api, demo):
    body = {"checks": [{"actor": {"id": "pix4d-member"}, "action": "view", "\udc80": 1}]}
    body["checks"][0]["resource"] = {"type": "Dataset", "id": "pix4d-bridge-scan"}
    response = api.post("/v1/authorize/batch", body)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    json.dumps(errors, ensure_ascii=False).encode("utf-8")  # no lone surrogate in the answer
    assert "checks.0.\\udc80" in errors
