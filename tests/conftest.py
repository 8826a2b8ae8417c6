"""Fixtures: a fresh app and database per test, on SQLite and, when TEST_DATABASE_URL is
set, on PostgreSQL too (a schema of its own per run, dropped at the end)."""

import datetime
import os
import uuid

import pytest

import models
from app import create_app
from authz.engine import POLICY_DIR
from models import ApiKey, db

PG_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgres"] if PG_URL else [])


class Clock:
    """A clock the tests move by hand."""

    def __init__(self):
        self.now = datetime.datetime(2026, 11, 23, 12, 0, 0)

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += datetime.timedelta(**delta)


@pytest.fixture(scope="session")
def pg_schema():
    """A PostgreSQL schema for this run, so runs never see each other's tables."""
    if not PG_URL:
        yield None
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    database = models.open_database(PG_URL)
    database.connect()
    database.execute_sql(f'CREATE SCHEMA "{schema}"')
    database.close()
    yield schema
    database.connect()
    database.execute_sql(f'DROP SCHEMA "{schema}" CASCADE')
    database.close()


def bind_database(backend: str, tmp_path, pg_schema):
    """Bind models.db to a fresh database of ``backend`` and return its URL."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        models.init_db(url)
        models.create_tables()
        return url
    models.init_db(PG_URL, options=f"-c search_path={pg_schema}")
    models.drop_tables()
    models.create_tables()
    return PG_URL


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(backend, tmp_path, pg_schema, clock):
    """A fresh app on a fresh database."""
    url = bind_database(backend, tmp_path, pg_schema)
    from routes.context import forget_last_active

    forget_last_active()
    application = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "DATABASE_BOUND": True,
            "CLOCK": clock,
            "DECISION_LOG": str(tmp_path / "decisions.log"),
            "LAST_ACTIVE_FLUSH_SECONDS": 0,
            "POLICY_DIR": str(POLICY_DIR),
        }
    )
    yield application
    if not db.is_closed():
        db.close()
    if hasattr(db.obj, "close_all"):  # pooled PostgreSQL: let the next test drop the tables
        db.obj.close_all()


class Api:
    """A test client that sends the API key, JSON, and X-Actor-Id when given ``actor=``."""

    def __init__(self, client, key):
        self.client, self.key = client, key

    def call(self, method, path, json=None, actor=None, headers=None, **kw):
        h = {"Authorization": f"Bearer {self.key}"}
        if actor:
            h["X-Actor-Id"] = actor
        h.update(headers or {})
        return self.client.open(path, method=method, json=json, headers=h, **kw)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.call("POST", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self.call("PUT", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.call("PATCH", path, json=json, **kw)

    def delete(self, path, json=None, **kw):
        return self.call("DELETE", path, json=json, **kw)

    def allowed(self, actor, action, resource, **extra) -> bool:
        body = {"actor": {"id": actor}, "action": action, "resource": resource, **extra}
        response = self.post("/v1/authorize", body)
        assert response.status_code == 200, response.get_json()
        return response.get_json()["allowed"]


@pytest.fixture
def api(app):
    with db.connection_context():
        key = ApiKey.create_key("tests")
    return Api(app.test_client(), key)


@pytest.fixture
def demo(app):
    """The demo data of ``make run``."""
    from access.demo import load_demo

    with db.connection_context():
        load_demo(app.extensions["orgauthz.policy"].current)
