"""Replica reads at their edges (found by a review that read the change as an attacker
would), each against a real primary and real streaming replicas (tests/pgcluster.py): a
replica URL that reaches several standbys, a batch decided on a lagging replica, and
``flask db upgrade`` on a direct URL beside a pooled one."""

import pytest

import models
from app import create_app
from models import db
from models.generation import parse_token
from tests.pgcluster import Cluster, needs_pg_server, wait_until_replayed
from tests.serving import Relay
from tests.support import READERS, replica_app, revoke, view, wait_listening, wait_until

pytestmark = needs_pg_server


@pytest.fixture(scope="module")
def servers():
    cluster = Cluster()
    try:
        primary = cluster.primary()
        first = cluster.replica(primary)
        second = cluster.replica(primary)
        yield cluster, primary, first, second
    finally:
        cluster.close()


def _applied(position: int) -> None:
    from access.cache import CACHE

    wait_until(lambda: CACHE.position >= position, what="the revoke's notice to arrive")


@pytest.fixture
def resume(servers):
    yield
    for server in servers[2:]:
        server.sql("SELECT pg_wal_replay_resume()")
    if hasattr(db.obj, "close_all"):
        db.obj.close_all()


def test_a_batch_decided_on_a_lagging_replica_names_the_replica_position(servers, tmp_path, resume):
    """A batch decided on a replica behind the worker's position names the replica's
    position (README, Replicas), not the cache's: a stale allow is never labelled with a
    position at or after the revoke it does not reflect."""
    cluster, primary, replica, _ = servers
    app, headers = replica_app(primary, replica.url, tmp_path)
    wait_until_replayed(primary, replica)
    wait_listening()
    client = app.test_client()
    replica.sql("SELECT pg_wal_replay_pause()")
    revoked = parse_token(revoke(READERS[:1]))
    _applied(revoked)  # the worker has the revoke; the replica does not

    answer = client.post(
        "/v1/authorize/batch", json={"checks": [view(READERS[0])]}, headers=headers
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert answer.headers["X-Decided-By"] == f"replica:127.0.0.1:{replica.port}"
    assert body["results"][0]["allowed"] is True  # minimize_latency: the replica, as it is
    # ... so the answer must not claim a position that includes the revoke
    assert parse_token(body["consistency_token"]) < revoked, body


def test_a_replica_url_that_reaches_another_standby_never_serves_a_token_it_lacks(
    servers, tmp_path, resume
):
    """DATABASE_REPLICA_URLS naming a balancer over standbys (HAProxy, a Kubernetes -ro
    Service, a cloud reader endpoint): when a thread's connection is made again and lands
    on a standby that is behind, a check with a revoke's token is not decided there, and
    nothing stale is cached (the position is asked on the connection the reads use)."""
    cluster, primary, ahead, behind = servers
    balancer = Relay("127.0.0.1", ahead.port)  # a balancer over the standbys
    try:
        url = f"postgresql://postgres@127.0.0.1:{balancer.port}/{primary.dbname}"
        app, headers = replica_app(primary, url, tmp_path)
        wait_until_replayed(primary, ahead)
        wait_until_replayed(primary, behind)
        wait_listening()
        client = app.test_client()
        behind.sql("SELECT pg_wal_replay_pause()")
        revoked = revoke(READERS[:1])
        _applied(parse_token(revoked))
        wait_until_replayed(primary, ahead)

        # Another reader's check reads org-pix4d's facts on the up-to-date standby: the
        # replica is now known to have replayed past the worker's position.
        first = client.post("/v1/authorize", json=view(READERS[1]), headers=headers)
        assert first.headers["X-Decided-By"] == f"replica:127.0.0.1:{balancer.port}"

        # The thread's connection is made again (a failover, a restart); it lands on the standby
        # behind.
        from access.cache import CACHE

        balancer.target = ("127.0.0.1", behind.port)
        CACHE.replicas[0].database.close()  # a new connection: lands on the standby behind

        fresh = {"mode": "at_least_as_fresh", "token": revoked}
        answer = client.post("/v1/authorize", json=view(READERS[0], fresh), headers=headers)
        # Every connection back on the up-to-date standby: what was read is in the cache.
        balancer.target = ("127.0.0.1", ahead.port)
        CACHE.replicas[0].database.close()
        again = client.post("/v1/authorize", json=view(READERS[0], fresh), headers=headers)
        seen = [
            (r.get_json()["allowed"], r.headers["X-Decided-By"], r.get_json()["consistency_token"])
            for r in (answer, again)
        ]
        assert [allowed for allowed, _, _ in seen] == [False, False], (revoked, seen)
    finally:
        balancer.close()


def test_db_upgrade_with_a_direct_url_creates_the_tables_on_the_direct_connection(
    servers, tmp_path
):
    """``flask db upgrade`` with DATABASE_LISTEN_URL makes every table on the direct
    connection (under the advisory lock, in each step's transaction), none through
    DATABASE_URL (PgBouncer). Shown with two databases, so where each table went is
    visible."""
    cluster, primary, _, _ = servers
    for name in ("review_pooled", "review_direct"):
        primary.sql(f'DROP DATABASE IF EXISTS "{name}"')
        primary.sql(f'CREATE DATABASE "{name}"')
    pooled = f"postgresql://postgres@127.0.0.1:{primary.port}/review_pooled"
    direct = f"postgresql://postgres@127.0.0.1:{primary.port}/review_direct"
    models.init_db(pooled)
    try:
        app = create_app(
            {
                "TESTING": True,
                "DATABASE_URL": pooled,
                "DATABASE_BOUND": True,
                "DATABASE_LISTEN_URL": direct,
                "DECISION_LOG": str(tmp_path / "d.log"),
            }
        )
        result = app.test_cli_runner().invoke(args=["db", "upgrade"])
        tables = "SELECT count(*) FROM pg_tables WHERE tablename = 'membership'"
        from tests.pgcluster import Server

        direct_count = Server(primary.data, primary.port, "review_direct").sql(tables)[0][0]
        pooled_count = Server(primary.data, primary.port, "review_pooled").sql(tables)[0][0]
        assert (result.exit_code, direct_count, pooled_count) == (0, 1, 0), (
            result.output,
            repr(result.exception),
        )
    finally:
        if hasattr(db.obj, "close_all"):
            db.obj.close_all()
        from access.cache import CACHE

        CACHE.clear()
