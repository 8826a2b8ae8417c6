"""``last_active_at`` without a write on the request path.

A decision or management call by a user marks them active (at most once a minute per user
and worker); the marks are written by a background thread every
``LAST_ACTIVE_FLUSH_SECONDS``, or at once when that is 0 (the tests).

Writing never deadlocks and never holds up a request:

- ids are written in sorted order, in batches of ``BATCH``, each batch its own short
  transaction (no transaction spans batches), so the writer holds at most one batch of rows,
  briefly, and two writers (two workers) take rows in the same order;
- on PostgreSQL a batch first locks its rows with ``FOR NO KEY UPDATE SKIP LOCKED`` (the
  lock an UPDATE of ``last_active_at`` takes anyway, so inserts that reference the user do
  not wait for it): a row that a
  request (a bulk removal, a role change) or another worker holds is skipped, never waited
  for, and written at the next flush; ``lock_timeout`` bounds any other wait (a table lock);
- a row is only moved forward (``last_active_at < new``), so two workers' marks cannot
  move it back;
- a failure is logged once (and once when writing works again) and never reaches a request,
  also when the tests flush on the request thread.

The marks are bounded whatever the traffic: ``_marked`` (who was marked in the last minute)
is an LRU capped at ``MAX_MARKS`` entries and about ``MAX_MARK_BYTES``, whose entries also
expire after a minute; the pending writes are capped at ``MAX_MARKS`` (further marks are
dropped until the next flush); ids that no user can have (over 200 characters, NUL, lone
surrogates) are never kept.
"""

import datetime
import logging
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

import peewee

from models import User, db

log = logging.getLogger("orgauthz.activity")
EVERY = 60.0  # seconds between two marks of the same user by one worker
BATCH = 500  # rows per UPDATE (and per transaction)
MAX_MARKS = 50_000  # entries in the LRU of marks, and pending writes
MAX_MARK_BYTES = 16 * 1024 * 1024  # approximate bytes of the LRU
ENTRY_OVERHEAD = 120  # bytes per LRU entry beyond its id string (node, float, dict slot)
MAX_ID = 200  # User.id's column
LOCK_TIMEOUT_MS = 1000  # PostgreSQL: the most a batch waits for a lock (rows are skipped)
_clock = time.monotonic  # the tests move it
_TABLE = User._meta.table_name
_SQLITE_UPDATE = (
    f'UPDATE "{_TABLE}" SET last_active_at = ? WHERE id = ? '
    "AND (last_active_at IS NULL OR last_active_at < ?)"
)
# PostgreSQL, one round trip: the batch's rows locked FOR NO KEY UPDATE SKIP LOCKED (in id
# order), those moved forward, and the ids of existing rows another transaction holds
# returned (written at the next flush). Rows no user has are neither.
_PG_UPDATE = f"""SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms';
WITH want (id, at) AS (SELECT * FROM unnest(%s::text[], %s::timestamp[])),
locked AS (
    SELECT u.id FROM "{_TABLE}" u WHERE u.id = ANY(%s::text[])
    ORDER BY u.id FOR NO KEY UPDATE SKIP LOCKED
),
moved AS (
    UPDATE "{_TABLE}" u SET last_active_at = w.at FROM want w, locked l
    WHERE u.id = w.id AND l.id = w.id AND (u.last_active_at IS NULL OR u.last_active_at < w.at)
)
SELECT w.id FROM want w
WHERE NOT EXISTS (SELECT 1 FROM locked l WHERE l.id = w.id)
AND EXISTS (SELECT 1 FROM "{_TABLE}" u WHERE u.id = w.id)"""


def _storable(user_id: object) -> bool:
    """Whether ``user_id`` could be a user's id (else it is never marked or written)."""
    if not isinstance(user_id, str) or not user_id or len(user_id) > MAX_ID or "\x00" in user_id:
        return False
    try:
        user_id.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


class Activity:
    def __init__(self, max_marks: int = MAX_MARKS, max_bytes: int = MAX_MARK_BYTES):
        self.max_marks, self.max_bytes = max_marks, max_bytes
        self._lock = threading.Lock()
        self._pending: dict = {}  # user id -> time to write
        self._marked: OrderedDict = OrderedDict()  # user id -> monotonic time of the mark
        self._marked_bytes = 0
        self._flushing = threading.Lock()  # one flush at a time per process
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.failing = False  # the last flush failed (logged once when it starts)
        self.dropped = 0  # marks not kept because the pending writes were full

    def mark(
        self, user_id: str, now: Callable[[], datetime.datetime], flush_seconds: float
    ) -> None:
        """Remember that ``user_id`` was active now (``now``: the service's clock, read only
        when the mark is kept: most are not); write now or soon. Never raises."""
        clock = _clock()
        last = self._marked.get(user_id)
        if last is not None and clock - last < EVERY:
            return
        if not _storable(user_id):
            return
        with self._lock:
            if user_id not in self._pending and len(self._pending) >= self.max_marks:
                self.dropped += 1  # written at its next mark after the next flush
                return
            self._pending[user_id] = now()
            self._remember(user_id, clock)
        if flush_seconds <= 0:
            self.flush()
        elif self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._loop, args=(flush_seconds,), name="last-active", daemon=True
                    )
                    self._thread.start()

    def mark_all(
        self, user_ids: Iterable[str], now: Callable[[], datetime.datetime], flush_seconds: float
    ) -> None:
        """``mark`` each of ``user_ids`` (a batch's actors): the clock read once, and only
        those not marked in the last ``EVERY`` seconds marked one by one."""
        clock, marked = _clock(), self._marked
        for user_id in user_ids:
            last = marked.get(user_id)
            if last is None or clock - last >= EVERY:
                self.mark(user_id, now, flush_seconds)

    def _remember(self, user_id: str, clock: float) -> None:
        """Under ``_lock``: record the mark, newest last; drop expired and excess entries."""
        marked = self._marked
        if user_id in marked:
            marked.move_to_end(user_id)
        else:
            self._marked_bytes += sys.getsizeof(user_id) + ENTRY_OVERHEAD
        marked[user_id] = clock
        while marked:
            oldest, at = next(iter(marked.items()))
            if (
                clock - at < EVERY
                and len(marked) <= self.max_marks
                and self._marked_bytes <= self.max_bytes
            ):
                break
            del marked[oldest]
            self._marked_bytes -= sys.getsizeof(oldest) + ENTRY_OVERHEAD

    def flush(self) -> None:
        """Write every pending mark (sorted, a short transaction per batch). Never raises:
        a batch that fails or rows another transaction holds stay pending for the next flush."""
        with self._flushing:
            with self._lock:
                pending, self._pending = self._pending, {}
            if not pending:
                return
            ids = sorted(pending)
            retry: list = []
            error = None
            for i in range(0, len(ids), BATCH):
                batch = ids[i : i + BATCH]
                try:
                    retry += self._write(batch, pending)
                except Exception as exc:  # best effort: try again at the next flush
                    error = exc
                    retry += batch
            self._requeue(retry, pending)
            if error is not None and not self.failing:
                self.failing = True
                log.warning("writing last_active_at failed: %s", _describe(error))
            elif error is None and self.failing:
                self.failing = False
                log.warning("writing last_active_at works again")

    def _write(self, batch: list, pending: dict) -> list:
        """One batch in its own transaction; returns the ids to try again (rows held by
        another transaction). One statement of fixed text whatever the batch (the ids and
        times are parameters; building a peewee query of a 500-branch CASE per batch was 13%
        of a worker's time under varied checks), one round trip on PostgreSQL."""
        field = User.last_active_at
        ids = list(batch)
        times = [field.db_value(pending[u]) for u in ids]
        with db.connection_context():
            if isinstance(db.obj, peewee.SqliteDatabase):
                with db.atomic("IMMEDIATE"):  # one prepared statement, run per row
                    db.connection().executemany(
                        _SQLITE_UPDATE, [(at, u, at) for u, at in zip(ids, times)]
                    )
                return []
            with db.atomic():
                cursor = db.execute_sql(_PG_UPDATE, (ids, times, ids))
                return [row[0] for row in cursor.fetchall()]

    def _requeue(self, ids: list, pending: dict) -> None:
        """Put back what was not written, unless a newer mark came meanwhile."""
        if not ids:
            return
        with self._lock:
            for user_id in ids:
                if user_id in self._pending:
                    continue
                if len(self._pending) >= self.max_marks:
                    self.dropped += 1
                    continue
                self._pending[user_id] = pending[user_id]

    def _loop(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.flush()
            except Exception:  # flush catches its own; whatever else, the thread goes on
                log.exception("last_active_at writer")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the background writer (the tests; a worker just exits)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def forget(self) -> None:
        """Forget marks and pending writes (the tests move the clock)."""
        with self._lock:
            self._pending.clear()
            self._marked.clear()
            self._marked_bytes = 0


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


ACTIVITY = Activity()
