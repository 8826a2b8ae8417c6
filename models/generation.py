"""A counter that every change to decision facts bumps, by database triggers.

The decision endpoints cache facts across requests (access/cache.py) and read this one row
at the start of each request: if it moved, the cache is dropped. Triggers, not application
code, bump it (models/migrations installs them), so no write path can forget to (a
membership, grant, resource, organization or API key written by any code, or by hand in
psql, even a TRUNCATE, invalidates the cache). User rows bump it only when inserted or
deleted: ``last_active_at`` updates must not.
"""

import peewee

from models.base import BaseModel


class Generation(BaseModel):
    id = peewee.IntegerField(primary_key=True)
    value = peewee.BigIntegerField(default=0)


def current(database: peewee.Database) -> int:
    """The counter's value (one primary-key read)."""
    rows = database.execute_sql(
        f'SELECT value FROM "{Generation._meta.table_name}" WHERE id = 1'
    ).fetchall()
    return rows[0][0] if rows else -1
