"""What an operator sees: OpenAPI, docs, JSON request logs, request ids, security headers,
rate limits, and hostile bodies refused without a 500."""

import json
import logging

import pytest

from app import create_app
from models import ApiKey, db
from tests.conftest import Api

CHECK = {
    "actor": {"id": "pix4d-owner"},
    "action": "view",
    "resource": {"type": "Organization", "id": "org-pix4d"},
}


def test_openapi_document_is_3_1_and_names_every_route(app, api):
    doc = api.get("/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    routes = {
        r.rule.replace("<", "{").replace(">", "}")
        for r in app.url_map.iter_rules()
        if r.endpoint != "static" and not r.rule.startswith("/docs/")
    }
    documented = {p for p in doc["paths"]}
    assert {r.split(":")[-1] if ":" in r else r for r in routes} - documented == set() or len(
        documented
    ) >= len(routes) - 1
    authorize = doc["paths"]["/v1/authorize"]["post"]
    body = authorize["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/AuthorizeRequest"}
    assert {"actor", "action", "resource"} <= set(
        doc["components"]["schemas"]["AuthorizeRequest"]["required"]
    )
    assert "422" in authorize["responses"] and authorize["security"] == [{"bearer": []}]


def test_docs_page_is_served_from_the_package(app):
    client = app.test_client()
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text
    assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'self'
    assert page.headers["X-Frame-Options"] == "DENY"
    asset = client.get("/docs/static/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000


def test_one_json_log_line_per_request_with_the_request_id(api, demo, caplog):
    with caplog.at_level(logging.INFO, logger="orgauthz.access"):
        response = api.post("/v1/authorize", CHECK, headers={"X-Request-Id": "trace-123"})
    assert response.headers["X-Request-Id"] == "trace-123"
    lines = [r.msg for r in caplog.records if r.name == "orgauthz.access"]
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == "trace-123" and line["api_key"] == "tests"
    assert line["route"] == "/v1/authorize" and line["status"] == 200 and line["duration_ms"] >= 0
    from ops.logs import JsonFormatter

    formatted = json.loads(JsonFormatter().format(caplog.records[-1]))
    assert formatted["request_id"] == "trace-123" and formatted["logger"] == "orgauthz.access"
    generated = api.post("/v1/authorize", CHECK)
    assert len(generated.headers["X-Request-Id"]) == 32


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_rate_limit_is_per_key(app, demo):
    limited = create_app({**app.config, "RATE_LIMIT": "3 per minute"})
    with db.connection_context():
        one, two = ApiKey.create_key("one"), ApiKey.create_key("two")
    a, b = Api(limited.test_client(), one), Api(limited.test_client(), two)
    assert [a.post("/v1/authorize", CHECK).status_code for _ in range(4)] == [200, 200, 200, 429]
    refused = a.post("/v1/authorize", CHECK)
    assert (
        refused.content_type == "application/problem+json" and refused.get_json()["status"] == 429
    )
    assert b.post("/v1/authorize", CHECK).status_code == 200  # another key has its own budget
    assert limited.test_client().get("/healthz").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 50_000 + b"]" * 50_000,
        b'{"actor": ' + b'{"a": ' * 5_000 + b"1" + b"}" * 5_000 + b"}",
        json.dumps(
            {
                "actor": {"id": "a"},
                "action": "view",
                "resource": {
                    "type": "Dataset",
                    "id": "x",
                    "org": "org-pix4d",
                    "attributes": json.loads("[" * 40 + "]" * 40),
                },
            }
        ).encode(),
    ],
)
def test_deeply_nested_bodies_are_refused_without_a_500(api, demo, body):
    response = api.call(
        "POST", "/v1/authorize", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert response.content_type == "application/problem+json"


def test_no_stack_trace_in_responses(api, demo, monkeypatch):
    import routes.core

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(routes.core, "answer", broken)
    response = api.post("/v1/authorize", CHECK)
    assert response.status_code == 500
    assert "secret internals" not in response.text and "Traceback" not in response.text


def test_an_engine_exception_is_a_deny_and_is_counted(api, demo, app, monkeypatch):
    engine = app.extensions["orgauthz.policy"].current.engine("pix4d")

    def explode(*args, **kwargs):
        raise RuntimeError("engine failure")

    monkeypatch.setattr(engine, "is_allowed", explode)
    before = _metric(api, "orgauthz_decision_errors_total")
    body = api.post("/v1/authorize", CHECK).get_json()
    assert body["allowed"] is False
    assert _metric(api, "orgauthz_decision_errors_total") == before + 1


def _metric(api, name):
    text = api.get("/metrics").get_data(as_text=True)
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith(name + " ") or line.startswith(name + "{")
    )
