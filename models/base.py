"""The database handle, the clock and the field types every model shares."""

import contextlib
import datetime
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import peewee
from playhouse.db_url import connect, register_database
from playhouse.pool import PooledDatabase, PooledSqliteDatabase
from playhouse.postgres_ext import PooledPostgresqlExtDatabase


class _Proxy(peewee.DatabaseProxy):
    """peewee's proxy, but a savepoint is the bound database's own (its ``savepoint``, which
    PostgreSQL's counts: ``LeanPooledPostgresqlDatabase.send_with_commit``)."""

    def savepoint(self) -> Any:
        return self.obj.savepoint()


# Bound to a real database by ``init_db`` (in the app factory, the CLI and the tests).
db = _Proxy()
# A unique index refused a write (the domain core turns it into a conflict); the transaction
# it broke is rolled back.
IntegrityError = peewee.IntegrityError


def utcnow() -> datetime.datetime:
    """The current UTC time, naive (what both SQLite and PostgreSQL store here)."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class JSONField(peewee.TextField):
    """A JSON document stored as text, so the same schema runs on SQLite and PostgreSQL."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else json.dumps(value, sort_keys=True)

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


class BaseModel(peewee.Model):
    # Peewee adds an automatic primary key ``id`` at run time to a model without one of its
    # own. Each such model declares it for the type checker as ``id: "peewee.AutoField[int]"``
    # (a field on the class, an int on a row), not here: a model with a string key (User,
    # Organization...) could not declare its own ``id`` over an int one.

    class Meta:
        database = db
        legacy_table_names = False


class _LeanPool(PooledDatabase):
    """Checkout and checkin with no round trip and no process-wide lock held across I/O.

    Peewee's pool pings every connection it lends (``SELECT 1`` on PostgreSQL) while holding
    both its own lock and the database's process-wide ``_lock``, so the threads of a worker
    queued behind each other's pings on every request. Here ``connect``/``close`` take no
    database-wide lock (a connection's state is per thread already; the pool's own lock
    guards only its heap, for microseconds), and a connection is pinged only when it sat
    idle longer than ``PING_IDLE_SECONDS``: a busy worker reuses connections within
    milliseconds, and one that lost its server while in use fails its request with a 503
    (routes/errors.py resets only that connection), as before.
    """

    PING_IDLE_SECONDS = 5.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = peewee._NoopLock()  # the state it guarded is thread-local
        self._returned: dict = {}  # id(conn) -> monotonic time it came back to the pool

    def _close(self, conn: Any, close_conn: bool = False) -> Any:
        self._returned[id(conn)] = time.monotonic()
        return super()._close(conn, close_conn)

    def _close_raw(self, conn: Any) -> Any:
        self._returned.pop(id(conn), None)
        return super()._close_raw(conn)

    def _idle_too_long(self, conn: Any) -> bool:
        returned = self._returned.get(id(conn))
        return returned is None or time.monotonic() - returned > self.PING_IDLE_SECONDS


# peewee's log of the statements it sends, and its wrapper turning a driver's errors into
# peewee's (a module-private name, as peewee's own ``commit`` uses it).
_PEEWEE_LOG = logging.getLogger("peewee")
_DRIVER_ERRORS = vars(peewee)["__exception_wrapper__"]

# Statements prepared per connection (``prepared``): name -> the text it was prepared from.
PREPARED: dict[str, str] = {}
_NAME_OF: dict[str, str] = {}  # the text -> its name (a few fixed texts)
_PARAM = re.compile(r"%%|%s")
_UNKNOWN_NAME, _DUPLICATE_NAME = "26000", "42P05"  # SQLSTATEs of EXECUTE and PREPARE
_NOT_RUN = ("25", "42")  # errors before a PREPARE runs: its transaction failed, its text


class _CountedSavepoint(peewee._savepoint):
    """A savepoint the database counts while it is open (``send_with_commit``)."""

    def __enter__(self) -> "_CountedSavepoint":
        state = self.db._state
        state.savepoints = getattr(state, "savepoints", 0) + 1
        try:
            return super().__enter__()
        except BaseException:
            state.savepoints -= 1
            raise

    def __exit__(self, *exc: Any) -> Any:
        try:
            return super().__exit__(*exc)
        finally:
            self.db._state.savepoints -= 1


def _joined(*parts: str) -> str:
    """Statements as one text (one round trip), leaving out the empty ones."""
    return "; ".join(p for p in parts if p)


def _numbered(sql: str) -> str:
    """``sql`` with its ``%s`` placeholders as ``$1, $2, ...`` (PREPARE's form)."""
    count = iter(range(1, 10_000))
    return _PARAM.sub(lambda m: m.group() if m.group() == "%%" else f"${next(count)}", sql)


class LeanPooledPostgresqlDatabase(_LeanPool, PooledPostgresqlExtDatabase):
    """PostgreSQL, pooled (see ``_LeanPool``), in fewer round trips:

    - ``BEGIN`` is deferred: it goes out with the transaction's first statement, as
      ``BEGIN; <statement>`` in one round trip, and a transaction that sent nothing commits
      or rolls back by sending nothing. Peewee's ``atomic()`` and savepoints work as before
      (a savepoint is a statement: it carries the ``BEGIN``).
    - ``commit_then(sql)``: the top transaction's ``COMMIT`` carries one more read, sent as
      ``COMMIT; <sql>`` (the unit of work's change position, access/uow.py).
    - ``send_with_commit(sql, params)``: a write whose answer nobody reads (the audit row and
      its event, a unit's writes: ``write_later``) waits for the transaction's next round
      trip: the ``COMMIT``'s (``<sql>; COMMIT``), or the next statement's when one comes first
      (``<sql>; <statement>``, so whatever runs after it sees it, as if sent at once). Only
      in the top transaction with no savepoint open (a savepoint rolled back must take its
      writes with it: peewee does not count savepoints, so ``savepoint`` does here); a
      rollback drops it unsent. Its error surfaces with the statement it rode with (a 503,
      the transaction rolled back whole).
    - ``prepared()``: the statements run inside it are prepared once per connection and then
      sent as ``EXECUTE`` (PostgreSQL plans a statement each time its text comes, which
      cost the hot reads more than running them); off when ``prepare_statements`` is False
      (``DATABASE_PREPARED_STATEMENTS``: PgBouncer in transaction mode lends a transaction
      any server connection, where the statement was never prepared).
    """

    prepare_statements = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._names: dict[int, set[str]] = {}  # id(conn) -> the names prepared on it

    def begin(self, isolation_level: Any = None) -> None:
        level = isolation_level or self._isolation_level
        text = "BEGIN"
        if level:
            text = f"BEGIN TRANSACTION ISOLATION LEVEL {self._adapter.isolation_level_str(level)}"
        self._state.deferred = (self.connection(), text)

    def _take_begin(self) -> str:
        """The deferred ``BEGIN`` of this thread's connection ("" when none), now sent."""
        deferred, self._state.deferred = getattr(self._state, "deferred", None), None
        return deferred[1] if deferred and deferred[0] is self._state.conn else ""

    def _take_waiting(self, new_ok: bool = True) -> tuple[str, str, str, str, list]:
        """What waits to go out with the next round trip, now sent: the deferred ``BEGIN``,
        a ``PREPARE`` ("" when none) and the name it prepares, the writes of
        ``send_with_commit`` as one text ("" for any when none) and their values. A write
        sent to be prepared goes as ``EXECUTE`` when its name is prepared on the connection;
        one not yet prepared is prepared now when it is the first such and ``new_ok`` (one
        ``PREPARE`` a round trip: after a failure, what ran is known), else sent as is."""
        later, self._state.later = getattr(self._state, "later", None) or [], None
        prepare, name, texts = "", "", []
        for sql, values, to_prepare in later:
            if to_prepare and values and self.prepare_statements:
                known, fresh, run = self._as_prepared(sql, len(values), new_ok and not prepare)
                if known:
                    sql = run
                    if fresh:
                        prepare, name = fresh, known
            texts.append(sql)
        values = [v for _, params, _ in later for v in params]
        return self._take_begin(), prepare, name, _joined(*texts), values

    def _at_top(self) -> bool:
        """Whether this thread is in a transaction with no savepoint open (peewee counts
        only transactions; ``savepoint`` counts the rest)."""
        return self.transaction_depth() == 1 and not getattr(self._state, "savepoints", 0)

    def commit_then(self, sql: str) -> bool:
        """Send ``sql`` with the top transaction's ``COMMIT`` (its rows: ``committed_rows``);
        False, and nothing arranged, outside a transaction or in a savepoint."""
        if not self._at_top():
            return False
        self._state.then, self._state.then_rows = sql, None
        return True

    def savepoint(self, sid: str | None = None) -> "peewee._savepoint":
        return _CountedSavepoint(self, sid)

    def send_with_commit(self, sql: str, params: list, prepare: bool = False) -> bool:
        """Send ``sql`` (a write; its rows are not read) with the top transaction's
        ``COMMIT``, or with its next statement when one comes first; False, and nothing
        kept, when that is not where it belongs (no transaction, or a savepoint open): then
        the caller runs it now. ``prepare``: a text of a fixed few, prepared once per
        connection (``_take_waiting``)."""
        if not self._at_top():
            return False
        later = getattr(self._state, "later", None)
        if later is None:
            later = self._state.later = []
        later.append((sql, params, prepare))
        return True

    def committed_rows(self) -> list | None:
        """The rows of the ``commit_then`` read of the last commit (None: not read)."""
        rows, self._state.then_rows = getattr(self._state, "then_rows", None), None
        return rows

    def commit(self) -> None:
        then, self._state.then = getattr(self._state, "then", None), None
        begin, prepare, name, writes, params = self._take_waiting()
        if begin and not writes:  # nothing was sent: nothing to commit
            if then:
                self._state.then_rows = self.execute_sql(then).fetchall()
            return
        text = _joined(begin, prepare, writes, "COMMIT", then or "")
        _PEEWEE_LOG.debug((text, params))  # as peewee logs the statements it sends
        try:
            with _DRIVER_ERRORS:
                cursor = self.cursor()
                cursor.execute(text, params or None)
                if then:
                    self._state.then_rows = cursor.fetchall()
        except peewee.DatabaseError as exc:
            if name:
                self._after_failure(name, True, exc)
            raise

    def rollback(self) -> None:
        self._state.then = self._state.later = None
        if not self._take_begin():  # else nothing was sent: nothing to roll back
            super().rollback()

    def _execute_cursor(self, sql: str, params: Any, **cursor_options: Any) -> Any:
        name, prepare = "", ""
        if getattr(self._state, "prepare", False) and params and not cursor_options:
            name, prepare, sql = self._as_prepared(sql, len(params))
        new_ok = not prepare and not cursor_options
        begin, w_prepare, w_name, writes, values = self._take_waiting(new_ok)
        if cursor_options and (begin or writes):  # a cursor of its own: what waits first, alone
            super()._execute_cursor(_joined(begin, writes), values)
            begin, writes, values = "", "", []
        # A PREPARE goes before the writes that waited: when one of them fails, it ran.
        sent = _joined(begin, prepare or w_prepare, writes, sql)
        try:
            return super()._execute_cursor(
                sent, [*values, *(params or ())] if values else params, **cursor_options
            )
        except peewee.DatabaseError as exc:
            for failed, fresh in ((name, prepare), (w_name, w_prepare)):
                if failed:
                    self._after_failure(failed, bool(fresh), exc)
            raise

    def _as_prepared(self, sql: str, count: int, new_ok: bool = True) -> tuple[str, str, str]:
        """The name ``sql`` is prepared under, its ``PREPARE`` when it is prepared now ("" when
        it was before), and the ``EXECUTE`` to send for it on this connection; ("", "", sql)
        when it is not prepared yet and may not be now (``new_ok``)."""
        name = _NAME_OF.get(sql)
        if name is None:
            name = _NAME_OF[sql] = "oa_" + hashlib.sha1(sql.encode()).hexdigest()[:16]
        done = self._names.setdefault(id(self.connection()), set())  # (opened if it was not)
        run = f"EXECUTE {name}({', '.join(['%s'] * count)})"
        if name in done:
            return name, "", run
        if not new_ok:
            return "", "", sql
        PREPARED[name] = sql
        done.add(name)  # a rollback does not undo PREPARE: kept even if EXECUTE fails
        return name, f"PREPARE {name} AS {_numbered(sql)}", run

    def _after_failure(self, name: str, fresh: bool, exc: Exception) -> None:
        """After a failed statement, what the server holds: a ``PREPARE`` refused (in a
        transaction already failed, or by its text) did not run; one that ran stays, whatever
        ``EXECUTE`` then met; a name the server does not know (after ``DEALLOCATE ALL`` or a
        pooler's reset) is prepared again next time."""
        code = getattr(getattr(exc, "orig", None), "pgcode", None) or ""
        done = self._names.setdefault(id(self.connection()), set())  # (opened if it was not)
        if code == _DUPLICATE_NAME:
            done.add(name)
        elif code == _UNKNOWN_NAME or (fresh and code[:2] in _NOT_RUN):
            done.discard(name)

    def _close_raw(self, conn: Any) -> Any:
        self._names.pop(id(conn), None)
        return super()._close_raw(conn)

    def _is_closed(self, conn: Any) -> bool:
        if conn.closed:
            return True
        status = conn.get_transaction_status()  # local: no round trip
        if status == 4:  # TRANSACTION_STATUS_UNKNOWN: the server is gone
            return True
        if status != 0 or self._idle_too_long(conn):  # not idle, or idle for long: check
            return self._adapter.is_connection_closed(conn)
        return False


class LeanPooledSqliteDatabase(_LeanPool, PooledSqliteDatabase):
    """SQLite, pooled (see ``_LeanPool``; its connections are local, never pinged)."""


register_database(LeanPooledPostgresqlDatabase, "postgresqllean+pool")
register_database(LeanPooledSqliteDatabase, "sqlitelean+pool")


@contextlib.contextmanager
def prepared() -> Iterator[None]:
    """Statements run inside are prepared once per connection and then only executed (on
    PostgreSQL unless ``DATABASE_PREPARED_STATEMENTS`` is off; elsewhere nothing changes).
    For reads of fixed text run on every request or write: the facts, the locks."""
    state = getattr(db.obj, "_state", None)
    if not getattr(db.obj, "prepare_statements", False) or state is None:
        yield
        return
    before, state.prepare = getattr(state, "prepare", False), True
    try:
        yield
    finally:
        state.prepare = before


def write_later(query: "peewee.Query") -> None:
    """Run the write ``query``, whose result (row count, new id) nobody reads, on PostgreSQL
    in the round trip of the transaction's next statement or its ``COMMIT``
    (``send_with_commit``); now where that cannot be (SQLite, a savepoint open, no
    transaction). Its error then surfaces with that round trip: a 503, the unit rolled
    back whole."""
    sql, params = query.sql()
    _write_later(sql, list(params))


def _write_later(sql: str, params: list, prepare: bool = False) -> None:
    """``write_later`` of a text; ``prepare``: one of a fixed few, prepared once per
    connection when sent with the next round trip (not when run now: a write's own)."""
    send = getattr(db.obj, "send_with_commit", None)
    if send is None or not send(sql, params, prepare):
        db.execute_sql(sql, params)


def create_later(model: type[peewee.Model], **fields: Any) -> Any:
    """A new row of ``model`` with ``fields``, written by ``write_later``: for a row whose
    generated key nobody reads (it is not set on the row returned)."""
    row = model(**fields)
    sql, values = _insert(model, row.__data__)
    _write_later(sql, values, prepare=True)  # one text per model and set of columns
    return row


def columns(model: type[peewee.Model], values: dict) -> tuple[str, list]:
    """(quoted column names, their values as the database takes them) of ``values``
    (``{field name: value}``)."""
    fields = [model._meta.fields[name] for name in values]
    names = ", ".join(f'"{f.column_name}"' for f in fields)
    return names, [f.db_value(values[f.name]) for f in fields]


# The INSERT of a model with a set of columns: (kind of database, model, columns) -> its text.
_INSERTS: dict[tuple, str] = {}


def _insert(model: type[peewee.Model], data: dict) -> tuple[str, list]:
    """The text and values of ``model``'s INSERT of ``data`` (a row's ``__data__``, its
    defaults applied), the text built once per model and set of columns."""
    names, values = columns(model, data)
    key = (type(db.obj), model, names)
    sql = _INSERTS.get(key)
    if sql is None:
        marks = ", ".join([db.param] * len(values))
        sql = _INSERTS[key] = f'INSERT INTO "{model._meta.table_name}" ({names}) VALUES ({marks})'
    return sql, values


class Fixed:
    """A query whose text never changes, only its values. Peewee builds a query's SQL anew
    each time it runs: 0.1-0.4 ms of a write's lock and member read, where the read itself
    is a tenth of that. A ``Fixed`` builds it once per kind of database and then sends that
    text with each call's values, prepared (``prepared``).

    ``build(*marks)`` returns the query with each parameter in place (its ``LIMIT`` too).
    A parameter is a string, or an int where ``build`` annotates it ``int``; each must
    reach the SQL as a value unchanged (a key, a ``CharField``, a date compared), which
    the first build checks. ``count``: how many parameters (default: ``build``'s own);
    ``prepare``: False for a text of which a connection would keep too many.
    """

    def __init__(
        self, build: Callable[..., "peewee.Query"], count: int | None = None, prepare: bool = True
    ) -> None:
        self._build = build
        self._prepare = prepare
        code = build.__code__
        self._count = code.co_argcount if count is None else count
        hints = getattr(build, "__annotations__", {})
        self._ints = {
            n
            for n, name in enumerate(code.co_varnames[: self._count])
            if hints.get(name) in (int, "int")
        }
        self._texts: dict[type, tuple] = {}  # kind of database -> query, SQL, values, slots

    def _text(self) -> tuple:
        kind = type(db.obj)
        got = self._texts.get(kind)
        if got is None:
            marks: list = [
                -(2**62) - i if i in self._ints else f"\x00fixed {i}\x00"
                for i in range(self._count)
            ]
            query = self._build(*marks)
            sql, values = query.sql()
            slots = [(n, marks.index(v)) for n, v in enumerate(values) if v in marks]
            if {i for _, i in slots} != set(range(self._count)):
                raise TypeError(f"{self._build.__qualname__}: a parameter changed on its way")
            got = self._texts[kind] = (query, sql, list(values), slots)
        return got

    def _values(self, values: tuple) -> tuple:
        """The query, its text and its values for the call's ``values``."""
        query, sql, params, slots = self._text()
        params = list(params)
        for n, i in slots:
            params[n] = values[i]
        return query, sql, params

    def _cursor(self, values: tuple) -> tuple:
        query, sql, params = self._values(values)
        with prepared() if self._prepare else contextlib.nullcontext():
            return query, db.execute_sql(sql, params)

    def first(self, *values: Any) -> Any:
        """The query's first row (a model, as peewee's ``first``) for ``values``, or None."""
        query, cursor = self._cursor(values)
        return next(iter(query._get_cursor_wrapper(cursor)), None)

    def all(self, *values: Any) -> list:
        """The query's rows for ``values``, as peewee would give them."""
        query, cursor = self._cursor(values)
        return list(query._get_cursor_wrapper(cursor))

    def later(self, *values: Any) -> None:
        """Run the query (a write nobody reads back) for ``values`` by ``write_later``."""
        _, sql, params = self._values(values)
        _write_later(sql, params, self._prepare)


def row_lock(model: type[peewee.Model]) -> Fixed:
    """A ``Fixed`` locking ``model``'s row by its key until the transaction ends (``FOR
    UPDATE``; on SQLite a plain read: the transaction's BEGIN IMMEDIATE locks already)."""

    def lock(key: str) -> peewee.Query:
        query = model.select().where(model._meta.primary_key == key).limit(1)
        return query if isinstance(db.obj, peewee.SqliteDatabase) else query.for_update()

    return Fixed(lock)


def open_database(url: str, prepare_statements: bool = True, **options: Any) -> peewee.Database:
    """Open the database named by ``url`` (``sqlite:///path`` or ``postgresql://...``).

    SQLite gets WAL, a busy timeout and foreign keys, so several gunicorn workers can share
    the file; connections to either are pooled per worker. ``prepare_statements``: whether
    ``prepared()`` prepares on PostgreSQL (off behind PgBouncer in transaction mode).
    ``options`` go to the driver (the tests pass a PostgreSQL ``search_path`` to get a schema
    of their own).
    """
    if url.startswith("sqlite"):
        # Pooled, so the PRAGMAs run once per connection, not once per request. The pool lends
        # a connection to one thread at a time, so SQLite's same-thread check can go.
        url = url.replace("sqlite://", "sqlitelean+pool://", 1)
        database = connect(
            url,
            max_connections=16,
            stale_timeout=300,
            check_same_thread=False,
            pragmas={
                "journal_mode": "wal",
                "foreign_keys": 1,
                "busy_timeout": 10000,
                "synchronous": "normal",
            },
            **options,
        )
    else:
        url = url.replace("postgresql://", "postgresqllean+pool://", 1).replace(
            "postgres://", "postgresqllean+pool://", 1
        )
        database = connect(url, max_connections=8, stale_timeout=300, **options)
        database.prepare_statements = prepare_statements
    return database


def transaction() -> "peewee._atomic":
    """The one way to open a write transaction.

    On SQLite it takes the write lock at once (BEGIN IMMEDIATE), so two writers serialise
    instead of failing on upgrade; on PostgreSQL it is a plain transaction, and code that
    must see a stable set of rows locks them (``Organization.lock``).
    """
    if isinstance(db.obj, peewee.SqliteDatabase):
        return db.atomic("IMMEDIATE")
    return db.atomic()
