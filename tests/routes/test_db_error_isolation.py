"""One request's database error must not hurt the requests other threads are serving
at the same time, and every driver error is a database error: 503, and on the decision
endpoints ``allowed: false``.

Before the fix, the error handler closed every pooled connection of the worker
(``close_all``), those other threads were using included: their next query failed with
InterfaceError, which answered 500 (or a spurious deny) instead of their answer.
"""

import sqlite3
import threading

import peewee
import psycopg2
import pytest
from playhouse.pool import MaxConnectionsExceeded

from models import db
from tests.support import poll

CHECK = {
    "actor": {"id": "pix4d-owner"},
    "action": "close",
    "resource": {"type": "Organization", "id": "org-pix4d"},
}


def _failing_route(app, backend):
    """A route that fails in the database, the way a bad statement or a statement_timeout
    does: it holds its connection a moment, then the database refuses the statement."""
    sleep = "pg_sleep(0.02)" if backend == "postgres" else "1"

    @app.get("/test-only/db-error")
    def db_error():
        db.execute_sql(f"SELECT {sleep}")
        db.execute_sql("SELECT no_such_column FROM no_such_table")
        return {}


def test_a_database_error_leaves_other_threads_requests_alone(app, api, demo, backend):
    _failing_route(app, backend)
    stop = threading.Event()
    failures, counts = [], {"ok": 0, "errors": 0}
    lock = threading.Lock()

    def provoke():
        client = app.test_client()
        while not stop.is_set():
            response = client.get("/test-only/db-error")
            with lock:
                counts["errors"] += 1
            if response.status_code != 503:
                failures.append(("provoker", response.status_code, response.get_json()))

    def serve(kind):
        client = app.test_client()
        headers = {"Authorization": f"Bearer {api.key}", "X-Actor-Id": "pix4d-owner"}
        while not stop.is_set():
            if kind == "authorize":
                response = client.post("/v1/authorize", json=CHECK, headers=headers)
                good = response.status_code == 200 and response.get_json()["allowed"] is True
            elif kind == "actions":
                response = client.post(
                    "/v1/authorize/actions",
                    json={"actor": CHECK["actor"], "resource": CHECK["resource"]},
                    headers=headers,
                )
                good = response.status_code == 200 and "close" in response.get_json()["actions"]
            else:
                response = client.get("/v1/orgs/org-pix4d/members?limit=5", headers=headers)
                good = response.status_code == 200 and len(response.get_json()["items"]) == 5
            with lock:
                counts["ok"] += 1
            if not good:
                failures.append((kind, response.status_code, response.get_json()))

    threads = [threading.Thread(target=provoke) for _ in range(2)]
    threads += [
        threading.Thread(target=serve, args=(kind,))
        for kind in ("authorize", "authorize", "actions", "members")
    ]
    for t in threads:
        t.start()
    # both kinds interleave for a while: many errors amid many answers
    poll(lambda: counts["errors"] >= 100 and counts["ok"] >= 200, timeout=60, every=0.1)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert counts["errors"] > 20 and counts["ok"] > 50, counts
    assert failures == [], f"{len(failures)} of {counts['ok']} failed, e.g. {failures[:3]}"


DRIVER_ERRORS = [
    peewee.InterfaceError("connection already closed"),
    peewee.OperationalError("server closed the connection unexpectedly"),
    peewee.DataError("value too long for type character varying(100)"),
    psycopg2.InterfaceError("connection already closed"),
    psycopg2.OperationalError("terminating connection due to administrator command"),
    sqlite3.OperationalError("database is locked"),
    sqlite3.InterfaceError("bad parameter or other API misuse"),
    MaxConnectionsExceeded("Exceeded maximum connections."),
]


@pytest.mark.parametrize(
    "error", DRIVER_ERRORS, ids=lambda e: f"{type(e).__module__}.{type(e).__name__}"
)
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_every_driver_error_is_a_database_error(app, api, demo, error):
    """Whatever the driver raises, wherever: 503 with Retry-After, and on the decision
    endpoints a deny; the next request is served."""

    def fail():
        db.execute_sql("SELECT 1")  # the request holds a connection, as a real one does
        raise error

    app.add_url_rule("/v1/authorize/test-only-driver-error", view_func=fail, methods=["POST"])
    app.add_url_rule("/v1/orgs/test-only-driver-error", view_func=fail, methods=["POST"])
    response = api.post("/v1/authorize/test-only-driver-error", CHECK)
    assert response.status_code == 503, response.get_json()
    assert response.content_type == "application/problem+json"
    assert response.get_json()["allowed"] is False
    # (flask-limiter raises Retry-After to its window's reset on /v1 answers: only present.)
    assert "Retry-After" in response.headers
    management = api.post("/v1/orgs/test-only-driver-error", {}, actor="pix4d-owner")
    assert management.status_code == 503 and "allowed" not in management.get_json()
    assert api.allowed("pix4d-owner", "close", CHECK["resource"]) is True
