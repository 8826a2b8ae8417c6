"""Apply the numbered migrations of ``models/migrations`` (``flask db upgrade``).

``schema_migration`` records each applied one. ``upgrade`` applies the pending ones in
order, each in its own transaction with its record; on PostgreSQL an advisory lock makes two
processes upgrading at once take turns. ``pending`` is what /readyz reports.
"""

import datetime
import importlib
import pkgutil
import re
from contextlib import AbstractContextManager

import peewee

from models import migrations
from models.base import db

TABLE = "schema_migration"
_NAME = re.compile(r"^m(\d{4})_(\w+)$")
_LOCK_KEY = 74_113_001  # the advisory lock of "orgauthz migrations"


def available() -> list:
    """(number, name, module) of every migration, in order."""
    found = []
    for info in pkgutil.iter_modules(migrations.__path__):
        match = _NAME.match(info.name)
        if match:
            module = importlib.import_module(f"{migrations.__name__}.{info.name}")
            found.append((int(match.group(1)), match.group(2), module))
    found.sort(key=lambda m: m[0])
    numbers = [n for n, _, _ in found]
    if len(set(numbers)) != len(numbers):
        raise RuntimeError(f"two migrations share a number: {numbers}")
    return found


def _ensure_table(database: peewee.Database) -> None:
    database.execute_sql(
        f'CREATE TABLE IF NOT EXISTS "{TABLE}" (version INTEGER PRIMARY KEY, '
        "name VARCHAR(200) NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )


def applied(database: peewee.Database | None = None) -> set:
    """The numbers of the migrations applied to the database (none before the first)."""
    database = database or db.obj
    if TABLE not in database.get_tables():
        return set()
    return {row[0] for row in database.execute_sql(f'SELECT version FROM "{TABLE}"').fetchall()}


def pending(database: peewee.Database | None = None) -> list:
    """The names (``0002_name``) of the migrations not yet applied, in order."""
    done = applied(database)
    return [f"{n:04d}_{name}" for n, name, _ in available() if n not in done]


def upgrade(database: peewee.Database | None = None) -> list:
    """Apply every pending migration, in order; returns the names applied.

    Several processes may upgrade at once (every node of a deployment at its start): on
    PostgreSQL a session advisory lock makes them take turns for the whole upgrade, the
    record table's creation included; on SQLite each step takes the write lock first
    (BEGIN IMMEDIATE), so the second waits instead of failing.
    """
    database = database or db.obj
    postgres = isinstance(database, peewee.PostgresqlDatabase)
    done = []
    with database.connection_context():
        if postgres:
            database.execute_sql("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            with _step(database):
                _ensure_table(database)
            for number, name, module in available():
                with _step(database):
                    already = database.execute_sql(
                        f'SELECT 1 FROM "{TABLE}" WHERE version = {database.param}', (number,)
                    ).fetchall()
                    if already:
                        continue
                    module.up(database)
                    database.execute_sql(
                        f'INSERT INTO "{TABLE}" (version, name, applied_at) VALUES '
                        f"({database.param}, {database.param}, {database.param})",
                        (number, name, datetime.datetime.now(datetime.UTC).replace(tzinfo=None)),
                    )
                done.append(f"{number:04d}_{name}")
        finally:
            if postgres:
                database.execute_sql("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return done


def _step(database: peewee.Database) -> AbstractContextManager:
    """One migration's transaction: SQLite takes its write lock at once."""
    if isinstance(database, peewee.SqliteDatabase):
        return database.atomic("IMMEDIATE")
    return database.atomic()
