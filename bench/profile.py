"""Where a row of the HTTP table spends its time: py-spy on both gunicorn workers under the
same load as the row (bench/table.py's servers, bodies and wrk settings).

    python bench/profile.py --row varied --row batch1 --row invite1 --seconds 15
    python bench/profile.py --size large --backend postgres --row varied --gil

Builds the data set (bench/data.py), starts orgauthz behind gunicorn.conf.py, warms it as
the table does, then for each row: wrk for ``--seconds`` while ``py-spy record`` samples
every worker (wall-clock by default: waiting counts, which is what a caller waits for;
``--gil`` for CPU under the GIL). Prints each row's top frames: the share of samples a
function is on the stack (inclusive) and at the top (self). py-spy is in the bench lock
(requirements-bench.txt, ``make setup-dev``); ``--py-spy`` names another binary.
"""

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench import data, inproc  # noqa: E402
from bench import table as http  # noqa: E402

# row name: (path, bodies attribute, connections, wrk script)
ROWS = {
    "healthz": ("/healthz", None, 8, "wrk.lua"),
    "repeated": ("/v1/authorize", "single", 8, "wrk.lua"),
    "varied": ("/v1/authorize", "varied", 8, "wrk.lua"),
    "varied1": ("/v1/authorize", "varied", 1, "wrk.lua"),
    "batch1": ("/v1/authorize/batch", "batch", 1, "wrk.lua"),
    "invite1": ("", "invites", 1, "wrk_calls.lua"),
    "role1": ("", "role_changes", 1, "wrk_calls.lua"),
    "grant1": ("", "grants", 1, "wrk_calls.lua"),
    "consistent": ("/v1/authorize", "consistent", 8, "wrk.lua"),
}


def collapsed(path: str) -> list:
    """[(frames, count)] of a py-spy ``--format raw`` file (root first)."""
    out = []
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if stack:
                out.append((stack.split(";"), int(count)))
    return out


def short(frame: str) -> str:
    """``func (path/to/file.py:123)`` -> ``func (file.py)``: one entry per function."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    parts = where.split("/")
    if "site-packages" in parts:
        where = "/".join(parts[parts.index("site-packages") + 1 :][:2])
    else:
        where = "/".join(parts[-2:])
    return f"{name} ({where})"


def top(stacks: list, n: int = 15) -> tuple:
    """(total samples, [(inclusive %, self %, function)]) over the samples of
    request-handling threads (stacks with gunicorn's handle in them)."""
    incl, own = collections.Counter(), collections.Counter()
    total = 0
    for frames, count in stacks:
        names = [short(f) for f in frames]
        if not any(n_.split(" (")[0].rsplit(".", 1)[-1] == "handle" for n_ in names):
            continue  # idle accept loop, listener, log writer: not a request's time
        total += count
        for name in set(names):
            incl[name] += count
        own[names[-1]] += count
    rows = [
        (100 * incl[name] / total, 100 * own[name] / total, name)
        for name, _ in incl.most_common(n * 3)
    ]
    self_rows = [(100 * incl[k] / total, 100 * c / total, k) for k, c in own.most_common(n)]
    return total, rows, self_rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(data.SIZES), default="large")
    parser.add_argument("--backend", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--row", action="append", choices=sorted(ROWS), required=True)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--gil", action="store_true", help="only samples holding the GIL")
    parser.add_argument(
        "--py-spy",
        default=shutil.which("py-spy", path=str(Path(sys.executable).parent))
        or shutil.which("py-spy")
        or "py-spy",
        help="the py-spy binary",
    )
    parser.add_argument("--out", default=None, help="keep the raw profiles in this folder")
    args = parser.parse_args(argv)
    log = lambda *a: print(*a, flush=True)  # noqa: E731
    tmp = tempfile.mkdtemp(prefix="orgauthz-profile-")
    out_dir = args.out or tmp
    os.makedirs(out_dir, exist_ok=True)
    ds = data.build(data.default_url(args.backend, tmp), args.size, log=log)
    server = None
    try:
        bodies = http.Bodies(ds, inproc.CASES, tmp)
        server = http.Served("app:create_app()", ds.url, ds.schema)
        log("warming")
        http.warm(server, bodies, ds.api_key)
        for name in args.row:
            path, attr, conns, script = ROWS[name]
            arg = getattr(bodies, attr) if attr else "-"
            pids = server.workers()
            raws, spies = [], []
            for pid in pids:
                raw = os.path.join(out_dir, f"{name}-{pid}.txt")
                cmd = [args.py_spy, "record", "--pid", str(pid), "--format", "raw"]
                cmd += ["--rate", str(args.rate), "--duration", str(round(args.seconds))]
                cmd += ["--output", raw, "--nonblocking"]
                cmd.append("--gil" if args.gil else "--idle")  # wall clock: waits count
                raws.append(raw)
                spies.append(
                    subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                )
            got = http.wrk(server.base + path, arg, args.seconds, ds.api_key, conns, script)
            for spy in spies:
                _, err = spy.communicate(timeout=120)
                if spy.returncode:
                    log(f"py-spy: {err.decode()[-500:]}")
            stacks = [s for raw in raws if os.path.exists(raw) for s in collapsed(raw)]
            total, rows, self_rows = top(stacks)
            log(
                f"\n## {name}: {got.get('rps', 0):,.0f} req/s, p50 {got.get('p50_ms', 0):.2f} ms,"
                f" p99 {got.get('p99_ms', 0):.2f} ms, errors {got.get('errors')}; "
                f"{total} samples in request threads of {len(pids)} workers"
                f" ({'GIL' if args.gil else 'wall clock'})\n"
            )
            log("| on the stack % | self % | function |\n|---:|---:|---|")
            for inc, own, fn in rows[:25]:
                log(f"| {inc:.1f} | {own:.1f} | {fn} |")
            log("\nTop self:\n\n| self % | on the stack % | function |\n|---:|---:|---|")
            for inc, own, fn in self_rows:
                log(f"| {own:.1f} | {inc:.1f} | {fn} |")
    finally:
        if server:
            server.stop()
        data.drop(ds)
        if not args.out:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
