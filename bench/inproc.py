"""In-process decisions per second: the project's ``decide`` and the other engines, same cases.

Project variants, all through ``access.decisions.decide`` with the engine memo as a worker has
it (the policy answered once per view, then memoized):
    shared facts   TargetBuilder on one _view(): the steady state of a worker's facts
    + view         TargetBuilder(_view()) per decision: what settling a request's freshness
                   adds (nothing on PostgreSQL while the listener runs; a counter read on SQLite)
    cold facts     TargetBuilder() per decision: every fact loaded from the database (2-4 queries)
    request path   the whole POST /v1/authorize in process, through the app's WSGI fast path
                   (body, key, rate limit, freshness, decision, log, metrics, answer): everything
                   a request pays but the HTTP server
"""

import os
import resource as _resource
import statistics
import time

from access.cache import CACHE
from access.decisions import decide
from access.targets import TargetBuilder
from bench import engines
from ops import decisionlog

# (the code before the consistency tokens had CACHE.sync(): bench/ measures both)
_view = getattr(CACHE, "view", None) or getattr(CACHE, "sync")  # noqa: B009

REQUEST_PATH = "project: request path (WSGI fast path, in process)"

# (name, actor, action, type, rid, expected)
CASES = [
    ("org-level", "bench-owner", "edit_billing", "Organization", "bench-pix4d", True),
    ("10 folders deep", "bench-reader", "view", "Dataset", "bench-deep", True),
    ("grant 10 up", "bench-member", "view", "Dataset", "bench-deep", True),
    ("deny", "bench-member", "upload", "Dataset", "bench-deep", False),
]


def rate(fn, seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds`` (at least one call)."""
    t0 = time.perf_counter()
    fn()
    one = time.perf_counter() - t0
    chunk = max(1, min(50, int(seconds / 10 / max(one, 1e-9))))
    n, start = 0, time.perf_counter()
    end = start + seconds
    while True:
        for _ in range(chunk):
            fn()
        n += chunk
        now = time.perf_counter()
        if now >= end:
            return n / (now - start)


def median_rate(fn, seconds: float, runs: int = 3) -> float:
    fn()
    return statistics.median(rate(fn, seconds / runs) for _ in range(runs))


def project_fns(policy, case):
    _, actor, action, type_, rid, _ = case
    maps = _view()

    def shared():
        f = TargetBuilder(maps)
        return decide(policy, f, actor, action, f.find(type_, rid)).allowed

    def synced():
        f = TargetBuilder(_view())
        return decide(policy, f, actor, action, f.find(type_, rid)).allowed

    def cold():
        f = TargetBuilder()
        return decide(policy, f, actor, action, f.find(type_, rid)).allowed

    return {
        "project: decide, shared facts": shared,
        "project: decide + _view()": synced,
        "project: decide, cold facts": cold,
    }


def environ(method: str, path: str, key: str, body: bytes = b"") -> dict:
    """The WSGI environ of one JSON request with an API key (without ``wsgi.input``)."""
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "QUERY_STRING": "",
        "wsgi.url_scheme": "http",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_AUTHORIZATION": f"Bearer {key}",
    }


def request_path(app, key: str):
    """{case name: fn} calling the app's WSGI entry with a prebuilt POST /v1/authorize."""
    import io
    import json

    out = {}
    for case in CASES:
        body = json.dumps(
            {
                "actor": {"id": case[1]},
                "action": case[2],
                "resource": {"type": case[3], "id": case[4]},
            }
        ).encode()
        base = environ("POST", "/v1/authorize", key, body)

        def call(base=base, body=body):
            env = dict(base, **{"wsgi.input": io.BytesIO(body)})
            return b'"allowed":true' in b"".join(app(env, _started))

        out[case[0]] = call
    return out


def _started(status, headers, exc_info=None):
    return None


def load_engines(policy):
    facts = engines.Facts.load("bench-pix4d")
    started = time.perf_counter()
    out = [
        engines.PlainDict(facts),
        engines.RawOso(facts, policy.engine("pix4d")),
        engines.Casbin(facts),
        engines.Cedar(facts),
    ]
    return out, time.perf_counter() - started


def agreement(policy, alt) -> list:
    """Every engine against the project on a grid of the bench org: users x actions x
    resources. Returns the disagreements (empty when all agree)."""
    users = ["bench-owner", "bench-member", "bench-reader", "bench-editor", "nobody"]
    grid = []
    for u in users:
        for a in engines.ORG_ACTIONS:
            grid.append((u, a, "Organization", "bench-pix4d"))
        for rid, type_ in (
            ("bench-deep", "Dataset"),
            ("bench-f0", "Folder"),
            ("bench-f5", "Folder"),
        ):
            for a in engines.RES_ACTIONS:
                grid.append((u, a, type_, rid))
    bad = []
    maps = _view()
    for u, a, t, r in grid:
        f = TargetBuilder(maps)
        want = decide(policy, f, u, a, f.find(t, r)).allowed
        for e in alt:
            if u == "nobody" and isinstance(e, engines.RawOso):
                continue  # the project denies an unknown actor before asking the policy
            got = e.allow(u, a, t, r)
            if got != want:
                bad.append(f"{e.name}: {u} {a} {t} {r}: {got}, project {want}")
    return bad, len(grid)


def run(policy, seconds: float, log=print, app=None, key: str = "") -> dict:
    """Time every engine on every case (and, given the app, the whole request path). Returns
    {"rows": [...], "agreement": ...}."""
    alt, load_s = load_engines(policy)
    bad, n_grid = agreement(policy, alt)
    for case in CASES:
        for e in alt:
            if bool(e.allow(*case[1:5])) != case[5]:
                bad.append(f"{e.name}: case {case[0]} answered {not case[5]}")
    rows = []
    for case in CASES:
        name, expected = case[0], case[5]
        fns = dict(project_fns(policy, case))
        if app is not None:
            fns[REQUEST_PATH] = request_path(app, key)[name]
        for e in alt:
            args = case[1:5]
            fns[e.name] = lambda e=e, args=args: e.allow(*args)
        for label, fn in fns.items():
            if bool(fn()) != expected:
                bad.append(f"{label}: case {name} answered {not expected}")
            per_s = median_rate(fn, seconds)
            rows.append({"engine": label, "case": name, "per_s": per_s, "us": 1e6 / per_s})
    base = {r["case"]: r["per_s"] for r in rows if r["engine"] == "project: decide, shared facts"}
    floor = {r["case"]: r["per_s"] for r in rows if r["engine"] == engines.PlainDict.name}
    for r in rows:
        r["x_project"] = r["per_s"] / base[r["case"]]
        r["of_floor"] = r["per_s"] / floor[r["case"]]
    return {
        "rows": rows,
        "agreement": {"checked": n_grid + len(CASES), "disagreements": bad},
        "alt_load_seconds": load_s,
    }


def decision_log_cost(policy, seconds: float, path: str) -> dict:
    """Steady-state decide with the decision log off and on (the same case)."""
    case = CASES[1]
    fn = project_fns(policy, case)["project: decide, shared facts"]
    saved = decisionlog._sink
    try:
        decisionlog.install("off")
        off = median_rate(fn, seconds)
        decisionlog.install(path)
        on = median_rate(fn, seconds)
    finally:
        decisionlog._sink = saved
    return {"off_per_s": off, "on_per_s": on, "on_us": 1e6 / on, "off_us": 1e6 / off}


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def rss_growth(policy, sample: list, n: int, log_path: str) -> dict:
    """RSS before and after ``n`` decisions the way a worker makes them (shared facts, the
    decision log on), over the cases and the sample of the whole population: warm the working
    set once, then measure."""
    checks = [c[1:5] for c in CASES] + [tuple(s) for s in sample]
    saved = decisionlog._sink
    decisionlog.install(log_path)
    try:

        def one(check):
            f = TargetBuilder(_view() if one.count % 100 == 0 else one.maps)
            one.count += 1
            actor, action, type_, rid = check
            return decide(policy, f, actor, action, f.find(type_, rid))

        one.count, one.maps = 0, _view()
        for c in checks:  # warm: every fact and view loaded once
            one(c)
        decisionlog.flush()
        before = rss_kb()
        started = time.perf_counter()
        k = len(checks)
        for i in range(n):
            one(checks[i % k])
        elapsed = time.perf_counter() - started
        decisionlog.flush()
        after = rss_kb()
    finally:
        decisionlog._sink = saved
    return {
        "decisions": n,
        "rss_before_mb": before / 1024,
        "rss_after_mb": after / 1024,
        "growth_mb": (after - before) / 1024,
        "growth_mb_per_million": (after - before) / 1024 * 1e6 / n,
        "seconds": elapsed,
        "us_per_decision": elapsed / n * 1e6,
        "distinct_checks": k,
        "maxrss_mb": _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss / 1024,
        "pid": os.getpid(),
    }
