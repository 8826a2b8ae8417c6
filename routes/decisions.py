"""The decision endpoints' Flask transport: ``/v1/authorize``, ``/batch`` and ``/actions``
are parsed, decided and answered by routes/core.py (the lean WSGI transport,
routes/fastpath.py, calls the same functions); the list queries ``/resources`` and
``/actors`` are here.

``begin`` (run by the app's before-request hook for ``/v1/authorize*`` and AuthZEN) reads
the JSON body once, settles how fresh the request's facts must be (``consistency``,
access/cache.py), and authenticates the caller from the same facts. Every answer says the
change position it was decided at (``consistency_token``).
"""

import json
import logging
from typing import Any

from flask import Blueprint, current_app, g, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from access import listing, previews
from access.errors import DomainError, FactsUnavailable, Invalid, Malformed
from access.keys import outside
from models.generation import token
from ops.metrics import DECISION_ERRORS
from routes import core
from routes.context import authenticate, policy, targets, too_deep, touch_last_active
from routes.errors import DATABASE_FAILURES
from routes.openapi import doc
from routes.pagination import listed, page_args
from routes.schemas import (
    ActionsRequest,
    ActionsResponse,
    ActorPage,
    AuthorizeRequest,
    AuthorizeResponse,
    BatchRequest,
    BatchResponse,
    ListActorsRequest,
    ListResourcesRequest,
    ResourcePage,
)

bp = Blueprint("decisions", __name__, url_prefix="/v1/authorize")
log = logging.getLogger("orgauthz.decisions")


# ---------------------------------------------------------------- before the view
def _read_body() -> tuple[Any, DomainError | HTTPException | None]:
    """(the JSON body or None, the problem with it or None)."""
    try:
        return json.loads(request.get_data()), None
    except HTTPException as exc:  # 413: answered after authentication, as any other
        return None, exc
    except RecursionError:
        return None, too_deep()
    except ValueError:
        return None, Malformed("the body is not valid JSON", {"_body": ["malformed JSON"]})


def begin() -> None:
    """Before a decision request (the app's before-request hook): read the body, settle
    the freshness of its facts, authenticate from them. A bad key is a 401 before any
    complaint about the body."""
    body, problem = _read_body()
    mode, position = "minimize_latency", None
    if isinstance(body, dict):
        try:
            mode, position = core.freshness(body)
        except DomainError as exc:
            problem = problem or exc
    facts = request.environ.get("orgauthz.facts")  # settled already by the lean transport
    if facts is None:
        try:
            facts = core.facts_at(mode, position)
        except Invalid as exc:
            problem, facts = problem or exc, core.facts_at("minimize_latency", None)
    g.facts = facts
    authenticate(facts)
    if problem is not None:
        raise problem
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object", {"_body": ["not an object"]})
    g.body = body


def call() -> core.Call:
    """The request's ``core.Call``: its policy, its TargetBuilder and the app's clock."""
    return core.Call(policy(), targets(), current_app.config["CLOCK"])


def _json(text: str) -> ResponseReturnValue:
    return current_app.response_class(text, mimetype="application/json")


def _position() -> str:
    """The consistency token of the request's facts."""
    return token(g.facts.position)


# ---------------------------------------------------------------- the three decisions
@bp.post("")
@doc(request=AuthorizeRequest, response=AuthorizeResponse)
def authorize() -> ResponseReturnValue:
    """May the actor do the action on the resource? Always 200 with allowed true or false."""
    return _json(core.single(g.body, call()))


@bp.post("/batch")
@doc(request=BatchRequest, response=BatchResponse)
def authorize_batch() -> ResponseReturnValue:
    """Up to 1000 checks, in order, all against one policy version."""
    return _json(core.batch(g.body, call()))


@bp.post("/actions")
@doc(request=ActionsRequest, response=ActionsResponse)
def list_allowed_actions() -> ResponseReturnValue:
    """Every action the policy allows the actor on the resource."""
    return _json(core.actions(g.body, call()))


# ---------------------------------------------------------------- the list queries
def _page(body: dict) -> tuple:
    """(limit, cursor value) from the body, else the query string. 422 if invalid."""
    source = {k: v for k, v in request.args.items() if k in ("limit", "cursor")}
    source.update({k: body[k] for k in ("limit", "cursor") if k in body})
    return page_args("str", source)


@bp.post("/resources")
@doc(request=ListResourcesRequest, response=ResourcePage)
def list_resources() -> ResponseReturnValue:
    """The registered resources of a type in an org on which the actor may do the action,
    paginated; filtered in the database (``access.listing``). Unknown actor, org, type or
    action: an empty list, as /v1/authorize would deny. Raises 422 for an invalid body."""
    body = core.loaded(ListResourcesRequest, g.body)
    limit, after = _page(body)
    actor = body["actor"]["id"]
    if outside(g.key_orgs, body["org"]):  # another org's: as an unknown org, nothing
        page: dict = {"items": [], "next": None}
    else:
        page = _denied_on_error(
            listing.list_resources,
            policy(),
            targets(),
            actor,
            body["action"],
            body["type"],
            body["org"],
            limit,
            after,
        )
    touch_last_active(actor)
    return {**listed(page), "consistency_token": _position()}


@bp.post("/actors")
@doc(request=ListActorsRequest, response=ActorPage)
def list_actors() -> ResponseReturnValue:
    """The users who may do the action on the resource, paginated (``access.listing``).
    Unknown resource or action: an empty list. Raises 422 for an invalid body."""
    body = core.loaded(ListActorsRequest, g.body)
    limit, after = _page(body)
    core.org_named(body["resource"], "resource")
    target = targets().target(body["resource"])
    if targets().outside(target):  # another org's resource: as an unknown one, nobody
        target = None
    if previews.is_management(body["resource"]):  # its facts depend on who asks: nobody
        target = None
    page = _denied_on_error(
        listing.list_actors, policy(), targets(), body["action"], target, limit, after
    )
    return {**listed(page), "consistency_token": _position()}


def _denied_on_error(list_query: Any, *args: Any) -> dict:
    """The page of a list query; an error while deciding (not a refusal, not the database's:
    a 503) lists nothing, as ``decide`` denies: logged and counted, never an allow."""
    try:
        return list_query(*args)
    except (DomainError, FactsUnavailable, *DATABASE_FAILURES):
        raise
    except Exception:  # nothing listed, never everything
        log.exception("error while listing (%s); nothing listed", list_query.__name__)
        DECISION_ERRORS.inc()
        return {"items": [], "next": None}
