"""Soak: gunicorn with the Procfile's settings (2 workers) under mixed traffic for a while.

Decisions (single, batch of 20, actions), management reads (members, invitations, audit)
and writes (invite then cancel, change a role there and back, register and delete a
resource) from several client threads with kept-alive connections, all on 127.0.0.1.
Every 15 s it samples each worker's RSS. It prints the status counts, latency percentiles
and RSS over time, writes bench/results/soak.json, and exits 1 on any 5xx or a worker whose
RSS grew more than 20 MB from the first sample after warm-up.

    .venv/bin/python bench/soak.py [--minutes 10] [--database-url postgresql://...]
"""

import argparse
import http.client
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.serving import start_gunicorn  # noqa: E402  (the same server the tests start)
from tests.serving import stop as stop_server  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def workers_of(master: int) -> list:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


class Client:
    def __init__(self, port, key):
        self.port, self.key = port, key
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method, path, body=None, actor=None):
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        if actor:
            headers["X-Actor-Id"] = actor
        data = json.dumps(body) if body is not None else None
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
                return response.status, payload
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # the server closed an idle kept-alive connection: reconnect and resend once
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    raise


CHECKS = [
    ("pix4d-member", "view", {"type": "Dataset", "id": "pix4d-bridge-scan"}),
    ("pix4d-editor", "upload", {"type": "Dataset", "id": "pix4d-bridge-scan"}),
    ("pix4d-reader", "use", {"type": "License", "id": "pix4d-desktop-1"}),
    ("up42-member", "view", {"type": "Asset", "id": "up42-asset-1"}),
    ("up42-admin", "buy_credits", {"type": "Organization", "id": "org-up42"}),
    ("respondio-member", "use", {"type": "Space", "id": "respondio-support"}),
    ("respondio-user-admin", "manage_billing", {"type": "Organization", "id": "org-respondio"}),
    ("ghost", "view", {"type": "Organization", "id": "org-pix4d"}),
]


def traffic(client, rnd, stop, stats, lock, n):
    """One client thread's loop of mixed calls."""
    while not stop.is_set():
        kind = rnd.random()
        started = time.perf_counter()
        try:
            if kind < 0.55:
                actor, action, resource = rnd.choice(CHECKS)
                status, _ = client.call(
                    "POST",
                    "/v1/authorize",
                    {"actor": {"id": actor}, "action": action, "resource": resource},
                )
                name = "authorize"
            elif kind < 0.65:
                checks = [
                    {"actor": {"id": a}, "action": ac, "resource": r}
                    for a, ac, r in (rnd.choice(CHECKS) for _ in range(20))
                ]
                status, _ = client.call("POST", "/v1/authorize/batch", {"checks": checks})
                name = "batch of 20"
            elif kind < 0.70:
                actor, _, resource = rnd.choice(CHECKS)
                status, _ = client.call(
                    "POST", "/v1/authorize/actions", {"actor": {"id": actor}, "resource": resource}
                )
                name = "actions"
            elif kind < 0.80:
                path = rnd.choice(
                    [
                        "/v1/orgs/org-pix4d/members",
                        "/v1/orgs/org-pix4d/invitations",
                        "/v1/orgs/org-pix4d/audit?limit=20",
                    ]
                )
                status, _ = client.call("GET", path, actor="pix4d-owner")
                name = "management read"
            elif kind < 0.88:
                email = f"soak-{n}-{rnd.randrange(10**9)}@example.com"
                status, body = client.call(
                    "POST",
                    "/v1/orgs/org-pix4d/invitations",
                    {"invitations": [{"email": email, "role": "reader"}]},
                    actor="pix4d-manager",
                )
                if status == 201:
                    inv = json.loads(body)["items"][0]["id"]
                    status, _ = client.call(
                        "DELETE", f"/v1/orgs/org-pix4d/invitations/{inv}", actor="pix4d-manager"
                    )
                name = "invite + cancel"
            elif kind < 0.94:
                role = rnd.choice(["reader", "editor"])
                status, _ = client.call(
                    "PUT",
                    "/v1/orgs/org-pix4d/members/pix4d-reader",
                    {"role": role},
                    actor="pix4d-owner",
                )
                client.call(
                    "PUT",
                    "/v1/orgs/org-pix4d/members/pix4d-reader",
                    {"role": "reader"},
                    actor="pix4d-owner",
                )
                name = "change role"
            else:
                rid = f"soak-{n}-{rnd.randrange(10**9)}"
                status, _ = client.call(
                    "PUT",
                    f"/v1/orgs/org-pix4d/resources/Dataset/{rid}",
                    {"parent": {"type": "Folder", "id": "pix4d-survey"}},
                    actor="pix4d-editor",
                )
                if status in (200, 201):
                    status, _ = client.call(
                        "DELETE",
                        f"/v1/orgs/org-pix4d/resources/Dataset/{rid}",
                        actor="pix4d-editor",
                    )
                name = "register + delete"
        except Exception as exc:  # a transport failure counts as an error
            status, name = f"error {type(exc).__name__}", "transport"
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            stats["status"][str(status)] += 1
            stats["latency"].setdefault(name, []).append(elapsed)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="orgauthz-soak-"))
    extra = {"ORGAUTHZ_DECISION_LOG": str(folder / "decisions.log")}
    if args.database_url:
        extra["DATABASE_URL"] = args.database_url
    master, port, key = start_gunicorn(folder, **extra)
    database = args.database_url or "sqlite"
    try:
        stats, lock, stop = (
            {"status": Counter(), "latency": {}},
            threading.Lock(),
            threading.Event(),
        )
        threads = [
            threading.Thread(
                target=traffic, args=(Client(port, key), random.Random(i), stop, stats, lock, i)
            )
            for i in range(args.clients)
        ]
        for t in threads:
            t.start()
        samples, start, end = [], time.time(), time.time() + args.minutes * 60
        while time.time() < end:
            time.sleep(min(15, max(0.1, end - time.time())))
            pids = workers_of(master.pid)
            samples.append(
                {
                    "t": round(time.time() - start),
                    "rss_mb": {str(p): round(rss_mb(p), 1) for p in pids},
                }
            )
            done = sum(stats["status"].values())
            print(
                f"  {samples[-1]['t']:5d} s  {done:8d} requests  RSS "
                + ", ".join(f"{v} MB" for v in samples[-1]["rss_mb"].values()),
                flush=True,
            )
        stop.set()
        for t in threads:
            t.join()
    finally:
        stop_server(master)

    total = sum(stats["status"].values())
    server_errors = sum(n for s, n in stats["status"].items() if s.startswith("5") or "error" in s)
    warm = samples[min(2, len(samples) - 1)]["rss_mb"]
    last = samples[-1]["rss_mb"]
    growth = {p: round(last[p] - warm[p], 1) for p in last if p in warm}
    print(
        f"\nSoak: {args.minutes:g} min, 2 gunicorn workers, {args.clients} client threads, "
        f"{database.split(':')[0]}\n"
    )
    print("| requests | per second | 5xx or transport errors | statuses |")
    print("|---:|---:|---:|---|")
    print(
        f"| {total:,} | {total / (args.minutes * 60):.0f} | {server_errors} | "
        + ", ".join(f"{s}: {n:,}" for s, n in sorted(stats["status"].items()))
        + " |"
    )
    print("\n| call | count | p50 ms | p99 ms | p99.9 ms |\n|---|---:|---:|---:|---:|")
    for name, values in sorted(stats["latency"].items()):
        print(
            f"| {name} | {len(values):,} | {percentile(values, 0.5):.1f} | "
            f"{percentile(values, 0.99):.1f} | {percentile(values, 0.999):.1f} |"
        )
    print(
        "\nWorker RSS (MB) after warm-up -> end: "
        + ", ".join(f"{warm[p]} -> {last[p]} ({growth[p]:+})" for p in growth)
    )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "soak.json").write_text(
        json.dumps(
            {
                "minutes": args.minutes,
                "requests": total,
                "statuses": stats["status"],
                "server_errors": server_errors,
                "rss_samples": samples,
                "rss_growth_mb": growth,
                "latency_ms": {
                    n: {"count": len(v), "p50": percentile(v, 0.5), "p99": percentile(v, 0.99)}
                    for n, v in stats["latency"].items()
                },
            },
            indent=2,
        )
    )
    ok = server_errors == 0 and all(g <= 20 for g in growth.values())
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
