"""Teams (``team``, ``team_member``, ``team_grant``) and access that expires
(``membership.expires_at``, ``grant.expires_at``, ``invitation.membership_days``; the team
tables are made with theirs).

Each team table carries ``org_id``, so a change to it is a change to that organization's
facts: on PostgreSQL the triggers of m0005 (``orgauthz_changed('org', 'org_id')``) bump the
change counter and notify the organization, and ``TRUNCATE`` bumps it (m0002); on SQLite a
trigger bumps the counter, as for memberships and grants. Columns are added only when
missing (0001 may have created the tables from today's models).
"""

import peewee

from models.teams import TEAM_MODELS

TABLES = ("team", "team_member", "team_grant")
REFS = {
    "INSERT": "NEW TABLE AS new_rows",
    "DELETE": "OLD TABLE AS old_rows",
    "UPDATE": "NEW TABLE AS new_rows OLD TABLE AS old_rows",
}


def _add_column(database: peewee.Database, table: str, ddl: str) -> None:
    name = ddl.split()[0]
    if name not in {c.name for c in database.get_columns(table)}:
        database.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN {ddl}')


def up(database: peewee.Database) -> None:
    stamp = "DATETIME" if isinstance(database, peewee.SqliteDatabase) else "TIMESTAMP"
    _add_column(database, "membership", f"expires_at {stamp} NULL")
    _add_column(database, "grant", f"expires_at {stamp} NULL")
    _add_column(database, "invitation", "membership_days INTEGER NULL")
    database.create_tables(TEAM_MODELS, safe=True)
    for table in ("membership", "grant"):
        database.execute_sql(
            f'CREATE INDEX IF NOT EXISTS "{table}_expires_at" ON "{table}" (expires_at)'
        )
    if isinstance(database, peewee.SqliteDatabase):
        bump = 'UPDATE "generation" SET value = value + 1 WHERE id = 1;'
        for table in TABLES:
            for event in REFS:
                database.execute_sql(
                    f'CREATE TRIGGER IF NOT EXISTS "bump_{table}_{event.lower()}" AFTER {event} '
                    f'ON "{table}" BEGIN {bump} END'
                )
        return
    for table in TABLES:
        for event, ref in REFS.items():
            database.execute_sql(
                f'CREATE OR REPLACE TRIGGER "changed_{table}_{event.lower()}" AFTER {event} '
                f'ON "{table}" REFERENCING {ref} FOR EACH STATEMENT '
                "EXECUTE FUNCTION orgauthz_changed('org', 'org_id')"
            )
        database.execute_sql(
            f'CREATE OR REPLACE TRIGGER "bump_{table}_truncate" AFTER TRUNCATE ON "{table}" '
            "FOR EACH STATEMENT EXECUTE FUNCTION orgauthz_bump()"
        )
