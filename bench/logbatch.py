"""A batch of 100 against a single check, in process, two trees round-robin (issue 24).

    python bench/logbatch.py --base /work/wt-perf-base [--new .] [--rounds 5] [--callgrind 3]

Builds the small data set once (SQLite, bench/data.py), then in each round runs one child
process per tree, the two in alternating order (A B, then B A), each child the tree's own
code (its folder first on ``sys.path``) with the decision log on. A child times, through the
app's WSGI entry, a batch of 100 varied checks and the same 100 checks one by one, each
timed until the decision log has written them (``decisionlog.flush()``: the writer thread's
formatting is part of the cost), best of a few repeats, as wall time and as the process's CPU
time (all threads: the writer's too). The rounds give median [min–max] of each.

``--callgrind N``: also N rounds of one child per tree under ``valgrind --tool=callgrind``,
counting the instructions of 5 batches of 100 and of the 100 single checks (and their log
writes) between ``callgrind_control`` zero and dump: counts do not move with the machine's
load as times do, but they are not exact either: what the code does by the clock (the log's
time cache, a connection idle for 5 s checked first) runs more often under valgrind's
slowdown, so they are given with their spread too.
"""

import argparse
import gc
import glob
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCHES = 5  # batches per timed (or counted) run; singles: the batch's 100 checks, once each


def _caller(app, path: str, key: str, body: bytes, expect: bytes):
    from bench import inproc

    base = inproc.environ("POST", path, key, body)
    status: list = []

    def call() -> None:
        environ = dict(base)
        environ["wsgi.input"] = io.BytesIO(body)
        status.clear()
        out = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
        if not status[0].startswith("200") or expect not in out:
            raise RuntimeError(f"{path} answered {status[0]}: {out[:300]!r}")

    return call


def _setup(ds: dict, log_path: str):
    """The tree's app on the data set, warm: (batch of 100, the 100 singles)."""
    from app import create_app

    app = create_app(
        {
            "DATABASE_URL": ds["url"],
            "DECISION_LOG": log_path,
            "LOG_LEVEL": "WARNING",
            "RATE_LIMIT": "1000000000 per minute",
        }
    )
    checks = [
        {"actor": {"id": a}, "action": act, "resource": {"type": t, "id": r}}
        for a, act, t, r in [tuple(s) for s in ds["sample"]][:100]
    ]
    key = ds["api_key"]
    body = json.dumps({"checks": checks}).encode()
    batch = _caller(app, "/v1/authorize/batch", key, body, b'"results"')
    singles = [
        _caller(app, "/v1/authorize", key, json.dumps(c).encode(), b'"allowed"') for c in checks
    ]
    for _ in range(3):  # every check's facts and answer loaded: the steady state
        batch()
        for one in singles:
            one()
    return batch, singles


def _batches(batch, singles):
    from ops import decisionlog

    def run_batches() -> None:
        for _ in range(BATCHES):
            batch()
        decisionlog.flush()

    def run_singles() -> None:
        for one in singles:
            one()
        decisionlog.flush()

    return run_batches, run_singles


def child(ds_path: str, mode: str) -> None:
    """One tree's figures, printed as JSON (mode ``time``), or the callgrind protocol: say
    ``ready``, wait for a line, run, say ``done``, twice (batches, then singles)."""
    with open(ds_path) as f:
        ds = json.load(f)
    with tempfile.TemporaryDirectory() as tmp:
        run_batches, run_singles = _batches(*_setup(ds, os.path.join(tmp, "decisions.log")))
        if mode == "callgrind":
            for fn in (run_batches, run_singles):
                gc.collect()  # each tree's phase starts with the same collector state
                print("ready", flush=True)
                sys.stdin.readline()
                fn()
                print("done", flush=True)
                sys.stdin.readline()
            return
        out: dict = {"batch_wall": [], "single_wall": [], "batch_cpu": [], "single_cpu": []}
        for _ in range(7):
            for name, fn, n in (("batch", run_batches, BATCHES), ("single", run_singles, 100)):
                wall, cpu = time.perf_counter(), time.process_time()
                fn()
                out[f"{name}_wall"].append((time.perf_counter() - wall) / n * 1e6)
                out[f"{name}_cpu"].append((time.process_time() - cpu) / n * 1e6)
        print(json.dumps({k: min(v) for k, v in out.items()}))


def _spawn(tree: str, ds_path: str, mode: str, prefix: list | None = None, **kw):
    env = dict(os.environ, PYTHONPATH=tree, PYTHONHASHSEED="0")
    python = os.path.join(tree, ".venv", "bin", "python")
    argv = (prefix or []) + [python, os.path.abspath(__file__), "--child", ds_path, mode]
    return subprocess.Popen(argv, cwd=tree, env=env, text=True, **kw)


def timed_round(tree: str, ds_path: str) -> dict:
    proc = _spawn(tree, ds_path, "time", stdout=subprocess.PIPE)
    out, _ = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"child in {tree} failed")
    got = json.loads(out.strip().splitlines()[-1])
    got["ratio_wall"] = got["batch_wall"] / got["single_wall"]
    got["ratio_cpu"] = got["batch_cpu"] / got["single_cpu"]
    return got


def _totals(path: str) -> int:
    with open(path) as f:
        for line in f:
            if line.startswith("summary:"):
                return int(line.split()[1])
    raise RuntimeError(f"no summary in {path}")


def counted(tree: str, ds_path: str, tmp: str) -> dict:
    """Instructions (callgrind, every thread) of one batch of 100 and of one single check,
    each with its decision-log writes."""
    out_dir = tempfile.mkdtemp(dir=tmp)
    prefix = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_dir}/cg.%p"]
    proc = _spawn(
        tree,
        ds_path,
        "callgrind",
        prefix,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    for _ in range(2):
        assert proc.stdout.readline().strip() == "ready"
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True, capture_output=True)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "done"
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
        proc.stdin.write("next\n")
        proc.stdin.flush()
    proc.wait()
    dumps = sorted(glob.glob(f"{out_dir}/cg.{proc.pid}.*"), key=lambda p: int(p.rsplit(".", 1)[1]))
    batch, single = (_totals(p) for p in dumps[:2])
    return {
        "batch_ir": batch / BATCHES,
        "single_ir": single / 100,
        "ratio_ir": batch / BATCHES / (single / 100),
    }


def _spread(values: list) -> str:
    med = statistics.median(values)
    fmt = (lambda v: f"{v:,.0f}") if med >= 100 else (lambda v: f"{v:.2f}")
    return f"{fmt(med)} [{fmt(min(values))}–{fmt(max(values))}]"


def report(runs: dict, trees: dict) -> None:
    keys = list(next(iter(runs.values()))[0])
    names = list(trees)
    print(
        f"| figure (median [min–max] over {len(runs[names[0]])} rounds) | "
        + " | ".join(names)
        + f" | {names[1]} / {names[0]} |"
    )
    print("|---|" + "---:|" * (len(names) + 1))
    for key in keys:
        cells = [_spread([r[key] for r in runs[n]]) for n in names]
        pairs = [b[key] / a[key] for a, b in zip(runs[names[0]], runs[names[1]], strict=True)]
        print(f"| {key} | " + " | ".join(cells) + f" | {_spread(pairs)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", nargs=2, metavar=("DATASET", "MODE"))
    parser.add_argument("--base", default="/work/wt-perf-base")
    parser.add_argument("--new", default=HERE)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--callgrind", type=int, default=0, metavar="ROUNDS")
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    sys.path.insert(0, HERE)
    from bench import data

    trees = {"old": os.path.abspath(args.base), "new": os.path.abspath(args.new)}
    with tempfile.TemporaryDirectory(prefix="orgauthz-logbatch-") as tmp:
        ds = data.build(data.default_url("sqlite", tmp), "small", log=lambda *a: None)
        ds_path = os.path.join(tmp, "dataset.json")
        with open(ds_path, "w") as f:
            json.dump({"url": ds.url, "api_key": ds.api_key, "sample": ds.sample}, f)
        print(f"load average at the start: {os.getloadavg()}", flush=True)
        timed: dict = {n: [] for n in trees}
        for i in range(args.rounds):
            for name in list(trees)[:: 1 if i % 2 == 0 else -1]:
                timed[name].append(timed_round(trees[name], ds_path))
            print(f"round {i + 1}: " + json.dumps({n: timed[n][-1] for n in trees}), flush=True)
        counts: dict = {n: [] for n in trees}
        if args.callgrind:
            for i in range(args.callgrind):
                for name in list(trees)[:: 1 if i % 2 == 0 else -1]:
                    counts[name].append(counted(trees[name], ds_path, tmp))
                print(
                    f"callgrind {i + 1}: " + json.dumps({n: counts[n][-1] for n in trees}),
                    flush=True,
                )
        print(f"load average at the end: {os.getloadavg()}\n")
        report(timed, trees)
        if args.callgrind:
            print()
            report(counts, trees)


if __name__ == "__main__":
    main()
