"""Two gunicorn nodes behind nginx, on a PostgreSQL primary and a streaming replica
(deploy/localcluster.py), used as a caller would: over HTTP, through the proxy.

- A grant or revoke answered by one node, then a check answered by the other with the
  write's consistency token: never decided on facts older than the write, 1,000 times.
- The replica stopped while checks keep coming: no request fails, the checks are decided
  without it; started again: it serves again.
"""

import threading
import time

import httpx
import pytest

from deploy.localcluster import LocalCluster, missing

pytestmark = pytest.mark.skipif(bool(missing()), reason=f"needs {', '.join(missing())}")

ORG = "org-pix4d"
SITE = f"/v1/orgs/{ORG}/resources/Site/pix4d-quarry/grants/pix4d-member"
CHECK = {
    "actor": {"id": "pix4d-member"},
    "action": "view",
    "resource": {"type": "Dataset", "id": "pix4d-quarry-march"},
}
ROUNDS = 1000


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(
        replicas=1, nodes=2, demo=True, env={"ORGAUTHZ_REPLICA_RETRY_SECONDS": "0.5"}
    ) as running:
        yield running


@pytest.fixture
def proxy(cluster):
    with httpx.Client(base_url=cluster.url, headers=cluster.headers, timeout=10) as client:
        yield client


def node_of(response: httpx.Response) -> str:
    return response.headers["X-Upstream"].split(",")[-1].strip()


def test_a_write_on_one_node_is_seen_by_the_other_with_its_token(proxy):
    owner = {"X-Actor-Id": "pix4d-owner"}
    proxy.delete(SITE, headers=owner)  # start without the grant
    stale, crossed = [], 0
    for i in range(ROUNDS):
        granted = i % 2 == 0
        if granted:
            write = proxy.put(SITE, json={"role": "reader"}, headers=owner)
            assert write.status_code in (200, 201), write.text
        else:
            write = proxy.delete(SITE, headers=owner)
            assert write.status_code == 204, write.text
        fresh = {"mode": "at_least_as_fresh", "token": write.headers["X-Consistency-Token"]}
        check = proxy.post("/v1/authorize", json={**CHECK, "consistency": fresh})
        assert check.status_code == 200, check.text
        crossed += node_of(check) != node_of(write)
        if check.json()["allowed"] is not granted:
            stale.append((i, granted, check.headers.get("X-Decided-By")))
    assert stale == []  # not one check decided on facts older than the write it names
    assert crossed >= ROUNDS // 3  # nginx alternates: most checks went to the other node


def test_the_replica_stopped_under_load_fails_no_request(cluster, proxy):
    owner = {"X-Actor-Id": "pix4d-owner"}
    errors, sources, stop = [], [], threading.Event()

    def load():
        with httpx.Client(base_url=cluster.url, headers=cluster.headers, timeout=10) as c:
            while not stop.is_set():
                try:
                    answer = c.post("/v1/authorize", json=CHECK)
                    if answer.status_code != 200:
                        errors.append(answer.status_code)
                    else:
                        sources.append(answer.headers["X-Decided-By"])
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))

    def churn(seconds: float) -> list:
        """Writes in the org (each drops its cached facts, so checks read again), while the
        load runs; what decided the checks meanwhile."""
        first = len(sources)
        end, granted = time.monotonic() + seconds, False
        while time.monotonic() < end:
            granted = not granted
            if granted:
                proxy.put(SITE, json={"role": "reader"}, headers=owner)
            else:
                proxy.delete(SITE, headers=owner)
            time.sleep(0.05)
        return sources[first:]

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        assert any(s.startswith("replica:") for s in churn(1.5))
        cluster.stop_replica(0, "immediate")
        churn(0.5)  # the failure is noticed
        during = churn(1.5)
        assert during and not any(s.startswith("replica:") for s in during)
        assert "primary" in during
        cluster.start_replica(0)
        cluster.wait_replayed(0)
        deadline = time.monotonic() + 20
        while not any(s.startswith("replica:") for s in churn(0.5)):
            assert time.monotonic() < deadline, "checks did not go back to the replica"
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert errors == []
