"""Requests to join an organization (``join_request``), approved, declined or expired. Not
a decision fact (the membership an approval writes is): no change-counter trigger."""

import peewee

from models.join_requests import JoinRequest


def up(database: peewee.Database) -> None:
    database.create_tables([JoinRequest], safe=True)
