"""The browser console (routes/console/): login, the acting user picked by name, an
organization's members and invitations, buttons the policy refuses carrying its reason, the
policies page and the playground, in headless Chromium with Playwright against a live
server; through Flask's test client, on every database: the changes go through the domain
core, never the JSON API, and are post/redirect/get; tokens survive a reload until hidden;
destructive changes need their confirmation; the audit trail is paged and in words.

The admin's whole day on both databases is tests/routes/test_console_journey.py; every page
shot at both widths and checked by axe-core is tests/routes/test_console_pages.py; the
policy diff's hardening is tests/routes/test_console_policies.py; the server-side sessions
are tests/routes/test_console_sessions.py."""

import re
import shutil

import pytest

from authz.engine import POLICY_DIR, policy_version
from tests.routes.console_helpers import (
    browser,
    chromium,
    console_table,
    csrf_of,
    live,
    login,
    set_actor,
)
from tests.serving import needs_chromium

FIXTURES = (browser, chromium, live)  # used by name by the tests below

pytestmark = [pytest.mark.usefixtures(console_table.__name__)]

# The browser tests: one database is enough for what a browser adds.
in_browser = [needs_chromium, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]


def in_a_browser(test):
    for mark in reversed(in_browser):
        test = mark(test)
    return test


def member_row(page, user_id):
    return page.locator(f"#members-table tr[data-user='{user_id}']")


@in_a_browser
def test_invite_accept_search_cancel_and_remove(browser, live):
    page = browser.page
    base, key = live
    browser.login(key, actor="pix4d-owner")
    # Home lists the acting user's organizations by name.
    assert page.locator("a[data-org=org-pix4d]").inner_text() == "Demo pix4d"
    browser.follow("a[data-org=org-pix4d]")
    page.wait_for_url(re.compile(r"/console/orgs/org-pix4d$"))
    assert member_row(page, "pix4d-manager").locator("td.role").inner_text() == "manager"
    assert page.locator("#members-table tbody tr").count() == 5
    # A member's grants are shown with them.
    assert "reader on Folder pix4d-survey" in member_row(page, "pix4d-member").inner_text()

    # Invite two people at once; the tokens are shown after the redirect.
    page.fill("#invite-form textarea[name=emails]", "ivy@example.com\njo@example.com")
    page.select_option("#invite-form select[name=role]", "editor")
    browser.submit("#invite-form button[type=submit]")
    assert page.locator("#result.ok").is_visible()
    page.click("details.tokens-box > summary")  # mailed: the tokens are one click away
    token = page.inner_text("code.token[data-email='ivy@example.com']").strip()
    assert len(token) > 30
    assert page.locator("#invitations-table tr[data-email='ivy@example.com']").is_visible()
    assert page.locator("#invitations-table tr[data-email='jo@example.com']").is_visible()

    # The invited person accepts through the JSON API, over HTTP.
    accepted = page.request.post(
        f"{base}/v1/invitations/accept",
        data={"token": token, "user": {"id": "ivy", "email": "ivy@example.com", "name": "Ivy"}},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert accepted.status == 200, accepted.text()
    browser.goto("/console/orgs/org-pix4d")
    assert member_row(page, "ivy").locator("td.role").inner_text() == "editor"
    assert page.locator("#invitations-table tr[data-email='ivy@example.com']").count() == 0

    # Cancel Jo's invitation, after its confirmation.
    jo = page.locator("#invitations-table tr[data-email='jo@example.com']")
    assert not jo.locator("button[data-confirm=cancel]").is_visible()  # not before it opens
    browser.confirm(jo, "cancel")
    assert page.locator("#result.ok").is_visible()
    assert page.locator("#invitations-table tr[data-email='jo@example.com']").count() == 0

    # Search by name or email.
    page.fill("#search-form input[name=q]", "ivy@")
    browser.submit("#search-form button[type=submit]")
    rows = page.locator("#members-table tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("data-user") == "ivy"

    # Remove Ivy, after the confirmation; a reload sends nothing again.
    browser.confirm(member_row(page, "ivy"), "remove")
    assert page.locator("#result.ok").is_visible()
    assert member_row(page, "ivy").count() == 0
    page.reload()
    assert page.locator("#result").count() == 0


def refused_by_hand(page, button):
    """Enable a disabled button by hand and press it: the refusal the core answers."""
    reason = button.get_attribute("title")
    assert button.is_disabled() and reason
    button.evaluate("b => { b.disabled = false; }")
    with page.expect_navigation():
        button.click()
    result = page.locator("#result.failed")
    assert result.is_visible()
    return reason, result


@in_a_browser
def test_buttons_the_policy_refuses_are_disabled_with_its_reason(browser, live):
    page = browser.page
    _base, key = live
    browser.login(key, actor="pix4d-manager")
    browser.goto("/console/orgs/org-pix4d")
    # A Pix4D manager may give roles up to manager, not owner: the button says why, and the
    # core refuses it anyway, for the same reason.
    to_owner = member_row(page, "pix4d-editor").locator(
        "button[data-action=change_role][data-role=owner]"
    )
    assert "Owner" in to_owner.get_attribute("title")
    to_reader = member_row(page, "pix4d-editor").locator(
        "button[data-action=change_role][data-role=reader]"
    )
    assert to_reader.is_enabled()
    # Nor may a manager remove an owner.
    remove_owner = member_row(page, "pix4d-owner").locator("button[data-action=remove]")
    assert remove_owner.is_disabled() and remove_owner.get_attribute("title")
    # Inviting as owner is refused too: that option is disabled with the reason.
    owner_option = page.locator("#invite-form select[name=role] option[value=owner]")
    assert owner_option.is_disabled() and owner_option.get_attribute("title")
    reason, result = refused_by_hand(page, to_owner)
    assert result.get_attribute("data-status") == "403"
    assert reason in result.inner_text()
    assert member_row(page, "pix4d-editor").get_attribute("data-role") == "editor"

    # The last owner's own Leave button, as the owner: the same.
    browser.set_actor("pix4d-owner")
    browser.goto("/console/orgs/org-pix4d")
    leave = member_row(page, "pix4d-owner").locator("button[data-action=remove]")
    assert leave.inner_text() == "Leave"
    reason, result = refused_by_hand(page, leave)
    assert result.get_attribute("data-status") == "403"
    assert reason in result.inner_text()
    assert member_row(page, "pix4d-owner").count() == 1
    # The result was shown once: a reload shows the page without it.
    page.reload()
    assert page.locator("#result").count() == 0


@in_a_browser
def test_actor_without_view_members_sees_one_line_saying_why(browser, live):
    page = browser.page
    _base, key = live
    browser.login(key, actor="pix4d-member")
    browser.goto("/console/orgs/org-pix4d")
    browser.no_error_box()
    line = page.locator("#members p.note[data-refused=view_members]")
    assert "'view_members'" in line.inner_text() and "Owner or Manager" in line.inner_text()
    assert page.locator("#members-table").count() == 0
    assert page.locator("#invite-form").count() == 0
    assert "may not invite" in page.inner_text("#invite p.note")


@in_a_browser
def test_policies_page_matrices_and_diff(browser, live, tmp_path):
    page = browser.page
    _base, key = live
    browser.login(key)
    browser.goto("/console/policies")
    # One style at a time, picked by tabs (links: no script needed).
    tabs = page.locator("#style-tabs a")
    styles = ["pix4d", "respondio", "todo", "up42"]
    assert [t.get_attribute("data-style") for t in tabs.all()] == styles
    assert page.locator("section.style").get_attribute("data-style") == "pix4d"
    browser.follow("#style-tabs a[data-style=up42]")
    row = page.locator("table.matrix[data-style=up42]").first.locator("tr", has_text="buy_credits")
    assert [c.inner_text() for c in row.locator("th, td").all()] == ["buy_credits", "✓", "—"]
    # The management matrix: an UP42 Admin may change a Member's role, a Member may not.
    browser.follow("#matrix-tabs a[data-show=management]")
    table = page.locator("table.management[data-style=up42][data-table=change_role]")
    heads = [h.inner_text() for h in table.locator("thead th").all()]
    assert heads == ["case", "admin", "member"]
    row = table.locator("tbody tr", has_text="member").first
    assert [c.inner_text() for c in row.locator("td").all()] == ["✓", "—"]
    # The server keeps no other version yet: nothing to choose, no folder to type.
    assert page.locator("#no-kept").is_visible()
    assert page.locator("#diff-form input").count() == 0

    # A previous live version that answered the same (only a comment differs), and one
    # where an UP42 member could buy credits.
    root = tmp_path / "snapshots"
    same = keep_snapshot(root, "# a comment only\n")
    wider = keep_snapshot(root, None, up42_member_buys=True)
    browser.goto("/console/policies")
    options = page.locator("#diff-form select[name=against] option")
    assert sorted(o.get_attribute("value") for o in options.all()) == sorted([same, wider])
    page.select_option("#diff-form select[name=against]", same)
    browser.submit("#diff-form button[type=submit]")
    assert page.locator("#no-changes").is_visible()
    page.select_option("#diff-form select[name=against]", wider)
    browser.submit("#diff-form button[type=submit]")
    report = page.inner_text("#diff-report")
    assert "member" in report and "buy_credits" in report and "loses" in report
    # An id the server does not keep is said plainly, not echoed.
    response = browser.goto("/console/policies?against=..%2F..%2Fetc")
    assert response.status == 400
    assert "not one of the versions the server keeps" in page.inner_text("#diff .problem")
    assert "etc" not in page.inner_text("#diff")
    assert browser.errors == [
        "Failed to load resource: the server responded with a status of 400 (BAD REQUEST)"
    ]
    assert [status for status, _url in browser.bad_responses] == [400]
    browser.errors.clear()  # that 400 was the point
    browser.bad_responses.clear()


def keep_snapshot(root, comment, up42_member_buys=False):
    """A snapshot of a previous live version, as ops/reload.py keeps it: a folder named by
    its version. Returns the version."""
    folder = root / "candidate"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(POLICY_DIR, folder)
    if comment:
        with open(folder / "pix4d.polar", "a") as f:
            f.write(comment)
    if up42_member_buys:
        up42 = folder / "up42.polar"
        text = up42.read_text()
        assert '"buy_credits" if "admin";' in text
        up42.write_text(text.replace('"buy_credits" if "admin";', '"buy_credits" if "member";'))
    version = policy_version(folder)
    folder.rename(root / version)
    return version


@in_a_browser
def test_playground_explains_every_action(browser, live):
    page = browser.page
    _base, key = live
    browser.login(key)
    browser.goto(
        "/console/playground?org=org-pix4d&actor=pix4d-member&type=Dataset&id=pix4d-bridge-scan"
    )
    view = page.locator("#decisions tr[data-action=view]")
    assert view.get_attribute("data-allowed") == "true"
    assert "reader on Folder pix4d-survey (grant)" in view.inner_text()
    assert '"view" if "reader" on Dataset' in view.inner_text()
    upload = page.locator("#decisions tr[data-action=upload]")
    assert upload.get_attribute("data-allowed") == "false"
    assert "carries 'upload'" in upload.inner_text()
    # Changing the type reloads the form (console.js); the Organization's id is the org's.
    page.select_option("#playground-form select[name=type]", "Organization")
    page.wait_for_url(re.compile(r"type=Organization"))
    assert page.input_value("#playground-form input[name=id]") == "org-pix4d"


# ---------------------------------------------------------------- without a browser


def test_login_form_csrf_and_cookies(app, api, demo):
    client = app.test_client()
    form = client.get("/console/orgs/org-pix4d")  # no session: the login form, back here after
    assert form.status_code == 200 and b'name="api_key"' in form.data
    assert b'name="next" value="/console/orgs/org-pix4d"' in form.data
    csrf = csrf_of(form)
    # A wrong token, or none, is refused before anything else.
    assert client.post("/console/login", data={"api_key": api.key, "csrf": "x"}).status_code == 400
    assert client.post("/console/login", data={"api_key": api.key}).status_code == 400
    # So is the right token without the login cookie that carries it (another browser).
    other = app.test_client()
    assert other.post("/console/login", data={"api_key": api.key, "csrf": csrf}).status_code == 400
    # A wrong key is refused.
    bad = client.post("/console/login", data={"api_key": "nope", "csrf": csrf})
    assert bad.status_code == 401 and b"unknown or revoked" in bad.data
    good = client.post(
        "/console/login",
        data={"api_key": api.key, "csrf": csrf, "next": "/console/orgs/org-pix4d"},
    )
    assert good.status_code == 303 and good.headers["Location"] == "/console/orgs/org-pix4d"
    cookies = good.headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith("orgauthz_console="))
    assert "HttpOnly" in session and "SameSite=Lax" in session and "Path=/console" in session
    assert "Secure" not in session  # TESTING serves plain http; Secure otherwise
    assert api.key not in " ".join(cookies)
    home = client.get("/console/")
    assert home.status_code == 200
    assert "default-src 'self'" in home.headers["Content-Security-Policy"]
    assert home.headers["Cache-Control"] == "no-store"
    set_actor(client, "pix4d-owner")
    # A change without the session's token does nothing.
    refused = client.post(
        "/console/orgs/org-pix4d/members/pix4d-member/role", data={"role": "reader"}
    )
    assert refused.status_code == 400
    members = api.get("/v1/orgs/org-pix4d/members", actor="pix4d-owner").get_json()["items"]
    assert {m["user_id"]: m["role"] for m in members}["pix4d-member"] == "member"
    # A next outside the console is not followed.
    third = app.test_client()
    csrf = csrf_of(third.get("/console/login"))
    away = third.post(
        "/console/login", data={"api_key": api.key, "csrf": csrf, "next": "//evil.example/"}
    )
    assert away.status_code == 303 and away.headers["Location"] == "/console/"


def test_cookies_are_secure_outside_tests(app, api):
    from app import create_app

    def login_cookies(config):
        form = create_app({**app.config, **config}).test_client().get("/console/login")
        cookies = form.headers.getlist("Set-Cookie")
        assert cookies and all("HttpOnly" in c and "SameSite=Lax" in c for c in cookies)
        return cookies

    assert all("Secure" in c for c in login_cookies({"TESTING": False}))
    plain = login_cookies({"TESTING": False, "CONSOLE_COOKIE_SECURE": "false"})
    assert not any("Secure" in c for c in plain)


@pytest.fixture
def v1_calls(app):
    """The /v1 requests the app served: the console must make none of its own."""
    from flask import request

    seen = []
    app.before_request_funcs.setdefault(None, []).insert(
        0, lambda: seen.append(request.path) if request.path.startswith("/v1/") else None
    )
    return seen


def test_changes_go_through_the_core_and_tokens_survive_a_reload(app, api, demo, v1_calls):
    from models import Invitation, db
    from models.console import ConsoleSession

    client = app.test_client()
    login(client, api.key)
    csrf = set_actor(client, "pix4d-owner")
    home = client.get("/console/")
    assert b'data-org="org-pix4d"' in home.data

    answer = client.post(
        "/console/orgs/org-pix4d/invite",
        data={"emails": "ivy@example.com, jo@example.com", "role": "editor", "csrf": csrf},
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/console/orgs/org-pix4d#invite"
    with db.connection_context():
        assert Invitation.select().count() == 2
        sealed = ConsoleSession.get().flash
    # The result waits in the session sealed: the database never holds a token in the clear.
    page = client.get("/console/orgs/org-pix4d")
    tokens = re.findall(rb'<code class="token" data-email="[^"]+">([^<]+)</code>', page.data)
    assert len(tokens) == 2 and all(len(t) > 30 for t in tokens)
    assert all(t.decode() not in sealed for t in tokens)
    assert b'id="result"' in page.data and b"Done:" in page.data
    # A reload loses no token and sends nothing again; another page of the organization
    # points to them; hiding them forgets them.
    again = client.get("/console/orgs/org-pix4d")
    assert (
        re.findall(rb'<code class="token" data-email="[^"]+">([^<]+)</code>', again.data) == tokens
    )
    elsewhere = client.get("/console/orgs/org-pix4d/resources")
    assert b'id="tokens-waiting"' in elsewhere.data and tokens[0] not in elsewhere.data
    with db.connection_context():
        assert Invitation.select().count() == 2
    assert (
        client.post("/console/orgs/org-pix4d/tokens/hide", data={"csrf": csrf}).status_code == 303
    )
    hidden = client.get("/console/orgs/org-pix4d")
    assert b'id="result"' not in hidden.data and tokens[0] not in hidden.data
    with db.connection_context():
        assert ConsoleSession.get().flash is None
    # The audit trail names the console's key and the request, as the API's would.
    events = api.get("/v1/orgs/org-pix4d/audit", actor="pix4d-owner").get_json()["items"]
    created = [e for e in events if e["action"] == "invitation.create"]
    assert len(created) == 2 and {e["api_key"] for e in created} == {"tests"}
    assert all(e["request_id"] for e in created)
    v1_calls.clear()

    # Change a role, then a refused removal: the core's status and detail are shown.
    answer = client.post(
        "/console/orgs/org-pix4d/members/pix4d-member/role", data={"role": "reader", "csrf": csrf}
    )
    assert answer.status_code == 303
    page = client.get("/console/orgs/org-pix4d")
    assert b'class="result ok"' in page.data
    assert re.search(rb"<tr data-user=\"pix4d-member\" data-role=\"reader\">", page.data)
    leave = re.search(
        rb'<tr data-user="pix4d-owner".*?data-action="remove"\s+disabled title="([^"]+)"',
        page.data,
        re.S,
    )
    assert leave, "the last owner's Leave button is disabled with the policy's reason"
    answer = client.post(
        "/console/orgs/org-pix4d/members/pix4d-owner/remove", data={"csrf": csrf, "confirm": "yes"}
    )
    assert answer.status_code == 303
    page = client.get("/console/orgs/org-pix4d")
    assert b'class="result failed" id="result" data-status="403"' in page.data
    detail = re.search(rb'<p class="detail">([^<]+)</p>', page.data).group(1)
    assert leave.group(1) in detail  # the core refuses for the reason the button gave
    # A removal without its confirmation removes nobody.
    client.post("/console/orgs/org-pix4d/members/pix4d-reader/remove", data={"csrf": csrf})
    page = client.get("/console/orgs/org-pix4d")
    assert b'data-status="422"' in page.data and b"<code>confirm</code>" in page.data
    assert b'data-user="pix4d-reader"' in page.data
    # An undeclared role: the API's input checks, a 422 naming the field.
    client.post(
        "/console/orgs/org-pix4d/members/pix4d-member/role", data={"role": "", "csrf": csrf}
    )
    page = client.get("/console/orgs/org-pix4d")
    assert b'data-status="422"' in page.data and b"<code>role</code>" in page.data
    # Cancel an invitation, confirmed.
    invitation = re.search(rb'data-invitation="([^"]+)"', page.data).group(1).decode()
    client.post(
        f"/console/orgs/org-pix4d/invitations/{invitation}/cancel",
        data={"csrf": csrf, "confirm": "yes"},
    )
    page = client.get("/console/orgs/org-pix4d")
    assert b'class="result ok"' in page.data
    assert f'data-invitation="{invitation}"'.encode() not in page.data
    # A result waits for its own organization's page.
    client.post("/console/orgs/org-up42/members/up42-member/role", data={"role": "x", "csrf": csrf})
    assert b'id="result"' not in client.get("/console/orgs/org-pix4d").data
    assert b'id="result"' in client.get("/console/orgs/org-up42").data
    # Search.
    page = client.get("/console/orgs/org-pix4d?q=manager@pix4d")
    assert re.findall(rb'<tr data-user="([^"]+)"', page.data) == [b"pix4d-manager"]
    # None of it was a call of the JSON API.
    assert v1_calls == []


def audit_rows(page) -> list:
    return re.findall(rb'<li data-action="([^"]+)" data-target="([^"]+)">', page.data)


def test_the_audit_is_paged_newest_first_in_words_and_filtered(app, api, demo, clock):
    emails = [{"email": f"person{i:03d}@example.com", "role": "reader"} for i in range(60)]
    answer = api.post(
        "/v1/orgs/org-pix4d/invitations", {"invitations": emails}, actor="pix4d-owner"
    )
    assert answer.status_code == 201
    clock.advance(hours=1)
    api.put("/v1/orgs/org-pix4d/members/pix4d-member", {"role": "reader"}, actor="pix4d-owner")
    client = app.test_client()
    login(client, api.key)
    set_actor(client, "pix4d-owner")
    page = client.get("/console/orgs/org-pix4d/audit")
    rows = audit_rows(page)
    assert len(rows) == 50
    assert rows[0] == (b"member.change_role", b"user:pix4d-member")
    assert b"pix4d-owner changed pix4d-member&#39;s role from Member to Reader." in page.data
    ids = [i["id"] for i in answer.get_json()["items"]]
    assert [t.decode() for _, t in rows[1:]] == [f"invitation:{i}" for i in reversed(ids[-49:])]
    # The next page holds the rest, and offers the first page again.
    nxt = re.search(rb'<a href="([^"]+)" data-page="next"', page.data).group(1).decode()
    rest = client.get(nxt.replace("&amp;", "&"))
    assert [t.decode() for _, t in audit_rows(rest)] == [
        f"invitation:{i}" for i in reversed(ids[:11])
    ]
    assert b'data-page="first"' in rest.data and b'data-page="next"' not in rest.data
    # Filters: by action, by subject, by time; a filter that is not one is said in a line.
    only = client.get("/console/orgs/org-pix4d/audit?action=member.change_role")
    assert [a for a, _ in audit_rows(only)] == [b"member.change_role"]
    about = client.get("/console/orgs/org-pix4d/audit?subject=user:pix4d-member")
    assert [t for _, t in audit_rows(about)] == [b"user:pix4d-member"]
    late = client.get("/console/orgs/org-pix4d/audit?since=2026-11-23T12:30")
    assert [a for a, _ in audit_rows(late)] == [b"member.change_role"]
    early = client.get(
        "/console/orgs/org-pix4d/audit?until=2026-11-23T12:30&action=invitation.create"
    )
    assert len(audit_rows(early)) == 50
    bad = client.get("/console/orgs/org-pix4d/audit?since=yesterday&subject=nope")
    assert bad.status_code == 200 and b'id="filter-note"' in bad.data
    assert b'class="problem"' not in bad.data
    # A cursor this console did not give starts at the first page, said in a line.
    odd = client.get("/console/orgs/org-pix4d/audit?cursor=bm9wZQ")
    assert len(audit_rows(odd)) == 50 and b"not one this console gave" in odd.data


def test_settings_each_field_on_its_own_and_closing_after_the_name(app, api, demo):
    client = app.test_client()
    login(client, api.key)
    csrf = set_actor(client, "pix4d-manager")
    # A Pix4D Manager sees the settings, each field disabled with the policy's reason.
    page = client.get("/console/orgs/org-pix4d/settings")
    for field in (b"name", b"legal", b"billing"):
        assert re.search(
            rb'<p class="why" id="' + field + rb'-why" data-refused="' + field + rb'">[^<]*Owner',
            page.data,
        )
    assert b'data-refused="close"' in page.data and b'id="close-form"' not in page.data
    refused = client.post("/console/orgs/org-pix4d/settings/name", data={"csrf": csrf, "name": "X"})
    assert refused.status_code == 303
    assert b'data-status="403"' in client.get("/console/orgs/org-pix4d/settings").data
    # The Owner changes the name, then the legal details, each its own change.
    csrf = set_actor(client, "pix4d-owner")
    client.post("/console/orgs/org-pix4d/settings/name", data={"csrf": csrf, "name": "Pix4D Demo"})
    client.post(
        "/console/orgs/org-pix4d/settings/legal",
        data={"csrf": csrf, "key": ["company", "vat_id", ""], "value": ["Pix4D SA", "CHE-1", ""]},
    )
    org = api.get("/v1/orgs/org-pix4d", actor="pix4d-owner").get_json()
    assert org["name"] == "Pix4D Demo" and org["legal"] == {
        "company": "Pix4D SA",
        "vat_id": "CHE-1",
    }
    # An empty value drops an entry.
    client.post(
        "/console/orgs/org-pix4d/settings/legal",
        data={"csrf": csrf, "key": ["company", "vat_id"], "value": ["Pix4D SA", ""]},
    )
    assert api.get("/v1/orgs/org-pix4d", actor="pix4d-owner").get_json()["legal"] == {
        "company": "Pix4D SA"
    }
    # Closing: the name typed wrong closes nothing; typed right, the audit trail follows,
    # still readable by those the policy lets read a closed organization's trail.
    wrong = client.post(
        "/console/orgs/org-pix4d/close", data={"csrf": csrf, "confirm_name": "Pix4D"}
    )
    assert wrong.headers["Location"].endswith("/settings#close")
    assert api.get("/v1/orgs/org-pix4d", actor="pix4d-owner").status_code == 200
    right = client.post(
        "/console/orgs/org-pix4d/close", data={"csrf": csrf, "confirm_name": "Pix4D Demo"}
    )
    assert right.headers["Location"] == "/console/orgs/org-pix4d/audit"
    audit = client.get("/console/orgs/org-pix4d/audit")
    assert audit_rows(audit)[0] == (b"org.close", b"organization:org-pix4d")
    assert b"pix4d-owner closed the organization." in audit.data
    assert b"Pix4D Demo" in audit.data  # the closed organization's name, from its record
    set_actor(client, "pix4d-manager")
    assert audit_rows(client.get("/console/orgs/org-pix4d/audit"))[0][0] == b"org.close"
    set_actor(client, "pix4d-editor")
    editor = client.get("/console/orgs/org-pix4d/audit")
    assert audit_rows(editor) == [] and b'data-refused="view_audit"' in editor.data
    assert b'class="problem"' not in editor.data
    # Every other page of it says it is closed.
    members_page = client.get("/console/orgs/org-pix4d")
    assert (
        b'id="closed-note"' in members_page.data and b'id="members-table"' not in members_page.data
    )


def test_respondio_assigns_up_to_ten_spaces_at_once(app, api, demo):
    for i in range(11):
        api.put(
            f"/v1/orgs/org-respondio/resources/Space/space-{i:02d}", {}, actor="respondio-org-admin"
        )
    client = app.test_client()
    login(client, api.key)
    csrf = set_actor(client, "respondio-org-admin")
    page = client.get("/console/orgs/org-respondio/members/respondio-member?type=Space")
    assert b'id="assign-form" data-limit="10"' in page.data and b"at most 10 at a time" in page.data
    answer = client.post(
        "/console/orgs/org-respondio/members/respondio-member/grants",
        data={
            "csrf": csrf,
            "type": "Space",
            "role": "member",
            "resource": ["space-00", "space-01"],
        },
    )
    assert answer.status_code == 303
    page = client.get(answer.headers["Location"])
    assert b'class="result ok"' in page.data
    held = re.findall(rb'<tr data-type="Space" data-id="([^"]+)" data-role="member">', page.data)
    assert set(held) >= {b"space-00", b"space-01"}
    # Eleven at once: the policy's limit refuses them all.
    client.post(
        "/console/orgs/org-respondio/members/respondio-member/grants",
        data={
            "csrf": csrf,
            "type": "Space",
            "role": "member",
            "resource": [f"space-{i:02d}" for i in range(11)],
        },
    )
    page = client.get("/console/orgs/org-respondio/members/respondio-member?type=Space")
    assert b'data-status="403"' in page.data and b"at most 10 grants at a time" in page.data
    grants = api.get("/v1/orgs/org-respondio/members/respondio-member", actor="respondio-org-admin")
    assert len([g for g in grants.get_json()["grants"] if g["type"] == "Space"]) == 3
    # A grant on the member's page is revoked there, after its confirmation.
    client.post(
        "/console/orgs/org-respondio/resources/revoke",
        data={
            "csrf": csrf,
            "type": "Space",
            "id": "space-00",
            "user_id": "respondio-member",
            "confirm": "yes",
            "back": "/console/orgs/org-respondio/members/respondio-member",
        },
    )
    page = client.get("/console/orgs/org-respondio/members/respondio-member")
    assert b'class="result ok"' in page.data and b'data-id="space-00"' not in page.data


def test_the_tree_is_paged_and_what_the_policy_refuses_is_disabled(app, api, demo):
    for i in range(55):
        api.put(
            f"/v1/orgs/org-pix4d/resources/Folder/f-{i:02d}",
            {
                "parent": {"type": "Folder", "id": "pix4d-survey"},
                "attributes": {"name": f"Area {i}"},
            },
            actor="pix4d-owner",
        )
    client = app.test_client()
    login(client, api.key)
    csrf = set_actor(client, "pix4d-owner")
    level = client.get(
        "/console/orgs/org-pix4d/resources?parent_type=Folder&parent_id=pix4d-survey"
    )
    ids = re.findall(rb'<tr data-type="Folder" data-id="([^"]+)">', level.data)
    assert len(ids) == 50 and ids[0] == b"pix4d-survey-2026"
    nxt = re.search(rb'<a href="([^"]+)" data-page="next"', level.data).group(1).decode()
    rest = client.get(nxt.replace("&amp;", "&"))
    assert len(re.findall(rb'<tr data-type="Folder" data-id="([^"]+)">', rest.data)) == 6
    found = client.get("/console/orgs/org-pix4d/resources", query_string={"q": "area 5"})
    assert sorted(re.findall(rb'data-id="(f-[^"]+)"', found.data)) == [
        b"f-05",
        *[f"f-{i}".encode() for i in range(50, 55)],
    ]
    # A move into its own subtree is the core's 409, said on the resource's page.
    client.post(
        "/console/orgs/org-pix4d/resources/move",
        data={"csrf": csrf, "type": "Folder", "id": "pix4d-survey", "parent": "Folder/f-01"},
    )
    page = client.get("/console/orgs/org-pix4d/resource?type=Folder&id=pix4d-survey")
    assert b'data-status="409"' in page.data
    # A folder with folders in it is deleted only with what is in it, after confirmation.
    client.post(
        "/console/orgs/org-pix4d/resources/delete",
        data={"csrf": csrf, "type": "Folder", "id": "pix4d-survey", "confirm": "yes"},
    )
    assert (
        b'data-status="409"'
        in client.get("/console/orgs/org-pix4d/resource?type=Folder&id=pix4d-survey").data
    )
    # A Reader may see the tree but not change it: create, rename, move, delete disabled.
    set_actor(client, "pix4d-reader")
    tree = client.get("/console/orgs/org-pix4d/resources")
    assert b'id="create-form"' not in tree.data and b'data-refused="create"' in tree.data
    one = client.get("/console/orgs/org-pix4d/resource?type=Folder&id=pix4d-survey")
    assert b'id="rename-why"' in one.data and b'data-refused="edit"' in one.data
    assert re.search(rb'data-action="delete" disabled title="[^"]+"', one.data)
    assert b'data-refused="view_members"' in one.data  # grants: one line
    assert b'class="problem"' not in tree.data + one.data


def test_an_actor_that_is_no_user_id_is_refused(app, api):
    client = app.test_client()
    login(client, api.key)
    csrf = csrf_of(client.get("/console/"))
    answer = client.post("/console/actor", data={"actor": "x" * 201, "csrf": csrf})
    assert answer.status_code == 422 and b"at most 200 characters" in answer.data
    assert b'id="acting-user"' not in client.get("/console/").data


def test_an_unknown_org_and_no_acting_user(app, api, demo):
    client = app.test_client()
    login(client, api.key)
    answer = client.get("/console/orgs/org-pix4d")
    assert answer.status_code == 303 and "need_actor=1" in answer.headers["Location"]
    set_actor(client, "pix4d-owner")
    assert client.get("/console/orgs/nope").status_code == 404


@pytest.mark.parametrize("mail_url", ["default", "off"])
def test_after_inviting_the_page_says_whether_the_mail_went(app, api, demo, mail_url):
    """With mail on, the page says the mail was sent and keeps the tokens behind a
    disclosure; with MAIL_URL=off, it asks to send each token and shows them."""
    from access import mail

    if mail_url == "off":
        mail.configure({"MAIL_URL": "off"}, app.instance_path)
    try:
        client = app.test_client()
        login(client, api.key)
        csrf = set_actor(client, "pix4d-owner")
        client.post(
            "/console/orgs/org-pix4d/invite",
            data={"emails": "ivy@example.com", "role": "editor", "csrf": csrf},
        )
        page = client.get("/console/orgs/org-pix4d").data.decode()
    finally:
        mail.configure(app.config, app.instance_path)
    note = re.search(r'<p id="mail-note" data-mailed="(\w+)">(.*?)</p>', page, re.S)
    assert note, page
    token = re.search(r'<code class="token" data-email="ivy@example.com">([^<]+)</code>', page)
    assert token and len(token.group(1)) > 30  # the API's answer holds it in both cases
    boxed = '<details class="tokens-box">' in page
    if mail_url == "off":
        assert note.group(1) == "no" and "send each invited person their token" in note.group(2)
        assert not boxed and "I have sent them" in page
    else:
        assert note.group(1) == "yes" and "mail was sent" in note.group(2)
        assert "send each" not in page.lower() and boxed
