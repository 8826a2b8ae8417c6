"""The slowest check during a policy reload, beside the slowest without one (make bench).

gunicorn with gunicorn.conf.py's settings over a fresh SQLite file with the demo data, on a
copy of the policies; 8 client threads, each on one kept-alive connection, send single checks
throughout. First a quiet phase, then the reload phase: three HUPs that go live (a comment
added each time, each awaited until every thread sees the new version) and one refused (a
file that does not parse). Prints, per phase, the checks sent, the failed ones (an error or
a non-200), p99 and the slowest, and writes bench/results/reload.json.

    python bench/reload.py [--seconds 5] [--threads 8]
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from authz.engine import POLICY_DIR, policy_version  # noqa: E402
from ops.config import usable_cpus  # noqa: E402
from tests.serving import start_gunicorn  # noqa: E402  (the same server the tests start)
from tests.support import poll  # noqa: E402

CASES = [
    ("pix4d-editor", "upload", "Dataset", "pix4d-bridge-scan"),
    ("pix4d-reader", "upload", "Dataset", "pix4d-bridge-scan"),
    ("up42-admin", "remove_members", "Organization", "org-up42"),
    ("respondio-member", "use", "Space", "respondio-support"),
]


class Load:
    """Threads sending checks on kept-alive connections; every answer recorded."""

    def __init__(self, port: int, key: str, threads: int):
        self.port, self.key = port, key
        self.results: list = []  # (started, seconds, ok, policy_version)
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, n: int) -> None:
        conn = None
        i = n
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        while not self.done.is_set():
            actor, action, type_, rid = CASES[i % len(CASES)]
            i += 1
            body = {
                "actor": {"id": actor},
                "action": action,
                "resource": {"type": type_, "id": rid},
            }
            started = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request("POST", "/v1/authorize", json.dumps(body), headers)
                response = conn.getresponse()
                answer = json.loads(response.read())
                ok, version = response.status == 200, answer.get("policy_version")
            except Exception:  # noqa: BLE001 -- a failed check is what this counts
                ok, version = False, None
                if conn is not None:
                    conn.close()
                conn = None
            self.results.append((started, time.monotonic() - started, ok, version))

    def stop(self) -> None:
        self.done.set()
        for t in self.threads:
            t.join()

    def latest_all(self, version: str, last: int) -> bool:
        recent = self.results[-last:]
        return len(recent) == last and all(r[3] == version for r in recent)


def summary(rows: list) -> dict:
    seconds = sorted(r[1] for r in rows)
    return {
        "checks": len(rows),
        "failed": sum(1 for r in rows if not r[2]),
        "p99_ms": round(seconds[int(len(seconds) * 0.99) - 1] * 1000, 2) if seconds else None,
        "slowest_ms": round(seconds[-1] * 1000, 2) if seconds else None,
    }


def wait(condition, seconds: float = 120.0) -> None:
    if not poll(condition, timeout=seconds, every=0.05):
        raise RuntimeError("timed out")


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="the quiet phase")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="orgauthz-bench-reload-"))
    policies = tmp / "policies"
    shutil.copytree(POLICY_DIR, policies)
    # the server the tests start (tests/serving.py), with the workers of a deployment
    proc, port, key = start_gunicorn(
        tmp,
        ORGAUTHZ_POLICY_DIR=str(policies),
        ORGAUTHZ_SNAPSHOT_DIR=str(tmp / "snapshots"),
        ORGAUTHZ_DECISION_LOG=str(tmp / "decisions.log"),
        LOG_LEVEL="WARNING",
        WEB_CONCURRENCY=os.environ.get("WEB_CONCURRENCY") or str(usable_cpus()),
    )
    try:
        load = Load(port, key, args.threads)
        time.sleep(args.seconds)  # the quiet phase: a measured span, not a wait on anything
        quiet_end = time.monotonic()
        pix4d = policies / "pix4d.polar"
        for n in range(3):
            pix4d.write_text(pix4d.read_text() + f"\n# bench reload {n}\n")
            version = policy_version(policies)
            proc.send_signal(signal.SIGHUP)
            wait(lambda v=version: load.latest_all(v, 4 * args.threads))
        pix4d.write_text(pix4d.read_text() + "\nthis is not polar\n")
        proc.send_signal(signal.SIGHUP)
        settled = len(load.results)
        wait(lambda: len(load.results) > settled + 20 * args.threads)
        load.stop()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    results = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "threads": args.threads,
        "quiet": summary([r for r in load.results if r[0] < quiet_end]),
        "reloading": summary([r for r in load.results if r[0] >= quiet_end]),
    }
    shutil.rmtree(tmp, ignore_errors=True)
    print("Policy reload under load (3 reloads that go live, 1 refused):")
    print("| phase     | checks | failed | p99 ms | slowest ms |")
    print("|-----------|-------:|-------:|-------:|-----------:|")
    for phase in ("quiet", "reloading"):
        r = results[phase]
        print(
            f"| {phase:9} | {r['checks']:6} | {r['failed']:6} | {r['p99_ms']:6} |"
            f" {r['slowest_ms']:10} |"
        )
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "reload.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
