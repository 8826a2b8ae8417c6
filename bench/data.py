"""The benchmark data set: orgs of all three styles, users, memberships, a resource tree, grants.

Sizes (memberships / resources):
    small   10,000 /   2,000   (CI, seconds)
    large 1,000,000 / 100,000  (minutes on PostgreSQL)
    xlarge 10,000,000 / 1,000,000  (bench/scale.py; about 10 times large)

Every size also holds a fixed Pix4D org ``bench-pix4d`` that the timed cases ask about:
a chain of ten folders ``bench-f0`` .. ``bench-f9`` with the dataset ``bench-deep`` at the
bottom; ``bench-owner`` (owner) and ``bench-member`` (member, with a ``reader`` grant on
``bench-f0``, ten levels above the dataset) belong to 50 orgs each, like the tail of users
with 50 memberships; ``bench-reader`` is a plain reader.

Rows are written in bulk: ``COPY`` on PostgreSQL (into a schema of its own, made by
``models.create_tables()`` with ``search_path``; triggers off for the load, with
``session_replication_role``, then the change counter moved once), ``executemany`` in one
transaction on a fresh SQLite file (triggers dropped during the load and installed again
by the first migration after).
Random but seeded: the same size gives the same data.
"""

import datetime
import io
import json
import random
import time
import uuid
from dataclasses import dataclass, field

import peewee

import models
from models import ApiKey, Grant, Membership, Organization, Resource, User, db
from models.migrations import m0001_initial

WATCHED = m0001_initial.WATCHED

SIZES = {
    "small": {"memberships": 10_000, "resources": 2_000},
    "large": {"memberships": 1_000_000, "resources": 100_000},
    "xlarge": {"memberships": 10_000_000, "resources": 1_000_000},  # bench/scale.py
}
STYLES = ("pix4d", "up42", "respondio")
ORG_ROLES = {
    "pix4d": (["owner", "manager", "editor", "reader", "member"], [1, 2, 4, 8, 10]),
    "up42": (["admin", "member"], [1, 6]),
    "respondio": (["org_admin", "billing_admin", "user_admin", "member"], [1, 1, 1, 8]),
}
TAIL = 50  # memberships of a tail user
BENCH_ORG = "bench-pix4d"
DEPTH = 10


@dataclass
class Dataset:
    """What was built, and the ids the benchmark asks about."""

    url: str
    size: str
    schema: str | None
    counts: dict = field(default_factory=dict)
    seconds: float = 0.0
    api_key: str = ""
    # sample checks over the whole population: (actor, action, type, rid)
    sample: list = field(default_factory=list)


def _now():
    return datetime.datetime(2026, 11, 1, 12, 0, 0)


def _columns(model, with_id=False):
    return [f for f in model._meta.sorted_fields if with_id or not isinstance(f, peewee.AutoField)]


def _row(model, values: dict, with_id=False) -> tuple:
    out = []
    for f in _columns(model, with_id):
        if f.name in values:
            v = values[f.name]
        elif f.default is not None:
            v = f.default() if callable(f.default) else f.default
        else:
            v = None
        out.append(f.db_value(v))
    return tuple(out)


def _pg_text(v) -> str:
    if v is None:
        return "\\N"
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, datetime.datetime):
        return v.isoformat(sep=" ")
    s = str(v)
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


class Writer:
    """Bulk rows into one table: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self, model, batch=50_000, with_id=False, after=()):
        self.model, self.batch, self.rows, self.count = model, batch, [], 0
        self.with_id, self.after = with_id, after  # writers to flush first (foreign keys)
        self.pg = not isinstance(db.obj, peewee.SqliteDatabase)

    def add(self, **values):
        self.rows.append(_row(self.model, values, self.with_id))
        if len(self.rows) >= self.batch:
            self.flush()

    def flush(self):
        if not self.rows:
            return
        for w in self.after:
            w.flush()
        cols = [f.column_name for f in _columns(self.model, self.with_id)]
        table = self.model._meta.table_name
        if self.pg:
            buf = io.StringIO()
            for r in self.rows:
                buf.write("\t".join(_pg_text(v) for v in r))
                buf.write("\n")
            buf.seek(0)
            collist = ", ".join(f'"{c}"' for c in cols)
            db.cursor().copy_expert(f'COPY "{table}" ({collist}) FROM STDIN', buf)
        else:
            marks = ", ".join("?" * len(cols))
            collist = ", ".join(f'"{c}"' for c in cols)
            db.connection().executemany(
                f'INSERT INTO "{table}" ({collist}) VALUES ({marks})', self.rows
            )
        self.count += len(self.rows)
        self.rows = []


def connect(url: str, schema: str | None):
    """Bind models.db to ``url`` (in ``schema`` on PostgreSQL)."""
    if url.startswith("sqlite"):
        return models.init_db(url)
    return models.init_db(url, options=f"-c search_path={schema}")


def new_schema(url: str) -> str:
    schema = f"orgbench_{uuid.uuid4().hex[:10]}"
    database = models.open_database(url)
    database.connect()
    database.execute_sql(f'CREATE SCHEMA "{schema}"')
    database.close()
    return schema


def drop(ds: Dataset) -> None:
    """Remove what ``build`` made (the PostgreSQL schema, or the SQLite file)."""
    if not db.is_closed():
        db.close()
    if hasattr(db.obj, "close_all"):
        db.obj.close_all()
    if ds.schema:
        database = models.open_database(ds.url)
        database.connect()
        database.execute_sql(f'DROP SCHEMA "{ds.schema}" CASCADE')
        database.close()
    elif ds.url.startswith("sqlite:///"):
        import os

        path = ds.url[len("sqlite:///") :]
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)


def _drop_sqlite_triggers():
    for t in WATCHED:
        for e in ("insert", "update", "delete"):
            db.execute_sql(f'DROP TRIGGER IF EXISTS "bump_{t}_{e}"')
    for e in ("insert", "delete"):
        db.execute_sql(f'DROP TRIGGER IF EXISTS "bump_user_{e}"')


def build(url: str, size: str, seed: int = 7, log=print) -> Dataset:
    """Create the tables in a fresh schema (or SQLite file) and fill them. Returns a Dataset."""
    schema = None if url.startswith("sqlite") else new_schema(url)
    ds = Dataset(url=url, size=size, schema=schema)
    try:
        return _build(ds, seed, log)
    except BaseException:
        drop(ds)
        raise


def _build(ds: Dataset, seed: int, log) -> Dataset:
    url, size, schema = ds.url, ds.size, ds.schema
    spec = SIZES[size]
    connect(url, schema)
    models.create_tables()
    rnd = random.Random(seed)
    started = time.perf_counter()
    n_mem = spec["memberships"]
    n_res = spec["resources"]
    n_orgs = max(30, n_mem // 100)
    n_tail = max(4, n_mem // 20_000)  # ~5% of memberships held by users of 50
    with db.connection_context():
        pg = not isinstance(db.obj, peewee.SqliteDatabase)
        if not pg:
            _drop_sqlite_triggers()
        else:  # no trigger per COPY (the change notices), no foreign-key check per row
            db.execute_sql("SET session_replication_role = replica")
        with db.atomic():
            now = _now()
            orgs = [(f"o{i:06d}", STYLES[i % 3]) for i in range(n_orgs)]
            w = Writer(Organization)
            w.add(id=BENCH_ORG, name="bench", style="pix4d", created_at=now)
            for oid, style in orgs:
                w.add(id=oid, name=oid, style=style, created_at=now)
            w.flush()
            style_of = dict(orgs)
            style_of[BENCH_ORG] = "pix4d"

            # users and memberships
            users = Writer(User)
            mems = Writer(Membership, after=(users,))
            members = {}  # org -> list of (user, role), kept for grants and the sample

            def add_user(uid):
                users.add(id=uid, email=f"{uid}@b.io", email_key=f"{uid}@b.io", name=uid)

            def add_member(uid, oid, role):
                mems.add(user=uid, org=oid, role=role, created_at=now)
                members.setdefault(oid, []).append((uid, role))

            for uid, role in (
                ("bench-owner", "owner"),
                ("bench-member", "member"),
                ("bench-reader", "reader"),
                ("bench-editor", "editor"),
            ):
                add_user(uid)
                add_member(uid, BENCH_ORG, role)
            for uid in ("bench-owner", "bench-member"):  # tail users: 49 more orgs each
                for oid in rnd.sample([o for o, _ in orgs], TAIL - 1):
                    roles, weights = ORG_ROLES[style_of[oid]]
                    add_member(uid, oid, rnd.choices(roles, weights)[0])
            left = n_mem - mems.count - len(mems.rows)
            i = 0
            while left > 0:
                uid = f"u{i:07d}"
                k = TAIL if i < n_tail else rnd.choice((1, 2, 3))
                k = min(k, left)
                add_user(uid)
                for oid in (
                    rnd.sample([o for o, _ in orgs], k)
                    if k > 3
                    else {orgs[rnd.randrange(n_orgs)][0] for _ in range(k)}
                ):
                    roles, weights = ORG_ROLES[style_of[oid]]
                    add_member(uid, oid, rnd.choices(roles, weights)[0])
                    left -= 1
                i += 1
            users.flush()
            mems.flush()

            # resources: ids assigned here so paths need no round trip
            res = Writer(Resource, with_id=True)
            grants = Writer(Grant, after=(res,))
            next_pk = [1]
            resources_of = {}  # org -> [(type, rid, pk)]

            def add_res(oid, type_, rid, parent=None, owner=None, attributes=None):
                pk = next_pk[0]
                next_pk[0] += 1
                path = f"{parent[1]}{parent[0]}/" if parent else ""
                shape = f"{parent[2]}/{type_}" if parent else type_
                res.add(
                    id=pk,
                    org=oid,
                    type=type_,
                    rid=rid,
                    parent=parent[0] if parent else None,
                    owner=owner,
                    attributes=attributes or {},
                    path=path or "",
                    shape=shape,
                    created_at=now,
                    updated_at=now,
                )
                resources_of.setdefault(oid, []).append((type_, rid, pk))
                return (pk, path or "/", shape)  # (pk, path of its children's prefix, shape)

            # the bench chain
            parent = None
            for d in range(DEPTH):
                parent = add_res(BENCH_ORG, "Folder", f"bench-f{d}", parent)
                if d == 0:
                    f0 = parent[0]
            add_res(BENCH_ORG, "Dataset", "bench-deep", parent)
            grants.add(
                user="bench-member", resource=f0, org=BENCH_ORG, role="reader", created_at=now
            )

            # the rest: per org a small tree of its style's types
            per_org, extra = divmod(max(n_orgs, n_res - next_pk[0] + 1), n_orgs)
            n = 0
            for k, (oid, style) in enumerate(orgs):
                budget = per_org + (1 if k < extra else 0)
                if style == "pix4d":
                    while budget > 0:
                        top = add_res(oid, "Folder", f"{oid}-r{n}")
                        n += 1
                        budget -= 1
                        sub = top
                        for _ in range(rnd.randint(0, 3)):
                            if budget <= 0:
                                break
                            sub = add_res(oid, "Folder", f"{oid}-r{n}", sub)
                            n += 1
                            budget -= 1
                        for _ in range(min(budget, rnd.randint(1, 4))):
                            add_res(oid, "Dataset", f"{oid}-r{n}", sub)
                            n += 1
                            budget -= 1
                elif style == "up42":
                    mem = members.get(oid) or [(None, None)]
                    while budget > 0:
                        ws = add_res(oid, "Workspace", f"{oid}-r{n}", owner=rnd.choice(mem)[0])
                        n += 1
                        budget -= 1
                        for _ in range(min(budget, rnd.randint(1, 5))):
                            add_res(oid, "Asset", f"{oid}-r{n}", ws, owner=rnd.choice(mem)[0])
                            n += 1
                            budget -= 1
                else:
                    for _ in range(budget):
                        add_res(oid, "Space", f"{oid}-r{n}")
                        n += 1
                # grants: a tenth of the members of pix4d and respondio orgs get one
                if style != "up42":
                    targets = [r for r in resources_of.get(oid, ()) if r[0] in ("Folder", "Space")]
                    seen = set()
                    for uid, _role in members.get(oid, ()):
                        if targets and rnd.random() < 0.1:
                            t = rnd.choice(targets)
                            if (uid, t[2]) in seen:
                                continue
                            seen.add((uid, t[2]))
                            grole = (
                                "member"
                                if style == "respondio"
                                else rnd.choice(("reader", "editor"))
                            )
                            grants.add(user=uid, resource=t[2], org=oid, role=grole, created_at=now)
            res.flush()
            grants.flush()
            if pg:
                for model in (Resource, Grant, Membership):
                    t = model._meta.table_name
                    db.execute_sql(
                        f"SELECT setval(pg_get_serial_sequence('\"{t}\"', 'id'), "
                        f'(SELECT COALESCE(MAX(id), 1) FROM "{t}"))'
                    )
            ds.api_key = ApiKey.create_key(f"bench-{uuid.uuid4().hex[:6]}")
        if not pg:
            m0001_initial.up(db.obj)
            db.execute_sql("ANALYZE")
        else:
            db.execute_sql("SET session_replication_role = origin")
            db.execute_sql('UPDATE "generation" SET value = value + 1 WHERE id = 1')
            for model in (User, Organization, Membership, Resource, Grant):  # and index-only scans
                db.execute_sql(f'VACUUM ANALYZE "{model._meta.table_name}"')
        ds.counts = {
            m.__name__: m.select().count()
            for m in (Organization, User, Membership, Resource, Grant)
        }
    ds.seconds = time.perf_counter() - started
    # a sample of checks over the whole population (HTTP mixed load, agreement)
    perms = {
        "pix4d": {
            "Folder": ["view", "upload", "delete"],
            "Dataset": ["view", "edit"],
            "Organization": ["view", "invite_members", "edit_billing"],
        },
        "up42": {
            "Workspace": ["view", "edit"],
            "Asset": ["view", "delete"],
            "Organization": ["view", "buy_credits"],
        },
        "respondio": {"Space": ["view", "use", "edit"], "Organization": ["view", "close"]},
    }
    orgs_with = [o for o in members if o != BENCH_ORG]
    for _ in range(5000):
        oid = rnd.choice(orgs_with)
        uid = rnd.choice(members[oid])[0]
        pool = resources_of.get(oid, [])
        if pool and rnd.random() < 0.8:
            type_, rid, _ = rnd.choice(pool)
        else:
            type_, rid = "Organization", oid
        action = rnd.choice(perms[style_of[oid]][type_])
        ds.sample.append((uid, action, type_, rid))
    log(
        f"built {size} on {url.split(':')[0]}"
        f"{' schema ' + schema if schema else ''} in {ds.seconds:.1f} s: {ds.counts}"
    )
    return ds


def default_url(backend: str, tmpdir: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmpdir}/bench.db"
    import os

    return os.environ.get(
        "BENCH_PG_URL",
        os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )


if __name__ == "__main__":  # quick check: python bench/data.py small sqlite
    import sys
    import tempfile

    sys.path.insert(0, ".")
    backend = sys.argv[2] if len(sys.argv) > 2 else "sqlite"
    d = build(
        default_url(backend, tempfile.mkdtemp()), sys.argv[1] if len(sys.argv) > 1 else "small"
    )
    print(json.dumps(d.counts))
    drop(d)
