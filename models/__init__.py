"""Peewee models. ``db`` is a proxy bound by ``init_db``; every write goes through
``models.transaction()``."""

from typing import Any

import peewee

from models.audit import AuditEvent
from models.base import (
    JSONField,
    create_later,
    db,
    open_database,
    transaction,
    utcnow,
    write_later,
)
from models.console import ConsoleSession
from models.domains import Domain
from models.generation import Generation
from models.idempotency import IdempotentRequest
from models.join_requests import JoinRequest
from models.keys import ApiKey, ApiKeyOrg, KeyName, hash_secret
from models.orgs import Invitation, Membership, Organization
from models.outbox import OUTBOX_MODELS, Delivery, Event, EventCounter, OutboxMail, Webhook
from models.resources import Grant, Resource
from models.scim import ScimDirectory, ScimGroup, ScimUser
from models.teams import TEAM_MODELS, Team, TeamGrant, TeamMember
from models.users import User, UserEmail

MODELS = [
    User,
    Organization,
    Membership,
    Invitation,
    Resource,
    Grant,
    ApiKey,
    ApiKeyOrg,
    AuditEvent,
    Generation,
    IdempotentRequest,
    ConsoleSession,
    *OUTBOX_MODELS,
    UserEmail,
    ScimDirectory,
    ScimUser,
    ScimGroup,
    *TEAM_MODELS,
    Domain,
    JoinRequest,
]


def init_db(url: str, **options: Any) -> peewee.Database:
    """Bind the proxy to the database at ``url`` and return it."""
    database = open_database(url, **options)
    db.initialize(database)
    return database


def create_tables() -> list:
    """Bring the database to the newest schema: apply the pending migrations
    (models/migrations, ``flask db upgrade``). Returns the names applied."""
    from models.migrate import upgrade

    return upgrade(db.obj)


def drop_tables() -> None:
    """Drop every table and the record of migrations (the tests use it on PostgreSQL)."""
    from models.migrate import TABLE

    with db.connection_context():
        db.drop_tables(MODELS, safe=True, cascade=True)
        db.execute_sql(f'DROP TABLE IF EXISTS "{TABLE}"')


__all__ = [
    "MODELS",
    "ApiKey",
    "ApiKeyOrg",
    "AuditEvent",
    "ConsoleSession",
    "Delivery",
    "Event",
    "EventCounter",
    "OutboxMail",
    "Webhook",
    "Grant",
    "IdempotentRequest",
    "Invitation",
    "JSONField",
    "KeyName",
    "Membership",
    "Organization",
    "Resource",
    "ScimDirectory",
    "ScimGroup",
    "ScimUser",
    "Team",
    "TeamGrant",
    "TeamMember",
    "User",
    "UserEmail",
    "Domain",
    "JoinRequest",
    "create_later",
    "create_tables",
    "db",
    "drop_tables",
    "hash_secret",
    "init_db",
    "open_database",
    "transaction",
    "utcnow",
    "write_later",
]
