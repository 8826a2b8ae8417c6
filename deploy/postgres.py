"""PostgreSQL servers of a local cluster: a primary, streaming replicas made with
``pg_basebackup -R`` (each on its own port of 127.0.0.1, run as the postgres user), and
PgBouncer in front of the primary. The tests' own servers (tests/pgcluster.py) are these."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg2  # type: ignore[import-untyped]

from deploy.processes import (
    DEPLOY,
    PG_BIN,
    PGBOUNCER,
    as_postgres,
    free_port,
    log_tail,
    stop_process,
)

# ---------------------------------------------------------------- PostgreSQL


class Server:
    """One PostgreSQL server: its data folder, port and URL."""

    def __init__(self, data: Path, port: int, dbname: str = "postgres"):
        self.data, self.port, self.dbname = data, port, dbname
        self.opts = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.dbname}"

    def ctl(self, *args: Any) -> subprocess.CompletedProcess:
        assert PG_BIN is not None
        return as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-w", "-t", "60", *args)

    def start(self) -> None:
        self.ctl("-o", self.opts, "-l", self.data / "log", "start")

    def stop(self, mode: str = "fast") -> None:
        try:
            self.ctl("-m", mode, "stop")
        except subprocess.CalledProcessError:
            pass  # already stopped

    @property
    def running(self) -> bool:
        try:
            self.ctl("status")
        except subprocess.CalledProcessError:
            return False
        return True

    def sql(self, text: str, params: tuple = ()) -> list:
        """Run one statement in autocommit on this server; its rows."""
        conn = psycopg2.connect(self.url, connect_timeout=5)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(text, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()


class Cluster:
    """PostgreSQL servers under one temporary folder: a primary and streaming replicas of it
    (``pg_basebackup -R``); ``close`` stops them all."""

    def __init__(self, base: Path | None = None, dbname: str = "postgres"):
        # Readable by postgres (pytest's tmp_path is private to root).
        self.base = base or Path(tempfile.mkdtemp(prefix="orgauthz-pg-"))
        self.base.chmod(0o755)
        self.dbname = dbname
        self.servers: list[Server] = []

    def _folder(self, name: str) -> Path:
        data = self.base / name
        data.mkdir()
        shutil.chown(data, "postgres", "postgres")
        data.chmod(0o700)
        return data

    def primary(self) -> Server:
        """A new primary (trust authentication, replication allowed from 127.0.0.1)."""
        assert PG_BIN is not None
        data = self._folder("primary")
        as_postgres(PG_BIN / "initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
        server = Server(data, free_port(), self.dbname)
        server.start()
        self.servers.append(server)
        if self.dbname != "postgres":
            Server(data, server.port).sql(f'CREATE DATABASE "{self.dbname}"')
        return server

    def replica(self, primary: Server) -> Server:
        """A streaming replica of ``primary``, started, once it is in recovery."""
        assert PG_BIN is not None
        data = self._folder(f"replica{len(self.servers)}")
        as_postgres(
            PG_BIN / "pg_basebackup",
            "-h", "127.0.0.1", "-p", primary.port, "-U", "postgres",
            "-D", data, "-R", "-X", "stream", "-c", "fast", "--no-sync",
        )  # fmt: skip
        server = Server(data, free_port(), primary.dbname)
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


# ---------------------------------------------------------------- PgBouncer


class Bouncer:
    """PgBouncer (deploy/pgbouncer.ini, transaction mode) in front of one server, run as
    postgres (it refuses root) in the foreground."""

    def __init__(self, folder: Path, server: Server):
        self.folder, self.server, self.port = folder, server, free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.server.dbname}"

    def config(self) -> str:
        """deploy/pgbouncer.ini with its database, port, authentication and files set."""
        text = (DEPLOY / "pgbouncer.ini").read_text()
        target = f"host=127.0.0.1 port={self.server.port} dbname={self.server.dbname}"
        text = re.sub(
            r"(?m)^orgauthz = .*$", lambda _: f"{self.server.dbname} = {target}", text, count=1
        )
        settings = {
            "listen_port": str(self.port),
            "auth_type": "trust",
            "auth_file": str(self.folder / "userlist.txt"),
            "logfile": str(self.folder / "pgbouncer.log"),
            "pidfile": str(self.folder / "pgbouncer.pid"),
        }
        for key, value in settings.items():
            line = f"{key} = {value}"
            text, n = re.subn(rf"(?m)^{key} = .*$", line.replace("\\", "\\\\"), text)
            assert n == 1, f"deploy/pgbouncer.ini has no single {key} line"
        return text

    def start(self) -> None:
        assert PGBOUNCER is not None, "PgBouncer is not installed (apt-get install pgbouncer)"
        self.folder.mkdir(exist_ok=True)
        shutil.chown(self.folder, "postgres", "postgres")
        (self.folder / "userlist.txt").write_text('"postgres" ""\n')
        ini = self.folder / "pgbouncer.ini"
        ini.write_text(self.config())
        out = open(self.folder / "pgbouncer.out", "w")
        self.proc = subprocess.Popen(
            [PGBOUNCER, str(ini)],
            user="postgres",
            group="postgres",
            extra_groups=[],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                psycopg2.connect(self.url, connect_timeout=2).close()
                return
            except psycopg2.OperationalError:
                time.sleep(0.1)
        raise RuntimeError(
            "PgBouncer did not start: "
            + log_tail(self.folder / "pgbouncer.out")
            + log_tail(self.folder / "pgbouncer.log")
        )

    def stop(self) -> None:
        stop_process(self.proc)
