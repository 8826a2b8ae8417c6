"""The performance table over HTTP (issue "Performance"): orgauthz and the servers it is
measured against, all behind the same gunicorn settings (gunicorn.conf.py), loaded by wrk
(1 thread, 8 connections, keep-alive) from another process, in one run.

Every server is started first and stays up; then the issue's table is timed round by round
(bench/ratios.py: each target's two runs back to back, A B then B A, every round), the rows
that are no target's run once a round after it; each row's figure is the median of its runs.
A ratio compares two runs of the same round, and states its spread over the rounds.

    python -m bench.table --markdown bench/results/large.json            # print the table
    python -m bench.table --markdown bench/results/large.json --write bench/README.md

Rows (see ``ROWS``): the floor (a bare WSGI callable, a WSGI callable with the dict, minimal
Flask), minimal Flask with a dict, casbin, cedarpy and raw oso answering the same check;
orgauthz /healthz, one check repeated, varied checks over the whole population, batches of
100, a list query, an invite and a role change. Then, one connection each: a single check, a
batch of 100, the two writes and a bare ``INSERT ... COMMIT``; the fact cache under writes in
other orgs; the staleness of ``minimize_latency`` answers after a write.
"""

import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from bench import ratios  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_env(url: str, schema: str | None) -> dict:
    """The environment of a process of this checkout on the data set (``url``, ``schema``):
    the repo's own policy (no override from the caller's environment), warnings only."""
    full = dict(os.environ, DATABASE_URL=url, LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    full.pop("ORGAUTHZ_POLICY_DIR", None)
    full.pop("ORGAUTHZ_POLICY_SOURCE", None)
    if schema:
        full["PGOPTIONS"] = f"-c search_path={schema}"
    return full


class Served:
    """``gunicorn -c gunicorn.conf.py APP`` on a free loopback port, ``workers`` gunicorn
    workers (``env`` may say otherwise); stopped by ``stop``."""

    def __init__(
        self, app: str, url: str, schema: str | None, env: dict | None = None, workers: int = 2
    ):
        self.port = free_port()
        self.tmp = tempfile.mkdtemp(prefix="orgauthz-bench-served-")
        full = app_env(url, schema)
        full.update(
            {
                "BIND": f"127.0.0.1:{self.port}",
                "WEB_CONCURRENCY": str(workers),
                "ORGAUTHZ_DECISION_LOG": os.path.join(self.tmp, "decisions.log"),
                "ORGAUTHZ_SNAPSHOT_DIR": os.path.join(self.tmp, "snapshots"),
                "PROMETHEUS_MULTIPROC_DIR": os.path.join(self.tmp, "metrics"),
            }
        )
        full.update(env or {})
        os.makedirs(full["PROMETHEUS_MULTIPROC_DIR"])
        self.log = open(os.path.join(self.tmp, "gunicorn.log"), "w")
        conf = "gunicorn.conf.py" if app.startswith("app:") else "bench/gunicorn_peers.py"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", conf, app],
            cwd=ROOT,
            env=full,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 180
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{app} exited: " + open(self.log.name).read()[-3000:])
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError(f"{app} did not answer /healthz")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def workers(self) -> list:
        from bench.httpload import worker_pids

        return worker_pids(self.proc.pid)


def wrk(
    url: str,
    arg: str,
    seconds: float,
    key: str = "",
    connections: int = 8,
    script: str = "wrk.lua",
) -> dict:
    """One wrk run; ``arg``: the bodies (or calls) file, or "-" for GETs."""
    env = dict(os.environ, BENCH_KEY=key)
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s"]
    cmd += ["-s", str(HERE / script), url, "--", arg]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60).stdout
    line = next((ln for ln in out.splitlines() if ln.startswith("JSON{")), None)
    if line is None:
        raise RuntimeError("wrk printed no summary: " + out[-1000:])
    r = json.loads(line[4:])
    secs = r["duration_us"] / 1e6
    return {
        "rps": r["requests"] / secs,
        "p50_ms": r["p50"] / 1000,
        "p99_ms": r["p99"] / 1000,
        "max_ms": r["max"] / 1000,
        "errors": r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"],
    }


def post(port: int, path: str, body: dict, key: str, actor: str | None = None, method="POST"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    if actor:
        headers["X-Actor-Id"] = actor
    conn.request(method, path, json.dumps(body), headers)
    response = conn.getresponse()
    data = response.read()
    return response.status, (json.loads(data) if data else None), dict(response.getheaders())


def metric(port: int, name: str) -> dict:
    """{labels text: value} of one metric family on /metrics (all workers summed)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics")
    out = {}
    for line in conn.getresponse().read().decode().splitlines():
        if line.startswith(name):
            labels, _, value = line.rpartition(" ")
            out[labels[len(name) :]] = float(value)
    return out


# ---------------------------------------------------------------- what the rows send
class Bodies:
    """The files wrk reads, written once per data set."""

    def __init__(self, ds, cases, tmp: str):
        from bench.data import BENCH_ORG

        self.tmp = tmp
        self.ds = ds
        case = cases[0]  # the org-level check: a memo hit once warm
        self.single = self._write(
            "single",
            [
                {
                    "actor": {"id": case[1]},
                    "action": case[2],
                    "resource": {"type": case[3], "id": case[4]},
                }
            ],
        )
        checks = [
            {"actor": {"id": a}, "action": act, "resource": {"type": t, "id": r}}
            for a, act, t, r in [c[1:5] for c in cases] + [tuple(s) for s in ds.sample]
        ]
        self.checks = checks
        self.varied = self._write("varied", checks)
        self.consistent = self._write(
            "consistent", [{**c, "consistency": {"mode": "fully_consistent"}} for c in checks]
        )
        self.batch = self._write(
            "batch", [{"checks": checks[i : i + 100]} for i in range(0, len(checks) - 99, 100)]
        )
        owners, members, pix = self._people()
        self.lists = self._write(
            "lists",
            [
                {"actor": {"id": u}, "action": "view", "type": t, "org": o}
                for (o, u) in members[:2000]
                for t in ("Dataset",)
            ],
        )
        invites, changes = [], []
        for n in range(40_000):
            org = pix[n % len(pix)]
            body = {
                "invitations": [
                    {"email": f"bench-{n}-@RUN@@x.io", "role": "member"}  # wrk_calls.lua
                ]
            }
            invites.append(("POST", f"/v1/orgs/{org}/invitations", owners[org], json.dumps(body)))
        for org, user in members[:2000]:
            if org in owners and user != owners[org]:
                for role in ("reader", "member"):
                    changes.append(
                        (
                            "PUT",
                            f"/v1/orgs/{org}/members/{user}",
                            owners[org],
                            json.dumps({"role": role}),
                        )
                    )
        self.invites = self._calls("invites", invites)
        self.role_changes = self._calls("role-changes", changes)
        self.grants = self._calls("grants", self._grant_calls(owners, members))
        self.bench_org = BENCH_ORG

    def _people(self):
        """(owner of each Pix4D org, [(org, member)] of Pix4D orgs, Pix4D orgs with an
        owner), read from the data set."""
        from models import db

        with db.connection_context():
            rows = db.execute_sql(
                'SELECT m.org_id, m.user_id, m.role FROM "membership" m JOIN "organization" o '
                "ON o.id = m.org_id WHERE o.style = 'pix4d' ORDER BY m.id"
            ).fetchall()
        owners, members = {}, []
        for org, user, role in rows:
            if role == "owner":
                owners.setdefault(org, user)
            elif role in ("member", "reader"):
                members.append((org, user))
        random.Random(3).shuffle(members)
        members = [(o, u) for o, u in members if o in owners]
        return owners, members, sorted(owners)

    def _grant_calls(self, owners: dict, members: list) -> list:
        """PUT grant calls: a member of a Pix4D org given reader, then editor, on a folder
        of that org, by its owner (a replaced grant is a write like a new one)."""
        from models import db

        folders: dict = {}
        with db.connection_context():
            for org, rid in db.execute_sql(
                'SELECT r.org_id, r.rid FROM "resource" r JOIN "organization" o ON o.id = '
                "r.org_id WHERE o.style = 'pix4d' AND r.type = 'Folder' ORDER BY r.id"
            ).fetchall():
                folders.setdefault(org, []).append(rid)
        calls = []
        for org, user in members[:2000]:
            if org in folders and user != owners[org]:
                rid = folders[org][len(calls) % len(folders[org])]
                for role in ("reader", "editor"):
                    path = f"/v1/orgs/{org}/resources/Folder/{rid}/grants/{user}"
                    calls.append(("PUT", path, owners[org], json.dumps({"role": role})))
        return calls

    def _write(self, name: str, bodies: list) -> str:
        path = os.path.join(self.tmp, f"{name}.jsonl")
        with open(path, "w") as f:
            for b in bodies:
                f.write(json.dumps(b) + "\n")
        return path

    def _calls(self, name: str, calls: list) -> str:
        path = os.path.join(self.tmp, f"{name}.tsv")
        with open(path, "w") as f:
            for method, p, actor, body in calls:
                f.write(f"{method}\t{p}\t{actor or '-'}\t{body or '-'}\n")
        return path


def bare_commit_ms(url: str, schema: str | None, n: int = 500) -> float:
    """p50 of one ``INSERT ... COMMIT`` round trip on the same database."""
    times = []
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.replace("sqlite:///", "/", 1), isolation_level=None)
        conn.execute("PRAGMA journal_mode=wal")
        conn.execute("PRAGMA synchronous=normal")
        conn.execute("CREATE TABLE IF NOT EXISTS bench_commit (x INTEGER)")
        for i in range(n):
            t = time.perf_counter()
            conn.execute("BEGIN")
            conn.execute("INSERT INTO bench_commit VALUES (?)", (i,))
            conn.execute("COMMIT")
            times.append(time.perf_counter() - t)
        conn.execute("DROP TABLE bench_commit")
        conn.close()
    else:
        import psycopg2

        conn = psycopg2.connect(url, options=f"-c search_path={schema}" if schema else "")
        cur = conn.cursor()
        # A logged table: a TEMP table's commit writes no WAL, so it never waits for the
        # flush every management write waits for (it measured 0.03 ms here).
        cur.execute("DROP TABLE IF EXISTS bench_commit")
        cur.execute("CREATE TABLE bench_commit (x int)")
        conn.commit()
        for i in range(n):
            t = time.perf_counter()
            cur.execute("INSERT INTO bench_commit VALUES (%s)", (i,))
            conn.commit()
            times.append(time.perf_counter() - t)
        cur.execute("DROP TABLE bench_commit")
        conn.commit()
        conn.close()
    return statistics.median(times) * 1000


# ---------------------------------------------------------------- the table
# Gunicorn workers per server in the table. One: with two, the kernel hands wrk's
# kept-alive connections to whichever worker wakes first, and the first one awake takes
# most of a burst (8/0 in four and 7/1 or 6/2 in three of 8 runs of the demo's /healthz
# here, each split counted with ``ss``). A run then measured how its connections were
# accepted (2,680 to 5,683 req/s in six runs of the same server) more than the server.
# With one worker per server, wrk has the other core, and six runs beside those gave 2,698
# to 3,418 req/s.
WORKERS = 1
PEERS = ["bare", "wsgi", "flask", "flask-read", "casbin", "cedar", "oso", "commit"]


def run(ds, cases, seconds: float, rounds: int, log=print, workers: int = WORKERS) -> dict:
    """Every row, ``rounds`` times over, each server with ``workers`` gunicorn workers.
    Returns {"rows": {name: [runs]}, ...}."""
    if shutil.which("wrk") is None:
        log("wrk not found (apt-get install -y wrk): HTTP rows skipped")
        return {"skipped": "wrk not installed"}
    tmp = tempfile.mkdtemp(prefix="orgauthz-bench-table-")
    bodies = Bodies(ds, cases, tmp)
    servers = {}
    try:
        log(f"  starting the servers (orgauthz, and each peer: {workers} gunicorn workers each)")
        servers["orgauthz"] = Served("app:create_app()", ds.url, ds.schema, OUTBOX, workers)
        # the same at the default LOG_LEVEL (INFO: an access-log line per request)
        servers["orgauthz-info"] = Served(
            "app:create_app()", ds.url, ds.schema, {**OUTBOX, "LOG_LEVEL": "INFO"}, workers
        )
        for kind in PEERS:
            servers[kind] = Served(f"bench.peers:app('{kind}')", ds.url, ds.schema, None, workers)
        port = servers["orgauthz"].port
        base = servers["orgauthz"].base
        key = ds.api_key
        # the cases answer as in-process before anything is timed
        for c in cases:
            status, got, _ = post(port, "/v1/authorize", _check(c), key)
            if status != 200 or got["allowed"] != c[5]:
                raise RuntimeError(f"orgauthz answered {status} {got} for case {c[0]}")
        log("  warming: every worker loads the facts of the whole sample")
        warm(servers["orgauthz"], bodies, key)
        wrk(base + "/v1/authorize/resources", bodies.lists, 2, key)
        for kind in ("flask", "flask-read", "wsgi"):
            wrk(servers[kind].base + "/check", bodies.varied, 2, key)
        if "orgauthz-info" in servers:
            wrk(servers["orgauthz-info"].base + "/v1/authorize", bodies.single, 1, key)
        rows = _rows(servers, bodies, key)
        runs = {name: (url, arg, conns, script) for name, url, arg, conns, script in rows}
        drains: list = []  # what each wait for the outbox found (outbox_drained)

        def between_rounds() -> None:
            """The round before's mails sent, then the facts its writes dropped loaded."""
            drains.append(outbox_drained(ds, log))
            warm(servers["orgauthz"], bodies, key)

        out = {
            "ratios": ratios.run(
                runs,
                lambda url, arg, secs, conns, script: wrk(url, arg, secs, key, conns, script),
                lambda: bare_commit_ms(ds.url, ds.schema, 200),
                seconds,
                rounds,
                log,
                warm=between_rounds,
            )
        }
        out["ratios"]["workers"] = workers
        results: dict = dict(out["ratios"].pop("runs"))
        used = set(results)
        extra = [r for r in rows if r[0] not in used]  # rows of no ratio: once a round
        for _ in range(rounds):
            drains.append(outbox_drained(ds, log))  # the invitations of the run before
            for name, url, arg, conns, script in extra:
                got = wrk(url, arg, seconds, key, conns, script)
                results.setdefault(name, []).append(got)
                log(
                    f"    {name:52} {got['rps']:9.0f}/s  p50 {got['p50_ms']:7.2f}  "
                    f"p99 {got['p99_ms']:7.2f} ms  errors {got['errors']}"
                )
        results.pop(ratios.BARE_COMMIT, None)
        out["rows"] = {k: _median(v) for k, v in results.items()}
        out["runs"] = results
        out["bare_commit_ms"] = bare_commit_ms(ds.url, ds.schema)
        log(f"    bare INSERT ... COMMIT p50 {out['bare_commit_ms']:.2f} ms")
        for kind in PEERS + ["orgauthz-info"]:  # done: their CPU goes to what follows
            servers.pop(kind).stop()
        drains.append(outbox_drained(ds, log))
        out["outbox"] = drains
        out["writes_elsewhere"] = writes_elsewhere(
            servers["orgauthz"], ds, bodies, seconds, log, rounds=max(4, 2 * rounds)
        )
        status, answer, _ = post(port, "/v1/authorize", _check(cases[0]), key)
        if "consistency_token" in (answer or {}):  # (not in the code before them)
            out["staleness"] = staleness(servers["orgauthz"], ds, bodies, seconds, log)
        out["rss_mb"] = {str(p): _rss(p) for p in servers["orgauthz"].workers()}
        return out
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


# The writes of a round queue an invitation mail each, which a server's outbox thread
# renders and sends in its worker process, about 7 ms of CPU a mail here (20 mails every
# OUTBOX_POLL_SECONDS, 2 s). After 6 s of invites at 8 connections the same check ran at
# 1,650-1,975 req/s with p99 12-15 ms for the next half minute and more, against 2,189/s
# and 7.3 ms before: the next round's first runs were timed beside that rendering. So the
# table's servers run no outbox thread (``OUTBOX``, as a node beside a separate ``flask
# outbox work`` does) and, between rounds, ``outbox_drained`` sends what is queued from a
# process of its own, before anything is timed.
OUTBOX = {"ORGAUTHZ_OUTBOX_WORKER": "off"}


def outbox_drained(ds, log=print, deadline: float = 300.0) -> dict:
    """Send every pending invitation mail with ``flask outbox work`` (polling every 50 ms)
    and stop it once none is pending, or at ``deadline``. Returns what it found and left."""
    from models import db
    from models.outbox import OutboxMail

    def pending() -> int:
        with db.connection_context():
            return OutboxMail.select().where(OutboxMail.status == "pending").count()

    started, left = time.monotonic(), pending()
    got = {"pending": left, "left": left, "seconds": 0.0}
    if not left:
        return got
    env = dict(app_env(ds.url, ds.schema), ORGAUTHZ_OUTBOX_POLL_SECONDS="0.05")
    cmd = [sys.executable, "-m", "flask", "--app", "app:create_app()", "outbox", "work"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        while left and time.monotonic() - started < deadline and proc.poll() is None:
            time.sleep(0.5)
            left = pending()
    finally:
        proc.send_signal(signal.SIGINT)  # the command stops its worker on an interrupt
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    got.update(left=left, seconds=round(time.monotonic() - started, 1))
    log(f"  outbox: sent {got['pending'] - left} pending mails in {got['seconds']} s")
    if left:
        log(f"  outbox: WARNING {left} mails still pending; the round is timed beside them")
    return got


def warm(server: Served, bodies: Bodies, key: str, most: int = 12) -> None:
    """Load the whole sample until no worker reads a fact from the database any more (the
    steady state the varied rows measure)."""
    before = None
    for _ in range(most):
        wrk(server.base + "/v1/authorize/batch", bodies.batch, 2, key)
        wrk(server.base + "/v1/authorize", bodies.varied, 1, key)
        misses = metric(server.port, "orgauthz_fact_cache_requests_total").get('{result="miss"}', 0)
        if misses == before:
            return
        before = misses


def _check(case) -> dict:
    return {
        "actor": {"id": case[1]},
        "action": case[2],
        "resource": {"type": case[3], "id": case[4]},
    }


def _rows(servers, bodies, key) -> list:
    """(name, url, wrk argument, connections, script) of every timed row."""
    s = {k: v.base for k, v in servers.items()}
    lua, calls = "wrk.lua", "wrk_calls.lua"
    return [
        ("bare WSGI callable /healthz", s["bare"] + "/healthz", "-", 8, lua),
        ("minimal Flask /healthz", s["flask"] + "/healthz", "-", 8, lua),
        (ratios.WSGI_SINGLE, s["wsgi"] + "/check", bodies.single, 8, lua),
        ("minimal Flask + dict, same check", s["flask"] + "/check", bodies.single, 8, lua),
        ("minimal Flask + dict, varied checks", s["flask"] + "/check", bodies.varied, 8, lua),
        (ratios.FLOOR_READ, s["flask-read"] + "/check", bodies.varied, 8, lua),
        (ratios.FLASK_ONE_SINGLE, s["flask"] + "/check", bodies.varied, 1, lua),
        (ratios.FLASK_ONE_BATCH, s["flask"] + "/batch", bodies.batch, 1, lua),
        ("minimal Flask + casbin, same check", s["casbin"] + "/check", bodies.single, 8, lua),
        ("minimal Flask + cedarpy, same check", s["cedar"] + "/check", bodies.single, 8, lua),
        ("minimal Flask + raw oso 0.27.3, same check", s["oso"] + "/check", bodies.single, 8, lua),
        ("orgauthz /healthz", s["orgauthz"] + "/healthz", "-", 8, lua),
        (
            "orgauthz /v1/authorize, one check repeated",
            s["orgauthz"] + "/v1/authorize",
            bodies.single,
            8,
            lua,
        ),
        ("orgauthz /v1/authorize, varied", s["orgauthz"] + "/v1/authorize", bodies.varied, 8, lua),
        (
            "orgauthz batch of 100 varied",
            s["orgauthz"] + "/v1/authorize/batch",
            bodies.batch,
            8,
            lua,
        ),
        (
            "orgauthz list-resources, first page",
            s["orgauthz"] + "/v1/authorize/resources",
            bodies.lists,
            8,
            lua,
        ),
        (
            "orgauthz /v1/authorize varied, 1 connection",
            s["orgauthz"] + "/v1/authorize",
            bodies.varied,
            1,
            lua,
        ),
        (
            "orgauthz batch of 100 varied, 1 connection",
            s["orgauthz"] + "/v1/authorize/batch",
            bodies.batch,
            1,
            lua,
        ),
        (ratios.FLOOR_WRITE, s["commit"] + "/write", bodies.single, 1, lua),
        ("orgauthz invite one user", s["orgauthz"], bodies.invites, 8, calls),
        ("orgauthz change a role", s["orgauthz"], bodies.role_changes, 8, calls),
        ("orgauthz invite one user, 1 connection", s["orgauthz"], bodies.invites, 1, calls),
        ("orgauthz change a role, 1 connection", s["orgauthz"], bodies.role_changes, 1, calls),
        ("orgauthz grant on a resource, 1 connection", s["orgauthz"], bodies.grants, 1, calls),
        (
            "orgauthz /v1/authorize varied, fully_consistent",
            s["orgauthz"] + "/v1/authorize",
            bodies.consistent,
            8,
            lua,
        ),
    ] + (
        [
            (
                "orgauthz /v1/authorize, one check repeated, LOG_LEVEL=INFO",
                s["orgauthz-info"] + "/v1/authorize",
                bodies.single,
                8,
                lua,
            )
        ]
        if "orgauthz-info" in s
        else []
    )


def _median(runs: list) -> dict:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def _rss(pid: int) -> float:
    from bench.httpload import rss_mb

    return rss_mb(pid)


# ---------------------------------------------------------------- freshness
def _orgs_of_checks(ds, checks: list) -> list:
    from models import db

    with db.connection_context():
        where = dict(
            ((t, r), o)
            for t, r, o in db.execute_sql('SELECT type, rid, org_id FROM "resource"').fetchall()
        )
    out = []
    for c in checks:
        ref = c["resource"]
        out.append(
            ref["id"] if ref["type"] == "Organization" else where.get((ref["type"], ref["id"]))
        )
    return out


def writes_elsewhere(
    server: Served, ds, bodies: Bodies, seconds: float, log, rounds: int = 6
) -> dict:
    """Varied checks in half of the orgs, with and without 50 role changes a second spread
    over the other orgs (up to 1,000 of them), written straight to the database (the
    invalidation is what is measured, not the writes' own CPU). The fact cache's hit ratio
    of the checks, and their throughput.

    The two are measured round-robin, as the table's rows are: ``rounds`` short rounds of
    each, in the order AB BA AB ... (so a drift in the machine's load falls on both alike),
    each figure the median of its rounds and the ratio the median of the rounds' ratios
    (each round's pair taken back to back). One long run of each swung the ratio from 1.02
    to 0.40 between runs on a machine doing other work while the hit ratio stayed 1.000."""
    import psycopg2  # noqa: F401 -- PostgreSQL only; SQLite reads the counter per request

    if not ds.url.startswith("postgres"):
        return {"skipped": "SQLite reads the change counter per request"}
    from models import db

    orgs_of = _orgs_of_checks(ds, bodies.checks)
    with db.connection_context():
        all_orgs = [r[0] for r in db.execute_sql('SELECT id FROM "organization" ORDER BY id')]
    rnd = random.Random(11)
    rnd.shuffle(all_orgs)
    written = set(all_orgs[: min(1000, len(all_orgs) // 2)])
    checks = [c for c, o in zip(bodies.checks, orgs_of) if o is not None and o not in written]
    path = bodies._write("elsewhere", checks)
    with db.connection_context():  # the memberships the writer flips: written orgs only
        rows = db.execute_sql(
            "SELECT id, org_id FROM \"membership\" WHERE role IN ('member', 'reader')"
        ).fetchall()
    mids = [m for m, o in rows if o in written]
    url = server.base + "/v1/authorize"
    warm(server, bodies, ds.api_key)
    wrk(url, path, 2, ds.api_key)  # the checked orgs' facts loaded before any round
    each = max(2.0, seconds / 2)
    out = {
        "written_orgs": len(written),
        "checked_orgs": len({o for o in orgs_of} - written),
        "rounds": rounds,
        "seconds_per_round": each,
    }
    labels = (("no writes", 0), ("50 writes/s", 50))
    runs: dict = {label: [] for label, _ in labels}
    ratios = []
    for r in range(rounds):
        order = labels if r % 2 == 0 else labels[::-1]
        for label, rate in order:
            got = _elsewhere_round(server, ds, url, path, mids, rate, each)
            runs[label].append(got)
            log(
                f"    round {r + 1}/{rounds} checks in other orgs, {label:12} "
                f"{got['rps']:8.0f}/s  p99 {got['p99_ms']:.2f} ms  cache hit ratio "
                f"{got['hit_ratio']:.3f}  ({got['writes']} writes)"
            )
        ratios.append(runs["50 writes/s"][-1]["rps"] / runs["no writes"][-1]["rps"])
    for label, _ in labels:
        got = _median(runs[label])
        hits = sum(g["hits"] for g in runs[label])
        misses = sum(g["misses"] for g in runs[label])
        got["hit_ratio"] = hits / max(1, hits + misses)  # over all its rounds
        out[label] = got
    out["runs"] = runs
    out["ratios"] = ratios
    out["ratio"] = statistics.median(ratios)
    log(
        f"    writes elsewhere / none, median of {rounds} round pairs: {out['ratio']:.2f} "
        f"(rounds {min(ratios):.2f} to {max(ratios):.2f}); hit ratio under writes "
        f"{out['50 writes/s']['hit_ratio']:.3f}"
    )
    return out


def _elsewhere_round(server: Served, ds, url, path, mids, rate: float, seconds: float) -> dict:
    """One wrk run of the checks, with ``rate`` writes/s in the other orgs meanwhile."""
    stop = threading.Event()
    done = [0]
    writer = (
        threading.Thread(target=_writer, args=(ds, mids, rate, stop, done), daemon=True)
        if rate
        else None
    )
    before = metric(server.port, "orgauthz_fact_cache_requests_total")
    if writer:
        writer.start()
    got = wrk(url, path, seconds, ds.api_key)
    stop.set()
    if writer:
        writer.join(10)
    after = metric(server.port, "orgauthz_fact_cache_requests_total")
    got["hits"] = after.get('{result="hit"}', 0) - before.get('{result="hit"}', 0)
    got["misses"] = after.get('{result="miss"}', 0) - before.get('{result="miss"}', 0)
    got["hit_ratio"] = got["hits"] / max(1, got["hits"] + got["misses"])
    got["writes"] = done[0]
    got["writes_per_s"] = done[0] / seconds
    return got


def _writer(ds, mids: list, rate: float, stop: threading.Event, done: list) -> None:
    import psycopg2

    conn = psycopg2.connect(ds.url, options=f"-c search_path={ds.schema}")
    conn.autocommit = True
    cur = conn.cursor()
    rnd = random.Random(5)
    period, next_at = 1.0 / rate, time.perf_counter()
    while not stop.is_set():
        cur.execute(
            "UPDATE \"membership\" SET role = CASE WHEN role = 'member' THEN 'reader' "
            "ELSE 'member' END WHERE id = %s",
            (rnd.choice(mids),),
        )
        done[0] += 1
        next_at += period
        time.sleep(max(0.0, next_at - time.perf_counter()))
    conn.close()


def staleness(server: Served, ds, bodies: Bodies, seconds: float, log, writes: int = 200) -> dict:
    """How long after a write's answer a ``minimize_latency`` check can still be decided on
    facts older than the write, under load. A role change through the API (its token says
    the position it committed at); then, at once and in parallel, four kept-alive
    connections (spread over the workers) send checks until each answers a position at
    least the write's. A connection's window is 0 when its first answer is fresh, else the
    time from the write's answer to sending the first check answered fresh (an upper
    bound: the last stale one was sent before). Varied checks load the server meanwhile."""
    from models.generation import parse_token

    port, key = server.port, ds.api_key
    load_stop = threading.Event()

    def load():
        while not load_stop.is_set():
            wrk(server.base + "/v1/authorize", bodies.varied, 2, key, 6)

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(4)]
    check = json.dumps(
        {
            "actor": {"id": "bench-reader"},
            "action": "view",
            "resource": {"type": "Organization", "id": bodies.bench_org},
        }
    )
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    windows, stale = [], [0]

    def probe(conn, position, written_at):
        first = True
        while True:
            sent = time.perf_counter()
            conn.request("POST", "/v1/authorize", check, headers)
            answer = json.loads(conn.getresponse().read())
            if parse_token(answer["consistency_token"]) >= position:
                windows.append(0.0 if first else (sent - written_at) * 1000)
                return
            stale[0] += 1
            first = False

    try:
        time.sleep(1)
        for i in range(writes):
            role = "editor" if i % 2 == 0 else "reader"
            status, body, _ = post(
                port,
                f"/v1/orgs/{bodies.bench_org}/members/bench-reader",
                {"role": role},
                key,
                actor="bench-owner",
                method="PUT",
            )
            if status != 200:
                raise RuntimeError(f"role change answered {status}: {body}")
            written_at = time.perf_counter()
            position = parse_token(body["consistency_token"])
            probes = [threading.Thread(target=probe, args=(c, position, written_at)) for c in conns]
            for t in probes:
                t.start()
            for t in probes:
                t.join(30)
            time.sleep(0.02)
    finally:
        load_stop.set()
        loader.join(30)
    windows.sort()
    out = {
        "writes": writes,
        "probes": len(windows),
        "probes_that_saw_stale": sum(1 for w in windows if w > 0),
        "stale_answers": stale[0],
        "p50_ms": statistics.median(windows),
        "p99_ms": windows[max(0, int(len(windows) * 0.99) - 1)],
        "max_ms": windows[-1],
    }
    log(
        f"    minimize_latency after a write: window p50 {out['p50_ms']:.2f} ms, p99 "
        f"{out['p99_ms']:.2f} ms, max {out['max_ms']:.2f} ms; {out['probes_that_saw_stale']} "
        f"of {out['probes']} probes saw a stale answer ({stale[0]} stale answers)"
    )
    return out


def main(argv=None) -> int:
    """``--markdown RESULTS [--write FILE]``: the ratio table of a ``make bench`` run as the
    README's markdown (``--write`` replaces it between bench/ratios.py's markers)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--markdown", required=True, help="a bench/results/<size>.json")
    parser.add_argument("--write", default=None, help="a markdown file with the markers")
    args = parser.parse_args(argv)
    doc = json.loads(Path(args.markdown).read_text())
    text = ratios.markdown(doc)
    if args.write:
        path = Path(args.write)
        path.write_text(ratios.splice(path.read_text(), text))
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
