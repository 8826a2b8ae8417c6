"""Over HTTP: gunicorn with the Procfile's settings on 127.0.0.1, loaded by wrk (Debian's
package) from a separate process, for a fixed time per run.

Runs, in one server's life: /healthz (the server's own floor), POST /v1/authorize with a mix
of single checks, POST /v1/authorize/batch with 100 checks per request; then the server is
restarted with ORGAUTHZ_DECISION_LOG=off and the two decision runs are repeated. The RSS of
each worker is read before and after the decision runs. The load is wrk's; the few calls
this script makes itself (readiness, the cases checked before timing) go through the
orgauthz client.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from orgauthz_client import Client, OrgauthzError

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "wrk.lua"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_pids(master: int) -> list:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == master:
                    pids.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return sorted(pids)


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Server:
    """gunicorn -c gunicorn.conf.py "app:create_app()" on a free loopback port."""

    def __init__(self, url: str, schema: str | None, decision_log: str):
        self.port = free_port()
        self.tmp = tempfile.mkdtemp(prefix="orgauthz-bench-http-")
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": url,
                "BIND": f"127.0.0.1:{self.port}",
                "LOG_LEVEL": "WARNING",
                "ORGAUTHZ_DECISION_LOG": decision_log,
                "ORGAUTHZ_SNAPSHOT_DIR": os.path.join(self.tmp, "snapshots"),
                "PROMETHEUS_MULTIPROC_DIR": os.path.join(self.tmp, "metrics"),
            }
        )
        env.pop("ORGAUTHZ_POLICY_DIR", None)
        os.makedirs(env["PROMETHEUS_MULTIPROC_DIR"])
        if schema:
            env["PGOPTIONS"] = f"-c search_path={schema}"
        gunicorn = [sys.executable, "-m", "gunicorn"]
        self.log = open(os.path.join(self.tmp, "gunicorn.log"), "w")
        self.proc = subprocess.Popen(
            gunicorn + ["-c", "gunicorn.conf.py", "app:create_app()"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 60
        with Client(self.base, "", timeout=1, retries=0) as probe:
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError("gunicorn exited: " + open(self.log.name).read()[-2000:])
                try:
                    probe.health()
                    if len(worker_pids(self.proc.pid)) >= 1:
                        break
                except OrgauthzError:
                    time.sleep(0.2)
            else:
                raise RuntimeError("gunicorn did not answer /healthz in 60 s")

    def workers(self) -> list:
        return worker_pids(self.proc.pid)

    def client(self, key: str) -> Client:
        """The orgauthz client on this server (one kept-alive connection)."""
        return Client(self.base, key, timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def wrk(url: str, bodies: str, seconds: float, key: str, connections: int = 16) -> dict:
    env = dict(os.environ, BENCH_KEY=key)
    cmd = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, int(seconds))}s",
        "--timeout",
        "5s",
        "-s",
        str(LUA),
        url,
        "--",
        bodies,
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60).stdout
    line = next((ln for ln in out.splitlines() if ln.startswith("JSON{")), None)
    if line is None:
        raise RuntimeError("wrk printed no summary: " + out[-1000:])
    r = json.loads(line[4:])
    secs = r["duration_us"] / 1e6
    errors = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    return {
        "rps": r["requests"] / secs,
        "p50_ms": r["p50"] / 1000,
        "p99_ms": r["p99"] / 1000,
        "p999_ms": r["p999"] / 1000,
        "max_ms": r["max"] / 1000,
        "requests": r["requests"],
        "errors": errors,
        "seconds": secs,
    }


def bodies_files(tmp: str, sample: list, cases: list, name: str = "mixed") -> tuple:
    """(single, batch) files: one JSON body per line. Singles: the cases and the sample of the
    whole population; batches: 100 checks each drawn from the same."""
    checks = [
        {"actor": {"id": a}, "action": act, "resource": {"type": t, "id": r}}
        for a, act, t, r in [c[1:5] for c in cases] + [tuple(s) for s in sample]
    ]
    single = os.path.join(tmp, f"{name}-single.jsonl")
    batch = os.path.join(tmp, f"{name}-batch.jsonl")
    with open(single, "w") as f:
        for c in checks:
            f.write(json.dumps(c) + "\n")
    with open(batch, "w") as f:
        for i in range(0, len(checks) - 99, 100):
            f.write(json.dumps({"checks": checks[i : i + 100]}) + "\n")
    return single, batch


def run(
    url: str, schema: str | None, key: str, sample: list, cases: list, seconds: float, log=print
) -> dict:
    if shutil.which("wrk") is None:
        log("wrk not found (apt-get install -y wrk): HTTP runs skipped")
        return {"skipped": "wrk not installed"}
    tmp = tempfile.mkdtemp(prefix="orgauthz-bench-bodies-")
    single, batch = bodies_files(tmp, sample, cases)
    # hot: only the four cases (the steady state: no fact to load, no last_active write)
    hot_single, hot_batch = bodies_files(tmp, [], cases * 25, "hot")
    results = {"rows": [], "rss": {}}
    try:
        for log_setting in ("on", "off"):
            dlog = os.path.join(tmp, "decisions.log") if log_setting == "on" else "off"
            server = Server(url, schema, dlog)
            try:
                # the cases must answer as in-process before anything is timed
                with server.client(key) as api:
                    for c in cases:
                        got = api.authorize(c[1], c[2], (c[3], c[4]))
                        if got.allowed != c[5]:
                            raise RuntimeError(f"HTTP answered {got} for case {c[0]}")
                # warm both workers' facts and memo over the whole working set
                wrk(server.base + "/v1/authorize/batch", batch, max(2, seconds / 2), key)
                wrk(server.base + "/v1/authorize", single, max(2, seconds / 2), key)
                runs = (
                    [("GET /healthz", server.base + "/healthz", "-", 1)]
                    if log_setting == "on"
                    else []
                )
                if log_setting == "on":
                    runs += [
                        ("authorize, 4 hot cases", server.base + "/v1/authorize", hot_single, 1),
                        (
                            "batch of 100, 4 hot cases",
                            server.base + "/v1/authorize/batch",
                            hot_batch,
                            100,
                        ),
                    ]
                runs += [
                    ("authorize, mixed 5,000", server.base + "/v1/authorize", single, 1),
                    ("batch of 100, mixed 5,000", server.base + "/v1/authorize/batch", batch, 100),
                ]
                before = {p: rss_mb(p) for p in server.workers()}
                decisions = 0
                for label, target, bodies, per in runs:
                    r = wrk(target, bodies, seconds, key)
                    r.update(
                        {
                            "run": label,
                            "decision_log": log_setting,
                            "decisions_per_s": r["rps"] * per if per > 1 else r["rps"],
                        }
                    )
                    if per == 100:
                        r["decisions_per_s"] = r["rps"] * 100
                    decisions += r["requests"] * (per if bodies != "-" else 0)
                    results["rows"].append(r)
                    log(
                        f"  {label:34} log {log_setting:3} {r['rps']:8.0f} req/s  p50 "
                        f"{r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  p99.9 "
                        f"{r['p999_ms']:.2f} ms  errors {r['errors']}"
                    )
                after = {p: rss_mb(p) for p in server.workers()}
                if log_setting == "on":
                    results["rss"] = {
                        "workers": len(before),
                        "decisions_all_workers": decisions,
                        "before_mb": before,
                        "after_mb": after,
                        "growth_mb": {p: after.get(p, 0) - before[p] for p in before},
                    }
            finally:
                server.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results
