"""PostgreSQL streaming replicas the decision and list endpoints may read from
(``DATABASE_REPLICA_URLS``), and the direct connection the fact cache listens on
(``DATABASE_LISTEN_URL``).

A replica is a read-only copy that PostgreSQL itself keeps (``pg_basebackup -R``); the
service never writes to one. Which replica, if any, serves a request is decided per request
by the fact cache (access/cache.py), from the change position each replica has replayed
(models/generation.py: the position's row is replicated with everything else).
"""

import logging
import time
from typing import Any
from urllib.parse import urlsplit

import peewee
from playhouse.db_url import parse

from models.base import open_database

log = logging.getLogger("orgauthz.replicas")

CONNECT_TIMEOUT_SECONDS = 2  # a replica that does not answer by then is skipped


class Replica:
    """One replica: a pooled connection per worker thread, and what was last seen of it."""

    def __init__(self, url: str, **options: Any) -> None:
        parts = urlsplit(url)
        self.name = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
        self.label = f"replica:{self.name}"
        options.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
        self.database: peewee.Database = open_database(url, **options)
        self.down_until = 0.0  # skipped until then (monotonic), after a failure
        self.replayed = -1  # the change position it had replayed when last asked
        self.noted = 0.0  # when a skip was last logged (one line a second at most)

    def read(self, sql: str, params: tuple | list = ()) -> list:
        """Run one read; its rows. The connection goes back to the pool; on any error it is
        closed instead (it may be dead), and the error raised."""
        database = self.database
        try:
            rows = database.execute_sql(sql, params).fetchall()
        except BaseException:
            try:
                database.manual_close()  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001, S110 -- closing a dead connection
                pass
            raise
        database.close()
        return rows

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
        self.replayed = -1  # it may come back as another copy: ask again

    def close(self) -> None:
        try:
            self.database.close_all()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001, S110 -- a dead pool
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
