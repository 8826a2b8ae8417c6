"""Erasure forgets every address the user ever had, not only the current one: a user invited
under one address who then changed it twice leaves none of the three (nor their id) in any
column of any table, in a kept Idempotency-Key answer (unsealed here with the keys the test
sent), or in what the webhooks deliver afterwards. An address another user holds now stays
theirs."""

import json

import peewee

from models import IdempotentRequest, User, db
from routes.idempotency import _fernet

EVE = "eve-9f3k"
FIRST, SECOND, THIRD = "Eve.Old@Example.COM", "eve.second@example.org", "EVE.NOW@example.net"
ADDRESSES = [a.lower() for a in (FIRST, SECOND, THIRD)]
KEYS = ["k-org", "k-invite", "k-second", "k-rita", "k-third"]


def _rows_text(database: peewee.Database) -> dict:
    """{table: the lower-cased text of every value of every row}, for every table of the
    schema (not only the models': whatever any migration made)."""
    schema = None
    if isinstance(database, peewee.PostgresqlDatabase):
        schema = database.execute_sql("SELECT current_schema()").fetchone()[0]
    found = {}
    for table in database.get_tables(schema=schema) if schema else database.get_tables():
        cursor = database.execute_sql(f'SELECT * FROM "{table}"')
        found[table] = "\n".join(str(v).lower() for row in cursor.fetchall() for v in row)
    return found


def _unsealed() -> list:
    """The kept answers, decrypted with every Idempotency-Key the test sent."""
    answers = []
    for row in IdempotentRequest.select():
        for key in KEYS:
            try:
                answers.append(_fernet("tests", key).decrypt(row.sealed.encode()).decode())
            except Exception:  # noqa: BLE001 -- another key's answer (or none kept)
                continue
    return answers


def _mentions(texts: dict, needles: list) -> dict:
    return {n: sorted(t for t, text in texts.items() if n in text) for n in needles}


def _ok(response, status=200):
    assert response.status_code == status, response.get_json()
    return response.get_json()


def test_erasure_forgets_every_address_the_user_had(api, app, worker, receiver, smtp):
    def keyed(key):
        return {"headers": {"Idempotency-Key": key}}

    _ok(api.put("/v1/users/olga", {"email": "olga@example.com", "name": "Olga"}))
    _ok(api.put("/v1/users/rita", {"email": "rita@example.com", "name": "Rita"}))
    body = {"name": "Acme", "style": "pix4d", "id": "org-acme"}
    org = _ok(api.post("/v1/orgs", body, actor="olga", **keyed("k-org")), 201)["id"]
    chat = _ok(api.post("/v1/orgs", {"name": "Chat", "style": "respondio"}, actor="rita"), 201)
    # Invited under the first address, the mail sent (and kept as a record), accepted.
    invited = {"invitations": [{"email": FIRST, "role": "editor"}]}
    made = _ok(
        api.post(f"/v1/orgs/{org}/invitations", invited, actor="olga", **keyed("k-invite")), 201
    )["items"][0]
    worker.step()
    person = {"id": EVE, "email": FIRST, "name": "Eve Nine"}
    _ok(api.post("/v1/invitations/accept", {"token": made["token"], "user": person}))
    # The second address: audited, an event, a kept answer; an invitation to it elsewhere,
    # its mail sent; then a webhook that has not been sent anything yet.
    second = {"email": SECOND, "name": "Eve Nine"}
    _ok(api.put(f"/v1/users/{EVE}", second, **keyed("k-second")))
    invited = {"invitations": [{"email": SECOND.upper(), "role": "member"}]}
    path = f"/v1/orgs/{chat['id']}/invitations"
    _ok(api.post(path, invited, actor="rita", **keyed("k-rita")), 201)
    worker.step()
    assert smtp.to(FIRST) and smtp.to(SECOND.upper())
    _ok(api.post("/v1/webhooks", {"url": receiver.url, "types": []}), 201)
    # The third, current address; every later event waits for the webhook's delivery.
    _ok(api.put(f"/v1/users/{EVE}", {"email": THIRD, "name": "Eve Nine"}, **keyed("k-third")))
    _ok(api.put(f"/v1/orgs/{org}/members/{EVE}", {"role": "reader"}, actor="olga"))

    needles = [*ADDRESSES, EVE]
    with db.connection_context():
        before = _mentions(_rows_text(db.obj), needles)
        kept = "\n".join(_unsealed()).lower()
    for needle in needles:  # each is there to be forgotten, in the tables and kept answers
        assert before[needle], needle
    assert all(a in kept for a in ADDRESSES)
    assert {"audit_event", "event", "invitation", "outbox_mail"} <= set(before[ADDRESSES[0]])

    erased = _ok(api.delete(f"/v1/users/{EVE}"))
    pseudonym = erased["user_id"]

    with db.connection_context():
        after = _mentions(_rows_text(db.obj), needles)
        kept = "\n".join(_unsealed()).lower()
        answers = IdempotentRequest.select().count()
    assert after == {n: [] for n in needles}
    assert not any(n in kept for n in needles)
    assert answers == 1  # the org's creation, which names none of them, is still kept
    assert erased["invitations_removed"] == 1  # the pending one to the second address
    # What the webhook receives afterwards names the pseudonym, never an address.
    worker.step()
    bodies = [body.decode().lower() for _, body, _ in receiver.requests]
    types = [json.loads(b)["type"] for b in bodies]
    assert "user.updated" in types and types[-1] == "user.erased"
    assert not [n for n in needles for b in bodies if n in b]
    assert any(pseudonym in b for b in bodies)
    # The audit trail still tells what happened, under the pseudonym.
    trail = _ok(api.get(f"/v1/orgs/{org}/audit?limit=100", actor="olga"))["items"]
    assert any(e["action"] == "invitation.accept" for e in trail)
    assert not [e for e in trail if any(a in json.dumps(e).lower() for a in ADDRESSES)]


def test_an_old_address_another_user_holds_now_stays_theirs(api, app):
    """Eve moved from an address Finn now holds: erasing Eve forgets it in Eve's own records
    (her profile's history, the invitation she accepted) but not Finn's invitation to it."""
    _ok(api.put("/v1/users/olga", {"email": "olga@example.com", "name": "Olga"}))
    body = {"name": "Acme", "style": "pix4d", "id": "org-acme"}
    org = _ok(api.post("/v1/orgs", body, actor="olga"), 201)["id"]
    invited = {"invitations": [{"email": FIRST, "role": "editor"}]}
    made = _ok(api.post(f"/v1/orgs/{org}/invitations", invited, actor="olga"), 201)["items"][0]
    person = {"id": EVE, "email": FIRST, "name": "Eve Nine"}
    _ok(api.post("/v1/invitations/accept", {"token": made["token"], "user": person}))
    _ok(api.put(f"/v1/users/{EVE}", {"email": THIRD, "name": "Eve Nine"}))
    _ok(api.put("/v1/users/finn", {"email": FIRST, "name": "Finn"}))
    other = _ok(api.post("/v1/orgs", {"name": "Finn's", "style": "pix4d"}, actor="olga"), 201)
    invited = {"invitations": [{"email": FIRST, "role": "reader"}]}
    finns = _ok(api.post(f"/v1/orgs/{other['id']}/invitations", invited, actor="olga"), 201)

    _ok(api.delete(f"/v1/users/{EVE}"))
    with db.connection_context():
        assert User.get_by_id("finn").email == FIRST
    left = _ok(api.get(f"/v1/orgs/{other['id']}/invitations", actor="olga"))["items"]
    assert [i["email"] for i in left] == [FIRST]
    assert left[0]["id"] == finns["items"][0]["id"] and left[0]["status"] == "pending"
    eves = _ok(api.get(f"/v1/orgs/{org}/invitations/{made['id']}", actor="olga"))
    assert eves["email"].endswith("@erased.invalid")
    trail = _ok(api.get("/v1/events?limit=100"))["items"]
    updates = [e for e in trail if e["type"] == "user.updated"]
    assert updates and not [e for e in updates if FIRST.lower() in json.dumps(e).lower()]
