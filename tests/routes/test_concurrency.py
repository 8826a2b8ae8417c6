"""The last-owner rule under concurrency: two Owners demoting (or leaving) each other at the
same moment, from two threads with a client each, 50 times, never leave an org without an
Owner.

How it holds (routes/members.py): every membership change runs in one
``models.transaction()`` that first takes ``Organization.lock(org_id)``, and only then reads
the roles, computes ``last_of_role`` and asks the policy. On PostgreSQL the lock is
``SELECT ... FOR UPDATE`` on the organization's row: the second request waits for the first
to commit, then reads the committed roles (READ COMMITTED) and is refused. On SQLite the
transaction is ``BEGIN IMMEDIATE``, which serialises writers the same way, so the test runs
on both. Without the lock the PostgreSQL rounds fail at once (0 owners after [200, 200]).

Also: a token accepted twice at once works once (the invitation is read again under the
org's lock), and respond.io's one organization per user holds when one user creates two at
once (``User.lock``: without it, [201, 201]).
"""

import pytest

from models import Membership, Organization, User, db
from tests.support import add_user, race

ROUNDS = 50


@pytest.mark.parametrize("move", ["demote", "leave"])
def test_two_owners_at_once_never_leave_an_org_without_owner(api, app, move):
    add_user(api, "ann")
    add_user(api, "bob")
    outcomes = []
    for round_ in range(ROUNDS):
        org_id = f"org-race-{round_}"
        with db.connection_context():
            Organization.create(id=org_id, name="Race", style="pix4d", created_by="ann")
            Membership.create(user="ann", org=org_id, role="owner")
            Membership.create(user="bob", org=org_id, role="owner")
        if move == "demote":  # each demotes the other
            calls = [
                ("PUT", f"/v1/orgs/{org_id}/members/bob", {"role": "manager"}, "ann"),
                ("PUT", f"/v1/orgs/{org_id}/members/ann", {"role": "manager"}, "bob"),
            ]
        else:  # both leave
            calls = [
                ("DELETE", f"/v1/orgs/{org_id}/members/ann", None, "ann"),
                ("DELETE", f"/v1/orgs/{org_id}/members/bob", None, "bob"),
            ]
        results = race(app, api.key, calls)
        with db.connection_context():
            owners = (
                Membership.select()
                .where((Membership.org == org_id) & (Membership.role == "owner"))
                .count()
            )
        assert owners == 1, f"round {round_}: {owners} owners after {results}"
        outcomes.append(tuple(sorted(results)))
    ok = 200 if move == "demote" else 204
    assert set(outcomes) == {(ok, 403)}  # one wins, the other is refused, every time
    with db.connection_context():
        assert User.select().count() == 2


def test_a_token_accepted_twice_at_once_works_once(api, app):
    from tests.support import invite, new_org

    add_user(api, "ann")
    org = new_org(api, "ann", "pix4d")["id"]
    for round_ in range(20):
        uid = f"u{round_}"
        token = invite(api, "ann", org, (f"{uid}@example.com", "reader")).get_json()["items"][0][
            "token"
        ]
        body = {"token": token, "user": {"id": uid, "email": f"{uid}@example.com", "name": uid}}
        results = race(app, api.key, [("POST", "/v1/invitations/accept", body, None)] * 2)
        assert sorted(results) == [200, 410], f"round {round_}: {results}"
    with db.connection_context():
        assert Membership.select().where(Membership.org == org).count() == 21


def test_one_respondio_org_per_user_holds_under_concurrency(api, app):
    for round_ in range(20):
        uid = f"creator{round_}"
        add_user(api, uid)
        body = {"name": "Mine", "style": "respondio"}
        results = race(app, api.key, [("POST", "/v1/orgs", body, uid)] * 2)
        assert sorted(results) == [201, 403], f"round {round_}: {results}"
        with db.connection_context():
            assert Organization.select().where(Organization.created_by == uid).count() == 1
