"""Two nodes on a PostgreSQL primary and one streaming replica (deploy/localcluster.py):
how stale a check without a token can be, and what the replica takes off the primary.

    python bench/cluster.py [--seconds 8] [--rounds 200]      (`make bench-cluster`)

1. **Staleness window.** A grant or a revoke through node A, then node B asked again and
   again with ``minimize_latency`` (the default) until its answer shows the write: the time
   from A's answer to B's first answer that shows it, over ``--rounds`` writes, with the
   cluster idle and with both nodes loaded. With the write's token the window is zero by
   construction (tests/deploy/test_nodes.py checks it 1,000 times).
2. **Primary only vs. primary + replica.** wrk on both nodes at once (varied checks over
   9,000 memberships in 300 orgs) while a writer changes 50 random orgs a second (each
   change drops that org's cached facts, so checks read again); the nodes restarted without
   and with ``DATABASE_REPLICA_URLS``, alternately, ``--pairs`` times. Checks per second
   (both nodes), p99, and the read transactions per second each database served.

Prints a table (and writes bench/results/cluster.json). Numbers are from this machine:
every process (PostgreSQL, both nodes, wrk) shares its cores, so the replica adds load
where a real one would add a machine.
"""

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psycopg2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.httpload import wrk  # noqa: E402
from deploy.localcluster import LocalCluster, missing  # noqa: E402

GRANT = "/v1/orgs/org-pix4d/resources/Site/pix4d-quarry/grants/pix4d-member"
CHECK = {
    "actor": {"id": "pix4d-member"},
    "action": "view",
    "resource": {"type": "Dataset", "id": "pix4d-quarry-march"},
}
ORGS, MEMBERS = 300, 30


def populate(url: str) -> list:
    """300 Pix4D orgs of 30 members each, written on the primary; the check bodies."""
    conn = psycopg2.connect(url)
    bodies = []
    with conn, conn.cursor() as cur:
        now = "2026-12-01 00:00:00"
        for o in range(ORGS):
            org = f"cl-org-{o}"
            cur.execute(
                'INSERT INTO "organization" (id, name, style, legal, billing, created_by,'
                " created_at) VALUES (%s, %s, 'pix4d', '{}', '{}', %s, %s)",
                (org, org, f"cl-u-{o}-0", now),
            )
            users = [f"cl-u-{o}-{m}" for m in range(MEMBERS)]
            cur.executemany(
                'INSERT INTO "user" (id, email, email_key, name, created_at)'
                " VALUES (%s, %s, %s, '', %s)",
                [(u, f"{u}@x.example", f"{u}@x.example", now) for u in users],
            )
            cur.executemany(
                'INSERT INTO "membership" (user_id, org_id, role, created_at)'
                " VALUES (%s, %s, %s, %s)",
                [(u, org, "owner" if m == 0 else "member", now) for m, u in enumerate(users)],
            )
            for u in users:
                body = {"actor": {"id": u}, "action": "view"}
                body["resource"] = {"type": "Organization", "id": org}
                bodies.append(json.dumps(body))
    conn.close()
    random.Random(7).shuffle(bodies)
    return bodies


def staleness(cluster: LocalCluster, rounds: int) -> dict:
    """ms from node A's answer to the first answer of node B that shows the write."""
    a, b = cluster.nodes[0].url, cluster.nodes[1].url
    owner = {**cluster.headers, "X-Actor-Id": "pix4d-owner"}
    windows, sources = [], {}
    with httpx.Client(headers=cluster.headers, timeout=10) as client:
        client.delete(a + GRANT, headers=owner)
        for i in range(rounds):
            granted = i % 2 == 0
            if granted:
                client.put(a + GRANT, json={"role": "reader"}, headers=owner)
            else:
                client.delete(a + GRANT, headers=owner)
            written = time.perf_counter()
            while True:
                answer = client.post(b + "/v1/authorize", json=CHECK)
                if answer.json()["allowed"] is granted:
                    break
                if time.perf_counter() - written > 10:
                    raise RuntimeError("node B never saw the write")
            windows.append((time.perf_counter() - written) * 1000)
            source = answer.headers.get("X-Decided-By", "?").split(":")[0]
            sources[source] = sources.get(source, 0) + 1
    windows.sort()
    return {
        "p50_ms": statistics.median(windows),
        "p99_ms": windows[min(len(windows) - 1, int(len(windows) * 0.99))],
        "max_ms": windows[-1],
        "rounds": rounds,
        "first_fresh_answer_by": sources,
    }


class Writer(threading.Thread):
    """Changes one random org ``rate`` times a second on the primary (a role set to itself:
    the triggers count it as a change of that org)."""

    def __init__(self, url: str, rate: float = 50):
        super().__init__(daemon=True)
        self.url, self.rate, self.stop = url, rate, threading.Event()
        self.writes = 0

    def run(self) -> None:
        conn = psycopg2.connect(self.url)
        conn.autocommit = True
        rnd = random.Random(11)
        with conn.cursor() as cur:
            while not self.stop.wait(1 / self.rate):
                org = f"cl-org-{rnd.randrange(ORGS)}"
                cur.execute('UPDATE "membership" SET role = role WHERE org_id = %s', (org,))
                self.writes += 1
        conn.close()


def transactions(url: str) -> int:
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
        value = cur.fetchone()[0]
    conn.close()
    return value


def restart(cluster: LocalCluster, with_replica: bool) -> None:
    """Both nodes started again, reading from the replica or not."""
    replicas = ",".join(r.url for r in cluster.replicas) if with_replica else ""
    for i in range(len(cluster.nodes)):
        cluster.stop_node(i)
        cluster.start_node(i, ORGAUTHZ_DATABASE_REPLICA_URLS=replicas)


def loaded(cluster: LocalCluster, bodies_file: str, seconds: float, with_replica: bool) -> dict:
    restart(cluster, with_replica)
    primary, replica = cluster.primary.url, cluster.replicas[0].url
    for node in cluster.nodes:  # warm: every (actor, org) once
        wrk(node.url + "/v1/authorize", bodies_file, 2, cluster.key, connections=4)
    writer = Writer(primary)
    before = transactions(primary), transactions(replica)
    writer.start()
    results: list = [None] * len(cluster.nodes)

    def one(i: int) -> None:
        url = cluster.nodes[i].url + "/v1/authorize"
        results[i] = wrk(url, bodies_file, seconds, cluster.key, connections=4)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(cluster.nodes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.stop.set()
    writer.join()
    after = transactions(primary), transactions(replica)
    secs = max(r["seconds"] for r in results)
    return {
        "replica": with_replica,
        "rps": sum(r["rps"] for r in results),
        "p99_ms": max(r["p99_ms"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "primary_tps": (after[0] - before[0]) / secs,
        "replica_tps": (after[1] - before[1]) / secs,
        "writes_per_s": writer.writes / secs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    if missing():
        print("bench/cluster.py skipped: needs " + ", ".join(missing()))
        return 0
    if subprocess.run(["which", "wrk"], capture_output=True).returncode != 0:
        print("bench/cluster.py skipped: needs wrk (apt-get install -y wrk)")
        return 0
    out: dict = {}
    with LocalCluster(replicas=1, nodes=2, proxy=False, demo=True) as cluster:
        bodies = populate(cluster.primary.url)
        cluster.wait_replayed(0)
        tmp = tempfile.mkdtemp(prefix="orgauthz-bench-cluster-")
        bodies_file = str(Path(tmp) / "checks.jsonl")
        Path(bodies_file).write_text("\n".join(bodies) + "\n")
        out["staleness_idle"] = staleness(cluster, args.rounds)
        restart(cluster, False)
        out["staleness_idle_no_replica"] = staleness(cluster, args.rounds)
        restart(cluster, True)
        loads = [  # both nodes busy while the writes and checks above go on
            threading.Thread(
                target=wrk,
                args=(n.url + "/v1/authorize", bodies_file, 25, cluster.key, 3),
                daemon=True,
            )
            for n in cluster.nodes
        ]
        for load in loads:
            load.start()
        time.sleep(1)
        out["staleness_loaded"] = staleness(cluster, args.rounds)
        for load in loads:
            load.join()
        runs = []
        for _ in range(args.pairs):
            for with_replica in (False, True):
                runs.append(loaded(cluster, bodies_file, args.seconds, with_replica))
        out["runs"] = runs
    print()
    print("Staleness window without a token (write on node A, then node B, minimize_latency)")
    print(
        "| nodes read from | cluster | p50 ms | p99 ms | max ms | rounds | first fresh answer by |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, reads, state in (
        ("idle_no_replica", "primary", "idle"),
        ("idle", "primary + replica", "idle"),
        ("loaded", "primary + replica", "both nodes loaded"),
    ):
        s = out[f"staleness_{name}"]
        by = ", ".join(f"{k} {v}" for k, v in sorted(s["first_fresh_answer_by"].items()))
        print(
            f"| {reads} | {state} | {s['p50_ms']:.1f} | {s['p99_ms']:.1f} | {s['max_ms']:.1f}"
            f" | {s['rounds']} | {by} |"
        )
    print()
    print("Checks on both nodes (wrk 4 connections each), 50 org changes/s")
    print("| reads from | checks/s | p99 ms | errors | primary xact/s | replica xact/s |")
    print("|---|---|---|---|---|---|")
    for r in out["runs"]:
        print(
            f"| {'primary + replica' if r['replica'] else 'primary only'} | {r['rps']:,.0f}"
            f" | {r['p99_ms']:.1f} | {r['errors']} | {r['primary_tps']:,.0f}"
            f" | {r['replica_tps']:,.0f} |"
        )
    for with_replica in (False, True):
        rps = [r["rps"] for r in out["runs"] if r["replica"] is with_replica]
        out[f"median_rps_{'replica' if with_replica else 'primary'}"] = statistics.median(rps)
    ratio = out["median_rps_replica"] / out["median_rps_primary"]
    print(f"\nprimary + replica / primary only, median checks/s: {ratio:.2f}")
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "cluster.json").write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
