"""Webhooks: ``/v1/webhooks``. HTTP only: parse, call access/webhooks.py, dump.

Endpoints belong to the API key that registered them (another key sees a 404); a key bound
to organizations registers endpoints for its organizations only, and they hear of nothing
else (access/webhooks.py); no ``X-Actor-Id`` is needed.
"""

from flask import Blueprint, g
from flask.typing import ResponseReturnValue

from access import webhooks
from routes.context import list_args, load, now
from routes.openapi import doc
from routes.pagination import decode, listed
from routes.schemas import (
    DeliveryListArgs,
    DeliveryPage,
    PlainPageArgs,
    WebhookCreated,
    WebhookPage,
    WebhookRequest,
)

bp = Blueprint("webhooks", __name__, url_prefix="/v1/webhooks")


@bp.post("")
@doc(request=WebhookRequest, response=WebhookCreated, status=201)
def create_webhook() -> ResponseReturnValue:
    """Register an endpoint for the events of ``types`` (empty: all) of ``orgs`` (empty:
    every organization the API key may see) committed from now on. 201 with its
    ``signing_secret`` (Standard Webhooks) and ``secret`` (the deprecated header's), shown
    only now. 422 (url, types, orgs: no such organization, or one outside the key's)."""
    body = load(WebhookRequest)
    hook = webhooks.create(g.api_key, body["url"], body["types"], now(), body["orgs"], g.key_orgs)
    return hook, 201


@bp.get("")
@doc(query=PlainPageArgs, response=WebhookPage)
def list_webhooks() -> ResponseReturnValue:
    """This API key's endpoints, by id, paginated (never their secrets). 422."""
    args = list_args(PlainPageArgs)
    return listed(webhooks.list_page(g.api_key, args["limit"], decode(args["cursor"], "str")))


@bp.delete("/<webhook_id>")
@doc(status=204)
def delete_webhook(webhook_id: str) -> ResponseReturnValue:
    """Stop an endpoint: nothing more is sent to it (its delivery log goes too). 204. 404."""
    webhooks.delete(g.api_key, webhook_id, now())
    return "", 204


@bp.get("/<webhook_id>/deliveries")
@doc(query=DeliveryListArgs, response=DeliveryPage)
def list_deliveries(webhook_id: str) -> ResponseReturnValue:
    """An endpoint's deliveries, newest first, ``?status=pending|delivered|failed``, each
    with its last attempts. 404, 422."""
    args = list_args(DeliveryListArgs)
    page = webhooks.deliveries_page(
        g.api_key, webhook_id, args["limit"], decode(args["cursor"], "int"), args["status"]
    )
    return listed(page)
