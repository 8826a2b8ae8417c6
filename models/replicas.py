"""PostgreSQL streaming replicas the decision and list endpoints may read from
(``DATABASE_REPLICA_URLS``), and the direct connection the fact cache listens on
(``DATABASE_LISTEN_URL``).

A replica is a read-only copy that PostgreSQL itself keeps (``pg_basebackup -R``); the
service never writes to one. Which replica, if any, serves a request is decided per request
by the fact cache (access/cache.py), from the change position each replica has replayed
(models/generation.py: the position's row is replicated with everything else).
"""

import itertools
import logging
import os
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import peewee
from playhouse.db_url import connect, parse

log = logging.getLogger("orgauthz.replicas")

CONNECT_TIMEOUT_SECONDS = 2  # a replica that does not answer by then is skipped
TIMEOUT_SECONDS = 2.0  # a read that has not answered by then is abandoned (REPLICA_TIMEOUT_SECONDS)
# TCP keepalives and tcp_user_timeout (libpq settings): a peer that is gone (a partition, a
# failover) is noticed by the kernel in seconds, not the system default of two hours.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 1,
    "keepalives_count": 3,
}


class _Deadlines:
    """Shuts down the socket of a read still running past its deadline, from a thread of its
    own (one per process, started on the first read): libpq waits on the socket without a
    timeout, so a server or a network that stops answering mid-query (a hung standby, a
    balancer that stops forwarding) would hold the request forever, and the server's
    statement_timeout cannot help when its answer never arrives. The read then fails as on a
    lost connection and is made on the next replica or the primary."""

    TICK = 0.1  # how often the deadlines are looked at: a read is cut at most this late

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[int, tuple[float, int]] = {}  # token -> (deadline, socket fd)
        self._fired: set[int] = set()  # tokens whose socket was shut down
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, fd: int, seconds: float) -> int:
        with self._lock:
            token = next(self._tokens)
            self._armed[token] = (time.monotonic() + seconds, fd)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="replica-deadlines")
                self._thread.daemon = True
                self._thread.start()
        return token

    def disarm(self, token: int) -> bool:
        """After it returns, the read's socket is never touched (it may then be closed).
        Whether the deadline had cut the read."""
        with self._lock:
            self._armed.pop(token, None)
            fired = token in self._fired
            self._fired.discard(token)
            return fired

    def forked(self) -> None:
        self._lock = threading.Lock()  # the parent's thread does not run here
        self._armed, self._fired, self._thread = {}, set(), None

    def _run(self) -> None:
        while True:
            time.sleep(self.TICK)
            now = time.monotonic()
            with self._lock:
                late = [t for t, (deadline, _) in self._armed.items() if deadline <= now]
                for token in late:
                    _shut(self._armed.pop(token)[1])
                    self._fired.add(token)


def _shut(fd: int) -> None:
    """Shut the socket down (both ways): a read blocked on it returns at once, failing."""
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()  # the duplicate only; the connection's own descriptor stays


DEADLINES = _Deadlines()
os.register_at_fork(after_in_child=DEADLINES.forked)


class Replica:
    """One replica: a connection per worker thread, kept, and what was last seen of it.

    Each thread keeps its own connection (peewee's, not pooled: a gthread worker has a fixed
    set of threads), so the position a request asks first and the facts it then reads come
    from one server, even when the URL names a balancer over several standbys."""

    def __init__(self, url: str, timeout: float | None = TIMEOUT_SECONDS, **options: Any) -> None:
        parts = urlsplit(url)
        self.name = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
        self.label = f"replica:{self.name}"
        options.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
        url = url.replace("postgres://", "postgresql://", 1)
        self.timeout = timeout  # seconds a read may take (None: unbounded)
        if timeout:  # the server stops the statement; _Deadlines stops waiting for it
            given = options.get("options") or parse(url).get("options") or ""
            options["options"] = f"{given} -c statement_timeout={int(timeout * 1000)}".strip()
            for name, value in KEEPALIVES.items():
                options.setdefault(name, value)
            options.setdefault("tcp_user_timeout", int(timeout * 1000))
        self.database: peewee.Database = connect(url, **options)
        self.down_until = 0.0  # skipped until then (monotonic), after a failure
        self.noted = 0.0  # when a skip was last logged (one line a second at most)
        self._local = threading.local()  # this thread's connection, and what it last showed

    def known(self) -> int:
        """The position this thread's connection last showed replayed, or -1 (a new
        connection, perhaps to another standby behind the same URL, is asked again)."""
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is None or self.database.is_closed() or self.database.connection() is not conn:
            return -1
        return local.replayed

    def saw(self, replayed: int) -> None:
        """This thread's connection shows ``replayed`` replayed (it only grows there)."""
        self._local.conn, self._local.replayed = self.database.connection(), replayed

    def read(self, sql: str, params: tuple | list = ()) -> list:
        """Run one read on this thread's connection; its rows. On any error, a read past
        ``timeout`` included, the connection is closed (it may be dead; the next read opens
        another) and the error raised."""
        database = self.database
        try:
            if not self.timeout:
                return database.execute_sql(sql, params).fetchall()
            token = DEADLINES.arm(database.connection().fileno(), self.timeout + 0.25)
            try:
                return database.execute_sql(sql, params).fetchall()
            except Exception as exc:
                if DEADLINES.disarm(token):
                    raise TimeoutError(f"no answer within {self.timeout:g} s") from exc
                raise
            finally:
                DEADLINES.disarm(token)
        except BaseException:
            try:
                database.close()
            except Exception:  # noqa: BLE001, S110 -- closing a dead connection
                pass
            raise

    def up(self, now: float) -> bool:
        return self.down_until <= now

    def failed(self, exc: BaseException, retry: float) -> None:
        """Skip this replica for ``retry`` seconds (logged once per failure, not per read)."""
        now = time.monotonic()
        if self.down_until <= now:
            log.warning(
                "replica %s failed (%s): reading the primary for %.1f s",
                self.name,
                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                retry,
            )
        self.down_until = now + retry

    def close(self) -> None:
        try:
            self.database.close()  # this thread's; the others' go with their threads
        except Exception:  # noqa: BLE001, S110 -- a dead connection
            pass


def open_replicas(urls: str | list | None, **options: Any) -> list:
    """Replicas of a comma-separated string (or list) of postgresql:// URLs."""
    if isinstance(urls, str):
        urls = [u.strip() for u in urls.split(",")]
    return [Replica(url, **options) for url in urls or () if url]


def connect_params(url: str) -> dict:
    """psycopg2.connect keyword arguments of a postgresql:// URL (the listener's)."""
    params = parse(url)
    params.pop("max_connections", None)
    params.pop("stale_timeout", None)
    return {k: v for k, v in params.items() if v is not None}
