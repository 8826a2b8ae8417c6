"""Rate limiting per API key: ``RATE_LIMIT`` (e.g. ``300000 per minute``, several separated
by ``;``) per key and per endpoint, in fixed windows; ``X-RateLimit-Limit``,
``-Remaining`` and ``-Reset`` on every ``/v1`` answer, and a 429 problem with
``Retry-After`` past the limit. The operational endpoints and the docs are not limited.

With ``RATE_LIMIT_STORAGE=memory://`` (the default) each worker counts in a dict under a
lock: a few hundred nanoseconds per request and no thread. (flask-limiter, used before,
costs 11-13% of a single check's CPU under load: its memory storage re-arms a
``threading.Timer`` on every hit, plus its own before/after/teardown hooks on every
request, /healthz included.) A ``redis://`` URI shares the counts between workers and
hosts through the ``limits`` library's fixed-window limiter, one round trip per request.
"""

import threading
import time
from typing import Any

import limits
from flask import Flask, g, request

from access.errors import RateLimited
from ops.metrics import RATE_LIMITED

MAX_WINDOWS = 10_000  # counted (key, endpoint, limit) windows per worker; expired ones go


class RateLimiter:
    """Fixed windows per (API key, endpoint, limit)."""

    def __init__(self, spec: str, storage_uri: str = "memory://") -> None:
        self.items = limits.parse_many(spec)
        self.text = "; ".join(str(i) for i in self.items)
        self._lock = threading.Lock()
        self._windows: dict = {}  # (key, scope, i) -> [window end, count]
        self._shared: Any = None
        if not storage_uri.startswith("memory"):
            from limits.storage import storage_from_string
            from limits.strategies import FixedWindowRateLimiter

            self._shared = FixedWindowRateLimiter(storage_from_string(storage_uri))

    def hit(self, key: str, scope: str) -> tuple:
        """Count one request. Returns (allowed, limit, remaining, reset epoch seconds) of the
        tightest limit."""
        if self._shared is not None:
            return self._hit_shared(key, scope)
        now = time.time()
        worst: tuple = ()
        with self._lock:
            windows = self._windows
            for i, item in enumerate(self.items):
                window = windows.get((key, scope, i))
                if window is None or window[0] <= now:
                    if len(windows) >= MAX_WINDOWS:
                        self._forget_expired(now)
                    expiry = item.get_expiry()
                    window = windows[(key, scope, i)] = [now - now % expiry + expiry, 0]
                window[1] += 1
                state = (window[1] <= item.amount, item.amount, item.amount - window[1], window[0])
                if not worst or not state[0] or state[2] < worst[2]:
                    worst = state
                    if not state[0]:
                        break
        return worst

    def _forget_expired(self, now: float) -> None:
        windows = self._windows
        for k in [k for k, w in windows.items() if w[0] <= now]:
            del windows[k]
        if len(windows) >= MAX_WINDOWS:  # all live: start over rather than grow
            windows.clear()

    def _hit_shared(self, key: str, scope: str) -> tuple:
        worst: tuple = ()
        for item in self.items:
            ok = self._shared.hit(item, key, scope)
            reset, remaining = self._shared.get_window_stats(item, key, scope)
            state = (ok, item.amount, remaining, reset)
            if not worst or not ok or remaining < worst[2]:
                worst = state
                if not ok:
                    break
        return worst


def init(app: Flask) -> RateLimiter:
    """The app's limiter (``check`` uses it)."""
    limiter = RateLimiter(app.config["RATE_LIMIT"], app.config["RATE_LIMIT_STORAGE"])
    app.extensions["orgauthz.limiter"] = limiter
    return limiter


def count(limiter: RateLimiter, environ: dict, key: str, endpoint: str) -> tuple:
    """Count this request against its API key, once: the state (allowed, limit, remaining,
    reset) is kept in the WSGI environ, so the transport that answers (the lean one or the
    Flask route it hands over to) reads the same count."""
    state = environ.get("orgauthz.rate_limit")
    if state is None:
        state = environ["orgauthz.rate_limit"] = limiter.hit(key, endpoint)
    return state


def check(limiter: RateLimiter) -> None:
    """Count this Flask request against its API key (authenticated before). Raises 429."""
    if not count(limiter, request.environ, g.api_key, request.endpoint or request.path)[0]:
        RATE_LIMITED.inc()
        raise RateLimited(f"rate limit exceeded: {limiter.text} per API key")


def header_pairs(state: tuple | None) -> list[tuple[str, str]]:
    """The rate-limit headers of a count (none for a request not counted); past the limit,
    ``Retry-After`` too."""
    if state is None:
        return []
    _, limit, remaining, reset = state
    pairs = [
        ("X-RateLimit-Limit", str(limit)),
        ("X-RateLimit-Remaining", str(max(remaining, 0))),
        ("X-RateLimit-Reset", str(int(reset))),
    ]
    if remaining < 0:
        pairs.append(("Retry-After", str(max(1, int(reset - time.time() + 0.999)))))
    return pairs
