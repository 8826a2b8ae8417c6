"""Past one machine, from measurements: varied checks and writes at two data sizes, side by
side (issue 24, for docs/capacity.md).

    python bench/scale.py                           # 1,000,000 and 10,000,000 memberships
    python bench/scale.py --sizes small,large --seconds 2    # a quick look

Both data sets are built on PostgreSQL (bench/data.py, each in a schema of its own), one
orgauthz node is started on each (gunicorn.conf.py: 2 gthread workers x 4 threads), and
every round runs each figure on both, back to back (smaller first in even rounds, larger
first in odd ones), so each figure has a ratio larger / smaller per round:

- the varied checks of the data set's sample (5,000 checks, every fact cached once warm),
  wrk 8 connections: req/s and p99;
- random view checks over the whole population (``--wide``, default 200,000 checks: a
  member of a random membership on a resource of that org, a fifth on the org itself;
  mostly cache misses at first, then as many as each worker's fact cache keeps), 8
  connections: req/s and p99;
- an invite, a role change and a grant, one connection: p50, each beside a bare
  ``INSERT ... COMMIT`` on the same database timed just before and after it.

Also: build time, the tables' size on disk, and each worker's RSS at the end. The result goes
to bench/results/scale.json and is printed; docs/capacity.md is built from it.
"""

import argparse
import datetime
import json
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench import data, inproc, ratios  # noqa: E402
from bench import table as http  # noqa: E402

RUNS = [  # (figure, bodies attribute, connections, script, metric)
    ("varied checks, sample, 8 connections", "varied", 8, "wrk.lua", "rps"),
    ("random view checks, whole population, 8 connections", "wide", 8, "wrk.lua", "rps"),
    ("invite one user, 1 connection", "invites", 1, "wrk_calls.lua", "p50_ms"),
    ("change a role, 1 connection", "role_changes", 1, "wrk_calls.lua", "p50_ms"),
    ("grant on a resource, 1 connection", "grants", 1, "wrk_calls.lua", "p50_ms"),
]


def wide_checks(n: int, seed: int = 17) -> list:
    """``n`` view checks over the whole population of the bound data set."""
    from models import db

    rnd = random.Random(seed)
    with db.connection_context():
        by_org: dict = {}
        for org, type_, rid in db.execute_sql('SELECT org_id, type, rid FROM "resource"'):
            by_org.setdefault(org, []).append((type_, rid))
        rows = db.execute_sql(
            'SELECT user_id, org_id FROM "membership" TABLESAMPLE SYSTEM (%s) LIMIT %s',
            (min(100.0, 100.0 * 3 * n / max(1, _count("membership"))), n),
        ).fetchall()
    rnd.shuffle(rows)
    checks = []
    for user, org in rows[:n]:
        pool = by_org.get(org)
        type_, rid = rnd.choice(pool) if pool and rnd.random() < 0.8 else ("Organization", org)
        checks.append(
            {"actor": {"id": user}, "action": "view", "resource": {"type": type_, "id": rid}}
        )
    return checks


def _count(table: str) -> int:
    from models import db

    return db.execute_sql(
        "SELECT reltuples::bigint FROM pg_class WHERE relname = %s", (table,)
    ).fetchone()[0]


def disk_mb(schema: str) -> float:
    from models import db

    with db.connection_context():
        got = db.execute_sql(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN "
            "pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
            (schema,),
        ).fetchone()[0]
    return float(got) / 1e6


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="large,xlarge")
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--wide", type=int, default=200_000)
    parser.add_argument("--json", default=str(HERE / "results" / "scale.json"))
    args = parser.parse_args(argv)
    log = lambda *a: print(*a, flush=True)  # noqa: E731
    sizes = args.sizes.split(",")
    url = data.default_url("postgres", "")
    tmp = tempfile.mkdtemp(prefix="orgauthz-scale-")
    built, servers, bodies, out = {}, {}, {}, {"sizes": {}, "when": None}
    out["when"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    out["loadavg"] = {"start": os.getloadavg()}
    try:
        for size in sizes:
            ds = built[size] = data.build(url, size, log=log)
            os.makedirs(os.path.join(tmp, size))
            b = bodies[size] = http.Bodies(ds, inproc.CASES, os.path.join(tmp, size))
            b.wide = b._write("wide", wide_checks(args.wide))
            out["sizes"][size] = {
                "counts": ds.counts,
                "build_seconds": ds.seconds,
                "disk_mb": disk_mb(ds.schema),
            }
            log(f"  {size}: {ds.counts}, {out['sizes'][size]['disk_mb']:,.0f} MB on disk")
        for size in sizes:
            servers[size] = http.Served("app:create_app()", url, built[size].schema)
            http.warm(servers[size], bodies[size], built[size].api_key)
            http.wrk(
                servers[size].base + "/v1/authorize", bodies[size].wide, 2, built[size].api_key
            )
        out["figures"] = run_rounds(sizes, built, servers, bodies, args, log)
        for size in sizes:
            out["sizes"][size]["rss_mb"] = [round(http._rss(p), 1) for p in servers[size].workers()]
    finally:
        for s in servers.values():
            s.stop()
        for ds in built.values():
            data.connect(ds.url, ds.schema)
            data.drop(ds)
        shutil.rmtree(tmp, ignore_errors=True)
    out["loadavg"]["end"] = os.getloadavg()
    report(out, sizes, log)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(out, indent=2, default=str) + "\n")
    log(f"written: {args.json}")
    return 0


def run_rounds(sizes, built, servers, bodies, args, log) -> dict:
    """Every figure on every size, round by round (the order of the sizes alternating)."""
    figures: dict = {name: {s: [] for s in sizes} for name, *_ in RUNS}
    commits: dict = {s: [] for s in sizes}
    for r in range(args.rounds):
        log(f"  round {r + 1} of {args.rounds} (load average {os.getloadavg()[0]:.2f})")
        for name, attr, conns, script, metric in RUNS:
            for size in sizes if r % 2 == 0 else sizes[::-1]:
                ds, server = built[size], servers[size]
                target = server.base + ("/v1/authorize" if script == "wrk.lua" else "")
                if metric == "p50_ms":
                    before = http.bare_commit_ms(ds.url, ds.schema, 200)
                got = http.wrk(
                    target, getattr(bodies[size], attr), args.seconds, ds.api_key, conns, script
                )
                if metric == "p50_ms":
                    after = http.bare_commit_ms(ds.url, ds.schema, 200)
                    got["commit_ms"] = (before + after) / 2
                    got["x_commit"] = got["p50_ms"] / got["commit_ms"]
                    commits[size].append(got["commit_ms"])
                figures[name][size].append(got)
                log(
                    f"    {size:7} {name:52} {got['rps']:8.0f}/s  p50 {got['p50_ms']:6.2f}  "
                    f"p99 {got['p99_ms']:7.2f} ms  errors {got['errors']}"
                    + (f"  x commit {got['x_commit']:.2f}" if "x_commit" in got else "")
                )
    return figures


def report(out: dict, sizes: list, log) -> None:
    small, large = sizes[0], sizes[-1]
    cs, cl = (out["sizes"][s]["counts"]["Membership"] for s in (small, large))
    log(
        f"\nScale (bench/scale.py): {cs:,} and {cl:,} memberships on PostgreSQL, one node each "
        f"(2 workers x 4 threads), {len(out['figures'][RUNS[0][0]][small])} rounds; load "
        f"average {out['loadavg']['start'][0]:.2f} at the start, {out['loadavg']['end'][0]:.2f} "
        "at the end; median [min–max] over the rounds:\n"
    )
    rows = []
    for name, _attr, _c, _s, metric in RUNS:
        per = out["figures"][name]
        cells = [name, metric.replace("_ms", " ms")]
        for s in sizes:
            cells.append(
                ratios.fmt(ratios.spread([g[metric] for g in per[s]]), 1 if metric == "rps" else 2)
            )
            if metric == "p50_ms":
                cells[-1] += (
                    f" (x commit {ratios.fmt(ratios.spread([g['x_commit'] for g in per[s]]))})"
                )
        cells.append(
            ratios.fmt(
                ratios.spread([a[metric] / b[metric] for a, b in zip(per[large], per[small])])
            )
        )
        rows.append(cells)
    from bench.run import table

    log(table(["figure", "of", *sizes, f"{large} / {small}"], rows))
    for s in sizes:
        z = out["sizes"][s]
        log(
            f"{s}: built in {z['build_seconds']:.0f} s, {z['disk_mb']:,.0f} MB of tables and "
            f"indexes, worker RSS at the end {z.get('rss_mb')} MB"
        )


if __name__ == "__main__":
    sys.exit(main())
