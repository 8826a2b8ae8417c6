"""Peewee models. ``db`` is a proxy bound by ``init_db``; every write goes through
``models.transaction()``."""

from models.audit import AuditEvent
from models.base import JSONField, db, open_database, transaction, utcnow
from models.generation import Generation, install_triggers
from models.keys import ApiKey, hash_secret
from models.orgs import Invitation, Membership, Organization
from models.resources import Grant, Resource
from models.users import User

MODELS = [
    User,
    Organization,
    Membership,
    Invitation,
    Resource,
    Grant,
    ApiKey,
    AuditEvent,
    Generation,
]


def init_db(url: str, **options):
    """Bind the proxy to the database at ``url`` and return it."""
    database = open_database(url, **options)
    db.initialize(database)
    return database


def create_tables():
    """Create every table and index that does not exist yet (safe to run again)."""
    with db.connection_context():
        db.create_tables(MODELS, safe=True)
        install_triggers(db.obj)


def drop_tables():
    """Drop every table (the tests use it on PostgreSQL)."""
    with db.connection_context():
        db.drop_tables(MODELS, safe=True, cascade=True)


__all__ = [
    "MODELS",
    "ApiKey",
    "AuditEvent",
    "Grant",
    "Invitation",
    "JSONField",
    "Membership",
    "Organization",
    "Resource",
    "User",
    "create_tables",
    "db",
    "drop_tables",
    "hash_secret",
    "init_db",
    "open_database",
    "transaction",
    "utcnow",
]
