"""Failing closed: with the database gone, decisions answer 503 with a deny body (never an
allow), /readyz fails, and the service recovers by itself when the database returns. The
test runs a PostgreSQL server of its own (initdb + pg_ctl as the postgres user), so it can
stop and start it without touching the shared one."""

import pytest

import models
from app import create_app
from models import ApiKey, db
from tests.pgcluster import Cluster, needs_pg_server
from tests.support import poll

pytestmark = needs_pg_server


@pytest.fixture
def own_postgres():
    cluster = Cluster()
    server = cluster.primary()
    yield server.url, server.ctl, server.opts, server.data
    cluster.close()


@pytest.fixture
def served(own_postgres, tmp_path):
    """The app on the test's own PostgreSQL, with the demo data: a client and its headers."""
    url, ctl, opts, data = own_postgres
    models.init_db(url)
    models.create_tables()
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "DATABASE_BOUND": True,
            "DECISION_LOG": str(tmp_path / "d.log"),
        }
    )
    from access.demo import load_demo

    with db.connection_context():
        load_demo(app.extensions["orgauthz.policy"].current)
        key = ApiKey.create_key("faults")
    yield app.test_client(), {"Authorization": f"Bearer {key}"}, url, ctl, opts, data
    if hasattr(db.obj, "close_all"):
        db.obj.close_all()


CHECK = {
    "actor": {"id": "pix4d-owner"},
    "action": "close",
    "resource": {"type": "Organization", "id": "org-pix4d"},
}


def test_database_down_means_503_deny_then_recovery(served):
    client, headers, url, ctl, opts, data = served

    def ask():
        return client.post("/v1/authorize", json=CHECK, headers=headers)

    assert ask().get_json()["allowed"] is True
    assert client.get("/readyz").status_code == 200

    ctl("-m", "fast", "stop")
    for _ in range(3):
        down = ask()
        assert down.status_code == 503
        assert down.content_type == "application/problem+json"
        assert down.get_json()["allowed"] is False
        assert down.headers["Retry-After"] == "1"
    assert client.get("/readyz").status_code == 503
    batch = client.post("/v1/authorize/batch", json={"checks": [CHECK] * 3}, headers=headers)
    assert batch.status_code == 503 and batch.get_json()["allowed"] is False
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "orgauthz_database_errors_total" in metrics

    ctl("-o", opts, "-l", data / "log", "start")
    poll(lambda: ask().status_code == 200, timeout=20, every=0.2)
    assert ask().get_json()["allowed"] is True
    assert client.get("/readyz").status_code == 200


def test_terminated_connections_are_replaced(served):
    client, headers, url, ctl, opts, data = served
    assert client.post("/v1/authorize", json=CHECK, headers=headers).status_code == 200
    other = models.open_database(url.replace("postgresql://", "postgres://"))
    other.connect()
    other.execute_sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE pid <> pg_backend_pid() AND datname = 'postgres'"
    )
    other.close()
    statuses = [
        client.post("/v1/authorize", json=CHECK, headers=headers).status_code for _ in range(3)
    ]
    assert statuses[-1] == 200 and set(statuses) <= {200, 503}
