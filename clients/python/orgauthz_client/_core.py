"""What the sync and the async client share: the calls as data (``Call``), the answers
(``Reply``), and the rules for headers, retries and errors. No I/O here; ``client.py`` has
the two drivers that send.

Retries: a call is sent again after a backoff (exponential with jitter, at least the
service's ``Retry-After``) when the service answered 503 or 429, or the connection failed,
for at most ``retries`` more attempts and never past the call's deadline, and only when
sending it twice cannot do a change twice:
- reads (GET) and the decision POSTs (they change nothing) always;
- writes only when they carry an ``Idempotency-Key`` (the client sets a fresh one per call,
  kept across its retries), or when the connection was refused before anything was sent.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from .errors import ConnectionFailed, OrgauthzError, Timeout, error_for

RETRY_STATUSES = frozenset({429, 503})


@dataclass
class Call:
    """One HTTP request of an operation."""

    method: str
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    actor: str | None = None
    write: bool = False  # a management change: Idempotency-Key, retried only with one
    idempotency_key: str | None = None
    deadline: float | None = None  # time.monotonic() after which no attempt starts
    timeout: float | None = None  # per attempt, instead of the client's
    retries: int | None = None  # instead of the client's


@dataclass
class Reply:
    status: int
    headers: httpx.Headers
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def retry_after(self) -> float | None:
        value = self.headers.get("retry-after")
        try:
            return max(0.0, float(value)) if value is not None else None
        except ValueError:
            return None  # an HTTP date: treat as no hint


@dataclass
class Settings:
    base_url: str
    api_key: str
    actor: str | None = None
    timeout: float = 5.0
    connect_timeout: float | None = None
    retries: int = 2
    backoff: float = 0.05
    max_backoff: float = 2.0
    idempotency: bool = True
    headers: dict[str, str] = field(default_factory=dict)


class Core:
    """Configuration and the rules both drivers follow."""

    _settings: Settings

    # ------------------------------------------------------------------ building requests
    def _actor(self, actor: str | None) -> str | None:
        return actor if actor is not None else self._settings.actor

    def _prepare(self, call: Call) -> dict[str, Any]:
        """The keyword arguments of ``httpx`` ``request`` for ``call`` (its key set once)."""
        headers = {"Authorization": f"Bearer {self._settings.api_key}"}
        if call.actor is not None:
            headers["X-Actor-Id"] = call.actor
        if call.write and call.idempotency_key is None and self._settings.idempotency:
            call.idempotency_key = uuid.uuid4().hex
        if call.idempotency_key is not None:
            headers["Idempotency-Key"] = call.idempotency_key
        kwargs: dict[str, Any] = {"headers": headers}
        if call.json is not None:
            kwargs["json"] = call.json
        if call.params:
            kwargs["params"] = {k: v for k, v in call.params.items() if v is not None}
        return kwargs

    def _timeout(self, call: Call) -> httpx.Timeout:
        seconds = call.timeout if call.timeout is not None else self._settings.timeout
        if call.deadline is not None:
            seconds = max(0.001, min(seconds, call.deadline - time.monotonic()))
        connect = self._settings.connect_timeout
        return httpx.Timeout(seconds, connect=min(seconds, connect) if connect else seconds)

    # ------------------------------------------------------------------ answers
    @staticmethod
    def _reply(response: httpx.Response) -> Reply:
        body: Any = None
        if response.content:
            ctype = response.headers.get("content-type", "")
            if "json" in ctype:
                try:
                    body = response.json()
                except ValueError:
                    body = response.text
            else:
                body = response.text
        return Reply(response.status_code, response.headers, body)

    @staticmethod
    def _error(reply: Reply) -> OrgauthzError:
        return error_for(
            reply.status, reply.body, reply.headers.get("x-request-id"), reply.retry_after
        )

    @staticmethod
    def _transport_error(exc: httpx.TransportError) -> OrgauthzError:
        cls = Timeout if isinstance(exc, httpx.TimeoutException) else ConnectionFailed
        return cls(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)

    # ------------------------------------------------------------------ retries
    def _retry_delay(
        self,
        call: Call,
        attempt: int,
        reply: Reply | None = None,
        exc: httpx.TransportError | None = None,
    ) -> float | None:
        """Seconds to wait before sending ``call`` again, or None not to send it again."""
        retries = call.retries if call.retries is not None else self._settings.retries
        if attempt >= retries:
            return None
        not_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
        if call.write and call.idempotency_key is None and not not_sent:
            return None  # a write that may have been done once already
        if reply is not None and reply.status not in RETRY_STATUSES:
            return None
        s = self._settings
        delay = random.uniform(0, min(s.max_backoff, s.backoff * 2**attempt))
        if reply is not None and reply.retry_after is not None:
            delay = max(delay, min(reply.retry_after, s.max_backoff))
        if call.deadline is not None and time.monotonic() + delay >= call.deadline:
            return None
        return delay
