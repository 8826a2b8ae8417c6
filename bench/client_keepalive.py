"""Client calls per second against POST /v1/authorize: one kept-alive connection, against a
fresh TCP connection per call.

gunicorn with the Procfile's settings (tests/serving.py: 2 workers, SQLite, the demo data)
on 127.0.0.1; one thread calls ``authorize`` in a loop (the same hot check, so the decision
is memoized and the transport is what differs) for a fixed time per way, after a warm-up:

- the orgauthz client, one ``Client`` for every call (its pool keeps one connection alive);
- the orgauthz client with ``keepalive=False`` (a new TCP connection for each call);
- a new ``Client`` per call (what ``with Client(...)`` around each call costs);
- ``http.client`` on one kept-alive connection, no client library (the floor).

    .venv/bin/python bench/client_keepalive.py [--seconds 10]

Prints a table and writes bench/results/client_keepalive.json.
"""

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orgauthz_client import Client  # noqa: E402

from tests.serving import start_gunicorn, stop  # noqa: E402

CHECK = ("pix4d-member", "view", ("Dataset", "pix4d-bridge-scan"))
BODY = json.dumps(
    {
        "actor": {"id": CHECK[0]},
        "action": CHECK[1],
        "resource": {"type": CHECK[2][0], "id": CHECK[2][1]},
    }
)


def timed(call, seconds: float) -> dict:
    """Call ``call()`` for ``seconds``; calls per second and latency percentiles (ms)."""
    latencies = []
    end = time.perf_counter() + seconds
    while (now := time.perf_counter()) < end:
        call()
        latencies.append(time.perf_counter() - now)
    latencies.sort()
    total = sum(latencies)
    return {
        "calls": len(latencies),
        "calls_per_s": len(latencies) / total,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0, help="per way, after warm-up")
    parser.add_argument("--rounds", type=int, default=2, help="each way this many times")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="orgauthz-client-bench-"))
    proc, port, key = start_gunicorn(folder, ORGAUTHZ_DECISION_LOG="off", LOG_LEVEL="WARNING")
    url = f"http://127.0.0.1:{port}"
    try:
        kept = Client(url, key)
        fresh = Client(url, key, keepalive=False)
        raw = [http.client.HTTPConnection("127.0.0.1", port, timeout=10)]
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

        def raw_call() -> None:
            try:
                raw[0].request("POST", "/v1/authorize", body=BODY, headers=headers)
            except OSError:  # the server closed it while idle (keepalive 30 s): reopen once
                raw[0].close()
                raw[0] = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                raw[0].request("POST", "/v1/authorize", body=BODY, headers=headers)
            response = raw[0].getresponse()
            assert response.status == 200 and json.loads(response.read())["allowed"]

        def client_per_call() -> None:
            with Client(url, key) as once:
                assert once.authorize(*CHECK).allowed

        ways = {
            "client, one kept-alive connection": lambda: kept.authorize(*CHECK),
            "client, keepalive=False (new TCP connection per call)": lambda: fresh.authorize(
                *CHECK
            ),
            "a new Client per call": client_per_call,
            "http.client, one kept-alive connection (no client library)": raw_call,
        }
        assert kept.authorize(*CHECK).allowed and fresh.authorize(*CHECK).allowed
        for call in ways.values():  # warm both workers' memo and every path
            timed(call, 1.0)
        rounds: dict[str, list[dict]] = {name: [] for name in ways}
        for _ in range(args.rounds):  # interleaved, so drift in the machine hits each way
            for name, call in ways.items():
                rounds[name].append(timed(call, args.seconds))
        kept.close()
        fresh.close()
        raw[0].close()
    finally:
        stop(proc)

    results = {
        name: {
            "calls": sum(r["calls"] for r in runs),
            "calls_per_s": statistics.fmean(r["calls_per_s"] for r in runs),
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms": max(r["p99_ms"] for r in runs),
            "runs_calls_per_s": [round(r["calls_per_s"], 1) for r in runs],
        }
        for name, runs in rounds.items()
    }
    base = results["client, one kept-alive connection"]["calls_per_s"]
    print(
        f"\nPOST /v1/authorize, one thread, {args.rounds} x {args.seconds:g} s per way, "
        "gunicorn 2 workers x 4 threads on 127.0.0.1, decision log off\n"
    )
    print("| way | calls/s | x kept-alive client | p50 ms | p99 ms | calls/s per run |")
    print("|---|---:|---:|---:|---:|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['calls_per_s']:.0f} | {r['calls_per_s'] / base:.2f} | "
            f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            + ", ".join(f"{v:.0f}" for v in r["runs_calls_per_s"])
            + " |"
        )
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "client_keepalive.json").write_text(
        json.dumps({"seconds": args.seconds, "rounds": args.rounds, "results": results}, indent=2)
    )


if __name__ == "__main__":
    main()
