"""The decision endpoints' fast path: a WSGI layer in front of Flask that answers the three
decision endpoints and ``/healthz`` with the same functions as the Flask routes of
routes/decisions.py (``_single``, ``_batch``, ``_actions``), without Flask's request
machinery. Anything it cannot answer exactly as the route would goes to the route."""

import io
import json
import logging
import time

from access.cache import CACHE, MISSING
from access.targets import TargetBuilder
from authz.engine import begin_work
from models import db, hash_secret
from ops import tracing
from ops.activity import ACTIVITY
from ops.metrics import LATENCY, REQUESTS
from routes import schemas
from routes.context import fast_context, key_scope
from routes.decisions import (
    ACCESS,
    _actions,
    _actions_refs,
    _batch,
    _batch_checks,
    _consistency,
    _fast,
    _single,
)

log = logging.getLogger("orgauthz.decisions")

ROUTES = {  # path: (endpoint, url rule, the decision)
    "/v1/authorize": ("decisions.authorize", "/v1/authorize", "single"),
    "/v1/authorize/batch": ("decisions.authorize_batch", "/v1/authorize/batch", "batch"),
    "/v1/authorize/actions": ("decisions.list_allowed_actions", "/v1/authorize/actions", "actions"),
}
_HEALTHZ = b'{"status":"ok"}\n'


class FastPath:
    """WSGI in front of the Flask app: answers ``POST`` to the three decision endpoints, and
    ``GET /healthz``, without Flask's request machinery (request and app contexts, routing,
    request and response objects, nine hooks), which costs more than the decision itself.

    It does what the hooks do for these requests (request id, API key, rate limit, the
    facts' freshness, metrics, access log, security headers, returning the connection) and
    answers only what it can answer exactly as the Flask route would: a body in the
    canonical form from a key the worker already knows, with no ``X-Actor-Id``, within the
    rate limit. Anything else, or any exception, goes to the Flask route with the body as
    read, so every error is rendered by the one error handler (routes/errors.py); what the
    fast path already settled (the rate-limit count, the facts) is handed over in the
    WSGI environ, not done twice."""

    def __init__(self, app, downstream):
        self.downstream = downstream
        self.max_body = app.config.get("MAX_CONTENT_LENGTH") or 0
        self.clock = app.config["CLOCK"]
        self.flush = float(app.config["LAST_ACTIVE_FLUSH_SECONDS"])
        self.holder = app.extensions["orgauthz.policy"]
        self.limiter = app.extensions["orgauthz.limiter"]
        self.children: dict = {}

    def __call__(self, environ, start_response):
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if method == "GET" and path == "/healthz":
            return self._healthz(environ, start_response)
        begin_work()  # the request's work budget counts from here (_within_budget)
        route = ROUTES.get(path) if method == "POST" else None
        length = environ.get("CONTENT_LENGTH")
        if (
            route is None
            or not length
            or not length.isdigit()
            or "HTTP_TRANSFER_ENCODING" in environ
            or "HTTP_X_ACTOR_ID" in environ
            or (self.max_body and int(length) > self.max_body)
        ):
            return self.downstream(environ, start_response)
        started = time.perf_counter()
        raw = environ["wsgi.input"].read(int(length))
        answer = None
        if len(raw) == int(length):
            try:
                answer = self._serve(route, raw, environ, started)
            except Exception:  # noqa: BLE001 -- the Flask route answers (and renders it)
                log.debug("fast path declined %s", path, exc_info=True)
        if answer is None:
            environ["wsgi.input"] = io.BytesIO(raw)
            environ["CONTENT_LENGTH"] = str(len(raw))
            environ.pop("wsgi.input_terminated", None)
            return self.downstream(environ, start_response)
        status, headers, payload = answer
        start_response(status, headers)
        return [payload]

    def _serve(self, route, raw: bytes, environ, started: float):
        endpoint, rule, kind = route
        if tracing.ON:
            tracing.route(rule, environ.get("HTTP_X_REQUEST_ID"))
        body = json.loads(raw)
        if type(body) is not dict:
            return None
        mode, position = "minimize_latency", None
        if "consistency" in body:
            mode, position = _consistency(body.pop("consistency"))  # DomainError: declined
        scheme, _, key = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return None
        facts = CACHE.view(mode, position)  # UnknownToken: declined
        environ["orgauthz.facts"] = facts
        name = facts.key(hash_secret(key))
        if name is MISSING or name is None:  # the Flask route reads the key (and answers 401)
            return None
        state = self.limiter.hit(name, endpoint)
        environ["orgauthz.rate_limit"] = state
        if not state[0]:
            return None  # the Flask route answers the 429
        request_id = schemas.request_id(environ.get("HTTP_X_REQUEST_ID"))
        fast_context({"api_key": name, "request_id": request_id})
        _fast.clock = self.clock
        try:
            snapshot, builder, mark = self.holder.current, TargetBuilder(facts), self._mark
            builder.scope = key_scope(name)
            if kind == "single":
                text = _single(body, snapshot, builder, mark)
            elif kind == "batch":
                checks = _batch_checks(body)
                text = _batch(checks, snapshot, builder, mark) if checks else None
            else:
                refs = _actions_refs(body)
                text = json.dumps(_actions(*refs, snapshot, builder, mark)) if refs else None
        finally:
            fast_context(None)
            _fast.clock = None
            if not db.is_closed():
                db.close()
        if text is None:
            return None
        payload = text.encode()
        _, limit, remaining, reset = state
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            ("X-Request-Id", request_id),
            ("X-Content-Type-Options", "nosniff"),
            ("X-RateLimit-Limit", str(limit)),
            ("X-RateLimit-Remaining", str(max(remaining, 0))),
            ("X-RateLimit-Reset", str(int(reset))),
            ("X-Decided-By", facts.source),
        ]
        self._observed(rule, "POST", started, request_id, name)
        return "200 OK", headers, payload

    def _healthz(self, environ, start_response):
        started = time.perf_counter()
        request_id = schemas.request_id(environ.get("HTTP_X_REQUEST_ID"))
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(_HEALTHZ))),
                ("X-Request-Id", request_id),
                ("X-Content-Type-Options", "nosniff"),
            ],
        )
        self._observed("/healthz", "GET", started, request_id, None)
        return [_HEALTHZ]

    def _mark(self, actors) -> None:
        now = self.clock()
        for actor in actors:
            ACTIVITY.mark(actor, now, self.flush)

    def _observed(self, rule: str, method: str, started: float, request_id, api_key) -> None:
        """The metrics and the access-log line the Flask hooks would write."""
        children = self.children.get(rule)
        if children is None:
            children = self.children[rule] = (
                REQUESTS.labels(rule, method, 200),
                LATENCY.labels(rule),
            )
        duration = time.perf_counter() - started
        children[0].inc()
        children[1].observe(duration)
        if ACCESS.isEnabledFor(logging.INFO):
            ACCESS.info(
                {
                    "request_id": request_id,
                    "api_key": api_key,
                    "method": method,
                    "route": rule,
                    "status": 200,
                    "duration_ms": round(duration * 1000, 3),
                }
            )
