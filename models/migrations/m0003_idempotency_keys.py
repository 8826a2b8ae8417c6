"""The answers kept for Idempotency-Key retries."""

import peewee

from models.idempotency import IdempotentRequest


def up(database: peewee.Database) -> None:
    database.create_tables([IdempotentRequest], safe=True)
