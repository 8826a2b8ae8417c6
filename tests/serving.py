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


# nginx in front of gunicorn, as deploy/nginx.conf configures it (Debian's package; .ci/run
# installs it): its own prefix (pid, logs, temporary files) in the test's folder, on
# 127.0.0.1, in the foreground so the test owns the process.
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
)
needs_nginx = pytest.mark.skipif(NGINX is None, reason="Debian's nginx is not installed")
NGINX_CONF = ROOT / "deploy" / "nginx.conf"


def start_nginx(folder: Path, upstream_port: int):
    """nginx with deploy/nginx.conf, only its listen address (127.0.0.1, a free port) and
    its upstream (gunicorn on ``upstream_port``) changed; returns (process, port) once it
    answers /healthz through to gunicorn."""
    prefix = folder / "nginx"
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    port = free_port()
    text = NGINX_CONF.read_text()
    for old, new in [
        ("listen 8080;", f"listen 127.0.0.1:{port};"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};"),
    ]:
        assert text.count(old) == 1, f"deploy/nginx.conf no longer has {old!r}"
        text = text.replace(old, new)
    conf = prefix / "nginx.conf"
    conf.write_text(text)
    log = open(prefix / "nginx.out", "w")
    proc = subprocess.Popen(
        [NGINX, "-p", f"{prefix}/", "-c", str(conf), "-g", "daemon off;"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 20
    while time.time() < deadline and proc.poll() is None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            pass
        time.sleep(0.1)
    if proc.poll() is None:
        stop(proc)
    errors = (
        (prefix / "logs" / "error.log").read_text()
        if (prefix / "logs" / "error.log").exists()
        else ""
    )
    pytest.fail(
        "nginx did not start: " + (prefix / "nginx.out").read_text()[-2000:] + errors[-2000:]
    )


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
