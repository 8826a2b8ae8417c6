"""List queries and deep decisions with 100,000 registered resources and 10,000 users.

Builds one Pix4D organization: 2,046 folders in a tree ten deep (two roots, two sub-folders
each), 97,954 datasets spread over them (100,000 resources), 10,000 users (members; a few
owners and readers; 2,000 of them with a grant on a random folder). ``bench-member`` holds a
``reader`` grant on one folder five deep whose subtree holds exactly 1,000 datasets.
Dataset ids are shuffled, so the visible ones are spread over the whole id order.

Then times, median of ``--runs``:
* the first page (50) of ``/v1/authorize/resources`` for bench-member (view Dataset):
  in-process (``access.listing``), memo warm and cold, and through the Flask app;
* the whole list (all pages), to check it is exactly the 1,000;
* ``decide`` on the organization and on a dataset ten folders deep, memo warm.

    python bench/listing.py [--database-url postgresql://postgres@127.0.0.1:5432/test]

On PostgreSQL it works in a schema of its own (``bench_listing``), dropped at the end
unless ``--keep``. Rows go in with ``insert_many`` in batches.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

# The project root, not bench/ (whose http.py would shadow the standard library's).
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import models  # noqa: E402
from access import listing  # noqa: E402
from access.decisions import decide  # noqa: E402
from access.targets import TargetBuilder  # noqa: E402
from authz.engine import POLICY_DIR, PolicySet  # noqa: E402
from models import ApiKey, Grant, Membership, Organization, Resource, User, db  # noqa: E402

ORG = "bench"
TOTAL = 100_000
DEPTH = 10
VISIBLE = 1_000
GRANT_DEPTH = 5
USERS = 10_000
SCHEMA = "bench_listing"


def build(seed: int = 7) -> dict:
    """Fill the database; returns the ids the timings use."""
    rnd = random.Random(seed)
    models.create_tables()
    with db.atomic():
        Organization.create(id=ORG, name="bench", style="pix4d")
        users = [
            {"id": f"u{i:05d}", "email": f"u{i}@b.io", "email_key": f"u{i}@b.io"}
            for i in range(USERS - 1)
        ] + [{"id": "bench-member", "email": "m@b.io", "email_key": "m@b.io"}]
        for i in range(0, len(users), 2000):
            User.insert_many(users[i : i + 2000]).execute()
        members = [
            {
                "user": u["id"],
                "org": ORG,
                "role": "owner" if i < 5 else "reader" if i < 100 else "member",
            }
            for i, u in enumerate(users)
        ]
        for i in range(0, len(members), 2000):
            Membership.insert_many(members[i : i + 2000]).execute()

        # Folders: ids chosen here, so paths are known without reading back.
        folders, level, next_id = [], [], 1
        for _root in range(2):
            level.append(
                {
                    "id": next_id,
                    "rid": f"f-{next_id}",
                    "path": "",
                    "shape": "Folder",
                    "parent": None,
                }
            )
            next_id += 1
        for depth in range(DEPTH):
            folders += level
            if depth == DEPTH - 1:
                break
            below = []
            for f in level:
                for _ in range(2):
                    below.append(
                        {
                            "id": next_id,
                            "rid": f"f-{next_id}",
                            "path": f"{f['path'] or '/'}{f['id']}/",
                            "shape": f"{f['shape']}/Folder",
                            "parent": f["id"],
                        }
                    )
                    next_id += 1
            level = below
        granted = next(f for f in folders if f["shape"].count("/") == GRANT_DEPTH)
        prefix = f"{granted['path'] or '/'}{granted['id']}/"
        inside = [f for f in folders if f is granted or f["path"].startswith(prefix)]
        outside = [f for f in folders if f not in inside]
        datasets_total = TOTAL - len(folders)
        placement = [inside[i % len(inside)] for i in range(VISIBLE)]
        placement += [outside[i % len(outside)] for i in range(datasets_total - VISIBLE)]
        numbers = list(range(datasets_total))
        rnd.shuffle(numbers)
        rows = [
            {
                "id": f["id"],
                "org": ORG,
                "type": "Folder",
                "rid": f["rid"],
                "parent": f["parent"],
                "path": f["path"],
                "shape": f["shape"],
                "attributes": {},
            }
            for f in folders
        ]
        deep = None
        for n, f in zip(numbers, placement):
            rows.append(
                {
                    "id": next_id,
                    "org": ORG,
                    "type": "Dataset",
                    "rid": f"d-{n:06d}",
                    "parent": f["id"],
                    "path": f"{f['path'] or '/'}{f['id']}/",
                    "shape": f"{f['shape']}/Dataset",
                    "attributes": {},
                }
            )
            if deep is None and f["shape"].count("/") == DEPTH - 1 and f in inside:
                deep = f"d-{n:06d}"
            next_id += 1
        for i in range(0, len(rows), 5000):
            Resource.insert_many(rows[i : i + 5000]).execute()
        if not isinstance(db.obj, models.base.peewee.SqliteDatabase):
            db.execute_sql(f"SELECT setval(pg_get_serial_sequence('resource', 'id'), {next_id})")
        grants = [{"user": "bench-member", "resource": granted["id"], "org": ORG, "role": "reader"}]
        for uid in rnd.sample([u["id"] for u in users[100:-1]], 2000):
            grants.append(
                {
                    "user": uid,
                    "resource": rnd.choice(folders)["id"],
                    "org": ORG,
                    "role": rnd.choice(["reader", "editor"]),
                }
            )
        Grant.insert_many(grants).execute()
    if not isinstance(db.obj, models.base.peewee.SqliteDatabase):
        for model in (Resource, Grant, Membership, User):
            db.execute_sql(f'ANALYZE "{model._meta.table_name}"')
    return {"deep_dataset": deep, "granted_folder": granted["rid"]}


def existing() -> dict:
    """The ids the timings use, from data a previous ``--keep`` run built."""
    granted = Grant.get(Grant.user == "bench-member").resource
    deep = (
        Resource.select()
        .where(
            Resource.path.startswith(granted.child_path)
            & (Resource.type == "Dataset")
            & (Resource.shape == "/".join(["Folder"] * DEPTH + ["Dataset"]))
        )
        .first()
    )
    return {"deep_dataset": deep.rid, "granted_folder": granted.rid}


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL schema")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time the data a --keep run left (PostgreSQL), do not build",
    )
    args = parser.parse_args()
    url = args.database_url
    if url == "sqlite":
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    pg = not url.startswith("sqlite")
    if pg:
        setup = models.open_database(url)
        setup.connect()
        if not args.reuse:
            setup.execute_sql(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
            setup.execute_sql(f'CREATE SCHEMA "{SCHEMA}"')
        setup.close()
        models.init_db(url, options=f"-c search_path={SCHEMA}")
    else:
        models.init_db(url)
    started = time.perf_counter()
    with db.connection_context():
        ids = existing() if args.reuse and pg else build()
        ApiKey.delete().where(ApiKey.name == "bench").execute()
        key = ApiKey.create_key("bench")
    build_s = time.perf_counter() - started

    policy = PolicySet(POLICY_DIR)
    engine = policy.engine("pix4d")
    results = []
    with db.connection_context():

        def first_page():
            return listing.list_resources(
                policy, TargetBuilder(), "bench-member", "view", "Dataset", ORG, 50, None
            )

        def first_page_cold():
            engine.is_allowed.clear()
            return first_page()

        first_page()
        results.append(
            (
                "list resources, first page of 50 (in-process, memo warm)",
                median_ms(first_page, args.runs),
            )
        )
        results.append(
            (
                "list resources, first page of 50 (in-process, memo cold)",
                median_ms(first_page_cold, max(5, args.runs // 5)),
            )
        )
        seen, after = [], None
        start = time.perf_counter()
        while True:
            page = listing.list_resources(
                policy, TargetBuilder(), "bench-member", "view", "Dataset", ORG, 500, after
            )
            seen += [i["id"] for i in page["items"]]
            after = page["next"]
            if after is None:
                break
        results.append(
            (
                f"list resources, all pages of 500 ({len(seen)} rows)",
                (time.perf_counter() - start) * 1000,
            )
        )
        assert len(seen) == VISIBLE and len(set(seen)) == VISIBLE, len(seen)
        deep_node = TargetBuilder().find("Dataset", ids["deep_dataset"])
        assert len(deep_node.chain) == DEPTH + 2, [n.type for n in deep_node.chain]

        from access.cache import CACHE

        def decision(type_, rid, cached):
            def run():
                facts = TargetBuilder(CACHE.view()) if cached else TargetBuilder()
                assert decide(policy, facts, "bench-member", "view", facts.find(type_, rid)).allowed

            run()
            return median_ms(run, args.runs * 4)

        ratios = {}
        for cached, label in (
            (False, "facts read from the database"),
            (True, "facts cached, as /v1/authorize runs"),
        ):
            org_ms = decision("Organization", ORG, cached)
            deep_ms = decision("Dataset", ids["deep_dataset"], cached)
            results.append((f"decide on the organization ({label}, memo warm)", org_ms))
            results.append((f"decide on a dataset 10 folders deep ({label}, memo warm)", deep_ms))
            ratios[label] = deep_ms / org_ms

    from app import create_app

    app = create_app({"DATABASE_URL": url, "DATABASE_BOUND": True})
    client = app.test_client()
    body = {"actor": {"id": "bench-member"}, "action": "view", "type": "Dataset", "org": ORG}
    headers = {"Authorization": f"Bearer {key}"}

    def http_page():
        response = client.post("/v1/authorize/resources", json=body, headers=headers)
        assert response.status_code == 200 and len(response.get_json()["items"]) == 50

    http_page()
    results.append(
        (
            "list resources, first page of 50 (HTTP through the Flask app)",
            median_ms(http_page, args.runs),
        )
    )

    backend = "PostgreSQL" if pg else "SQLite"
    print(
        f"\n{TOTAL:,} resources ({DEPTH} folders deep), {USERS:,} users, {backend};"
        f" built in {build_s:.1f} s; median of {args.runs} runs\n"
    )
    print("| measurement | ms |")
    print("|---|---:|")
    for name, ms in results:
        print(f"| {name} | {ms:.2f} |")
    for label, ratio in ratios.items():
        print(f"| ratio deep dataset / organization decision ({label}) | {ratio:.2f}x |")
    if pg and not args.keep:
        db.close()
        if hasattr(db.obj, "close_all"):
            db.obj.close_all()
        setup.connect()
        setup.execute_sql(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
        setup.close()


if __name__ == "__main__":
    main()
