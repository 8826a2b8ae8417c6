"""What nginx (deploy/nginx-cluster.conf) does with a request whose node fails, with two
stand-in nodes: one that reads a request whole and closes the connection without answering
(a node that dies with the request in flight), one that answers 200. A fresh nginx with one
worker per case, so its round-robin sends the first request to the first node.

- a decision or a list query (POST /v1/authorize...) dropped by a node is asked again on
  the other node: 200;
- a management POST dropped by a node is not sent again (that node may have applied it):
  502, for the caller to retry with its Idempotency-Key;
- a GET or PUT dropped is sent again;
- any request to a node that refuses the connection (stopped) goes to the other node, a
  POST write too: it was never sent."""

import http.client
import socket
import threading

import pytest

from deploy.localcluster import Proxy, free_port
from tests.serving import needs_nginx

pytestmark = needs_nginx


class StandIn:
    """A node on 127.0.0.1 that reads each request whole, then answers 200 or drops it."""

    def __init__(self, answers: bool):
        self.answers = answers
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(body) < length:
                body += conn.recv(65536)
            if self.answers:
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
                )

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def nodes():
    dropper, answerer = StandIn(answers=False), StandIn(answers=True)
    yield dropper, answerer
    dropper.close()
    answerer.close()


def through_nginx(tmp_path, upstreams, method, path):
    """One request through a fresh nginx over ``upstreams``: (status, nodes tried)."""
    proxy = Proxy(tmp_path / "nginx", workers=1)
    proxy.start(upstreams, ready=None)  # no request before ours: round-robin starts at the first
    try:
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        body = b'{"actor": {"id": "u"}}' if method in ("POST", "PUT") else None
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        tried = [a.strip() for a in response.headers["X-Upstream"].split(",")]
        return response.status, tried
    finally:
        proxy.stop()


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/v1/authorize"),
        ("POST", "/v1/authorize/batch"),
        ("POST", "/v1/authorize/resources"),
        ("GET", "/v1/orgs/org-1"),
        ("PUT", "/v1/users/u-1"),
    ],
)
def test_a_dropped_read_or_idempotent_request_is_asked_again(tmp_path, nodes, method, path):
    dropper, answerer = nodes
    status, tried = through_nginx(tmp_path, [dropper.address, answerer.address], method, path)
    assert (status, tried) == (200, [dropper.address, answerer.address])


@pytest.mark.parametrize("path", ["/v1/orgs", "/v1/orgs/org-1/invitations"])
def test_a_dropped_management_post_is_not_sent_again(tmp_path, nodes, path):
    dropper, answerer = nodes
    status, tried = through_nginx(tmp_path, [dropper.address, answerer.address], "POST", path)
    assert (status, tried) == (502, [dropper.address])


def test_a_refused_connection_sends_even_a_write_to_the_next_node(tmp_path, nodes):
    _, answerer = nodes
    stopped = f"127.0.0.1:{free_port()}"  # nothing listens there
    status, tried = through_nginx(tmp_path, [stopped, answerer.address], "POST", "/v1/orgs")
    assert (status, tried) == (200, [stopped, answerer.address])
