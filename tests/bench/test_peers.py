"""The framework-free floor of the same check (bench/peers.py ``plain``): a WSGI callable
answering ``/check`` and ``/batch`` as the minimal Flask app does, and nothing else."""

import io
import json

from bench.peers import plain


def call(app, method: str, path: str, body: dict | None = None):
    raw = json.dumps(body).encode() if body is not None else b""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
    }
    got = {}

    def start_response(status, headers):
        got["status"], got["headers"] = status, dict(headers)

    text = b"".join(app(environ, start_response))
    return got["status"], got["headers"], text


def check(actor: str, action: str, rid: str) -> dict:
    return {"actor": {"id": actor}, "action": action, "resource": {"type": "Dataset", "id": rid}}


def allow(actor, action, type_, rid):
    return (actor, action, type_, rid) == ("ann", "view", "Dataset", "d1")


def test_a_check_and_a_batch_are_answered_by_the_lookup():
    app = plain(allow)
    status, headers, text = call(app, "POST", "/check", check("ann", "view", "d1"))
    assert status == "200 OK" and json.loads(text) == {"allowed": True}
    assert headers["Content-Length"] == str(len(text))
    batch = {"checks": [check("ann", "view", "d1"), check("bob", "view", "d1")]}
    status, _, text = call(app, "POST", "/batch", batch)
    assert json.loads(text) == {"results": [{"allowed": True}, {"allowed": False}]}


def test_anything_else_is_the_bare_callable():
    app = plain(allow)
    assert call(app, "GET", "/healthz")[0] == "200 OK"
    assert call(app, "GET", "/check")[0].startswith("404")
    assert call(app, "POST", "/other", {})[0].startswith("404")
