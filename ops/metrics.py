"""Prometheus metrics. Under gunicorn, PROMETHEUS_MULTIPROC_DIR makes them per-process files
that /metrics adds up (set by gunicorn.conf.py)."""

from prometheus_client import Counter, Histogram

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
