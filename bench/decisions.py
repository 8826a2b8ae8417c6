"""In-process decision throughput through the project's own decision function.

Builds a SQLite (or DATABASE_URL) database with one Pix4D org, a folder chain ten deep with
a dataset at the bottom, users of each role, then times ``authz.decisions.decide`` for an
org-level check and a folder-inherited check, with the memo warm (the steady state) and
cold (every call a Polar query). Prints a table; writes bench/results/decisions.json.

    .venv/bin/python bench/decisions.py [--seconds 2]
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import models  # noqa: E402
from authz.decisions import decide  # noqa: E402
from authz.engine import POLICY_DIR, PolicySet  # noqa: E402
from authz.facts import Facts  # noqa: E402
from models import Grant, Membership, Organization, Resource, User, db  # noqa: E402


def build(url: str):
    models.init_db(url)
    models.create_tables()
    with db.connection_context(), db.atomic():
        Organization.create(id="b-org", name="bench", style="pix4d")
        for role in ("owner", "editor", "reader", "member"):
            User.create(id=f"b-{role}", email=f"{role}@b.io", email_key=f"{role}@b.io")
            Membership.create(user=f"b-{role}", org="b-org", role=role)
        parent = None
        for depth in range(10):
            parent = Resource.create(org="b-org", type="Folder", rid=f"b-f{depth}", parent=parent,
                                     path=parent.child_path if parent else "")
        Resource.create(org="b-org", type="Dataset", rid="b-deep", parent=parent,
                        path=parent.child_path)
        Grant.create(user="b-member", resource=Resource.get(rid="b-f0"), org="b-org", role="reader")


def rate(fn, seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    build(url)
    policy = PolicySet(POLICY_DIR)
    engine = policy.engine("pix4d")
    cases = {
        "org-level (owner edit_billing)": ("b-owner", "edit_billing", ("Organization", "b-org")),
        "folder-inherited, 10 deep (member view via grant)": ("b-member", "view", ("Dataset", "b-deep")),
        "deny (reader upload, 10 deep)": ("b-reader", "upload", ("Dataset", "b-deep")),
    }
    rows = []
    with db.connection_context():
        for name, (actor, action, (type_, rid)) in cases.items():
            def warm():
                facts = Facts()
                decide(policy, facts, actor, action, facts.registered(type_, rid))

            def cold():
                engine.is_allowed.cache_clear()
                warm()

            warm()
            rows.append({"case": name, "memo_warm_per_s": rate(warm, args.seconds),
                         "memo_cold_per_s": rate(cold, args.seconds)})
    print(f"\nIn-process decisions through authz.decisions.decide ({url.split(':')[0]}, "
          f"loading facts from the database each time)\n")
    print(f"| {'case':52} | {'memo warm /s':>12} | {'µs':>7} | {'memo cold /s':>12} | {'µs':>7} |")
    print(f"|{'-' * 54}|{'-' * 14}|{'-' * 9}|{'-' * 14}|{'-' * 9}|")
    for r in rows:
        print(f"| {r['case']:52} | {r['memo_warm_per_s']:12.0f} | {1e6 / r['memo_warm_per_s']:7.0f} "
              f"| {r['memo_cold_per_s']:12.0f} | {1e6 / r['memo_cold_per_s']:7.0f} |")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "decisions.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
