"""Replica reads at their edges (found by a review that read the change as an attacker
would), each against a real primary and real streaming replicas (tests/pgcluster.py): a
replica URL that reaches several standbys, a batch decided on a lagging replica, and
``flask db upgrade`` on a direct URL beside a pooled one."""

import socket
import threading
import time

import pytest

import models
from app import create_app
from models import db
from models.generation import parse_token
from tests.pgcluster import Cluster, free_port, needs_pg_server, wait_until_replayed
from tests.routes.test_replicas import READERS, replica_app, revoke, view, wait_listening

pytestmark = needs_pg_server


class Balancer:
    """A TCP forwarder in front of several standbys, as HAProxy or a Kubernetes "-ro"
    Service would be: each new connection goes to ``target`` at the time it is made."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.port = free_port()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()
        for s in self.open:
            try:
                s.close()
            except OSError:
                pass


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

    deadline = time.monotonic() + 10
    while CACHE.position < position:
        assert time.monotonic() < deadline, "the revoke's notice did not arrive"
        time.sleep(0.02)


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
    balancer = Balancer(ahead.port)
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

        balancer.target = behind.port
        CACHE.replicas[0].database.close()  # a new connection: lands on the standby behind

        fresh = {"mode": "at_least_as_fresh", "token": revoked}
        answer = client.post("/v1/authorize", json=view(READERS[0], fresh), headers=headers)
        # Every connection back on the up-to-date standby: what was read is in the cache.
        balancer.target = ahead.port
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
