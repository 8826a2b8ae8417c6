"""The decision log: one JSON line per decision, written off the request path.

A request thread appends a tuple to a deque (no lock; no wake while the writer is busy:
a wake per request was the largest item of a repeated check's profile). One writer thread
per process drains it every ``DRAIN_SECONDS`` while busy, sleeps untimed when idle (a put,
``flush`` or ``close`` wakes it) and appends compact JSON lines in batches (formatted by
ops/decisionlines.py, a repeated question's text made once). A request that decides many
times (a batch, the actions) opens ``request()``: its decisions go as ONE item with one time
and request context; still one line per decision, as if alone. A batch's known answers are
one ``Known`` record in it, not a tuple per decision (what waits for the writer is walked by
the collector).
Sampling (``DECISION_LOG_SAMPLE``, 0..1) and switching it off (``DECISION_LOG=off``) are
config. ``flask decisions replay`` reads the file back, rotated files included.

It is bounded and it survives a failing disk:

- the queue holds at most ``MAX_QUEUE`` records (20,000, about 18 MB); when it is full a
  record is dropped and counted (``orgauthz_decision_log_dropped_total``), so a log that
  cannot keep up or cannot write costs bounded memory and never slows a decision;
- a write error (disk full, read-only folder, a removed folder) does not stop the writer: it
  logs one JSON error line when failing starts, keeps the unwritten batch, stops draining the
  queue (which then fills and drops), retries every ``RETRY_SECONDS`` (reopening the file)
  and, once writing works again, writes the kept batch and the queue and logs that it
  recovered. ``health()`` says whether it is failing and how, now (``/readyz`` shows it);
- whole records only: a batch is one ``write`` of complete lines, and a write that stops
  short (a full disk, a file size limit) is cut back (``ftruncate``) to where it started,
  so the file never ends in half a record; the batch is written whole on a later try;
- the file is rotated by size: past ``DECISION_LOG_MAX_BYTES`` (default 100 MB)
  ``decisions.log`` becomes ``decisions.log.1`` (``.1`` becomes ``.2``, ...), keeping
  ``DECISION_LOG_BACKUPS`` (default 5) old files; 0 bytes turns rotation off. Several
  gunicorn workers append to one file (``O_APPEND``, one ``write`` per batch): the rotation
  is done under an ``flock`` of ``decisions.log.lock`` by whichever worker sees the file full
  first, and the others notice the new file (another inode) and reopen it.
"""

import atexit
import collections
import contextlib
import errno
import fcntl
import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops.decisionlines import Fragments, Known, Lines, alone
from ops.metrics import DECISION_LOG_DROPPED, DECISION_LOG_WRITE_ERRORS

if TYPE_CHECKING:
    from authz.view import Target

log = logging.getLogger("orgauthz.decisionlog")

MAX_QUEUE = 20_000  # about 0.9 kB each queued: some 18 MB per worker at most
MAX_BYTES = 100 * 1000 * 1000
BACKUPS = 5
BATCH, DRAIN_SECONDS = 1000, 0.05  # lines per write; how long a busy writer gathers them
RETRY_SECONDS = (0.2, 5.0)  # first retry after a write error, and the longest wait

_writers: dict = {}
_sink = None  # (writer, sample, context provider) of this process, or None when off
_local = type("Local", (threading.local,), {"records": None})()  # .records: request()'s list


class _Request:
    """One request's decisions, queued as one item: ``records`` of (decision, actor, action,
    target, requested, asked), or ``Known`` runs of them, with the request's context and
    time shared by all of them; ``n`` decisions in all."""

    __slots__ = ("records", "extra", "when", "n")

    def __init__(self, records: list, extra: dict | None, when: float):
        self.records, self.extra, self.when = records, extra, when
        self.n = len(records) + sum(len(r.ids) - 1 for r in records if type(r) is Known)


class _Writer(threading.Thread):
    """Drains the queue into one file; ``flush()`` waits until what was queued is written."""

    def __init__(
        self,
        path: str,
        max_queue: int = MAX_QUEUE,
        max_bytes: int = MAX_BYTES,
        backups: int = BACKUPS,
    ):
        super().__init__(name="decision-log", daemon=True)
        # appended by request threads, popped by the writer: both atomic on a deque
        self.queue: collections.deque = collections.deque()
        self._wake = threading.Event()  # set by flush(), close() and a put to an idle writer
        self._idle = False  # the writer waits for _wake with no timeout
        self.path = path
        self.max_queue, self.max_bytes, self.backups = max_queue, max_bytes, backups
        self.error: str | None = None  # why writing fails, while it does
        self.dropped = 0  # records dropped since the process started
        self._fd: int | None = None
        self._carry = b""  # formatted, not yet written (one batch at most)
        self._fragments = Fragments()  # what a repeated question's lines share
        self._closing = threading.Event()
        # Records queued (request threads add, under the lock) and taken (the writer only):
        # the cap counts decisions, a request's item holding many.
        self._queued, self._taken = 0, 0
        self._counting = threading.Lock()

    # -- the request side -------------------------------------------------------------
    def put(self, item: "tuple | _Request") -> None:
        """Queue ``item`` (one record, or a request's) unless the queue would hold more than
        ``max_queue`` records (then drop and count them). Never blocks."""
        n = item.n if type(item) is _Request else 1
        if self._queued - self._taken + n > self.max_queue:
            self.dropped += n
            DECISION_LOG_DROPPED.inc(n)
            return
        with self._counting:
            self._queued += n
        self.queue.append(item)
        if self._idle:  # the writer sleeps until told: tell it once
            self._idle = False
            self._wake.set()

    def flush(self, timeout: float = 5.0) -> None:
        """Wait (at most ``timeout``) until what was queued before is written."""
        done = threading.Event()
        self.queue.append(done)  # never dropped: a flush is not a record
        self._wake.set()
        done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (unless failing), then stop the thread."""
        self._closing.set()
        self.queue.append(None)
        self._wake.set()
        self.join(timeout)

    # -- the writer thread --------------------------------------------------------------
    def run(self) -> None:
        while True:
            if not self.queue:  # idle: sleep until a put wakes it (only an idle one is woken)
                self._idle = True
                if not self.queue:
                    self._wake.wait()
                self._wake.clear()
                self._idle = False
                continue
            batch: list = []
            try:
                while len(batch) < BATCH:
                    batch.append(self.queue.popleft())
            except IndexError:
                pass
            lines: list[str] = []
            events, stop = [], False
            for item in batch:
                if type(item) is tuple:  # a decision recorded alone
                    self._alone(item, lines)
                elif item is None:
                    stop = True
                elif isinstance(item, threading.Event):
                    events.append(item)
                else:
                    self._format(item, lines)
            if lines:
                self._carry += ("\n".join(lines) + "\n").encode("utf-8", "backslashreplace")
            self._write_until_done()
            for event in events:
                event.set()
            if stop:
                self._close_file()
                return
            if not events:  # while busy, let the next batch gather (puts do not wake it)
                self._wake.wait(DRAIN_SECONDS)
                self._wake.clear()

    def _alone(self, item: tuple, lines: list[str]) -> None:
        """Append the line of a record queued alone, (decision, actor, action, target,
        requested, asked, extra, time); one that cannot be formatted is dropped and counted."""
        self._taken += 1
        try:
            lines.append(alone(self._fragments, item))
        except Exception:
            self._drop(1)

    def _format(self, item: _Request, lines: list[str]) -> None:
        """Append the lines of a request's item to ``lines``; a record that cannot be
        formatted is dropped and counted."""
        records, extra, when = item.records, item.extra, item.when
        self._taken += item.n
        try:
            made = Lines(extra, when, self._fragments)
        except Exception:  # the request's context cannot be formatted: none of its lines
            self._drop(item.n)
            return
        try:  # all at once
            lines += made.lines(records)
        except Exception:  # one cannot be formatted: one by one, and that one dropped
            for record in records:
                try:
                    ones = record.records() if type(record) is Known else [record]
                except Exception:  # a run whose records cannot be read: all of it
                    self._drop(len(record.ids))
                    continue
                for one in ones:
                    try:
                        lines.append(made.line(*one))
                    except Exception:
                        self._drop(1)

    def _drop(self, n: int) -> None:
        self.dropped += n
        DECISION_LOG_DROPPED.inc(n)

    def _write_until_done(self) -> None:
        """Write ``_carry``; on an error, say so once and retry (reopening the file) until it
        works or the writer is closed. The queue is not drained meanwhile: it fills, then
        drops."""
        wait = RETRY_SECONDS[0]
        while self._carry:
            try:
                self._write_carry()
            except OSError as exc:
                self._close_file()
                self._failing(exc)
                if self._closing.wait(wait):
                    return
                wait = min(wait * 2, RETRY_SECONDS[1])
            else:
                if self.error is not None:
                    log.warning(
                        {
                            "message": "decision log writes again",
                            "event": "decision_log_recovered",
                            "path": self.path,
                            "dropped_total": self.dropped,
                        }
                    )
                    self.error = None

    def _failing(self, exc: OSError) -> None:
        DECISION_LOG_WRITE_ERRORS.inc()
        error = f"cannot write {self.path}: {exc.strerror or exc} (errno {exc.errno})"
        if error != self.error:  # failing starts, or fails another way: /readyz says the latest
            self.error = error
            log.error(
                {
                    "message": "decision log failing; decisions still answer, records queue "
                    "(then drop) until it writes again",
                    "event": "decision_log_failing",
                    "path": self.path,
                    "error": self.error,
                }
            )

    def _open(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size:  # a line cut short (a crash, a full disk) is ended before ours
                with open(self.path, "rb") as f:
                    f.seek(size - 1)
                    if f.read(1) != b"\n" and not self._carry.startswith(b"\n"):
                        self._carry = b"\n" + self._carry
        except OSError:
            os.close(fd)
            raise
        self._fd = fd

    def _close_file(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def _same_file(self) -> bool:
        """Whether the path still names the file we hold open (another worker may have
        rotated it, or someone removed it)."""
        assert self._fd is not None  # only asked while a file is open
        try:
            here, there = os.fstat(self._fd), os.stat(self.path)
        except OSError:
            return False
        return (here.st_ino, here.st_dev) == (there.st_ino, there.st_dev)

    def _write_carry(self) -> None:
        if self._fd is not None and not self._same_file():
            self._close_file()
        if self._fd is None:
            self._open()
        assert self._fd is not None  # _open set it, or raised
        if self.max_bytes > 0:
            size = os.fstat(self._fd).st_size
            if size and size + len(self._carry) > self.max_bytes:
                self._rotate()
        self._append(self._fd, self._carry)
        self._carry = b""

    def _append(self, fd: int, data: bytes) -> None:
        """Append ``data`` (whole lines) in one ``write``, or leave the file as it was: a
        short write (a full disk, a file size limit) is cut back to where it started, so
        the file never holds part of a record, and the error is raised with all of
        ``data`` still to write. Done under the lock file's ``flock`` when it can be had,
        so the cut never takes another worker's lines written meanwhile."""
        lock = self._lock()
        try:
            done = os.write(fd, data)
            if done == len(data):
                return
            end = os.lseek(fd, 0, os.SEEK_CUR)  # O_APPEND: just past what was written
            if os.fstat(fd).st_size == end:  # nobody appended after us: cut ours off
                os.ftruncate(fd, end - done)
            else:  # (unlocked, and someone did) at least end the torn line
                with contextlib.suppress(OSError):
                    os.write(fd, b"\n")
            raise OSError(
                errno.ENOSPC,
                "short write (a full disk or a file size limit), cut back to the last record",
            )
        finally:
            if lock is not None:
                os.close(lock)  # releases the flock

    def _lock(self) -> int | None:
        """The rotation lock, held (or None when it cannot be opened: a read-only folder)."""
        try:
            lock = os.open(self.path + ".lock", os.O_WRONLY | os.O_CREAT, 0o644)
        except OSError:
            return None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
        except OSError:
            os.close(lock)
            return None
        return lock

    def _rotate(self) -> None:
        """Shift ``path`` to ``path.1`` (and so on), under a lock all workers share."""
        lock = os.open(self.path + ".lock", os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self._same_file():  # nobody rotated it meanwhile
                assert self._fd is not None  # _same_file is true only with a file open
                size = os.fstat(self._fd).st_size
                if size and size + len(self._carry) > self.max_bytes:
                    if self.backups > 0:
                        for i in range(self.backups - 1, 0, -1):
                            with contextlib.suppress(FileNotFoundError):
                                os.replace(f"{self.path}.{i}", f"{self.path}.{i + 1}")
                        os.replace(self.path, f"{self.path}.1")
                    else:
                        os.unlink(self.path)
            self._close_file()
            self._open()
        finally:
            os.close(lock)  # releases the flock


def install(
    path: str,
    sample: float = 1.0,
    context: Callable[[], dict | None] | None = None,
    *,
    max_queue: int | None = None,
    max_bytes: int = MAX_BYTES,
    backups: int = BACKUPS,
) -> None:
    """Write decisions to ``path`` (one writer thread per file and process): a queue of at
    most ``max_queue`` records (default ``MAX_QUEUE``), files rotated at ``max_bytes``,
    ``backups`` of them kept (create_app passes the settings DECISION_LOG_MAX_BYTES and
    DECISION_LOG_BACKUPS)."""
    global _sink
    if not path or path == "off" or sample <= 0:
        _sink = None
        return
    path = os.path.abspath(path)  # not resolve(): the file may be a symlink
    writer = _writers.get(path)
    if writer is None or not writer.is_alive():  # none yet, or lost (a fork)
        with contextlib.suppress(OSError):  # a folder that cannot be made is a write error
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        writer = _Writer(path, MAX_QUEUE if max_queue is None else max_queue, max_bytes, backups)
        writer.start()
        _writers[path] = writer
    _sink = (writer, sample, context)


def close(path: str) -> None:
    """Stop the writer of ``path`` (after writing what is queued, unless it is failing)."""
    global _sink
    writer = _writers.pop(os.path.abspath(path), None)
    if writer is None:
        return
    if _sink is not None and _sink[0] is writer:
        _sink = None
    writer.close()


def health() -> str | None:
    """None while the decision log writes (or is off); else why it does not, for /readyz."""
    if _sink is None:
        return None
    writer = _sink[0]
    if not writer.is_alive():
        return f"the decision-log writer of {writer.path} stopped"
    if writer.error is not None:
        return f"{writer.error}; {writer.dropped} records dropped so far"
    return None


@atexit.register
def flush() -> None:
    """Write out what is queued (replay and the tests read the file right after)."""
    for writer in list(_writers.values()):
        if writer.is_alive() and writer.error is None:  # a failing one would only time out
            writer.flush()


def asked_context() -> dict | None:
    """The recorded decision's request context: app.py sets the engine's (``asking``)."""
    return None


def set_asked_context(read: Callable[[], dict | None]) -> None:
    """Read each decision's request context with ``read`` (app.py: the engine's)."""
    globals()["asked_context"] = read


def record(
    decision: Any,
    actor_id: str,
    action: str,
    target: "Target | None",
    requested: dict | None = None,
) -> None:
    """Queue one line for ``decision`` (does nothing when the log is off or not sampled);
    inside ``request()``, keep it for the request's one queued item."""
    if _sink is None:
        return
    writer, sample, context = _sink
    if sample < 1.0 and random.random() >= sample:
        return
    asked = asked_context()  # the check's request context (docs/API.md 1.3), if any
    records = getattr(_local, "records", None)
    if records is not None:
        records.append((decision, actor_id, action, target, requested, asked))
        return
    extra = context() if context is not None else None
    writer.put((decision, actor_id, action, target, requested, asked, extra, time.time()))


def kept() -> tuple[list, dict | None] | None:
    """Inside ``request()`` with every decision kept (no sampling): (the request's records,
    the request context ``record`` would read now), so a run of known answers can append
    its ``Known`` record, what ``record`` would keep of each, without a call each; else None
    (then ``record`` each)."""
    if _sink is None or _sink[1] < 1.0:
        return None
    records = getattr(_local, "records", None)
    return None if records is None else (records, asked_context())


def on() -> bool:
    """Whether decisions are logged at all (``record`` does nothing when not)."""
    return _sink is not None


@contextlib.contextmanager
def request() -> Iterator[None]:
    """The decisions recorded on this thread until the block ends are queued as one item,
    with one time and one call of the request context (kept when the block raises: what
    was decided is logged). Nested, the outer block hands them over."""
    if _sink is None or getattr(_local, "records", None) is not None:
        yield
        return
    records: list = []
    _local.records = records
    try:
        yield
    finally:
        _local.records = None
        if records and _sink is not None:
            writer, _, context = _sink
            extra = context() if context is not None else None
            writer.put(_Request(records, extra, time.time()))


def files(path: str) -> list:
    """The log at ``path`` and its rotated files, newest first."""
    base = Path(path)
    rotated = []
    with contextlib.suppress(OSError):
        for other in base.parent.iterdir():
            match = re.fullmatch(re.escape(base.name) + r"\.(\d+)", other.name)
            if match:
                rotated.append((int(match.group(1)), other))
    return [base] + [p for _, p in sorted(rotated)]


def find(path: str, decision_id: str) -> dict | None:
    """The logged line of ``decision_id`` in the file at ``path`` or its rotated files."""
    for name in files(path):
        try:
            with open(name, encoding="utf-8", errors="replace") as f:
                for text in f:
                    if decision_id in text:
                        try:
                            line = json.loads(text)
                        except ValueError:  # a line cut short
                            continue
                        if isinstance(line, dict) and line.get("decision_id") == decision_id:
                            return line
        except FileNotFoundError:
            continue
    return None
