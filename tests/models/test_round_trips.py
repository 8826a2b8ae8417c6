"""PostgreSQL in fewer round trips (models/base.py ``LeanPooledPostgresqlDatabase``): BEGIN
goes out with a transaction's first statement, a transaction that sent nothing sends
nothing to end, ``commit_then`` reads with the COMMIT, and ``prepared()`` statements are
prepared once per connection."""

import logging

import peewee
import pytest

from models import Membership, Organization, base, db


@pytest.fixture
def pg(app, backend, monkeypatch):
    """The bound PostgreSQL database, with the list of what each round trip sent."""
    if backend != "postgres":
        pytest.skip("SQLite has no round trips to save")
    database = db.obj
    sent: list[str] = []
    real_cursor, real_log = database.cursor, database._log_query
    logged: list[str] = []
    monkeypatch.setattr(
        database, "_log_query", lambda sql, p: logged.append(sql) or real_log(sql, p)
    )

    def cursor(*args, **kwargs):  # one per round trip: a statement, COMMIT or ROLLBACK
        sent.append(logged.pop() if logged else "COMMIT or ROLLBACK")
        return real_cursor(*args, **kwargs)

    monkeypatch.setattr(database, "cursor", cursor)
    with db.connection_context():
        db.execute_sql("CREATE TEMP TABLE IF NOT EXISTS rt (v int)")
        sent.clear()
        yield sent


def status() -> int:
    return db.connection().get_transaction_status()  # 0 idle, 2 in a failed transaction...


def rows() -> list:
    return [r[0] for r in db.execute_sql("SELECT v FROM rt ORDER BY v").fetchall()]


def test_begin_goes_with_the_first_statement(pg):
    with db.atomic():
        db.execute_sql("INSERT INTO rt VALUES (%s)", (1,))
        assert status() != 0  # in the transaction
        db.execute_sql("INSERT INTO rt VALUES (%s)", (2,))
    assert pg == [
        "BEGIN; INSERT INTO rt VALUES (%s)",
        "INSERT INTO rt VALUES (%s)",
        "COMMIT or ROLLBACK",
    ]
    assert rows() == [1, 2]


def test_a_transaction_that_sent_nothing_sends_nothing(pg):
    with db.atomic():
        pass
    with pytest.raises(RuntimeError):
        with db.atomic():
            raise RuntimeError("before any statement")
    assert pg == []
    assert status() == 0


def test_a_failed_first_statement_rolls_back_cleanly(pg):
    with pytest.raises(peewee.DatabaseError):
        with db.atomic():
            db.execute_sql("INSERT INTO rt VALUES (1 / %s)", (0,))
    assert status() == 0
    with pytest.raises(RuntimeError):
        with db.atomic():
            db.execute_sql("INSERT INTO rt VALUES (%s)", (3,))
            raise RuntimeError("after the first statement")
    assert status() == 0 and rows() == []
    with db.atomic():  # the connection goes on
        db.execute_sql("INSERT INTO rt VALUES (%s)", (4,))
    assert rows() == [4]


def test_a_savepoint_carries_the_begin_and_rolls_back_alone(pg):
    with db.atomic():
        with pytest.raises(peewee.IntegrityError):
            with db.atomic():  # a savepoint, the transaction's first statement
                db.execute_sql("INSERT INTO rt VALUES (%s)", (5,))
                raise peewee.IntegrityError("refused")
        db.execute_sql("INSERT INTO rt VALUES (%s)", (6,))
    assert pg[0].startswith("BEGIN; SAVEPOINT"), pg
    assert rows() == [6]


def test_commit_then_reads_in_the_commit_round_trip(pg):
    with db.atomic():
        db.execute_sql("INSERT INTO rt VALUES (%s)", (7,))
        assert db.obj.commit_then("SELECT count(*) FROM rt")
    assert db.obj.committed_rows() == [(1,)]  # read after the commit: sees the write
    assert len(pg) == 2
    with db.atomic():  # nothing sent: the read alone
        assert db.obj.commit_then("SELECT 8")
    assert db.obj.committed_rows() == [(8,)]
    assert not db.obj.commit_then("SELECT 9")  # outside a transaction: nothing arranged
    with pytest.raises(RuntimeError), db.atomic():
        db.obj.commit_then("SELECT 10")
        raise RuntimeError("rolled back: not read")
    assert db.obj.committed_rows() is None


def test_prepared_statements_survive_a_schema_change_and_a_lost_name(demo, pg):
    def lock():
        with db.atomic():
            return Organization.lock("org-pix4d")

    assert lock() is not None
    assert pg[0].startswith("BEGIN; PREPARE oa_"), pg
    pg.clear()
    assert lock() is not None
    assert pg[0].startswith("BEGIN; EXECUTE oa_"), pg
    db.execute_sql('ALTER TABLE "organization" ADD COLUMN extra int')  # replanned by the server
    assert lock().id == "org-pix4d"
    db.execute_sql("DEALLOCATE ALL")  # the server forgot them (as a pooler's reset would)
    with pytest.raises(peewee.DatabaseError):  # one statement fails (a 503 for a request)
        lock()
    pg.clear()
    assert lock().id == "org-pix4d"  # prepared again
    assert "PREPARE oa_" in pg[0], pg


def test_prepared_statements_off_sends_the_text(demo, pg, monkeypatch):
    monkeypatch.setattr(db.obj, "prepare_statements", False)  # DATABASE_PREPARED_STATEMENTS=off
    with db.atomic():
        Organization.lock("org-pix4d")
    assert pg[0].startswith('BEGIN; SELECT "t1"."id"'), pg
    assert "PREPARE" not in " ".join(pg)


def test_the_placeholders_are_numbered_for_prepare():
    assert base._numbered("a = %s AND b LIKE '%%x' AND c IN (%s, %s)") == (
        "a = $1 AND b LIKE '%%x' AND c IN ($2, $3)"
    )


def test_a_statement_that_opens_the_connection_is_prepared_on_it(demo, backend):
    if backend != "postgres":
        pytest.skip("PostgreSQL only")
    for _ in range(3):  # each time on a new connection, opened by the read itself
        db.obj.close_all()
        assert Membership.find("org-pix4d", "pix4d-owner") is not None
        db.close()


def test_a_write_sent_with_the_commit_commits_with_it(pg):
    with db.atomic():
        db.execute_sql("INSERT INTO rt VALUES (%s)", (1,))
        assert db.obj.send_with_commit("INSERT INTO rt VALUES (%s)", [2])
    assert pg[-1] == "COMMIT or ROLLBACK"  # one round trip: the write, COMMIT
    assert len(pg) == 2  # BEGIN with the first insert, then the commit's
    assert rows() == [1, 2]


def test_a_statement_after_a_waiting_write_carries_it_and_sees_it(pg):
    with db.atomic():
        db.execute_sql("INSERT INTO rt VALUES (%s)", (1,))
        assert db.obj.send_with_commit("INSERT INTO rt VALUES (%s)", [2])
        assert len(pg) == 1  # not sent yet
        assert rows() == [1, 2]  # the read went with it, after it: it sees the write
        assert pg[-1] == "INSERT INTO rt VALUES (%s); SELECT v FROM rt ORDER BY v", pg
        assert db.obj.send_with_commit("INSERT INTO rt VALUES (%s)", [3])
    assert len(pg) == 3 and pg[-1] == "COMMIT or ROLLBACK"  # sent once each
    assert rows() == [1, 2, 3]


def test_a_statement_prepared_beside_a_failing_write_stays_prepared(pg):
    text = "SELECT v FROM rt WHERE v > %s AND 'beside a failing write' <> ''"
    with pytest.raises(peewee.DatabaseError), db.atomic():
        db.execute_sql("INSERT INTO rt VALUES (%s)", (1,))
        assert db.obj.send_with_commit("INSERT INTO rt VALUES (1 / %s)", [0])
        with base.prepared():
            db.execute_sql(text, (0,))
    sent = pg[-2]  # (the last: the rollback)
    assert "PREPARE oa_" in sent and sent.index("PREPARE") < sent.index("1 / %s"), pg
    assert status() == 0 and rows() == []  # rolled back whole
    with db.atomic(), base.prepared():  # the PREPARE ran before the write failed: kept
        assert db.execute_sql(text, (0,)).fetchall() == []
    assert pg[-2].startswith("BEGIN; EXECUTE oa_"), pg  # (the last: the commit)


def test_a_write_sent_with_the_commit_that_fails_takes_the_transaction_with_it(pg):
    with pytest.raises(peewee.DatabaseError), db.atomic():
        db.execute_sql("INSERT INTO rt VALUES (%s)", (1,))
        assert db.obj.send_with_commit("INSERT INTO no_such_table VALUES (%s)", [2])
    assert status() == 0  # rolled back, the connection idle again
    assert rows() == []  # nothing half-written


def test_a_rollback_drops_what_waited_for_the_commit(pg):
    with pytest.raises(LookupError), db.atomic():
        db.execute_sql("INSERT INTO rt VALUES (%s)", (1,))
        db.obj.send_with_commit("INSERT INTO rt VALUES (%s)", [2])
        raise LookupError
    with db.atomic():
        db.execute_sql("INSERT INTO rt VALUES (%s)", (3,))
    assert rows() == [3]


def test_nothing_waits_for_the_commit_in_a_savepoint_or_outside_a_transaction(pg):
    assert not db.obj.send_with_commit("INSERT INTO rt VALUES (%s)", [1])
    with db.atomic():
        db.execute_sql("INSERT INTO rt VALUES (%s)", (1,))
        with db.atomic():  # a savepoint: rolled back alone, so its writes go now
            assert not db.obj.send_with_commit("INSERT INTO rt VALUES (%s)", [2])
        assert db.obj.send_with_commit("INSERT INTO rt VALUES (%s)", [3])
    assert rows() == [1, 3]


def test_an_audited_write_remakes_a_deleted_event_counter_after_the_last_event(api, demo):
    from models.outbox import Event, EventCounter

    change = "/v1/orgs/org-pix4d/members/pix4d-reader"
    assert api.put(change, {"role": "member"}, actor="pix4d-owner").status_code == 200
    with db.connection_context():
        last = Event.select(peewee.fn.MAX(Event.position)).scalar()
        EventCounter.delete().execute()  # emptied by hand
    assert api.put(change, {"role": "reader"}, actor="pix4d-owner").status_code == 200
    with db.connection_context():
        assert Event.select(peewee.fn.MAX(Event.position)).scalar() == last + 1
        assert EventCounter.get_by_id(1).value == last + 1


def test_writes_to_prepare_are_prepared_one_a_round_trip(pg):
    a, b = "INSERT INTO rt VALUES (%s + 0)", "INSERT INTO rt VALUES (%s + 100)"
    with db.atomic():
        for n in range(3):  # each round: both writes, carried by the next read
            assert db.obj.send_with_commit(a, [2 * n + 1], True)
            assert db.obj.send_with_commit(b, [2 * n + 2], True)
            db.execute_sql("SELECT count(*) FROM rt")
            sent = pg[-1]
            assert sent.count("PREPARE ") == (1 if n < 2 else 0), sent
            assert sent.count("EXECUTE oa_") == min(n + 1, 2), sent  # a; then a and b
            assert (b in sent) == (n == 0), sent  # b as is until its own PREPARE
    assert rows() == [1, 3, 5, 102, 104, 106]


def test_a_read_prepared_now_leaves_a_new_write_unprepared(pg):
    write = "INSERT INTO rt VALUES (%s + 10)"
    with db.atomic():
        db.execute_sql("INSERT INTO rt VALUES (%s)", (0,))
        assert db.obj.send_with_commit(write, [1], True)
        with base.prepared():
            db.execute_sql("SELECT v FROM rt WHERE v >= %s AND 'read' <> ''", (0,))
    sent = pg[1]
    assert sent.count("PREPARE ") == 1 and write in sent, pg  # the read's PREPARE alone
    assert rows() == [0, 11]


def test_a_write_prepared_with_the_commit_is_executed_next_time_even_after_failing(pg, caplog):
    caplog.set_level(logging.DEBUG, logger="peewee")
    text = "INSERT INTO rt VALUES (10 / %s)"
    with pytest.raises(peewee.DatabaseError), db.atomic():
        db.execute_sql("INSERT INTO rt VALUES (%s)", (1,))
        assert db.obj.send_with_commit(text, [0], True)  # PREPARE, then EXECUTE fails
    assert status() == 0 and rows() == []
    with db.atomic():
        db.execute_sql("INSERT INTO rt VALUES (%s)", (2,))
        assert db.obj.send_with_commit(text, [5], True)
    commits = [
        r.msg[0] for r in caplog.records if isinstance(r.msg, tuple) and "COMMIT" in r.msg[0]
    ]
    assert "PREPARE oa_" in commits[0] and "EXECUTE oa_" in commits[0], commits
    assert "PREPARE" not in commits[-1] and "EXECUTE oa_" in commits[-1], commits  # it ran
    assert rows() == [2, 2]
