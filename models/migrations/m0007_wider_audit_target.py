"""``audit_event.target`` holds what it names: a grant's ``{type}/{rid}/grants/{user}`` is up
to 473 characters with the API's own limits, and the column held 400 (PostgreSQL refused
the write: a 503). SQLite does not enforce lengths."""

import peewee


def up(database: peewee.Database) -> None:
    if isinstance(database, peewee.PostgresqlDatabase):
        database.execute_sql('ALTER TABLE "audit_event" ALTER COLUMN target TYPE varchar(512)')
