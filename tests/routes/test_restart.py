"""A gunicorn master killed with SIGKILL (the OOM killer, kill -9) can be replaced at once on
the same port, even while its orphaned workers still hold requests in progress.

Before the fix an orphaned worker kept the listening socket until every request it held
had finished (up to ``graceful_timeout``, 30 s), and a master started in that window failed
to bind ("Connection in use") and exited."""

import http.client
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.serving import BIN, ROOT, start_gunicorn, stop


def children(pid: int) -> list:
    """The ids of the processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def healthy(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False


def test_a_new_master_binds_at_once_after_the_old_one_is_killed(tmp_path):
    proc, port, key = start_gunicorn(tmp_path)
    workers = children(proc.pid)
    assert len(workers) == 2
    slow = []
    new = None
    try:
        # Requests in progress on the old workers: a request line and part of the headers.
        for _ in range(8):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")
            slow.append(s)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        killed = time.monotonic()
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
            "WEB_CONCURRENCY": "2",
        }
        log = open(tmp_path / "restart.log", "w")
        new = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
            + ["app:create_app()"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        restart_log = tmp_path / "restart.log"
        deadline = killed + 40  # staging the policy and booting take seconds on a busy machine
        while not ("Listening at" in restart_log.read_text() and healthy(port)):
            assert new.poll() is None, "the new master exited: " + restart_log.read_text()[-1500:]
            assert time.monotonic() < deadline, "the new master did not answer within 40 s"
            time.sleep(0.1)
        took = time.monotonic() - killed
        print(f"a new master answered {took:.2f} s after the old one was killed")
        assert "Connection in use" not in restart_log.read_text()  # bound at the first try
        # The orphans finish what they held: a slow request completed now is answered.
        slow[0].sendall(b"\r\n")
        assert slow[0].recv(100).startswith(b"HTTP/1.1 200")
    finally:
        for s in slow:
            s.close()
        if new is not None:
            stop(new)
        deadline = time.monotonic() + 40
        while any(running(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in workers:  # our own orphans, should they outlive the deadline
            if running(pid):
                os.kill(pid, signal.SIGKILL)
