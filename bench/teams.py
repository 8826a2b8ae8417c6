"""Teams and expiring access beside the plain data (issue 27): list-resources, list-actors
and varied decisions with 1,000 teams present, as ratios timed round-robin.

Four organizations built like bench/breadth.py's, each in a schema (or SQLite file) of its
own: at the small and at the large size, plain and with ``data.TEAMS`` teams
(bench/data.py ``add_teams``: three new members each, a grant on a folder each, some team
grants, places in teams and members' own grants expiring a year ahead, a tenth of the teams
holding the org role ``member``). Both hold the actor ``team``; with teams it sees 5% of the
datasets through a team (an expiring grant), plain it sees nothing.

In each round the four are measured in turn, in the opposite order in odd rounds, so a drift
of the shared machine falls on all alike:

* list-resources: the first page (100, memo warm) for each of the seven actors, the median
  of ``runs``; the organization's figure for the round is their sum (one first page each);
* list-actors: the first page (100) of who may view one dataset, the median of ``runs``;
* varied decisions: ``CHECKS`` (actor, view, dataset) drawn once, the same at every
  organization of a size, each decided by ``access.decisions.decide`` with its facts read
  from the database (a fresh ``TargetBuilder``, as a check the cache does not hold): the
  figure is the mean per check.

Each row is the median of the rounds' ratios and their range (``ROWS``).

    python -m bench.teams [--sizes 10000,1000000] [--backend postgres] [--rounds 3]
                          [--write bench/README.md]

writes bench/results/teams.json, and with ``--write`` the README's part between
``START`` and ``END`` (generated, never typed).
"""

import argparse
import datetime
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if __name__ == "__main__":  # the project root first, not bench/
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
    sys.path.insert(0, str(HERE.parent))

from bench import breadth, data, ratios  # noqa: E402

ACTORS = breadth.ACTORS + ("team",)
CHECKS = 300
START = "<!-- teams bench: python -m bench.teams --write bench/README.md; do not edit by hand -->"
END = "<!-- end of the teams bench -->"


def _rows(sizes) -> list:
    """(row text, run A, run B, figure, goal or None); a run is (size, teams)."""
    small, large = sizes
    t = data.TEAMS
    return [
        (
            f"list-resources first page at {large:,} / at {small:,} resources, "
            f"both with {t:,} teams (7 actors)",
            (large, t),
            (small, t),
            "list_ms",
            2.0,
        ),
        (
            f"list-resources first page with {t:,} teams / without, at {small:,}",
            (small, t),
            (small, 0),
            "list_ms",
            None,
        ),
        (
            f"list-resources first page with {t:,} teams / without, at {large:,}",
            (large, t),
            (large, 0),
            "list_ms",
            None,
        ),
        (
            f"list-actors first page (who may view a dataset) with {t:,} teams / without, "
            f"at {large:,}",
            (large, t),
            (large, 0),
            "actors_ms",
            None,
        ),
        (
            f"varied decisions, facts read from the database, with {t:,} teams and expiring "
            f"grants / plain, at {large:,} (in process)",
            (large, t),
            (large, 0),
            "decide_ms",
            None,
        ),
    ]


def measure(policy, size: int, runs: int, checks: list, dataset: str) -> dict:
    """One organization's figures (ms), on the schema ``connect`` bound."""
    from access import listing
    from access.decisions import decide
    from access.targets import TargetBuilder
    from models import db

    pages = breadth.first_pages(policy, runs, ACTORS)
    out = {
        "list_ms": sum(sorted(p["ms"])[len(p["ms"]) // 2] for p in pages.values()) * 1000,
        "per_actor_ms": {a: sorted(p["ms"])[len(p["ms"]) // 2] * 1000 for a, p in pages.items()},
        "rows": {a: p["rows"] for a, p in pages.items()},
    }
    with db.connection_context():
        facts = TargetBuilder()
        target = facts.find("Dataset", dataset)
        got = listing.list_actors(policy, facts, "view", target, 100, None)
        out["actors_rows"] = len(got["items"])
        times = []
        for _ in range(runs):
            facts = TargetBuilder()
            started = time.perf_counter()
            listing.list_actors(policy, facts, "view", facts.find("Dataset", dataset), 100, None)
            times.append(time.perf_counter() - started)
        out["actors_ms"] = sorted(times)[len(times) // 2] * 1000
        allowed = 0
        started = time.perf_counter()
        for actor, rid in checks:
            facts = TargetBuilder()
            allowed += decide(policy, facts, actor, "view", facts.find("Dataset", rid)).allowed
        out["decide_ms"] = (time.perf_counter() - started) * 1000 / len(checks)
        out["allowed"] = allowed
    return out


def run(url: str, policy, sizes=breadth.SIZES, rounds: int = 3, runs: int = 9, log=print):
    """Build the four organizations, measure them round-robin, drop them."""
    from models import Resource, db

    builds = [(s, t) for s in sizes for t in (0, data.TEAMS)]
    built: dict = {}
    figures: dict = {b: [] for b in builds}
    load = {"start": os.getloadavg()}
    started = time.time()
    try:
        for size, teams in builds:
            built[(size, teams)] = breadth.build(url, size, log, teams=teams)
            log(f"    {teams:,} teams: {built[(size, teams)].counts}")
        checks: dict = {}
        for size in sizes:  # the same checks and dataset at both organizations of a size
            ds = built[(size, 0)]
            data.connect(ds.url, ds.schema)
            with db.connection_context():
                rids = [
                    r.rid
                    for r in Resource.select(Resource.rid)
                    .where(Resource.type == "Dataset")
                    .order_by(Resource.id)
                    .limit(5000)
                ]
            rnd = random.Random(size)
            checks[size] = [(rnd.choice(ACTORS), rnd.choice(rids)) for _ in range(CHECKS)]
        load["after build"] = os.getloadavg()
        for r in range(rounds):
            log(f"  teams round {r + 1} of {rounds} (load average {os.getloadavg()[0]:.2f})")
            for b in builds if r % 2 == 0 else builds[::-1]:
                data.connect(built[b].url, built[b].schema)
                got = measure(policy, b[0], runs, checks[b[0]], checks[b[0]][0][1])
                figures[b].append(got)
                log(
                    f"    {b[0]:>9,} resources, {b[1]:>5,} teams: list {got['list_ms']:7.2f} ms"
                    f" (7 first pages), list-actors {got['actors_ms']:6.2f} ms,"
                    f" decision {got['decide_ms']:.3f} ms ({got['allowed']} allowed)"
                )
    finally:
        for ds in built.values():
            data.connect(ds.url, ds.schema)
            data.drop(ds)
    load["end"] = os.getloadavg()
    rows = {}
    for text, a, b, metric, goal in _rows(sizes):
        got = [x[metric] / max(y[metric], 1e-9) for x, y in zip(figures[a], figures[b])]
        rows[text] = {
            "a": list(a),
            "b": list(b),
            "metric": metric,
            "goal": f"<= {goal:g}" if goal else "",
            "ratio": ratios.spread(got),
            "met": None if goal is None else ratios.spread(got)["median"] <= goal,
        }
    return {
        "sizes": list(sizes),
        "teams": data.TEAMS,
        "counts": {f"{s} x {t} teams": built[(s, t)].counts for s, t in builds},
        "figures": {f"{s} x {t} teams": figures[(s, t)] for s, t in builds},
        "rows": rows,
        "rounds": rounds,
        "runs": runs,
        "loadavg": load,
        "seconds": time.time() - started,
    }


def table_rows(result: dict) -> list:
    """[(target, goal, measured, met)], as bench/ratios.py ``rows_of`` gives them."""
    out = []
    for text, row in result["rows"].items():
        met = "—" if row["met"] is None else ("yes" if row["met"] else "**no**")
        out.append((text, row["goal"] or "—", ratios.fmt(row["ratio"]), met))
    return out


def markdown(doc: dict) -> str:
    """The README's teams table from a bench/results/teams.json document."""
    res = doc["teams"]
    load = res["loadavg"]
    small, large = res["sizes"]
    lines = [
        f"`python -m bench.teams` ({doc['when']}) on {doc['backend']}, {doc['cpus']} cores "
        f"shared with other work: organizations of {small:,} and {large:,} resources, each "
        f"plain and with {res['teams']:,} teams, measured in turn (reversed in odd rounds), "
        f"{res['rounds']} rounds, in process, each figure the median of {res['runs']} runs. "
        f"Load average (1 min) {load['start'][0]:.2f} at the start, "
        f"{load['after build'][0]:.2f} after the builds, {load['end'][0]:.2f} at the end. "
        "Each figure is the median of the rounds' ratios [lowest–highest round]:",
        "",
        "| target | goal | median [min–max] | met |",
        "|---|---|---|:---:|",
    ]
    lines += [f"| {w} | {g} | {m} | {ok} |" for w, g, m, ok in table_rows(res)]
    lines += ["", "First page of list-resources per actor (ms, median over the rounds):", ""]
    keys = list(res["figures"])
    lines.append("| actor | " + " | ".join(k.replace(" x ", ", ") for k in keys) + " |")
    lines.append("|---|" + "---:|" * len(keys))
    for actor in ACTORS:
        cells = []
        for k in keys:
            got = sorted(f["per_actor_ms"][actor] for f in res["figures"][k])
            cells.append(f"{got[len(got) // 2]:.2f}")
        lines.append(f"| {actor} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def splice(text: str, table: str) -> str:
    """``text`` with the part between ``START`` and ``END`` replaced by ``table``."""
    head, sep, rest = text.partition(START)
    _, sep2, tail = rest.partition(END)
    if not (sep and sep2):
        raise ValueError("no teams bench markers in the file")
    return f"{head}{START}\n{table.rstrip()}\n{END}{tail}"


def main(argv=None) -> int:
    from authz.engine import POLICY_DIR, PolicySet

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in breadth.SIZES))
    parser.add_argument("--backend", default="postgres", choices=("postgres", "sqlite"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--write", default=None, help="a markdown file with the markers")
    parser.add_argument("--markdown", default=None, help="render a teams.json, run nothing")
    args = parser.parse_args(argv)
    if args.markdown:
        doc = json.loads(Path(args.markdown).read_text())
    else:
        url = data.default_url(args.backend, tempfile.mkdtemp(prefix="orgauthz-teams-"))
        sizes = tuple(int(s) for s in args.sizes.split(","))
        result = run(url, PolicySet(POLICY_DIR), sizes, args.rounds, args.runs)
        doc = {
            "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "backend": args.backend,
            "cpus": os.cpu_count(),
            "teams": result,
        }
        out = HERE / "results" / "teams.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(doc, indent=1))
    text = markdown(doc)
    print(text)
    if args.write:
        path = Path(args.write)
        path.write_text(splice(path.read_text(), text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
