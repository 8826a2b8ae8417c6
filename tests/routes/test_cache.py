"""The decision endpoints cache facts across requests, and never serve them after a change
the caller names: a check that passes the write's consistency token is decided on facts at
least that fresh, whoever wrote them and however (the change position and its token:
models/generation.py)."""

from access import targets as facts_module
from models import ApiKey, Grant, Membership, User, db
from models.generation import current, token


def written() -> dict:
    """The ``consistency`` of a check that must see every change committed so far (the
    token a write through the API answers; these tests write to the database directly)."""
    with db.connection_context():
        return {"consistency": {"mode": "at_least_as_fresh", "token": token(current(db))}}


DATASET = {"type": "Dataset", "id": "pix4d-bridge-scan"}


def count_queries(monkeypatch):
    calls = []
    real = facts_module.TargetBuilder._query

    def counting(self, name, params, many=0):
        calls.append(name)
        return real(self, name, params, many)

    monkeypatch.setattr(facts_module.TargetBuilder, "_query", counting)
    return calls


def test_a_repeated_decision_reads_no_facts_from_the_database(api, demo, monkeypatch):
    calls = count_queries(monkeypatch)
    assert api.allowed("pix4d-member", "view", DATASET) is True
    first = len(calls)
    # resource, ancestors, actor, grants; on PostgreSQL two queries carry all four
    assert first >= 2
    assert api.allowed("pix4d-member", "view", DATASET) is True
    assert len(calls) == first  # served from the worker's cache


def test_a_repeated_check_on_an_organization_is_a_known_answer(api, demo, monkeypatch):
    """An organization is its own: a check on one, naming no org, is answered from the
    worker's known answers once decided, alone and in a batch."""
    from access import decisions

    asked = []
    real = decisions.decide
    monkeypatch.setattr(decisions, "decide", lambda *a, **k: asked.append(a[2]) or real(*a, **k))
    org = {"type": "Organization", "id": "org-pix4d"}
    for _ in range(3):
        assert api.allowed("pix4d-owner", "edit_billing", org) is True
    check = {"actor": {"id": "pix4d-owner"}, "action": "edit_billing", "resource": org}
    answered = api.post("/v1/authorize/batch", {"checks": [check, check]}).get_json()
    assert [r["allowed"] for r in answered["results"]] == [True, True]
    assert asked == ["pix4d-owner"]


def test_every_kind_of_change_is_seen_on_the_very_next_request(api, demo):
    assert api.allowed("pix4d-member", "view", DATASET) is True
    with db.connection_context():  # a grant revoked by any code path
        Grant.delete().where(Grant.user == "pix4d-member").execute()
    assert api.allowed("pix4d-member", "view", DATASET, **written()) is False

    assert api.allowed("pix4d-editor", "upload", DATASET) is True
    with db.connection_context():  # a role changed
        Membership.update(role="reader").where(Membership.user == "pix4d-editor").execute()
    assert api.allowed("pix4d-editor", "upload", DATASET, **written()) is False

    assert api.allowed("someone-new", "view", {"type": "Organization", "id": "org-pix4d"}) is False
    with db.connection_context():  # a user created and made a member
        User.create(id="someone-new", email="n@x.io", email_key="n@x.io")
        Membership.create(user="someone-new", org="org-pix4d", role="reader")
    org = {"type": "Organization", "id": "org-pix4d"}
    assert api.allowed("someone-new", "view", org, **written()) is True

    with db.connection_context():  # the caller's key revoked
        ApiKey.update(revoked_at=ApiKey.created_at).execute()
    check = {"actor": {"id": "pix4d-owner"}, "action": "view", "resource": org}
    assert api.post("/v1/authorize", {**check, **written()}).status_code == 401


def test_last_active_updates_do_not_drop_the_cache(api, demo, monkeypatch):
    from models.generation import current

    api.allowed("pix4d-reader", "view", DATASET)
    with db.connection_context():
        before = current(db)
        User.update(name="Renamed").where(User.id == "pix4d-reader").execute()
        assert current(db) == before
