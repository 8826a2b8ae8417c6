"""The outbox worker: sends queued invitation mails, turns events into webhook deliveries
and sends them, and marks expired invitations and removes lapsed access (access/expiry.py),
every ``OUTBOX_POLL_SECONDS``.

``make run`` (gunicorn) starts one as a daemon thread in each worker process; they share the
work through leases (access/mail.py, access/webhooks.py), so any number of them, or a
separate ``flask outbox work`` process, can run at once. ``flask outbox send`` runs one pass
and exits (for a scheduler, or by hand).

Every step is bounded (a batch of rows, a timeout per mail and per HTTP call) and any error
in one is logged and retried at the next pass; it never stops the thread.
"""

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from access import domains, mail, webhooks
from access.context import Context
from models import db

log = logging.getLogger("orgauthz.worker")


def owner_id() -> str:
    """Who holds a lease: host, process and a random part."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """One pass (``step``) does every job once; ``start`` runs passes in a thread."""

    def __init__(
        self,
        ctx_factory: Callable[[], Context],
        poll_seconds: float = 2.0,
        expire_every_seconds: float = 60.0,
        sender: mail.Transport | None = None,
        poster: webhooks.Poster | None = None,
    ) -> None:
        self.ctx_factory = ctx_factory  # () -> Context: the live policy and the clock
        self.poll_seconds = poll_seconds
        self.expire_every_seconds = expire_every_seconds
        self.sender, self.poster = sender, poster
        self.owner = owner_id()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_expire: float | None = None  # time.monotonic() of the last expiry
        self.failing: str | None = None

    def step(self, expire: bool = True) -> dict:
        """Every job once. Returns what each did."""
        from access import expiry, join_requests
        from access.invitations import expire_due

        ctx: Context = self.ctx_factory()
        done: dict[str, int | dict] = {}
        with db.connection_context():
            now = ctx.now()
            if expire:
                done["expired"] = expire_due(ctx)
                done["lapsed"] = expiry.expire_due(ctx)
                done["requests_expired"] = join_requests.expire_due(ctx)
            done["mail"] = mail.send_due(self.owner, now, self.sender)
            done["dispatched"] = webhooks.dispatch(now)
            done["webhooks"] = webhooks.deliver_due(self.owner, now, self.poster)
        return done

    def _run(self) -> None:
        import time

        while not self._stop.is_set():
            due = self._last_expire is None or (
                time.monotonic() - self._last_expire >= self.expire_every_seconds
            )
            try:
                self.step(expire=due)
                if due:
                    self._last_expire = time.monotonic()
                if self.failing:
                    log.info("outbox worker works again")
                self.failing = None
            except Exception as exc:  # noqa: BLE001 - logged; the next pass tries again
                if self.failing is None:
                    log.exception("outbox worker pass failed: %s", exc)
                self.failing = f"{type(exc).__name__}: {exc}"
            self._stop.wait(self.poll_seconds)

    def start(self) -> "Worker":
        self._thread = threading.Thread(target=self._run, name="orgauthz-outbox", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


def configure(config: Mapping[str, Any], instance_path: str) -> None:
    """Read the mail, webhook and derived-secret settings from ``config`` (a mapping: the
    app's config)."""
    from access import derived

    derived.configure(config.get("TOKEN_KEY"), instance_path)
    mail.configure(config, instance_path)
    webhooks.configure(config)
    domains.configure(config)


def wanted(config: Mapping[str, Any]) -> bool:
    """Whether a serving process should run the worker thread: ``OUTBOX_WORKER`` (default
    on; off when a separate ``flask outbox work`` runs)."""
    value = config.get("OUTBOX_WORKER", True)
    if isinstance(value, str):
        value = value.strip().lower() not in ("0", "false", "no", "off")
    return bool(value)


def contexts(policy: Any, config: Mapping[str, Any]) -> Callable[[], Context]:
    """The context factory of a worker started from an app: each pass reads the policy live
    in ``policy`` (the app's ``orgauthz.policy``) and the clock ``config`` names, then, and
    needs no app context (a worker's thread has none)."""
    return lambda: Context(policy.current, config["CLOCK"])


def start(ctx_factory: Callable[[], Context], config: Mapping[str, Any]) -> Worker:
    """Start the worker thread; ``ctx_factory() -> Context`` gives the live policy."""
    return Worker(
        ctx_factory,
        float(config.get("OUTBOX_POLL_SECONDS") or 2.0),
        float(config.get("EXPIRE_EVERY_SECONDS") or 60.0),
    ).start()
