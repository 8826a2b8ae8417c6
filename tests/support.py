"""Small helpers shared by test modules (no fixtures here: tests/conftest.py has those)."""

import shutil
import threading
import time
from pathlib import Path

from authz.engine import POLICY_DIR
from models import ApiKey, Membership, Organization, User, db


def policy_folder(folder: Path, *styles: str) -> Path:
    """``folder``, made: the shipped shared file and ``styles`` (each its policy and table).
    Everything that loads a folder runs every style's tables (seconds for pix4d), so a test
    about one style's change copies that style only."""
    folder.mkdir(parents=True)
    names = ["_shared.polar"] + [f"{s}{ext}" for s in styles for ext in (".polar", ".test.yaml")]
    for name in names:
        shutil.copy2(POLICY_DIR / name, folder / name)
    return folder


def org_with(org_id: str, style: str, members: dict) -> None:
    """Create the organization ``org_id`` of ``style`` with ``members`` ({user id: role}),
    each user created when new (email ``<id>@example.test``), straight in the database."""
    with db.connection_context():
        Organization.create(id=org_id, name=org_id, style=style)
        for user_id, role in members.items():
            email = f"{user_id}@example.test"
            User.get_or_create(id=user_id, defaults={"email": email, "email_key": email})
            Membership.create(user=user_id, org=org_id, role=role)


# ---------------------------------------------------------------- journeys over HTTP
# ``api`` is tests/conftest.py's client; a user ``uid`` has the address ``uid@example.com``.


def add_user(api, uid: str, email=None, name=None) -> dict:
    """Create (or update) the user ``uid`` through the API; the user."""
    response = api.put(
        f"/v1/users/{uid}",
        {"email": email or f"{uid}@example.com", "name": name or uid.replace("-", " ").title()},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def new_org(api, actor: str, style: str, name="Acme", **extra) -> dict:
    """A new organization of ``style`` made by ``actor``; the organization."""
    response = api.post("/v1/orgs", {"name": name, "style": style, **extra}, actor=actor)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def invite(api, actor: str, org_id: str, *pairs):
    """``actor`` invites each (email, role) of ``pairs``; the response."""
    body = {"invitations": [{"email": email, "role": role} for email, role in pairs]}
    return api.post(f"/v1/orgs/{org_id}/invitations", body, actor=actor)


def invite_one(api, actor: str, org_id: str, uid: str, role: str) -> dict:
    """``actor`` invites ``uid`` as ``role`` (asserted to succeed); the invitation (with
    its token)."""
    response = invite(api, actor, org_id, (f"{uid}@example.com", role))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["items"][0]


def accept(api, token: str, uid: str, email=None, **kw):
    """``uid`` accepts the invitation of ``token``; the response."""
    person = {"id": uid, "email": email or f"{uid}@example.com", "name": uid}
    return api.post("/v1/invitations/accept", {"token": token, "user": person}, **kw)


def join(api, inviter: str, org_id: str, uid: str, role: str) -> None:
    """``uid`` becomes a member as ``role``: invited by ``inviter``, then accepting."""
    response = accept(api, invite_one(api, inviter, org_id, uid, role)["token"], uid)
    assert response.status_code == 200, response.get_json()


def members(api, actor: str, org_id: str, **params) -> dict:
    """The members of ``org_id`` as ``actor`` sees them, by user id (or email when pending)."""
    response = api.get(f"/v1/orgs/{org_id}/members", actor=actor, query_string=params)
    assert response.status_code == 200, response.get_json()
    return {m["user_id"] or m["email"]: m for m in response.get_json()["items"]}


def problem(response, status: int) -> dict:
    """The problem+json body of ``response``, asserted to have ``status``."""
    assert response.status_code == status, response.get_json()
    assert response.content_type == "application/problem+json"
    return response.get_json()


def list_resources(api, actor, action, type_, org, limit=None) -> list:
    """Every page of /v1/authorize/resources, following next_cursor; the ids."""
    body = {"actor": {"id": actor}, "action": action, "type": type_, "org": org}
    return _every_page(api, "/v1/authorize/resources", body, limit)


def list_actors(api, action, resource, limit=None) -> list:
    """Every page of /v1/authorize/actors, following next_cursor; the ids."""
    return _every_page(api, "/v1/authorize/actors", {"action": action, "resource": resource}, limit)


def _every_page(api, path: str, body: dict, limit) -> list:
    ids, cursor = [], None
    while True:
        page = dict(
            body, **({"limit": limit} if limit else {}), **({"cursor": cursor} if cursor else {})
        )
        r = api.post(path, page)
        assert r.status_code == 200, r.get_json()
        ids += [i["id"] for i in r.get_json()["items"]]
        cursor = r.get_json()["next_cursor"]
        if cursor is None:
            return ids


def race(app, key: str, calls) -> list:
    """Run each (method, path, json, actor) of ``calls`` at once, one thread and client
    each; the status codes."""
    from tests.conftest import Api

    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, method, path, body, actor):
        client = Api(app.test_client(), key)
        barrier.wait()
        results[i] = client.call(method, path, json=body, actor=actor).status_code

    threads = [threading.Thread(target=run, args=(i, *call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


# ---------------------------------------------------------------- apps on PostgreSQL


def demo_app_on_postgres(url: str, schema: str, tmp_path, key_name: str, db_options=None, **config):
    """(app, API key): the app on a fresh PostgreSQL ``schema`` with the demo data of
    ``make run``, for a test that needs its own database settings (``db_options``: more
    connection parameters, e.g. ``application_name``; ``config``: the app's)."""
    import models
    from access.demo import load_demo
    from app import create_app

    models.init_db(url, options=f"-c search_path={schema}", **(db_options or {}))
    models.drop_tables()
    models.create_tables()
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "DATABASE_BOUND": True,
            "DECISION_LOG": str(tmp_path / "d.log"),
            "LAST_ACTIVE_FLUSH_SECONDS": 0,
            **config,
        }
    )
    with db.connection_context():
        load_demo(app.extensions["orgauthz.policy"].current)
        key = ApiKey.create_key(key_name)
    return app, key


# ---------------------------------------------------------------- a streaming replica
# (tests/routes/test_replicas.py and test_replica_edges.py: the app on a primary of
# tests/pgcluster.py reading decisions from its replica)

DATASET = {"type": "Dataset", "id": "pix4d-bridge-scan"}
READERS = [f"replica-reader-{i}" for i in range(4)]


def replica_app(primary, replica_url: str, tmp_path, **config) -> tuple:
    """The app on ``primary`` (tables made anew), reading decisions from ``replica_url``;
    the demo data plus READERS, four readers of org-pix4d. (app, the API key's headers)."""
    import models
    from access.demo import load_demo
    from app import create_app

    models.init_db(primary.url)
    models.drop_tables()
    models.create_tables()
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": primary.url,
            "DATABASE_BOUND": True,
            "DATABASE_REPLICA_URLS": replica_url,
            "REPLICA_MAX_LAG_SECONDS": 60.0,
            "REPLICA_RETRY_SECONDS": 0.5,
            "DECISION_LOG": str(tmp_path / "d.log"),
            **config,
        }
    )
    with db.connection_context():
        load_demo(app.extensions["orgauthz.policy"].current)
        for user in READERS:
            User.create(id=user, email=f"{user}@x.example", email_key=f"{user}@x.example")
            Membership.create(user=user, org="org-pix4d", role="reader")
        key = ApiKey.create_key("replicas")
    return app, {"Authorization": f"Bearer {key}"}


def view(actor: str, consistency: dict | None = None) -> dict:
    """The check "may ``actor`` view the dataset", with ``consistency`` if given."""
    body: dict = {"actor": {"id": actor}, "action": "view", "resource": DATASET}
    if consistency is not None:
        body["consistency"] = consistency
    return body


def wait_listening() -> None:
    """Until the worker's fact cache listens: notices keep its facts fresh from then on
    (connecting starts the facts over)."""
    from access.cache import CACHE

    wait_until(CACHE.listening, timeout=10, what="the fact cache's listener to connect")


def revoke(users: list) -> str:
    """Remove ``users`` from org-pix4d on the primary (any code path: here plain SQL); the
    token of the position it committed at."""
    from models.generation import current, token

    with db.connection_context():
        Membership.delete().where(Membership.user.in_(users)).execute()
        return token(current(db))


# ---------------------------------------------------------------- waiting


def waiting_on_a_lock(url: str, timeout: float = 10.0) -> bool:
    """Whether some backend of the PostgreSQL database at ``url`` waits on a lock within
    ``timeout`` seconds, polled from a connection of its own (autocommit: a transaction
    would see one snapshot of pg_stat_activity)."""
    import psycopg2

    watcher = psycopg2.connect(url)
    watcher.autocommit = True

    def waiting() -> bool:
        with watcher.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            )
            return bool(cur.fetchone()[0])

    try:
        return bool(poll(waiting, timeout=timeout))
    finally:
        watcher.close()


def poll(predicate, timeout: float = 10.0, every: float = 0.02):
    """Call ``predicate`` until it returns something true or ``timeout`` seconds pass; its
    last value (false when the time ran out). The one place a test waits for something to
    happen: a fixed sleep either waits too long or not long enough on a loaded machine."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(every)


def wait_until(predicate, timeout: float = 10.0, what: str = "the condition", every: float = 0.02):
    """``poll``, failing (an AssertionError naming ``what``) when the time runs out; the
    predicate's true value."""
    value = poll(predicate, timeout, every)
    assert value, f"waited {timeout} s for {what}"
    return value


# ---------------------------------------------------------------- request context
# Added to a copy of the pix4d policy by ``context_policy_api``: rules that read a check's
# request context directly (docs/API.md 1.3; the shipped policies read it only with an
# organization's IP allow-list), one attribute of each kind.
MFA_RULES = """
context_attribute("Dataset", "mfa", "boolean");
context_attribute("Dataset", "clearance", "integer");
context_attribute("Dataset", "region", "string");
context_refuses(actor: User, "delete", _dataset: Dataset) if not actor.context.mfa = true;
context_refuses(actor: User, "download_report", _dataset: Dataset) if
  not cleared(actor, 2);
cleared(actor: User, level: Integer) if
  actor.context.clearance != nil and actor.context.clearance >= level;
reason(actor: User, "delete", dataset: Dataset,
  "deleting a dataset needs a check whose context says mfa") if
  context_refuses(actor, "delete", dataset);
"""


def context_policy_api(app, tmp_path):
    """A client of an app on ``app``'s database whose pix4d policy also has MFA_RULES."""
    import shutil

    from app import create_app
    from authz.engine import POLICY_DIR
    from tests.conftest import Api

    folder = tmp_path / "context-policies"
    shutil.copytree(POLICY_DIR, folder)
    with open(folder / "pix4d.polar", "a") as f:
        f.write(MFA_RULES)
    edited = create_app({**app.config, "POLICY_DIR": str(folder)})
    with db.connection_context():
        key = ApiKey.create_key("context")
    return Api(edited.test_client(), key)


class DnsServer:
    """A DNS server on 127.0.0.1 (dnslib, UDP, a free port) answering TXT questions from
    ``records`` ({name: [values]}; any other name: NXDOMAIN): what the verified-domain tests
    point ``DNS_NAMESERVER`` at, so no lookup leaves the machine."""

    def __init__(self) -> None:
        from dnslib import QTYPE, RCODE, RR, TXT
        from dnslib.server import DNSLogger, DNSServer

        self.records: dict = {}
        self.asked: list = []
        records, asked = self.records, self.asked

        class Resolver:
            def resolve(self, request, handler):
                reply = request.reply()
                name = str(request.q.qname).rstrip(".").lower()
                asked.append(name)
                values = records.get(name)
                if values is None:
                    reply.header.rcode = RCODE.NXDOMAIN
                elif request.q.qtype == QTYPE.TXT:
                    for value in values:
                        reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(value), ttl=1))
                return reply

        quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
        self.server = DNSServer(Resolver(), address="127.0.0.1", port=0, logger=quiet)
        self.port = self.server.server.server_address[1]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> "DnsServer":
        self.server.start_thread()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()
        self.server.server.server_close()
