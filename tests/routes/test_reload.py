"""kill -HUP of the gunicorn master reloads the policy under load, dropping no request; a
policy that does not load or fails its tables leaves the running one answering."""

import http.client
import json
import shutil
import signal
import threading

import pytest

from authz.engine import POLICY_DIR
from tests.serving import start_gunicorn, stop
from tests.support import wait_until

CHECK = {
    "actor": {"id": "pix4d-editor"},
    "action": "upload",
    "resource": {"type": "Dataset", "id": "pix4d-bridge-scan"},
}


def get_json(port, path, key=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"} if key else {}
    conn.request(
        "POST" if body else "GET", path, body=json.dumps(body) if body else None, headers=headers
    )
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def wait_for_version(port, version, timeout=60):
    def live():
        try:
            status, body = get_json(port, "/readyz")
        except OSError:
            return None
        return body if status == 200 and body["policy_version"] == version else None

    return wait_until(live, timeout=timeout, what=f"version {version} to be live", every=0.3)


def wait_for_reload_error(port, timeout=60):
    """/readyz once it reports a refused reload."""

    def refused():
        ready = get_json(port, "/readyz")[1]
        return ready if "policy_reload_error" in ready else None

    return wait_until(refused, timeout=timeout, what="a refused reload reported", every=0.3)


def more_answers(results: list, n: int = 100) -> None:
    """Until the load has had ``n`` more answers (checks keep going meanwhile)."""
    before = len(results)
    wait_until(lambda: len(results) >= before + n, timeout=60, what=f"{n} more answers")


@pytest.fixture
def served(tmp_path):
    from authz.engine import policy_version

    policies = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, policies)
    proc, port, key = start_gunicorn(
        tmp_path, ORGAUTHZ_POLICY_DIR=str(policies), ORGAUTHZ_SNAPSHOT_DIR=str(tmp_path / "snap")
    )
    wait_for_version(port, policy_version(policies))
    yield proc, port, key, policies
    stop(proc)


def test_hup_reloads_under_load_and_refuses_a_bad_policy(served):
    from authz.engine import policy_version

    proc, port, key, policies = served
    v1 = policy_version(policies)
    results, stop = [], threading.Event()

    def load():
        while not stop.is_set():
            try:
                status, body = get_json(port, "/v1/authorize", key, CHECK)
                results.append((status, body.get("allowed"), body.get("policy_version")))
            except Exception as exc:  # a dropped request
                results.append(("error", repr(exc), None))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    more_answers(results)

    # A harmless edit (a comment) changes the version; HUP makes it live.
    pix4d = policies / "pix4d.polar"
    pix4d.write_text(pix4d.read_text() + "\n# reviewed 2026-11-23\n")
    v2 = policy_version(policies)
    proc.send_signal(signal.SIGHUP)
    wait_for_version(port, v2)
    more_answers(results)

    # A policy that does not parse: refused, v2 keeps answering, /readyz says why.
    pix4d.write_text(pix4d.read_text() + "\nthis is not polar\n")
    proc.send_signal(signal.SIGHUP)
    ready = wait_for_reload_error(port)
    assert ready["policy_version"] == v2
    assert "pix4d.polar" in ready["policy_reload_error"] and "line" in ready["policy_reload_error"]
    more_answers(results)
    stop.set()
    for t in threads:
        t.join()

    assert results, "no requests were made"
    dropped = [r for r in results if r[0] != 200]
    assert dropped == [], dropped[:5]
    assert all(allowed is True for _, allowed, _ in results)
    versions = [v for _, _, v in results]
    assert versions[0] == v1 and versions[-1] == v2 and set(versions) == {v1, v2}


def test_a_policy_failing_its_tables_is_refused(served):
    proc, port, key, policies = served
    from authz.engine import policy_version

    v1 = policy_version(policies)
    up42 = policies / "up42.polar"
    up42.write_text(
        up42.read_text().replace('"buy_credits" if "admin";', '"buy_credits" if "member";')
    )
    proc.send_signal(signal.SIGHUP)
    ready = wait_for_reload_error(port)
    assert ready["policy_version"] == v1
    assert "member buy_credits on org: expected deny, got allow" in ready["policy_reload_error"]
    status, body = get_json(
        port,
        "/v1/authorize",
        key,
        {
            "actor": {"id": "up42-member"},
            "action": "buy_credits",
            "resource": {"type": "Organization", "id": "org-up42"},
        },
    )
    assert body["allowed"] is False and body["policy_version"] == v1
