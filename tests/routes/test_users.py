"""Users over HTTP: sync from the identity provider, the default organization, the orgs a
user belongs to, and last_active_at."""

from models import User, db
from tests.support import add_user, join, new_org, problem


def test_put_creates_then_updates(api, app):
    created = api.put("/v1/users/u-1", {"email": "Ann@Example.com", "name": "Ann"})
    assert created.status_code == 200  # create or update: 200 either way
    assert created.get_json()["email"] == "Ann@Example.com"
    updated = api.put("/v1/users/u-1", {"email": "ann@example.org", "name": "Ann B"}, actor="u-1")
    assert updated.status_code == 200 and updated.get_json()["name"] == "Ann B"
    assert api.get("/v1/users/u-1").get_json()["email"] == "ann@example.org"
    # X-Actor-Id, when sent, must be that user.
    problem(api.put("/v1/users/u-1", {"email": "x@example.com"}, actor="u-2"), 403)
    problem(api.get("/v1/users/u-1", actor="u-2"), 403)
    problem(api.get("/v1/users/nobody"), 404)
    # Emails are unique whatever their case.
    body = problem(api.put("/v1/users/u-2", {"email": "ANN@example.org"}), 409)
    assert "email" in body["errors"]
    body = problem(api.put("/v1/users/u-2", {"email": "nope", "nick": "x"}), 422)
    assert set(body["errors"]) == {"email", "nick"}


def test_default_org_must_be_one_of_the_users(api, app):
    add_user(api, "u-ann")
    add_user(api, "u-bob")
    mine = new_org(api, "u-ann", "pix4d", name="Mine")["id"]
    other = new_org(api, "u-bob", "pix4d", name="Other")["id"]
    second = new_org(api, "u-ann", "pix4d", name="Second")["id"]
    assert api.get("/v1/users/u-ann").get_json()["default_org_id"] == mine
    body = problem(api.patch("/v1/users/u-ann", {"default_org_id": other}), 422)
    assert "default_org_id" in body["errors"]
    ok = api.patch("/v1/users/u-ann", {"default_org_id": second}, actor="u-ann")
    assert ok.status_code == 200 and ok.get_json()["default_org_id"] == second
    assert (
        api.patch("/v1/users/u-ann", {"default_org_id": None}).get_json()["default_org_id"] is None
    )
    problem(api.patch("/v1/users/u-ann", {"default_org": mine}), 422)


def test_orgs_of_a_user_with_role_paginated(api, app):
    add_user(api, "u-ann")
    add_user(api, "u-bob")
    ids = [new_org(api, "u-ann", "pix4d", name=f"O{i}", id=f"org-{i}")["id"] for i in range(3)]
    join(api, "u-ann", ids[1], "u-bob", "reader")
    up = new_org(api, "u-bob", "up42", id="org-up")["id"]
    first = api.get("/v1/users/u-bob/orgs?limit=1").get_json()
    assert [(o["id"], o["role"]) for o in first["items"]] == [("org-1", "reader")]
    rest = api.get("/v1/users/u-bob/orgs", query_string={"cursor": first["next_cursor"]})
    assert [(o["id"], o["role"], o["style"]) for o in rest.get_json()["items"]] == [
        (up, "admin", "up42")
    ]
    assert rest.get_json()["next_cursor"] is None
    assert len(api.get("/v1/users/u-ann/orgs").get_json()["items"]) == 3


def test_decisions_and_management_calls_update_last_active_at(api, app, clock):
    add_user(api, "u-ann")
    with db.connection_context():
        assert User.get_by_id("u-ann").last_active_at is None
    org = new_org(api, "u-ann", "pix4d")["id"]
    with db.connection_context():
        assert User.get_by_id("u-ann").last_active_at == clock.now
    from routes.context import forget_last_active

    clock.advance(minutes=5)
    forget_last_active()
    api.allowed("u-ann", "view", {"type": "Organization", "id": org})
    assert api.get("/v1/users/u-ann").get_json()["last_active_at"] == "2026-11-23T12:05:00Z"
