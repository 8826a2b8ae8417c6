"""The change notices of PostgreSQL, heard on a connection of their own: the fact cache's
listener (access/cache.py keeps the facts; this thread keeps them fresh).

The triggers ``NOTIFY`` which organizations a statement touched, with the change position
it committed at (models/migrations/m0005_change_notices.py). ``Listener`` LISTENs on the
schema's channel, hands each notice to its ``Sink`` (the cache), and proves the position on
a heartbeat of its own: it reads the position, and once every notice up to it is applied,
every change committed before the read is. Reconnects with a backoff; while disconnected,
or past the bound without a proof, the cache falls back to a position read per request, and
on (re)connecting it starts over from the position.

The connection is asynchronous (psycopg2 ``async_``): every wait on it is a select() with a
deadline, so a connection that stops answering holds nothing.
"""

import json
import logging
import select
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import peewee

from models.facts import POSITION_SQL
from models.replicas import KEEPALIVES

log = logging.getLogger("orgauthz.cache")  # the fact cache's listener (access/cache.py)


class Sink(Protocol):
    """What the listener keeps fresh (access.cache.FactCache)."""

    position: int  # every notice up to this change position is applied
    max_staleness: float  # seconds: no position proven within it: the sink is not trusted

    def apply(self, note: dict, exact: bool = False) -> None: ...

    def resync(self, position: int) -> None: ...

    def heartbeat(self) -> float: ...


class Stale(Exception):
    """The listener proved no position within the bound (its connection hangs)."""


class Listener(threading.Thread):
    """LISTEN on the database's channel; apply each notice to ``sink``; prove the position
    (see the module docstring). ``lost`` is told each time the connection is given up:
    ``"deadline"`` (no position proven within the bound) or ``"error"``."""

    def __init__(
        self,
        sink: Sink,
        database: peewee.Database,
        direct: dict | None = None,
        lost: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(name="fact-cache-listener", daemon=True)
        self.sink = sink
        self.lost = lost
        if direct:
            self.params = dict(direct)
        else:
            self.params = dict(database.connect_params)
            self.params["database"] = database.database
        self.connected = False
        self.proven = -float("inf")  # monotonic time up to which every change is applied
        self._stop = threading.Event()
        self._conn: Any = None

    def trusted(self) -> bool:
        """Connected, and every change committed ``max_staleness`` seconds ago is applied."""
        return self.connected and time.monotonic() - self.proven <= self.sink.max_staleness

    def stop(self) -> None:
        self._stop.set()
        self.connected = False

    def run(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            try:
                self._serve()
            except Exception as exc:  # noqa: BLE001 -- any failure: reconnect
                if self._stop.is_set():
                    break
                self._lost(exc)
            finally:
                if self.connected:  # it served: the next failure starts the backoff over
                    backoff = 0.05
                self.connected = False
                conn, self._conn = self._conn, None
                if conn is not None:
                    try:
                        conn.close()  # non-blocking: a hung peer does not hold it
                    except Exception:  # noqa: BLE001, S110 -- closing a dead connection
                        pass
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 5.0)

    def _lost(self, exc: Exception) -> None:
        stale = isinstance(exc, Stale)
        if self.lost is not None:
            self.lost("deadline" if stale else "error")
        if stale:
            log.warning(
                "fact-cache listener: %s; decisions read the database until a new "
                "connection proves the position; reconnecting",
                exc,
            )
        else:
            log.warning("fact-cache listener lost its connection (%s); reconnecting", exc)

    def _ready(self, conn: Any, deadline: float) -> None:
        """Drive the connection until what it was asked is done; Stale past ``deadline``."""
        import psycopg2.extensions  # type: ignore[import-untyped]

        while True:
            state = conn.poll()
            if state == psycopg2.extensions.POLL_OK:
                return
            left = deadline - time.monotonic()
            if left <= 0 or self._stop.is_set():
                raise Stale("connecting took past the bound")
            if state == psycopg2.extensions.POLL_WRITE:
                select.select([], [conn], [], min(left, 0.5))
            else:
                select.select([conn], [], [], min(left, 0.5))

    def _query(self, conn: Any, sql: str, deadline: float) -> tuple | None:
        with conn.cursor() as cur:
            cur.execute(sql)
            self._ready(conn, deadline)
            return cur.fetchone() if cur.description else None

    def _connect(self, bound: float) -> tuple[Any, float]:
        """Connect, LISTEN, read the position and hand it to the sink: (the connection,
        when the position was asked)."""
        import psycopg2

        params = {k: v for k, v in self.params.items() if v is not None}
        params.setdefault("connect_timeout", 5)
        for name, value in KEEPALIVES.items():  # the kernel notices a peer that is gone
            params.setdefault(name, value)
        params.setdefault("tcp_user_timeout", max(int(bound * 1000), 1000))
        deadline = time.monotonic() + max(bound, float(params["connect_timeout"]))
        conn = self._conn = psycopg2.connect(**params, async_=1)
        self._ready(conn, deadline)
        row = self._query(conn, "SELECT current_schema()", deadline)
        channel = f"orgauthz:{row[0] if row else 'public'}"
        self._query(conn, f'LISTEN "{channel}"', deadline)
        sent = time.monotonic()
        row = self._query(conn, POSITION_SQL, deadline)
        # Listening before the read: every change after it is noticed. Facts kept while the
        # position was read per request stay if it has not moved since; else start over.
        self.sink.resync(row[0] if row else -1)
        self.proven, self.connected = sent, True
        return conn, sent

    def _serve(self) -> None:
        import psycopg2.extensions

        bound = self.sink.max_staleness
        conn, sent = self._connect(bound)
        beat = self.sink.heartbeat()
        asked: tuple[float, Any] | None = None  # a heartbeat in flight: (sent, cursor)
        waiting: tuple[float, int] | None = None  # read, not yet applied: (sent, position)
        writing = False
        while not self._stop.is_set():
            now = time.monotonic()
            if now - self.proven > bound:
                raise Stale(f"no position proven for {now - self.proven:.2f} s (bound {bound} s)")
            if asked is None and now - sent >= beat:  # the heartbeat: read the position
                sent, asked = now, (now, conn.cursor())
                asked[1].execute(POSITION_SQL)
                writing = conn.poll() == psycopg2.extensions.POLL_WRITE
            wake = self.proven + bound if asked else min(self.proven + bound, sent + beat)
            left = max(0.0, wake - time.monotonic())
            if writing:
                select.select([], [conn], [], min(left, 0.5))
            else:
                select.select([conn], [], [], min(left, 0.5))
            state = conn.poll()  # reads what arrived; a dead connection raises here
            writing = state == psycopg2.extensions.POLL_WRITE
            self._heard(conn)
            if asked is not None and state == psycopg2.extensions.POLL_OK:
                waiting = self._answered(asked, waiting)
                asked = None
            if waiting is not None and self.sink.position >= waiting[1]:
                self.proven, waiting = max(self.proven, waiting[0]), None

    def _heard(self, conn: Any) -> None:
        """Apply the notices that arrived."""
        if conn.notifies:
            notes, conn.notifies[:] = list(conn.notifies), []
            for notice in notes:
                try:
                    note = json.loads(notice.payload)
                except ValueError:
                    note = {"all": True}
                if isinstance(note, dict):
                    self.sink.apply(note)

    def _answered(
        self, asked: tuple[float, Any], waiting: tuple[float, int] | None
    ) -> tuple[float, int]:
        """A heartbeat's position arrived: (when it was asked, the position), to be proven
        once the notices up to it are applied."""
        at, cur = asked
        row = cur.fetchone()
        cur.close()
        now_at = row[0] if row else -1
        if waiting is not None and self.sink.position < waiting[1]:
            # The last heartbeat's position never arrived by notice (a proxy that drops
            # LISTEN, notices lost): start over at this one.
            log.warning(
                "fact-cache notices missing (position %s, applied %s): starting over",
                waiting[1],
                self.sink.position,
            )
            self.sink.apply({"g": now_at, "all": True}, exact=True)
        return (at, now_at)
