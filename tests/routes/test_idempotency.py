"""Idempotency-Key on management writes: a client that lost the answer of a committed write
(a disconnect after commit) retries with the same key and gets the first answer, one-time
tokens included; without the key the retry is a 409 and the tokens are lost."""

import threading

from models import IdempotentRequest, Invitation, db
from tests.conftest import Api

INVITE = "/v1/orgs/org-pix4d/invitations"
BODY = {"invitations": [{"email": f"p{i}@x.example", "role": "reader"} for i in range(3)]}


def send(api, key, body=BODY, actor="pix4d-owner"):
    return api.post(INVITE, body, actor=actor, headers={"Idempotency-Key": key})


def test_a_retry_with_the_same_key_answers_the_first_answer(api, demo):
    first = send(api, "invite-2026-12-01-a")
    assert first.status_code == 201
    again = send(api, "invite-2026-12-01-a")
    assert again.status_code == 201
    assert again.get_json() == first.get_json()  # the same tokens, shown again
    assert again.headers["Idempotent-Replayed"] == "true"
    with db.connection_context():
        assert Invitation.select().count() == 3
        row = IdempotentRequest.get()
        stored = " ".join(str(v) for v in row.__data__.values())
    for item in first.get_json()["items"]:  # the kept answer is sealed
        assert item["token"] not in stored
    assert "invite-2026-12-01-a" not in stored


def test_without_a_key_the_retry_cannot_tell(api, demo):
    assert api.post(INVITE, BODY, actor="pix4d-owner").status_code == 201
    assert api.post(INVITE, BODY, actor="pix4d-owner").status_code == 409


def test_the_same_key_with_another_request_is_422(api, demo):
    assert send(api, "k1").status_code == 201
    other = send(api, "k1", {"invitations": [{"email": "z@x.example", "role": "reader"}]})
    assert other.status_code == 422
    assert "Idempotency-Key" in other.get_json()["errors"]
    assert send(api, "k1", actor="pix4d-manager").status_code == 422  # another actor


def test_a_malformed_key_is_422_naming_the_header(api, demo):
    for key in ("", "x" * 256, "tab\tkey", "é"):
        response = send(api, key)
        assert response.status_code == 422, key
        assert "Idempotency-Key" in response.get_json()["errors"]


def test_a_refusal_is_kept_too_and_keys_are_per_api_key(api, app, demo):
    refused = send(api, "k2", actor="pix4d-reader")
    assert refused.status_code == 403
    assert send(api, "k2", actor="pix4d-reader").get_json() == refused.get_json()
    with db.connection_context():
        from models import ApiKey

        other_key = ApiKey.create_key("other")
    other = Api(app.test_client(), other_key)
    assert send(other, "k2", actor="pix4d-owner").status_code == 201  # a new key for them


def test_keys_expire_after_a_day(api, demo, clock):
    assert send(api, "k3").status_code == 201
    clock.advance(hours=25)
    assert send(api, "k3").status_code == 409  # a new request: the emails are invited


def test_two_retries_at_once_write_once_and_answer_alike(api, app, demo):
    barrier = threading.Barrier(2)
    answers = [None, None]

    def run(i):
        client = Api(app.test_client(), api.key)
        barrier.wait()
        answers[i] = send(client, "k4")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].get_json() == answers[1].get_json()
    with db.connection_context():
        assert Invitation.select().count() == 3


def test_a_lost_race_is_not_kept_so_the_retry_runs_again(api, demo, monkeypatch):
    """A 409 that says "try again" (a concurrent request took the id first) is not the
    answer kept for the key: the retry with the same key runs again and succeeds."""
    import peewee

    from models import Organization

    real = Organization.create
    calls = {"n": 0}

    def first_loses(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise peewee.IntegrityError("duplicate key")
        return real(*args, **kwargs)

    monkeypatch.setattr(Organization, "create", first_loses)
    body = {"name": "Race", "style": "pix4d", "id": "org-race"}
    headers = {"Idempotency-Key": "create-org-race"}
    lost = api.post("/v1/orgs", body, actor="pix4d-owner", headers=headers)
    assert lost.status_code == 409 and "try again" in lost.get_json()["detail"]
    again = api.post("/v1/orgs", body, actor="pix4d-owner", headers=headers)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers


def test_the_kept_answer_cannot_be_read_with_a_guessed_key_alone(api, demo):
    """The row holds an HMAC under the server's TOKEN_KEY: hashing a guessed key with the
    API key's name (both knowable) does not find it."""
    import hashlib

    assert send(api, "order-48213").status_code == 201
    guess = hashlib.sha256(b"lookup\0tests\0order-48213\0").hexdigest()
    with db.connection_context():
        assert IdempotentRequest.get_or_none(IdempotentRequest.key_hash == guess) is None
        assert IdempotentRequest.select().count() == 1
