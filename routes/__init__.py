"""Blueprints, one per resource family, and what runs around every request."""

from collections.abc import Callable

from flask import Flask, Response, current_app, g, request

from access.cache import CACHE
from access.uow import take_committed
from models import db
from models.generation import current as change_position
from models.generation import token
from ops import tracing
from routes import (
    authzen,
    console,
    core,
    custom_roles,
    decisions,
    domains,
    edge,
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
    scim,
    teams,
    users,
    webhooks,
)
from routes.context import authenticate, in_scope
from routes.errors import DATABASE_FAILURES, register_error_handlers, reset_connection

SAFE = frozenset(("GET", "HEAD", "OPTIONS"))

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
    teams.bp,
    custom_roles.bp,  # an organization's own roles (issue 27)
    events.bp,
    webhooks.bp,
    keys.bp,
    console.bp,
    scim.bp,
    domains.bp,  # verified domains and requests to join (issue 28)
]


def register(app: Flask) -> None:
    """Register every blueprint, the error handlers and the request hooks.

    The hooks are on every request's path, so they are kept to what each request needs:
    decision requests read their body and facts first (``decisions.begin``: the API key
    comes from the same facts), every /v1 request is counted against its key's rate limit
    (routes/limiter.py); what every answer gets is routes/edge.py's, which the decision
    endpoints' lean transport (routes/fastpath.py, in front of Flask) calls too.
    """
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
    register_error_handlers(app)
    rate_limit = limiter.init(app)
    core.configure(app.config)
    app.wsgi_app = fastpath.FastPath(app, app.wsgi_app)  # type: ignore[method-assign]
    if tracing.ON:  # a server span per request; off, not even a layer to call through
        app.wsgi_app = tracing.WSGI(app.wsgi_app)  # type: ignore[method-assign]
    app.ensure_sync = _sync_once(app)  # type: ignore[assignment]
    app.before_request(_opener(rate_limit))
    app.after_request(close_request)
    app.teardown_request(teardown)
    idempotency.init(app)  # after authentication too: keys are kept per API key
    app.after_request(consistency_token)  # registered last, so it runs first


def _opener(rate_limit: limiter.RateLimiter) -> Callable[[], None]:
    """The before-request hook: the request's id and start, then for /v1 and AuthZEN its
    caller (from the decision's facts on /v1/authorize), its rate limit, its key's scope."""

    def open_request() -> None:
        g.started, g.request_id = edge.opened(request.url_rule, request.headers.get("X-Request-Id"))
        # No connect here: Peewee connects on the first query, so /healthz and /metrics work
        # with the database down. teardown closes (returns to the pool) what was opened.
        path = request.path
        if path.startswith("/v1/"):
            if path.startswith("/v1/authorize"):
                decisions.begin()  # body, freshness, then the key, from the same facts
            else:  # the key from the worker's cached facts when fresh, else read
                authenticate(CACHE.fresh())
            limiter.check(rate_limit)
            org_id = (request.view_args or {}).get("org_id")
            if org_id is not None:  # a key bound to other orgs: 404, as for no such org
                in_scope(org_id)
        elif path.startswith(authzen.PREFIX):  # AuthZEN: the same key, facts and limit
            authzen.begin()
            limiter.check(rate_limit)

    return open_request


def close_request(response: Response) -> Response:
    """The after-request hook: routes/edge.py's headers, metrics and access-log line, and the
    rate-limit headers of the request's count."""
    req, ctx = request._get_current_object(), g._get_current_object()  # type: ignore[attr-defined]
    rid = getattr(ctx, "request_id", "")
    headers = response.headers
    for name, value in edge.headers(rid, response.mimetype == "text/html"):
        headers[name] = value
    for name, value in limiter.header_pairs(req.environ.get("orgauthz.rate_limit")):
        headers[name] = value
    rule = req.url_rule
    route = rule.rule if rule is not None else edge.OTHER  # a 404: one label for any path
    started = getattr(ctx, "started", None)
    api_key = getattr(ctx, "api_key", None)
    edge.closed(route, req.method, response.status_code, started, rid or None, api_key)
    return response


def teardown(_exc: BaseException | None) -> None:
    """Return the request's connection to the pool, if it opened one."""
    if not db.is_closed():
        try:
            db.close()
        except DATABASE_FAILURES:  # a lost connection: dropped, never a raw 500
            reset_connection()


def consistency_token(response: Response) -> Response:
    """Every successful management write answers the change position it committed at
    (``X-Consistency-Token``, and ``consistency_token`` in a JSON object body); this
    worker's later answers include that change (access/cache.py)."""
    written = take_committed()
    if written is not None:
        CACHE.wrote(written)
    if response.status_code >= 400:
        return response
    req = request._get_current_object()  # type: ignore[attr-defined]
    if req.method in SAFE or not req.path.startswith("/v1/"):
        return response
    if req.path.startswith("/v1/authorize"):
        facts = g.get("facts")
        if facts is not None:  # which database decided (access/cache.py: replicas)
            response.headers["X-Decided-By"] = facts.source
        return response
    if written is None:  # a write with no unit of work (a key's scope): the position now
        try:
            written = change_position(db)
        except Exception:  # noqa: BLE001 -- no token rather than a failed answer
            return response
        CACHE.wrote(written)  # and this worker's next answers include it, as after a unit
    _stamp(response, token(written))
    return response


def _sync_once(app: Flask) -> Callable[[Callable], Callable]:
    """``app.ensure_sync`` that decides once per function (Flask asks ``inspect`` about
    every hook and view on every request)."""
    decided: dict = {}
    original = Flask.ensure_sync

    def ensure_sync(func: Callable) -> Callable:
        try:
            return decided[func]
        except KeyError:
            made = decided[func] = original(app, func)
            return made
        except TypeError:  # not hashable
            return original(app, func)

    return ensure_sync


def _stamp(response: Response, consistency: str) -> None:
    response.headers["X-Consistency-Token"] = consistency
    if response.mimetype == "application/json" and not response.is_streamed:
        body = response.get_json(silent=True)
        if isinstance(body, dict):
            body["consistency_token"] = consistency
            response.set_data(current_app.json.dumps(body) + "\n")
