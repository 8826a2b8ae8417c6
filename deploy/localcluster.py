"""orgauthz on several nodes, on this machine: a PostgreSQL primary and its streaming
replicas, optionally PgBouncer in front of the primary, gunicorn nodes, and nginx in front of
the nodes. Everything listens on 127.0.0.1 on free ports and lives in one folder; ``close()``
stops it all and removes the folder.

    python -m deploy.localcluster --replicas 1 --nodes 2    # `make cluster`
    with LocalCluster(replicas=1, nodes=2) as c:            # tests/deploy/, bench/
        httpx.post(c.url + "/v1/authorize", headers=c.headers, json=...)
        c.pause_replay(0); c.stop_node(1); ...

The PostgreSQL servers run as the postgres user (they refuse root): this needs root, runuser
and Debian's server binaries (/usr/lib/postgresql/*/bin); nginx is Debian's
(/usr/sbin/nginx), PgBouncer Debian's (/usr/sbin/pgbouncer). The tests' own PostgreSQL
servers (tests/pgcluster.py) are the ``Cluster`` and ``Server`` below.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg2

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
# The venv's commands: this interpreter's folder (.venv/bin when run as the Makefile does).
BIN = Path(sys.executable).parent
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)


def _find(name: str) -> str | None:
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/local/sbin/{name}") if os.access(p, os.X_OK)),
        None,
    )


NGINX = _find("nginx")
PGBOUNCER = _find("pgbouncer")


def missing() -> list[str]:
    """What this machine lacks to run a cluster (empty when it can)."""
    lacks = []
    if PG_BIN is None:
        lacks.append("PostgreSQL's server binaries (/usr/lib/postgresql/*/bin)")
    if shutil.which("runuser") is None or os.geteuid() != 0:
        lacks.append("root and runuser (the servers run as postgres)")
    if NGINX is None:
        lacks.append("nginx (apt-get install nginx-light)")
    return lacks


def as_postgres(*args: Any) -> subprocess.CompletedProcess:
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


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def _wait_http(
    port: int, path: str, timeout: float, alive: Callable[[], bool] = lambda: True
) -> bool:
    """Poll ``GET path`` on 127.0.0.1:port until it answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return True
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    return False


def _wait_listening(port: int, timeout: float, alive: Callable[[], bool]) -> bool:
    """Poll until 127.0.0.1:port accepts a TCP connection."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def _inherited() -> dict[str, str]:
    """This process's environment without the database settings a node must not inherit
    (ORGAUTHZ_DATABASE_URL would win over the DATABASE_URL the cluster sets)."""
    drop = {"DATABASE_URL", "ORGAUTHZ_DATABASE_URL", "ORGAUTHZ_DATABASE_REPLICA_URLS"}
    drop |= {"DATABASE_LISTEN_URL", "ORGAUTHZ_DATABASE_LISTEN_URL", "DATABASE_REPLICA_URLS"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _stop_process(proc: subprocess.Popen | None, timeout: float = 15) -> None:
    """SIGTERM ``proc``'s process group, SIGKILL after ``timeout``."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


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
            + _tail(self.folder / "pgbouncer.out")
            + _tail(self.folder / "pgbouncer.log")
        )

    def stop(self) -> None:
        _stop_process(self.proc)


# ---------------------------------------------------------------- gunicorn nodes


class Node:
    """One gunicorn node (gunicorn.conf.py, ``app:create_app()``) with a folder of its own
    for what the instance folder would hold (decision log, policy snapshots, mail, metrics)."""

    def __init__(self, name: str, folder: Path, env: Mapping[str, str]):
        self.name, self.folder, self.port = name, folder, free_port()
        self.env = dict(env)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        """As nginx names it in ``X-Upstream``."""
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(
        self, env: Mapping[str, str] | None = None, *, timeout: float = 60, wait: bool = True
    ) -> None:
        """Start (``env`` added to the node's environment, and kept for later starts); with
        ``wait``, return once /readyz answers 200."""
        if self.running:
            raise RuntimeError(f"{self.name} is running")
        self.env.update(env or {})
        for sub in ("metrics", "policy-snapshots", "mail"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        for stale in (self.folder / "metrics").glob("*.db"):
            stale.unlink()
        log = open(self.folder / "gunicorn.log", "a")
        self.proc = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "-c",
                "gunicorn.conf.py",
                # a control socket per node (gunicorn 27 makes one per user by default)
                "--control-socket",
                str(self.folder / "gunicorn.ctl"),
                "app:create_app()",
            ],
            cwd=ROOT,
            env={**_inherited(), **self.env, "BIND": self.address},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60) -> None:
        if not _wait_http(self.port, "/readyz", timeout, lambda: self.running):
            self.stop()
            raise RuntimeError(
                f"{self.name} did not become ready: " + _tail(self.folder / "gunicorn.log")
            )

    def stop(self) -> None:
        _stop_process(self.proc, timeout=35)  # gunicorn's graceful_timeout is 30 s


# ---------------------------------------------------------------- nginx


class Proxy:
    """nginx with deploy/nginx-cluster.conf: only its listen address and its upstream's
    servers (the nodes) changed (and, when ``workers`` is given, worker_processes); its
    prefix (pid, logs, temporary files) in ``folder``."""

    def __init__(self, folder: Path, port: int | None = None, workers: int | None = None):
        self.folder, self.port, self.workers = folder, port or free_port(), workers
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self, upstreams: Iterable[str]) -> str:
        text = (DEPLOY / "nginx-cluster.conf").read_text()
        text, n = re.subn(r"(?m)^(\s*)listen 8080;", rf"\1listen 127.0.0.1:{self.port};", text)
        assert n == 1, "deploy/nginx-cluster.conf no longer has `listen 8080;`"
        if self.workers:
            line = f"worker_processes {self.workers};"
            text, n = re.subn(r"(?m)^worker_processes .*;", line, text)
            assert n == 1, "deploy/nginx-cluster.conf has no worker_processes line"
        servers = re.compile(r"(?m)^(\s*)server 127\.0\.0\.1:\d+( [^;]*)?;\n")
        found = list(servers.finditer(text))
        assert found, "deploy/nginx-cluster.conf has no `server 127.0.0.1:...;` upstream line"
        indent, params = found[0].group(1), found[0].group(2) or ""
        lines = "".join(f"{indent}server {a}{params};\n" for a in upstreams)
        return text[: found[0].start()] + lines + text[found[-1].end() :]

    def start(self, upstreams: Iterable[str], ready: str | None = "/healthz") -> None:
        """Start; return once ``GET ready`` answers 200 through to a node (with ``ready``
        None, once nginx accepts connections: no request reaches the upstreams)."""
        assert NGINX is not None, "nginx is not installed (apt-get install nginx-light)"
        (self.folder / "logs").mkdir(parents=True, exist_ok=True)
        conf = self.folder / "nginx.conf"
        conf.write_text(self.config(upstreams))
        out = open(self.folder / "nginx.out", "w")
        self.proc = proc = subprocess.Popen(
            [
                NGINX,
                "-p",
                f"{self.folder}/",
                "-c",
                str(conf),
                "-e",
                str(self.folder / "logs" / "error.log"),
                "-g",
                "daemon off;",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        if ready is not None:
            up = _wait_http(self.port, ready, 20, lambda: proc.poll() is None)
        else:
            up = _wait_listening(self.port, 20, lambda: proc.poll() is None)
        if not up:
            self.stop()
            raise RuntimeError(
                "nginx did not start: "
                + _tail(self.folder / "nginx.out")
                + _tail(self.folder / "logs" / "error.log")
            )

    def stop(self) -> None:
        _stop_process(self.proc)


# ---------------------------------------------------------------- the whole


class LocalCluster:
    """A primary, ``replicas`` streaming replicas, optionally PgBouncer, ``nodes`` gunicorn
    nodes (``workers`` x ``threads`` each) and nginx, started by ``start()`` (or ``with``).

    Every node gets DATABASE_URL (the primary, or PgBouncer with ``pgbouncer=True``),
    ORGAUTHZ_DATABASE_LISTEN_URL (the primary, direct), ORGAUTHZ_DATABASE_REPLICA_URLS (the
    replicas), one ORGAUTHZ_TOKEN_KEY, folders of its own, then ``env`` (every node) and
    ``node_env[i]`` (node i) on top. ``demo`` loads the demo data. ``proxy_port`` fixes
    nginx's port (else a free one). ``folder`` is kept after ``close`` only when given.
    """

    def __init__(
        self,
        replicas: int = 1,
        nodes: int = 2,
        *,
        workers: int = 1,
        threads: int = 4,
        pgbouncer: bool = False,
        proxy: bool = True,
        demo: bool = False,
        env: Mapping[str, str] | None = None,
        node_env: list[Mapping[str, str]] | None = None,
        proxy_port: int | None = None,
        folder: Path | None = None,
        dbname: str = "orgauthz",
        key_name: str = "localcluster",
    ):
        self.n_replicas, self.n_nodes = replicas, nodes
        self.workers, self.threads = workers, threads
        self.use_pgbouncer, self.use_proxy, self.demo = pgbouncer, proxy, demo
        self.extra_env, self.node_env = dict(env or {}), list(node_env or [])
        self.proxy_port, self.dbname, self.key_name = proxy_port, dbname, key_name
        self.keep = folder is not None
        self.base = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="orgauthz-cluster-"))
        self.base.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o755)
        self.pg: Cluster | None = None
        self.primary: Server | None = None
        self.replicas: list[Server] = []
        self.bouncer: Bouncer | None = None
        self.nodes: list[Node] = []
        self.proxy: Proxy | None = None
        self.key = ""
        self.token_key = secrets.token_hex(32)
        self.timings: dict[str, float] = {}  # seconds each phase of start() took

    # -- starting and stopping the whole

    def start(self) -> LocalCluster:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        started = time.monotonic()

        def mark(phase: str) -> None:
            self.timings[phase] = round(time.monotonic() - started - sum(self.timings.values()), 2)

        pg_folder = self.base / "pg"
        pg_folder.mkdir(exist_ok=True)
        self.pg = Cluster(pg_folder, self.dbname)
        self.primary = self.pg.primary()
        mark("primary")
        setup_env = {**_inherited(), **self.extra_env, "DATABASE_URL": self.primary.url}

        def replicas() -> None:
            assert self.pg is not None and self.primary is not None
            for _ in range(self.n_replicas):
                self.replicas.append(self.pg.replica(self.primary))

        def schema() -> None:
            self._flask(["db", "upgrade"], setup_env)
            if self.demo:
                self._flask(["demo", "load"], setup_env)

        # The replicas are copied while the migrations run (they stream them after).
        with ThreadPoolExecutor(2) as pool:
            for done in [pool.submit(replicas), pool.submit(schema)]:
                done.result()
        mark("replicas and migrations")
        if self.use_pgbouncer:
            self.bouncer = Bouncer(self.base / "pgbouncer", self.primary)
            self.bouncer.start()
        for i in range(self.n_nodes):
            node = Node(f"node{i}", self.base / f"node{i}", self.node_environment(i))
            self.nodes.append(node)
            node.start(wait=False)
        self.key = self._flask(["keys", "create", self.key_name], setup_env)  # while they boot
        for node in self.nodes:
            node.wait_ready()
        mark("nodes")
        if self.use_proxy:
            self.proxy = Proxy(self.base / "nginx", self.proxy_port)
            self.proxy.start(node.address for node in self.nodes)
        mark("proxy")

    def node_environment(self, i: int) -> dict[str, str]:
        """The environment node ``i`` starts with (before ``start_node``'s own)."""
        assert self.primary is not None
        folder = self.base / f"node{i}"
        env = {
            "DATABASE_URL": self.bouncer.url if self.bouncer else self.primary.url,
            "ORGAUTHZ_DATABASE_LISTEN_URL": self.primary.url,
            "ORGAUTHZ_DATABASE_REPLICA_URLS": ",".join(r.url for r in self.replicas),
            "ORGAUTHZ_TOKEN_KEY": self.token_key,
            "ORGAUTHZ_DECISION_LOG": str(folder / "decisions.log"),
            "ORGAUTHZ_SNAPSHOT_DIR": str(folder / "policy-snapshots"),
            "ORGAUTHZ_MAIL_URL": f"file://{folder / 'mail'}",
            "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
            "WEB_CONCURRENCY": str(self.workers),
            "GUNICORN_THREADS": str(self.threads),
        }
        if self.use_proxy and self.proxy_port:
            env["ORGAUTHZ_INVITATION_ACCEPT_URL"] = (
                f"http://127.0.0.1:{self.proxy_port}/invitations/accept?token={{token}}"
            )
        env.update(self.extra_env)
        if i < len(self.node_env):
            env.update(self.node_env[i])
        return env

    def _flask(self, args: list[str], env: Mapping[str, str]) -> str:
        done = subprocess.run(
            [str(BIN / "flask"), "--app", "app", *args],
            cwd=ROOT,
            env=dict(env),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed: {done.stderr[-3000:]}")
        return done.stdout.strip()

    def close(self) -> None:
        """Stop everything (nginx, the nodes, PgBouncer, the servers); remove the folder
        unless it was given."""
        if self.proxy:
            self.proxy.stop()
        if self.nodes:  # each finishes its requests (gunicorn's graceful stop): all at once
            with ThreadPoolExecutor(len(self.nodes)) as pool:
                list(pool.map(Node.stop, self.nodes))
        if self.bouncer:
            self.bouncer.stop()
        if self.pg:
            for server in reversed(self.pg.servers):
                server.stop("immediate")
        if not self.keep:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what a caller uses

    @property
    def url(self) -> str:
        """nginx's URL (the first node's without a proxy)."""
        return self.proxy.url if self.proxy else self.nodes[0].url

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def node_for(self, upstream: str) -> Node:
        """The node an ``X-Upstream`` value names (the last one tried)."""
        address = upstream.split(",")[-1].strip()
        return next(n for n in self.nodes if n.address == address)

    def stop_node(self, i: int) -> None:
        self.nodes[i].stop()

    def start_node(self, i: int, **env: str) -> None:
        """Start node ``i`` again (``env`` added to its environment), once /readyz answers."""
        self.nodes[i].start(env)

    def stop_replica(self, i: int, mode: str = "fast") -> None:
        self.replicas[i].stop(mode)

    def start_replica(self, i: int) -> None:
        """Start replica ``i`` again; returns once it accepts connections (in recovery)."""
        self.replicas[i].start()

    def pause_replay(self, i: int) -> None:
        """Replica ``i`` keeps receiving WAL but stops applying it (pg_wal_replay_pause)."""
        self.replicas[i].sql("SELECT pg_wal_replay_pause()")
        deadline = time.monotonic() + 10
        while self.replay_state(i) != "paused" and time.monotonic() < deadline:
            time.sleep(0.02)

    def resume_replay(self, i: int) -> None:
        self.replicas[i].sql("SELECT pg_wal_replay_resume()")

    def replay_state(self, i: int) -> str:
        """'not paused', 'pause requested' or 'paused'."""
        return self.replicas[i].sql("SELECT pg_get_wal_replay_pause_state()")[0][0]

    def wait_replayed(self, i: int, timeout: float = 30) -> None:
        """Wait until replica ``i`` has replayed everything the primary has written."""
        assert self.primary is not None
        wait_until_replayed(self.primary, self.replicas[i], timeout)


# ---------------------------------------------------------------- `make cluster`


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.localcluster",
        description="orgauthz on several nodes behind nginx, with PostgreSQL replicas.",
    )
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per node")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--port", type=int, default=8080, help="nginx's port (0: a free one)")
    parser.add_argument("--pgbouncer", action="store_true", help="nodes reach the primary "
                        "through PgBouncer (transaction mode)")  # fmt: skip
    parser.add_argument("--no-demo", action="store_true", help="skip the demo data")
    parser.add_argument("--folder", type=Path, help="keep everything here (default: a "
                        "temporary folder, removed at the end)")  # fmt: skip
    args = parser.parse_args(argv)
    lacks = missing() + (["PgBouncer (apt-get install pgbouncer)"] if args.pgbouncer
                         and PGBOUNCER is None else [])  # fmt: skip
    if lacks:
        print("cannot start a local cluster; missing: " + "; ".join(lacks), file=sys.stderr)
        return 2
    cluster = LocalCluster(
        args.replicas,
        args.nodes,
        workers=args.workers,
        threads=args.threads,
        pgbouncer=args.pgbouncer,
        demo=not args.no_demo,
        proxy_port=args.port or None,
        folder=args.folder,
        key_name=f"localcluster-{int(time.time())}",
    )

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    # Ctrl-C, a kill or a closed terminal all stop everything (SIGINT is set here too: a
    # shell's background job starts with it ignored).
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)
    print("starting...", flush=True)
    try:
        cluster.start()
        assert cluster.primary is not None
        print(f"\norgauthz:   {cluster.url}   (nginx, round-robin over the nodes)")
        for node in cluster.nodes:
            print(f"  {node.name}:    {node.url}")
        print(f"primary:    {cluster.primary.url}")
        for i, replica in enumerate(cluster.replicas):
            print(f"replica{i}:   {replica.url}")
        if cluster.bouncer:
            print(f"pgbouncer:  {cluster.bouncer.url}")
        print(f"folder:     {cluster.base}")
        print(f"\nAPI key (shown once): {cluster.key}\n")
        print(
            f"  curl -s -i -H 'Authorization: Bearer {cluster.key}' "
            f"-H 'Content-Type: application/json' {cluster.url}/v1/authorize \\\n"
            """    -d '{"actor":{"id":"pix4d-member"},"action":"view","""
            """"resource":{"type":"Dataset","id":"pix4d-bridge-scan"}}'"""
        )
        print("\nCtrl-C stops everything.", flush=True)
        while True:
            for node in cluster.nodes:
                if node.proc is not None and node.proc.poll() is not None:
                    print(f"{node.name} exited ({node.proc.returncode}); see {node.folder}")
                    node.proc = None
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
    finally:
        cluster.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
