"""SCIM 2.0 provisioning: each organization's directory (``scim_directory``: its token's
hash, the user whose authority its changes carry, the default role) and the users it
provisioned (``scim_user``) and the groups, each a team (``scim_group``)."""

import peewee

from models.scim import SCIM_MODELS


def up(database: peewee.Database) -> None:
    database.create_tables(SCIM_MODELS, safe=True)
