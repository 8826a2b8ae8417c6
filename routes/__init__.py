"""Blueprints, one per resource family, and what runs around every request."""

import logging
import time

from flask import Flask, current_app, g, request

from access.cache import CACHE
from access.uow import take_committed
from models import db
from models.generation import current as change_position
from models.generation import token
from ops import tracing
from ops.metrics import LATENCY, REQUESTS
from routes import (
    authzen,
    console,
    decisions,
    events,
    fastpath,
    idempotency,
    invitations,
    keys,
    limiter,
    members,
    openapi,
    ops,
    orgs,
    policies,
    resources,
    schemas,
    users,
    webhooks,
)
from routes.context import authenticate, in_scope
from routes.errors import DATABASE_FAILURES, register_error_handlers, reset_connection

ACCESS = logging.getLogger("orgauthz.access")
SAFE = frozenset(("GET", "HEAD", "OPTIONS"))
# Metrics labels are bounded: any other method (a client may send any token) and any path
# that matches no route are counted as ``other``, so junk requests cannot grow /metrics.
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
OTHER = "other"
HTML_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}

BLUEPRINTS = [
    ops.bp,
    openapi.bp,
    decisions.bp,
    authzen.bp,
    policies.bp,
    orgs.bp,
    members.bp,
    invitations.bp,
    users.bp,
    resources.bp,
    events.bp,
    webhooks.bp,
    keys.bp,
    console.bp,
]


def register(app: Flask) -> None:
    """Register every blueprint, the error handlers and the request hooks.

    The hooks are on every request's path, so they are kept to what each request needs:
    decision requests read their body and facts first (``decisions.begin``: the API key
    comes from the same facts), every /v1 request is counted against its key's rate limit
    (routes/limiter.py), metrics children are looked up once per route, and the access log
    line is built only when that log is on.
    """
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
    register_error_handlers(app)
    rate_limit = limiter.init(app)
    decisions.configure(app.config)
    app.wsgi_app = fastpath.FastPath(app, app.wsgi_app)  # type: ignore[method-assign]
    if tracing.ON:  # a server span per request; off, not even a layer to call through
        app.wsgi_app = tracing.WSGI(app.wsgi_app)  # type: ignore[method-assign]
    app.ensure_sync = _sync_once(app)
    counted: dict = {}  # (route, method, status) -> its request counter's child
    timed: dict = {}  # route -> its latency histogram's child

    @app.before_request
    def open_request():
        g.started = time.perf_counter()
        g.request_id = schemas.request_id(request.headers.get("X-Request-Id"))
        if tracing.ON:
            tracing.route(request.url_rule, g.request_id)
        # No connect here: Peewee connects on the first query, so /healthz and /metrics work
        # with the database down. teardown closes (returns to the pool) what was opened.
        path = request.path
        if path.startswith("/v1/"):
            if path.startswith("/v1/authorize"):
                decisions.begin()  # body, freshness, then the key, from the same facts
            else:
                authenticate()
            limiter.check(rate_limit)
            org_id = (request.view_args or {}).get("org_id")
            if org_id is not None:  # a key bound to other orgs: 404, as for no such org
                in_scope(org_id)
        elif path.startswith(authzen.PREFIX):  # AuthZEN: the same key, facts and limit
            authzen.begin()
            limiter.check(rate_limit)

    @app.after_request
    def close_request(response):
        req, ctx = request._get_current_object(), g._get_current_object()
        headers = response.headers
        headers["X-Request-Id"] = getattr(ctx, "request_id", "")
        headers["X-Content-Type-Options"] = "nosniff"
        if response.mimetype == "text/html":
            headers.update(HTML_HEADERS)
        limiter.headers(response, ctx)
        rule = req.url_rule
        route = rule.rule if rule is not None else OTHER  # a 404: one label for any path
        status = response.status_code
        method = req.method
        key = (route, method if method in METHODS else OTHER, status)
        child = counted.get(key)
        if child is None:
            child = counted[key] = REQUESTS.labels(*key)
        child.inc()
        started = getattr(ctx, "started", None)
        duration = time.perf_counter() - started if started is not None else 0.0
        histogram = timed.get(route)
        if histogram is None:
            histogram = timed[route] = LATENCY.labels(route)
        histogram.observe(duration)
        if ACCESS.isEnabledFor(logging.INFO):  # the line is built only when it is written
            ACCESS.info(
                {
                    "request_id": getattr(ctx, "request_id", None),
                    "api_key": getattr(ctx, "api_key", None),
                    "method": req.method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(duration * 1000, 3),
                }
            )
        return response

    @app.teardown_request
    def teardown(_exc):
        if not db.is_closed():
            try:
                db.close()
            except DATABASE_FAILURES:  # a lost connection: dropped, never a raw 500
                reset_connection()

    idempotency.init(app)  # after authentication too: keys are kept per API key

    @app.after_request  # registered last, so it runs first: the kept answer carries it
    def consistency_token(response):
        """Every successful management write answers the change position it committed at
        (``X-Consistency-Token``, and ``consistency_token`` in a JSON object body); this
        worker's later answers include that change (access/cache.py)."""
        written = take_committed()
        if written is not None:
            CACHE.wrote(written)
        if response.status_code >= 400:
            return response
        req = request._get_current_object()
        if req.method in SAFE or not req.path.startswith("/v1/"):
            return response
        if req.path.startswith("/v1/authorize"):
            facts = g.get("facts")
            if facts is not None:  # which database decided (access/cache.py: replicas)
                response.headers["X-Decided-By"] = facts.source
            return response
        if written is None:  # a write with no unit of work: the position now
            try:
                written = change_position(db)
            except Exception:  # noqa: BLE001 -- no token rather than a failed answer
                return response
        _stamp(response, token(written))
        return response


def _sync_once(app: Flask):
    """``app.ensure_sync`` that decides once per function (Flask asks ``inspect`` about
    every hook and view on every request)."""
    decided: dict = {}
    original = Flask.ensure_sync

    def ensure_sync(func):
        try:
            return decided[func]
        except KeyError:
            made = decided[func] = original(app, func)
            return made
        except TypeError:  # not hashable
            return original(app, func)

    return ensure_sync


def _stamp(response, consistency: str) -> None:
    response.headers["X-Consistency-Token"] = consistency
    if response.mimetype == "application/json" and not response.is_streamed:
        body = response.get_json(silent=True)
        if isinstance(body, dict):
            body["consistency_token"] = consistency
            response.set_data(current_app.json.dumps(body) + "\n")
