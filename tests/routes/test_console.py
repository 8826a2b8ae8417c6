"""The browser console (routes/console.py), driven in headless Chromium with Playwright against
a live server: login, acting user, an organization's members, invitations and audit trail,
the policies and the playground; buttons the policy refuses carry its reason; every page
fits a phone's width, logs no console error and loads no missing asset. The browser tests
are skipped only where Chromium is not installed (.ci/run installs Debian's); the others,
through Flask's test client, run on every database: the changes go through the domain core,
never the JSON API, and are post/redirect/get.

The policy diff's hardening is tests/routes/test_console_policies.py; the server-side
sessions are tests/routes/test_console_sessions.py."""

import re
import shutil

import pytest

from authz.engine import POLICY_DIR, policy_version
from tests.routes.console_helpers import console_table, csrf_of, login, set_actor
from tests.serving import CHROMIUM, live_server, needs_chromium
from tests.serving import CHROMIUM_ARGS as ARGS

pytestmark = [pytest.mark.usefixtures(console_table.__name__)]

# The browser tests: one database is enough for what a browser adds.
in_browser = [needs_chromium, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]


def in_a_browser(test):
    for mark in reversed(in_browser):
        test = mark(test)
    return test


@pytest.fixture
def live(app, api, demo, tmp_path, monkeypatch):
    """The app served over HTTP, with a snapshot root of its own (empty)."""
    app.config["SNAPSHOT_DIR"] = str(tmp_path / "snapshots")
    with live_server(app) as base:
        yield base, api.key


class Browser:
    """One page with its console errors and failed responses collected."""

    def __init__(self, playwright, base, tmp_path):
        self.browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=ARGS
        )
        self.page = self.browser.new_page(viewport={"width": 1280, "height": 800})
        self.base, self.tmp_path = base, tmp_path
        self.errors, self.bad_responses, self.shots = [], [], []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on(
            "response",
            lambda r: self.bad_responses.append((r.status, r.url)) if r.status == 404 else None,
        )

    def goto(self, path):
        response = self.page.goto(self.base + path)
        return response

    def login(self, key, actor=None):
        self.goto("/console/")  # without a session, every page is the login form
        self.page.fill("input[name=api_key]", key)
        self.page.click("#login-form button[type=submit]")
        self.page.wait_for_url(re.compile(r"/console/$"))
        assert self.page.locator("#actor-form").is_visible()
        if actor:
            self.set_actor(actor)

    def set_actor(self, actor):
        self.goto("/console/")
        self.page.fill("#actor-form input[name=actor]", actor)
        self.page.click("#actor-form button[type=submit]")
        self.page.wait_for_load_state()
        assert self.page.inner_text("#acting-user") == actor

    def shot(self, name):
        path = self.tmp_path / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)
        return path

    def fits_phone(self):
        """The current page at 390x844 does not scroll sideways; back to 1280x800 after."""
        self.page.set_viewport_size({"width": 390, "height": 844})
        width = self.page.evaluate("document.documentElement.scrollWidth")
        self.shot(f"phone-{len(self.shots)}")
        self.page.set_viewport_size({"width": 1280, "height": 800})
        assert width <= 391, f"{self.page.url} is {width}px wide at a phone's width"

    def close(self):
        self.browser.close()
        for path in self.shots:
            data = path.read_bytes()
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
            width = int.from_bytes(data[16:20], "big")
            height = int.from_bytes(data[20:24], "big")
            assert width > 100 and height > 100, path
        assert self.errors == []
        assert self.bad_responses == []


@pytest.fixture
def browser(live, tmp_path):
    from playwright.sync_api import sync_playwright

    base, _key = live
    with sync_playwright() as p:
        b = Browser(p, base, tmp_path)
        yield b
        b.close()


def member_row(page, user_id):
    return page.locator(f"#members-table tr[data-user='{user_id}']")


@in_a_browser
def test_invite_accept_change_role_and_audit(browser, live):
    page = browser.page
    base, key = live
    browser.login(key, actor="pix4d-owner")
    # Home lists the acting user's organizations.
    assert page.locator("a[data-org=org-pix4d]").is_visible()
    browser.shot("home")
    browser.fits_phone()

    page.click("a[data-org=org-pix4d]")
    page.wait_for_url(re.compile(r"/console/orgs/org-pix4d$"))
    assert member_row(page, "pix4d-manager").locator("td.role").inner_text() == "manager"
    assert page.locator("#members-table tbody tr").count() == 5
    browser.shot("org")
    browser.fits_phone()

    # Invite two people at once; the tokens are shown once.
    page.fill("#invite-form textarea[name=emails]", "ivy@example.com\njo@example.com")
    page.select_option("#invite-form select[name=role]", "editor")
    page.click("#invite-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#result.ok").is_visible()
    token = page.inner_text("code.token[data-email='ivy@example.com']").strip()
    assert len(token) > 30
    assert page.locator("#invitations-table tr[data-email='ivy@example.com']").is_visible()
    assert page.locator("#invitations-table tr[data-email='jo@example.com']").is_visible()
    browser.shot("invited")
    browser.fits_phone()

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

    # Change Ivy's role to manager.
    member_row(page, "ivy").locator("button[data-action=change_role][data-role=manager]").click()
    page.wait_for_load_state()
    assert page.locator("#result.ok").is_visible()
    assert member_row(page, "ivy").locator("td.role").inner_text() == "manager"

    # The audit trail shows the invitations, the acceptance and the role change, newest first.
    first = page.locator("#audit-table tbody tr").first
    assert first.get_attribute("data-action") == "member.change_role"
    assert first.get_attribute("data-target") == "user:ivy"
    assert "editor" in first.inner_text() and "manager" in first.inner_text()
    actions = [r.get_attribute("data-action") for r in page.locator("#audit-table tbody tr").all()]
    assert actions.count("invitation.create") == 2
    browser.shot("audit")

    # Cancel Jo's invitation.
    page.locator(
        "#invitations-table tr[data-email='jo@example.com'] button[data-action=cancel]"
    ).click()
    page.wait_for_load_state()
    assert page.locator("#result.ok").is_visible()
    assert page.locator("#invitations-table tr[data-email='jo@example.com']").count() == 0

    # Search by name or email.
    page.fill("#search-form input[name=q]", "ivy@")
    page.click("#search-form button[type=submit]")
    page.wait_for_load_state()
    rows = page.locator("#members-table tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("data-user") == "ivy"

    # Remove Ivy.
    member_row(page, "ivy").locator("button[data-action=remove]").click()
    page.wait_for_load_state()
    assert page.locator("#result.ok").is_visible()
    assert member_row(page, "ivy").count() == 0


def refused_by_hand(page, button):
    """Enable a disabled button by hand and press it: the refusal the core answers."""
    reason = button.get_attribute("title")
    assert button.is_disabled() and reason
    button.evaluate("b => { b.disabled = false; }")
    button.click()
    page.wait_for_load_state()
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
    browser.shot("manager-view")
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
    browser.shot("refused")
    # The result was shown once: a reload shows the page without it.
    page.reload()
    assert page.locator("#result").count() == 0


@in_a_browser
def test_actor_without_view_members_sees_the_reason(browser, live):
    page = browser.page
    _base, key = live
    browser.login(key, actor="pix4d-member")
    browser.goto("/console/orgs/org-pix4d")
    problem = page.locator("#members .problem")
    assert problem.is_visible()
    assert "403" in problem.inner_text() and "view_members" in problem.inner_text()
    assert page.locator("#invite-form button[type=submit]").is_disabled()


@in_a_browser
def test_policies_page_matrices_and_diff(browser, live, tmp_path):
    page = browser.page
    _base, key = live
    browser.login(key)
    browser.goto("/console/policies")
    sections = page.locator("section.style")
    assert [sections.nth(i).get_attribute("data-style") for i in range(3)] == [
        "pix4d",
        "respondio",
        "up42",
    ]
    row = page.locator("table.matrix[data-style=up42]").first.locator("tr", has_text="buy_credits")
    assert [c.inner_text() for c in row.locator("td").all()] == ["buy_credits", "✓", "—"]
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
    page.click("#diff-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#no-changes").is_visible()
    browser.shot("policies")
    browser.fits_phone()
    page.select_option("#diff-form select[name=against]", wider)
    page.click("#diff-form button[type=submit]")
    page.wait_for_load_state()
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
    browser.errors.clear()  # that 400 was the point


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
    browser.shot("playground")
    browser.fits_phone()
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


def test_changes_go_through_the_core_and_redirect_with_tokens_shown_once(app, api, demo, v1_calls):
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
    assert answer.headers["Location"] == "/console/orgs/org-pix4d"
    with db.connection_context():
        assert Invitation.select().count() == 2
        sealed = ConsoleSession.get().flash
    # The result waits in the session sealed: the database never holds a token in the clear.
    page = client.get("/console/orgs/org-pix4d")
    tokens = re.findall(rb'<code class="token" data-email="[^"]+">([^<]+)</code>', page.data)
    assert len(tokens) == 2 and all(len(t) > 30 for t in tokens)
    assert all(t.decode() not in sealed for t in tokens)
    assert b'id="result"' in page.data and b"Done:" in page.data
    # Shown once: the next view has neither the result nor the tokens, and nothing was sent
    # again.
    again = client.get("/console/orgs/org-pix4d")
    assert b'id="result"' not in again.data and tokens[0] not in again.data
    with db.connection_context():
        assert Invitation.select().count() == 2
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
    answer = client.post("/console/orgs/org-pix4d/members/pix4d-owner/remove", data={"csrf": csrf})
    assert answer.status_code == 303
    page = client.get("/console/orgs/org-pix4d")
    assert b'class="result failed" id="result" data-status="403"' in page.data
    detail = re.search(rb'<p class="detail">([^<]+)</p>', page.data).group(1)
    assert leave.group(1) in detail  # the core refuses for the reason the button gave
    # An undeclared role: the API's input checks, a 422 naming the field.
    client.post(
        "/console/orgs/org-pix4d/members/pix4d-member/role", data={"role": "", "csrf": csrf}
    )
    page = client.get("/console/orgs/org-pix4d")
    assert b'data-status="422"' in page.data and b"<code>role</code>" in page.data
    # Cancel an invitation.
    invitation = re.search(rb'data-invitation="([^"]+)"', page.data).group(1).decode()
    client.post(f"/console/orgs/org-pix4d/invitations/{invitation}/cancel", data={"csrf": csrf})
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


def test_the_audit_shows_the_newest_fifty_newest_first(app, api, demo):
    emails = [{"email": f"person{i:03d}@example.com", "role": "reader"} for i in range(60)]
    answer = api.post(
        "/v1/orgs/org-pix4d/invitations", {"invitations": emails}, actor="pix4d-owner"
    )
    assert answer.status_code == 201
    client = app.test_client()
    login(client, api.key)
    set_actor(client, "pix4d-owner")
    page = client.get("/console/orgs/org-pix4d")
    audit = page.data[page.data.index(b'id="audit-table"') :]
    targets = re.findall(rb'<tr data-action="invitation.create" data-target="([^"]+)"', audit)
    assert len(re.findall(rb"<tr data-action=", audit)) == 50
    ids = [i["id"] for i in answer.get_json()["items"]]
    assert [t.decode() for t in targets] == [f"invitation:{i}" for i in reversed(ids[-50:])]


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
