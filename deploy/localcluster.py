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
(/usr/sbin/nginx), PgBouncer Debian's (/usr/sbin/pgbouncer). Here: the gunicorn nodes,
nginx and the whole; the PostgreSQL servers and PgBouncer are deploy/postgres.py (the tests'
own servers, tests/pgcluster.py, are its ``Cluster`` and ``Server``), the process helpers
deploy/processes.py; this module re-exports what its callers import.
"""

from __future__ import annotations

import argparse
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from deploy.postgres import Bouncer, Cluster, Server, wait_until_replayed
from deploy.processes import (
    BIN,
    DEPLOY,
    NGINX,
    PG_BIN,
    PGBOUNCER,
    ROOT,
    as_postgres,
    free_port,
    inherited_env,
    log_tail,
    missing,
    stop_process,
    wait_http,
    wait_listening,
)

__all__ = [  # what the tests, bench/ and `make cluster` import from here
    "DEPLOY",
    "NGINX",
    "PG_BIN",
    "PGBOUNCER",
    "Bouncer",
    "Cluster",
    "LocalCluster",
    "Node",
    "Proxy",
    "Server",
    "as_postgres",
    "free_port",
    "missing",
    "wait_until_replayed",
]

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
            env={**inherited_env(), **self.env, "BIND": self.address},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60) -> None:
        if not wait_http(self.port, "/readyz", timeout, lambda: self.running):
            self.stop()
            raise RuntimeError(
                f"{self.name} did not become ready: " + log_tail(self.folder / "gunicorn.log")
            )

    def stop(self) -> None:
        stop_process(self.proc, timeout=35)  # gunicorn's graceful_timeout is 30 s


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
            up = wait_http(self.port, ready, 20, lambda: proc.poll() is None)
        else:
            up = wait_listening(self.port, 20, lambda: proc.poll() is None)
        if not up:
            self.stop()
            raise RuntimeError(
                "nginx did not start: "
                + log_tail(self.folder / "nginx.out")
                + log_tail(self.folder / "logs" / "error.log")
            )

    def stop(self) -> None:
        stop_process(self.proc)


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
        setup_env = {**inherited_env(), **self.extra_env, "DATABASE_URL": self.primary.url}

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
            # PgBouncer in transaction mode does not keep a connection's prepared statements.
            "ORGAUTHZ_DATABASE_PREPARED_STATEMENTS": "off" if self.bouncer else "on",
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


def _arguments(argv: list[str] | None) -> argparse.Namespace:
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
    return parser.parse_args(argv)


def _announce(cluster: LocalCluster) -> None:
    """Where everything listens, the API key and a first call to try."""
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


def _supervise(cluster: LocalCluster) -> None:
    """Until interrupted: say when a node exits."""
    while True:
        for node in cluster.nodes:
            if node.proc is not None and node.proc.poll() is not None:
                print(f"{node.name} exited ({node.proc.returncode}); see {node.folder}")
                node.proc = None
        time.sleep(1)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
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
    # Ctrl-C, a kill or a closed terminal all stop everything (SIGINT is set here too: a
    # shell's background job starts with it ignored).
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    print("starting...", flush=True)
    try:
        cluster.start()
        _announce(cluster)
        _supervise(cluster)
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
    finally:
        cluster.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
