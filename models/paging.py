"""The one keyset paginator: every list of the service pages by a key, never by an offset,
so a page costs the same on the millionth row as on the first, and rows written between two
pages neither repeat nor vanish."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Page:
    """The rows of one page, and the key to ask the next page after (None: no more)."""

    rows: list
    next: Any


def keyset(
    query: Any,
    key: Any,
    limit: int,
    after: Any = None,
    keep: Callable[[Any], bool] | None = None,
    most: int | None = None,
    *,
    descending: bool = False,
    key_of: Callable[[Any], Any] | None = None,
) -> Page:
    """Rows of ``query`` ordered by the field ``key``, after the value ``after``, up to
    ``limit``. ``keep`` filters rows in Python (a decision per row); then the scan looks at
    ``most`` rows at most, and ``next`` says where the next page goes on, even when this one
    holds fewer than ``limit`` rows. ``descending``: newest first (after: below it);
    ``key_of``: a row's key when it is not the row's attribute ``key.name`` (a key of a
    joined model)."""
    value_of = key_of or (lambda row: _key_of(row, key))
    order, past = (key.desc(), key.__lt__) if descending else (key, key.__gt__)
    if keep is None:
        bounded = query.where(past(after)) if after is not None else query
        rows = list(bounded.order_by(order).limit(limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, value_of(rows[-1]) if more else None)
    found: list = []
    scanned, last = 0, after
    batch_size = min(limit + 1, 200)
    while True:
        bounded = query.where(past(last)) if last is not None else query
        batch = list(bounded.order_by(order).limit(batch_size))
        for row in batch:
            if len(found) == limit:
                return Page(found, last)  # a row follows the page
            scanned += 1
            last = value_of(row)
            if keep(row):
                found.append(row)
        if len(batch) < batch_size:
            return Page(found, None)
        if most is not None and scanned >= most:
            return Page(found, last)  # looked at enough for one request: the next page goes on


def _key_of(row: Any, key: Any) -> Any:
    """The value of ``key`` on ``row``: for a foreign key its column (``user_id``), not the
    row it names (which would cost one more query)."""
    return getattr(row, getattr(key, "object_id_name", key.name))
