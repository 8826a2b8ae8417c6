"""``fully_consistent`` decisions share the worker's read of the change position
(access/sharedread.py): a request uses only a read begun after it arrived, so a change
committed before the request began is always decided on; requests that arrive while a read
is in flight share the next one; a wait is bounded, and a failed read is a 503."""

import threading

import peewee
import pytest

from access.cache import CACHE
from access.errors import FactsUnavailable
from access.sharedread import SharedRead
from models import Membership, User, db
from tests.support import wait_until

DATASET = {"type": "Dataset", "id": "pix4d-bridge-scan"}
NOW = {"consistency": {"mode": "fully_consistent"}}


class Gate:
    """A read of ``value`` that takes its snapshot when called, then waits until released
    (its first call only): a read in flight for as long as the test wants."""

    def __init__(self) -> None:
        self.value = 0
        self.calls = 0
        self.release = threading.Event()

    def __call__(self) -> int:
        self.calls += 1
        seen = self.value
        if self.calls == 1:
            assert self.release.wait(10), "never released"
        return seen


def started(target, *args) -> tuple[threading.Thread, list]:
    out: list = []

    def run() -> None:
        try:
            out.append(target(*args))
        except Exception as exc:  # noqa: BLE001 -- the test reads what was raised
            out.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def test_a_request_arriving_during_a_read_waits_for_the_next_one():
    gate = Gate()
    shared = SharedRead(gate)
    first, got_first = started(shared)
    wait_until(lambda: gate.calls == 1, what="the first read to start")
    gate.value = 1  # committed while that read is in flight, before the second request
    second, got_second = started(shared)
    wait_until(lambda: shared.waiting == 1, what="the second request to wait")
    gate.release.set()
    first.join(10), second.join(10)
    assert got_first == [0]  # it began before the change
    assert got_second == [1]  # never the read that was in flight when it arrived
    assert shared.reads == 2


def test_requests_that_arrive_during_a_read_share_one_read():
    gate = Gate()
    shared = SharedRead(gate)
    first, _ = started(shared)
    wait_until(lambda: gate.calls == 1, what="the first read to start")
    others = [started(shared) for _ in range(15)]
    wait_until(lambda: shared.waiting == 15, what="every request to wait")
    gate.release.set()
    first.join(10)
    for thread, out in others:
        thread.join(10)
        assert out == [0]
    assert shared.reads == 2  # 16 requests, two reads: the one in flight and the next


def test_a_wait_is_bounded_and_a_failed_read_fails_every_waiter():
    gate = Gate()
    shared = SharedRead(gate, timeout=0.05)
    first, _ = started(shared)
    wait_until(lambda: gate.calls == 1, what="the first read to start")
    late, got = started(shared)
    late.join(10)
    assert isinstance(got[0], FactsUnavailable)  # waited its bound, then a 503
    gate.release.set()
    first.join(10)

    reads: list = []

    def broken() -> int:
        reads.append(1)
        if len(reads) == 1:  # in flight until two requests wait for the next read
            wait_until(lambda: shared.waiting == 2, what="two requests to wait")
            return 0
        raise OSError("connection lost")

    shared = SharedRead(broken)
    maker, _ = started(shared)
    wait_until(lambda: reads == [1], what="the read to start")
    waiters = [started(shared) for _ in range(2)]
    maker.join(10)
    for thread, _ in waiters:
        thread.join(10)
    got = sorted((type(out[0]).__name__, str(out[0])) for _, out in waiters)
    # the one that made the read: the driver's error, as without sharing; the other: a 503
    assert got[0] == (
        "FactsUnavailable",
        "the change position could not be read: OSError: connection lost",
    ) and got[1] == ("OSError", "connection lost")


def by_hand(user: str, owner: bool) -> None:
    """Make ``user`` an owner of org-pix4d, or no member, outside the service (no token)."""
    with db.connection_context():
        if owner:
            Membership.create(user=user, org="org-pix4d", role="owner")
        else:
            Membership.delete().where(Membership.user == user).execute()


def test_a_change_committed_before_the_request_is_always_decided_on(app, api, demo):
    users = [f"shared-{i}" for i in range(6)]
    with db.connection_context():
        for user in users:
            User.create(id=user, email=f"{user}@example.com", email_key=f"{user}@example.com")
    reads = CACHE.now.reads
    wrong: list = []

    def toggle(user: str) -> None:
        from tests.conftest import Api

        client = Api(app.test_client(), api.key)
        for n in range(8):
            by_hand(user, owner=n % 2 == 0)
            allowed = client.allowed(user, "view", DATASET, **NOW)
            if allowed is not (n % 2 == 0):
                wrong.append((user, n, allowed))

    threads = [threading.Thread(target=toggle, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert wrong == []
    assert CACHE.now.reads - reads <= len(users) * 8


def test_requests_of_a_worker_share_the_database_read(app, api, demo, monkeypatch):
    """Eight fully_consistent checks at once while a position read is held in flight: two
    reads of the database for the eight."""
    assert api.allowed("pix4d-member", "view", DATASET, **NOW) is True  # warm
    read, release = CACHE.now._read, threading.Event()
    calls: list = []

    def held() -> int:
        calls.append(1)
        if len(calls) == 1:
            wait_until(lambda: CACHE.now.waiting == 7, what="seven requests to wait")
            release.set()
        return read()

    monkeypatch.setattr(CACHE.now, "_read", held)
    reads = CACHE.now.reads
    results: list = []

    def check() -> None:
        from tests.conftest import Api

        client = Api(api.client.application.test_client(), api.key)
        results.append(client.allowed("pix4d-member", "view", DATASET, **NOW))

    first = threading.Thread(target=check)
    first.start()
    wait_until(lambda: len(calls) == 1, what="the first read to start")
    rest = [threading.Thread(target=check) for _ in range(7)]
    for t in rest:
        t.start()
    for t in [first, *rest]:
        t.join(60)
    assert results == [True] * 8
    assert CACHE.now.reads - reads == 2


@pytest.fixture
def no_position(monkeypatch):
    def lost() -> int:
        raise peewee.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(CACHE.now, "_read", lost)


def test_a_failed_position_read_is_a_503_deny(api, demo, no_position):
    response = api.post(
        "/v1/authorize",
        {"actor": {"id": "pix4d-owner"}, "action": "view", "resource": DATASET, **NOW},
    )
    assert response.status_code == 503, response.get_json()
    assert response.get_json()["allowed"] is False
