"""The processes of a local cluster (deploy/localcluster.py): where the binaries are,
what this machine lacks, free ports, waiting for a process to answer, stopping one."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
# The venv's commands: this interpreter's folder (.venv/bin when run as the Makefile does).
BIN = Path(sys.executable).parent
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)


def find_binary(name: str) -> str | None:
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/local/sbin/{name}") if os.access(p, os.X_OK)),
        None,
    )


NGINX = find_binary("nginx")
PGBOUNCER = find_binary("pgbouncer")


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


def log_tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def wait_http(
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


def wait_listening(port: int, timeout: float, alive: Callable[[], bool]) -> bool:
    """Poll until 127.0.0.1:port accepts a TCP connection."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def inherited_env() -> dict[str, str]:
    """This process's environment without the database settings a node must not inherit
    (ORGAUTHZ_DATABASE_URL would win over the DATABASE_URL the cluster sets)."""
    drop = {"DATABASE_URL", "ORGAUTHZ_DATABASE_URL", "ORGAUTHZ_DATABASE_REPLICA_URLS"}
    drop |= {"DATABASE_LISTEN_URL", "ORGAUTHZ_DATABASE_LISTEN_URL", "DATABASE_REPLICA_URLS"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def stop_process(proc: subprocess.Popen | None, timeout: float = 15) -> None:
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
