"""A real gunicorn for the tests that need one: the Procfile's settings on 127.0.0.1."""

import contextlib
import http.client
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def flask(*args, env):
    """Run a ``flask --app app`` command; its standard output."""
    return subprocess.run(
        [str(BIN / "flask"), "--app", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def start_gunicorn(folder: Path, **env_extra):
    """gunicorn (2 workers) over a fresh SQLite file in ``folder`` with the demo data and a
    key; returns (process, port, key) once /readyz answers 200."""
    (folder / "metrics").mkdir(exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder / 'g.db'}",
        "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
        "WEB_CONCURRENCY": "2",
        **env_extra,
    }
    env.pop("ORGAUTHZ_POLICY_SOURCE", None)
    flask("db", "init", env=env)
    flask("demo", "load", env=env)
    key = flask("keys", "create", "gunicorn-test", env=env)
    port = free_port()
    log = open(folder / "gunicorn.log", "w")
    proc = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "-c",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "app:create_app()",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return proc, port, key
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    pytest.fail("gunicorn did not become ready: " + (folder / "gunicorn.log").read_text()[-2000:])


def stop(proc) -> None:
    proc.terminate()
    proc.wait(timeout=30)


# Headless Chromium for the page tests: Debian's package (.ci/run installs it), driven by
# Playwright, with the flags that keep it off the network.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


@contextlib.contextmanager
def live_server(app):
    """Serve ``app`` on 127.0.0.1 from a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
