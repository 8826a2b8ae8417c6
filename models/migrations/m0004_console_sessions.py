"""The console's server-side sessions (the cookie holds only a random id)."""

import peewee

from models.console import ConsoleSession


def up(database: peewee.Database) -> None:
    database.create_tables([ConsoleSession], safe=True)
