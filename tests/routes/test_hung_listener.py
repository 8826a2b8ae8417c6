"""Bounded staleness whatever the network does (issue 23 item 1), on PostgreSQL: a
connection that hangs instead of closing (its peer stopped, a half-open TCP connection after
a partition) is played by a TCP relay in the test that stops forwarding while keeping both
sockets open.

- The fact cache's listener connects through the relay (``DATABASE_LISTEN_URL``); once it
  hangs, a revoke made through another connection is denied within the bound
  (FACTS_MAX_STALENESS_SECONDS), and the listener replaces its connection, says so in the
  log and in a metric, and serves from memory again.
- A replica (``DATABASE_REPLICA_URLS``, here the primary itself behind the relay) that
  accepted a connection and hangs mid-query is timed out (REPLICA_TIMEOUT_SECONDS) and the
  read goes to the primary."""

import concurrent.futures
import logging
import time
from urllib.parse import quote, urlsplit

import pytest
from prometheus_client import REGISTRY

from models import Grant, db
from models.generation import current, parse_token
from ops.config import SETTINGS
from tests.conftest import PG_URL
from tests.serving import Relay
from tests.support import demo_app_on_postgres, wait_until

pytestmark = pytest.mark.skipif(not PG_URL, reason="LISTEN and replicas are PostgreSQL's")

CHECK = {
    "actor": {"id": "pix4d-member"},
    "action": "view",
    "resource": {"type": "Dataset", "id": "pix4d-bridge-scan"},
}
BOUND = SETTINGS["FACTS_MAX_STALENESS_SECONDS"][1]  # the default, as deployed


def relay_url(relay: Relay, **query: str) -> str:
    """PG_URL through ``relay``, with ``query`` parameters."""
    parts = urlsplit(PG_URL)
    user = f"{parts.username}@" if parts.username else ""
    args = "&".join(f"{k}={quote(v)}" for k, v in query.items())
    return f"postgresql://{user}127.0.0.1:{relay.port}{parts.path}" + (f"?{args}" if args else "")


@pytest.fixture
def relay():
    parts = urlsplit(PG_URL)
    forwarder = Relay(parts.hostname or "127.0.0.1", parts.port or 5432)
    yield forwarder
    forwarder.close()
    from access.cache import CACHE

    CACHE.clear()  # the next test's listener connects anew
    if hasattr(db.obj, "close_all"):
        db.obj.close_all()


def serve(pg_schema, tmp_path, **config):
    """The app on a fresh schema with the demo data: a function that checks CHECK (its
    answer), after the fact cache's listener connected."""
    from access.cache import CACHE

    app, key = demo_app_on_postgres(PG_URL, pg_schema, tmp_path, "hung", **config)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}

    def check():
        response = client.post("/v1/authorize", json=CHECK, headers=headers)
        assert response.status_code == 200, response.get_json()
        return response

    until(CACHE.listening, 10, "the fact cache's listener did not connect")
    return check


def until(condition, seconds: float, message: str) -> float:
    """Wait for ``condition()`` (polled), at most ``seconds``; how long it took."""
    start = time.monotonic()
    wait_until(condition, timeout=seconds, what=message)
    return time.monotonic() - start


def revoke() -> int:
    """pix4d-member's grant on the folder holding the dataset goes, through a connection
    of the test's own (never the listener's); the position it committed at."""
    with db.connection_context():
        assert Grant.delete().where(Grant.user == "pix4d-member").execute() > 0
        return current(db)


def replaced(reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "orgauthz_fact_cache_listener_replaced_total", {"reason": reason}
    )
    return value or 0.0


class Lines(logging.Handler):
    """The messages logged to one logger (the app replaces the root's handlers)."""

    def __init__(self, name: str) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []
        self.logger = logging.getLogger(name)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def __enter__(self) -> "Lines":
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        self.logger.removeHandler(self)


def test_a_hung_listener_lets_no_revoked_grant_through_past_the_bound(pg_schema, tmp_path, relay):
    from access.cache import CACHE

    search_path = f"-c search_path={pg_schema}"
    check = serve(pg_schema, tmp_path, DATABASE_LISTEN_URL=relay_url(relay, options=search_path))
    assert relay.accepted == 1  # the listener's connection goes through the relay
    assert check().get_json()["allowed"] is True
    cached = check()
    assert cached.get_json()["allowed"] is True and cached.headers["X-Decided-By"] == "cache"
    before = replaced("deadline")

    with Lines("orgauthz.cache") as log:
        relay.freeze()  # the listener's connection hangs: nothing goes through, nothing closes
        revoke()
        revoked = time.monotonic()
        staleness = until(
            lambda: check().get_json()["allowed"] is False,
            BOUND + 1.5,
            f"a revoked grant was still allowed {BOUND + 1.5} s after the revoke",
        )
        print(f"hung listener: revoke denied {staleness:.2f} s after it (bound {BOUND} s)")
        assert staleness <= BOUND + 0.5, staleness

        # The listener replaced its connection (logged, counted), serves from memory again.
        until(lambda: replaced("deadline") > before, 5, "no metric counted the replacement")
        until(lambda: relay.accepted >= 2 and CACHE.listening(), 10, "no new listener connection")
    assert any("no position proven" in line for line in log.lines), log.lines
    check()
    again = check()
    assert again.get_json()["allowed"] is False
    assert again.headers["X-Decided-By"] == "cache"
    assert time.monotonic() - revoked < BOUND + 15


def test_a_replica_that_hangs_mid_query_is_timed_out_and_the_primary_answers(
    pg_schema, tmp_path, relay
):
    from access.cache import CACHE

    timeout = 1.0
    check = serve(
        pg_schema,
        tmp_path,
        DATABASE_REPLICA_URLS=relay_url(relay),
        REPLICA_TIMEOUT_SECONDS=timeout,
        REPLICA_MAX_LAG_SECONDS=60.0,
    )
    one_thread = concurrent.futures.ThreadPoolExecutor(max_workers=1)  # one replica connection
    try:
        first = one_thread.submit(check).result(timeout=10)
        assert first.headers["X-Decided-By"] == f"replica:127.0.0.1:{relay.port}"
        assert first.get_json()["allowed"] is True

        relay.freeze()  # the replica's connection accepted, and now hangs mid-query
        position = revoke()
        until(lambda: CACHE.position >= position, 10, "the revoke's notice did not arrive")
        started = time.monotonic()
        answer = one_thread.submit(check).result(timeout=timeout + 5)  # old code: forever
        took = time.monotonic() - started
        print(f"hung replica: answered by {answer.headers['X-Decided-By']} in {took:.2f} s")
        assert answer.headers["X-Decided-By"] == "primary"
        assert answer.get_json()["allowed"] is False
        assert parse_token(answer.get_json()["consistency_token"]) >= position
        assert took < timeout + 1.0
    finally:
        relay.close()  # frees a read still blocked (the old code's)
        one_thread.shutdown(wait=False)
