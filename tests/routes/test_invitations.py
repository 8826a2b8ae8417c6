"""Invitations over HTTP: batches are all or nothing, tokens are hashed and single use, the
lifetime and the batch limit come from the policy, accept is bound to the invited email."""

import logging
import shutil

import peewee
import pytest

import models
from authz.engine import POLICY_DIR, PolicyHolder
from models import AuditEvent, Invitation, Membership, User, db, hash_secret
from tests.support import accept, add_user, invite, join, new_org, problem


@pytest.fixture
def org(api, app):
    add_user(api, "olivia")
    org_id = new_org(api, "olivia", "pix4d")["id"]
    join(api, "olivia", org_id, "max", "manager")
    join(api, "olivia", org_id, "erin", "editor")
    return org_id


def counts():
    with db.connection_context():
        return Invitation.select().count(), AuditEvent.select().count(), User.select().count()


@pytest.mark.parametrize(
    "bad_item, status, field",
    [
        ({"email": "x7@example.com", "role": "wizard"}, 422, "invitations.6.role"),
        ({"email": "not-an-email", "role": "reader"}, 422, "invitations.6.email"),
        ({"email": "x0@example.com", "role": "reader"}, 422, "invitations.6.email"),  # twice
        ({"email": "ERIN@example.com", "role": "reader"}, 409, "invitations.6.email"),  # a member
        ({"email": "x7@example.com", "role": "owner"}, 403, "invitations.6.role"),  # above Manager
    ],
)
def test_a_batch_failing_on_its_7th_item_writes_nothing(api, org, bad_item, status, field):
    before = counts()
    items = [{"email": f"x{i}@example.com", "role": "reader"} for i in range(6)]
    items += [bad_item] + [{"email": f"y{i}@example.com", "role": "member"} for i in range(3)]
    response = api.post(f"/v1/orgs/{org}/invitations", {"invitations": items}, actor="max")
    body = problem(response, status)
    assert list(body["errors"]) == [field]
    assert counts() == before


def test_already_pending_is_refused_per_item(api, org):
    invite(api, "max", org, ("p@example.com", "reader"))
    body = problem(
        invite(api, "max", org, ("q@example.com", "reader"), ("P@EXAMPLE.COM", "editor")), 409
    )
    assert body["errors"] == {"invitations.1.email": ["already has a pending invitation"]}


def test_list_by_status_and_cancel(api, org, clock):
    items = invite(
        api,
        "max",
        org,
        ("a@example.com", "reader"),
        ("b@example.com", "editor"),
        ("c@example.com", "member"),
        ("d@example.com", "member"),
    ).get_json()["items"]
    a, b, c, _ = items
    assert accept(api, a["token"], "a").status_code == 200
    cancelled = api.delete(f"/v1/orgs/{org}/invitations/{b['id']}", actor="max")
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert "token" not in cancelled.get_json()
    problem(api.delete(f"/v1/orgs/{org}/invitations/{b['id']}", actor="max"), 409)
    problem(api.delete(f"/v1/orgs/{org}/invitations/nope", actor="max"), 404)
    problem(api.delete(f"/v1/orgs/{org}/invitations/{c['id']}", actor="erin"), 403)
    assert "cancelled" in problem(accept(api, b["token"], "b"), 410)["detail"]
    assert "already used" in problem(accept(api, a["token"], "a"), 410)["detail"]
    assert problem(accept(api, "no-such-token", "z"), 404)

    def ids(status):
        response = api.get(
            f"/v1/orgs/{org}/invitations", actor="max", query_string={"status": status}
        )
        assert response.status_code == 200, response.get_json()
        return {i["email"] for i in response.get_json()["items"]}

    # The fixture's two accepted invitations are there too.
    assert ids("accepted") == {"max@example.com", "erin@example.com", "a@example.com"}
    assert ids("cancelled") == {"b@example.com"}
    assert ids("pending") == {"c@example.com", "d@example.com"}
    clock.advance(days=15, seconds=1)  # Pix4D: 15 days
    assert ids("pending") == set() and ids("expired") == {"c@example.com", "d@example.com"}
    problem(api.get(f"/v1/orgs/{org}/invitations?status=lost", actor="max"), 422)
    problem(api.get(f"/v1/orgs/{org}/invitations", actor="erin"), 403)


def test_accept_is_bound_to_the_email_and_the_actor(api, org):
    token = invite(api, "max", org, ("Nora@Example.com", "reader")).get_json()["items"][0]["token"]
    body = problem(accept(api, token, "nora", email="someone@example.com"), 403)
    assert "another email" in body["detail"]
    with db.connection_context():
        assert User.get_or_none(User.id == "nora") is None  # nothing half-done
    # X-Actor-Id is optional; when sent it must be the accepting user.
    problem(accept(api, token, "nora", email="nora@example.com", actor="erin"), 403)
    joined = accept(api, token, "nora", email="NORA@example.com", actor="nora")
    assert joined.status_code == 200 and joined.get_json()["role"] == "reader"
    with db.connection_context():
        user = User.get_by_id("nora")
        assert user.default_org == org and user.last_active_at is not None


def test_existing_user_accepts_and_members_are_not_invited_twice(api, org):
    add_user(api, "sam", email="sam@example.com")
    token = invite(api, "max", org, ("sam@example.com", "member")).get_json()["items"][0]["token"]
    # The stored email of an existing user must match too.
    add_user(api, "zed")
    problem(accept(api, token, "zed", email="sam@example.com"), 403)
    # Someone who already is a member: nothing to accept.
    token2 = invite(api, "max", org, ("e2@example.com", "reader")).get_json()["items"][0]["token"]
    api.put("/v1/users/erin", {"email": "e2@example.com", "name": "Erin"})
    problem(accept(api, token2, "erin", email="e2@example.com"), 409)
    assert accept(api, token, "sam").status_code == 200
    body = problem(invite(api, "max", org, ("SAM@example.com", "reader")), 409)
    assert body["errors"] == {"invitations.0.email": ["already a member of the organization"]}


def test_tokens_are_never_stored_or_logged_in_the_clear(api, org, app, caplog):
    caplog.set_level(logging.DEBUG)
    response = invite(api, "max", org, ("t1@example.com", "reader"), ("t2@example.com", "member"))
    tokens = [i["token"] for i in response.get_json()["items"]]
    assert len(set(tokens)) == 2 and all(len(t) >= 40 for t in tokens)
    accept(api, tokens[0], "t1")
    api.delete(f"/v1/orgs/{org}/invitations/{response.get_json()['items'][1]['id']}", actor="max")
    with db.connection_context():
        for inv in Invitation.select():
            assert inv.token_hash not in tokens
        assert {hash_secret(t) for t in tokens} <= {i.token_hash for i in Invitation.select()}
        for model in models.MODELS:
            text_fields = [
                f
                for f in model._meta.sorted_fields
                if isinstance(f, (peewee.CharField, peewee.TextField))
            ]
            for row in model.select(*text_fields).dicts():
                for value in row.values():
                    for token in tokens:
                        assert token not in str(value), f"{model.__name__} holds a token"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    logged += caplog.text
    from ops import decisionlog

    decisionlog.flush()
    path = app.config.get("DECISION_LOG")
    if path and path != "off":
        from pathlib import Path

        if Path(path).exists():
            logged += Path(path).read_text()
    for token in tokens:
        assert token not in logged


def test_lifetime_and_batch_limit_come_from_the_policy(api, org, app, tmp_path, clock):
    folder = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, folder)
    source = (folder / "pix4d.polar").read_text()
    source = source.replace(
        'setting("invitation_lifetime_hours", 360);', 'setting("invitation_lifetime_hours", 2);'
    )
    source = source.replace(
        'setting("invitation_batch_limit", 100);', 'setting("invitation_batch_limit", 2);'
    )
    (folder / "pix4d.polar").write_text(source)
    app.extensions["orgauthz.policy"] = PolicyHolder(folder)
    body = problem(
        invite(
            api,
            "max",
            org,
            ("a@example.com", "reader"),
            ("b@example.com", "reader"),
            ("c@example.com", "reader"),
        ),
        403,
    )
    assert "at most 2" in body["detail"]
    items = invite(api, "max", org, ("a@example.com", "reader")).get_json()["items"]
    assert items[0]["expires_at"] == "2026-11-23T14:00:00Z"


def test_a_closed_org_takes_no_invitations(api, org):
    token = invite(api, "max", org, ("late@example.com", "reader")).get_json()["items"][0]["token"]
    assert api.delete(f"/v1/orgs/{org}", actor="olivia").status_code == 200
    assert (
        "closed"
        in problem(invite(api, "olivia", org, ("z@example.com", "reader")), 403)["errors"][
            "invitations.0.role"
        ][0]
    )
    assert "closed" in problem(accept(api, token, "late"), 403)["detail"]
    with db.connection_context():
        assert not Membership.select().where(Membership.user == "late").exists()


def test_an_invitation_is_accepted_up_to_its_last_second_and_not_after(api, org, clock):
    """[P1] "Invitations are valid for 15 days. After 15 days, they automatically expire."
    Accepting one past its time is refused as gone, and makes no member."""
    items = invite(api, "max", org, ("a@example.com", "reader"), ("b@example.com", "reader"))
    a, b = items.get_json()["items"]
    clock.advance(days=15, seconds=-1)
    assert accept(api, a["token"], "a").status_code == 200
    clock.advance(seconds=1)
    body = problem(accept(api, b["token"], "b"), 410)
    assert body["detail"] == "the invitation is expired; ask for a new one"
    body = problem(accept(api, a["token"], "a"), 410)
    assert body["detail"] == "the invitation was already used; ask for a new one"
    with db.connection_context():
        assert not Membership.select().where(Membership.org == org, Membership.user == "b").exists()
        assert Invitation.get(Invitation.id == b["id"]).status == "pending"
