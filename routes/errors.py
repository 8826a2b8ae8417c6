"""One error envelope: RFC 9457 problem details, for every error the service answers."""

import json
import logging

import peewee
from flask import Flask, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from access.errors import ApiError, FactsUnavailable
from ops.metrics import DATABASE_ERRORS

log = logging.getLogger("orgauthz.errors")

PROBLEM = "application/problem+json"


def flatten(messages, prefix: str = "") -> dict:
    """Marshmallow's nested messages as {"checks.3.action": ["..."]}."""
    out = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict):
                out.update(flatten(value, name))
            else:
                out[name] = value if isinstance(value, list) else [str(value)]
    else:
        out[prefix or "_body"] = messages if isinstance(messages, list) else [str(messages)]
    return out


def problem(status: int, title: str, detail: str, errors: dict | None = None):
    """A problem-details response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.content_type = PROBLEM
    return response


def register_error_handlers(app: Flask) -> None:
    """Turn every error into a problem document; never a stack trace in a response."""

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        title = exc.title or _title(exc.status)
        return problem(exc.status, title, exc.detail, exc.errors)

    @app.errorhandler(ValidationError)
    def validation_error(exc: ValidationError):
        errors = flatten(exc.messages)
        fields = ", ".join(sorted(errors))
        return problem(422, "Unprocessable Content", f"invalid fields: {fields}", errors)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        detail = exc.description or exc.name
        if exc.code == 413:
            detail = f"the body is over the limit of {app.config['MAX_CONTENT_LENGTH']} bytes"
        return problem(exc.code or 500, exc.name, detail)

    @app.errorhandler(peewee.DatabaseError)
    @app.errorhandler(FactsUnavailable)
    def database_unavailable(exc: Exception):
        # Fail closed: a decision endpoint answers a deny, with a 503 that says why.
        log.error("database unavailable: %s", exc)
        DATABASE_ERRORS.inc()
        _reset_connection()
        response = problem(
            503,
            "Service Unavailable",
            "the database is unavailable; the answer is a deny, try again",
        )
        if request.path.startswith("/v1/authorize"):
            body = response.get_json()
            body["allowed"] = False
            response.set_data(json.dumps(body))
        response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error")
        return problem(500, "Internal Server Error", "an unexpected error; see the service log")


def _reset_connection() -> None:
    """Drop this request's connection: after a failure it may be dead, and a pool must not
    hand it out again."""
    from models import db

    try:
        if not db.is_closed():
            db.close()
        if hasattr(db.obj, "close_all"):
            db.obj.close_all()
    except Exception:  # it is already broken; nothing more to do
        log.debug("closing a broken connection failed", exc_info=True)


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
