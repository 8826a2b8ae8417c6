"""What every request gets, written once for both transports: the Flask hooks of every route
(routes/__init__.py) and the lean WSGI transport of the decision endpoints
(routes/fastpath.py) call these, so the two cannot drift apart.

- ``opened``: the request's start time and its id (``schemas.request_id``: the caller's
  ``X-Request-Id`` when it is 1 to 100 visible ASCII characters, else a generated one), and
  its trace span's route;
- ``headers``: the security headers of an answer (and of an HTML page);
- ``closed``: the request's metrics (counter and latency, children looked up once per
  label) and its access-log line (built only when that log is on).

The access log at the default ``INFO`` is one line per request, so it is kept off the request
thread: when the log goes where ``ops.logs.setup`` sends it (the root logger's one JSON
handler, nothing else listening), a request appends its fields as a tuple to ``AccessLines``
and a writer thread formats the lines, the same JSON as ``ops.logs.JsonFormatter`` writes
(keys, order and values), and writes them in one call per batch, every ``FLUSH_SECONDS``
(in process, a line through ``logging`` cost 15 µs of the request thread here, 40% of a
single check's throughput over HTTP). Anything else listening (a handler of its own, the
tests' ``caplog``) gets the record through ``logging`` as before. Lines not yet written when
a worker dies are lost (at most ``FLUSH_SECONDS`` of them); lines beyond ``MAX_PENDING`` are
dropped and counted (``dropped``).

The rate limit's count and headers are routes/limiter.py's (``count``, ``header_pairs``),
called the same way by both.
"""

import atexit
import datetime
import json
import logging
import threading
import time
from typing import Any

from ops import tracing
from ops.logs import JsonFormatter
from ops.metrics import LATENCY, REQUESTS, TALLY
from routes.schemas import request_id

ACCESS = logging.getLogger("orgauthz.access")
_ROOT = logging.getLogger()
# Metrics labels are bounded: any other method (a client may send any token) and any path
# that matches no route are counted as ``other``, so junk requests cannot grow /metrics.
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
OTHER = "other"
NOSNIFF = ("X-Content-Type-Options", "nosniff")
HTML_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; "
        "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    ),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)


def opened(rule: Any, header: str | None) -> tuple[float, str]:
    """(start time, request id) of a request; names its trace span by ``rule`` (a Flask
    ``url_rule`` or a rule's text) when traces are on."""
    started = time.perf_counter()
    rid = request_id(header)
    if tracing.ON:
        tracing.route(rule, rid)
    return started, rid


def headers(rid: str, html: bool = False) -> list[tuple[str, str]]:
    """The headers every answer carries: its request id and ``nosniff``; an HTML page also
    its content security policy, no framing and no referrer."""
    out = [("X-Request-Id", rid), NOSNIFF]
    if html:
        out.extend(HTML_HEADERS)
    return out


class AccessLines:
    """The access log's lines, formatted and written by a thread of their own (above)."""

    FLUSH_SECONDS = 0.1
    MAX_PENDING = 100_000

    def __init__(self) -> None:
        self.pending: list = []  # (unix time, request id, key, method, route, status, ms)
        self.dropped = 0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # starting the thread; swapping ``pending``
        self._second = (0, "")  # (unix second, its ISO text): one strftime per second
        self._checked: logging.Handler | None = None  # the handler last found to be setup's

    def handler(self) -> logging.Handler | None:
        """The one handler every access line goes to, when it is ``ops.logs.setup``'s and
        nothing else would see the record; else None (the record goes through logging)."""
        handlers = _ROOT.handlers
        if len(handlers) != 1 or ACCESS.filters:
            return None
        logger: Any = ACCESS
        while logger is not _ROOT:  # as Logger.callHandlers walks: none on the way up
            if logger.handlers or not logger.propagate:
                return None
            logger = logger.parent
        only = handlers[0]
        if only is self._checked:
            return only
        if (
            type(only.formatter) is not JsonFormatter
            or not hasattr(only, "stream")
            or only.level > logging.INFO
            or only.filters
        ):
            return None
        self._checked = only
        return only

    def add(self, line: tuple) -> None:
        pending = self.pending
        if len(pending) >= self.MAX_PENDING:
            self.dropped += 1
            return
        pending.append(line)
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="access-log", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            time.sleep(self.FLUSH_SECONDS)
            try:
                self.flush()
            except Exception:  # noqa: BLE001 -- the log must not stop the worker
                self.dropped += 1

    def flush(self) -> None:
        """Format and write every pending line (one write, under the handler's lock)."""
        with self._lock:
            lines, self.pending = self.pending, []
        handler = self.handler() if lines else None
        if handler is None:
            for line in lines:  # the setup changed meanwhile: through logging
                ACCESS.info(_fields(line))
            return
        text = "".join([self.format(line) for line in lines])
        handler.acquire()
        try:
            handler.stream.write(text)  # type: ignore[attr-defined]
            handler.flush()
        finally:
            handler.release()

    def format(self, line: tuple) -> str:
        """One line as ``ops.logs.JsonFormatter`` writes the record of ``_fields(line)``."""
        when, rid, key, method, route, status, ms = line
        second = int(when)
        if second != self._second[0]:
            iso = datetime.datetime.fromtimestamp(second, datetime.UTC).isoformat()
            self._second = (second, iso[:19])
        dumps = _DUMPS
        return (
            f'{{"time": "{self._second[1]}.{int((when - second) * 1000):03d}+00:00", '
            f'"level": "info", "logger": "orgauthz.access", "request_id": {dumps(rid)}, '
            f'"api_key": {dumps(key)}, "method": {dumps(method)}, "route": {dumps(route)}, '
            f'"status": {status}, "duration_ms": {ms!r}}}\n'
        )


_DUMPS = json.JSONEncoder(default=str).encode


def _fields(line: tuple) -> dict:
    _, rid, key, method, route, status, ms = line
    return {
        "request_id": rid,
        "api_key": key,
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": ms,
    }


LINES = AccessLines()
atexit.register(LINES.flush)
_CHILDREN: dict = {}  # (route, method, status) -> (its counter's child, its histogram's child)


def closed(
    route: str, method: str, status: int, started: float | None, rid: str | None, api_key: Any
) -> None:
    """Count the answered request (``route``: its rule's text, or ``other``) and write its
    access-log line."""
    key = (route, method if method in METHODS else OTHER, status)
    children = _CHILDREN.get(key)
    if children is None:
        children = _CHILDREN[key] = (REQUESTS.labels(*key), LATENCY.labels(route))
    duration = time.perf_counter() - started if started is not None else 0.0
    TALLY.add(children[0], children[1], duration)
    if ACCESS.isEnabledFor(logging.INFO):  # the line is built only when it is written
        line = (time.time(), rid, api_key, method, route, status, round(duration * 1000, 3))
        if LINES.handler() is not None:
            LINES.add(line)
        else:
            ACCESS.info(_fields(line))
