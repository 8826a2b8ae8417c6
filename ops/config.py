"""The service's configuration, read once at start: defaults, then the environment.

Every setting below can be set as ``ORGAUTHZ_<NAME>`` in the environment; the few that
platforms set by their own names are read bare too (``DATABASE_URL``, ``LOG_LEVEL``,
``BIND``, ``WEB_CONCURRENCY``, ``GUNICORN_THREADS``). ``create_app`` reads it into
``app.config`` (the tests then override keys with ``test_config``); gunicorn.conf.py reads
its three settings from it. Nothing else in the service reads the environment, except
prometheus_client, which reads ``PROMETHEUS_MULTIPROC_DIR`` itself (gunicorn.conf.py sets it
before any worker starts). A value that does not parse stops startup naming the variable.
"""

import multiprocessing
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from authz.engine import POLICY_DIR


def usable_cpus(cgroup: str | Path = "/sys/fs/cgroup") -> int:
    """The CPUs this process may use: its affinity, capped by a container's CPU limit
    (cgroup v2 ``cpu.max``, or v1 ``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``), rounded
    up, at least 1. ``multiprocessing.cpu_count()`` is the host's count inside a container."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = multiprocessing.cpu_count()
    root = Path(cgroup)
    quota = period = None
    try:
        text = (root / "cpu.max").read_text().split()
        if text and text[0] != "max":
            quota, period = int(text[0]), int(text[1])
    except (OSError, ValueError, IndexError):
        try:
            quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
            period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            pass
    if quota and period and quota > 0:
        count = min(count, -(-quota // period))
    return max(count, 1)


class ConfigError(Exception):
    """A setting in the environment that does not parse."""


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


# name: (type, default, also read without the ORGAUTHZ_ prefix). Defaults that depend on the
# instance folder are filled in by ``load``.
SETTINGS: dict[str, tuple[Callable[[str], Any], Any, bool]] = {
    "DATABASE_URL": (str, None, True),  # default: sqlite file in the instance folder
    # PostgreSQL streaming replicas (comma-separated URLs) that decision and list reads may
    # use (access/cache.py); a direct URL of the primary for LISTEN and migrations when
    # DATABASE_URL goes through PgBouncer in transaction mode (docs/operations.md: several nodes).
    "DATABASE_REPLICA_URLS": (str, "", True),
    "DATABASE_LISTEN_URL": (str, None, True),
    # Hot reads are prepared once per connection on PostgreSQL (models/base.py ``prepared``).
    # Off behind PgBouncer in transaction mode, which does not keep a connection's statements.
    "DATABASE_PREPARED_STATEMENTS": (_bool, True, False),
    "REPLICA_MAX_LAG_SECONDS": (float, 1.0, False),  # a replica further behind is skipped
    "REPLICA_RETRY_SECONDS": (float, 2.0, False),  # a failed replica is skipped this long
    # A replica read that has not answered by then is abandoned (statement_timeout on the
    # server, the socket shut down on this side) and read on the next replica or the primary.
    "REPLICA_TIMEOUT_SECONDS": (float, 2.0, False),
    # The fact cache answers from memory only while its listener proved the database's
    # position within this many seconds; past it, decisions read the database and the
    # listener's connection is replaced (access/cache.py, docs/consistency.md).
    "FACTS_MAX_STALENESS_SECONDS": (float, 5.0, False),
    # A check must name its resource's organization (docs/API.md 1.2): recommended whenever
    # resource ids can come from end users.
    "REQUIRE_RESOURCE_ORG": (_bool, False, False),
    "POLICY_DIR": (str, str(POLICY_DIR), False),
    "SNAPSHOT_DIR": (str, None, False),  # default: instance/policy-snapshots
    "MAX_CONTENT_LENGTH": (int, 1024 * 1024, False),
    # Polar queries one request may run (memo hits run none) before it is a 422 naming this
    # setting: a batch of 1000 checks on new questions runs about 1000; 0 is no limit.
    "DECISION_BUDGET": (int, 2000, False),
    "DECISION_LOG": (str, None, False),  # default: instance/decisions.log; "off" disables
    "DECISION_LOG_SAMPLE": (float, 1.0, False),
    "DECISION_LOG_MAX_BYTES": (int, 100 * 1000 * 1000, False),
    "DECISION_LOG_BACKUPS": (int, 5, False),
    # Per API key (per worker with memory storage; a redis:// URI shares it).
    "RATE_LIMIT": (str, "300000 per minute", False),
    "RATE_LIMIT_STORAGE": (str, "memory://", False),
    "LAST_ACTIVE_FLUSH_SECONDS": (float, 5.0, False),
    "CONSOLE_COOKIE_SECURE": (_bool, None, False),  # default: Secure unless TESTING
    "CONSOLE_SESSION_HOURS": (float, 12.0, False),  # a console session's longest life
    "CONSOLE_IDLE_MINUTES": (float, 120.0, False),  # it ends after this long without a page
    # Invitation mail, events and webhooks (access/mail.py, access/webhooks.py, access/worker.py)
    "TOKEN_KEY": (str, None, False),  # default: made once in instance/token.key
    "MAIL_URL": (str, None, False),  # default: file://<instance>/mail; smtp://, smtps://, off
    "MAIL_FROM": (str, "orgauthz <no-reply@localhost>", False),
    "INVITATION_ACCEPT_URL": (str, "http://localhost:8000/invitations/accept?token={token}", False),
    "MAIL_MAX_ATTEMPTS": (int, 8, False),
    "MAIL_RETRY_BASE_SECONDS": (float, 30.0, False),
    "MAIL_TIMEOUT_SECONDS": (float, 30.0, False),
    "WEBHOOK_ALLOW_PRIVATE": (_bool, False, False),
    "WEBHOOK_MAX_ATTEMPTS": (int, 8, False),
    "WEBHOOK_RETRY_BASE_SECONDS": (float, 10.0, False),
    "WEBHOOK_TIMEOUT_SECONDS": (float, 10.0, False),
    "RETRY_MAX_SECONDS": (float, 3600.0, False),
    "OUTBOX_WORKER": (_bool, True, False),
    "OUTBOX_POLL_SECONDS": (float, 2.0, False),
    "OUTBOX_LEASE_SECONDS": (float, 300.0, False),
    "EXPIRE_EVERY_SECONDS": (float, 60.0, False),
    "LOG_LEVEL": (str, "INFO", True),
    "BIND": (str, "127.0.0.1:8000", True),
    "WEB_CONCURRENCY": (int, None, True),  # default: the CPUs this process may use
    "GUNICORN_THREADS": (int, 4, True),
    # Verified domains (access/domains.py): the DNS server asked for their TXT tokens,
    # "host" or "host:port" (default: the system's resolvers), and how long it may take.
    "DNS_NAMESERVER": (str, "", False),
    "DNS_TIMEOUT_SECONDS": (float, 5.0, False),
}
PREFIX = "ORGAUTHZ_"


def load(instance_path: str | Path, environ: Mapping[str, str] | None = None) -> dict:
    """Every setting: its default, or the environment's value parsed to its type.

    Raises ConfigError naming the variable whose value does not parse.
    """
    environ = os.environ if environ is None else environ
    instance = Path(instance_path)
    config: dict[str, Any] = {}
    for name, (kind, default, bare) in SETTINGS.items():
        for variable in (PREFIX + name, name) if bare else (PREFIX + name,):
            if environ.get(variable, "") != "":
                try:
                    config[name] = kind(environ[variable])
                except ValueError as exc:
                    raise ConfigError(f"{variable}: {exc}") from exc
                break
        else:
            config[name] = default
    config["DATABASE_URL"] = config["DATABASE_URL"] or f"sqlite:///{instance / 'orgauthz.db'}"
    config["WEB_CONCURRENCY"] = config["WEB_CONCURRENCY"] or usable_cpus()
    config["DECISION_LOG"] = config["DECISION_LOG"] or str(instance / "decisions.log")
    config["SNAPSHOT_DIR"] = config["SNAPSHOT_DIR"] or str(instance / "policy-snapshots")
    return config
