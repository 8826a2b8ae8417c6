"""PostgreSQL streaming replicas the decision and list endpoints may read from
(``DATABASE_REPLICA_URLS``), and the direct connection the fact cache listens on
(``DATABASE_LISTEN_URL``).

A replica is a read-only copy that PostgreSQL itself keeps (``pg_basebackup -R``); the
service never writes to one. Which replica, if any, serves a request is decided per request
by the fact cache (access/cache.py), from the change position each replica has replayed
(models/generation.py: the position's row is replicated with everything else).
"""

import logging
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import peewee
from playhouse.db_url import connect, parse

log = logging.getLogger("orgauthz.replicas")

CONNECT_TIMEOUT_SECONDS = 2  # a replica that does not answer by then is skipped


class Replica:
    """One replica: a connection per worker thread, kept, and what was last seen of it.

    Each thread keeps its own connection (peewee's, not pooled: a gthread worker has a fixed
    set of threads), so the position a request asks first and the facts it then reads come
    from one server, even when the URL names a balancer over several standbys."""

    def __init__(self, url: str, **options: Any) -> None:
        parts = urlsplit(url)
        self.name = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
        self.label = f"replica:{self.name}"
        options.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
        url = url.replace("postgres://", "postgresql://", 1)
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
        """Run one read on this thread's connection; its rows. On any error the connection
        is closed (it may be dead; the next read opens another) and the error raised."""
        database = self.database
        try:
            return database.execute_sql(sql, params).fetchall()
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
