"""PostgreSQL servers of a test's own: a primary, and streaming replicas of it made with
``pg_basebackup -R``, each on its own port of 127.0.0.1, run as the postgres user (the
servers refuse to run as root). Tests stop, start and pause them without touching the
machine's shared PostgreSQL."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)
needs_pg_server = pytest.mark.skipif(
    PG_BIN is None or shutil.which("runuser") is None or os.geteuid() != 0,
    reason="needs PostgreSQL's server binaries and root to run them as postgres",
)


def as_postgres(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *map(str, args)],
        capture_output=True,
        text=True,
        check=True,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One PostgreSQL server: its data folder, port and URL."""

    def __init__(self, data: Path, port: int):
        self.data, self.port = data, port
        self.opts = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def ctl(self, *args) -> subprocess.CompletedProcess:
        return as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-w", "-t", "60", *args)

    def start(self) -> None:
        self.ctl("-o", self.opts, "-l", self.data / "log", "start")

    def stop(self, mode: str = "fast") -> None:
        try:
            self.ctl("-m", mode, "stop")
        except subprocess.CalledProcessError:
            pass  # already stopped

    def sql(self, text: str, params: tuple = ()) -> list:
        """Run one statement in autocommit on this server; its rows."""
        conn = psycopg2.connect(self.url)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(text, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()


class Cluster:
    """A primary and its replicas under one temporary folder; ``close`` stops them all."""

    def __init__(self):
        # pytest's tmp_path is private to root; the servers run as postgres.
        self.base = Path(tempfile.mkdtemp(prefix="orgauthz-pg-"))
        self.base.chmod(0o755)
        self.servers: list = []

    def _folder(self, name: str) -> Path:
        data = self.base / name
        data.mkdir()
        shutil.chown(data, "postgres", "postgres")
        data.chmod(0o700)
        return data

    def primary(self) -> Server:
        """A new primary (trust authentication, replication allowed from 127.0.0.1)."""
        data = self._folder("primary")
        as_postgres(PG_BIN / "initdb", "-D", data, "-A", "trust", "-U", "postgres")
        server = Server(data, free_port())
        server.start()
        self.servers.append(server)
        return server

    def replica(self, primary: Server) -> Server:
        """A streaming replica of ``primary``, started, once it has replayed a first change."""
        data = self._folder(f"replica{len(self.servers)}")
        as_postgres(
            PG_BIN / "pg_basebackup",
            "-h", "127.0.0.1", "-p", primary.port, "-U", "postgres",
            "-D", data, "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        server = Server(data, free_port())
        server.start()
        self.servers.append(server)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if server.sql("SELECT pg_is_in_recovery()")[0][0]:
                return server
            time.sleep(0.1)
        raise AssertionError("the replica did not start streaming")

    def close(self) -> None:
        for server in reversed(self.servers):
            server.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


def wait_until_replayed(primary: Server, replica: Server, timeout: float = 30) -> None:
    """Wait until ``replica`` has replayed everything ``primary`` has written so far."""
    target = primary.sql("SELECT pg_current_wal_lsn()")[0][0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        caught_up = replica.sql(
            "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), %s) >= 0", (target,)
        )[0][0]
        if caught_up:
            return
        time.sleep(0.05)
    raise AssertionError(f"replica did not replay to {target}")
