"""The schema as ``flask db init`` created it before migrations existed: the tables, the
change counter and its triggers, and PostgreSQL's subtree index. Safe on a database that
already has them."""

import peewee

from models.audit import AuditEvent
from models.generation import Generation
from models.keys import ApiKey
from models.orgs import Invitation, Membership, Organization
from models.resources import Grant, Resource
from models.users import User

TABLES = [
    User,
    Organization,
    Membership,
    Invitation,
    Resource,
    Grant,
    ApiKey,
    AuditEvent,
    Generation,
]
WATCHED = ("membership", "grant", "resource", "organization", "api_key")


def up(database: peewee.Database) -> None:
    database.create_tables(TABLES, safe=True)
    counter = Generation._meta.table_name
    if isinstance(database, peewee.SqliteDatabase):
        database.execute_sql(f'INSERT OR IGNORE INTO "{counter}" (id, value) VALUES (1, 0)')
        bump = f'UPDATE "{counter}" SET value = value + 1 WHERE id = 1;'
        events = [(t, e) for t in WATCHED for e in ("INSERT", "UPDATE", "DELETE")]
        events += [("user", "INSERT"), ("user", "DELETE")]
        for table, event in events:
            database.execute_sql(
                f'CREATE TRIGGER IF NOT EXISTS "bump_{table}_{event.lower()}" AFTER {event} '
                f'ON "{table}" BEGIN {bump} END'
            )
        return
    database.execute_sql(
        f'INSERT INTO "{counter}" (id, value) VALUES (1, 0) ON CONFLICT (id) DO NOTHING'
    )
    database.execute_sql(
        "CREATE OR REPLACE FUNCTION orgauthz_bump() RETURNS trigger AS $$ BEGIN "
        f'UPDATE "{counter}" SET value = value + 1 WHERE id = 1; RETURN NULL; END $$ '
        "LANGUAGE plpgsql"
    )
    for table, kinds in [(t, "INSERT OR UPDATE OR DELETE") for t in WATCHED] + [
        ("user", "INSERT OR DELETE")
    ]:
        database.execute_sql(
            f'CREATE OR REPLACE TRIGGER "bump_{table}" AFTER {kinds} ON "{table}" '
            "FOR EACH STATEMENT EXECUTE FUNCTION orgauthz_bump()"
        )
    # ``path LIKE '/3/17/%'`` uses a btree only with a pattern operator class.
    database.execute_sql(
        'CREATE INDEX IF NOT EXISTS "resource_subtree" ON "resource" '
        "(org_id, type, path varchar_pattern_ops)"
    )
