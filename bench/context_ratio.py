"""What a check's request context costs (docs/API.md 1.3): ``POST /v1/authorize`` in process,
through the app's WSGI fast path, with ``context`` and without, on SQLite with the demo data.

    .venv/bin/python -m bench.context_ratio [--rounds 5] [--n 2000]

Variants, per case:
    plain          no context: the worker's known answers after the first check
    ip, repeated   the same ``context.ip`` every time: decided (a check with context is never
                   a known answer) from the engine memo, which keys on the ip only where the
                   style reads it (the Organization)
    ip, distinct   a new ip every check: where the style reads it, a memo miss (Polar) each time

Prints, per round, microseconds per check and the ratio to plain; then each figure's range
over the rounds (never a best run). Standalone: it touches no other benchmark.
"""

import argparse
import ipaddress
import os
import sys
import tempfile
import time

CASES = [  # (name, actor, action, resource); the pix4d rules read context.ip on Organization
    (
        "org edit_details",
        "pix4d-owner",
        "edit_details",
        {"type": "Organization", "id": "org-pix4d"},
    ),
    ("dataset view", "pix4d-member", "view", {"type": "Dataset", "id": "pix4d-bridge-scan"}),
]


def build():
    import models
    from access.demo import load_demo
    from app import create_app
    from authz.engine import POLICY_DIR
    from models import ApiKey, db

    folder = tempfile.mkdtemp(prefix="context-ratio-")
    url = f"sqlite:///{os.path.join(folder, 'bench.db')}"
    models.init_db(url)
    models.create_tables()
    app = create_app(
        {
            "DATABASE_URL": url,
            "DATABASE_BOUND": True,
            "POLICY_DIR": str(POLICY_DIR),
            "DECISION_LOG": os.path.join(folder, "decisions.log"),
            "RATE_LIMIT": "100000000 per minute",
        }
    )
    with db.connection_context():
        load_demo(app.extensions["orgauthz.policy"].current)
        key = ApiKey.create_key("context-ratio")
    return app.test_client(), {"Authorization": f"Bearer {key}"}


def per_check(client, headers, bodies) -> float:
    """Microseconds per check over ``bodies`` (each answered 200)."""
    start = time.perf_counter()
    for body in bodies:
        got = client.post("/v1/authorize", json=body, headers=headers)
        if got.status_code != 200:
            sys.exit(f"unexpected {got.status_code}: {got.get_data(as_text=True)}")
    return (time.perf_counter() - start) / len(bodies) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    client, headers = build()
    import logging

    logging.disable(logging.INFO)  # the access log's line per request is not what is measured
    base = int(ipaddress.ip_address("10.0.0.0"))
    seen: dict = {}
    counter = 0
    for rnd in range(args.rounds):
        for name, actor, action, resource in CASES:
            check = {"actor": {"id": actor}, "action": action, "resource": resource}
            plain = [check] * args.n
            same = [{**check, "context": {"ip": "203.0.113.7"}}] * args.n
            distinct = []
            for _ in range(args.n):
                counter += 1
                ip = str(ipaddress.ip_address(base + counter))
                distinct.append({**check, "context": {"ip": ip}})
            per_check(client, headers, plain[:50] + same[:50])  # warm
            # Interleaved in chunks of 100, so the machine's load drifts over all three alike.
            totals = {"plain": 0.0, "ip, repeated": 0.0, "ip, distinct": 0.0}
            for at in range(0, args.n, 100):
                for variant, bodies in (
                    ("plain", plain),
                    ("ip, repeated", same),
                    ("ip, distinct", distinct),
                ):
                    chunk = bodies[at : at + 100]
                    totals[variant] += per_check(client, headers, chunk) * len(chunk)
            row = {k: v / args.n for k, v in totals.items()}
            line = "  ".join(f"{k} {v:7.1f} us ({v / row['plain']:.2f}x)" for k, v in row.items())
            print(f"round {rnd + 1} {name:17} {line}", flush=True)
            for k, v in row.items():
                seen.setdefault((name, k), []).append((v, v / row["plain"]))
    print("\nranges over the rounds (us per check; ratio to plain):")
    for (name, variant), values in seen.items():
        us = [v for v, _ in values]
        ratios = [r for _, r in values]
        print(
            f"  {name:17} {variant:13} {min(us):7.1f} to {max(us):7.1f} us   "
            f"{min(ratios):.2f}x to {max(ratios):.2f}x"
        )


if __name__ == "__main__":
    main()
