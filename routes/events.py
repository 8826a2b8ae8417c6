"""Events: ``GET /v1/events``. HTTP only: parse, call access/events.py, dump.

Events belong to the service, not to one end user: a service-wide API key reads them all,
a key bound to organizations those of its organizations only; no ``X-Actor-Id`` is needed.
"""

from flask import Blueprint, g
from flask.typing import ResponseReturnValue

from access import events
from routes.context import list_args
from routes.openapi import doc
from routes.pagination import decode, encode
from routes.schemas import EventListArgs, EventPage
from routes.schemas.inputs import _event_types

bp = Blueprint("events", __name__, url_prefix="/v1/events")


@bp.get("")
@doc(query=EventListArgs, response=EventPage)
def list_events() -> ResponseReturnValue:
    """Every committed change in commit order, after ``?after=`` (a ``next_cursor``),
    optionally of one ``org`` and some ``types`` (comma-separated), at most ``limit``.
    ``next_cursor`` is never null: poll again with it for what commits next. 422."""
    args = list_args(EventListArgs)
    after = decode(args["after"], "int")
    types = _event_types(args["types"]) if args["types"] else None
    page = events.page(after, args["org"], types, args["limit"], g.key_orgs)
    return {"items": page["items"], "next_cursor": encode(page["next"])}
