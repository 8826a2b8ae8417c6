"""A management write makes the round trips its invariants need and no more (issue 24): the
caller's key comes from the worker's cached facts when notices keep them fresh, the locked
organization row is its fact, and on PostgreSQL the audit row, the event counter and the
event are one statement, sent with the COMMIT."""

import logging
import re

from models import ApiKey, db
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
    assert text.count('FROM "organization"') == 1, text  # the lock; its row is the fact
    assert text.count('UPDATE "membership"') == 1, text
    if on_postgres(db.obj):
        assert 'FROM "api_key"' not in text, text  # the key from the cached facts
        # BEGIN with the lock; the member and whether it is the last of its role; the
        # actor's facts; the update; the audit row and event with COMMIT and the change
        # position: 5 round trips (8 before BEGIN, the audit and the position rode along)
        assert len(seen.sql) == 5, text
        assert seen.sql[0].startswith("BEGIN; "), text
        assert sum("audit_event" in s for s in seen.sql) == 1, text
        last = seen.sql[-1]
        assert last.startswith('WITH a AS (INSERT INTO "audit_event"'), text
        assert last.endswith('; COMMIT; SELECT value FROM "generation" WHERE id = 1'), text
    else:  # no notices: the key is read, the audit row and event are three statements
        assert len(seen.sql) == 9, text


def test_a_key_revoked_by_hand_stops_management_calls(api, demo):
    members = f"{PIX}/members"
    assert api.get(members, actor="pix4d-owner").status_code == 200
    with db.connection_context():  # as ``flask keys revoke`` does: no token to pass on
        ApiKey.update(revoked_at=ApiKey.created_at).execute()
    fresh_cache()  # its notice applied (at once on SQLite)
    assert api.get(members, actor="pix4d-owner").status_code == 401
