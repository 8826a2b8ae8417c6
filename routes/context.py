"""What every request needs: its body, its caller, its acting user, the policy and the clock."""

import datetime
import functools
import threading
from typing import Any, Literal, overload

from flask import current_app, g, has_request_context, request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import BadRequest

from access.cache import MISSING, Facts
from access.context import Context
from access.errors import Forbidden, Invalid, Malformed, NotFound, Unauthenticated
from access.keys import Scope, authenticated, outside
from access.targets import TargetBuilder
from authz.engine import PolicySet
from models import ApiKey, KeyName, hash_secret
from ops.activity import ACTIVITY
from routes.schemas.context import context_errors, load_context


def load(schema_cls: type[Schema], data: Any = None) -> Any:
    """Validate the JSON body (or ``data``) with ``schema_cls``; 400 for malformed JSON,
    422 naming the fields for invalid content."""
    if data is None:
        try:
            data = request.get_json(force=True)
        except RecursionError as exc:
            raise too_deep() from exc
        except BadRequest as exc:
            raise Malformed("the body is not valid JSON", {"_body": ["malformed JSON"]}) from exc
        if not isinstance(data, dict):
            raise Invalid("the body must be a JSON object", {"_body": ["not an object"]})
        if depth(data) > MAX_DEPTH:
            raise too_deep()
    return _schema(schema_cls).load(data)


@functools.cache
def _schema(schema_cls: type[Schema]) -> Schema:
    """One instance per schema class: building a Schema costs more than loading with it."""
    return schema_cls()


MAX_DEPTH = 32


def too_deep() -> Malformed:
    """The 400 of a body nested deeper than MAX_DEPTH."""
    return Malformed(
        f"the body nests deeper than {MAX_DEPTH} levels", {"_body": ["too deeply nested"]}
    )


def depth(value: Any) -> int:
    """How deeply a JSON value nests (iteratively: a deep value cannot overflow the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            return level
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def request_context(value: dict | None, field: str = "context") -> dict:
    """A management request's ``context`` loaded against the context attributes the live
    policy declares (routes/schemas/context.py); a 422 naming ``<field>.<name>``."""
    try:
        return load_context(policy().context_kinds, value or {})
    except ValidationError as exc:
        errors = context_errors(exc, field)
        raise Invalid(f"invalid fields: {', '.join(sorted(errors))}", errors) from exc


def policy() -> PolicySet:
    """The policy set live for this request (one version for the whole request)."""
    if "policy" not in g:
        g.policy = current_app.extensions["orgauthz.policy"].current
    return g.policy


def targets() -> TargetBuilder:
    """The decision endpoints' TargetBuilder, on the facts shared across the worker's
    requests as fresh as the request asked (``g.facts``: access/cache.py). Management calls
    need none: the core reads fresh facts itself (under its locks, for a write)."""
    builder = g.get("targets")
    if builder is None:
        builder = g.targets = TargetBuilder(g.get("facts"))
        builder.scope = g.get("key_orgs")
    return builder


def ctx(actor: str | None = None) -> Context:
    """The domain core's context of this request: policy version, clock, acting user,
    request id and API key (for the audit trail)."""
    return Context(
        policy=policy(),
        clock=current_app.config["CLOCK"],
        actor=actor,
        request_id=g.get("request_id"),
        api_key=g.get("api_key"),
        orgs=g.get("key_orgs"),
    )


def now() -> datetime.datetime:
    """The current time from the app's clock (the tests control it)."""
    return current_app.config["CLOCK"]()


_fast = threading.local()


def fast_context(value: dict | None) -> None:
    """The decision log's context of a request served outside Flask (routes/fastpath.py,
    the lean transport), for this thread; None when it is answered."""
    _fast.log_context = value


def decision_context() -> dict:
    """What the decision log adds from the request: caller key and request id (one dict
    per request, shared by its decisions)."""
    found = getattr(_fast, "log_context", None)
    if found is not None:
        return found
    if not has_request_context():
        return {}
    found = g.get("log_context")
    if found is None:
        found = g.log_context = {"api_key": g.get("api_key"), "request_id": g.get("request_id")}
    return found


def authenticate(facts: Facts | None = None) -> None:
    """Check ``Authorization: Bearer <key>`` (``key_of``) and keep the key's name and scope
    for the request. Raises Unauthenticated."""
    name = key_of(request.headers.get("Authorization", ""), facts)
    g.api_key = name
    g.key_orgs = key_scope(name)


def key_of(authorization: str, facts: Facts | None = None) -> str:
    """The name of the API key an ``Authorization: Bearer <key>`` header sends; Unauthenticated
    without a valid, unrevoked key. ``facts`` (access/cache.py): where keys already checked
    are remembered, as fresh as the request's other facts. No Flask: both transports call it."""
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise Unauthenticated("send Authorization: Bearer <api key>")
    digest = hash_secret(key)
    name = facts.key(digest) if facts is not None else MISSING
    if name is MISSING:
        row = ApiKey.find_active(key)
        name = authenticated(row) if row else None
        if facts is not None:
            facts.put_key(digest, name)
    if name is None:
        raise Unauthenticated("the API key is unknown or revoked")
    return name


def key_scope(name: str) -> Scope:
    """The organizations of an authenticated key's name (``KeyName``; None: service-wide).
    A name without its scope is bound to nothing (never taken as service-wide)."""
    return name.orgs if isinstance(name, KeyName) else frozenset()


def in_scope(org_id: str | None) -> None:
    """Raises NotFound when the calling key is bound to organizations and ``org_id``
    is not one of them: the same answer as for an organization that does not exist."""
    if org_id is not None and outside(g.get("key_orgs"), org_id):
        raise NotFound(f"no organization {org_id!r}")


def service_wide(what: str) -> None:
    """Raises Forbidden unless the calling key is service-wide."""
    if g.get("key_orgs") is not None:
        raise Forbidden(f"a key bound to organizations may not {what}")


@overload
def acting_user(required: Literal[True] = True, must_be: str | None = None) -> str: ...


@overload
def acting_user(required: bool, must_be: str | None = None) -> str | None: ...


def acting_user(required: bool = True, must_be: str | None = None) -> str | None:
    """The end user named by ``X-Actor-Id``.

    ``must_be``: when the header is sent it must name this user (403 otherwise).
    Raises Invalid when required and missing.
    """
    actor = request.headers.get("X-Actor-Id", "").strip() or None
    if must_be is not None and actor is not None and actor != must_be:
        raise Forbidden(
            f"X-Actor-Id {actor!r} may only act for itself here",
            {"X-Actor-Id": ["does not match the user of the request"]},
        )
    if actor is None and required:
        raise Invalid(
            "management calls name the acting user in X-Actor-Id", {"X-Actor-Id": ["missing"]}
        )
    return actor


def touch_last_active(user_id: str) -> None:
    """Record that ``user_id`` was active (written in the background: ops/activity.py)."""
    ACTIVITY.mark(user_id, now, float(current_app.config["LAST_ACTIVE_FLUSH_SECONDS"]))


def forget_last_active() -> None:
    """Forget the marks (the tests move the clock)."""
    ACTIVITY.forget()


def acting() -> str:
    """The acting user of a management call (``X-Actor-Id``), marked active.

    Raises Invalid when the header is missing.
    """
    actor = acting_user()
    touch_last_active(actor)
    return actor


def list_args(schema_cls: type[Schema]) -> dict:
    """The query string loaded with ``schema_cls`` (unknown parameters: 422)."""
    return _schema(schema_cls).load(request.args.to_dict())
