"""``organization.admin_ip_allowlist``: the CIDR ranges an organization's settings may be
changed from (docs/API.md 1.3, "Request context"), JSON text, null for none. The decision
facts read it with the organization (models/facts.py), so a change to it is a change to the
organization's row: the change notices of m0005 already carry it. Added only when missing
(0001 may have created the table from today's model)."""

import peewee


def up(database: peewee.Database) -> None:
    columns = {c.name for c in database.get_columns("organization")}
    if "admin_ip_allowlist" not in columns:
        database.execute_sql('ALTER TABLE "organization" ADD COLUMN admin_ip_allowlist TEXT NULL')
