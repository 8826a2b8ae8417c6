"""Fail closed: ``allowed`` is False, within its timeout, when the service is stopped, hangs
or answers 503; and the Flask guard answers the caller's own 403 with the policy's reason
(503 when orgauthz cannot answer)."""

import http.server
import json
import socket
import threading
import time

import pytest
from flask import Flask, g
from orgauthz_client import Client
from orgauthz_client.flask import Guard

from tests.serving import free_port, start_gunicorn, stop

CASE = ("pix4d-member", "view", ("Dataset", "pix4d-bridge-scan"))
SLACK = 0.5  # scheduling on a loaded 2-core machine


def test_server_stopped_then_allowed_is_false_within_the_timeout(tmp_path):
    proc, port, key = start_gunicorn(tmp_path)
    try:
        with Client(f"http://127.0.0.1:{port}", key, timeout=1.0) as c:
            assert c.allowed(*CASE) is True  # and the connection is kept alive
            stop(proc)
            for _ in range(3):
                started = time.monotonic()
                assert c.allowed(*CASE) is False
                assert time.monotonic() - started < 1.0 + SLACK
    finally:
        if proc.poll() is None:
            stop(proc)


def test_a_server_that_never_answers_is_a_deny_within_the_timeout():
    with socket.socket() as silent:  # accepts connections (kernel backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with Client(url, "k", timeout=5.0, retries=3) as c:
            started = time.monotonic()
            assert c.allowed(*CASE, timeout=0.5) is False
            assert 0.4 < time.monotonic() - started < 0.5 + SLACK


class _Answers503(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_POST(self):
        type(self).hits += 1
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps(
            {
                "type": "about:blank",
                "title": "Service Unavailable",
                "status": 503,
                "detail": "the database is unavailable",
                "allowed": False,
            }
        ).encode()
        self.send_response(503)
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Retry-After", "0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def answers_503():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answers503)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Answers503.hits = 0
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_503_is_a_deny_after_the_retries(answers_503):
    with Client(answers_503, "k", timeout=2.0, retries=2, backoff=0.01) as c:
        started = time.monotonic()
        assert c.allowed(*CASE) is False
        assert time.monotonic() - started < 2.0
    assert _Answers503.hits == 3  # a read: sent again twice


def _callers_app(client: Client) -> Flask:
    """The calling service: its own view guarded by orgauthz."""
    app = Flask("caller")
    guard = Guard(client, actor=lambda: g.user)

    @app.before_request
    def who():
        from flask import request

        g.user = request.headers["X-User"]

    @app.get("/datasets/<dataset_id>/<action>")
    def dataset(dataset_id, action):
        guard.check(action, ("Dataset", dataset_id))
        return {"ok": True}

    @app.get("/orgs/<org_id>")
    @guard.require("view", lambda org_id: ("Organization", org_id))
    def org(org_id):
        return {"org": org_id}

    return app


def test_the_flask_guard_answers_403_with_the_reason(live):
    with Client(live.url, live.key, timeout=5) as client:
        web = _callers_app(client).test_client()
        ok = web.get("/datasets/pix4d-bridge-scan/view", headers={"X-User": "pix4d-member"})
        assert ok.status_code == 200 and ok.json == {"ok": True}
        denied = web.get("/datasets/pix4d-bridge-scan/upload", headers={"X-User": "pix4d-member"})
        assert denied.status_code == 403
        assert denied.content_type == "application/problem+json"
        reason = client.authorize(
            "pix4d-member", "upload", ("Dataset", "pix4d-bridge-scan"), explain=True
        ).reason
        assert reason and denied.json["detail"] == reason
        assert web.get("/orgs/org-up42", headers={"X-User": "up42-member"}).json == {
            "org": "org-up42"
        }
        assert web.get("/orgs/org-up42", headers={"X-User": "pix4d-member"}).status_code == 403


def test_the_flask_guard_answers_503_when_orgauthz_is_down():
    with Client(f"http://127.0.0.1:{free_port()}", "k", timeout=0.5, retries=0) as client:
        web = _callers_app(client).test_client()
        response = web.get("/orgs/org-up42", headers={"X-User": "up42-member"})
        assert response.status_code == 503 and response.headers["Retry-After"]
