"""Erasing a user (a privacy request): memberships, grants and pending invitations go as a
removal would drop them; the last holder of an org's top role cannot vanish (409 naming the
orgs); afterwards no table names the user, and the audit trail and the events keep their
entries under a pseudonym."""

import peewee

import models
from models import Grant, Membership, User, db
from tests.support import accept, add_user, invite, join, new_org, problem

EVE, EVE_MAIL = "eve-9f3k", "Eve.9F3K@example.com"


def mentions() -> list:
    """(table, column) of every text value naming Eve, in every table."""
    found = []
    with db.connection_context():
        for model in models.MODELS:
            text = [
                f
                for f in model._meta.sorted_fields
                if isinstance(f, (peewee.CharField, peewee.TextField))
            ]
            for row in model.select(*text).dicts():
                for column, value in row.items():
                    low = str(value).lower()
                    if EVE in low or EVE_MAIL.lower() in low or "eve.9f3k" in low:
                        found.append((model.__name__, column))
    return found


def test_erasure_leaves_only_a_pseudonym(api, app, smtp, worker):
    add_user(api, "olga")
    add_user(api, "rita")
    add_user(api, EVE, email=EVE_MAIL, name="Eve Nine")
    org = new_org(api, "olga", "pix4d", name="Acme", id="org-acme")["id"]
    join(api, "olga", org, "pat", "reader")
    made = invite(api, "olga", org, (EVE_MAIL, "manager")).get_json()["items"][0]
    worker.step()  # the mail to Eve is sent (and kept as a record)
    assert accept(api, made["token"], EVE, email=EVE_MAIL).status_code == 200
    api.put(f"/v1/orgs/{org}/resources/Folder/plans", {"owner": EVE}, actor="olga")
    api.put(f"/v1/orgs/{org}/resources/Folder/plans/grants/{EVE}", {"role": "editor"}, actor="olga")
    api.put(f"/v1/orgs/{org}/members/pat", {"role": "editor"}, actor=EVE)
    invite(api, EVE, org, ("newbie@example.com", "reader"))  # Eve invites someone
    # Eve's own organization, where she is the only Owner, and an invitation elsewhere.
    mine = new_org(api, EVE, "pix4d", name="Eve's", id="org-eve")["id"]
    other = new_org(api, "rita", "respondio", name="Chat")["id"]
    invite(api, "rita", other, (EVE_MAIL.upper(), "member"))

    body = problem(api.delete(f"/v1/users/{EVE}"), 409)
    assert "org-eve" in body["detail"] and "org-acme" not in body["detail"]
    assert body["errors"] == {"user_id": ["last top role of org-eve"]}
    assert mentions()  # nothing was changed
    join(api, EVE, mine, "rita", "owner")
    problem(api.delete(f"/v1/users/{EVE}", actor="olga"), 403)  # only for themselves

    erased = api.delete(f"/v1/users/{EVE}")
    assert erased.status_code == 200, erased.get_json()
    result = erased.get_json()
    pseudonym = result["user_id"]
    assert pseudonym.startswith("erased-") and EVE not in pseudonym
    assert result["orgs_left"] == ["org-acme", "org-eve"]
    assert result["invitations_removed"] == 1 and result["resources_unowned"] == 1
    assert mentions() == []
    with db.connection_context():
        assert not Membership.select().where(Membership.user == EVE).exists()
        assert not Grant.select().where(Grant.user == EVE).exists()
        assert User.get_or_none(User.id == EVE) is None
    problem(api.get(f"/v1/users/{EVE}"), 404)
    problem(api.delete(f"/v1/users/{EVE}"), 404)

    # The audit trail keeps what happened, naming the pseudonym.
    trail = api.get(f"/v1/orgs/{org}/audit?limit=100", actor="olga").get_json()["items"]
    words = [e["summary"] for e in trail]
    assert f"{pseudonym} joined as Manager" in words
    assert f"{pseudonym} changed pat's role from Reader to Editor" in words
    assert f"olga gave {pseudonym} the Editor role on Folder plans" in words
    assert words[-1] == (
        f"the service removed {pseudonym} (was Manager) when the user was erased; grants "
        "dropped: Editor on Folder plans"
    )
    invited = [e for e in trail if e["action"] == "invitation.create"]
    assert {e["after"]["email"] for e in invited} >= {f"{pseudonym}@erased.invalid"}
    # The same in the events.
    events = api.get("/v1/events?limit=500").get_json()["items"]
    assert events[-1]["type"] == "user.erased"
    assert events[-1]["subject"] == {"kind": "user", "id": pseudonym}
    assert any(e["actor"] == pseudonym for e in events)
    # Others are untouched: the invitation Eve sent still works, from the pseudonym.
    assert api.get(f"/v1/orgs/{org}/members/pat", actor="olga").get_json()["role"] == "editor"
    worker.step()
    [sent] = smtp.to("newbie@example.com")
    assert pseudonym in sent["Subject"]


def test_erasure_locks_the_orgs_of_what_it_changes_before_the_user(api, app, backend):
    """An organization the user has left but still owns a resource in is locked before the
    user, as every unit of work does, so an erasure and a write there cannot deadlock."""
    if backend != "postgres":
        return  # SQLite takes one write lock for the whole database: no order to keep
    import threading

    add_user(api, "olga")
    add_user(api, EVE, email=EVE_MAIL, name="Eve Nine")
    org = new_org(api, "olga", "pix4d", name="Acme", id="org-acme")["id"]
    made = invite(api, "olga", org, (EVE_MAIL, "editor")).get_json()["items"][0]
    assert accept(api, made["token"], EVE, email=EVE_MAIL).status_code == 200
    api.put(f"/v1/orgs/{org}/resources/Folder/plans", {"owner": EVE}, actor="olga")
    assert api.delete(f"/v1/orgs/{org}/members/{EVE}", actor="olga").status_code == 204

    import psycopg2

    params = {**db.obj.connect_params, "dbname": db.obj.database}
    params.pop("max_connections", None), params.pop("stale_timeout", None)
    holder = psycopg2.connect(**params)  # a transaction elsewhere holds org-acme
    holder.cursor().execute('SELECT id FROM "organization" WHERE id = %s FOR UPDATE', (org,))
    answers = []
    erasing = threading.Thread(target=lambda: answers.append(api.delete(f"/v1/users/{EVE}")))
    erasing.start()
    try:
        erasing.join(1.0)
        assert erasing.is_alive()  # waiting for org-acme ...
        probe = psycopg2.connect(**params)
        try:  # ... without holding the user meanwhile (NOWAIT: an error if it were held)
            probe.cursor().execute('SELECT id FROM "user" WHERE id = %s FOR UPDATE NOWAIT', (EVE,))
            probe.rollback()
        finally:
            probe.close()
    finally:
        holder.rollback()
        holder.close()
        erasing.join(30)
    assert answers and answers[0].status_code == 200, answers[0].get_json()
