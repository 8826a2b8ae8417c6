"""Breadth: the first page of list-resources at 10,000 and at 1,000,000 resources, whatever
the actor's grants, as a ratio.

One Pix4D organization per size, built alike: two root folders (A and B), ten folders in
each, ten in each of those (200 leaf folders), the datasets spread evenly over the leaves
and one small folder ``tiny`` of 20 datasets under A; dataset ids shuffled, so the rows an
actor may see are spread over the whole id order. Actors:

    broad    reader grant on root A: half of the datasets
    medium   reader grant on one folder under A: 5%
    narrow   reader grant on one leaf folder: 0.5%
    tiny     reader grant on ``tiny``: 20 datasets at either size
    org      the org's reader role, no grant: every dataset
    none     a member with no grant: nothing

Each figure is the median over ``runs`` first pages (``PAGE`` = 50 rows, memo warm) of
``access.listing.list_resources``, in process (the HTTP cost of a page does not depend on
the size; the table has an HTTP row).
"""

import random
import statistics
import time
import uuid

from access import listing
from access.targets import TargetBuilder
from bench.data import Writer, _now, add_teams, connect, drop, new_schema
from models import (
    ApiKey,
    Grant,
    Membership,
    Organization,
    Resource,
    Team,
    TeamGrant,
    TeamMember,
    User,
    db,
)

ORG = "breadth"
SIZES = (10_000, 1_000_000)
ACTORS = ("broad", "medium", "narrow", "tiny", "org", "none")
# A first page this long is full at both sizes for every actor but ``tiny`` (20) and ``none``
# (0): ``narrow``'s leaf holds 50 datasets at 10,000, so a page of 100 compared its whole
# subtree (50 rows) at 10,000 with 100 rows at 1,000,000, and the ratio measured the rows
# returned (1.78 in one run, 3.55 in another), not the size.
PAGE = 50


def build(url: str, size: int, log=print, teams: int | None = None):
    """A fresh schema (or SQLite file) holding the organization of ``size`` resources.

    ``teams`` (bench/teams.py; None: as above): the actor ``team`` too, a member with no
    grant of its own; and, when above 0, that many teams (bench/data.py ``add_teams``) on
    the mid and leaf folders, ``team`` in a team holding ``reader`` on the second folder
    under A (5%), ``narrow`` in one holding it on a second leaf."""
    import models
    from bench.data import Dataset

    if url.startswith("sqlite"):  # a file per size (and with or without teams)
        url = url.removesuffix(".db") + f"-{size}{'' if teams is None else f'-t{teams}'}.db"
    schema = None if url.startswith("sqlite") else new_schema(url)
    ds = Dataset(url=url, size=str(size), schema=schema)
    connect(url, schema)
    models.create_tables()
    started = time.perf_counter()
    rnd = random.Random(size)
    with db.connection_context():
        pg = not url.startswith("sqlite")
        if pg:
            db.execute_sql("SET session_replication_role = replica")
        with db.atomic():
            now = _now()
            Organization.create(id=ORG, name=ORG, style="pix4d", created_at=now)
            for actor in ACTORS + (() if teams is None else ("team",)):
                User.create(id=actor, email=f"{actor}@b.io", email_key=f"{actor}@b.io")
                role = "reader" if actor == "org" else "member"
                Membership.create(user=actor, org=ORG, role=role, created_at=now)
            res = Writer(Resource, with_id=True)
            pk = [0]

            def add(type_, rid, parent=None):
                pk[0] += 1
                path = f"{parent[1]}{parent[0]}/" if parent else ""
                shape = f"{parent[2]}/{type_}" if parent else type_
                res.add(
                    id=pk[0],
                    org=ORG,
                    type=type_,
                    rid=rid,
                    parent=parent[0] if parent else None,
                    owner=None,
                    attributes={},
                    path=path,
                    shape=shape,
                    created_at=now,
                    updated_at=now,
                )
                return (pk[0], path or "/", shape)

            leaves, mids, roots = [], [], []
            for r in "AB":
                root = add("Folder", f"root-{r}")
                roots.append(root)
                for i in range(10):
                    mid = add("Folder", f"mid-{r}{i}", root)
                    mids.append(mid)
                    for j in range(10):
                        leaves.append(add("Folder", f"leaf-{r}{i}-{j}", mid))
            tiny = add("Folder", "tiny", roots[0])
            n = size - pk[0] - 20
            ids = list(range(n + 20))
            rnd.shuffle(ids)
            for k in range(20):
                add("Dataset", f"d{ids[k]:07d}", tiny)
            for k in range(n):
                add("Dataset", f"d{ids[20 + k]:07d}", leaves[k % len(leaves)])
            res.flush()
            grants = {"broad": roots[0], "medium": mids[0], "narrow": leaves[0], "tiny": tiny}
            for actor, folder in grants.items():
                Grant.create(user=actor, resource=folder[0], org=ORG, role="reader", created_at=now)
            if teams:
                places = [("team", mids[1][0]), ("narrow", leaves[1][0])]
                folders = [f[0] for f in mids + leaves]
                ds.counts.update(add_teams(ORG, folders, teams, places, seed=size))
            if pg:
                db.execute_sql(
                    "SELECT setval(pg_get_serial_sequence('\"resource\"', 'id'), "
                    '(SELECT MAX(id) FROM "resource"))'
                )
            ds.api_key = ApiKey.create_key(f"breadth-{uuid.uuid4().hex[:6]}")
        if pg:
            db.execute_sql("SET session_replication_role = origin")
            db.execute_sql('UPDATE "generation" SET value = value + 1 WHERE id = 1')
            for model in (Resource, Grant, Membership, Team, TeamMember, TeamGrant):
                db.execute_sql(f'VACUUM ANALYZE "{model._meta.table_name}"')
        else:
            db.execute_sql("ANALYZE")
        ds.counts["Resource"] = Resource.select().count()
    ds.seconds = time.perf_counter() - started
    log(f"  breadth: {size:,} resources built in {ds.seconds:.1f} s")
    return ds


def first_pages(policy, runs: int, actors=ACTORS) -> dict:
    """ms of each of ``runs`` first pages (``PAGE``) per actor, and the page's length."""
    out = {}
    with db.connection_context():
        for actor in actors:
            facts = TargetBuilder()
            page = listing.list_resources(policy, facts, actor, "view", "Dataset", ORG, PAGE, None)
            times = []
            for _ in range(runs):
                facts = TargetBuilder()
                started = time.perf_counter()
                listing.list_resources(policy, facts, actor, "view", "Dataset", ORG, PAGE, None)
                times.append(time.perf_counter() - started)
            out[actor] = {"ms": times, "rows": len(page["items"])}
    return out


def run(url: str, policy, runs: int = 5, sizes=SIZES, rounds: int = 9, log=print) -> dict:
    """Both sizes built first (each in its own schema or file), then measured in turns,
    ``rounds`` times (the smaller first in even rounds, the larger in odd ones), so both see
    the machine alike; dropped after. An actor's ratio is the median of its rounds' ratios
    (each round's the median of ``runs`` first pages at each size), with their range."""
    built = {}
    try:
        for size in sizes:
            built[size] = build(url, size, log)
        ratios = {a: [] for a in ACTORS}
        ms = {size: {a: [] for a in ACTORS} for size in sizes}
        counts = {}
        for i in range(rounds):
            got = {}
            for size in sizes if i % 2 == 0 else sizes[::-1]:
                connect(built[size].url, built[size].schema)
                got[size] = first_pages(policy, runs)
            for actor in ACTORS:
                a, b = (statistics.median(got[size][actor]["ms"]) for size in sizes)
                ratios[actor].append(b / max(a, 1e-9))
                for size in sizes:
                    ms[size][actor].append(statistics.median(got[size][actor]["ms"]) * 1000)
                    counts[(size, actor)] = got[size][actor]["rows"]
    finally:
        for ds in built.values():
            connect(ds.url, ds.schema)
            drop(ds)
    rows = []
    small, large = sizes
    for actor in ACTORS:
        a, b = statistics.median(ms[small][actor]), statistics.median(ms[large][actor])
        r = ratios[actor]
        rows.append(
            {
                "actor": actor,
                "small_ms": a,
                "large_ms": b,
                "ratio": statistics.median(r),
                "ratio_min": min(r),
                "ratio_max": max(r),
                "rows": counts[(large, actor)],
            }
        )
        log(
            f"    {actor:7} first page {a:7.2f} ms at {small:,}, {b:7.2f} ms at {large:,} "
            f"(x{statistics.median(r):.2f} [{min(r):.2f}–{max(r):.2f}] over {rounds} rounds), "
            f"{counts[(large, actor)]} rows"
        )
    return {"sizes": list(sizes), "rounds": rounds, "rows": rows}
