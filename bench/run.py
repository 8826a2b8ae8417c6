"""The benchmark suite: one command, one report, one JSON file.

    python bench/run.py                         # large data, PostgreSQL then SQLite (make bench)
    python bench/run.py --size small --quick    # CI guard against bench/baseline.json
                                                #   (make bench-small)
    python bench/run.py --size small --quick --write-baseline   # refresh the baseline

For each backend: build the data set (bench/data.py) in a fresh PostgreSQL schema or SQLite
file; time the in-process decisions of every engine on the same cases, and the whole request
path through the app's WSGI entry (bench/inproc.py, bench/engines.py), check they all agree;
cold decisions at every depth (bench/depth.py); the decision log's cost and the RSS over a
million decisions; then, unless ``--quick``, the performance table over HTTP (bench/table.py:
orgauthz and the servers it is measured against behind the same gunicorn settings, loaded by
wrk), the first page of list-resources at 10,000 and 1,000,000 resources (bench/breadth.py),
the same with 1,000 teams and expiring access present beside plain (bench/teams.py), and, with
``--sweep``, the gunicorn settings. Prints the report with every target as a ratio of
two figures of the same run, and writes bench/results/<size>.json.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from authz.engine import POLICY_DIR, PolicySet  # noqa: E402
from bench import breadth, data, depth, inproc, ratios  # noqa: E402
from ops import decisionlog  # noqa: E402

BASELINE = HERE / "baseline.json"
PROJECT = "project: decide, shared facts"
CEDAR = "cedar (cedarpy, parsed once)"


def table(headers, rows, aligns=None) -> str:
    aligns = aligns or ["<"] + [">"] * (len(headers) - 1)
    cells = [[str(c) for c in r] for r in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    line = "| " + " | ".join(f"{h:{a}{w}}" for h, a, w in zip(headers, aligns, widths)) + " |"
    sep = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if a == ">" else ("-" * (w + 2)) for a, w in zip(aligns, widths)
        )
        + "|"
    )
    body = [
        "| " + " | ".join(f"{c:{a}{w}}" for c, a, w in zip(r, aligns, widths)) + " |" for r in cells
    ]
    return "\n".join([line, sep] + body)


def inproc_table(result: dict) -> str:
    rows = result["rows"]
    cases = [c[0] for c in inproc.CASES]
    engines_ = list(dict.fromkeys(r["engine"] for r in rows))
    by = {(r["engine"], r["case"]): r for r in rows}
    out = []
    for e in engines_:
        line = [e]
        for c in cases:
            r = by[(e, c)]
            line.append(f"{r['us']:.1f} µs · {r['per_s']:,.0f}/s · ×{r['x_project']:.2g}")
        out.append(line)
    return table(["engine (µs · decisions/s · × project)"] + cases, out)


def run_backend(backend: str, args, log) -> dict:
    tmpdir = tempfile.mkdtemp(prefix="orgauthz-bench-")
    url = data.default_url(backend, tmpdir)
    ds = data.build(url, args.size, log=log, teams=args.teams)
    out = {"backend": backend, "size": args.size, "build_seconds": ds.seconds, "counts": ds.counts}
    out["loadavg"] = {"start": os.getloadavg()}  # other work on the machine, for the reader
    dlog = os.path.join(tmpdir, "decisions.log")
    try:
        from access.cache import CACHE
        from app import create_app

        app = create_app(
            {
                "DATABASE_URL": url,
                "DATABASE_BOUND": True,
                "DECISION_LOG": dlog,
                "LOG_LEVEL": "WARNING",
                # in-process requests come faster than any client's: not a 429 in the figures
                "RATE_LIMIT": "1000000000 per minute",
            }
        )
        policy = app.extensions["orgauthz.policy"].current
        # No connection_context: the request path returns the thread's connection to the
        # pool after each request, as a worker does; the rest reconnects on its first query.
        if True:  # noqa: SIM108
            log(f"[{backend}] in-process, {args.seconds:.1f} s per figure (median of 3)")
            out["inproc"] = inproc.run(policy, args.seconds, log=log, app=app, key=ds.api_key)
            out["decision_log_inproc"] = inproc.decision_log_cost(policy, args.seconds, dlog)
            if args.rss_decisions:
                log(f"[{backend}] RSS over {args.rss_decisions:,} decisions")
                out["rss_inproc"] = inproc.rss_growth(policy, ds.sample, args.rss_decisions, dlog)
        log(f"[{backend}] cold decisions by depth")
        depths = [d for d in depth.DEPTHS if d <= args.max_depth]
        out["depth"] = depth.run(policy, runs=3 if args.quick else 5, log=log, depths=depths)
        if args.check_baseline or args.write_baseline:
            from bench import guard

            log(f"[{backend}] guard: ratios timed round-robin")
            out["guard"] = guard.run(policy, app, ds.api_key, ds.sample, log=log, ds=ds)
            got = out["guard"][guard.DEPTH_PAIR] = guard.depth_pair(policy)
            log(
                f"    {guard.DEPTH_PAIR:40} {got['ratio']:8.3f}  (median of rounds "
                f"{got['median']:.3f}; fastest {got['a_us'] / 1000:.2f} / "
                f"{got['b_us'] / 1000:.2f} ms)"
            )
        elif not args.quick:  # the depth row: round-robin, with its spread
            from bench import guard

            out["depth_pair"] = guard.depth_pair(policy)
        CACHE.clear()
        if not args.quick:
            from bench import table as http_table

            log(f"[{backend}] HTTP table, {args.http_seconds:.0f} s per run, {args.rounds} rounds")
            out["loadavg"]["before HTTP"] = os.getloadavg()
            try:
                out["http"] = http_table.run(
                    ds, inproc.CASES, args.http_seconds, args.rounds, log=log, workers=args.workers
                )
            except Exception as exc:  # the report of what was measured is still printed
                log(f"[{backend}] HTTP table failed: {exc!r}"[:3000])
                out["http"] = {"error": repr(exc)[:3000]}
            out["loadavg"]["after HTTP"] = os.getloadavg()
            if args.sweep:
                out["sweep"] = sweep(ds, args.http_seconds, log)
    finally:
        decisionlog.close(dlog)  # what it holds is written before its folder is removed
        data.drop(ds)
    if not args.quick and backend == "postgres" and not args.no_breadth:
        log(f"[{backend}] breadth: list-resources at {args.breadth[0]:,} and {args.breadth[1]:,}")
        out["breadth"] = breadth.run(url, PolicySet(POLICY_DIR), sizes=tuple(args.breadth), log=log)
    if not args.quick and backend == "postgres" and not args.no_teams:
        from bench import teams

        log(f"[{backend}] teams: list and decisions with {data.TEAMS:,} teams / plain")
        out["teams"] = teams.run(url, PolicySet(POLICY_DIR), sizes=tuple(args.breadth), log=log)
    shutil.rmtree(tmpdir, ignore_errors=True)
    out["loadavg"]["end"] = os.getloadavg()
    return out


SWEEP = [(2, 1), (2, 2), (2, 4), (2, 8), (3, 4), (4, 4)]  # (workers, threads)


def sweep(ds, seconds: float, log) -> list:
    """Varied single checks (8 connections) under each (workers, threads) of ``SWEEP``."""
    from bench import table as http_table

    rows = []
    bodies = http_table.Bodies(ds, inproc.CASES, tempfile.mkdtemp())
    for workers, threads in SWEEP:
        env = {"WEB_CONCURRENCY": str(workers), "GUNICORN_THREADS": str(threads)}
        server = http_table.Served("app:create_app()", ds.url, ds.schema, env)
        try:
            http_table.warm(server, bodies, ds.api_key)
            got = http_table.wrk(server.base + "/v1/authorize", bodies.varied, seconds, ds.api_key)
        finally:
            server.stop()
        got.update({"workers": workers, "threads": threads})
        rows.append(got)
        log(
            f"    {workers} workers x {threads} threads: {got['rps']:8.0f}/s  "
            f"p50 {got['p50_ms']:.2f} ms  p99 {got['p99_ms']:.2f} ms"
        )
    return rows


def print_report(results: list, log) -> str:
    lines = []
    for res in results:
        b, s = res["backend"], res["size"]
        c = res["counts"]
        lines.append(
            f"\n## {s} data on {b}: {c['Membership']:,} memberships, "
            f"{c['Resource']:,} resources, {c['User']:,} users, "
            f"{c['Organization']:,} orgs, {c['Grant']:,} grants "
            f"(built in {res['build_seconds']:.1f} s)\n"
        )
        if "loadavg" in res:  # 1-minute load average: what else the 2 cores were doing
            lines.append(
                "Load average (1 min) on this machine during the run: "
                + ", ".join(f"{k} {v[0]:.2f}" for k, v in res["loadavg"].items())
                + f" ({os.cpu_count()} cores)\n"
            )
        lines.append("In-process, one thread, median of 3:\n")
        lines.append(inproc_table(res["inproc"]))
        agree = res["inproc"]["agreement"]
        lines.append(
            f"\nAgreement: {agree['checked']} checks, "
            f"{len(agree['disagreements'])} disagreements"
            + ("".join("\n  " + d for d in agree["disagreements"][:10]))
        )
        d = res["decision_log_inproc"]
        lines.append(
            f"Decision log in-process (10 folders deep, shared facts): off "
            f"{d['off_us']:.1f} µs, on {d['on_us']:.1f} µs "
            f"(×{d['on_per_s'] / d['off_per_s']:.2f} throughput)"
        )
        if "rss_inproc" in res:
            r = res["rss_inproc"]
            lines.append(
                f"RSS over {r['decisions']:,} decisions (log on, "
                f"{r['distinct_checks']:,} distinct checks, warmed first): "
                f"{r['rss_before_mb']:.1f} -> {r['rss_after_mb']:.1f} MB, "
                f"{r['growth_mb_per_million']:+.1f} MB per million "
                f"({r['us_per_decision']:.1f} µs per decision)"
            )
        if "depth" in res:
            lines.append(
                "\nCold decisions by depth (a chain of folders, a reader grant on every other "
                "one, the others owned; memos empty, every fact read):\n"
            )
            lines.append(
                table(
                    ["depth", "cold decision ms", "x depth 1", "answers right"],
                    [
                        [
                            r["depth"],
                            f"{r['ms']:.2f}",
                            f"{r['x_depth1']:.2f}",
                            "yes" if r["allowed_view"] and r["denied_upload"] else "NO",
                        ]
                        for r in res["depth"]["rows"]
                    ],
                )
            )
        http = res.get("http")
        if http and "rows" in http:
            lines.append(
                "\nHTTP (bench/table.py): gunicorn with gunicorn.conf.py (gthread, "
                f"{http.get('ratios', {}).get('workers', 2)} worker(s) x 4 "
                "threads) for every server, wrk 1 thread, 8 connections unless said, keep-alive, "
                f"median of {len(next(iter(http['runs'].values())))} rounds:\n"
            )
            rows = []
            for name, r in http["rows"].items():
                per = " batches" if "batch" in name else ""
                rows.append(
                    [name, f"{r['rps']:,.0f}{per}", f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}"]
                )
            lines.append(table(["server, run", "req/s", "p50 ms", "p99 ms"], rows))
            lines.append(f"Bare INSERT ... COMMIT, p50: {http['bare_commit_ms']:.2f} ms")
            w = http.get("writes_elsewhere") or {}
            if "no writes" in w:
                lines.append(
                    f"Checks in {w['checked_orgs']} orgs while role changes are written in "
                    f"{w['written_orgs']} others: "
                    + "; ".join(
                        f"{k}: {w[k]['rps']:,.0f}/s, p99 {w[k]['p99_ms']:.2f} ms, cache hit "
                        f"ratio {w[k]['hit_ratio']:.3f}"
                        for k in ("no writes", "50 writes/s")
                    )
                    + (
                        f"; ratio, median of {w['rounds']} round-robin pairs of "
                        f"{w['seconds_per_round']:.0f} s: {w['ratio']:.2f} (pairs "
                        f"{min(w['ratios']):.2f} to {max(w['ratios']):.2f})"
                        if "ratio" in w
                        else ""
                    )
                )
            st = http.get("staleness")
            if st:
                lines.append(
                    f"minimize_latency after a write, under load ({st['writes']} writes x 4 "
                    f"connections): staleness window p50 {st['p50_ms']:.2f} ms, p99 "
                    f"{st['p99_ms']:.2f} ms, max {st['max_ms']:.2f} ms; "
                    f"{st['probes_that_saw_stale']} of {st['probes']} probes saw a stale answer"
                )
        elif http:
            lines.append(f"\nHTTP: {http}")
        if "sweep" in res:
            lines.append("\ngunicorn settings, varied checks, 8 connections:\n")
            lines.append(
                table(
                    ["workers x threads", "req/s", "p50 ms", "p99 ms"],
                    [
                        [
                            f"{r['workers']} x {r['threads']}",
                            f"{r['rps']:,.0f}",
                            f"{r['p50_ms']:.2f}",
                            f"{r['p99_ms']:.2f}",
                        ]
                        for r in res["sweep"]
                    ],
                )
            )
        if "breadth" in res:
            b = res["breadth"]
            lines.append(
                f"\nList-resources, first page ({breadth.PAGE}), in process, memo warm, at "
                f"{b['sizes'][0]:,} and {b['sizes'][1]:,} resources (bench/breadth.py):\n"
            )
            lines.append(
                table(
                    [
                        "actor's grants",
                        f"ms at {b['sizes'][0]:,}",
                        f"ms at {b['sizes'][1]:,}",
                        "ratio",
                        "rows",
                    ],
                    [
                        [
                            r["actor"],
                            f"{r['small_ms']:.2f}",
                            f"{r['large_ms']:.2f}",
                            f"{r['ratio']:.2f}",
                            r["rows"],
                        ]
                        for r in b["rows"]
                    ],
                )
            )
        got = ratios.rows_of(res)
        if got:
            h = (http or {}).get("ratios") or {}
            load = h.get("loadavg") or {}
            lines.append(
                f"\nThe issue's table (bench/ratios.py): each row a ratio of two runs back to "
                f"back in each of {h.get('rounds', '?')} rounds, median [min–max] over the "
                "rounds"
                + (
                    f"; load average {load['start'][0]:.2f} at its start, {load['end'][0]:.2f} "
                    "at its end"
                    if load
                    else ""
                )
                + ":\n"
            )
            lines.append(table(["target", "goal", "median [min–max]", "met"], got))
    text = "\n".join(lines)
    log(text)
    return text


def targets(results: list) -> list:
    """The issue's targets, each a ratio of two figures of one run: (what, goal, measured,
    met). ``goal`` is a string such as ">= 0.8"."""
    out = []

    def add(what, op, goal, measured):
        ok = measured >= goal if op == ">=" else measured <= goal
        out.append((what, f"{op} {goal}", measured, ok))

    for res in results:
        where = f"[{res['size']} {res['backend']}] "
        rows = res["inproc"]["rows"]
        by = {(r["engine"], r["case"]): r for r in rows}
        cases = sorted({r["case"] for r in rows})
        per_case = [
            by[(inproc.REQUEST_PATH, c)]["us"] / by[(CEDAR, c)]["us"]
            for c in cases
            if (inproc.REQUEST_PATH, c) in by and (CEDAR, c) in by
        ]
        if per_case:
            add(
                where + "in process: whole request (memo hit) / cedarpy decision, worst case",
                "<=",
                0.5,
                max(per_case),
            )
        if "depth" in res:
            add(
                where + "cold decision at any accepted depth / at depth 1, worst",
                "<=",
                5.0,
                max(r["x_depth1"] for r in res["depth"]["rows"]),
            )
        http = res.get("http") or {}
        for name, row in ((http.get("ratios") or {}).get("targets") or {}).items():
            if row["goal"]:
                op, goal = row["goal"].split()
                add(where + name + " (median of rounds)", op, float(goal), row["ratio"]["median"])
            also = row.get("also") or {}
            if also.get("goal"):
                op, goal = also["goal"].split()
                add(where + name + ": p99 ratio", op, float(goal), also["median"])
        if http.get("rows"):
            w = http.get("writes_elsewhere") or {}
            if "no writes" in w:
                add(
                    where + "cache hit ratio, other orgs under 50 writes/s",
                    ">=",
                    0.95,
                    w["50 writes/s"]["hit_ratio"],
                )
                add(
                    where + "throughput under 50 writes/s elsewhere / none",
                    ">=",
                    0.9,
                    w.get("ratio", w["50 writes/s"]["rps"] / w["no writes"]["rps"]),
                )
        if "breadth" in res:
            add(
                where + "list-resources first page at 1,000,000 / at 10,000, worst actor",
                "<=",
                2.0,
                max(r["ratio"] for r in res["breadth"]["rows"]),
            )
        for name, row in ((res.get("teams") or {}).get("rows") or {}).items():
            if row["goal"]:  # bench/teams.py: the list ratio with teams present
                op, goal = row["goal"].split()
                add(where + name + " (median of rounds)", op, float(goal), row["ratio"]["median"])
        if "rss_inproc" in res:
            add(
                where + "RSS growth, MB per million decisions",
                "<=",
                10.0,
                res["rss_inproc"]["growth_mb_per_million"],
            )
    return out


def merged_figures(runs: list, pick) -> dict:
    """Guard ratios (bench/guard.py) per "size/backend" over several runs of the suite,
    ``pick`` (min/max) of each."""
    out = {}
    for results in runs:
        for res in results:
            key = f"{res['size']}/{res['backend']}"
            for name, got in (res.get("guard") or {}).items():
                out.setdefault(key, {}).setdefault(name, []).append(got["ratio"])
    return {k: {n: pick(v) for n, v in figs.items()} for k, figs in out.items()}


def check_baseline(runs: list, log) -> list:
    """Guard ratios above their tolerance (bench/guard.py ``check``), taking each ratio's
    best over ``runs`` (lists of results). Empty when none."""
    from bench import guard

    if not BASELINE.exists():
        return [f"{BASELINE} missing: run with --write-baseline"]
    base = json.loads(BASELINE.read_text())["figures"]
    best = merged_figures(runs, min)
    failures = []
    rows = []
    for res in runs[0]:
        where = f"{res['size']}/{res['backend']}"
        now = {k: {"ratio": v} for k, v in best.get(where, {}).items()}
        got_rows, got_failures = guard.check(now, base.get(where, {}))
        rows += got_rows
        failures += [f"[{where}] {f}" for f in got_failures]
    log(
        f"\nRegression guard (each a ratio of two costs timed round-robin in one run, lower "
        f"is better; fails above {guard.TOLERANCE} x its baseline, "
        + ", ".join(f"{k} {v} x" for k, v in guard.TOLERANCES.items())
        + "):\n"
    )
    log(table(["ratio", "baseline", "now", "now/baseline", "limit", ""], rows))
    return failures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(data.SIZES), default="large")
    parser.add_argument(
        "--backend",
        default="postgres,sqlite",
        help="comma-separated: postgres, sqlite (default both)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="in-process seconds per figure (3 runs); default 1.5 large, 0.6 small",
    )
    parser.add_argument(
        "--http-seconds",
        type=float,
        default=None,
        help="seconds per HTTP run; default 10 large, 3 small",
    )
    parser.add_argument(
        "--rss-decisions",
        type=int,
        default=None,
        help="decisions for the RSS check; default 1,000,000 (0 to skip)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="in-process only, no HTTP, no RSS (the CI guard)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="rounds of the HTTP table; default 3 large, 1 small",
    )
    parser.add_argument(
        "--breadth",
        default="10000,1000000",
        help="the two sizes of bench/breadth.py (PostgreSQL, not --quick)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="gunicorn workers per server in the HTTP table (default bench/table.py WORKERS)",
    )
    parser.add_argument("--sweep", action="store_true", help="also measure gunicorn settings")
    parser.add_argument(
        "--max-depth", type=int, default=10**6, help="deepest chain timed (default: every depth)"
    )
    parser.add_argument("--no-breadth", action="store_true", help="skip bench/breadth.py")
    parser.add_argument("--no-teams", action="store_true", help="skip bench/teams.py")
    parser.add_argument(
        "--teams",
        type=int,
        default=0,
        help="that many teams in bench-pix4d for the whole run (bench/data.py add_teams)",
    )
    parser.add_argument(
        "--write-baseline",
        action="store_true",
        help=f"write the guard figures of this run to {BASELINE.name}",
    )
    parser.add_argument(
        "--check-baseline",
        action="store_true",
        help="exit 1 if a guard ratio (bench/guard.py) is above its tolerance",
    )
    parser.add_argument("--json", default=None, help="default bench/results/<size>.json")
    args = parser.parse_args(argv)
    large = args.size == "large"
    if args.seconds is None:
        args.seconds = 1.5 if large else 0.6
    if args.http_seconds is None:
        args.http_seconds = 10 if large else 3
    if args.rss_decisions is None:
        args.rss_decisions = 0 if args.quick else 1_000_000
    if args.rounds is None:
        args.rounds = 3 if large else 1
    if args.workers is None:
        from bench.table import WORKERS

        args.workers = WORKERS
    args.breadth = [int(x) for x in args.breadth.split(",")]
    log = lambda *a: print(*a, flush=True)  # noqa: E731
    started = time.time()
    backends = [b.strip() for b in args.backend.split(",") if b.strip()]
    results = [run_backend(backend, args, log) for backend in backends]
    runs = [results]
    if args.write_baseline:  # the lower of two runs: a baseline the guard does not trip on noise
        runs.append([run_backend(backend, args, log) for backend in backends])
    report = print_report(results, log)
    met = targets(results)
    if met:
        log("\nTargets (each a ratio of two figures of this run):\n")
        report += "\n\nTargets (each a ratio of two figures of this run):\n\n" + table(
            ["target", "goal", "measured", "met"],
            [[w, g, f"{m:.2f}", "yes" if ok else "NO"] for w, g, m, ok in met],
        )
        log(
            table(
                ["target", "goal", "measured", "met"],
                [[w, g, f"{m:.2f}", "yes" if ok else "NO"] for w, g, m, ok in met],
            )
        )
    status = 0
    doc = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "args": vars(args),
        "results": results,
        "targets": [{"what": w, "goal": g, "measured": m, "met": ok} for w, g, m, ok in met],
        "seconds": time.time() - started,
        "report": report,
    }
    if args.write_baseline:
        figures = merged_figures(runs, max)
        BASELINE.write_text(
            json.dumps(
                {
                    "about": "Guard ratios (bench/guard.py): each the cost of one thing over "
                    "another's, timed round-robin in one process, the worse of two runs. make "
                    "bench-small fails when one is above TOLERANCE x this twice. Refresh: python "
                    "bench/run.py --size small --backend sqlite "
                    "--quick --write-baseline",
                    "when": doc["when"],
                    "machine": doc["machine"],
                    "figures": figures,
                },
                indent=2,
                sort_keys=True,
            )
            + "\n"
        )
        log(f"\nbaseline written to {BASELINE}")
    if args.check_baseline:
        failures = check_baseline(runs, log)
        if failures:  # figures are noisy: measure once more, keep each figure's best
            log("\nbelow half the baseline: measuring once more")
            runs.append([run_backend(backend, args, log) for backend in backends])
            failures = check_baseline(runs, log)
        doc["guard_failures"] = failures
        if failures:
            log("\nREGRESSION: " + "; ".join(failures))
            status = 1
    for res in results:
        if res["inproc"]["agreement"]["disagreements"]:
            log("\nENGINES DISAGREE: see above")
            status = 1
    path = Path(args.json) if args.json else HERE / "results" / f"{args.size}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    log(f"\nwritten: {path} ({time.time() - started:.0f} s)")
    return status


if __name__ == "__main__":
    sys.exit(main())
