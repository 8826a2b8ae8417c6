"""Bad requests mixed into good ones against a real gunicorn (issue 12): not one 5xx, and
not one good request failed, on SQLite and, with TEST_DATABASE_URL, on PostgreSQL (where a
NUL character used to be a 500, and a malformed cursor's database error closed the
connections other requests were using).

Six client threads, each on its own kept-alive connection, send for a few seconds a mix of
good requests (decisions with known answers, member lists, audited writes, cursor paging)
and bad ones (NUL and lone surrogates in bodies, queries and paths, cursors of every wrong
shape, an overlong X-Actor-Id, malformed and too deep JSON); a bad one must be a 4xx.
"""

import base64
import http.client
import json
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest

from tests.conftest import PG_URL
from tests.serving import start_gunicorn, stop

SECONDS = 6  # of load per backend
THREADS = 6
ORG = "/v1/orgs/org-pix4d"


def cursor(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def check(actor, action, type_, rid):
    return {"actor": {"id": actor}, "action": action, "resource": {"type": type_, "id": rid}}


ALLOWED = [  # (check, allowed) answered by the demo data and the policies
    (check("pix4d-owner", "close", "Organization", "org-pix4d"), True),
    (check("pix4d-manager", "close", "Organization", "org-pix4d"), False),
    (check("pix4d-editor", "upload", "Dataset", "pix4d-bridge-scan"), True),
    (check("pix4d-member", "view", "Dataset", "pix4d-bridge-scan"), True),
    (check("up42-member", "remove_members", "Organization", "org-up42"), False),
]

# (method, path, body (bytes are sent as they are), extra headers): each must be a 4xx.
BAD = [
    ("POST", "/v1/authorize", check("pix4d\x00owner", "close", "Organization", "org-pix4d"), {}),
    ("POST", "/v1/authorize", check("pix4d-owner", "view", "Dataset", "a\ud800b"), {}),
    ("POST", "/v1/authorize", check("pix4d-owner", "vi\x00ew", "Organization", "org-pix4d"), {}),
    (
        "POST",
        "/v1/authorize/batch",
        {"checks": [ALLOWED[0][0], check("x", "view", "Folder\x00", "y")]},
        {},
    ),
    (
        "POST",
        "/v1/authorize/actions",
        {"actor": {"id": "\ud800"}, "resource": ALLOWED[0][0]["resource"]},
        {},
    ),
    (
        "POST",
        "/v1/authorize/resources",
        {"actor": {"id": "pix4d-owner"}, "action": "view", "type": "Folder", "org": "org-pix4d"}
        | {"cursor": cursor({"a": 1})},
        {},
    ),
    (
        "POST",
        "/v1/authorize/actors",
        {"action": "view", "resource": {"type": "Folder", "id": "pix4d-survey"}}
        | {"cursor": cursor(["m", 1])},
        {},
    ),
    ("GET", f"{ORG}/members?q=a%00b", None, {}),
    ("GET", f"{ORG}/members?cursor={cursor(['m', 7])}", None, {}),
    ("GET", f"{ORG}/members?cursor={cursor(['i', 'a' + chr(0)])}", None, {}),
    ("GET", f"{ORG}/audit?cursor={cursor(True)}", None, {}),
    ("GET", f"{ORG}/audit?cursor={cursor(2**70)}", None, {}),
    ("GET", f"{ORG}/audit?cursor={cursor({'id': 1})}", None, {}),
    ("GET", f"{ORG}/invitations?cursor={cursor([1, 2])}", None, {}),
    ("GET", f"/v1/users/pix4d-owner/orgs?cursor={cursor(1.5)}", None, {}),
    ("GET", f"{ORG}/audit?cursor=%%%", None, {}),
    ("GET", "/v1/orgs/org%00x/members", None, {}),
    ("PUT", f"{ORG}/resources/Folder/f%00x", {}, {}),
    ("PUT", "/v1/users/" + "u" * 201, {"email": "long@example.com"}, {}),
    ("PATCH", ORG, {"name": "Renamed"}, {"X-Actor-Id": "x" * 300}),
    ("PATCH", ORG, {"name": "a\x00b"}, {}),
    (
        "POST",
        f"{ORG}/invitations",
        {"invitations": [{"email": "a\ud800@x.com", "role": "reader"}]},
        {},
    ),
    ("PUT", "/v1/users/pix4d-owner", {"email": "o@example.com", "name": "\x00"}, {}),
    ("POST", "/v1/authorize", b'{"actor": ', {}),
    ("POST", "/v1/authorize", b"[" * 5000 + b"]" * 5000, {}),
    ("GET", f"{ORG}/members?limit=100000000000000000000", None, {}),
]


class Client:
    """One kept-alive connection; reconnects when the server closed it."""

    def __init__(self, port, key):
        self.port, self.key, self.conn = port, key, None

    def send(self, method, path, body=None, headers=None):
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        h = {"Authorization": f"Bearer {self.key}", "X-Actor-Id": "pix4d-owner"}
        if data is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.conn.request(method, path, body=data, headers=h)
                response = self.conn.getresponse()
                payload = response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return response.status, payload, response
            except (http.client.RemoteDisconnected, ConnectionError):
                self.conn.close()
                self.conn = None  # a kept-alive connection closed between requests: retry
                if attempt:
                    raise
        raise AssertionError("unreachable")


def good_requests(client, n):
    """One good request of each kind in turn; None when it got its expected answer."""
    kind = n % 4
    if kind == 0:
        body, allowed = ALLOWED[n // 4 % len(ALLOWED)]
        status, payload, _ = client.send("POST", "/v1/authorize", body)
        ok = status == 200 and json.loads(payload)["allowed"] is allowed
    elif kind == 1:
        status, payload, _ = client.send("GET", f"{ORG}/members?limit=3")
        ok = status == 200 and len(json.loads(payload)["items"]) == 3
        if ok and json.loads(payload)["next_cursor"]:
            nxt = json.loads(payload)["next_cursor"]
            status, payload, _ = client.send("GET", f"{ORG}/members?limit=3&cursor={nxt}")
            ok = status == 200
    elif kind == 2:
        # An audited write, with a request id longer than the audit column.
        rid = f"load-{uuid.uuid4().hex[:12]}"
        status, payload, response = client.send(
            "PUT", f"{ORG}/resources/Folder/{rid}", {}, {"X-Request-Id": "r" * 300}
        )
        ok = status == 201 and len(response.getheader("X-Request-Id")) <= 100
    else:
        status, payload, _ = client.send("GET", f"{ORG}/audit?limit=2")
        nxt = json.loads(payload)["next_cursor"] if status == 200 else None
        ok = status == 200
        if nxt:
            status, payload, _ = client.send("GET", f"{ORG}/audit?limit=2&cursor={nxt}")
            ok = status == 200
    return None if ok else (kind, status, payload[:300])


@pytest.fixture(params=["sqlite"] + (["postgres"] if PG_URL else []))
def served(request, tmp_path):
    env = {"ORGAUTHZ_RATE_LIMIT": "10000000 per minute"}
    schema = None
    if request.param == "postgres":
        import psycopg2

        schema = f"load_{uuid.uuid4().hex[:10]}"
        admin = psycopg2.connect(PG_URL)
        admin.autocommit = True
        admin.cursor().execute(f'CREATE SCHEMA "{schema}"')
        parts = urlsplit(PG_URL)
        env["DATABASE_URL"] = (
            f"{PG_URL}{'&' if parts.query else '?'}options=-csearch_path%3D{schema}"
        )
    proc, port, key = start_gunicorn(tmp_path, **env)
    try:
        yield port, key
    finally:
        stop(proc)
        if schema:
            admin.cursor().execute(f'DROP SCHEMA "{schema}" CASCADE')
            admin.close()


def test_bad_requests_mixed_into_good_ones(served):
    port, key = served
    stop_at = time.monotonic() + SECONDS
    lock = threading.Lock()
    tally = {"good": 0, "bad": 0}
    failed, server_errors, bad_not_4xx = [], [], []

    def client_loop(seed):
        client = Client(port, key)
        n = seed
        while time.monotonic() < stop_at:
            n += 1
            try:
                if n % 3 == 0:
                    method, path, body, headers = BAD[(n // 3) % len(BAD)]
                    status, payload, _ = client.send(method, path, body, headers)
                    with lock:
                        tally["bad"] += 1
                    if status >= 500:
                        server_errors.append((method, path, status, payload[:300]))
                    elif not 400 <= status < 500:
                        bad_not_4xx.append((method, path, status, payload[:300]))
                else:
                    problem = good_requests(client, n)
                    with lock:
                        tally["good"] += 1
                    if problem:
                        failed.append(problem)
                        if problem[1] >= 500:
                            server_errors.append(problem)
            except Exception as exc:  # a dropped connection is a failed request
                failed.append(("exception", repr(exc)))

    threads = [threading.Thread(target=client_loop, args=(i * 7,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=SECONDS + 60)
    assert tally["good"] > 100 and tally["bad"] > 50, tally
    assert server_errors == [], f"{len(server_errors)} 5xx of {tally}: {server_errors[:5]}"
    assert failed == [], f"{len(failed)} good requests failed of {tally}: {failed[:5]}"
    assert bad_not_4xx == [], bad_not_4xx[:5]
