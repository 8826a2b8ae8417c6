"""One error envelope: RFC 9457 problem details, for every error the service answers."""

import json
import logging
import sqlite3
from typing import Any

import peewee
from flask import Flask, Response, g, jsonify, request
from marshmallow import ValidationError
from playhouse.pool import MaxConnectionsExceeded
from werkzeug.exceptions import HTTPException

from access import errors as domain
from access.errors import DomainError, FactsUnavailable, Invalid
from ops.metrics import DATABASE_ERRORS
from routes.schemas import UNSTORABLE, storable

log = logging.getLogger("orgauthz.errors")

PROBLEM = "application/problem+json"


# Each kind of refusal of the domain core, and the HTTP status it answers: the one place a
# kind becomes a status (the console and AuthZEN read it here too).
STATUS: dict[type[DomainError], int] = {
    domain.Malformed: 400,
    domain.Unauthenticated: 401,
    domain.Forbidden: 403,
    domain.NotFound: 404,
    domain.Conflict: 409,
    domain.Gone: 410,
    domain.Invalid: 422,
    domain.RateLimited: 429,
    domain.PolicyFault: 500,
    domain.Unavailable: 503,
}


def status_of(exc: DomainError) -> int:
    """The HTTP status of a refusal: its kind's, or the nearest kind it derives from."""
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 500


def title_of(exc: DomainError) -> str:
    """The problem's title: the policy's refusals say so; the rest their status's phrase."""
    if isinstance(exc, domain.Forbidden) and exc.policy:
        return domain.FORBIDDEN
    return _title(status_of(exc))


def _driver_errors() -> tuple:
    """Every exception that means "the database failed", whoever raised it: Peewee's own
    (DatabaseError and InterfaceError, which is not a DatabaseError), the drivers' when
    they escape Peewee's wrapping, and an exhausted connection pool."""
    errors = [peewee.PeeweeException, sqlite3.Error, MaxConnectionsExceeded]
    try:
        import psycopg2  # type: ignore[import-untyped]

        errors.append(psycopg2.Error)
    except ImportError:  # SQLite only
        pass
    return tuple(errors)


DATABASE_FAILURES = _driver_errors()


def flatten(messages: Any, prefix: str = "") -> dict:
    """Marshmallow's nested messages as {"checks.3.action": ["..."]}. A key a caller sent
    that no answer could carry (an unknown field named with a lone surrogate) is written
    escaped (``\\udc80``), so the problem document stays valid JSON text."""
    out: dict[str, list] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            text = str(key)
            if not storable(text):
                text = text.encode("utf-8", "backslashreplace").decode("utf-8")
            name = f"{prefix}.{text}" if prefix else text
            if isinstance(value, dict):
                out.update(flatten(value, name))
            else:
                out[name] = value if isinstance(value, list) else [str(value)]
    else:
        out[prefix or "_body"] = messages if isinstance(messages, list) else [str(messages)]
    return out


def problem(status: int, title: str, detail: str, errors: dict | None = None) -> Response:
    """A problem-details response."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.content_type = PROBLEM
    return response


# What no schema loads: path parameters (the longest value each may have is the column it is
# looked up or stored in; a parameter not listed has no limit) and X-Actor-Id (a user id).
PATH_LIMITS = {"org_id": 64, "invitation_id": 64, "type_": 64, "user_id": 200, "rid": 200}
ACTOR_ID_MAX = 200


def check_unloaded_input() -> None:
    """Refuse a path parameter or an ``X-Actor-Id`` no database could store or that is
    longer than its column. Raises Invalid naming the parameter or the header."""
    errors = {}
    for name, value in (request.view_args or {}).items():
        if not isinstance(value, str):
            continue
        limit = PATH_LIMITS.get(name)
        if not storable(value):
            errors[name] = [UNSTORABLE]
        elif limit is not None and len(value) > limit:
            errors[name] = [f"longer than {limit} characters"]
    actor = request.headers.get("X-Actor-Id", "").strip()
    if actor and not storable(actor):
        errors["X-Actor-Id"] = [UNSTORABLE]
    elif len(actor) > ACTOR_ID_MAX:
        errors["X-Actor-Id"] = [f"longer than {ACTOR_ID_MAX} characters"]
    if errors:
        raise Invalid(f"invalid fields: {', '.join(sorted(errors))}", errors)


def register_error_handlers(app: Flask) -> None:
    """Turn every error into a problem document; never a stack trace in a response.

    Also checks what no schema loads (``check_unloaded_input``) before every view of the
    blueprints registered so far: as a blueprint hook it runs after the app's own
    (authentication, rate limit), so a bad parameter is a 422 only for an accepted caller.
    """
    for name in app.blueprints:
        app.before_request_funcs.setdefault(name, []).append(check_unloaded_input)

    @app.errorhandler(DomainError)
    def refused(exc: DomainError) -> Response:
        if isinstance(exc, FactsUnavailable):
            return database_unavailable(exc)
        if exc.retryable:  # routes/idempotency.py keeps no answer that says "try again"
            g.retryable_refusal = True
        return problem(status_of(exc), title_of(exc), exc.detail, exc.errors)

    @app.errorhandler(ValidationError)
    def validation_error(exc: ValidationError) -> Response:
        errors = flatten(exc.messages)
        fields = ", ".join(sorted(errors))
        return problem(422, _title(422), f"invalid fields: {fields}", errors)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        detail = exc.description or exc.name
        if exc.code == 413:
            detail = f"the body is over the limit of {app.config['MAX_CONTENT_LENGTH']} bytes"
        return problem(exc.code or 500, _title(exc.code or 500), detail)

    for error in DATABASE_FAILURES:
        app.register_error_handler(error, database_unavailable)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, "Internal Server Error", "an unexpected error; see the service log")


def database_unavailable(exc: BaseException) -> Response:
    """The 503 problem (``Retry-After: 1``) of a database failure, whatever raised it: a
    view, or the idempotency hooks around it (routes/idempotency.py). Fail closed: a
    decision endpoint answers a deny, with a 503 that says why."""
    log.error("database unavailable: %s", exc)
    DATABASE_ERRORS.inc()
    reset_connection()
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


def reset_connection() -> None:
    """Drop this request's connection, and only it: after a failure it may be dead, so it is
    closed rather than returned, and the pool opens a fresh one for the next request.

    Never ``close_all``: the other connections belong to requests other threads are
    serving; closing them mid-query fails those requests (and crashes SQLite).
    """
    from models import db

    database = db.obj
    try:
        if database is None or database.is_closed():
            return
        if hasattr(database, "manual_close"):
            database.manual_close()  # close the raw connection; the pool forgets it
        else:
            database.close()
    except Exception:  # it is already broken; nothing more to do
        log.debug("closing a broken connection failed", exc_info=True)


# RFC 9110's names where Python's (before 3.13) and Werkzeug's still say the old ones, so
# one status has one title whichever part of the service answered it.
_RFC9110 = {413: "Content Too Large", 422: "Unprocessable Content"}


def _title(status: int) -> str:
    from http import HTTPStatus

    if status in _RFC9110:
        return _RFC9110[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
