"""Prometheus metrics. Under gunicorn, PROMETHEUS_MULTIPROC_DIR makes them per-process files
that /metrics adds up (set by gunicorn.conf.py).

In that mode every ``inc`` writes the worker's file (a pid check, a lock and an mmap write:
2.0 µs against 0.5 µs in one process, a histogram's ``observe`` 3-5 µs), so what every request
counts (its counter and its latency, routes/edge.py; its decisions, access/decisions.py
``count``; where its facts came from, routes/core.py ``counted``) goes through ``TALLY``:
counted in a dict of the worker and added to the files by a thread every
``Tally.FLUSH_SECONDS`` (one ``inc`` per label set and bucket, whatever the traffic).
/metrics shows a request up to that long after it was answered; a worker that dies loses at
most that much of its counts. In one process (the tests, ``flask run``) the values are set
at once, as before.
"""

import atexit
import bisect
import os
import threading
import time
from typing import Any

from prometheus_client import Counter, Histogram

# prometheus_client picks its value class (per-process files or not) when it is imported
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

REQUESTS = Counter("orgauthz_http_requests_total", "HTTP requests", ["route", "method", "status"])
LATENCY = Histogram(
    "orgauthz_http_request_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
DECISIONS = Counter("orgauthz_decisions_total", "Decisions", ["style", "result"])
DECISION_ERRORS = Counter("orgauthz_decision_errors_total", "Errors while deciding (denied)")
DATABASE_ERRORS = Counter("orgauthz_database_errors_total", "Requests failed by the database")
POLICY_RELOADS = Counter("orgauthz_policy_reloads_total", "Policy loads by a worker", ["outcome"])
RATE_LIMITED = Counter("orgauthz_rate_limited_total", "Requests refused by the rate limit")
DECISION_LOG_DROPPED = Counter(
    "orgauthz_decision_log_dropped_total",
    "Decision-log records dropped (the queue was full: the log failing or behind)",
)
DECISION_LOG_WRITE_ERRORS = Counter(
    "orgauthz_decision_log_write_errors_total", "Failed writes of the decision log (retried)"
)
FACT_CACHE = Counter(
    "orgauthz_fact_cache_requests_total",
    "Decision requests by where their facts came from: all from the worker's cache (hit) "
    "or some from the database (miss)",
    ["result"],
)
REPLICA_SKIPS = Counter(
    "orgauthz_replica_skipped_total",
    "Times a replica was passed over for a request's reads: down (failed lately), error "
    "(failed now) or lag (not replayed far enough)",
    ["replica", "reason"],
)
FACT_CACHE_LISTENER_LOST = Counter(
    "orgauthz_fact_cache_listener_replaced_total",
    "Times the fact cache's listener connection was replaced: it proved no position within "
    "FACTS_MAX_STALENESS_SECONDS (deadline; decisions read the database meanwhile) or failed "
    "(error)",
    ["reason"],
)


class Tally:
    """Request counts and latencies kept per worker, added to the multiprocess files by a
    thread (above). ``add`` is the request's; ``flush`` the thread's (and at exit)."""

    FLUSH_SECONDS = 1.0

    def __init__(self, multiprocess: bool = MULTIPROCESS) -> None:
        self.multiprocess = multiprocess
        self._lock = threading.Lock()
        self._counts: dict = {}  # counter child -> requests
        self._latency: dict = {}  # histogram child -> [sum, then the count per bucket]
        self._thread: threading.Thread | None = None

    def add(self, counter: Any, histogram: Any, seconds: float) -> None:
        """One request: ``counter`` (a child) plus one, ``seconds`` observed by
        ``histogram`` (a child)."""
        self.inc(counter)
        if not self.multiprocess:
            histogram.observe(seconds)
            return
        bucket = bisect.bisect_left(histogram._upper_bounds, seconds)  # first bound >= it
        with self._lock:
            got = self._latency.get(histogram)
            if got is None:
                got = self._latency[histogram] = [0.0] + [0] * len(histogram._upper_bounds)
            got[0] += seconds
            got[bucket + 1] += 1

    def inc(self, counter: Any, n: int = 1) -> None:
        """``counter`` (a child) plus ``n``."""
        if not self.multiprocess:
            counter.inc(n)
            return
        with self._lock:
            self._counts[counter] = self._counts.get(counter, 0) + n
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="metrics", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            time.sleep(self.FLUSH_SECONDS)
            self.flush()

    def flush(self) -> None:
        """Add what was counted since the last flush to the metrics' values."""
        with self._lock:
            counts, self._counts = self._counts, {}
            latency, self._latency = self._latency, {}
        for counter, n in counts.items():
            counter.inc(n)
        for histogram, got in latency.items():
            histogram._sum.inc(got[0])  # what Histogram.observe adds, once per bucket
            for i, n in enumerate(got[1:]):
                if n:
                    histogram._buckets[i].inc(n)


TALLY = Tally()
atexit.register(TALLY.flush)
