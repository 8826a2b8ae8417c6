"""The servers orgauthz is measured against, behind the same gunicorn settings
(gunicorn.conf.py): what a check costs with nothing but the web stack around it.

    bare          a WSGI callable answering /healthz (no framework)
    wsgi          a WSGI callable answering POST /check and /batch from the dict app's dicts,
                  as the dict app does but without Flask (the same check's floor), and
                  /healthz as ``bare``
    flask         minimal Flask: /healthz, and POST /check answered from plain dicts
    casbin        minimal Flask + casbin (RBAC with domains), POST /check
    cedar         minimal Flask + cedarpy (policies and entities parsed once), POST /check
    oso           minimal Flask + oso 0.27.3 on the project's own policy (no memo), POST /check
    flask-read    the dict app, reading one row by primary key per check on ``DATABASE_URL``
                  (what a check pays that must ask the primary: ``fully_consistent``'s floor)
    commit        minimal Flask, POST /write: one ``INSERT ... COMMIT`` on ``DATABASE_URL``
                  (what any HTTP write pays before it does anything: the writes' floor)

``/check`` takes an orgauthz authorize body and answers ``{"allowed": ...}``; ``/batch`` an
orgauthz batch body, ``{"results": [{"allowed": ...}, ...]}`` (the batch row's floor). The dict app
holds the whole data set (every membership, resource and grant, read at worker start from
``DATABASE_URL``), so it answers the same varied checks as orgauthz; the engines hold the
benchmark org ``bench-pix4d`` (bench/engines.py) and answer the same single check.

    gunicorn -c gunicorn.conf.py "bench.peers:app('flask')"
"""

import json
import os

RANK = {
    "pix4d": {"member": 1, "reader": 2, "editor": 3, "manager": 4, "owner": 5},
    "up42": {"member": 1, "admin": 2},
    "respondio": {"member": 1, "user_admin": 2, "billing_admin": 2, "org_admin": 3},
}


def bare(environ, start_response):
    """A WSGI callable: the floor of gunicorn itself."""
    if environ.get("PATH_INFO") == "/healthz":
        body = b'{"status":"ok"}'
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]


class Everything:
    """Every membership, resource and grant of the database, as dicts (the floor's data)."""

    def __init__(self):
        import psycopg2

        url = os.environ["DATABASE_URL"]
        if url.startswith("sqlite"):
            import sqlite3

            conn = sqlite3.connect(url.replace("sqlite:///", "/", 1))
        else:
            conn = psycopg2.connect(url, options=os.environ.get("PGOPTIONS", ""))
        cur = conn.cursor()
        cur.execute('SELECT id, style FROM "organization"')
        self.style = dict(cur.fetchall())
        cur.execute('SELECT user_id, org_id, role FROM "membership"')
        self.roles = {(u, o): r for u, o, r in cur.fetchall()}
        cur.execute('SELECT id, type, rid, parent_id, org_id FROM "resource"')
        rows = cur.fetchall()
        by_pk = {pk: (rid, parent, org) for pk, _t, rid, parent, org in rows}
        self.resources = {}
        for _pk, type_, rid, parent, org in rows:
            chain, p = [rid], parent
            while p is not None:
                chain.append(by_pk[p][0])
                p = by_pk[p][1]
            self.resources[(type_, rid)] = (org, tuple(chain))
        cur.execute(
            'SELECT g.user_id, r.rid, g.role FROM "grant" g '
            'JOIN "resource" r ON r.id = g.resource_id'
        )
        self.grants = {(u, rid): role for u, rid, role in cur.fetchall()}
        conn.close()

    def allow(self, actor: str, action: str, type_: str, rid: str) -> bool:
        if type_ == "Organization":
            org, chain = rid, ()
        else:
            org, chain = self.resources.get((type_, rid), (None, ()))
        ranks = RANK.get(self.style.get(org), {})
        best = ranks.get(self.roles.get((actor, org)), 0)
        for r in chain:
            best = max(best, ranks.get(self.grants.get((actor, r)), 0))
        return best >= (1 if action == "view" else 2)


class PerThread:
    """A connection to ``DATABASE_URL`` per calling thread, opened on first use."""

    def __init__(self):
        import threading

        self.url = os.environ["DATABASE_URL"]
        self.local = threading.local()

    def _conn(self):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            if self.url.startswith("sqlite"):
                import sqlite3

                path = self.url.replace("sqlite:///", "/", 1)
                conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=wal")
                conn.execute("PRAGMA synchronous=normal")
                conn.execute("PRAGMA busy_timeout=10000")
            else:
                import psycopg2

                conn = psycopg2.connect(self.url, options=os.environ.get("PGOPTIONS", ""))
            self.local.conn = conn
        return conn

    def read(self, sql: str) -> list:
        """``sql``'s rows, read outside any transaction (autocommit, as a position read)."""
        conn = self._conn()
        if self.url.startswith("sqlite"):
            return conn.execute(sql).fetchall()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()


class Committer(PerThread):
    """One ``INSERT ... COMMIT`` per call on a connection of the calling thread, as
    bench/table.py ``bare_commit_ms`` times it (a logged table, ``BEGIN``, ``INSERT``,
    ``COMMIT``)."""

    TABLE = "bench_http_commit"

    def __init__(self):
        super().__init__()
        try:
            self.send(f"CREATE TABLE IF NOT EXISTS {self.TABLE} (x int)", ())
        except Exception:  # noqa: BLE001 -- the other worker made it at the same moment
            self.local.conn = None

    def send(self, sql: str, params: tuple) -> None:
        conn = self._conn()
        if self.url.startswith("sqlite"):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(sql.replace("%s", "?"), params)
            conn.execute("COMMIT")
        else:
            with conn.cursor() as cur:
                cur.execute(sql, params)
            conn.commit()


def answered(allow, one: dict) -> dict:
    """``{"allowed": ...}`` of one orgauthz authorize body, by ``allow``."""
    resource = one["resource"]
    ok = allow(one["actor"]["id"], one["action"], resource["type"], resource["id"])
    return {"allowed": bool(ok)}


def plain(allow):
    """The WSGI callable of ``wsgi``: ``/check`` and ``/batch`` answered by ``allow`` as the
    Flask peer answers them (the standard library's json, as Flask's), anything else by
    ``bare``."""

    def call(environ, start_response):
        path = environ.get("PATH_INFO")
        if environ.get("REQUEST_METHOD") != "POST" or path not in ("/check", "/batch"):
            return bare(environ, start_response)
        length = environ.get("CONTENT_LENGTH")
        stream = environ["wsgi.input"]
        body = json.loads(stream.read(int(length)) if length else stream.read())
        if path == "/check":
            out = answered(allow, body)
        else:
            out = {"results": [answered(allow, one) for one in body["checks"]]}
        payload = json.dumps(out).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        start_response("200 OK", headers)
        return [payload]

    return call


def app(kind: str):
    """The WSGI app of ``kind`` (see the module docstring)."""
    if kind == "bare":
        return bare
    if kind == "wsgi":
        return plain(Everything().allow)
    from flask import Flask, request

    flask_app = Flask("peer")

    @flask_app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    if kind == "commit":
        committer = Committer()

        @flask_app.post("/write")
        def write():
            body = request.get_json(force=True)
            committer.send(f"INSERT INTO {Committer.TABLE} VALUES (%s)", (len(body),))
            return {"written": True}, 201

        return flask_app

    if kind in ("flask", "flask-read"):
        facts = Everything()
        allow = facts.allow
        if kind == "flask-read":
            from models.facts import POSITION_SQL  # the row fully_consistent reads

            reader, dict_allow = PerThread(), allow

            def allow(actor, action, type_, id_):  # type: ignore[misc]
                reader.read(POSITION_SQL)
                return dict_allow(actor, action, type_, id_)
    else:
        import models
        from bench import engines

        models.init_db(os.environ["DATABASE_URL"])  # SQLite too: the facts come from it
        from models import db

        with db.connection_context():
            f = engines.Facts.load("bench-pix4d")
        if kind == "casbin":
            allow = engines.Casbin(f).allow
        elif kind == "cedar":
            allow = engines.Cedar(f).allow
        else:
            from authz.engine import POLICY_DIR, PolicySet

            allow = engines.RawOso(f, PolicySet(POLICY_DIR).engine("pix4d")).allow

    @flask_app.post("/check")
    def check():
        return answered(allow, request.get_json(force=True))

    @flask_app.post("/batch")
    def batch():
        checks = request.get_json(force=True)["checks"]
        return {"results": [answered(allow, one) for one in checks]}

    return flask_app


__all__ = ["app", "bare", "json", "plain"]
