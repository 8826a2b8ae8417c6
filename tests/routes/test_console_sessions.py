"""The console's sessions are kept on the server (models/console.py).

The cookie once held the API key itself (signed, not encrypted), and a copied cookie kept
working after logout. Now it holds a random id; the table keeps its hash and the key's row.
Logging out deletes the row, a revoked key ends every session of that key, and a session
past its lifetime or idle too long ends: a copied cookie is then refused.
"""

import pytest

from models import ApiKey, Membership, db, hash_secret
from models.console import ConsoleSession
from tests.routes.console_helpers import (
    SESSION_COOKIE,
    console_table,
    csrf_of,
    login,
    session_cookie,
    set_actor,
)

pytestmark = [pytest.mark.usefixtures(console_table.__name__)]


def copy_of(app, client):
    """Another browser holding a copy of ``client``'s session cookie."""
    other = app.test_client()
    other.set_cookie(SESSION_COOKIE, session_cookie(client), path="/console")
    return other


def logged_out(response) -> bool:
    return response.status_code == 200 and b'name="api_key"' in response.data


def role_of(user_id: str) -> str:
    with db.connection_context():
        return Membership.get(Membership.user == user_id).role


def test_the_cookie_holds_a_random_id_and_the_table_only_its_hash(app, api):
    client = app.test_client()
    login(client, api.key)
    cookie = session_cookie(client)
    assert cookie and api.key not in cookie and len(cookie) >= 40
    with db.connection_context():
        rows = list(ConsoleSession.select().dicts())
    assert len(rows) == 1
    row = rows[0]
    assert row["id_hash"] == hash_secret(cookie)
    assert api.key not in str(row) and cookie not in str(row)
    assert row["key"] == ApiKey.get(ApiKey.name == "tests").id
    # A second login, even from the same browser, is a new session id (no fixation).
    login(client, api.key)
    assert session_cookie(client) != cookie
    with db.connection_context():
        assert ConsoleSession.select().count() == 1


def test_a_copied_cookie_is_refused_after_logout(app, api, demo):
    client = app.test_client()
    login(client, api.key)
    csrf = set_actor(client, "pix4d-owner")
    thief = copy_of(app, client)
    assert b'id="acting-user"' in thief.get("/console/").data  # a copy works while it lasts

    answer = client.post("/console/logout", data={"csrf": csrf})
    assert answer.status_code == 303
    assert any(
        c.startswith(f"{SESSION_COOKIE}=;") for c in answer.headers.getlist("Set-Cookie")
    )  # dropped in the browser
    with db.connection_context():
        assert ConsoleSession.select().count() == 0  # and ended on the server
    # The copy no longer opens a page, nor makes a change with the token it saw.
    assert logged_out(thief.get("/console/orgs/org-pix4d"))
    refused = thief.post(
        "/console/orgs/org-pix4d/members/pix4d-member/role", data={"role": "reader", "csrf": csrf}
    )
    assert refused.status_code == 400
    assert role_of("pix4d-member") == "member"
    assert logged_out(client.get("/console/"))


def test_a_revoked_key_ends_its_sessions_on_the_next_page(app, api, demo):
    with db.connection_context():
        other_key = ApiKey.create_key("other")
    first, second, unrelated = app.test_client(), app.test_client(), app.test_client()
    login(first, api.key)
    csrf = set_actor(first, "pix4d-owner")
    login(second, api.key)
    login(unrelated, other_key)
    with db.connection_context():
        assert ConsoleSession.select().count() == 3
        ApiKey.update(revoked_at=ApiKey.created_at).where(ApiKey.name == "tests").execute()
    # Checked on every page: the next one is the login form, and the sessions are gone.
    assert logged_out(first.get("/console/"))
    with db.connection_context():
        left = [s.key.name for s in ConsoleSession.select(ConsoleSession, ApiKey).join(ApiKey)]
    assert left == ["other"]
    assert logged_out(second.get("/console/policies"))
    refused = first.post(
        "/console/orgs/org-pix4d/members/pix4d-member/role", data={"role": "reader", "csrf": csrf}
    )
    assert refused.status_code == 400 and role_of("pix4d-member") == "member"
    # The other key's session goes on; the revoked key cannot log in again.
    assert not logged_out(unrelated.get("/console/"))
    form = first.get("/console/login")
    again = first.post("/console/login", data={"api_key": api.key, "csrf": csrf_of(form)})
    assert again.status_code == 401


def test_idle_and_old_sessions_end(app, api, clock):
    client = app.test_client()
    login(client, api.key)
    clock.advance(minutes=119)
    assert not logged_out(client.get("/console/"))  # a page view keeps it alive
    clock.advance(minutes=119)
    assert not logged_out(client.get("/console/"))
    clock.advance(minutes=121)  # idle for longer than two hours
    assert logged_out(client.get("/console/"))
    with db.connection_context():
        assert ConsoleSession.select().count() == 0

    login(client, api.key)
    for _ in range(6):  # active all along, but twelve hours is the most a session lasts
        clock.advance(minutes=110)
        page = client.get("/console/")
    assert not logged_out(page)
    clock.advance(minutes=110)
    assert logged_out(client.get("/console/"))
    # Expired rows of anyone are deleted when someone logs in.
    other = app.test_client()
    login(other, api.key)
    with db.connection_context():
        assert ConsoleSession.select().count() == 1


def test_a_forged_or_oversized_cookie_is_no_session(app, api):
    client = app.test_client()
    client.set_cookie(SESSION_COOKIE, "x" * 40, path="/console")
    assert logged_out(client.get("/console/"))
    client.set_cookie(SESSION_COOKIE, "x" * 300, path="/console")
    assert logged_out(client.get("/console/"))


def test_a_kept_result_opens_only_with_its_own_session_id(app, api, demo):
    """A change's result (invitation tokens included) waits in the row encrypted under a key
    derived from the session id the cookie holds: the row alone, or another session's id,
    opens nothing, and what does not open is dropped, never shown."""
    owner, other = app.test_client(), app.test_client()
    login(owner, api.key)
    csrf = set_actor(owner, "pix4d-owner")
    login(other, api.key)
    set_actor(other, "pix4d-owner")
    answer = owner.post(
        "/console/orgs/org-pix4d/invite",
        data={"emails": "ivy@example.com", "role": "editor", "csrf": csrf},
    )
    assert answer.status_code == 303
    mine, theirs = hash_secret(session_cookie(owner)), hash_secret(session_cookie(other))
    with db.connection_context():
        sealed = ConsoleSession.get(ConsoleSession.id_hash == mine).flash
        assert sealed and "ivy@example.com" not in sealed
        ConsoleSession.update(flash=sealed).where(ConsoleSession.id_hash == theirs).execute()
    page = other.get("/console/orgs/org-pix4d")
    assert page.status_code == 200
    assert b'id="result"' not in page.data and b'class="token"' not in page.data
    with db.connection_context():
        assert ConsoleSession.get(ConsoleSession.id_hash == theirs).flash is None
    shown = owner.get("/console/orgs/org-pix4d")
    assert b'<code class="token" data-email="ivy@example.com">' in shown.data
