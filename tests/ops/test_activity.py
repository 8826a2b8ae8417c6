"""The ``last_active_at`` writer (ops/activity.py): it never deadlocks with bulk member
removals or with another worker's writer, never blocks or fails a request, and its marks
stay bounded whatever the traffic.

Before the fix the writer wrote every pending mark in one transaction, one UPDATE per user in
the order seen: two writers (two workers) and a removal (which updates the removed users'
``default_org``) took the same user rows in different orders and PostgreSQL broke the cycle
by failing one of them ("deadlock detected"): the removal answered 503.
"""

import datetime
import random
import threading
import time

import pytest

from models import Membership, Organization, User, db
from ops.activity import Activity
from tests.support import wait_until

USERS = 300
BATCH = 50  # users per bulk removal
ROUNDS = 4


def _setup_org(org_id: str, user_ids: list) -> None:
    """An organization with an Owner and ``user_ids`` as new Readers whose default org it
    is (new rows, so the setup itself takes no lock the writers hold)."""
    with db.connection_context():
        if not User.select().where(User.id == "boss").exists():
            User.create(id="boss", email="boss@example.com", email_key="boss@example.com")
        Organization.create(id=org_id, name="Bulk", style="pix4d", created_by="boss")
        Membership.create(user="boss", org=org_id, role="owner")
        User.insert_many(
            [
                {"id": u, "email": f"{u}@x.test", "email_key": f"{u}@x.test", "default_org": org_id}
                for u in user_ids
            ]
        ).execute()
        Membership.insert_many(
            [{"user": u, "org": org_id, "role": "reader"} for u in user_ids]
        ).execute()


def test_concurrent_flushes_and_bulk_removals_never_deadlock(api, app, backend):
    """Two writers (two workers' marks, distinct times, shuffled) flush in a loop while four
    threads remove the same users in bulk: every removal answers 200, no flush fails."""
    if backend != "postgres":
        pytest.skip("row-lock deadlocks are PostgreSQL's (SQLite serialises writers)")
    from tests.conftest import Api

    current: list = []  # the users of the round being removed
    writers = [Activity(), Activity()]
    base = datetime.datetime(2026, 11, 23, 12, 0, 0)
    failures: list = []
    statuses: list = []
    stop = threading.Event()
    flushes = [0] * len(writers)  # each writer's flushes so far

    def write(activity: Activity, seed: int) -> None:
        rng = random.Random(seed)
        n = 0
        while not stop.is_set():
            order = current[:]
            rng.shuffle(order)
            with activity._lock:
                for j, u in enumerate(order):  # one distinct time per mark, as under load
                    activity._pending[u] = base + datetime.timedelta(seconds=n, microseconds=j)
            n += 1
            try:
                activity.flush()
            except Exception as exc:  # before the fix: "deadlock detected"
                failures.append(repr(exc))
            flushes[seed] += 1

    def remove(org_id: str, ids: list) -> None:
        client = Api(app.test_client(), api.key)
        response = client.post(f"/v1/orgs/{org_id}/members/remove", {"user_ids": ids}, actor="boss")
        statuses.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=write, args=(w, i)) for i, w in enumerate(writers)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 40
        for round_ in range(ROUNDS):
            org_id = f"org-bulk-{round_}"
            user_ids = [f"u{round_}-{i:04d}" for i in range(USERS)]
            _setup_org(org_id, user_ids)
            current[:] = user_ids
            # the writers get going: each flushes this round's users (its second flush from
            # now began after they were set)
            began = flushes[:]
            wait_until(lambda b=began: all(f >= s + 2 for f, s in zip(flushes, b)), timeout=30)
            removers = [
                threading.Thread(target=remove, args=(org_id, user_ids[i : i + BATCH]))
                for i in range(0, USERS, BATCH)
            ]
            for t in removers:
                t.start()
            for t in removers:
                t.join(timeout=max(1.0, deadline - time.monotonic()))
            if any(code != 200 for code, _ in statuses) or time.monotonic() > deadline:
                break
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    bad = [(code, body) for code, body in statuses if code != 200]
    assert not bad, bad[:3]
    assert not failures, failures[:3]
    assert len(statuses) == ROUNDS * (USERS // BATCH)
    with db.connection_context():  # the marks were written all the same
        assert User.select().where(User.last_active_at.is_null()).count() <= 1  # boss


def _marks_of(ids, clock=None, monkeypatch=None):
    """Mark every id on a fresh Activity with the database left out; returns it."""
    import ops.activity as activity

    if clock is not None:
        monkeypatch.setattr(activity, "_clock", clock, raising=False)
    act = Activity()
    act.flush = lambda: None  # the bound is what is tested here, not the writes
    when = datetime.datetime(2026, 11, 23, 12, 0, 0)
    for user_id in ids:
        act.mark(user_id, lambda: when, 0)
    return act


def test_marks_expire_so_20000_ids_over_minutes_keep_a_minute_of_them(monkeypatch):
    """The issue's 20,000 distinct (unknown) ids, one every 10 ms: only the last minute's
    marks are kept (before the fix: 20,000 entries)."""
    now = [0.0]

    def clock():
        now[0] += 0.010
        return now[0]

    act = _marks_of((f"unknown-{i}" for i in range(20_000)), clock, monkeypatch)
    assert len(act._marked) <= 60 / 0.010 + 1


def test_marks_are_bounded_in_entries_and_bytes(monkeypatch):
    """60,000 distinct 200-character ids within a minute (one worker under a flood): the LRU
    stays at its cap in entries and about its cap in bytes, and so do the pending writes."""
    import tracemalloc

    import ops.activity as activity

    ids = [f"{i:06d}".ljust(200, "x") for i in range(60_000)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    act = _marks_of(ids)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    cap = getattr(activity, "MAX_MARKS", 50_000)
    assert len(act._marked) <= cap
    assert len(act._pending) <= cap
    # What the maps add beyond the id strings (which the test holds) is bounded too.
    # Measured: before the fix 60,000 entries (5.3 MB here, plus every id kept alive: about
    # 20 MB, and on without limit); after it 45,466 entries (the byte cap), 7.4 MB.
    print(f"marks: {len(act._marked)} entries, {grown / 1e6:.1f} MB traced")
    assert grown < getattr(activity, "MAX_MARK_BYTES", 16 << 20) * 1.5


def test_ids_no_user_can_have_are_not_kept():
    act = _marks_of(["x" * 201, "nul\x00id", "lone\ud800", "ok"])
    assert list(act._marked) == ["ok"]
    assert list(act._pending) == ["ok"]


def test_a_flush_moves_rows_forward_skips_held_ones_and_writes_them_next(app, backend):
    """One statement per batch: rows are only moved forward, ids no user has are dropped,
    and (PostgreSQL) a row another transaction holds is skipped, not waited for, and
    written at the next flush."""
    early, late = datetime.datetime(2026, 11, 23, 12, 0), datetime.datetime(2026, 11, 23, 13, 0)
    with db.connection_context():
        for u in ("held", "free", "newer"):
            User.create(id=u, email=f"{u}@x.test", email_key=f"{u}@x.test")
        User.update(last_active_at=late).where(User.id == "newer").execute()
    act = Activity()
    with act._lock:
        act._pending.update({"held": early, "free": early, "newer": early, "ghost": early})
    holder = None
    if backend == "postgres":  # another transaction holds the row "held"
        import psycopg2

        holder = psycopg2.connect(db.obj.connect_params.get("dsn") or "", **_pg_params())
        holder.cursor().execute("SELECT 1 FROM \"user\" WHERE id = 'held' FOR UPDATE")
    try:
        act.flush()
        with db.connection_context():
            got = {u.id: u.last_active_at for u in User.select()}
        assert got["free"] == early and got["newer"] == late
        if holder is not None:
            assert got["held"] is None and list(act._pending) == ["held"]
            holder.rollback()
            act.flush()
            with db.connection_context():
                assert User.get_by_id("held").last_active_at == early
        else:
            assert got["held"] == early
        assert act._pending == {} and not act.failing
    finally:
        if holder is not None:
            holder.close()


def _pg_params() -> dict:
    """The connection parameters of the app's PostgreSQL database (its schema included)."""
    params = dict(db.obj.connect_params)
    params.pop("dsn", None)
    params.pop("max_connections", None)
    params.pop("stale_timeout", None)
    return {**params, "database": db.obj.database}
