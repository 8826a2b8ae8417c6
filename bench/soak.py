"""Soak: gunicorn with the Procfile's settings (2 workers) under mixed traffic for a while.

Decisions (single, batch of 20, actions), management reads (members, invitations, audit)
and writes (invite then cancel, change a role there and back, register and delete a
resource) from several client threads, each with its own orgauthz client (one kept-alive
connection; its retries on, as a calling service would run it), all on 127.0.0.1. Every
status the server answers is counted as it comes off the wire (a retried 503 counts too).
Every 15 s it samples each worker's RSS. It prints the status counts, latency percentiles
and RSS over time, writes bench/results/soak.json, and exits 1 on any 5xx or a worker whose
RSS grew more than 20 MB from the first sample after warm-up.

    .venv/bin/python bench/soak.py [--minutes 10] [--database-url postgresql://...]
"""

import argparse
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

import httpx  # noqa: E402
from orgauthz_client import ApiError, Client  # noqa: E402

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


class CountingTransport(httpx.HTTPTransport):
    """httpx's transport, counting the status of every response it receives."""

    def __init__(self, statuses: Counter, lock: threading.Lock):
        super().__init__()
        self.statuses, self.lock = statuses, lock

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        with self.lock:
            self.statuses[str(response.status_code)] += 1
        return response


def client_for(port: int, key: str, stats: dict, lock: threading.Lock) -> Client:
    transport = CountingTransport(stats["status"], lock)
    return Client(f"http://127.0.0.1:{port}", key, timeout=30, transport=transport)


CHECKS = [
    ("pix4d-member", "view", ("Dataset", "pix4d-bridge-scan")),
    ("pix4d-editor", "upload", ("Dataset", "pix4d-bridge-scan")),
    ("pix4d-reader", "use", ("License", "pix4d-desktop-1")),
    ("up42-member", "view", ("Asset", "up42-asset-1")),
    ("up42-admin", "buy_credits", ("Organization", "org-up42")),
    ("respondio-member", "use", ("Space", "respondio-support")),
    ("respondio-user-admin", "manage_billing", ("Organization", "org-respondio")),
    ("ghost", "view", ("Organization", "org-pix4d")),
]


def traffic(client: Client, rnd, stop, stats, lock, n):
    """One client thread's loop of mixed calls. The statuses are counted by the client's
    transport; a refusal (4xx) is an answer like any other here."""
    owner = client.as_actor("pix4d-owner")
    manager = client.as_actor("pix4d-manager")
    editor = client.as_actor("pix4d-editor")
    while not stop.is_set():
        kind = rnd.random()
        started = time.perf_counter()
        try:
            if kind < 0.55:
                name = "authorize"
                actor, action, resource = rnd.choice(CHECKS)
                client.authorize(actor, action, resource)
            elif kind < 0.65:
                name = "batch of 20"
                client.authorize_batch([rnd.choice(CHECKS) for _ in range(20)])
            elif kind < 0.70:
                name = "actions"
                actor, _, resource = rnd.choice(CHECKS)
                client.allowed_actions(actor, resource)
            elif kind < 0.80:
                name = "management read"
                read = rnd.choice(
                    [
                        lambda: next(iter(owner.list_members("org-pix4d")), None),
                        lambda: next(iter(owner.list_invitations("org-pix4d")), None),
                        lambda: next(iter(owner.audit("org-pix4d", page_size=20)), None),
                    ]
                )
                read()
            elif kind < 0.88:
                name = "invite + cancel"
                email = f"soak-{n}-{rnd.randrange(10**9)}@example.com"
                [invitation] = manager.invite("org-pix4d", [(email, "reader")])
                manager.cancel_invitation("org-pix4d", invitation.id)
            elif kind < 0.94:
                name = "change role"
                owner.change_role("org-pix4d", "pix4d-reader", rnd.choice(["reader", "editor"]))
                owner.change_role("org-pix4d", "pix4d-reader", "reader")
            else:
                name = "register + delete"
                rid = f"soak-{n}-{rnd.randrange(10**9)}"
                editor.put_resource("org-pix4d", "Dataset", rid, parent=("Folder", "pix4d-survey"))
                editor.delete_resource("org-pix4d", "Dataset", rid)
        except ApiError:
            pass  # its status is counted; a 5xx fails the soak at the end
        except Exception as exc:  # a transport failure counts as an error
            name = "transport"
            with lock:
                stats["status"][f"error {type(exc).__name__}"] += 1
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
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
        clients = [client_for(port, key, stats, lock) for _ in range(args.clients)]
        threads = [
            threading.Thread(target=traffic, args=(c, random.Random(i), stop, stats, lock, i))
            for i, c in enumerate(clients)
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
        for c in clients:
            c.close()
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
