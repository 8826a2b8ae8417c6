"""A gunicorn master killed with SIGKILL (the OOM killer, kill -9) can be replaced at once on
the same port, even while its orphaned workers still hold requests in progress or are still
loading the app.

Before the fix an orphaned worker kept the listening socket until every request it held
had finished (up to ``graceful_timeout``, 30 s), and a master started in that window failed
to bind ("Connection in use") and exited."""

import os
import signal
import socket
import time
from pathlib import Path

from tests.serving import (
    answers,
    free_port,
    gunicorn_env,
    prepare,
    spawn_gunicorn,
    start_gunicorn,
    stop,
    workers_of,
)
from tests.support import poll, wait_until


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def reap(workers: set) -> None:
    """Wait for the old master's orphaned ``workers`` to exit; kill those that outlive the
    deadline (our own orphans)."""
    poll(lambda: not any(running(pid) for pid in workers), timeout=40, every=0.1)
    for pid in workers:
        if running(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_new_master_binds_at_once_after_the_old_one_is_killed(tmp_path):
    proc, port, key = start_gunicorn(tmp_path)
    workers = workers_of(proc.pid)
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
        env = gunicorn_env(tmp_path)
        new = spawn_gunicorn(tmp_path, port, env, log_name="restart.log")
        restart_log = tmp_path / "restart.log"

        def up() -> bool:
            assert new.poll() is None, "the new master exited: " + restart_log.read_text()[-1500:]
            return "Listening at" in restart_log.read_text() and answers(port, "/healthz")

        # staging the policy and booting take seconds on a busy machine
        wait_until(up, timeout=40 - (time.monotonic() - killed), what="the new master to answer")
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
        reap(workers)


def test_a_new_master_binds_at_once_when_the_old_one_is_killed_while_its_workers_boot(tmp_path):
    """Workers still loading the app hold the listening socket too (forked with it): killed
    then, they exit at once, not once booted (seconds later on a busy machine)."""
    env = gunicorn_env(tmp_path)
    prepare(env)
    port = free_port()
    proc = spawn_gunicorn(tmp_path, port, env)
    log = tmp_path / "gunicorn.log"
    wait_until(lambda: log.read_text().count("Booting worker") == 2, timeout=60, every=0.005)
    workers = workers_of(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    new = spawn_gunicorn(tmp_path, port, env, log_name="restart.log")
    restart_log = tmp_path / "restart.log"
    try:
        wait_until(lambda: "Listening at" in restart_log.read_text(), timeout=60, every=0.05)
        assert "Connection in use" not in restart_log.read_text()  # bound at the first try
        assert "while this worker boots: exiting" in log.read_text()
    finally:
        stop(new)
        reap(workers)
