"""``TRUNCATE`` moves the change counter too (PostgreSQL): the row triggers do not fire on
it, so after ``TRUNCATE "grant"`` a cached grant stayed allowed. SQLite has no TRUNCATE (a
``DELETE`` without ``WHERE`` fires the delete triggers when there are any)."""

import peewee

WATCHED = ("membership", "grant", "resource", "organization", "api_key", "user")


def up(database: peewee.Database) -> None:
    if isinstance(database, peewee.SqliteDatabase):
        return
    for table in WATCHED:
        database.execute_sql(
            f'CREATE OR REPLACE TRIGGER "bump_{table}_truncate" AFTER TRUNCATE ON "{table}" '
            "FOR EACH STATEMENT EXECUTE FUNCTION orgauthz_bump()"
        )
