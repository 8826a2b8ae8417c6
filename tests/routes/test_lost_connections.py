"""Every driver error is a 503 problem with ``Retry-After``, in the teardown too: pool
connections terminated (``pg_terminate_backend`` from a connection of the test's own) while
keyed invitations are written answer only 2xx, 4xx or 503, never a 500 or an exception out
of the app; and each retried with its Idempotency-Key completes exactly once (one
invitation, one audit record per key). PostgreSQL only: the app's connections carry an
``application_name`` of this test's own, so no other connection of the server is touched."""

import threading
import time
import uuid

import psycopg2
import pytest

from models import AuditEvent, Invitation, db
from tests.conftest import PG_URL
from tests.routes.console_helpers import login, set_actor
from tests.support import demo_app_on_postgres

pytestmark = pytest.mark.skipif(not PG_URL, reason="terminates PostgreSQL connections")

INVITE = "/v1/orgs/org-pix4d/invitations"
WRITERS = 3  # threads writing at once, a test client each
KEYS = 90  # keyed writes under terminations (bounded in count...)
SECONDS = 40  # ...and in time


@pytest.fixture
def keyed(pg_schema, tmp_path):
    """The app with the demo data on a pool whose connections are named ``name``."""
    name = f"oaz-lost-{uuid.uuid4().hex[:10]}"
    app, key = demo_app_on_postgres(
        PG_URL, pg_schema, tmp_path, "lost-connections", {"application_name": name}
    )
    yield app, {"Authorization": f"Bearer {key}", "X-Actor-Id": "pix4d-owner"}, name
    if hasattr(db.obj, "close_all"):
        db.obj.close_all()


def writer_clients(app) -> list:
    """A test client per writer thread."""
    return [app.test_client() for _ in range(WRITERS)]


def send(client, headers: dict, i: int):
    body = {"invitations": [{"email": f"lost-{i}@x.example", "role": "reader"}]}
    return client.post(INVITE, json=body, headers={**headers, "Idempotency-Key": f"lost-{i}"})


def storm(clients: list, name: str, send, count: int) -> dict[int, list]:
    """``send(client, i)`` for i in range(count), from a thread per client, while a connection of
    the test's own terminates the app's connections every 40 to 120 ms: {i: [status,
    Retry-After, content type]} (status 500 for an exception out of the app, which gunicorn
    would answer with its own 500 page). Asserts each is a 2xx, 3xx, 4xx or a 503 problem
    with Retry-After, and that some met a terminated connection."""
    stop = threading.Event()
    terminated, rounds = [0], [0]

    def terminate() -> None:
        conn = psycopg2.connect(PG_URL)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                while not stop.is_set():
                    cur.execute(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = %s AND pid <> pg_backend_pid()",
                        (name,),
                    )
                    terminated[0] += cur.fetchone()[0]
                    rounds[0] += 1
                    stop.wait(0.04 + 0.04 * (rounds[0] % 3))  # the next round, 40-120 ms on
        finally:
            conn.close()

    answers: dict[int, list] = {}
    deadline = time.monotonic() + SECONDS
    pending = list(range(count))
    lock = threading.Lock()

    def write(client) -> None:
        while time.monotonic() < deadline:
            with lock:
                if not pending:
                    return
                i = pending.pop()
            try:
                response = send(client, i)
            except Exception as exc:  # noqa: BLE001 -- out of the app: gunicorn's raw 500
                answers[i] = [500, None, f"raised {type(exc).__name__}: {exc}"]
                continue
            answers[i] = [
                response.status_code,
                response.headers.get("Retry-After"),
                response.content_type,
            ]

    killer = threading.Thread(target=terminate, daemon=True)
    killer.start()
    writers = [threading.Thread(target=write, args=(client,)) for client in clients]
    for t in writers:
        t.start()
    for t in writers:
        t.join(SECONDS + 30)
    stop.set()
    killer.join(10)

    wrong = {
        i: a
        for i, a in answers.items()
        if not (200 <= a[0] < 500 or (a[0] == 503 and a[1] and "problem" in a[2]))
    }
    statuses = sorted(a[0] for a in answers.values())
    counts = {s: statuses.count(s) for s in set(statuses)}
    print(f"{len(answers)} writes, {terminated[0]} connections terminated: {counts}")
    assert not wrong, wrong
    assert counts.get(503), "no write met a terminated connection"
    return answers


def test_terminated_connections_during_keyed_writes_are_503_and_retries_complete_once(keyed):
    app, headers, name = keyed
    answers = storm(writer_clients(app), name, lambda client, i: send(client, headers, i), KEYS)

    # Every key retried (no terminations now) until it completes: exactly once each.
    client = app.test_client()
    for i in answers:
        for _ in range(5):
            response = send(client, headers, i)
            if response.status_code not in (409, 503):  # 409: "did not finish; send it again"
                break
        assert response.status_code == 201, (i, answers[i], response.get_json())
    with db.connection_context():
        emails = [i.email for i in Invitation.select(Invitation.email)]
        audits = AuditEvent.select().where(AuditEvent.action == "invitation.create").count()
    expected = {f"lost-{i}@x.example" for i in answers}
    assert sorted(emails) == sorted(expected)  # one invitation per key, none twice
    assert audits == len(expected)  # one audit record per key


def test_terminated_connections_during_writes_without_a_key_and_console_forms_are_503(keyed):
    """Units of work alone (no Idempotency-Key: member role changes, resource
    registrations) and the console's forms (its session read and write, then the change)."""
    app, headers, name = keyed
    org = "/v1/orgs/org-pix4d"

    def api_write(client, i):
        if i % 2:
            role = ("reader", "editor")[i % 4 // 2]
            return client.put(f"{org}/members/pix4d-editor", json={"role": role}, headers=headers)
        body = {"parent": {"type": "Folder", "id": "pix4d-survey"}}
        return client.put(f"{org}/resources/Dataset/lost-{i}", json=body, headers=headers)

    storm(writer_clients(app), name, api_write, 60)

    # Each writer's client logs in before the storm: a login is five requests in a row, and
    # on a busy machine a termination round (every 40-120 ms) lands among them nearly always.
    # The pool still holds connections the last round terminated (each is a 503 once, when
    # next lent, as above): closed first, so the logins get live ones.
    db.obj.close_all()
    key = headers["Authorization"].removeprefix("Bearer ")
    csrf: dict[int, str] = {}
    writers = writer_clients(app)
    for client in writers:
        login(client, key)
        csrf[id(client)] = set_actor(client, "pix4d-owner")

    def console_write(client, i):
        form = {"emails": f"console-{i}@x.example", "role": "reader", "csrf": csrf[id(client)]}
        return client.post("/console/orgs/org-pix4d/invite", data=form)

    storm(writers, name, console_write, 45)
