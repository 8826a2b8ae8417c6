"""Gunicorn settings, read by the Procfile and `make run`.

gthread workers keep connections alive (a sync worker closes each one, and a new TCP
connection costs more than a decision). Processes give the throughput (one Oso instance
does not go faster with more threads); threads let one slow client not hold a whole
worker. Timeouts bound slow clients.
"""

import os
import tempfile
from pathlib import Path

from ops import config

_settings = config.load(Path(__file__).resolve().parent / "instance")
bind = _settings["BIND"]
workers = _settings["WEB_CONCURRENCY"]
worker_class = "gthread"
threads = _settings["GUNICORN_THREADS"]
keepalive = 30
timeout = 30
graceful_timeout = 30
limit_request_line = 8190
limit_request_fields = 100

# Prometheus multiprocess mode: every worker writes its metrics to files in one folder.
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="orgauthz-metrics-")


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_starting(server):
    """Verify and stage the policy before any worker starts (see authz/reload.py), and give
    every worker the same session key (the console's cookie must verify on any worker)."""
    import secrets

    from ops.reload import stage

    os.environ.setdefault("ORGAUTHZ_SECRET_KEY", secrets.token_hex(32))
    stage(initial=True)


def on_reload(server):
    """HUP: stage the policy again; a bad one leaves the last good one live."""
    from ops.reload import stage

    stage(initial=False)
