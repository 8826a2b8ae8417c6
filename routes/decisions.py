"""The decision endpoints: authorize, batch, actions, and the list queries resources and
actors."""

from flask import Blueprint, request

from access import listing
from access.decisions import allowed_actions, decide
from routes.context import load, policy, targets, touch_last_active
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


def _answer(check: dict, snapshot) -> dict:
    target = targets().target(check["resource"])
    actor = check["actor"]["id"]
    decision = decide(snapshot, targets(), actor, check["action"], target, explain=check["explain"])
    return decision.as_json(check["explain"])


@bp.post("")
@doc(request=AuthorizeRequest, response=AuthorizeResponse)
def authorize():
    """May the actor do the action on the resource? Always 200 with allowed true or false."""
    check = load(AuthorizeRequest)
    body = _answer(check, policy())
    touch_last_active(check["actor"]["id"])
    return body


@bp.post("/batch")
@doc(request=BatchRequest, response=BatchResponse)
def authorize_batch():
    """Up to 1000 checks, in order, all against one policy version."""
    request_body = load(BatchRequest)
    snapshot = policy()
    results = [_answer(check, snapshot) for check in request_body["checks"]]
    for actor in {c["actor"]["id"] for c in request_body["checks"]}:
        touch_last_active(actor)
    return {"results": results}


@bp.post("/actions")
@doc(request=ActionsRequest, response=ActionsResponse)
def list_allowed_actions():
    """Every action the policy allows the actor on the resource."""
    body = load(ActionsRequest)
    snapshot = policy()
    target = targets().target(body["resource"])
    actor = body["actor"]["id"]
    actions = allowed_actions(snapshot, targets(), actor, target)
    touch_last_active(actor)
    return {"actions": actions, "policy_version": snapshot.version}


def _page(body: dict) -> tuple:
    """(limit, cursor value) from the body, else the query string. 422 if invalid."""
    source = {k: v for k, v in request.args.items() if k in ("limit", "cursor")}
    source.update({k: body[k] for k in ("limit", "cursor") if k in body})
    return page_args("str", source)


@bp.post("/resources")
@doc(request=ListResourcesRequest, response=ResourcePage)
def list_resources():
    """The registered resources of a type in an org on which the actor may do the action,
    paginated; filtered in the database (``access.listing``). Unknown actor, org, type or
    action: an empty list, as /v1/authorize would deny. Raises 422 for an invalid body."""
    body = load(ListResourcesRequest)
    limit, after = _page(body)
    actor = body["actor"]["id"]
    page = listing.list_resources(
        policy(), targets(), actor, body["action"], body["type"], body["org"], limit, after
    )
    touch_last_active(actor)
    return listed(page)


@bp.post("/actors")
@doc(request=ListActorsRequest, response=ActorPage)
def list_actors():
    """The users who may do the action on the resource, paginated (``access.listing``).
    Unknown resource or action: an empty list. Raises 422 for an invalid body."""
    body = load(ListActorsRequest)
    limit, after = _page(body)
    target = targets().target(body["resource"])
    page = listing.list_actors(policy(), targets(), body["action"], target, limit, after)
    return listed(page)
