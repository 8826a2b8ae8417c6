"""The service under gunicorn with the Procfile's settings, over real HTTP on 127.0.0.1."""

import http.client
import json

import pytest

from tests.serving import start_gunicorn, stop


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """gunicorn (2 gthread workers) over a fresh SQLite file with the demo data."""
    proc, port, key = start_gunicorn(tmp_path_factory.mktemp("gunicorn"))
    yield port, key
    stop(proc)


def post(conn, path, body, key):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    conn.request(
        "POST",
        path,
        body=data,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    return response.status, response.getheader("Content-Type"), json.loads(response.read())


EXPECTED = [
    ("pix4d-owner", "close", "Organization", "org-pix4d", True),
    ("pix4d-manager", "close", "Organization", "org-pix4d", False),
    ("pix4d-editor", "upload", "Dataset", "pix4d-bridge-scan", True),
    ("pix4d-reader", "upload", "Dataset", "pix4d-bridge-scan", False),
    ("pix4d-member", "view", "Dataset", "pix4d-bridge-scan", True),
    ("up42-admin", "remove_members", "Organization", "org-up42", True),
    ("up42-member", "remove_members", "Organization", "org-up42", False),
    ("respondio-org-admin", "close", "Organization", "org-respondio", True),
    ("respondio-billing-admin", "manage_billing", "Organization", "org-respondio", True),
    ("respondio-user-admin", "manage_billing", "Organization", "org-respondio", False),
    ("respondio-member", "use", "Space", "respondio-support", True),
]


def test_every_demo_user_is_answered_over_http_on_one_connection(server):
    port, key = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # kept alive throughout
    for actor, action, type_, rid, expected in EXPECTED:
        status, _, body = post(
            conn,
            "/v1/authorize",
            {"actor": {"id": actor}, "action": action, "resource": {"type": type_, "id": rid}},
            key,
        )
        assert status == 200 and body["allowed"] is expected, (actor, action, body)


def test_malformed_bodies_get_problem_documents_not_500(server):
    port, key = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    status, ctype, body = post(conn, "/v1/authorize", b"{oops", key)
    assert status == 400 and ctype == "application/problem+json"
    status, ctype, body = post(conn, "/v1/authorize", {"actor": {}, "action": 3}, key)
    assert status == 422 and {"actor.id", "action", "resource"} <= set(body["errors"])


def test_metrics_count_decisions_across_workers(server):
    port, key = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    assert "orgauthz_decisions_total" in text and "orgauthz_http_requests_total" in text
