"""OpenTelemetry traces (ops/tracing.py), captured by the SDK's in-memory exporter: the spans
of an invite and of an authorize (fast path and Flask route), a caller's ``traceparent``
continued, a webhook delivery carrying the trace of the request that made its event, and
nothing at all with tracing off."""

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from werkzeug.test import EnvironBuilder

from access import webhooks
from models import db
from ops import tracing
from tests.support import org_with

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"


@pytest.fixture
def spans():
    """Tracing on, into memory. A test names it before ``api``: the app installs its
    request layer only when tracing is on as it is built, as ``create_app`` does after
    ``tracing.setup()`` in a server."""
    exporter = InMemorySpanExporter()
    tracing.setup(exporter)
    yield exporter
    tracing.shutdown()


@pytest.fixture
def org(api):
    org_with("org-t", "pix4d", {"olivia": "owner", "max": "manager"})
    return "org-t"


def by_name(exporter, name):
    return [s for s in exporter.get_finished_spans() if s.name == name]


def parent_of(span, exporter):
    wanted = span.parent.span_id if span.parent else None
    return next((s for s in exporter.get_finished_spans() if s.context.span_id == wanted), None)


def server_span(exporter, response):
    response.get_data()  # the body sent: the request's span has ended
    (found,) = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    return found


def test_an_authorize_is_a_server_span_with_its_decision_and_fact_reads(spans, api, org):
    body = {
        "actor": {"id": "max"},
        "action": "view",
        "resource": {"type": "Organization", "id": org},
    }
    from access.cache import CACHE

    for path in ("fast", "flask"):
        spans.clear()
        CACHE.clear()  # decided on each path, not the first path's known answer
        # X-Actor-Id sends the request past the fast path, to the Flask route
        response = api.post("/v1/authorize", body, actor="max" if path == "flask" else None)
        assert response.status_code == 200, response.get_json()
        server = server_span(spans, response)
        assert server.name == "POST /v1/authorize", path
        assert server.attributes["http.request.method"] == "POST"
        assert server.attributes["http.route"] == "/v1/authorize"
        assert server.attributes["http.response.status_code"] == 200
        (decision,) = by_name(spans, "orgauthz.decision")
        assert parent_of(decision, spans) is server
        assert decision.attributes["orgauthz.style"] == "pix4d"
        assert decision.attributes["orgauthz.action"] == "view"
        assert decision.attributes["orgauthz.allowed"] is True
        assert decision.attributes["orgauthz.cached"] is False
        assert decision.attributes["orgauthz.decision_id"] == response.get_json()["decision_id"]


def test_a_known_answer_is_a_cached_decision(spans, api, demo):
    resource = {"type": "Dataset", "id": "pix4d-bridge-scan", "org": "org-pix4d"}
    body = {"actor": {"id": "pix4d-member"}, "action": "view", "resource": resource}
    for cached in (False, True):  # the second time from the worker's known answers
        spans.clear()
        response = api.post("/v1/authorize", body)
        assert response.get_json()["allowed"] is True
        (decision,) = by_name(spans, "orgauthz.decision")
        assert decision.attributes["orgauthz.cached"] is cached
        assert decision.attributes["orgauthz.allowed"] is True
        assert decision.attributes["orgauthz.style"] == "pix4d"
        assert parent_of(decision, spans) is server_span(spans, response)


def test_a_cold_decision_reads_its_facts_in_spans_of_their_source(spans, api, org, backend):
    from access.cache import CACHE

    CACHE.clear()
    body = {
        "actor": {"id": "max"},
        "action": "view",
        "resource": {"type": "Organization", "id": org},
    }
    response = api.post("/v1/authorize", body)
    assert response.status_code == 200
    server = server_span(spans, response)
    reads = by_name(spans, "orgauthz.facts.read")
    assert reads, [s.name for s in spans.get_finished_spans()]
    for read in reads:
        assert read.attributes["db.system"] == ("postgresql" if backend == "postgres" else "sqlite")
        assert read.attributes["orgauthz.facts.source"] == "primary"
        assert read.context.trace_id == server.context.trace_id
        assert parent_of(read, spans).name in ("orgauthz.decision", server.name)


def test_an_invite_is_a_unit_of_work_with_its_decisions(spans, api, org):
    invite = {"invitations": [{"email": "new@example.com", "role": "reader"}]}
    response = api.post(f"/v1/orgs/{org}/invitations", invite, actor="max")
    assert response.status_code in (200, 201), response.get_json()
    server = server_span(spans, response)
    assert server.name == "POST /v1/orgs/<org_id>/invitations"
    assert server.attributes["http.response.status_code"] == response.status_code
    (unit,) = by_name(spans, "orgauthz.unit_of_work")
    assert parent_of(unit, spans) is server
    assert unit.attributes["orgauthz.org"] == org
    decisions = by_name(spans, "orgauthz.decision")
    assert decisions
    assert all(parent_of(d, spans) is unit for d in decisions)
    assert {d.attributes["orgauthz.style"] for d in decisions} == {"pix4d"}
    assert all(d.attributes["orgauthz.allowed"] for d in decisions)
    assert all(parent_of(r, spans) is not None for r in by_name(spans, "orgauthz.facts.read"))


def test_a_callers_traceparent_is_continued(spans, api, org):
    body = {
        "actor": {"id": "max"},
        "action": "view",
        "resource": {"type": "Organization", "id": org},
    }
    for actor in (None, "max"):  # the fast path and the Flask route
        spans.clear()
        response = api.post(
            "/v1/authorize", body, actor=actor, headers={"traceparent": TRACEPARENT}
        )
        assert response.status_code == 200
        server = server_span(spans, response)
        assert format(server.context.trace_id, "032x") == CALLER_TRACE
        assert server.parent is not None and server.parent.is_remote
        assert format(server.parent.span_id, "016x") == CALLER_SPAN
        assert all(
            format(s.context.trace_id, "032x") == CALLER_TRACE for s in spans.get_finished_spans()
        )


def test_a_webhook_delivery_carries_the_trace_that_made_its_event(spans, api, org, clock):
    webhooks.configure({"WEBHOOK_ALLOW_PRIVATE": True})
    try:
        hook = api.post("/v1/webhooks", {"url": "http://127.0.0.1:9/hook", "types": []})
        assert hook.status_code == 201, hook.get_json()
        spans.clear()
        invite = {"invitations": [{"email": "new@example.com", "role": "reader"}]}
        made = api.post(
            f"/v1/orgs/{org}/invitations", invite, actor="max", headers={"traceparent": TRACEPARENT}
        )
        assert made.status_code in (200, 201)
        made.get_data()
        (unit,) = by_name(spans, "orgauthz.unit_of_work")
        sent = []

        def poster(url, addresses, body, headers, timeout):
            sent.append(dict(headers))
            return 200

        with db.connection_context():
            webhooks.dispatch(clock())
            webhooks.deliver_due("test", clock(), poster)
    finally:
        webhooks.configure({})
    assert sent
    (delivery,) = by_name(spans, "orgauthz.webhook.delivery")
    assert delivery.kind is SpanKind.CLIENT
    assert delivery.context.trace_id == unit.context.trace_id
    assert delivery.parent.span_id == unit.context.span_id
    assert delivery.attributes["http.response.status_code"] == 200
    version, trace_id, span_id, flags = sent[0]["traceparent"].split("-")
    assert trace_id == CALLER_TRACE
    assert span_id == format(delivery.context.span_id, "016x")


def test_off_nothing_is_traced_and_the_helpers_do_nothing(api, org, monkeypatch):
    tracing.shutdown()
    assert tracing.ON is False
    assert tracing.span("x") is tracing.NOOP
    assert tracing.delivery(1, {}) is tracing.NOOP
    assert tracing.enter("x") is None
    headers: dict = {}
    with tracing.delivery(1, headers) as noop:
        noop.set_attribute("a", 1)
    assert headers == {}

    def traced(*args, **kwargs):
        raise AssertionError("a tracing helper was called with tracing off")

    for name in ("span", "enter", "decision", "decided", "route", "fact_read", "remember"):
        monkeypatch.setattr(tracing, name, traced)
    body = {
        "actor": {"id": "max"},
        "action": "view",
        "resource": {"type": "Organization", "id": org},
    }
    for actor in (None, "max"):  # the fast path and the Flask route
        answer = api.post("/v1/authorize", body, actor=actor, headers={"traceparent": TRACEPARENT})
        assert answer.get_json()["allowed"] is True
    invite = {"invitations": [{"email": "new@example.com", "role": "reader"}]}
    made = api.post(f"/v1/orgs/{org}/invitations", invite, actor="max")
    assert made.status_code in (200, 201), made.get_json()
    # the request's layer hands the app's own answer through, nothing wrapped around it
    environ = EnvironBuilder(path="/healthz").get_environ()
    assert not isinstance(
        api.client.application.wsgi_app(environ, lambda *a: None), tracing._Closing
    )


@pytest.mark.parametrize(
    "environ, names",
    [
        ({}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "console"}, ["console"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, []),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "TRUE"}, []),
    ],
)
def test_the_otel_variables_turn_it_on(environ, names):
    assert tracing.exporter_names(environ) == names


def test_an_exporter_that_is_not_installed_is_a_configuration_error():
    with pytest.raises(tracing.ConfigError, match="zipkin"):
        tracing.setup(environ={"OTEL_TRACES_EXPORTER": "zipkin"})
    with pytest.raises(tracing.ConfigError, match="grpc"):
        tracing.setup(
            environ={"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
        )
    assert tracing.ON is False
    assert tracing.setup(environ={}) is False
