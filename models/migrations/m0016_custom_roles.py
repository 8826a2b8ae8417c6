"""``organization.custom_roles``: the roles an organization defines itself (docs/API.md
1.3, "Custom roles"), JSON text, null for none: ``{key: {"name", "permissions": [[type,
permission], ...], "created_at", "updated_at", "created_by"}}``. The decision facts read it
with the organization (models/facts.py), in the same round trip, so redefining a role is a
change to the organization's row and the change notices of m0005 already carry it. Added
only when missing (0001 may have created the table from today's model)."""

import peewee


def up(database: peewee.Database) -> None:
    columns = {c.name for c in database.get_columns("organization")}
    if "custom_roles" not in columns:
        database.execute_sql('ALTER TABLE "organization" ADD COLUMN custom_roles TEXT NULL')
