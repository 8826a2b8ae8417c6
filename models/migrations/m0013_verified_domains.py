"""Verified domains (``domain``): the TXT token an organization publishes and what a
verified domain offers its users; ``verified_name`` unique, so a domain is verified by one
organization at most. Not a decision fact: no change-counter trigger."""

import peewee

from models.domains import Domain


def up(database: peewee.Database) -> None:
    database.create_tables([Domain], safe=True)
