"""Gunicorn settings, read by the Procfile and `make run`.

gthread workers keep connections alive (a sync worker closes each one, and a new TCP
connection costs more than a decision). Processes give the throughput (one Oso instance
does not go faster with more threads).

Slow clients: deploy it behind a buffering reverse proxy (deploy/nginx.conf), as gunicorn's
own documentation asks. gthread gives a connection a thread once its first bytes arrive, and
that thread then blocks until the request line, the headers and the body are in: no setting
here bounds that read (``timeout`` watches the worker's main loop, which keeps running while
its threads wait), so 8 to 16 clients sending slowly hold every thread
(tests/ops/test_slow_clients.py measures it). What gunicorn can bound is bounded below: a
worker that stops answering (``timeout``), idle kept-alive connections (``keepalive``, longer
than nginx's upstream keepalive_timeout so nginx never reuses a connection gunicorn is
closing), a shutdown (``graceful_timeout``), connections per worker (``worker_connections``)
and the size of a request line and its headers (``limit_request_*``; nginx refuses larger
ones first).
"""

import os
import signal
import tempfile
from pathlib import Path

from ops import config as _config  # not "config": gunicorn reads that name as its -c setting

_INSTANCE = Path(__file__).resolve().parent / "instance"
_settings = _config.load(_INSTANCE)
bind = _settings["BIND"]
workers = _settings["WEB_CONCURRENCY"]
worker_class = "gthread"
threads = _settings["GUNICORN_THREADS"]
keepalive = 30  # seconds an idle kept-alive connection waits (in the poller, not a thread)
timeout = 30  # a worker silent this long is killed and replaced
graceful_timeout = 30  # a stopping worker's requests get this long to finish
worker_connections = 1000  # open connections per worker (gthread), the rest wait in backlog
backlog = 2048
limit_request_line = 8190  # bytes of the request line (gunicorn's maximum)
limit_request_fields = 100  # headers per request
limit_request_field_size = 8190  # bytes of one header

# Prometheus multiprocess mode: every worker writes its metrics to files in one folder.
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="orgauthz-metrics-")


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def _stage(initial: bool) -> None:
    """Verify and stage the policy, and publish the outcome to the workers (ops/reload.py);
    the settings are read again, so a HUP sees a changed ORGAUTHZ_POLICY_DIR."""
    from ops.reload import publish, stage

    settings = _config.load(_INSTANCE)
    root = Path(settings["SNAPSHOT_DIR"])
    stage(initial, Path(settings["POLICY_DIR"]), root)
    publish(root)


def on_starting(server):
    """Verify and stage the policy before any worker starts: workers are forked after it,
    and load the snapshot it staged. A HUP reloads the policy only (``_hup``)."""
    _stage(initial=True)
    server.handle_hup = lambda: _hup(server)


def _hup(server):
    """HUP: stage the policy once, here; each worker swaps it in place (ops/reload.py
    ``watch``). gunicorn's own HUP replaced every worker, and the old ones stopped accepting
    before the new ones had loaded a policy (seconds of near-zero throughput; refused
    reloads too). Settings and code are not reloaded: restart for those."""
    server.log.info("Hang up: staging the policy; the workers swap it in place")
    _stage(initial=False)


def post_worker_init(worker):
    """In each worker, once the app is loaded: the outbox thread (mail, webhooks, expiry);
    then everything loaded so far (modules, the policy engines) is moved out of the garbage
    collector's sight (``gc.freeze``), so a full collection scans only what requests made
    since: it took ~50 ms over the whole heap, the bulk of a decision's p99 under load."""
    import gc

    from app import start_outbox_worker
    from ops.reload import watch

    start_outbox_worker(worker.wsgi)
    watch(worker.wsgi.extensions["orgauthz.policy"], Path(_config.load(_INSTANCE)["SNAPSHOT_DIR"]))
    gc.freeze()


MASTER_POLL_SECONDS = 0.1  # how often a worker checks that its master is alive


def post_fork(server, worker):
    """In each worker, right after the fork, before it loads the app: ``_leave_with_master``
    (a worker still loading holds the listening sockets too, for the seconds a boot takes)."""
    _leave_with_master(worker)


def _leave_with_master(worker):
    """A worker whose master died (``kill -9``, the OOM killer) closes its listening sockets
    within ``MASTER_POLL_SECONDS``, finishes the requests it holds and exits, so a master
    started right after binds the port at once. One still loading the app holds no request:
    it exits at once.

    gunicorn's own check (``os.getppid()``, once a second in the worker's loop) kept the
    listening socket open until every request in progress had finished, up to
    ``graceful_timeout`` (30 s): a restart in that window failed with "Connection in use".
    ``reuse_port`` is not used instead: in this gunicorn it gives every worker a socket of its
    own, and the connections queued on a worker's socket are reset when it exits (every
    reload would drop some)."""
    import threading
    import time

    master = worker.ppid

    def watch():
        while os.getppid() == master:
            time.sleep(MASTER_POLL_SECONDS)
        if not worker.booted:  # loading the app: it has accepted nothing, so it leaves now
            worker.log.warning("master %s is gone while this worker boots: exiting", master)
            os._exit(0)
        worker.log.warning("master %s is gone: closing the listening sockets", master)
        queue = getattr(worker, "method_queue", None)  # gthread: runs it on the main loop
        if queue is not None:
            queue.defer(_stop_listening, worker)
        else:
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="master-watch", daemon=True).start()


def _stop_listening(worker):
    """On the worker's main loop: stop accepting and shut down gracefully (the requests in
    progress finish); the listeners are closed on the loop's next turn. Not now: the turn
    that runs this may still hold a listener's accept event, which on a closed listener
    raised and killed the worker with its requests."""
    worker.alive = False
    worker.set_accept_enabled(False)
    worker.method_queue.defer(_close_listeners, worker)


def _close_listeners(worker):
    for listener in worker.sockets:
        listener.close()


def on_reload(server):
    """A reload by other means (gunicorn's control socket): stage the policy again; a bad
    one leaves the last good one live."""
    _stage(initial=False)
