"""Webhook targets: only globally routable addresses, every address a name resolves to,
checked when registering and again at every delivery, and a delivery connects only to what
that check resolved (DNS rebinding); a redirect is never followed.

Nothing here leaves 127.0.0.1: names resolve through a stub (``webhooks.resolve``), and an
address literal is resolved without a lookup. A public address is only ever registered,
never delivered to."""

import http.server
import ipaddress
import logging
import threading

import pytest

from access import webhooks
from models import Delivery, db

PUBLIC = ipaddress.ip_address("93.184.216.34")
NAME = "hooks.example.test"  # .test: never resolves for real
# (the address, what it is): none is globally routable, or the IPv4 one it carries is not.
NOT_GLOBAL = [
    ("100.64.0.1", "shared address space (RFC 6598)"),
    ("2002:7f00:1::", "6to4 of 127.0.0.1"),
    ("::ffff:127.0.0.1", "IPv4-mapped 127.0.0.1"),
    ("64:ff9b::7f00:1", "NAT64 of 127.0.0.1"),
    ("64:ff9b::a9fe:a9fe", "NAT64 of 169.254.169.254"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo, client 127.0.0.1"),
    ("::7f00:1", "IPv4-compatible 127.0.0.1"),
    ("169.254.169.254", "link-local (cloud metadata)"),
    ("fc00::1", "unique local"),
    ("fe80::1", "link-local"),
    ("127.0.0.1", "loopback"),
    ("10.1.2.3", "private"),
    ("0.0.0.0", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("192.0.2.1", "documentation"),
]


class Resolver:
    """A stub for ``webhooks.resolve``: ``answers[name]`` now, and every lookup counted."""

    def __init__(self, answers):
        self.answers = dict(answers)
        self.lookups = []

    def __call__(self, host, port):
        self.lookups.append(host)
        try:
            return [ipaddress.ip_address(host)]  # a literal: no lookup
        except ValueError:
            pass
        if host not in self.answers:
            raise OSError(f"stub: no answer for {host}")
        return [ipaddress.ip_address(a) for a in self.answers[host]]


class Connections:
    """A spy on ``webhooks.open_connection``: every address a delivery connects to. It
    connects to 127.0.0.1 only: anything else fails here, even if the code under test
    were broken."""

    def __init__(self, real):
        self.real, self.made = real, []

    def __call__(self, addresses, port, timeout):
        self.made.append([str(a) for a in addresses])
        if [str(a) for a in addresses] != ["127.0.0.1"]:
            raise OSError("test: no connection beyond 127.0.0.1")
        return self.real(addresses, port, timeout)


@pytest.fixture
def production(app):
    """The production default: no private addresses."""
    webhooks.configure({"WEBHOOK_TIMEOUT_SECONDS": 5})
    yield
    webhooks.configure({})


@pytest.fixture
def connections(monkeypatch):
    spy = Connections(webhooks.open_connection)
    monkeypatch.setattr(webhooks, "open_connection", spy)
    return spy


def literal(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def add_user(api, uid):
    response = api.put(f"/v1/users/{uid}", {"email": f"{uid}@example.com", "name": uid})
    assert response.status_code in (200, 201), response.get_json()


def deliveries(hook_id) -> list:
    with db.connection_context():
        return list(Delivery.select().where(Delivery.webhook == hook_id).order_by(Delivery.id))


@pytest.mark.parametrize("address, what", NOT_GLOBAL, ids=[w for _, w in NOT_GLOBAL])
def test_a_url_whose_address_is_not_global_is_refused_at_registration(
    api, production, address, what
):
    response = api.post("/v1/webhooks", {"url": f"http://{literal(address)}:8080/hook"})
    body = response.get_json()
    assert response.status_code == 422, body
    assert "not a globally routable address" in body["errors"]["url"][0], body


def test_every_address_a_name_resolves_to_is_checked(api, production, monkeypatch):
    stub = Resolver({NAME: [str(PUBLIC), "100.64.0.1"], "public.example.test": [str(PUBLIC)]})
    monkeypatch.setattr(webhooks, "resolve", stub)
    response = api.post("/v1/webhooks", {"url": f"https://{NAME}/hook"})
    assert response.status_code == 422, response.get_json()
    assert "100.64.0.1" in response.get_json()["errors"]["url"][0]
    # A name, or a literal, that is global only is registered.
    for url in ["https://public.example.test/hook", f"http://{PUBLIC}/hook"]:
        made = api.post("/v1/webhooks", {"url": url})
        assert made.status_code == 201, made.get_json()


@pytest.mark.parametrize("address, what", NOT_GLOBAL, ids=[w for _, w in NOT_GLOBAL])
def test_a_name_that_points_inside_after_registration_is_refused_at_delivery(
    api, production, worker, receiver, monkeypatch, connections, caplog, address, what
):
    """DNS rebinding: public when registered, then the receiver's loopback (or any other
    address that is not global) when the delivery goes: refused, logged, recorded as a
    failed attempt, and no connection is made (the receiver on 127.0.0.1 hears nothing)."""
    webhooks.configure({"WEBHOOK_TIMEOUT_SECONDS": 5})  # `receiver` allowed private ones
    port = receiver.server.server_address[1]
    stub = Resolver({NAME: [str(PUBLIC)]})
    monkeypatch.setattr(webhooks, "resolve", stub)
    made = api.post("/v1/webhooks", {"url": f"http://{NAME}:{port}/hooks/orgauthz"})
    assert made.status_code == 201, made.get_json()
    hook = made.get_json()
    stub.answers[NAME] = [address]
    add_user(api, "rebound")
    with caplog.at_level(logging.WARNING, logger="orgauthz.webhooks"):
        done = worker.step()
    assert done["webhooks"]["delivered"] == 0
    assert connections.made == [] and receiver.requests == []
    [row] = deliveries(hook["id"])
    assert row.status in ("pending", "failed") and row.attempts == 1
    assert row.last_status is None and row.last_error.startswith("refused: the host resolves")
    assert str(ipaddress.ip_address(address)) in row.last_error
    assert [e["error"] for e in row.log] == [row.last_error]
    assert any(
        "not sent" in r.getMessage() and hook["id"] in r.getMessage() for r in caplog.records
    )


def test_a_delivery_connects_to_the_address_it_checked_without_a_second_lookup(
    api, worker, receiver, monkeypatch, connections
):
    """With private receivers allowed (the tests' setting), a name only the stub knows is
    delivered to: the connection goes to the address the check resolved, looked up once per
    delivery, never again by the HTTP client."""
    port = receiver.server.server_address[1]
    stub = Resolver({NAME: ["127.0.0.1"]})
    monkeypatch.setattr(webhooks, "resolve", stub)
    hook = api.post("/v1/webhooks", {"url": f"http://{NAME}:{port}/hooks/orgauthz"}).get_json()
    add_user(api, "pinned")
    assert worker.step()["webhooks"]["delivered"] == 1
    assert stub.lookups == [NAME] and connections.made == [["127.0.0.1"]]
    [(headers, _, status)] = receiver.requests
    assert status == 200 and headers["Host"] == f"{NAME}:{port}"
    assert [r.status for r in deliveries(hook["id"])] == ["delivered"]


class Redirecting:
    """127.0.0.1 twice: ``url`` answers every request 302 to ``target``, which records any
    request it gets (GET or POST: a client that follows turns a POST's 302 into a GET)."""

    def __init__(self):
        self.hits = []
        outer = self

        class Target(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                outer.hits.append(("GET", self.path))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.hits.append(("POST", self.path))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.target = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Target)
        location = f"http://127.0.0.1:{self.target.server_address[1]}/elsewhere"

        class Redirect(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.redirect = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
        self.url = f"http://127.0.0.1:{self.redirect.server_address[1]}/hook"
        self.threads = [
            threading.Thread(target=s.serve_forever, daemon=True)
            for s in (self.target, self.redirect)
        ]
        for t in self.threads:
            t.start()

    def close(self):
        for s in (self.target, self.redirect):
            s.shutdown()
            s.server_close()


@pytest.fixture
def redirecting(receiver):
    r = Redirecting()
    yield r
    r.close()


def test_a_redirect_is_recorded_as_an_answer_and_never_followed(api, worker, redirecting):
    hook = api.post("/v1/webhooks", {"url": redirecting.url, "types": ["user.created"]})
    assert hook.status_code == 201, hook.get_json()
    add_user(api, "redirected")
    done = worker.step()
    assert done["webhooks"] == {"delivered": 0, "retry": 1, "failed": 0}
    [row] = deliveries(hook.get_json()["id"])
    assert row.last_status == 302 and row.status == "pending" and row.attempts == 1
    assert redirecting.hits == []  # the Location was never asked
