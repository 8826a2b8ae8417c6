"""The database handle, the clock and the field types every model shares."""

import datetime
import json
import time
from typing import Any

import peewee
from playhouse.db_url import connect, register_database
from playhouse.pool import PooledDatabase, PooledSqliteDatabase
from playhouse.postgres_ext import PooledPostgresqlExtDatabase

# Bound to a real database by ``init_db`` (in the app factory, the CLI and the tests).
db = peewee.DatabaseProxy()
# A unique index refused a write (the domain core turns it into a conflict); the transaction
# it broke is rolled back.
IntegrityError = peewee.IntegrityError


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


class _LeanPool(PooledDatabase):
    """Checkout and checkin with no round trip and no process-wide lock held across I/O.

    Peewee's pool pings every connection it lends (``SELECT 1`` on PostgreSQL) while holding
    both its own lock and the database's process-wide ``_lock``, so the threads of a worker
    queued behind each other's pings on every request. Here ``connect``/``close`` take no
    database-wide lock (a connection's state is per thread already; the pool's own lock
    guards only its heap, for microseconds), and a connection is pinged only when it sat
    idle longer than ``PING_IDLE_SECONDS``: a busy worker reuses connections within
    milliseconds, and one that lost its server while in use fails its request with a 503
    (routes/errors.py resets only that connection), as before.
    """

    PING_IDLE_SECONDS = 5.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = peewee._NoopLock()  # the state it guarded is thread-local
        self._returned: dict = {}  # id(conn) -> monotonic time it came back to the pool

    def _close(self, conn: Any, close_conn: bool = False) -> Any:
        self._returned[id(conn)] = time.monotonic()
        return super()._close(conn, close_conn)

    def _close_raw(self, conn: Any) -> Any:
        self._returned.pop(id(conn), None)
        return super()._close_raw(conn)

    def _idle_too_long(self, conn: Any) -> bool:
        returned = self._returned.get(id(conn))
        return returned is None or time.monotonic() - returned > self.PING_IDLE_SECONDS


class LeanPooledPostgresqlDatabase(_LeanPool, PooledPostgresqlExtDatabase):
    """PostgreSQL, pooled (see ``_LeanPool``)."""

    def _is_closed(self, conn: Any) -> bool:
        if conn.closed:
            return True
        status = conn.get_transaction_status()  # local: no round trip
        if status == 4:  # TRANSACTION_STATUS_UNKNOWN: the server is gone
            return True
        if status != 0 or self._idle_too_long(conn):  # not idle, or idle for long: check
            return self._adapter.is_connection_closed(conn)
        return False


class LeanPooledSqliteDatabase(_LeanPool, PooledSqliteDatabase):
    """SQLite, pooled (see ``_LeanPool``; its connections are local, never pinged)."""


register_database(LeanPooledPostgresqlDatabase, "postgresqllean+pool")
register_database(LeanPooledSqliteDatabase, "sqlitelean+pool")


def open_database(url: str, **options: Any) -> peewee.Database:
    """Open the database named by ``url`` (``sqlite:///path`` or ``postgresql://...``).

    SQLite gets WAL, a busy timeout and foreign keys, so several gunicorn workers can share
    the file; connections to either are pooled per worker. ``options`` go to the driver
    (the tests pass a PostgreSQL ``search_path`` to get a schema of their own).
    """
    if url.startswith("sqlite"):
        # Pooled, so the PRAGMAs run once per connection, not once per request. The pool lends
        # a connection to one thread at a time, so SQLite's same-thread check can go.
        url = url.replace("sqlite://", "sqlitelean+pool://", 1)
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
        url = url.replace("postgresql://", "postgresqllean+pool://", 1).replace(
            "postgres://", "postgresqllean+pool://", 1
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
