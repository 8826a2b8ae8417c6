"""A management write makes the round trips its invariants need and no more (issue 24): the
caller's key comes from the worker's cached facts when notices keep them fresh, the locked
organization row is its fact, no read repeats what another read of the unit gave, and on
PostgreSQL the writes nothing reads back (the change itself, the audit row, the event counter
and the event) go out with the COMMIT: a failure there rolls the unit back whole, a 503."""

import logging
import re

import pytest

from models import ApiKey, AuditEvent, Event, Grant, Invitation, Membership, OutboxMail, db
from models.base import PREPARED
from models.facts import on_postgres
from models.generation import current
from tests.support import wait_until

PIX = "/v1/orgs/org-pix4d"


class Statements(logging.Handler):
    """The SQL Peewee sends while attached, one item per round trip (a prepared
    statement's ``EXECUTE`` followed by the text it was prepared from)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.sql: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, tuple):
            sql = record.msg[0]
            names = re.findall(r"EXECUTE (oa_[0-9a-f]+)\(", sql)
            self.sql.append(" ".join([sql, *(PREPARED[n] for n in names)]))

    def __enter__(self) -> "Statements":
        peewee_log = logging.getLogger("peewee")
        self._level = peewee_log.level
        peewee_log.setLevel(logging.DEBUG)
        peewee_log.addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        peewee_log = logging.getLogger("peewee")
        peewee_log.removeHandler(self)
        peewee_log.setLevel(self._level)


def fresh_cache() -> None:
    """Until the worker's cached facts hold every committed change (PostgreSQL: the
    listener applied their notices; SQLite has none and reads instead)."""
    from access.cache import CACHE

    if on_postgres(db.obj):
        with db.connection_context():
            now = current(db)
        wait_until(
            lambda: CACHE.fresh() is not None and CACHE.position >= now,
            what="the fact cache to catch up",
        )


def test_a_role_change_reads_what_it_decides_on_and_writes_once(api, demo):
    change = f"{PIX}/members/pix4d-reader"
    fresh_cache()  # (PostgreSQL: the first call starts the listener)
    assert api.put(change, {"role": "member"}, actor="pix4d-owner").status_code == 200
    fresh_cache()
    with Statements() as seen:
        response = api.put(change, {"role": "reader"}, actor="pix4d-owner")
    assert response.status_code == 200, response.get_json()
    text = "\n".join(seen.sql)
    assert text.count('UPDATE "membership"') == 1, text
    if on_postgres(db.obj):
        assert 'FROM "api_key"' not in text, text  # the key from the cached facts
        # BEGIN with the lock, then the org's row with the member and whether it is the
        # last of its role (a statement of its own: read once the lock is held); the
        # actor's facts; the update, the audit row and event with COMMIT and the change
        # position: 3 round trips (8 before BEGIN, the audit, the position, the update and
        # the member read rode along)
        assert len(seen.sql) == 3, text
        lock, read = seen.sql[0].split(" FOR UPDATE; ")
        assert lock.startswith("BEGIN; ") and 'FROM "organization"' in lock, text
        assert 'FROM "organization"' in read and "last_of_role" in read, text
        assert sum("FOR UPDATE" in s for s in seen.sql) == 1, text  # one round trip locks
        assert sum("audit_event" in s for s in seen.sql) == 1, text
        last = seen.sql[-1]
        assert 'UPDATE "membership" SET "role" = %s' in last and with_commit(last), text
    else:  # no notices: the key is read, the audit row and event are three statements;
        # BEGIN IMMEDIATE is the lock, the org's row is read with the member
        assert text.count('FROM "organization"') == 1, text
        assert len(seen.sql) == 8, text


def test_a_key_revoked_by_hand_stops_management_calls(api, demo):
    members = f"{PIX}/members"
    assert api.get(members, actor="pix4d-owner").status_code == 200
    with db.connection_context():  # as ``flask keys revoke`` does: no token to pass on
        ApiKey.update(revoked_at=ApiKey.created_at).execute()
    fresh_cache()  # its notice applied (at once on SQLite)
    assert api.get(members, actor="pix4d-owner").status_code == 401


def with_commit(sql: str) -> bool:
    """Whether a round trip (as ``Statements`` logs it) ends its unit: the COMMIT and the
    change position after what it carried."""
    return '; COMMIT; SELECT value FROM "generation" WHERE id = 1' in sql


def test_a_grant_reads_the_resource_once_and_writes_with_the_commit(api, demo):
    grant = f"{PIX}/resources/Folder/pix4d-survey/grants/pix4d-member"
    fresh_cache()
    assert api.put(grant, {"role": "reader"}, actor="pix4d-owner").status_code in (200, 201)
    fresh_cache()
    with Statements() as seen:
        response = api.put(grant, {"role": "editor"}, actor="pix4d-owner")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["role"] == "editor"
    text = "\n".join(seen.sql)
    assert 'FROM "resource" AS "t1"' not in text, text  # the resource from its chain's read
    member = [s for s in seen.sql if 'FROM "membership" AS' in s]  # the actor's facts aside
    assert len(member) == 1 and 'LEFT OUTER JOIN "grant"' in member[0], text  # with its grant
    if on_postgres(db.obj):
        # BEGIN with the lock, then the org's row with the member and its grant (read once
        # the lock is held); the chain; the actor's facts; the update, the audit with COMMIT
        # and the change position (8 before)
        assert len(seen.sql) == 4, text
        assert " FOR UPDATE; " in seen.sql[0] and 'LEFT OUTER JOIN "grant"' in seen.sql[0], text
        assert 'UPDATE "grant" SET' in seen.sql[-1], text
        assert with_commit(seen.sql[-1]), text
    with db.connection_context():
        assert Grant.get(Grant.user == "pix4d-member").role == "editor"


def test_an_invitation_reads_the_emails_once_and_writes_with_the_commit(api, demo):
    fresh_cache()
    first = {"invitations": [{"email": "first@example.com", "role": "member"}]}
    assert api.post(f"{PIX}/invitations", first, actor="pix4d-owner").status_code == 201
    fresh_cache()
    body = {"invitations": [{"email": "new@example.com", "role": "member"}]}
    with Statements() as seen:
        response = api.post(f"{PIX}/invitations", body, actor="pix4d-owner")
    assert response.status_code == 201, response.get_json()
    text = "\n".join(seen.sql)
    emails = [s for s in seen.sql if '"email_key" IN' in s]
    assert len(emails) == 1 and '"invitation"' in emails[0] and '"membership"' in emails[0], text
    if on_postgres(db.obj):
        # BEGIN with the lock and the inviter's membership and user row after it; the
        # actor's facts; the emails taken; the invitation, its mail, the audit with COMMIT
        # and the change position (8 before)
        assert len(seen.sql) == 4, text
        assert " FOR UPDATE; " in seen.sql[0] and '"user"' in seen.sql[0], text
        assert 'FROM "user" AS "t1" WHERE ("t1"."id" = %s)' not in text, text  # not again
        assert 'INSERT INTO "invitation"' in seen.sql[-1], text
        assert 'INSERT INTO "outbox_mail"' in seen.sql[-1] and with_commit(seen.sql[-1]), text
    with db.connection_context():
        assert Invitation.select().where(Invitation.email_key == "new@example.com").count() == 1
        assert OutboxMail.select().where(OutboxMail.recipient == "new@example.com").count() == 1


def refuse_writes_to(table: str) -> None:
    """A trigger failing every insert or update of ``table`` (PostgreSQL: a plain error, so
    a driver error, not a conflict)."""
    db.execute_sql(
        "CREATE OR REPLACE FUNCTION refuse_write() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
    )
    db.execute_sql(
        f'CREATE TRIGGER refuse_write BEFORE INSERT OR UPDATE ON "{table}" '
        "FOR EACH ROW EXECUTE FUNCTION refuse_write()"
    )


def written() -> tuple:
    """What a unit of work leaves behind: the rows of every table it writes to."""
    with db.connection_context():
        return (
            [(m.user_id, m.role) for m in Membership.select().order_by(Membership.id)],
            [(g.user_id, g.role) for g in Grant.select().order_by(Grant.id)],
            Invitation.select().count(),
            OutboxMail.select().count(),
            AuditEvent.select().count(),
            Event.select().count(),
        )


WRITES = {
    "role change": ("membership", "PUT", "/members/pix4d-reader", {"role": "member"}),
    "grant": (
        "grant",
        "PUT",
        "/resources/Folder/pix4d-survey/grants/pix4d-member",
        {"role": "editor"},
    ),
    "invitation": (  # its second write, after the invitation's own in the same round trip
        "outbox_mail",
        "POST",
        "/invitations",
        {"invitations": [{"email": "new@example.com", "role": "member"}]},
    ),
}


@pytest.mark.parametrize("write", sorted(WRITES))
def test_a_write_failing_with_the_commit_rolls_the_unit_back_whole(api, demo, write):
    if not on_postgres(db.obj):
        pytest.skip("SQLite sends every write at once")
    table, method, path, body = WRITES[write]
    before = written()
    with db.connection_context():
        refuse_writes_to(table)
    with Statements() as seen:
        response = getattr(api, method.lower())(f"{PIX}{path}", body, actor="pix4d-owner")
    assert response.status_code == 503, response.get_json()
    assert response.headers["Retry-After"] == "1"
    failed = [s for s in seen.sql if f'INSERT INTO "{table}"' in s or f'UPDATE "{table}"' in s]
    assert len(failed) == 1 and with_commit(failed[0]), seen.sql  # it went with the COMMIT
    assert written() == before  # nothing of the unit: not the change, not its audit
    with db.connection_context():
        db.execute_sql(f'DROP TRIGGER refuse_write ON "{table}"')
    again = getattr(api, method.lower())(f"{PIX}{path}", body, actor="pix4d-owner")
    assert again.status_code in (200, 201), again.get_json()  # the service goes on
    assert written() != before
