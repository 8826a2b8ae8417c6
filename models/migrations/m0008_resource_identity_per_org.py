"""A resource is named by (organization, type, id): two organizations may register the same
type and id, each its own resource (docs/API.md, version 1.2). The unique index moves from
``(type, rid)`` to ``(org_id, type, rid)``; ``(type, rid)`` stays as a plain index, for the
checks that name no organization (access/targets.py ``find``).

Every row that was unique on (type, rid) is unique on (org_id, type, rid), so the new
index always builds. The first migration creates the tables from today's models, so on a new
database the plain ``(type, rid)`` index may already be there: every step is idempotent.
"""

import peewee


def up(database: peewee.Database) -> None:
    postgres = isinstance(database, peewee.PostgresqlDatabase)
    database.execute_sql('DROP INDEX IF EXISTS "resource_org_type_rid"')
    database.execute_sql(
        'CREATE UNIQUE INDEX "resource_org_type_rid" ON "resource" (org_id, type, rid)'
        + (" INCLUDE (path, shape, owner)" if postgres else "")
    )
    database.execute_sql('DROP INDEX IF EXISTS "resource_type_rid"')
    database.execute_sql('CREATE INDEX "resource_type_rid" ON "resource" (type, rid)')
