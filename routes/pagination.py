"""Cursor pagination: ``?limit=`` (1..500, default 50) and an opaque ``cursor``.

The cursor encodes the sort key of the last row sent; the next page starts after it, so
pages are stable while rows are added or removed, and never silently truncated.
"""

import base64
import json
from typing import Any

from flask import request

from access.errors import Invalid
from routes.schemas import PageArgs, storable


def page_args(kind: str, source: dict | None = None) -> tuple:
    """(limit, cursor value or None) from the query string (or ``source``); the cursor must
    decode to ``kind`` (see ``decode``). 422 if invalid."""
    args = PageArgs().load(
        {k: v for k, v in (source or request.args).items() if k in ("limit", "cursor")}
    )
    return args["limit"], decode(args["cursor"], kind)


def encode(value: Any) -> str:
    """The opaque cursor of a sort key."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


_MAX_INT = 2**63 - 1


def _is_str(value: Any) -> bool:
    """A string sort key (an id): bounded, and one the database can compare (no NUL, no
    lone surrogate)."""
    return isinstance(value, str) and len(value) <= 400 and storable(value)


# The shapes a cursor may decode to, by the kind of list (its sort key).
KINDS = {
    "str": _is_str,
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= _MAX_INT,
    "pair": lambda v: isinstance(v, list) and len(v) == 2 and v[0] in ("m", "i") and _is_str(v[1]),
}


def decode(cursor: str | None, kind: str) -> Any:
    """The sort key a cursor of this service carries, or None for no cursor. The one check
    of every cursor: it must decode to the ``kind`` of the list it is sent to. Raises
    Invalid naming ``cursor`` otherwise."""
    if cursor is None or cursor == "":
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeError, RecursionError):  # RecursionError: "[[[[..." nested deep
        value = _INVALID
    if value is _INVALID or not KINDS[kind](value):
        raise Invalid("the cursor is not one this service gave", {"cursor": ["invalid"]})
    return value


_INVALID = object()


def listed(page: dict) -> dict:
    """A page of the domain core (``{"items", "next"}``) as the API lists it, with the
    next sort key as an opaque cursor."""
    after = page["next"]
    return {"items": page["items"], "next_cursor": None if after is None else encode(after)}
