"""The decision endpoints' lean transport: a WSGI layer in front of Flask that answers the
three decision endpoints and ``GET /healthz`` without Flask's request machinery (request
and app contexts, routing, request and response objects, nine hooks), which costs more than
the decision itself.

It is a transport only: the request is parsed, decided and answered by routes/core.py (the
functions the Flask routes call), and what every request gets (request id, rate limit,
security headers, metrics, access log) is written once in routes/edge.py and
routes/limiter.py, called by the Flask hooks too. It answers what comes out as a 200; a
refusal (a bad body, a bad key, the rate limit, the budget), any exception, or a request it
does not take (``X-Actor-Id``, no ``Content-Length``, a body over the limit) goes to the
Flask route with the body as read, so every error is rendered by the one error handler
(routes/errors.py); what was settled here (the rate-limit count, the facts) is handed over
in the WSGI environ, not done twice.

The body is parsed by orjson where that reads it as the standard library's parser does: a
batch's hundred checks in about half the time (bench/FINDINGS.md). orjson reads an integer
past 64 bits as a float; numbers reach a decision only in a resource's ``attributes`` and a
check's ``context`` (every other field refuses every number alike), so a body naming either,
or holding a backslash (an escape may spell them), is parsed by the standard library. What
orjson refuses and the standard library reads (``NaN``, a byte order mark, UTF-16) goes to
the Flask route like any other body this path declines, and is answered as before.
"""

import io
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from flask import Flask

from access.targets import TargetBuilder
from authz.engine import begin_work
from models import db
from routes import core, edge, limiter
from routes.context import fast_context, key_of, key_scope

log = logging.getLogger("orgauthz.decisions")

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict, StartResponse], Iterable[bytes]]
Answer = tuple[str, list[tuple[str, str]], bytes]

ROUTES = {  # path: (endpoint, url rule, the decision)
    "/v1/authorize": ("decisions.authorize", "/v1/authorize", core.single),
    "/v1/authorize/batch": ("decisions.authorize_batch", "/v1/authorize/batch", core.batch),
    "/v1/authorize/actions": (
        "decisions.list_allowed_actions",
        "/v1/authorize/actions",
        core.actions,
    ),
}
_HEALTHZ = b'{"status":"ok"}\n'


def parsed(raw: bytes) -> Any:
    """``raw`` as ``json.loads`` reads it (orjson where it reads the same; module docstring).
    Raises what either parser raises on a body it refuses."""
    if b"\\" in raw or b"context" in raw or b"attributes" in raw:
        return json.loads(raw)
    return orjson.loads(raw)


class FastPath:
    """WSGI in front of the Flask app (``downstream``): ``POST`` to the three decision
    endpoints, and ``GET /healthz``."""

    def __init__(self, app: Flask, downstream: WSGIApp) -> None:
        self.downstream = downstream
        self.max_body = app.config.get("MAX_CONTENT_LENGTH") or 0
        self.config = app.config
        self.holder = app.extensions["orgauthz.policy"]
        self.limiter = app.extensions["orgauthz.limiter"]

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if method == "GET" and path == "/healthz":
            return self._healthz(environ, start_response)
        begin_work()  # the request's work budget counts from here (core._within_budget)
        route = ROUTES.get(path) if method == "POST" else None  # type: ignore[arg-type]
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
        raw = environ["wsgi.input"].read(int(length))
        answer = None
        if len(raw) == int(length):
            try:
                answer = self._serve(route, raw, environ)
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

    def _serve(self, route: tuple, raw: bytes, environ: dict) -> Answer | None:
        endpoint, rule, decide = route
        started, rid = edge.opened(rule, environ.get("HTTP_X_REQUEST_ID"))
        body = parsed(raw)
        if type(body) is not dict:
            return None
        try:
            facts = environ["orgauthz.facts"] = core.facts_at(*core.freshness(body))
            name = key_of(environ.get("HTTP_AUTHORIZATION", ""), facts)
            state = limiter.count(self.limiter, environ, name, endpoint)
            if not state[0]:
                return None  # the Flask route answers the 429
            fast_context({"api_key": name, "request_id": rid})
            builder = TargetBuilder(facts)
            builder.scope = key_scope(name)
            text = decide(body, core.Call(self.holder.current, builder, self.config["CLOCK"]))
        finally:
            fast_context(None)
            database = db.obj  # (not through the proxy: twice per request)
            if not database.is_closed():
                database.close()
        payload = text.encode()
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            *edge.headers(rid),
            *limiter.header_pairs(state),
            ("X-Decided-By", facts.source),
        ]
        edge.closed(rule, "POST", 200, started, rid, name)
        return "200 OK", headers, payload

    def _healthz(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        started, rid = edge.opened("/healthz", environ.get("HTTP_X_REQUEST_ID"))
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(_HEALTHZ))),
                *edge.headers(rid),
            ],
        )
        edge.closed("/healthz", "GET", 200, started, rid, None)
        return [_HEALTHZ]
