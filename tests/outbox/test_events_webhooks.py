"""Events: every change of a scripted story, pulled in commit order from GET /v1/events and
pushed to a webhook receiver on 127.0.0.1 that verifies each signature (the deprecated header,
and Standard Webhooks' with their library); a delivery answered 500 once is retried with
backoff; a reader never skips an event that commits late."""

import base64
import datetime
import json
import threading

import psycopg2
import pytest
from orgauthz_client import verify_webhook
from standardwebhooks import Webhook, WebhookVerificationError

from access import events, webhooks
from models import Delivery, Event, db
from routes.pagination import decode
from tests.conftest import PG_URL
from tests.outbox.conftest import verify
from tests.support import accept, add_user, invite, new_org, problem, waiting_on_a_lock


def pull(api, after=None, **params) -> tuple:
    """Every event after ``after`` (following next_cursor), and the last cursor."""
    items, cursor = [], after
    for _ in range(100):
        query = {"limit": 3, **params}
        if cursor:
            query["after"] = cursor
        page = api.get("/v1/events", query_string=query)
        assert page.status_code == 200, page.get_json()
        body = page.get_json()
        assert body["next_cursor"]
        if not body["items"]:
            return items, body["next_cursor"]
        items += body["items"]
        cursor = body["next_cursor"]
    raise AssertionError("no end")


def story(api):
    """Owner makes an org, invites and takes in a member, changes their role, gives and
    revokes a grant on a folder, moves and deletes it, removes the member, and closes."""
    add_user(api, "olga")
    org = new_org(api, "olga", "pix4d", name="Story", id="org-story")["id"]
    token = invite(api, "olga", org, ("pete@example.com", "editor")).get_json()["items"][0]["token"]
    assert accept(api, token, "pete").status_code == 200
    api.put(f"/v1/orgs/{org}/members/pete", {"role": "manager"}, actor="olga")
    api.put(f"/v1/orgs/{org}/resources/Folder/f1", {}, actor="olga")
    api.put(f"/v1/orgs/{org}/resources/Folder/f2", {}, actor="olga")
    api.put(f"/v1/orgs/{org}/members/pete", {"role": "reader"}, actor="olga")
    api.put(f"/v1/orgs/{org}/resources/Folder/f1/grants/pete", {"role": "editor"}, actor="olga")
    api.delete(f"/v1/orgs/{org}/resources/Folder/f1/grants/pete", actor="olga")
    api.put(
        f"/v1/orgs/{org}/resources/Folder/f2",
        {"parent": {"type": "Folder", "id": "f1"}},
        actor="olga",
    )
    api.put(f"/v1/orgs/{org}/resources/Folder/f2/grants/pete", {"role": "reader"}, actor="olga")
    api.patch(f"/v1/orgs/{org}", {"name": "Story 2"}, actor="olga")
    api.delete(f"/v1/orgs/{org}/members/pete", actor="olga")
    api.delete(f"/v1/orgs/{org}/resources/Folder/f1?recursive=true", actor="olga")
    api.delete(f"/v1/orgs/{org}", actor="olga")
    return org


STORY_TYPES = [
    "user.created",
    "org.created",
    "invitation.created",
    "invitation.accepted",
    "member.added",
    "member.role_changed",
    "resource.created",
    "resource.created",
    "member.role_changed",
    "grant.given",
    "grant.revoked",
    "resource.moved",
    "grant.given",
    "org.updated",
    "member.removed",
    "resource.deleted",
    "org.closed",
]


def test_a_receiver_gets_every_event_in_order_signed_and_a_retry_after_500(
    api, app, receiver, worker, clock
):
    add_user(api, "before")  # committed before the endpoint exists: not sent to it
    created = api.post("/v1/webhooks", {"url": receiver.url, "types": []})
    assert created.status_code == 201, created.get_json()
    hook = created.get_json()
    secret = hook["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert "secret" not in api.get("/v1/webhooks").get_json()["items"][0]
    _, start = pull(api)
    receiver.fail = {"member.role_changed"}  # the first role change answers 500 once
    story(api)
    worker.step()  # everything up to the first role change; that one waits for its retry
    statuses = [status for _, _, status in receiver.requests]
    assert statuses[-1] == 500 and statuses.count(500) == 1
    types_so_far = [json.loads(body)["type"] for _, body, _ in receiver.requests]
    assert types_so_far == STORY_TYPES[:6]  # held back behind the failing one: in order
    clock.advance(seconds=9)
    worker.step()
    assert len(receiver.requests) == 6  # not before the backoff (10 s)
    clock.advance(seconds=2)
    worker.step()
    delivered = [(h, b) for h, b, status in receiver.requests if status == 200]
    got = [json.loads(b) for _, b in delivered]
    assert [e["type"] for e in got] == STORY_TYPES
    unix = int(clock.now.replace(tzinfo=datetime.UTC).timestamp())
    for headers, body in delivered:
        assert verify(secret, headers, body, unix)
        assert not verify(secret, headers, body + b" ", unix)  # a changed body fails
        assert not verify("whsec_other", headers, body, unix)
        assert not verify(secret, headers, body, unix + 301)  # outside the replay window
        assert headers["X-Orgauthz-Event-Id"] == json.loads(body)["id"]
    # GET /v1/events returns the same events, in the same order.
    pulled, _ = pull(api, after=start)
    assert pulled == got
    assert [e["id"] for e in pulled] == sorted(e["id"] for e in pulled)
    # The delivery log: every delivery once delivered; the retried one shows both tries.
    log = api.get(f"/v1/webhooks/{hook['id']}/deliveries?limit=100").get_json()["items"]
    assert len(log) == len(STORY_TYPES) and {d["status"] for d in log} == {"delivered"}
    [retried] = [d for d in log if d["attempts"] == 2]
    assert retried["event_type"] == "member.role_changed"
    assert [a["status"] for a in retried["log"]] == [500, 200]


def real_now() -> datetime.datetime:
    """The wall clock, naive UTC as the test clock is: the standardwebhooks library checks a
    delivery's timestamp against it."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def test_a_standard_webhooks_receiver_accepts_every_delivery_of_the_journey(
    api, app, receiver, worker, clock
):
    clock.now = real_now()
    hook = api.post("/v1/webhooks", {"url": receiver.url, "types": []}).get_json()
    signing_secret = hook["signing_secret"]
    assert signing_secret.startswith("whsec_")
    # The same 32 bytes as the deprecated header's secret (an older endpoint converts it).
    key = base64.b64decode(signing_secret.removeprefix("whsec_"), validate=True)
    assert key == base64.urlsafe_b64decode(hook["secret"].removeprefix("whsec_") + "=")
    assert len(key) == 32 and "signing_secret" not in api.get("/v1/webhooks").get_json()["items"][0]
    standard = Webhook(signing_secret)
    receiver.check = lambda body, headers: standard.verify(body, headers)
    receiver.fail = {"member.role_changed"}  # verified, then answered 500 once
    story(api)
    worker.step()
    clock.advance(seconds=11)
    worker.step()
    assert receiver.refused == []  # the library accepted every delivery
    accepted = [(h, b) for h, b, status in receiver.requests if status == 200]
    assert [json.loads(b)["type"] for _, b in accepted] == STORY_TYPES
    for headers, body in accepted:
        assert headers["webhook-id"] == json.loads(body)["id"] == headers["X-Orgauthz-Event-Id"]
        for secret in (signing_secret, hook["secret"]):  # the client's helper takes either
            assert verify_webhook(secret, body, headers).id == headers["webhook-id"]
        assert headers["webhook-timestamp"] == headers["X-Orgauthz-Timestamp"]
    # A retry carries the same webhook-id (receivers deduplicate on it), a new timestamp.
    tries = [h for h, b, _ in receiver.requests if json.loads(b)["type"] == "member.role_changed"]
    first, retry = tries[0], tries[1]
    assert first["webhook-id"] == retry["webhook-id"]
    assert int(retry["webhook-timestamp"]) == int(first["webhook-timestamp"]) + 11
    # The library's check is real: a changed body, another id or another key fails.
    headers, body = accepted[-1]
    with pytest.raises(WebhookVerificationError):
        standard.verify(body.replace(b"org.closed", b"org.opened"), headers)
    with pytest.raises(WebhookVerificationError):
        standard.verify(body, {**headers, "webhook-id": accepted[0][0]["webhook-id"]})
    with pytest.raises(WebhookVerificationError):
        Webhook(base64.b64encode(b"k" * 32).decode()).verify(body, headers)
    # A delivery signed ten minutes ago is refused by the library ("too old"), and the retry
    # made now, with the same webhook-id, is accepted.
    clock.now = real_now() - datetime.timedelta(minutes=10)
    add_user(api, "late")
    worker.step()
    assert receiver.requests[-1][2] == 400 and receiver.refused == ["Message timestamp too old"]
    clock.now = real_now()
    worker.step()
    (old, _, _), (new, body, status) = receiver.requests[-2:]
    assert status == 200 and json.loads(body)["subject"]["id"] == "late"
    assert old["webhook-id"] == new["webhook-id"] and len(receiver.refused) == 1


def test_events_carry_who_what_and_before_after(api, app):
    _, start = pull(api)
    org = story(api)
    pulled, _ = pull(api, after=start, org=org)
    by_type = {}
    for e in pulled:
        by_type.setdefault(e["type"], []).append(e)
        assert e["org"] == org and e["time"].endswith("Z") and e["id"].startswith("evt_")
    change = by_type["member.role_changed"][0]
    assert change["actor"] == "olga" and change["subject"] == {"kind": "user", "id": "pete"}
    assert change["before"] == {"role": "editor"} and change["after"] == {"role": "manager"}
    grant = by_type["grant.given"][0]
    assert grant["subject"] == {
        "kind": "grant",
        "resource": {"type": "Folder", "id": "f1"},
        "user": "pete",
    }
    moved = by_type["resource.moved"][0]
    assert moved["before"]["parent"] is None
    assert moved["after"]["parent"] == {"type": "Folder", "id": "f1"}
    removed = by_type["member.removed"][0]
    assert removed["before"] == {
        "role": "reader",
        "grants": [{"type": "Folder", "id": "f2", "role": "reader"}],
    }
    assert by_type["invitation.accepted"][0]["actor"] == "pete"
    assert "token" not in json.dumps(pulled)
    # Filters: types and org.
    only, _ = pull(api, after=start, types="grant.given,grant.revoked")
    assert [e["type"] for e in only] == ["grant.given", "grant.revoked", "grant.given"]
    assert pull(api, after=start, org="org-else")[0] == []
    problem(api.get("/v1/events?types=Bad Type"), 422)
    problem(api.get("/v1/events?after=nope"), 422)
    problem(api.get("/v1/events?limit=0"), 422)


def test_expiry_is_an_event_once(api, app, clock, worker):
    add_user(api, "olga")
    org = new_org(api, "olga", "up42", name="Expiring")["id"]
    invite(api, "olga", org, ("late@example.com", "member"))
    _, start = pull(api)
    clock.advance(hours=47)
    worker.step()
    assert pull(api, after=start)[0] == []
    clock.advance(hours=2)
    assert worker.step()["expired"] == 1
    assert worker.step()["expired"] == 0
    pulled, _ = pull(api, after=start)
    assert [e["type"] for e in pulled] == ["invitation.expired"]
    assert pulled[0]["actor"] is None and pulled[0]["after"]["status"] == "expired"
    listed = api.get(f"/v1/orgs/{org}/invitations?status=expired", actor="olga").get_json()
    assert [i["email"] for i in listed["items"]] == ["late@example.com"]


def test_the_expire_command(app, api, clock):
    add_user(api, "olga")
    org = new_org(api, "olga", "up42", name="Expiring")["id"]
    invite(api, "olga", org, ("late@example.com", "member"))
    clock.advance(hours=49)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["invitations", "expire"])
    assert result.exit_code == 0 and "expired 1 invitations" in result.output, result.output
    assert "expired 0 invitations" in runner.invoke(args=["invitations", "expire"]).output


def test_webhooks_belong_to_their_key_and_refuse_private_urls(api, app, receiver):
    from models import ApiKey

    with db.connection_context():
        other_key = ApiKey.create_key("other")
    hook = api.post("/v1/webhooks", {"url": receiver.url, "types": ["org.created"]}).get_json()
    other = api.__class__(api.client, other_key)
    assert other.get("/v1/webhooks").get_json()["items"] == []
    problem(other.get(f"/v1/webhooks/{hook['id']}/deliveries"), 404)
    problem(other.delete(f"/v1/webhooks/{hook['id']}"), 404)
    problem(api.post("/v1/webhooks", {"url": receiver.url, "types": ["no.such"]}), 422)
    problem(api.post("/v1/webhooks", {"url": "ftp://example.com/x"}), 422)
    webhooks.configure({})  # production default: no private addresses
    body = problem(api.post("/v1/webhooks", {"url": receiver.url}), 422)
    assert "127.0.0.1" in body["errors"]["url"][0]
    assert api.delete(f"/v1/webhooks/{hook['id']}").status_code == 204
    assert api.get("/v1/webhooks").get_json()["items"] == []


def test_a_failed_delivery_is_replayed_by_the_flask_command(api, app, receiver, worker, clock):
    webhooks.configure({"WEBHOOK_ALLOW_PRIVATE": True, "WEBHOOK_MAX_ATTEMPTS": 2})
    hook = api.post("/v1/webhooks", {"url": receiver.url, "types": ["user.created"]}).get_json()
    receiver.fail = {"user.created"}
    add_user(api, "first")
    worker.step()
    receiver.fail = {"user.created"}
    clock.advance(seconds=11)
    worker.step()  # second try: 500 again, and that was the last try
    [failed] = api.get(f"/v1/webhooks/{hook['id']}/deliveries?status=failed").get_json()["items"]
    assert failed["attempts"] == 2 and failed["last_status"] == 500
    add_user(api, "second")
    worker.step()  # the next one is not held back by a failed one
    assert [s for _, _, s in receiver.requests] == [500, 500, 200]
    result = app.test_cli_runner().invoke(args=["webhooks", "replay", failed["id"]])
    assert result.exit_code == 0 and "queued again" in result.output, result.output
    worker.step()
    assert [s for _, _, s in receiver.requests] == [500, 500, 200, 200]
    assert json.loads(receiver.requests[-1][1])["id"] == failed["event_id"]
    bad = app.test_cli_runner().invoke(args=["webhooks", "replay", "dlv_999999"])
    assert bad.exit_code != 0 and "no delivery" in bad.output


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL: commit order against id order")
def test_a_reader_never_skips_an_event_that_commits_late(api, app, backend, pg_schema):
    """A transaction holds the event counter (it took a position and has not committed); a
    write made meanwhile waits for it, so no reader sees a later position before it."""
    if backend != "postgres":
        pytest.skip("PostgreSQL only")
    add_user(api, "olga")
    _, start = pull(api)
    slow = psycopg2.connect(PG_URL, options=f"-c search_path={pg_schema}")
    cur = slow.cursor()
    cur.execute("UPDATE event_counter SET value = value + 1 WHERE id = 1 RETURNING value")
    position = cur.fetchone()[0]
    cur.execute(
        "INSERT INTO event (position, type, time, subject) VALUES (%s, 'user.updated', now(), "
        '\'{"kind": "user", "id": "slow"}\')',
        (position,),
    )
    done = {}
    writer = threading.Thread(target=lambda: done.update(r=add_user(api, "fast")))
    writer.start()
    assert waiting_on_a_lock(PG_URL), "the fast write did not wait for the counter"
    assert "r" not in done  # the fast write waits for the counter
    assert pull(api, after=start)[0] == []  # and nothing above the committed head shows
    slow.commit()
    writer.join(10)
    slow.close()
    pulled, _ = pull(api, after=start)
    assert [e["subject"]["id"] for e in pulled] == ["slow", "fast"]
    assert decode(pull(api, after=start)[1], "int") == position + 1


def test_event_positions_are_gapless_after_a_rollback(api, app):
    add_user(api, "olga")
    before = events_head()
    problem(api.put("/v1/users/olga2", {"email": "olga@example.com"}), 409)  # rolled back
    add_user(api, "ulla")
    with db.connection_context():
        positions = [e.position for e in Event.select().order_by(Event.position)]
    assert positions == list(range(1, len(positions) + 1)) and events_head() == before + 1


def events_head():
    with db.connection_context():
        return events.head()


def test_deliveries_are_made_once_by_two_dispatchers(api, app, receiver, clock):
    api.post("/v1/webhooks", {"url": receiver.url})
    for i in range(5):
        add_user(api, f"u{i}")
    with db.connection_context():
        webhooks.dispatch(clock.now)
        webhooks.dispatch(clock.now)
        assert Delivery.select().count() == 5
