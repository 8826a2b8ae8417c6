"""A counter that every change to decision facts bumps, by database triggers: the change
position of the database, and the consistency tokens made from it.

Triggers, not application code, bump it (models/migrations installs them), so no write path
can forget to (a membership, grant, resource, organization or API key written by any code,
or by hand in psql, even a TRUNCATE). User rows bump it only when inserted or deleted:
``last_active_at`` updates must not. On PostgreSQL the same statement-level triggers
``NOTIFY`` the organizations a statement touched (models/migrations/m0005_*), so each worker's
fact cache (access/cache.py) drops only what changed; on SQLite a worker reads this row per
decision request.

The counter is a change position a replica can answer too: its row is replicated with
everything else, and a replica that has replayed a write shows a value at least the one the
write committed at. Writers bump it under its row lock, so positions are in commit order.

A **consistency token** is that position, as an opaque string: ``"ct" + decimal + "." +
4 hex digits of a checksum``; the checksum makes a mistyped or made-up token a 422 instead of
a silent wait.
"""

import functools
import re
import zlib

import peewee

from models.base import BaseModel


class Generation(BaseModel):
    id = peewee.IntegerField(primary_key=True)
    value = peewee.BigIntegerField(default=0)


def current(database: peewee.Database | peewee.DatabaseProxy) -> int:
    """The counter's value (one primary-key read)."""
    rows = database.execute_sql(
        f'SELECT value FROM "{Generation._meta.table_name}" WHERE id = 1'
    ).fetchall()
    return rows[0][0] if rows else -1


_TOKEN = re.compile(r"ct(0|[1-9][0-9]{0,18})\.([0-9a-f]{4})")


def _check(position: int) -> str:
    return f"{zlib.crc32(b'orgauthz:%d' % position) & 0xFFFF:04x}"


@functools.lru_cache(maxsize=256)  # every answer carries one; the position rarely moves
def token(position: int) -> str:
    """The consistency token of a change position."""
    return f"ct{max(position, 0)}.{_check(max(position, 0))}"


def parse_token(text: object) -> int | None:
    """The position a token of this service names, or None when it is not one (malformed)."""
    if not isinstance(text, str):
        return None
    match = _TOKEN.fullmatch(text)
    if match is None or match.group(2) != _check(int(match.group(1))):
        return None
    return int(match.group(1))
