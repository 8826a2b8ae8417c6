"""Migrations: a database made by the old ``flask db init`` (the first migration's schema,
with no record of migrations) is upgraded in place with its rows intact; /readyz answers 503
naming what is pending until it is; TRUNCATE moves the change counter."""

import pytest

import models
from app import create_app
from models import Grant, Membership, Organization, Resource, User, db
from models.generation import current, token
from models.migrate import TABLE, available, pending, upgrade
from models.migrations import m0001_initial
from tests.conftest import PG_URL


@pytest.fixture
def bare(backend, tmp_path, pg_schema):
    """A database with nothing in it, bound to models.db (no migration applied)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
        models.init_db(url)
    else:
        url = PG_URL
        models.init_db(PG_URL, options=f"-c search_path={pg_schema}")
        models.drop_tables()
    yield url
    if not db.is_closed():
        db.close()
    if hasattr(db.obj, "close_all"):
        db.obj.close_all()


def old_db_init():
    """What ``flask db init`` did before migrations: the first schema, no record."""
    with db.connection_context():
        m0001_initial.up(db.obj)


def test_a_database_from_the_old_db_init_upgrades_with_its_rows(bare, clock):
    old_db_init()
    with db.connection_context():
        assert TABLE not in db.get_tables()
        User.create(id="ann", email="ann@x.example", email_key="ann@x.example")
        Organization.create(id="org-1", name="One", style="pix4d")
        Membership.create(user="ann", org="org-1", role="owner")
        folder = Resource.create(org="org-1", type="Folder", rid="f-1")
        Grant.create(user="ann", resource=folder, org="org-1", role="editor")
    every = [f"{n:04d}_{name}" for n, name, _ in available()]
    with db.connection_context():
        assert pending() == every

    app = create_app(
        {"TESTING": True, "DATABASE_URL": bare, "DATABASE_BOUND": True, "CLOCK": clock}
    )
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503
    assert "0002_truncate_moves_the_counter" in ready.get_json()["detail"]

    assert upgrade(db.obj) == every
    assert upgrade(db.obj) == []  # idempotent
    with db.connection_context():
        assert pending() == []
        assert Membership.get(Membership.user == "ann").role == "owner"
        assert Grant.get(Grant.user == "ann").role == "editor"
        assert Resource.get(Resource.rid == "f-1").org_id == "org-1"
    assert app.test_client().get("/readyz").status_code == 200


def test_truncate_moves_the_change_counter(api, backend):
    """A revoke by TRUNCATE (PostgreSQL; a DELETE of every row on SQLite) is seen by the
    very next check, though the worker caches facts."""
    assert api.put("/v1/users/ann", {"email": "ann@x.example"}).status_code == 200
    org = api.post("/v1/orgs", {"name": "One", "style": "pix4d", "id": "org-t"}, actor="ann")
    assert org.status_code == 201
    assert api.put("/v1/users/bob", {"email": "bob@x.example"}).status_code == 200
    with db.connection_context():
        Membership.create(user="bob", org="org-t", role="member")
    put = api.put("/v1/orgs/org-t/resources/Folder/f-t", {}, actor="ann")
    assert put.status_code == 201
    grant = api.put(
        "/v1/orgs/org-t/resources/Folder/f-t/grants/bob", {"role": "editor"}, actor="ann"
    )
    assert grant.status_code == 201, grant.get_json()
    folder = {"type": "Folder", "id": "f-t"}
    assert api.allowed("bob", "upload", folder) is True
    with db.connection_context():
        if backend == "postgres":
            db.execute_sql('TRUNCATE "grant"')
        else:
            db.execute_sql('DELETE FROM "grant"')
        written = token(current(db))  # the position the truncate committed at
    fresh = {"consistency": {"mode": "at_least_as_fresh", "token": written}}
    assert api.allowed("bob", "upload", folder, **fresh) is False
