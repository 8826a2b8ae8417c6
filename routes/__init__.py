"""Blueprints, one per resource family, and what runs around every request."""

import time
import uuid

from flask import Flask, g, request

from authz.metrics import LATENCY, REQUESTS
from models import db
from routes import decisions, ops
from routes.context import authenticate
from routes.errors import register_error_handlers

BLUEPRINTS = [ops.bp, decisions.bp]


def register(app: Flask) -> None:
    """Register every blueprint, the error handlers and the request hooks."""
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
    register_error_handlers(app)

    @app.before_request
    def open_request():
        g.started = time.perf_counter()
        g.request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
        db.connect(reuse_if_open=True)
        if request.path.startswith("/v1/"):
            authenticate()

    @app.after_request
    def close_request(response):
        response.headers["X-Request-Id"] = g.get("request_id", "")
        route = request.url_rule.rule if request.url_rule else "unmatched"
        REQUESTS.labels(route, request.method, response.status_code).inc()
        if "started" in g:
            LATENCY.labels(route).observe(time.perf_counter() - g.started)
        return response

    @app.teardown_request
    def teardown(_exc):
        if not db.is_closed():
            db.close()
