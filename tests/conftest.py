"""Fixtures: a fresh app and database per test, on SQLite and, when TEST_DATABASE_URL is
set, on PostgreSQL too (a schema of its own per run, dropped at the end)."""

import datetime
import os
import uuid

import pytest

import models
from access.cache import CACHE
from app import create_app
from authz.engine import POLICY_DIR
from models import ApiKey, db
from ops.activity import ACTIVITY

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
    # The worker's fact-cache listener and its last_active_at writer stop first: left
    # running, they would find the tables gone and log it into streams pytest has closed
    # ("--- Logging error ---").
    CACHE.clear()
    ACTIVITY.stop()
    ACTIVITY.forget()
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
    with db.connection_context():
        fingerprint = db.execute_sql(FINGERPRINT).fetchone()[0]
        fresh = _FRESH.get(pg_schema)
        if fresh is not None and fresh[0] == fingerprint:
            db.execute_sql(fresh[1])  # empty again, as the migrations left it
            return PG_URL
    models.drop_tables()
    models.create_tables()
    with db.connection_context():
        _FRESH[pg_schema] = (db.execute_sql(FINGERPRINT).fetchone()[0], _restoring())
    return PG_URL


# PostgreSQL: the migrations run once per worker's schema; between tests the schema is
# emptied and given back the rows and sequence positions the migrations left (dropping and
# migrating again took 0.5-0.65 s per test, emptying takes milliseconds). A test that
# changes the schema itself (the migration tests drop tables) changes its fingerprint, and
# the next test migrates afresh.
_FRESH: dict = {}  # schema -> (fingerprint, the SQL that makes it as freshly migrated)
FINGERPRINT = """
SELECT md5(
  coalesce((SELECT string_agg(c.relname || '.' || a.attname || ':'
                              || format_type(a.atttypid, a.atttypmod), ','
                              ORDER BY c.relname, a.attname)
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
              AND a.attnum > 0 AND NOT a.attisdropped), '')
  || '|' ||
  coalesce((SELECT string_agg(c.relname || '.' || t.tgname, ',' ORDER BY c.relname, t.tgname)
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal), ''))
"""


def _restoring() -> str:
    """SQL that empties every table of the current schema, puts back the rows it holds now
    and sets its sequences where they are now, with triggers off (no change counted)."""
    cursor = db.cursor()
    tables = [
        r[0]
        for r in db.execute_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        ).fetchall()
    ]
    sql = ["SET session_replication_role = replica;"]
    sql += [f'DELETE FROM "{t}";' for t in tables]
    for t in tables:
        rows = db.execute_sql(f'SELECT * FROM "{t}"')
        names = ", ".join(f'"{c.name}"' for c in rows.description)
        for row in rows.fetchall():
            values = ", ".join(["%s"] * len(row))
            sql.append(
                cursor.mogrify(f'INSERT INTO "{t}" ({names}) VALUES ({values});', row).decode()
            )
    for name, last in db.execute_sql(
        "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = current_schema()"
    ).fetchall():
        sql.append(
            f'ALTER SEQUENCE "{name}" RESTART;'
            if last is None
            else f"SELECT setval('\"{name}\"', {int(last)}, true);"
        )
    sql.append("SET session_replication_role = DEFAULT;")
    return "\n".join(sql)


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
    if hasattr(db.obj, "close_all"):  # pooled PostgreSQL: let the next test empty the tables
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
