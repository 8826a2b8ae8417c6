"""The issue's table (issue 24): every row a ratio of two runs timed back to back, round by
round, with its spread.

Each target compares run A with run B (``TARGETS``). In a round every target runs its two
runs back to back, A then B in even rounds and B then A in odd ones, so a drift in what else
the machine does falls on both sides alike; the round's ratio is A's figure over B's. A row
states the median of the rounds' ratios and their range, ``median [min–max]``, never a best
round, and the 1-minute load average when the table started and ended (the machine is
shared: absolute rates move with that load, a ratio of two runs a few seconds apart much
less).

A write is timed against a bare ``INSERT ... COMMIT`` on the same database (its p50, from
this process, just before and just after the write's run; the mean of the two is the
round's denominator, as the issue asks).

``markdown`` renders a run's table (bench/results/<size>.json) as the README's performance
table; ``python -m bench.table --markdown`` calls it.
"""

import os
import statistics
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    name: str  # the row's text
    a: str  # run of the numerator (a name of ``runs``)
    b: str  # run of the denominator, or BARE_COMMIT
    metric: str  # "rps" or "p50_ms" (the ratio is of this figure)
    op: str  # ">=" or "<="
    goal: float
    also: str | None = None  # a second figure shown (e.g. the p99 ratio)
    also_goal: float | None = None  # its goal (<=)


BARE_COMMIT = "bare INSERT ... COMMIT"
# The writes come last: each drops the cached facts of the organizations it touches, so a
# row right after them (in its round's first run only) would pay for reloading them
SINGLE = "orgauthz /v1/authorize, one check repeated"
SINGLE_INFO = "orgauthz /v1/authorize, one check repeated, LOG_LEVEL=INFO"
FLASK_SINGLE = "minimal Flask + dict, same check"
WSGI_SINGLE = "minimal WSGI callable + dict, same check"
VARIED = "orgauthz /v1/authorize, varied"
FLASK_VARIED = "minimal Flask + dict, varied checks"
ONE_SINGLE = "orgauthz /v1/authorize varied, 1 connection"
ONE_BATCH = "orgauthz batch of 100 varied, 1 connection"
FLASK_ONE_SINGLE = "minimal Flask + dict, varied checks, 1 connection"
FLASK_ONE_BATCH = "minimal Flask + dict, batch of 100 varied, 1 connection"
CONSISTENT = "orgauthz /v1/authorize varied, fully_consistent"
FLOOR_READ = "minimal Flask + dict, varied checks, one primary-key read per check"
FLOOR_WRITE = "minimal Flask, one INSERT ... COMMIT per POST, 1 connection"

TARGETS = [
    Target(
        "floor: bare WSGI callable / minimal Flask + dict, same check, req/s",
        "bare WSGI callable /healthz",
        FLASK_SINGLE,
        "rps",
        ">=",
        0.0,  # no goal: what a server without any framework can do here
    ),
    Target(  # the dict app's check and lookup without Flask: what the framework costs
        "floor: minimal WSGI callable + dict / minimal Flask + dict, same check, req/s",
        WSGI_SINGLE,
        FLASK_SINGLE,
        "rps",
        ">=",
        0.0,
    ),
    Target(
        "same single check / minimal Flask + dict, req/s (p99 beside)",
        SINGLE,
        FLASK_SINGLE,
        "rps",
        ">=",
        1.2,
        also="p99_ms",
        also_goal=1.0,
    ),
    Target(  # what our key, rate limit, log, metrics and ids cost beside the floor's lookup
        "same single check / minimal WSGI callable + dict, req/s",
        SINGLE,
        WSGI_SINGLE,
        "rps",
        ">=",
        0.0,
    ),
    Target(
        "same single check at LOG_LEVEL=INFO / at WARNING, req/s",
        SINGLE_INFO,
        SINGLE,
        "rps",
        ">=",
        0.95,
        also="p99_ms",
    ),
    Target(
        "varied checks / minimal Flask + dict of the same data, req/s",
        VARIED,
        FLASK_VARIED,
        "rps",
        ">=",
        0.8,
        also="p99_ms",
    ),
    Target(  # the same batch on the dict app: what a Python server's batch costs before ours
        "floor: minimal Flask + dict, batch of 100 / one check, p50, 1 connection",
        FLASK_ONE_BATCH,
        FLASK_ONE_SINGLE,
        "p50_ms",
        "<=",
        0.0,
    ),
    Target("batch of 100 / one check, p50, 1 connection", ONE_BATCH, ONE_SINGLE, "p50_ms", "<=", 2),
    Target(  # what asking the primary once per check costs a server that does nothing else
        "floor: minimal Flask + dict with one primary-key read per check / without, varied, req/s",
        FLOOR_READ,
        FLASK_VARIED,
        "rps",
        ">=",
        0.0,
    ),
    Target(
        "varied checks fully_consistent / default, req/s (p99 beside)",
        CONSISTENT,
        VARIED,
        "rps",
        ">=",
        0.8,
        also="p99_ms",
    ),
    Target(
        "same check: orgauthz / minimal Flask + casbin, req/s",
        SINGLE,
        "minimal Flask + casbin, same check",
        "rps",
        ">=",
        1.0,
    ),
    Target(
        "same check: orgauthz / minimal Flask + cedarpy, req/s",
        SINGLE,
        "minimal Flask + cedarpy, same check",
        "rps",
        ">=",
        1.0,
    ),
    Target(
        "same check: orgauthz / minimal Flask + raw oso, req/s",
        SINGLE,
        "minimal Flask + raw oso 0.27.3, same check",
        "rps",
        ">=",
        1.0,
    ),
    Target(
        "/healthz: orgauthz / minimal Flask, req/s",
        "orgauthz /healthz",
        "minimal Flask /healthz",
        "rps",
        ">=",
        0.9,
    ),
    Target(
        "floor: minimal Flask, one INSERT ... COMMIT per POST / bare INSERT ... COMMIT, p50, "
        "1 connection",
        FLOOR_WRITE,
        BARE_COMMIT,
        "p50_ms",
        "<=",
        0.0,  # no goal: what any write over HTTP pays before it does anything
    ),
    Target(
        "invite one user / bare INSERT ... COMMIT, p50, 1 connection",
        "orgauthz invite one user, 1 connection",
        BARE_COMMIT,
        "p50_ms",
        "<=",
        2,
    ),
    Target(
        "change a role / bare INSERT ... COMMIT, p50, 1 connection",
        "orgauthz change a role, 1 connection",
        BARE_COMMIT,
        "p50_ms",
        "<=",
        2,
    ),
    Target(
        "grant on a resource / bare INSERT ... COMMIT, p50, 1 connection",
        "orgauthz grant on a resource, 1 connection",
        BARE_COMMIT,
        "p50_ms",
        "<=",
        2,
    ),
]


def spread(values: list) -> dict:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "rounds": values,
    }


def run(runs: dict, wrk, bare_commit, seconds: float, rounds: int, log=print, warm=None) -> dict:
    """Every target of ``TARGETS`` whose runs exist, ``rounds`` times over.

    ``runs``: {name: (url, arg, connections, script)}; ``wrk(url, arg, seconds,
    connections, script)`` times one run; ``bare_commit()`` is one bare commit's p50 (ms);
    ``warm()``, when given, loads the facts the writes of the round before dropped (called
    before every round but the first).
    Returns {"targets": {name: {...}}, "runs": {name: [figures]}, "loadavg": {...}}."""
    targets = [t for t in TARGETS if t.a in runs and (t.b in runs or t.b == BARE_COMMIT)]
    figures: dict = {}
    ratios: dict = {t.name: {"ratio": [], "also": []} for t in targets}
    load = {"start": os.getloadavg()}
    started = time.time()

    def timed(name):
        if name == BARE_COMMIT:
            got = {"p50_ms": bare_commit()}
        else:
            url, arg, conns, script = runs[name]
            got = wrk(url, arg, seconds, conns, script)
        figures.setdefault(name, []).append(got)
        return got

    for r in range(rounds):
        if r and warm is not None:
            warm()
        log(f"  ratio round {r + 1} of {rounds} (load average {os.getloadavg()[0]:.2f})")
        for t in targets:
            if t.b == BARE_COMMIT:  # the commit's p50 just before and just after the write
                before = timed(BARE_COMMIT)
                a = timed(t.a)
                after = timed(BARE_COMMIT)
                b = {"p50_ms": (before["p50_ms"] + after["p50_ms"]) / 2}
            elif r % 2 == 0:
                a, b = timed(t.a), timed(t.b)
            else:
                b, a = timed(t.b), timed(t.a)
            ratio = a[t.metric] / b[t.metric] if b[t.metric] else float("inf")
            ratios[t.name]["ratio"].append(ratio)
            if t.also:
                ratios[t.name]["also"].append(a[t.also] / max(b[t.also], 1e-9))
            log(
                f"    {t.name:66} {ratio:6.2f}"
                + (f"  ({t.also} {ratios[t.name]['also'][-1]:.2f})" if t.also else "")
                + f"  [{_brief(a, t.metric)} / {_brief(b, t.metric)}]"
            )
    load["end"] = os.getloadavg()
    out = {}
    for t in targets:
        got = ratios[t.name]
        row = {
            "a": t.a,
            "b": t.b,
            "metric": t.metric,
            "goal": f"{t.op} {t.goal:g}" if t.goal else "",
            "ratio": spread(got["ratio"]),
        }
        if t.also:
            row["also"] = {"metric": t.also, **spread(got["also"])}
            if t.also_goal is not None:
                row["also"]["goal"] = f"<= {t.also_goal:g}"
        med = row["ratio"]["median"]
        row["met"] = (
            None
            if not t.goal
            else (med >= t.goal if t.op == ">=" else med <= t.goal)
            and (t.also_goal is None or row["also"]["median"] <= t.also_goal)
        )
        out[t.name] = row
    return {
        "targets": out,
        "runs": figures,
        "rounds": rounds,
        "seconds_per_run": seconds,
        "loadavg": load,
        "seconds": time.time() - started,
    }


def _brief(got: dict, metric: str) -> str:
    if metric == "rps":
        return f"{got['rps']:,.0f}/s"
    return f"{got[metric]:.2f} ms"


def fmt(s: dict, digits: int = 2) -> str:
    """``median [min–max]`` of a spread."""
    return f"{s['median']:.{digits}f} [{s['min']:.{digits}f}–{s['max']:.{digits}f}]"


def rows_of(result: dict) -> list:
    """[(target, goal, measured, met)] of one backend's results (bench/run.py's), the HTTP
    ratios and the in-process ones (depth, breadth) alike."""
    rows = []
    http = (result.get("http") or {}).get("ratios") or {}
    for name, row in (http.get("targets") or {}).items():
        measured = fmt(row["ratio"])
        goal = row["goal"]
        if "also" in row:
            measured += f"; p99 {fmt(row['also'])}"
            if row["also"].get("goal"):
                goal += f", p99 {row['also']['goal']}"
        met = "—" if row["met"] is None else ("yes" if row["met"] else "**no**")
        rows.append((name, goal or "—", measured, met))
    d = result.get("depth_pair")
    if d:
        rows.append(
            (
                "cold decision at depth 200 / depth 1 (in process, round-robin)",
                "<= 5",
                f"{d['median']:.2f} [{d['min']:.2f}–{d['max']:.2f}]",
                "yes" if d["median"] <= 5 else "**no**",
            )
        )
    b = result.get("breadth")
    if b:
        r = [x["ratio"] for x in b["rows"]]
        rows.append(
            (
                f"list-resources first page (50) at {b['sizes'][1]:,} / at {b['sizes'][0]:,} "
                "resources: 6 actors, each the median of its rounds [lowest–highest actor]",
                "<= 2",
                f"{statistics.median(r):.2f} [{min(r):.2f}–{max(r):.2f}]",
                "yes" if max(r) <= 2 else "**no**",
            )
        )
    if result.get("teams"):  # bench/teams.py: the same sizes with 1,000 teams, and plain
        from bench import teams

        rows += teams.table_rows(result["teams"])
    return rows


def markdown(doc: dict) -> str:
    """The README's performance table from a bench/results/<size>.json document."""
    out = []
    for res in doc["results"]:
        rows = rows_of(res)
        if not rows:
            continue
        c = res["counts"]
        http = (res.get("http") or {}).get("ratios") or {}
        load = http.get("loadavg") or {}
        out.append(
            f"`make bench` ({doc['when']}), {c['Membership']:,} memberships on {res['backend']}, "
            f"{doc['machine']['cpus']} cores shared with other work: "
            f"{http.get('workers', 2)} gunicorn gthread worker(s) x 4 threads per server, "
            "wrk 1 thread, 8 connections unless said, "
            f"{http.get('seconds_per_run', 0):.0f} s per run, {http.get('rounds', 0)} rounds, "
            f"each row's two runs back to back (A B, then B A). Load average (1 min) "
            + (
                f"{load['start'][0]:.2f} at the start of the table, {load['end'][0]:.2f} at "
                "its end. "
                if load
                else "not recorded. "
            )
            + "Each figure is the median of the rounds' ratios [lowest–highest round]:\n"
        )
        out.append("| target | goal | median [min–max] | met |")
        out.append("|---|---|---|:---:|")
        out += [f"| {w} | {g} | {m} | {ok} |" for w, g, m, ok in rows]
        out.append("")
    return "\n".join(out)


START = "<!-- make bench: ratio table (python -m bench.table --markdown); do not edit by hand -->"
END = "<!-- end of the make bench table -->"


def splice(text: str, table: str) -> str:
    """``text`` with the part between ``START`` and ``END`` replaced by ``table``."""
    head, sep, rest = text.partition(START)
    if not sep:
        raise ValueError("no table marker in the file")
    _, sep, tail = rest.partition(END)
    if not sep:
        raise ValueError("no end marker in the file")
    return f"{head}{START}\n{table.rstrip()}\n{END}{tail}"
