"""The browser console (routes/console.py), driven in headless Chromium with Playwright against
a live server: login, acting user, an organization's members, invitations and audit trail,
the policies and the playground; buttons the policy refuses carry its reason; every page
fits a phone's width, logs no console error and loads no missing asset. Skipped only where
Chromium is not installed."""

import re

import pytest

from tests.serving import CHROMIUM, live_server, needs_chromium
from tests.serving import CHROMIUM_ARGS as ARGS

pytestmark = [
    needs_chromium,
    pytest.mark.parametrize("backend", ["sqlite"], indirect=True),
]


@pytest.fixture
def live(app, api, demo):
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


def test_buttons_the_policy_refuses_are_disabled_with_its_reason(browser, live):
    page = browser.page
    _base, key = live
    browser.login(key, actor="pix4d-manager")
    browser.goto("/console/orgs/org-pix4d")
    # A Pix4D manager may give roles up to manager, not owner.
    to_owner = member_row(page, "pix4d-editor").locator(
        "button[data-action=change_role][data-role=owner]"
    )
    assert to_owner.is_disabled()
    assert "only these roles: manager, editor, reader, member" in to_owner.get_attribute("title")
    to_reader = member_row(page, "pix4d-editor").locator(
        "button[data-action=change_role][data-role=reader]"
    )
    assert to_reader.is_enabled()
    # Nor may a manager remove an owner.
    remove_owner = member_row(page, "pix4d-owner").locator("button[data-action=remove]")
    assert remove_owner.is_disabled()
    assert "remove members with only these roles" in remove_owner.get_attribute("title")
    # Inviting as owner is refused too: that option is disabled with the reason.
    owner_option = page.locator("#invite-form select[name=role] option[value=owner]")
    assert owner_option.is_disabled()
    assert "invite as only these roles" in owner_option.get_attribute("title")
    browser.shot("manager-view")

    # The last owner's own Leave button, as the owner.
    browser.set_actor("pix4d-owner")
    browser.goto("/console/orgs/org-pix4d")
    leave = member_row(page, "pix4d-owner").locator("button[data-action=remove]")
    assert leave.inner_text() == "Leave"
    assert leave.is_disabled()
    assert "held by no other member" in leave.get_attribute("title")

    # The server refuses it anyway: enable the button by hand and press it.
    leave.evaluate("b => { b.disabled = false; }")
    leave.click()
    page.wait_for_load_state()
    result = page.locator("#result.failed")
    assert result.is_visible()
    assert result.get_attribute("data-status") == "403"
    assert "held by no other member" in result.inner_text()
    assert member_row(page, "pix4d-owner").count() == 1
    browser.shot("refused")


def test_actor_without_view_members_sees_the_reason(browser, live):
    page = browser.page
    _base, key = live
    browser.login(key, actor="pix4d-member")
    browser.goto("/console/orgs/org-pix4d")
    problem = page.locator("#members .problem")
    assert problem.is_visible()
    assert "carries 'view_members'" in problem.inner_text()
    assert page.locator("#invite-form button[type=submit]").is_disabled()


def test_policies_page_matrices_and_diff(browser, live):
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
    # Both folders default to the live policies: no change.
    page.click("#diff-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#no-changes").is_visible()
    browser.shot("policies")
    browser.fits_phone()
    # A folder that is not there is said, not a crash.
    page.fill("#diff-form input[name=old]", "/nonexistent/policies")
    page.click("#diff-form button[type=submit]")
    page.wait_for_load_state()
    assert "is not a folder on the server" in page.inner_text("#diff .problem")


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


def test_login_csrf_and_cookie(app, api, demo):
    client = app.test_client()
    form = client.get("/console/orgs/org-pix4d")  # no session: the login form, back here after
    assert form.status_code == 200 and b'name="api_key"' in form.data
    assert b'name="next" value="/console/orgs/org-pix4d"' in form.data
    csrf = re.search(rb'name="csrf" value="([^"]+)"', form.data).group(1).decode()
    # A wrong token, or none, is refused before anything else.
    assert client.post("/console/login", data={"api_key": api.key, "csrf": "x"}).status_code == 400
    assert client.post("/console/login", data={"api_key": api.key}).status_code == 400
    # A wrong key is refused.
    bad = client.post("/console/login", data={"api_key": "nope", "csrf": csrf})
    assert bad.status_code == 401 and b"unknown or revoked" in bad.data
    good = client.post("/console/login", data={"api_key": api.key, "csrf": csrf})
    assert good.status_code == 302
    cookie = good.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # TESTING serves plain http; Secure otherwise
    home = client.get("/console/")
    assert home.status_code == 200
    assert "default-src 'self'" in home.headers["Content-Security-Policy"]
    assert home.headers["Cache-Control"] == "no-store"
    csrf = re.search(rb'name="csrf" value="([^"]+)"', home.data).group(1).decode()
    client.post("/console/actor", data={"actor": "pix4d-owner", "csrf": csrf})
    # A change without the session's token does nothing.
    refused = client.post(
        "/console/orgs/org-pix4d/members/pix4d-member/role", data={"role": "reader"}
    )
    assert refused.status_code == 400
    members = api.get("/v1/orgs/org-pix4d/members", actor="pix4d-owner").get_json()["items"]
    assert {m["user_id"]: m["role"] for m in members}["pix4d-member"] == "member"
    # A revoked key logs the console out.
    from models import ApiKey, db

    with db.connection_context():
        ApiKey.update(revoked_at=ApiKey.created_at).execute()
    assert b'name="api_key"' in client.get("/console/").data


def test_session_cookie_is_secure_outside_tests(app):
    from app import create_app

    other = create_app({**app.config, "TESTING": False})
    assert other.config["SESSION_COOKIE_SECURE"] is True
    assert other.config["SESSION_COOKIE_HTTPONLY"] is True
    assert other.config["SESSION_COOKIE_SAMESITE"] == "Lax"
