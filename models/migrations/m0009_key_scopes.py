"""Keys have a scope: ``api_key.scoped`` and the ``api_key_org`` rows of a scoped key's
organizations; a webhook's ``orgs`` filter.

A change to a key's organizations is a change to the key: it moves the change counter and,
on PostgreSQL, notifies ``{"k": true}`` as a change to ``api_key`` does (m0005), so every
worker forgets the keys it checked and reads the new scope on the key's next request.
Columns are added only when missing (an earlier migration may have created the table from
today's model).
"""

import peewee

from models.keys import ApiKeyOrg

TABLE = "api_key_org"


def _add_column(database: peewee.Database, table: str, ddl: str) -> None:
    name = ddl.split()[0]
    if name not in {c.name for c in database.get_columns(table)}:
        database.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN {ddl}')


def up(database: peewee.Database) -> None:
    false = "0" if isinstance(database, peewee.SqliteDatabase) else "FALSE"
    _add_column(database, "api_key", f"scoped BOOLEAN NOT NULL DEFAULT {false}")
    _add_column(database, "webhook", "orgs TEXT NOT NULL DEFAULT '[]'")
    database.create_tables([ApiKeyOrg], safe=True)
    if isinstance(database, peewee.SqliteDatabase):
        bump = 'UPDATE "generation" SET value = value + 1 WHERE id = 1;'
        for event in ("INSERT", "UPDATE", "DELETE"):
            database.execute_sql(
                f'CREATE TRIGGER IF NOT EXISTS "bump_{TABLE}_{event.lower()}" AFTER {event} '
                f'ON "{TABLE}" BEGIN {bump} END'
            )
        return
    refs = {
        "INSERT": "NEW TABLE AS new_rows",
        "DELETE": "OLD TABLE AS old_rows",
        "UPDATE": "NEW TABLE AS new_rows OLD TABLE AS old_rows",
    }
    for event, ref in refs.items():
        database.execute_sql(
            f'CREATE OR REPLACE TRIGGER "changed_{TABLE}_{event.lower()}" AFTER {event} '
            f'ON "{TABLE}" REFERENCING {ref} FOR EACH STATEMENT '
            "EXECUTE FUNCTION orgauthz_changed('key', '')"
        )
    database.execute_sql(
        f'CREATE OR REPLACE TRIGGER "bump_{TABLE}_truncate" AFTER TRUNCATE ON "{TABLE}" '
        "FOR EACH STATEMENT EXECUTE FUNCTION orgauthz_bump()"
    )
