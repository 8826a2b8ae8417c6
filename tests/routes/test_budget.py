"""No request costs more than a budget.

An explained check costs what an unexplained one does (the roles an explanation shows are
memoized with the answers; before, they were asked of Polar role by role on every check:
1000 explained checks on a 40-deep folder chain took 55 s against 0.12 s unexplained), and a
batch that needs more Polar queries than DECISION_BUDGET is a 422 naming that limit."""

import http.client
import json
import shutil
import threading
import time

import pytest

from tests.serving import start_gunicorn, stop

BASE = "/v1/orgs/org-pix4d/resources"
DEPTH = 40
ACTORS = ["pix4d-owner", "pix4d-manager", "pix4d-editor", "pix4d-reader", "pix4d-member"]
ACTIONS = ["view", "upload", "edit", "delete"]
PLAIN = {
    "actor": {"id": "pix4d-reader"},
    "action": "view",
    "resource": {"type": "Dataset", "id": "pix4d-bridge-scan"},
}


def folder_chain(put) -> None:
    """Folders d0 .. d39, each in the one before (``put(path, body)`` makes one)."""
    for level in range(DEPTH):
        body = {"parent": {"type": "Folder", "id": f"d{level - 1}"}} if level else {}
        put(f"{BASE}/Folder/d{level}", body)


def heavy(n: int = 1000, explain: bool = True) -> dict:
    """A batch of ``n`` checks over the chain: every actor, action and depth."""
    return {
        "checks": [
            {
                "actor": {"id": ACTORS[i % len(ACTORS)]},
                "action": ACTIONS[i % len(ACTIONS)],
                "resource": {"type": "Folder", "id": f"d{(i * 7) % DEPTH}"},
                "explain": explain,
            }
            for i in range(n)
        ]
    }


def in_app(api):
    def put(path, body):
        response = api.put(path, body, actor="pix4d-owner")
        assert response.status_code == 201, response.get_json()

    folder_chain(put)


def timed(api, body) -> float:
    started = time.monotonic()
    response = api.post("/v1/authorize/batch", body)
    assert response.status_code == 200, response.get_json()
    return time.monotonic() - started


def test_an_explained_batch_costs_about_what_an_unexplained_one_does(api, demo):
    in_app(api)
    plain, explained = heavy(explain=False), heavy()
    timed(api, plain), timed(api, explained)  # both decided once: the memo holds them
    unexplained_s = min(timed(api, plain) for _ in range(2))
    explained_s = min(timed(api, explained) for _ in range(2))
    # Explanations are bigger answers (1.4 MB here), not more Polar work: before, 5 s and more.
    assert explained_s < max(1.0, 5 * unexplained_s), (explained_s, unexplained_s)


@pytest.fixture
def cold_app(app, tmp_path):
    """The app on its own copy of the policies (a memo of its own, empty), with a budget of
    10 Polar queries per request."""
    from app import create_app
    from authz.engine import POLICY_DIR

    policies = tmp_path / "cold-policies"
    shutil.copytree(POLICY_DIR, policies)
    return create_app({**app.config, "POLICY_DIR": str(policies), "DECISION_BUDGET": 10})


def test_a_batch_over_its_budget_is_a_422_naming_the_limit(cold_app, api, demo):
    from tests.conftest import Api

    cold = Api(cold_app.test_client(), api.key)
    in_app(cold)
    response = cold.post("/v1/authorize/batch", heavy(200))
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert "DECISION_BUDGET" in body["detail"] and "10 policy evaluations" in body["detail"]
    assert "checks" in body["errors"]
    # Within the budget: answered.
    small = {"checks": heavy(200)["checks"][:2]}
    assert cold.post("/v1/authorize/batch", small).status_code == 200


def request(port, key, method, path, body, timeout=120, actor=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    if actor:
        headers["X-Actor-Id"] = actor
    conn.request(method, path, body=json.dumps(body), headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def test_ten_heavy_explained_batches_do_not_hold_up_a_plain_check(tmp_path):
    """Ten batches of 1000 explained checks on a 40-deep chain, sent at once to gunicorn
    (2 workers of 4 threads): a plain check sent meanwhile waits seconds at most, not the
    heavy batches' minute (before: every thread held, the slowest plain check 40 s)."""
    proc, port, key = start_gunicorn(tmp_path)
    try:

        def put(path, body):
            status, data = request(port, key, "PUT", path, body, actor="pix4d-owner")
            assert status == 201, data

        folder_chain(put)

        def plain() -> float:
            started = time.monotonic()
            status, data = request(port, key, "POST", "/v1/authorize", PLAIN)
            assert status == 200 and json.loads(data)["allowed"] is True, data
            return time.monotonic() - started

        idle = max(plain() for _ in range(5))
        # Once alone: what the memo learns once (Polar's answers on these views) is not what
        # this measures; each batch's own cost is.
        assert request(port, key, "POST", "/v1/authorize/batch", heavy())[0] == 200
        statuses: list = []

        def send_heavy():
            statuses.append(request(port, key, "POST", "/v1/authorize/batch", heavy())[0])

        threads = [threading.Thread(target=send_heavy) for _ in range(10)]
        started = time.monotonic()
        for t in threads:
            t.start()
        waits = []
        while any(t.is_alive() for t in threads) and time.monotonic() - started < 300:
            waits.append(plain())
        for t in threads:
            t.join(timeout=300)
        took = time.monotonic() - started
        print(f"idle {idle:.3f} s; during {len(waits)} checks, slowest {max(waits):.3f} s; ")
        print(f"heavy batches {took:.2f} s, {statuses}")
        assert waits and statuses and set(statuses) <= {200, 422}
        # The goal is a second; the test allows three, for machines shared with other jobs
        # (2 cores at a load of 7: 1.3 to 2.1 s; quiet: 0.3 s). Before: 40 s.
        assert max(waits) < idle + 3.0, (max(waits), idle)
    finally:
        stop(proc)
