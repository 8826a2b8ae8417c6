"""The decision endpoints' fast path (routes/fastpath.py FastPath) answers as the Flask
routes do, with the same headers, metrics and decision-log lines, and leaves everything it
cannot answer exactly to them."""

import json
import threading

import pytest

from access.cache import CACHE

DATASET = {"type": "Dataset", "id": "pix4d-bridge-scan"}
PIX4D = {"type": "Organization", "id": "org-pix4d"}
CHECKS = [
    {"actor": {"id": "pix4d-member"}, "action": "view", "resource": DATASET},
    {"actor": {"id": "pix4d-member"}, "action": "upload", "resource": DATASET},
    {"actor": {"id": "pix4d-owner"}, "action": "edit_billing", "resource": PIX4D},
    {"actor": {"id": "ghost"}, "action": "view", "resource": PIX4D},
    {
        "actor": {"id": "pix4d-reader"},
        "action": "view",
        "resource": {"type": "Dataset", "id": "no"},
    },
    {
        "actor": {"id": "pix4d-reader"},
        "action": "use",
        "resource": {
            "type": "License",
            "id": "l-9",
            "org": "org-pix4d",
            "attributes": {"kind": "cloud"},
        },
    },
]


def without_ids(body: dict) -> dict:
    body = json.loads(json.dumps(body))
    for r in body.get("results", [body]):
        r.pop("decision_id", None)
    return body


def flask_route(api, path, body):
    """The same request through the Flask route: a valid X-Actor-Id sends it there."""
    return api.post(path, body, headers={"X-Actor-Id": "anyone"})


@pytest.mark.parametrize("check", CHECKS)
def test_the_fast_path_answers_as_the_route(api, demo, check):
    for _ in range(2):  # the second time from the worker's known answers
        fast = api.post("/v1/authorize", check)
        slow = flask_route(api, "/v1/authorize", check)
        assert fast.status_code == slow.status_code == 200
        assert without_ids(fast.get_json()) == without_ids(slow.get_json())
    batch = {"checks": CHECKS}
    fast = api.post("/v1/authorize/batch", batch)
    slow = flask_route(api, "/v1/authorize/batch", batch)
    assert without_ids(fast.get_json()) == without_ids(slow.get_json())
    body = {"actor": check["actor"], "resource": check["resource"]}
    fast = api.post("/v1/authorize/actions", body)
    assert fast.get_json() == flask_route(api, "/v1/authorize/actions", body).get_json()


def test_an_org_level_check_naming_no_org_is_a_known_answer(api, demo, monkeypatch):
    """An Organization is its own org: asked again, its answer is the worker's known one
    (no actor facts read, no policy asked), logged and counted as before."""
    from access.targets import TargetBuilder

    asked = []
    real = TargetBuilder.actor
    monkeypatch.setattr(
        TargetBuilder, "actor", lambda self, *a, **k: asked.append(a) or real(self, *a, **k)
    )
    first = api.post("/v1/authorize", CHECKS[2])
    assert len(asked) == 1
    again = api.post("/v1/authorize", CHECKS[2])
    assert len(asked) == 1  # the known answer
    assert without_ids(again.get_json()) == without_ids(first.get_json())
    assert again.get_json()["allowed"] is True
    assert again.get_json()["decision_id"] != first.get_json()["decision_id"]


def test_the_same_headers_as_the_route(api, demo):
    check = CHECKS[0]
    fast = api.post("/v1/authorize", check, headers={"X-Request-Id": "req-123"})
    slow = flask_route(api, "/v1/authorize", check)
    assert fast.headers["X-Request-Id"] == "req-123"
    for name in (
        "Content-Type",
        "X-Content-Type-Options",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    ):
        assert name in fast.headers and name in slow.headers, name
    assert fast.content_type == slow.content_type == "application/json"
    assert len(fast.headers["X-Request-Id"]) and len(slow.headers["X-Request-Id"]) == 32
    health = api.client.get("/healthz")
    assert health.status_code == 200 and health.get_json() == {"status": "ok"}
    assert health.headers["X-Content-Type-Options"] == "nosniff"
    assert len(health.headers["X-Request-Id"]) == 32


def test_the_decision_log_line_names_the_key_and_the_request(api, app, demo):
    from ops import decisionlog

    api.post("/v1/authorize", CHECKS[2], headers={"X-Request-Id": "fast-line"})
    decisionlog.flush()
    lines = [json.loads(x) for x in open(app.config["DECISION_LOG"]).read().splitlines()]
    mine = [x for x in lines if x.get("request_id") == "fast-line"]
    assert len(mine) == 1 and mine[0]["api_key"] == "tests" and mine[0]["allowed"] is True


def test_metrics_count_fast_answers(api, demo):
    def count():
        text = api.client.get("/metrics").get_data(as_text=True)
        for line in text.splitlines():
            if line.startswith("orgauthz_http_requests_total{") and 'route="/v1/authorize"' in line:
                if 'status="200"' in line:
                    return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = count()
    for _ in range(3):
        api.post("/v1/authorize", CHECKS[0])
    assert count() == before + 3


def test_what_it_cannot_answer_goes_to_the_route(api, app, demo):
    bad = api.post("/v1/authorize", {**CHECKS[0], "action": ""})
    assert bad.status_code == 422 and "action" in bad.get_json()["errors"]
    unknown_key = app.test_client().post(
        "/v1/authorize", json=CHECKS[0], headers={"Authorization": "Bearer oaz_nope"}
    )
    assert unknown_key.status_code == 401
    malformed = api.call(
        "POST", "/v1/authorize", data=b"{", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    explained = api.post("/v1/authorize", {**CHECKS[0], "explain": True})
    assert explained.status_code == 200 and "explanation" in explained.get_json()
    too_big = api.call(
        "POST",
        "/v1/authorize",
        data=b" " * (app.config["MAX_CONTENT_LENGTH"] + 1),
        headers={"Content-Type": "application/json"},
    )
    assert too_big.status_code == 413


# Bodies orjson (the fast path's parser) refuses or reads otherwise than the standard
# library, and the field a 422 names (None: a valid check). An integer past 64 bits is a float
# to orjson: near the size limit of ``context`` or ``attributes`` that is another answer.
STDLIB_ONLY = [
    (b"\xef\xbb\xbf" + json.dumps(CHECKS[0]).encode(), None),  # a UTF-8 byte order mark
    (json.dumps(CHECKS[0]).encode("utf-16"), None),
    (json.dumps({**CHECKS[0], "explain": float("nan")}).encode(), "explain"),
    (json.dumps({**CHECKS[0], "actor": {"id": 10**30}}).encode(), "actor.id"),  # past 64 bits
    (json.dumps({"checks": [{**CHECKS[0], "explain": float("inf")}]}).encode(), "checks"),
    (json.dumps({**CHECKS[0], "context": {"n": 10**300, "pad": "a" * 3900}}).encode(), "context"),
    (
        json.dumps(
            {
                **CHECKS[5],
                "resource": {
                    **CHECKS[5]["resource"],
                    "attributes": {"n": 10**300, "pad": "a" * 3900},
                },
            }
        ).encode(),
        "resource.attributes",
    ),
]
# The same, its key spelled with an escape: ``"\u0061ttributes"`` is "attributes" to both.
STDLIB_ONLY.append((STDLIB_ONLY[-1][0].replace(b'"attributes"', b'"\\u0061ttributes"'), "resource"))


@pytest.mark.parametrize(("raw", "field"), STDLIB_ONLY)
def test_a_body_the_fast_parser_refuses_is_answered_as_by_the_route(api, demo, raw, field):
    path = "/v1/authorize/batch" if b"checks" in raw else "/v1/authorize"
    sent = {"data": raw, "headers": {"Content-Type": "application/json"}}
    fast = api.call("POST", path, **sent)
    slow = api.call("POST", path, data=raw, headers={**sent["headers"], "X-Actor-Id": "anyone"})
    assert fast.status_code == slow.status_code
    assert without_ids(fast.get_json()) == without_ids(slow.get_json())
    if field is None:
        assert fast.status_code == 200 and fast.get_json()["allowed"] is True
    else:
        assert fast.status_code == 422
        assert any(name.startswith(field) for name in fast.get_json()["errors"])


def test_the_rate_limit_counts_once_and_runs_no_timer_thread(app, demo):
    from app import create_app
    from models import ApiKey, db
    from tests.conftest import Api

    limited = create_app({**app.config, "RATE_LIMIT": "3 per minute"})
    with db.connection_context():
        key = ApiKey.create_key("limited")
    api = Api(limited.test_client(), key)
    statuses = [api.post("/v1/authorize", CHECKS[0]).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = api.post("/v1/authorize", {**CHECKS[0], "action": ""})  # through the route
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert not [t for t in threading.enumerate() if isinstance(t, threading.Timer)]
    CACHE.clear()


def test_one_core_for_both_transports(api, app, demo, monkeypatch):
    """The lean transport parses with the core, schema included: a body only the schema
    takes is answered there; only a refusal is handed to the Flask route to render."""
    lean = app.wsgi_app  # routes/fastpath.py FastPath, in front of Flask
    handed = []
    downstream = lean.downstream

    def flask_app(environ, start_response):
        handed.append(environ["PATH_INFO"])
        return downstream(environ, start_response)

    monkeypatch.setattr(lean, "downstream", flask_app)
    loose = {**CHECKS[0], "explain": "false"}  # a string bool: the schema's to load
    answered = api.post("/v1/authorize", loose)
    assert answered.status_code == 200 and answered.get_json()["allowed"] is True
    assert handed == []
    refused = api.post("/v1/authorize", {**CHECKS[0], "action": ""})
    assert refused.status_code == 422 and "action" in refused.get_json()["errors"]
    assert handed == ["/v1/authorize"]
