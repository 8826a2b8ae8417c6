"""Consistency tokens (docs/API.md, version 1.1): every successful management write answers
the change position it committed at; decision and list requests say how fresh their facts
must be and answer the position they were decided at (access/cache.py, models/generation.py).
"""

import pytest

from access import targets as facts_module
from access.cache import FactCache
from models import Grant, Membership, db
from models.generation import current, parse_token, token
from tests.support import poll, wait_until

DATASET = {"type": "Dataset", "id": "pix4d-bridge-scan"}
PIX = "/v1/orgs/org-pix4d"
CHECK = {"actor": {"id": "pix4d-member"}, "action": "view", "resource": DATASET}


def fresh(written: str) -> dict:
    return {"consistency": {"mode": "at_least_as_fresh", "token": written}}


def position(response) -> int:
    written = response.headers["X-Consistency-Token"]
    assert parse_token(written) is not None, written
    return parse_token(written)


def test_every_management_write_answers_its_position(api, demo):
    role = api.put(f"{PIX}/members/pix4d-editor", {"role": "reader"}, actor="pix4d-owner")
    assert role.status_code == 200
    assert role.get_json()["consistency_token"] == role.headers["X-Consistency-Token"]
    first = position(role)
    invite = api.post(
        f"{PIX}/invitations",
        {"invitations": [{"email": "new@example.com", "role": "member"}]},
        actor="pix4d-owner",
    )
    assert invite.status_code == 201 and "consistency_token" in invite.get_json()
    grant = api.put(
        f"{PIX}/resources/Folder/pix4d-survey/grants/pix4d-reader",
        {"role": "editor"},
        actor="pix4d-owner",
    )
    assert grant.status_code == 201
    assert position(grant) > first  # a grant moves the position; positions only grow
    revoke = api.delete(
        f"{PIX}/resources/Folder/pix4d-survey/grants/pix4d-reader", actor="pix4d-owner"
    )
    assert revoke.status_code == 204 and position(revoke) > position(grant)  # header only
    refused = api.put(f"{PIX}/members/pix4d-owner", {"role": "member"}, actor="pix4d-member")
    assert refused.status_code == 403 and "X-Consistency-Token" not in refused.headers
    read = api.get(f"{PIX}/members", actor="pix4d-owner")
    assert read.status_code == 200 and "X-Consistency-Token" not in read.headers


def test_decisions_and_lists_answer_the_position_they_were_decided_at(api, demo):
    with db.connection_context():
        now = current(db)
    single = api.post("/v1/authorize", CHECK).get_json()
    assert parse_token(single["consistency_token"]) >= now
    batch = api.post("/v1/authorize/batch", {"checks": [CHECK, CHECK]}).get_json()
    assert {r["consistency_token"] for r in batch["results"]} == {batch["consistency_token"]}
    actions = api.post(
        "/v1/authorize/actions", {"actor": CHECK["actor"], "resource": DATASET}
    ).get_json()
    assert parse_token(actions["consistency_token"]) >= now
    listed = api.post(
        "/v1/authorize/resources",
        {"actor": CHECK["actor"], "action": "view", "type": "Dataset", "org": "org-pix4d"},
    ).get_json()
    assert parse_token(listed["consistency_token"]) >= now


def test_a_revoke_is_seen_by_a_check_that_passes_its_token(api, demo):
    assert api.allowed("pix4d-member", "view", DATASET) is True
    revoke = api.delete(
        f"{PIX}/resources/Folder/pix4d-survey/grants/pix4d-member", actor="pix4d-manager"
    )
    written = revoke.headers["X-Consistency-Token"]
    answer = api.post("/v1/authorize", {**CHECK, **fresh(written)}).get_json()
    assert answer["allowed"] is False
    assert parse_token(answer["consistency_token"]) >= parse_token(written)
    # and the list query too
    listed = api.post(
        "/v1/authorize/resources",
        {
            "actor": CHECK["actor"],
            "action": "view",
            "type": "Dataset",
            "org": "org-pix4d",
            **fresh(written),
        },
    ).get_json()
    assert listed["items"] == []


def test_fully_consistent_reads_the_database_now(api, demo):
    assert api.allowed("pix4d-member", "view", DATASET) is True
    with db.connection_context():  # no token: written by hand
        Grant.delete().where(Grant.user == "pix4d-member").execute()
    now = {"consistency": {"mode": "fully_consistent"}}
    assert api.allowed("pix4d-member", "view", DATASET, **now) is False


@pytest.mark.parametrize(
    "consistency, field",
    [
        ({"mode": "at_least_as_fresh", "token": "ct12.0000"}, "consistency.token"),  # checksum
        ({"mode": "at_least_as_fresh", "token": "nonsense"}, "consistency.token"),
        ({"mode": "at_least_as_fresh"}, "consistency.token"),
        ({"mode": "minimize_latency", "token": "ct1.0000"}, "consistency.token"),
        ({"mode": "eventually"}, "consistency.mode"),
        ({"mode": "fully_consistent", "extra": 1}, "consistency.extra"),
        ("fully_consistent", "consistency"),
    ],
)
def test_a_malformed_consistency_is_422_naming_the_field(api, demo, consistency, field):
    for path, body in (
        ("/v1/authorize", CHECK),
        ("/v1/authorize/batch", {"checks": [CHECK]}),
        ("/v1/authorize/actions", {"actor": CHECK["actor"], "resource": DATASET}),
    ):
        response = api.post(path, {**body, "consistency": consistency})
        assert response.status_code == 422, (path, response.get_json())
        assert field in response.get_json()["errors"], response.get_json()
        assert "allowed" not in response.get_json()


def test_a_token_past_the_database_is_unknown(api, demo):
    with db.connection_context():
        ahead = token(current(db) + 1000)
    response = api.post("/v1/authorize", {**CHECK, **fresh(ahead)})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"consistency.token": ["unknown"]}


def test_a_bad_key_is_401_before_any_complaint_about_freshness(api, app, demo):
    response = app.test_client().post(
        "/v1/authorize",
        json={**CHECK, "consistency": {"mode": "eventually"}},
        headers={"Authorization": "Bearer oaz_nope"},
    )
    assert response.status_code == 401


def test_a_worker_answers_after_its_own_writes_without_a_token(api, demo):
    """A write answered by this worker is included in its later answers, whatever the
    mode (the listener's notice is awaited if it has not arrived yet)."""
    for role, upload in (("reader", False), ("editor", True), ("reader", False)):
        change = api.put(f"{PIX}/members/pix4d-editor", {"role": role}, actor="pix4d-owner")
        assert change.status_code == 200
        assert api.allowed("pix4d-editor", "upload", DATASET) is upload


def test_sqlite_reads_the_position_per_request(api, demo, backend):
    """Without notices (SQLite), every decision request reads the change counter: a change
    written by hand is seen by the very next check, with no token."""
    if backend != "sqlite":
        pytest.skip("PostgreSQL keeps facts fresh by notices (tests below)")
    assert api.allowed("pix4d-member", "view", DATASET) is True
    with db.connection_context():
        Grant.delete().where(Grant.user == "pix4d-member").execute()
    assert api.allowed("pix4d-member", "view", DATASET) is False


def test_other_tenants_writes_leave_an_orgs_facts_alone(api, demo, backend, monkeypatch):
    """A write in one organization drops only that organization's cached facts (the
    trigger's notice names it): checks in the other orgs read nothing from the database."""
    if backend != "postgres":
        pytest.skip("SQLite drops everything when the counter moves")
    from access.cache import CACHE

    # notices from here on (connecting starts the facts over)
    wait_until(CACHE.listening, timeout=10, what="the listener to connect")
    up42 = {"type": "Organization", "id": "org-up42"}
    assert api.allowed("up42-member", "view", up42) is True  # facts of org-up42 cached
    assert api.allowed("pix4d-member", "view", DATASET) is True
    change = api.put(f"{PIX}/members/pix4d-editor", {"role": "reader"}, actor="pix4d-owner")
    written = change.headers["X-Consistency-Token"]
    # the notice of org-pix4d's change is applied before this answer
    assert api.allowed("pix4d-editor", "upload", DATASET, **fresh(written)) is False
    # (on a busy machine, after the answer)
    wait_until(lambda: CACHE.position >= parse_token(written), what="the notice to arrive")
    calls = []
    real = facts_module.TargetBuilder._query
    monkeypatch.setattr(
        facts_module.TargetBuilder,
        "_query",
        lambda self, name, *a, **k: calls.append(name) or real(self, name, *a, **k),
    )
    assert api.allowed("up42-member", "view", up42, **fresh(written)) is True
    assert calls == []  # org-up42's facts were kept
    with db.connection_context():  # and a change there is seen there, with its position
        Membership.update(role="admin").where(Membership.user == "up42-member").execute()
        moved = token(current(db))
    assert api.allowed("up42-member", "buy_credits", up42, **fresh(moved)) is True


def test_notices_drop_only_what_they_name():
    from access.cache import MISSING, SharedFacts
    from authz.view import Node, OrgRef, Target

    cache = FactCache()
    org_a, org_b = OrgRef("a", "pix4d"), OrgRef("b", "pix4d")
    facts = SharedFacts(cache, cache.epoch, 0)
    for org in (org_a, org_b):
        target = Target(org, (Node("Organization", org.id),))
        facts.put_target((org.id, "Organization", org.id), target)
        facts.put_actor("ann", org.id, (True, "owner", (), False, None))
    facts.put_key("digest", "key-1")
    facts.put_target(("a", "Folder", "none"), None)
    facts.put_owner_org("Folder", "f-1", "b")  # a check naming no org found it in b only
    cache.apply({"g": 1, "o": ["a"]})
    later = SharedFacts(cache, cache.epoch, 1)
    assert later.target(("a", "Organization", "a")) is MISSING
    assert later.target(("b", "Organization", "b")) is not MISSING
    assert later.actor("ann", "b") == (True, "owner", (), False, None)
    assert later.target(("a", "Folder", "none")) is None  # "no such resource" kept
    assert later.owner_org("Folder", "f-1") == "b"
    cache.apply({"g": 2, "u": ["ann"]})
    later = SharedFacts(cache, cache.epoch, 2)
    assert later.actor("ann", "b") is MISSING and later.key("digest") == "key-1"
    cache.apply({"g": 3, "n": True, "o": ["c"]})  # a registration anywhere (here in c)...
    later = SharedFacts(cache, cache.epoch, 3)
    assert later.target(("a", "Folder", "none")) is MISSING
    assert later.owner_org("Folder", "f-1") is MISSING  # ...may make that id ambiguous
    assert later.target(("b", "Organization", "b")) is not MISSING  # b's own facts stay
    cache.apply({"g": 4, "k": True})
    assert SharedFacts(cache, cache.epoch, 4).key("digest") is MISSING
    assert cache.position == 4


def test_a_store_that_began_before_a_notice_is_not_kept():
    from access.cache import MISSING, SharedFacts
    from authz.view import Node, OrgRef, Target

    cache = FactCache()
    started = SharedFacts(cache, cache.epoch, 0)  # read the database, then...
    cache.apply({"g": 1, "o": ["a"]})  # ...a change of org a committed meanwhile
    org = OrgRef("a", "pix4d")
    started.put_target(("a", "Organization", "a"), Target(org, (Node("Organization", "a"),)))
    assert SharedFacts(cache, cache.epoch, 1).target(("a", "Organization", "a")) is MISSING
    assert started.target(("a", "Organization", "a")) is not MISSING  # its own request keeps it


def test_lost_notices_are_caught_by_the_listeners_position_check(api, demo, backend, monkeypatch):
    """Should notices stop arriving (a proxy that drops LISTEN), minimize_latency answers
    are stale at most two position checks of the listener, then start over."""

    from access import cache

    if backend != "postgres":
        pytest.skip("no notices on SQLite")
    monkeypatch.setattr(cache, "LISTEN_PING_SECONDS", 0.1)
    assert api.allowed("pix4d-member", "view", DATASET) is True
    real = cache.CACHE.apply
    monkeypatch.setattr(
        cache.CACHE, "apply", lambda note, exact=False: note.get("all") and real(note, exact)
    )
    with db.connection_context():
        Grant.delete().where(Grant.user == "pix4d-member").execute()
    poll(lambda: not api.allowed("pix4d-member", "view", DATASET), timeout=5, every=0.05)
    assert api.allowed("pix4d-member", "view", DATASET) is False
