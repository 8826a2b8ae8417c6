"""A counter that every change to decision facts bumps, by database triggers.

The decision endpoints cache facts across requests (authz/cache.py) and read this one row
at the start of each request: if it moved, the cache is dropped. Triggers, not application
code, bump it, so no write path can forget to (a membership, grant, resource, organization
or API key written by any code, or by hand in psql, invalidates the cache). User rows bump it
only when inserted or deleted: ``last_active_at`` updates must not.
"""

import peewee

from models.base import BaseModel

WATCHED = ("membership", "grant", "resource", "organization", "api_key")


class Generation(BaseModel):
    id = peewee.IntegerField(primary_key=True)
    value = peewee.BigIntegerField(default=0)


def install_triggers(database: peewee.Database) -> None:
    """Create the counter row and the triggers (idempotent)."""
    table = Generation._meta.table_name
    if isinstance(database, peewee.SqliteDatabase):
        database.execute_sql(f'INSERT OR IGNORE INTO "{table}" (id, value) VALUES (1, 0)')
        bump = f'UPDATE "{table}" SET value = value + 1 WHERE id = 1;'
        events = [(t, e) for t in WATCHED for e in ("INSERT", "UPDATE", "DELETE")]
        events += [("user", "INSERT"), ("user", "DELETE")]
        for t, event in events:
            database.execute_sql(
                f'CREATE TRIGGER IF NOT EXISTS "bump_{t}_{event.lower()}" AFTER {event} ON "{t}" '
                f"BEGIN {bump} END"
            )
        return
    database.execute_sql(
        f'INSERT INTO "{table}" (id, value) VALUES (1, 0) ON CONFLICT (id) DO NOTHING'
    )
    database.execute_sql(
        "CREATE OR REPLACE FUNCTION orgauthz_bump() RETURNS trigger AS $$ BEGIN "
        f'UPDATE "{table}" SET value = value + 1 WHERE id = 1; RETURN NULL; END $$ '
        "LANGUAGE plpgsql"
    )
    for t, events in [(t, "INSERT OR UPDATE OR DELETE") for t in WATCHED] + [
        ("user", "INSERT OR DELETE")
    ]:
        database.execute_sql(
            f'CREATE OR REPLACE TRIGGER "bump_{t}" AFTER {events} ON "{t}" '
            "FOR EACH STATEMENT EXECUTE FUNCTION orgauthz_bump()"
        )


def current(database: peewee.Database) -> int:
    """The counter's value (one primary-key read)."""
    rows = database.execute_sql(
        f'SELECT value FROM "{Generation._meta.table_name}" WHERE id = 1'
    ).fetchall()
    return rows[0][0] if rows else -1
