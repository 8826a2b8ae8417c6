"""What every request gets, written once for both transports: the Flask hooks of every route
(routes/__init__.py) and the lean WSGI transport of the decision endpoints
(routes/fastpath.py) call these, so the two cannot drift apart.

- ``opened``: the request's start time and its id (``schemas.request_id``: the caller's
  ``X-Request-Id`` when it is 1 to 100 visible ASCII characters, else a generated one), and
  its trace span's route;
- ``headers``: the security headers of an answer (and of an HTML page);
- ``closed``: the request's metrics (counter and latency, children looked up once per
  label) and its access-log line (built only when that log is on).

The rate limit's count and headers are routes/limiter.py's (``count``, ``header_pairs``),
called the same way by both.
"""

import logging
import time
from typing import Any

from ops import tracing
from ops.metrics import LATENCY, REQUESTS
from routes.schemas import request_id

ACCESS = logging.getLogger("orgauthz.access")
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
    children[0].inc()
    children[1].observe(duration)
    if ACCESS.isEnabledFor(logging.INFO):  # the line is built only when it is written
        ACCESS.info(
            {
                "request_id": rid,
                "api_key": api_key,
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(duration * 1000, 3),
            }
        )
