"""The connection pool lends a connection with no round trip and no process-wide lock
(models/base.py): a busy worker's checkouts never ping; one idle longer than
PING_IDLE_SECONDS is checked before it is lent."""

import threading

import peewee
import pytest

from models import base, db


@pytest.fixture
def pings(app, backend, monkeypatch):
    if backend != "postgres":
        pytest.skip("SQLite connections are local: never pinged")
    calls = []
    adapter = db.obj._adapter
    real = adapter.is_connection_closed
    monkeypatch.setattr(
        adapter, "is_connection_closed", lambda conn: calls.append(conn) or real(conn)
    )
    return calls


def test_no_ping_and_no_database_lock_per_checkout(pings):
    assert isinstance(db.obj._lock, peewee._NoopLock)
    for _ in range(3):  # the first checkout may open (or check) a connection
        with db.connection_context():
            db.execute_sql("SELECT 1")
    pings.clear()
    for _ in range(50):
        with db.connection_context():
            db.execute_sql("SELECT 1")
    assert pings == []


def test_a_connection_idle_for_long_is_checked(pings, monkeypatch):
    with db.connection_context():
        db.execute_sql("SELECT 1")
    monkeypatch.setattr(base._LeanPool, "PING_IDLE_SECONDS", 0.0)
    pings.clear()
    with db.connection_context():
        db.execute_sql("SELECT 1")
    assert len(pings) == 1


def test_threads_share_the_pool(app):
    errors = []

    def work():
        try:
            for _ in range(20):
                with db.connection_context():
                    assert db.execute_sql("SELECT 1").fetchall() == [(1,)]
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
