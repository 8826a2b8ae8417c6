"""A real gunicorn for the tests that need one: the Procfile's settings on 127.0.0.1."""

import contextlib
import http.client
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.support import poll

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def output(command: list, env) -> str:
    """Run ``command`` in the project's folder with ``env``; its standard output (it must
    succeed)."""
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return run.stdout.strip()


def flask(*args, env):
    """Run a ``flask --app app`` command; its standard output."""
    return output([str(BIN / "flask"), "--app", "app", *args], env)


def start_gunicorn(folder: Path, **env_extra):
    """gunicorn (2 workers) over a fresh SQLite file in ``folder`` with the demo data and a
    key; returns (process, port, key) once /readyz answers 200."""
    env = gunicorn_env(folder, **env_extra)
    key = prepare(env)
    port = free_port()
    proc = spawn_gunicorn(folder, port, env)
    wait_answering(proc, port, "/readyz", folder / "gunicorn.log", timeout=60)
    return proc, port, key


# `flask db init`, `flask demo load` and `flask keys create`, the same commands in one process:
# each `flask` process spends seconds starting the app (2.4 s here), three per server.
PREPARE = """
from app import create_app
cli = create_app().test_cli_runner()
for args in (["db", "init"], ["demo", "load"], ["keys", "create", "gunicorn-test"]):
    result = cli.invoke(args=args)
    if result.exit_code != 0:
        raise SystemExit(f"flask {' '.join(args)}: {result.output}{result.exception!r}")
print(result.stdout.strip())
"""


def prepare(env) -> str:
    """A fresh database at ``env``'s DATABASE_URL with the demo data; a new API key."""
    return output([sys.executable, "-c", PREPARE], env)


def gunicorn_env(folder: Path, **env_extra) -> dict:
    """The environment of a gunicorn over ``folder``'s SQLite file (2 workers, metrics in
    the folder), with ``env_extra``."""
    (folder / "metrics").mkdir(exist_ok=True)
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder / 'g.db'}",
        "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
        "WEB_CONCURRENCY": "2",
        **env_extra,
    }


def spawn_gunicorn(folder: Path, port: int, env: dict, log_name: str = "gunicorn.log"):
    """gunicorn with gunicorn.conf.py on 127.0.0.1:``port`` (the Procfile's command), its
    output in ``folder / log_name``; the process, at once (not yet answering)."""
    log = open(folder / log_name, "w")
    return subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
        + ["app:create_app()"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def answers(port: int, path: str) -> bool:
    """Whether GET ``path`` on 127.0.0.1:``port`` answers 200."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except OSError:
        return False


def wait_answering(proc, port: int, path: str, log: Path, timeout: float) -> None:
    """Until GET ``path`` answers 200 (the process killed and the test failed, with the end
    of ``log``, if it exits first or ``timeout`` passes)."""

    def up() -> bool:
        return proc.poll() is not None or answers(port, path)

    poll(up, timeout=timeout, every=0.1)
    if proc.poll() is None and answers(port, path):
        return
    if proc.poll() is None:
        proc.kill()
    tail = log.read_text()[-2000:] if log.exists() else ""
    pytest.fail(f"{path} on port {port} did not answer 200 within {timeout} s: {tail}")


def workers_of(pid: int) -> set:
    """The ids of the processes whose parent is ``pid`` (a gunicorn master's workers)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


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
    poll(lambda: proc.poll() is not None or answers(port, "/healthz"), timeout=20, every=0.1)
    if proc.poll() is None and answers(port, "/healthz"):
        return proc, port
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


class Relay:
    """A TCP relay on 127.0.0.1 (a free port: ``port``) to ``target`` (host, port), as a
    balancer (HAProxy, a Kubernetes "-ro" Service) or a network in between would be. Each
    new connection goes to ``target`` at the time it is made (set it to move new ones);
    ``freeze()`` stops forwarding on the connections open at that moment, both ways,
    keeping their sockets open (a hung peer); ``accepted`` counts the connections."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.closed = threading.Event()
        self._open: list[tuple[socket.socket, socket.socket, threading.Event]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
                upstream = socket.create_connection(self.target)
            except OSError:
                return
            frozen = threading.Event()
            self._open.append((client, upstream, frozen))
            self.accepted += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b, frozen), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, frozen: threading.Event) -> None:
        try:
            while data := src.recv(65536):
                if frozen.is_set():  # what arrives now goes nowhere; the sockets stay open
                    self.closed.wait()
                    return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def freeze(self) -> None:
        for _, _, frozen in list(self._open):
            frozen.set()

    def close(self) -> None:
        self.closed.set()
        self.sock.close()
        for client, upstream, _ in self._open:
            for s in (client, upstream):
                try:
                    s.close()
                except OSError:
                    pass
