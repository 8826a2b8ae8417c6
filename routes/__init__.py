"""Blueprints, one per resource family, and what runs around every request."""

import logging
import time

from flask import Flask, g, request

from access.cache import CACHE
from models import db
from ops.metrics import LATENCY, REQUESTS
from routes import (
    console,
    decisions,
    events,
    idempotency,
    invitations,
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
from routes.context import authenticate
from routes.errors import register_error_handlers

ACCESS = logging.getLogger("orgauthz.access")
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
    policies.bp,
    orgs.bp,
    members.bp,
    invitations.bp,
    users.bp,
    resources.bp,
    events.bp,
    webhooks.bp,
    console.bp,
]


def register(app: Flask) -> None:
    """Register every blueprint, the error handlers and the request hooks."""
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
    register_error_handlers(app)

    @app.before_request
    def open_request():
        g.started = time.perf_counter()
        g.request_id = schemas.request_id(request.headers.get("X-Request-Id"))
        # No connect here: Peewee connects on the first query, so /healthz and /metrics work
        # with the database down. teardown closes (returns to the pool) what was opened.
        if request.path.startswith("/v1/authorize"):
            g.maps = CACHE.sync()  # decision endpoints share facts across requests
        if request.path.startswith("/v1/"):
            authenticate()

    @app.after_request
    def close_request(response):
        response.headers["X-Request-Id"] = g.get("request_id", "")
        response.headers["X-Content-Type-Options"] = "nosniff"
        if response.mimetype == "text/html":
            response.headers.update(HTML_HEADERS)
        route = request.url_rule.rule if request.url_rule else "unmatched"
        REQUESTS.labels(route, request.method, response.status_code).inc()
        duration = time.perf_counter() - g.started if "started" in g else 0.0
        LATENCY.labels(route).observe(duration)
        ACCESS.info(
            {
                "request_id": g.get("request_id"),
                "api_key": g.get("api_key"),
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(duration * 1000, 3),
            }
        )
        return response

    @app.teardown_request
    def teardown(_exc):
        if not db.is_closed():
            db.close()

    limiter.init(app)  # after open_request: the limit is per API key, known once authenticated
    idempotency.init(app)  # after authentication too: keys are kept per API key
