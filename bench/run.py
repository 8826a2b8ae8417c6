"""The benchmark suite: one command, one table, one JSON file.

    python bench/run.py                         # large data, PostgreSQL then SQLite (make bench)
    python bench/run.py --size small --quick    # CI guard against bench/baseline.json
                                                #   (make bench-small)
    python bench/run.py --size small --quick --write-baseline   # refresh the baseline

For each backend: build the data set (bench/data.py) in a fresh PostgreSQL schema or SQLite
file, time the in-process decisions of every engine on the same cases (bench/inproc.py,
bench/engines.py), check they all agree, measure the decision log's cost and the RSS over
a million decisions, then HTTP through gunicorn and wrk (bench/httpload.py); drop the data.
Writes bench/results/<size>.json. The TARGETS are checked on the large PostgreSQL run.
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
from bench import data, inproc  # noqa: E402
from models import db  # noqa: E402

BASELINE = HERE / "baseline.json"
PROJECT = "project: decide, shared facts"
TARGETS = {  # the performance targets, on the large data set on PostgreSQL, a 2-core machine
    "http_single_rps": 3000,
    "http_single_p99_ms": 5.0,
    "http_batch100_p99_ms": 5.0,
    "inproc_us": 50.0,
    "rss_mb_per_million": 10.0,
}


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


def guard_figures(result: dict) -> dict:
    """What the CI guard compares: each project variant's rate as a fraction of the plain-dict
    floor on the same case, in the same run (machines differ; ratios travel)."""
    figures = {}
    for r in result["rows"]:
        if r["engine"].startswith("project") or r["engine"].startswith("raw oso"):
            figures[f"{r['engine']} | {r['case']}"] = r["of_floor"]
    return figures


def run_backend(backend: str, args, log) -> dict:
    tmpdir = tempfile.mkdtemp(prefix="orgauthz-bench-")
    url = data.default_url(backend, tmpdir)
    ds = data.build(url, args.size, log=log)
    out = {"backend": backend, "size": args.size, "build_seconds": ds.seconds, "counts": ds.counts}
    try:
        policy = PolicySet(POLICY_DIR)
        with db.connection_context():
            log(f"[{backend}] in-process, {args.seconds:.1f} s per figure (median of 3)")
            out["inproc"] = inproc.run(policy, args.seconds, log=log)
            dlog = os.path.join(tmpdir, "decisions.log")
            out["decision_log_inproc"] = inproc.decision_log_cost(policy, args.seconds, dlog)
            if args.rss_decisions:
                log(f"[{backend}] RSS over {args.rss_decisions:,} decisions")
                out["rss_inproc"] = inproc.rss_growth(policy, ds.sample, args.rss_decisions, dlog)
        if not args.quick:
            from bench import httpload as http

            log(f"[{backend}] HTTP, {args.http_seconds:.0f} s per run")
            out["http"] = http.run(
                url, ds.schema, ds.api_key, ds.sample, inproc.CASES, args.http_seconds, log=log
            )
    finally:
        data.drop(ds)
        shutil.rmtree(tmpdir, ignore_errors=True)
    return out


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
        http = res.get("http")
        if http and "rows" in http:
            lines.append(
                "\nHTTP, gunicorn (Procfile settings: gthread, 2 workers x 4 threads) "
                "and wrk (1 thread, 16 connections, keep-alive) on 127.0.0.1:\n"
            )
            rows = []
            for r in http["rows"]:
                rows.append(
                    [
                        r["run"],
                        r["decision_log"],
                        f"{r['rps']:,.0f}",
                        f"{r['decisions_per_s']:,.0f}" if "healthz" not in r["run"] else "",
                        f"{r['p50_ms']:.2f}",
                        f"{r['p99_ms']:.2f}",
                        f"{r['p999_ms']:.2f}",
                        r["errors"],
                    ]
                )
            lines.append(
                table(
                    [
                        "run",
                        "decision log",
                        "req/s",
                        "decisions/s",
                        "p50 ms",
                        "p99 ms",
                        "p99.9 ms",
                        "errors",
                    ],
                    rows,
                )
            )
            rss = http.get("rss") or {}
            if rss:
                growth = ", ".join(
                    f"{rss['before_mb'][p]:.0f} -> {rss['after_mb'].get(p, 0):.0f}"
                    for p in rss["before_mb"]
                )
                lines.append(
                    f"Worker RSS (MB) across the HTTP runs "
                    f"({rss['decisions_all_workers']:,} decisions in all): {growth}"
                )
        elif http:
            lines.append(f"\nHTTP: {http}")
    text = "\n".join(lines)
    log(text)
    return text


def targets(results: list) -> list:
    """Issue 6's targets on the large PostgreSQL run: (what, target, measured, met)."""
    out = []
    for res in results:
        if res["size"] != "large" or res["backend"] != "postgres":
            continue
        rows = res["inproc"]["rows"]
        worst = max(r["us"] for r in rows if r["engine"] == PROJECT)
        out.append(
            (
                "in-process check, shared facts (worst case) µs",
                TARGETS["inproc_us"],
                worst,
                worst <= TARGETS["inproc_us"],
            )
        )
        synced = max(r["us"] for r in rows if r["engine"] == "project: decide + CACHE.sync()")
        out.append(
            (
                "in-process check + CACHE.sync() (worst case) µs",
                TARGETS["inproc_us"],
                synced,
                synced <= TARGETS["inproc_us"],
            )
        )
        if "rss_inproc" in res:
            g = res["rss_inproc"]["growth_mb_per_million"]
            out.append(
                (
                    "RSS growth MB per million decisions",
                    TARGETS["rss_mb_per_million"],
                    g,
                    g < TARGETS["rss_mb_per_million"],
                )
            )
        for r in (res.get("http") or {}).get("rows", []):
            if r["decision_log"] != "on":
                continue
            if r["run"].startswith("authorize"):
                out.append(
                    (
                        f"HTTP {r['run']} req/s",
                        TARGETS["http_single_rps"],
                        r["rps"],
                        r["rps"] >= TARGETS["http_single_rps"],
                    )
                )
                out.append(
                    (
                        f"HTTP {r['run']} p99 ms",
                        TARGETS["http_single_p99_ms"],
                        r["p99_ms"],
                        r["p99_ms"] <= TARGETS["http_single_p99_ms"],
                    )
                )
            if r["run"].startswith("batch"):
                out.append(
                    (
                        f"HTTP {r['run']} p99 ms",
                        TARGETS["http_batch100_p99_ms"],
                        r["p99_ms"],
                        r["p99_ms"] <= TARGETS["http_batch100_p99_ms"],
                    )
                )
                out.append(
                    (
                        f"HTTP {r['run']} p50 ms",
                        TARGETS["http_batch100_p99_ms"],
                        r["p50_ms"],
                        r["p50_ms"] <= TARGETS["http_batch100_p99_ms"],
                    )
                )
    return out


def merged_figures(runs: list, pick) -> dict:
    """Guard figures per "size/backend" over several runs of the suite, ``pick`` (min/max) of
    each figure."""
    out = {}
    for results in runs:
        for res in results:
            key = f"{res['size']}/{res['backend']}"
            for name, value in guard_figures(res["inproc"]).items():
                out.setdefault(key, {}).setdefault(name, []).append(value)
    return {k: {n: pick(v) for n, v in figs.items()} for k, figs in out.items()}


def check_baseline(runs: list, log) -> list:
    """Figures below half their committed baseline, taking each figure's best over ``runs``
    (lists of results). Empty when none."""
    if not BASELINE.exists():
        return [f"{BASELINE} missing: run with --write-baseline"]
    base = json.loads(BASELINE.read_text())["figures"]
    best = merged_figures(runs, max)
    failures = []
    rows = []
    for res in runs[0]:
        now = best.get(f"{res['size']}/{res['backend']}", {})
        for key, was in base.get(f"{res['size']}/{res['backend']}", {}).items():
            got = now.get(key)
            ok = got is not None and got >= was / 2
            rows.append(
                [
                    key,
                    f"{was:.4f}",
                    f"{got:.4f}" if got is not None else "missing",
                    f"{(got or 0) / was:.2f}",
                    "ok" if ok else "FAIL",
                ]
            )
            if not ok:
                failures.append(f"{key}: {got} < half of baseline {was}")
    log(
        "\nRegression guard (rate as a fraction of the plain-dict floor, same run; fails "
        "below half the baseline):\n"
    )
    log(table(["figure", "baseline", "now", "now/baseline", ""], rows))
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
        "--write-baseline",
        action="store_true",
        help=f"write the guard figures of this run to {BASELINE.name}",
    )
    parser.add_argument(
        "--check-baseline",
        action="store_true",
        help="exit 1 if a guard figure is below half its baseline",
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
        log("\nTargets (large data on PostgreSQL):\n")
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
        figures = merged_figures(runs, min)
        BASELINE.write_text(
            json.dumps(
                {
                    "about": "Guard figures: each project variant's decisions/s as a fraction "
                    "of the plain-dict floor on the same case in the same run, the lower of two "
                    "runs. make bench-small fails when one falls below half of this twice. "
                    "Refresh: python bench/run.py --size small --backend sqlite --quick "
                    "--write-baseline",
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
