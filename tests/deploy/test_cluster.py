"""The local cluster as `make cluster` starts it: a primary and one streaming replica, two
gunicorn nodes, nginx in front (deploy/nginx-cluster.conf). Requests through nginx are served
by both nodes; with a node stopped nginx still answers every request, writes included (a
refused connection was never sent, so nginx passes even a POST on); the node started again
serves again; a replica's replay pauses and resumes. One cluster for the module."""

import re
import uuid

import httpx
import pytest

from deploy.localcluster import DEPLOY
from tests.pgcluster import LocalCluster, needs_cluster
from tests.support import wait_until

CHECK = {
    "actor": {"id": "pix4d-member"},
    "action": "view",
    "resource": {"type": "Dataset", "id": "pix4d-bridge-scan"},
}


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(replicas=1, nodes=2, demo=True) as c:
        yield c


@pytest.fixture
def http(cluster):
    with httpx.Client(base_url=cluster.url, headers=cluster.headers, timeout=10) as h:
        yield h


def served_by(response) -> list:
    """The nodes nginx tried for ``response``, in order (X-Upstream, $upstream_addr)."""
    return [a.strip() for a in response.headers["X-Upstream"].split(",")]


def new_org(http, founder: str) -> httpx.Response:
    return http.post(
        "/v1/orgs", json={"name": "Acme", "style": "pix4d"}, headers={"X-Actor-Id": founder}
    )


@needs_cluster
def test_requests_through_nginx_are_served_by_both_nodes(cluster, http):
    answers = [http.post("/v1/authorize", json=CHECK) for _ in range(6)]
    answers += [http.get("/healthz") for _ in range(4)]
    assert [r.status_code for r in answers] == [200] * 10
    assert all(r.json()["allowed"] for r in answers[:6])
    nodes = {node.address for node in cluster.nodes}
    assert {a for r in answers for a in served_by(r)} == nodes


@needs_cluster
def test_a_stopped_node_costs_no_request_and_serves_again_once_started(cluster, http):
    first, second = cluster.nodes
    founder = f"founder-{uuid.uuid4().hex[:8]}"
    assert http.put(f"/v1/users/{founder}", json={"email": f"{founder}@example.com"}).is_success
    cluster.stop_node(1)
    try:
        # Writes first: the one nginx sends to the stopped node is refused at connect,
        # before anything was sent, and passed on to the other node (a POST too).
        writes = [new_org(http, founder) for _ in range(3)]
        reads = [http.post("/v1/authorize", json=CHECK) for _ in range(6)]
        reads += [http.get("/healthz") for _ in range(3)]
        assert [r.status_code for r in writes] == [201] * 3
        assert [r.status_code for r in reads] == [200] * 9
        assert all(r.json()["allowed"] for r in reads[:6])
        # every answer came from the running node; some first tried the stopped one
        assert {served_by(r)[-1] for r in writes + reads} == {first.address}
        assert any(served_by(r) == [second.address, first.address] for r in writes + reads)
        assert len({r.json()["id"] for r in writes}) == 3  # each write applied once
    finally:
        cluster.start_node(1)

    # nginx tries the node again after fail_timeout (2 s) and it serves again
    def served_by_second() -> bool:
        response = http.post("/v1/authorize", json=CHECK)
        assert response.status_code == 200 and response.json()["allowed"]
        return served_by(response)[-1] == second.address

    wait_until(served_by_second, timeout=15, what="the restarted node to serve", every=0.1)


@needs_cluster
def test_a_replica_pauses_and_resumes_its_replay(cluster, http):
    replica = cluster.replicas[0]
    cluster.wait_replayed(0)
    assert replica.sql("SELECT pg_is_in_recovery()") == [(True,)]
    cluster.pause_replay(0)
    user = f"paused-{uuid.uuid4().hex[:8]}"
    try:
        assert cluster.replay_state(0) == "paused"
        written = http.put(f"/v1/users/{user}", json={"email": f"{user}@example.com"})
        assert written.is_success
        # committed on the primary, received by the replica, not applied there
        assert cluster.primary.sql('SELECT id FROM "user" WHERE id = %s', (user,)) == [(user,)]
        assert replica.sql('SELECT id FROM "user" WHERE id = %s', (user,)) == []
        received, replayed = replica.sql(
            "SELECT pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()"
        )[0]
        assert received != replayed
    finally:
        cluster.resume_replay(0)
    cluster.wait_replayed(0)
    assert cluster.replay_state(0) == "not paused"
    assert replica.sql('SELECT id FROM "user" WHERE id = %s', (user,)) == [(user,)]


def directives(text: str, names: tuple) -> dict:
    """``name value;`` of each directive in ``names`` (the first of each)."""
    found = {}
    for name in names:
        match = re.search(rf"(?m)^\s*{name}\s+([^;]+);", text)
        found[name] = match and match.group(1)
    return found


def test_the_cluster_proxy_keeps_the_slow_client_settings():
    """deploy/nginx-cluster.conf copies deploy/nginx.conf's slow-client and buffering
    settings (tests/ops/test_slow_clients.py measures those on nginx.conf)."""
    names = (
        "client_header_timeout",
        "client_body_timeout",
        "send_timeout",
        "keepalive_timeout",
        "keepalive_requests",
        "reset_timedout_connection",
        "client_max_body_size",
        "client_header_buffer_size",
        "large_client_header_buffers",
        "proxy_request_buffering",
        "client_body_buffer_size",
        "proxy_buffering",
        "proxy_buffer_size",
        "proxy_buffers",
        "proxy_busy_buffers_size",
        "proxy_connect_timeout",
        "proxy_send_timeout",
        "proxy_read_timeout",
        "worker_connections",
    )
    single = directives((DEPLOY / "nginx.conf").read_text(), names)
    cluster = directives((DEPLOY / "nginx-cluster.conf").read_text(), names)
    assert all(single.values()) and cluster == single
