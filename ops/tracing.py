"""OpenTelemetry traces: off unless the standard ``OTEL_*`` variables turn them on.

On when ``OTEL_TRACES_EXPORTER`` names an exporter other than ``none``, or when it is unset
and ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; never
when ``OTEL_SDK_DISABLED`` is ``true``. ``otlp`` (the default name) is OTLP over HTTP with
protobuf, the one protocol installed (``OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL`` may say
``http/protobuf`` only); ``console`` prints spans; another name is looked up among the
installed ``opentelemetry_traces_exporter`` entry points, as the SDK's own configurator does.
The rest is the SDK's: the exporter reads its endpoint, headers, timeout and compression,
the batch processor ``OTEL_BSP_*``, the provider ``OTEL_TRACES_SAMPLER[_ARG]`` and the
resource ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES`` (``service.name`` is
``orgauthz`` unless they name one); ``OTEL_PROPAGATORS`` picks the propagators (W3C
``traceparent`` and baggage by default). An exporter name that is not installed stops
startup (``ConfigError``).

Spans (all children of the request's, which continues the caller's ``traceparent``):

    GET /v1/orgs/<org_id>   server span of every request (``WSGI``, the fast path too):
                            http.request.method, http.route, http.response.status_code
    orgauthz.decision       each decision: orgauthz.style, .action, .allowed, .cached (from
                            the worker's known answers), .decision_id, .policy_version
    orgauthz.unit_of_work   each write's transaction (access/uow.py): orgauthz.org
    orgauthz.facts.read     each read of facts (access/cache.py): db.system,
                            orgauthz.facts.source (primary or replica), server.address
    orgauthz.webhook.delivery  each delivery attempt (access/webhooks.py), a client span whose
                            context goes out in the request's ``traceparent`` header

A webhook is delivered later, by the outbox worker: the attempt's span is a child of the
unit of work that recorded the event (``remember``, in ``UnitOfWork.audit``), so the
receiver's ``traceparent`` names the trace of the request that made the change, on every
attempt. That context is kept in this process's memory only (the last ``REMEMBERED``
events; no column holds it): an event delivered by another worker process, or after a
restart, starts a trace of its own, with ``orgauthz.event_id`` and ``orgauthz.request_id``
(the event's, also in its body) to find the request by.

Off, nothing here costs a decision anything: callers test the module-level ``ON`` before
calling in (one global read), and every helper returns the shared no-op ``NOOP`` at once.
"""

import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.context import attach, detach
from opentelemetry.propagate import extract, inject
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    Tracer,
    get_current_span,
    set_span_in_context,
)


class ConfigError(ValueError):
    """An ``OTEL_*`` variable that asks for what is not installed."""


ON = False  # tracing configured: every caller tests this before calling in
_tracer: Tracer | None = None
_provider: TracerProvider | None = None

REMEMBERED = 10_000  # events whose originating span context this process keeps
_events: "OrderedDict[int, SpanContext]" = OrderedDict()
_events_lock = threading.Lock()


class _Noop:
    """What every helper gives while tracing is off: a context manager and span that does
    nothing."""

    __slots__ = ()

    def __enter__(self) -> "_Noop":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def set_attribute(self, key: str, value: object) -> None:
        pass


NOOP = _Noop()


# ---------------------------------------------------------------- configuration
def exporter_names(environ: Mapping[str, str]) -> list[str]:
    """The span exporters the environment asks for; empty: tracing off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = environ.get("OTEL_TRACES_EXPORTER", "").strip()
    if not names:
        endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or environ.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        return ["otlp"] if endpoint else []
    return [n.strip() for n in names.split(",") if n.strip() and n.strip().lower() != "none"]


def _exporter(name: str, environ: Mapping[str, str]) -> SpanExporter:
    if name in ("otlp", "otlp_proto_http"):
        protocol = (
            environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
            or "http/protobuf"
        ).strip()
        if protocol != "http/protobuf":
            raise ConfigError(
                f"OTEL_EXPORTER_OTLP_PROTOCOL {protocol!r}: only http/protobuf is installed"
            )
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    from importlib.metadata import entry_points

    found = entry_points(group="opentelemetry_traces_exporter", name=name)
    if not found:
        raise ConfigError(f"OTEL_TRACES_EXPORTER: no span exporter {name!r} is installed")
    exporter = next(iter(found)).load()()
    if not isinstance(exporter, SpanExporter):
        raise ConfigError(f"OTEL_TRACES_EXPORTER: {name!r} is not a span exporter")
    return exporter


def setup(exporter: SpanExporter | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """Turn tracing on, and return whether it is. ``exporter`` (tests: the SDK's
    InMemorySpanExporter) gets each span as it ends; without one the exporters come from the
    ``OTEL_*`` variables (``environ``, by default the process's), batched, and with none
    configured tracing stays off. Once on, a second call without an exporter changes
    nothing (every app the process builds shares it). Raises ConfigError."""
    global ON, _tracer, _provider
    environ = os.environ if environ is None else environ
    if exporter is None:
        if ON:
            return True
        names = exporter_names(environ)
        if not names:
            return False
        processors: list = [BatchSpanProcessor(_exporter(n, environ)) for n in names]
    else:
        shutdown()
        processors = [SimpleSpanProcessor(exporter)]
    resource = Resource.create()
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": "orgauthz"}))
    provider = TracerProvider(resource=resource)
    for processor in processors:
        provider.add_span_processor(processor)
    _provider, _tracer = provider, provider.get_tracer("orgauthz")
    ON = True
    return True


def shutdown() -> None:
    """Flush and stop the exporters; tracing is off after it."""
    global ON, _tracer, _provider
    ON = False
    provider, _provider, _tracer = _provider, None, None
    with _events_lock:
        _events.clear()
    if provider is not None:
        provider.shutdown()


# ---------------------------------------------------------------- spans
def span(name: str, attributes: dict | None = None, kind: SpanKind = SpanKind.INTERNAL) -> Any:
    """A context manager: a span named ``name``, current inside it (its children nest in
    it); an exception leaving it is recorded. NOOP when tracing is off."""
    tracer = _tracer
    if tracer is None:
        return NOOP
    return tracer.start_as_current_span(name, kind=kind, attributes=attributes)


def enter(name: str, attributes: dict | None = None) -> Any:
    """Start a span and make it current until ``leave(handle)``: for what opens and closes
    in two methods (a unit of work's ``__enter__``/``__exit__``). None when off."""
    tracer = _tracer
    if tracer is None:
        return None
    started = tracer.start_span(name, attributes=attributes)
    return started, attach(set_span_in_context(started))


def leave(handle: Any, error: BaseException | None = None) -> None:
    """End what ``enter`` started (``error``: the exception that left it)."""
    if handle is None:
        return
    started, token = handle
    if error is not None:
        started.record_exception(error)
        started.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}"))
    detach(token)
    started.end()


def decided(current: Any, action: str, target: Any, decision: Any, cached: bool = False) -> None:
    """Set a decision's attributes on ``current`` (the decision's span)."""
    org = getattr(target, "org", None)
    style = getattr(org, "style", None)
    if style is not None:
        current.set_attribute("orgauthz.style", style)
    current.set_attribute("orgauthz.action", action)
    current.set_attribute("orgauthz.allowed", decision.allowed)
    current.set_attribute("orgauthz.cached", cached)
    current.set_attribute("orgauthz.decision_id", decision.decision_id)
    current.set_attribute("orgauthz.policy_version", decision.policy_version)


def decision(action: str, target: Any, answer: Any, cached: bool) -> None:
    """One span for a decision made without work to time (an answer the worker knew, each
    action of an ``allowed_actions``)."""
    with span("orgauthz.decision") as current:
        decided(current, action, target, answer, cached)


def route(rule: Any, request_id: str | None = None) -> None:
    """Name the request's server span by its route (a Flask ``url_rule``, or the fast
    path's rule text)."""
    current = get_current_span()
    if not current.is_recording():
        return
    if request_id:
        current.set_attribute("orgauthz.request_id", request_id)
    text = getattr(rule, "rule", rule)
    if isinstance(text, str):
        current.set_attribute("http.route", text)
        method = getattr(current, "attributes", {}).get("http.request.method", "")
        current.update_name(f"{method} {text}".strip())


def fact_read(source: str, system: str) -> None:
    """Set a fact read's attributes on the current span (``source``: Facts.source)."""
    current = get_current_span()
    replica = source.startswith("replica")
    current.set_attribute("db.system", system)
    current.set_attribute("orgauthz.facts.source", "replica" if replica else "primary")
    if replica:
        current.set_attribute("server.address", source.partition(":")[2])


# ---------------------------------------------------------------- events and webhooks
def remember(position: int) -> None:
    """Keep the current span's context as the origin of the event at ``position``."""
    context = get_current_span().get_span_context()
    if not context.is_valid:
        return
    with _events_lock:
        _events[position] = context
        while len(_events) > REMEMBERED:
            _events.popitem(last=False)


def delivery(position: int, headers: dict, request_id: str | None = None) -> Any:
    """A client span for one webhook delivery attempt of the event at ``position``, child of
    the span that recorded the event when this process remembers it; its context is added
    to ``headers`` (``traceparent``). NOOP when off."""
    tracer = _tracer
    if tracer is None:
        return NOOP
    with _events_lock:
        origin = _events.get(position)
    parent = set_span_in_context(NonRecordingSpan(origin)) if origin is not None else None
    attributes: dict = {"http.request.method": "POST", "orgauthz.event_id": str(position)}
    if request_id:
        attributes["orgauthz.request_id"] = request_id
    return _Delivery(
        tracer.start_as_current_span(
            "orgauthz.webhook.delivery", parent, SpanKind.CLIENT, attributes
        ),
        headers,
    )


class _Delivery:
    """The delivery span, current while the request is sent, its context in the headers."""

    def __init__(self, manager: Any, headers: dict) -> None:
        self.manager, self.headers = manager, headers

    def __enter__(self) -> Any:
        started = self.manager.__enter__()
        inject(self.headers)
        return started

    def __exit__(self, *exc: Any) -> Any:
        return self.manager.__exit__(*exc)


# ---------------------------------------------------------------- the request's span
class _EnvironGetter(Getter):
    """Reads propagation headers (``traceparent``) from a WSGI environ."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        value = carrier.get("HTTP_" + key.upper().replace("-", "_"))
        return [value] if isinstance(value, str) else None

    def keys(self, carrier: Any) -> list[str]:
        return [k[5:].lower().replace("_", "-") for k in carrier if k.startswith("HTTP_")]


_GETTER = _EnvironGetter()


class WSGI:
    """The outermost WSGI layer: a server span per request, continuing the caller's trace
    (``traceparent``), current while the app answers, ended when the answer is closed.
    Off, it only calls the app."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Any) -> Iterable[bytes]:
        tracer = _tracer
        if tracer is None:
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "")
        current = tracer.start_span(
            method,
            extract(environ, getter=_GETTER),
            SpanKind.SERVER,
            {"http.request.method": method, "url.path": environ.get("PATH_INFO", "")},
        )

        def start(status: str, headers: list, exc_info: Any = None) -> Any:
            code = int(status[:3]) if status[:3].isdigit() else 0
            current.set_attribute("http.response.status_code", code)
            if code >= 500:
                current.set_status(Status(StatusCode.ERROR))
            return start_response(status, headers, exc_info)

        token = attach(set_span_in_context(current))
        try:
            body = self.app(environ, start)
        except BaseException as exc:
            current.record_exception(exc)
            current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            current.end()
            raise
        finally:
            detach(token)
        return _Closing(body, current)


class _Closing:
    """A response body that ends the request's span once the server has sent it all, or
    closes it, whichever comes first."""

    def __init__(self, body: Iterable[bytes], current: Any) -> None:
        self.body, self.current, self.open = body, current, True

    def __iter__(self) -> Any:
        yield from self.body
        self._end()

    def _end(self) -> None:
        if self.open:
            self.open = False
            self.current.end()

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self._end()
