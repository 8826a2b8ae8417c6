"""Migration 0010 on a database that predates it: the address history starts from what the
database already shows (each user's address, those their audit entries name, those of the
invitations they accepted), and kept answers gain their column."""

import json

import pytest

import models
from models import UserEmail, db
from models.migrate import available
from models.migrations import m0010_user_emails
from tests.conftest import PG_URL


@pytest.fixture
def before_0010(backend, tmp_path, pg_schema):
    """A database with the migrations before 0010 applied, its kept answers' table as 0003
    made it (no ``subjects``)."""
    if backend == "sqlite":
        models.init_db(f"sqlite:///{tmp_path / 'old.db'}")
    else:
        models.init_db(PG_URL, options=f"-c search_path={pg_schema}")
        models.drop_tables()
    with db.connection_context():
        for number, _, module in available():
            if number < 10:
                module.up(db.obj)
        db.execute_sql('ALTER TABLE "idempotent_request" DROP COLUMN subjects')
    yield db.obj
    if not db.is_closed():
        db.close()
    if hasattr(db.obj, "close_all"):
        db.obj.close_all()


def test_the_history_starts_from_what_the_database_shows(before_0010):
    database = before_0010
    p = database.param
    with db.connection_context():

        def insert(table, **row):
            columns = ", ".join(row)
            marks = ", ".join([p] * len(row))
            database.execute_sql(
                f'INSERT INTO "{table}" ({columns}) VALUES ({marks})', tuple(row.values())
            )

        now = "2026-11-23 12:00:00"
        insert("user", id="eve", email="C@x.example", email_key="c@x.example", name="Eve",
               created_at=now)  # fmt: skip
        insert("organization", id="org-1", name="One", style="pix4d", legal="{}", billing="{}",
               created_at=now)  # fmt: skip
        insert("invitation", id="inv-1", org_id="org-1", email="A@x.example",
               email_key="a@x.example", role="editor", token_hash="h", status="accepted",
               invited_by="olga", accepted_by="eve", created_at=now, expires_at=now)  # fmt: skip
        for action, before, after in [
            ("user.update", {"email": "A@x.example"}, {"email": "B@x.example"}),
            ("user.update", {"email": "B@x.example"}, {"email": "C@x.example"}),
            ("user.update", {"email": "gone@x.example"}, {"email": "x@erased.invalid"}),
        ]:
            target = "user:erased-1" if before["email"].startswith("gone") else "user:eve"
            insert("audit_event", action=action, target=target, before=json.dumps(before),
                   after=json.dumps(after), created_at=now)  # fmt: skip

        m0010_user_emails.up(database)
        m0010_user_emails.up(database)  # safe to run again

        rows = sorted((r.user_id, r.email_key) for r in UserEmail.select())
        columns = {c.name for c in database.get_columns("idempotent_request")}
    assert rows == [("eve", "a@x.example"), ("eve", "b@x.example"), ("eve", "c@x.example")]
    assert "subjects" in columns
