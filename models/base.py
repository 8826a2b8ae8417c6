"""The database handle, the clock and the field types every model shares."""

import datetime
import json
from typing import Any

import peewee
from playhouse.db_url import connect

# Bound to a real database by ``init_db`` (in the app factory, the CLI and the tests).
db = peewee.DatabaseProxy()


def utcnow() -> datetime.datetime:
    """The current UTC time, naive (what both SQLite and PostgreSQL store here)."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class JSONField(peewee.TextField):
    """A JSON document stored as text, so the same schema runs on SQLite and PostgreSQL."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, sort_keys=True)

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


class BaseModel(peewee.Model):
    # Peewee adds an automatic primary key ``id`` at run time to a model without one of its
    # own. Each such model declares it for the type checker as ``id: "peewee.AutoField[int]"``
    # (a field on the class, an int on a row), not here: a model with a string key (User,
    # Organization...) could not declare its own ``id`` over an int one.

    class Meta:
        database = db
        legacy_table_names = False


def open_database(url: str, **options: Any) -> peewee.Database:
    """Open the database named by ``url`` (``sqlite:///path`` or ``postgresql://...``).

    SQLite gets WAL, a busy timeout and foreign keys, so several gunicorn workers can share
    the file; connections to either are pooled per worker. ``options`` go to the driver
    (the tests pass a PostgreSQL ``search_path`` to get a schema of their own).
    """
    if url.startswith("sqlite"):
        # Pooled, so the PRAGMAs run once per connection, not once per request. The pool lends
        # a connection to one thread at a time, so SQLite's same-thread check can go.
        url = url.replace("sqlite://", "sqlite+pool://", 1)
        database = connect(
            url,
            max_connections=16,
            stale_timeout=300,
            check_same_thread=False,
            pragmas={
                "journal_mode": "wal",
                "foreign_keys": 1,
                "busy_timeout": 10000,
                "synchronous": "normal",
            },
            **options,
        )
    else:
        url = url.replace("postgresql://", "postgresqlext+pool://", 1).replace(
            "postgres://", "postgresqlext+pool://", 1
        )
        database = connect(url, max_connections=8, stale_timeout=300, **options)
    return database


def transaction() -> "peewee._atomic":
    """The one way to open a write transaction.

    On SQLite it takes the write lock at once (BEGIN IMMEDIATE), so two writers serialise
    instead of failing on upgrade; on PostgreSQL it is a plain transaction, and code that
    must see a stable set of rows locks them (``Organization.lock``).
    """
    if isinstance(db.obj, peewee.SqliteDatabase):
        return db.atomic("IMMEDIATE")
    return db.atomic()
