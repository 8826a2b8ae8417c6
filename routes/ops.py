"""Operational endpoints: the front page, liveness, readiness, metrics."""

import os

from flask import Blueprint, Response, current_app, redirect, request
from flask.typing import ResponseReturnValue
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from models.migrate import pending
from routes.errors import problem
from routes.openapi import doc

bp = Blueprint("ops", __name__)


INDEX = {
    "service": "orgauthz",
    "console": "/console/",
    "docs": "/docs",
    "openapi": "/openapi.json",
    "health": "/healthz",
    "ready": "/readyz",
}


@bp.get("/")
def index() -> ResponseReturnValue:
    """Where to go from here: a browser goes to the console, anything else gets the map."""
    if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html":
        return redirect("/console/", 302)
    return INDEX


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process is up."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """The database answers and a policy is loaded: 200 with its version, else 503.

    A failing decision log is reported (``decision_log_error``) but stays 200: decisions
    still answer, and taking every worker out of rotation for a full disk would turn a
    logging problem into an outage; the error line and the dropped-records metric alert."""
    from ops import decisionlog

    holder = current_app.extensions["orgauthz.policy"]
    body = {"policy_version": holder.current.version, "styles": holder.current.styles}
    if holder.error:
        body["policy_reload_error"] = holder.error
    decision_log_error = decisionlog.health()
    if decision_log_error:
        body["decision_log_error"] = decision_log_error
    try:
        waiting = pending()  # reads the database: also the check that it answers
    except Exception as exc:  # any failure means not ready
        return problem(503, "Service Unavailable", f"database unreachable: {type(exc).__name__}")
    if waiting:
        return problem(
            503,
            "Service Unavailable",
            f"the database needs migrations {', '.join(waiting)}: run `flask db upgrade`",
        )
    return {"status": "ready", **body}


@bp.get("/metrics")
@doc(content_types=["text/plain"])
def metrics() -> ResponseReturnValue:
    """Prometheus metrics (summed over gunicorn workers in multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
