"""Cursor pagination: ``?limit=`` (1..500, default 50) and an opaque ``cursor``.

The cursor encodes the sort key of the last row sent; the next page starts after it, so
pages are stable while rows are added or removed, and never silently truncated.
"""

import base64
import json

from flask import request

from access.errors import ApiError
from routes.schemas import PageArgs


def page_args(source: dict | None = None) -> tuple:
    """(limit, cursor value or None) from the query string (or ``source``). 422 if invalid."""
    args = PageArgs().load(
        {k: v for k, v in (source or request.args).items() if k in ("limit", "cursor")}
    )
    return args["limit"], decode(args["cursor"]) if args["cursor"] else None


def encode(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def decode(cursor: str):
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError as exc:
        raise ApiError(
            422, "the cursor is not one this service gave", {"cursor": ["invalid"]}
        ) from exc


def paginate(query, key, limit: int, after, dump) -> dict:
    """One page of ``query`` ordered by ``key`` (a field), after the cursor value ``after``."""
    if after is not None:
        query = query.where(key > after)
    rows = list(query.order_by(key).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode(getattr(rows[-1], key.name)) if more and rows else None
    return {"items": [dump(r) for r in rows], "next_cursor": next_cursor}
