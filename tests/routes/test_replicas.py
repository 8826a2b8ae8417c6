"""Reads from a real PostgreSQL streaming replica (``DATABASE_REPLICA_URLS``), and the
"new enemy" guarantee across it: a check that passes the token of a revoke is never decided
on a replica that has not replayed the revoke. The test runs its own primary and replica
(initdb, pg_basebackup -R: tests/pgcluster.py) and pauses the replica's replay by hand.

Every decision answer names what decided it (``X-Decided-By``: ``cache``, ``primary`` or
``replica:<host>:<port>``) and the position it was decided at (``consistency_token``)."""

import time

import pytest

from models import Membership, db
from models.generation import parse_token
from tests.pgcluster import Cluster, needs_pg_server, wait_until_replayed
from tests.support import READERS, replica_app, revoke, view, wait_listening, wait_until

pytestmark = needs_pg_server


@pytest.fixture(scope="module")
def servers():
    cluster = Cluster()
    try:
        primary = cluster.primary()
        replica = cluster.replica(primary)
        yield primary, replica
    finally:
        cluster.close()


@pytest.fixture
def served(servers, tmp_path):
    """The app on the primary, reading decisions from the replica, caught up."""
    primary, replica = servers
    replica.sql("SELECT pg_wal_replay_resume()")
    app, headers = replica_app(primary, replica.url, tmp_path)
    wait_until_replayed(primary, replica)
    wait_listening()
    client = app.test_client()

    def check(actor: str, consistency: dict | None = None):
        response = client.post("/v1/authorize", json=view(actor, consistency), headers=headers)
        assert response.status_code == 200, response.get_json()
        return response

    yield check, primary, replica, f"replica:127.0.0.1:{replica.port}"
    replica.sql("SELECT pg_wal_replay_resume()")
    if hasattr(db.obj, "close_all"):
        db.obj.close_all()


def position(response) -> int:
    return parse_token(response.get_json()["consistency_token"])


def test_a_revoke_the_replica_has_not_replayed_is_never_served_with_its_token(served):
    check, primary, replica, replica_label = served
    first = check(READERS[0])
    assert first.get_json()["allowed"] is True
    assert first.headers["X-Decided-By"] == replica_label  # facts read on the replica

    replica.sql("SELECT pg_wal_replay_pause()")
    revoked = revoke(READERS[:3])
    fresh = {"mode": "at_least_as_fresh", "token": revoked}

    # With the revoke's token: the replica is behind it, so the primary decides: denied.
    answer = check(READERS[0], fresh)
    assert answer.get_json()["allowed"] is False
    assert answer.headers["X-Decided-By"] == "primary"
    assert position(answer) >= parse_token(revoked)

    # Without a token: the replica (within the lag bound) serves, as it is, and says so:
    # the answer names a position before the revoke.
    stale = check(READERS[1])
    assert stale.headers["X-Decided-By"] == replica_label
    assert stale.get_json()["allowed"] is True
    assert position(stale) < parse_token(revoked)

    # Replay resumed: the replica has the revoke and serves the token itself.
    replica.sql("SELECT pg_wal_replay_resume()")
    wait_until_replayed(primary, replica)
    caught_up = check(READERS[2], fresh)
    assert caught_up.get_json()["allowed"] is False
    assert caught_up.headers["X-Decided-By"] == replica_label
    assert check(READERS[3], fresh).get_json()["allowed"] is True  # not revoked


def test_fully_consistent_is_decided_by_the_primary(served):
    check, primary, replica, replica_label = served
    replica.sql("SELECT pg_wal_replay_pause()")
    revoke(READERS[:1])
    answer = check(READERS[0], {"mode": "fully_consistent"})
    assert answer.get_json()["allowed"] is False
    assert answer.headers["X-Decided-By"] in ("primary", "cache")
    assert answer.headers["X-Decided-By"] != replica_label


def test_a_replica_past_the_lag_bound_is_skipped(served, monkeypatch):
    check, primary, replica, replica_label = served
    from access.cache import CACHE

    replica.sql("SELECT pg_wal_replay_pause()")
    revoke(READERS[:1])
    monkeypatch.setattr(CACHE, "max_lag", 0.2)
    time.sleep(0.4)  # the revoke the replica misses is now older than the bound
    answer = check(READERS[1])
    assert answer.headers["X-Decided-By"] == "primary"
    assert answer.get_json()["allowed"] is True  # not revoked; decided on the primary


def test_a_replica_that_stops_is_skipped_without_an_error_and_used_again(served):
    check, primary, replica, replica_label = served
    assert check(READERS[0]).headers["X-Decided-By"] == replica_label
    replica.stop("immediate")
    try:
        for actor in READERS[1:]:
            answer = check(actor)  # 200: the primary answers
            assert answer.get_json()["allowed"] is True
            assert answer.headers["X-Decided-By"] == "primary"
    finally:
        replica.start()
    wait_until_replayed(primary, replica)
    revoked = revoke(READERS[:1])  # the cached facts of org-pix4d go: the next check reads

    def decided_on_the_replica() -> bool:
        answer = check(READERS[0], {"mode": "at_least_as_fresh", "token": revoked})
        assert answer.get_json()["allowed"] is False
        if answer.headers["X-Decided-By"] == replica_label:
            return True
        with db.connection_context():  # a change in the org: its cached facts go
            Membership.update(role="reader").where(Membership.user == READERS[3]).execute()
        return False

    wait_until(decided_on_the_replica, timeout=20, what="the replica to be used again", every=0.2)


def test_an_expired_grant_is_denied_on_the_replica_within_a_second(served):
    """Real time: a grant two seconds from lapsing is allowed through the replica (and from
    the worker's cache), then denied from its expires_at on, never allowed after it."""
    import datetime

    from models import Grant, Resource, User
    from models.base import utcnow

    check, primary, replica, replica_label = served
    with db.connection_context():
        User.create(id="temp", email="temp@x.example", email_key="temp@x.example")
        Membership.create(user="temp", org="org-pix4d", role="member")
        folder = Resource.named("org-pix4d", "Folder", "pix4d-survey")
        lapses = utcnow() + datetime.timedelta(seconds=2)
        Grant.create(
            user="temp", resource=folder.id, org="org-pix4d", role="reader", expires_at=lapses
        )
    wait_until_replayed(primary, replica)
    first = check("temp")
    assert first.get_json()["allowed"] is True
    assert first.headers["X-Decided-By"] in (replica_label, "cache")
    answers = []
    while utcnow() < lapses + datetime.timedelta(seconds=1.5):
        asked_at = utcnow()  # checks back to back across the expiry
        answers.append((asked_at, check("temp").get_json()["allowed"]))
    # an answer asked at or after expires_at (its facts read after it) is a deny
    after = [allowed for at, allowed in answers if at >= lapses]
    assert after and not any(after), answers  # never allowed past expires_at
    assert any(allowed for at, allowed in answers if at < lapses)  # allowed until then
