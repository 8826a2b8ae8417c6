"""What the console's tests share: the session table, logging in and the forms' CSRF token
through Flask's test client."""

import re
from pathlib import Path

import pytest

from models import db
from models.console import ConsoleSession

SESSION_COOKIE = "orgauthz_console"


@pytest.fixture
def console_table(app):
    """The console's session table, made by its migration (models/migrations) with the
    rest of the schema."""
    with db.connection_context():
        assert ConsoleSession._meta.table_name in db.get_tables()


def csrf_of(response, form: str = "") -> str:
    """The CSRF token of the first form on a page (after ``id="<form>"`` when given)."""
    data = response.data
    if form:
        data = data[data.index(f'id="{form}"'.encode()) :]
    found = re.search(rb'name="csrf" value="([^"]+)"', data)
    assert found, response.data[:500]
    return found.group(1).decode()


def login(client, key: str):
    """Log in with ``key``; returns the home page's response."""
    form = client.get("/console/login")
    answer = client.post(
        "/console/login", data={"api_key": key, "csrf": csrf_of(form, "login-form")}
    )
    assert answer.status_code == 303, answer.data[:500]
    home = client.get("/console/")
    assert home.status_code == 200 and b'id="actor-form"' in home.data
    return home


def set_actor(client, actor: str) -> str:
    """Act as ``actor``; returns the CSRF token of the session."""
    csrf = csrf_of(client.get("/console/"))
    answer = client.post("/console/actor", data={"actor": actor, "csrf": csrf})
    assert answer.status_code == 303
    return csrf


def logged_in(app, api, actor: str):
    """A test client logged in to the console with the tests' key, acting as ``actor``;
    (the client, the session's CSRF token)."""
    client = app.test_client()
    login(client, api.key)
    return client, set_actor(client, actor)


def session_cookie(client) -> str | None:
    cookie = client.get_cookie(SESSION_COOKIE, path="/console")
    return cookie.value if cookie else None


# ---------------------------------------------------------------- in a browser
# Headless Chromium (Debian's package; .ci/run installs it) driven by Playwright, one per
# test module; each test gets its own context (cookies) and page. Every page a test opens
# is checked: no console error, no response of 400 or more (a page or an asset), and when
# shot, at 1280x800 and at a phone's 390 px, no sideways scroll at the phone's width.

# How long a step may take before the test fails: a deadline on a condition (a page loaded,
# an element shown), not a wait. The policies page computes whole matrices (seconds alone;
# tens of seconds on a loaded machine), so it is generous: a fast run never waits for it.
STEP_TIMEOUT_MS = 90_000

AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WIDE = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    from tests.serving import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Browser:
    """One page of a fresh context, with its console errors and failed responses
    collected, screenshots kept under the test's tmp folder."""

    def __init__(self, chromium, base, tmp_path):
        self.context = chromium.new_context(viewport=WIDE)
        self.page = self.context.new_page()
        self.page.set_default_timeout(STEP_TIMEOUT_MS)
        self.page.set_default_navigation_timeout(STEP_TIMEOUT_MS)
        self.base, self.shots_dir = base, tmp_path / "shots"
        self.shots_dir.mkdir(exist_ok=True)
        self.errors, self.bad_responses, self.shots, self.axe_checked = [], [], [], []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on(
            "response",
            lambda r: self.bad_responses.append((r.status, r.url)) if r.status >= 400 else None,
        )

    def goto(self, path):
        return self.page.goto(self.base + path)

    def login(self, key, actor=None):
        self.goto("/console/")  # without a session, every page is the login form
        self.page.fill("input[name=api_key]", key)
        self.submit("#login-form button[type=submit]")
        self.page.wait_for_url(re.compile(r"/console/$"))
        assert self.page.locator("#actor-form").is_visible()
        if actor:
            self.set_actor(actor)

    def set_actor(self, actor):
        """Pick the acting user from the list of users by name."""
        self.goto("/console/")
        self.page.select_option("#actor-form select[name=actor]", actor)
        self.submit("#actor-form button[type=submit]")
        assert self.page.inner_text("#acting-user") == actor

    def submit(self, selector):
        """Click a submit button and wait for the page it leads to (post/redirect/get)."""
        with self.page.expect_navigation():
            self.page.click(selector)

    def follow(self, selector):
        """Click a link and wait until the page it opens has loaded (a bare click returns
        once the navigation starts: what follows would read the page half-parsed)."""
        self.submit(selector)

    def confirm(self, scope, key):
        """Open a destructive change's confirmation inside ``scope`` (a locator) and send it."""
        scope.locator(f"details[data-action={key}] > summary").click()
        with self.page.expect_navigation():
            scope.locator(f"button[data-confirm={key}]").click()

    def shot(self, name, axe=False):
        """The page at 1280x800 and at 390 px wide (full pages, kept as
        ``shots/<name>-1280.png`` and ``-390.png``), with axe run at each width when
        asked; at 390 px it must not scroll sideways. Back at 1280x800 after."""
        if axe:
            self.axe(f"{name} at 1280 px")
        wide = self.shots_dir / f"{name}-1280.png"
        self.page.screenshot(path=str(wide), full_page=True)
        self.page.set_viewport_size(PHONE)
        if axe:
            self.axe(f"{name} at 390 px")
        width = self.page.evaluate("document.documentElement.scrollWidth")
        phone = self.shots_dir / f"{name}-390.png"
        self.page.screenshot(path=str(phone), full_page=True)
        self.page.set_viewport_size(WIDE)
        self.shots += [wide, phone]
        assert width <= PHONE["width"] + 1, f"{self.page.url} is {width}px wide at 390 px"

    def axe(self, name):
        """axe-core run in the page (evaluated by Playwright, not injected as a script the
        page's CSP would refuse): no serious or critical violation."""
        if not AXE.exists():
            pytest.fail(f"{AXE} is missing: npm ci --prefix tests/routes/axe")
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            self.page.evaluate(AXE.read_text())
        found = self.page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
        )
        bad = [v for v in found if v["impact"] in ("serious", "critical")]
        self.axe_checked.append(name)
        assert bad == [], f"{name}: {bad}"

    def no_error_box(self):
        """No error box on the page: neither the problem box nor an alert."""
        boxes = self.page.locator(".problem, [role=alert]")
        assert boxes.count() == 0, f"{self.page.url}: {boxes.first.inner_text()}"

    def close(self):
        self.context.close()
        for path in self.shots:
            data = path.read_bytes()
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
            width = int.from_bytes(data[16:20], "big")
            height = int.from_bytes(data[20:24], "big")
            assert width > 100 and height > 100, path
        assert self.errors == []
        assert self.bad_responses == []


@pytest.fixture
def live(app, api, demo, tmp_path):
    """The app served over HTTP, with a snapshot root of its own (empty)."""
    from tests.serving import live_server

    app.config["SNAPSHOT_DIR"] = str(tmp_path / "snapshots")
    with live_server(app) as base:
        yield base, api.key


@pytest.fixture
def browser(chromium, live, tmp_path):
    base, _key = live
    b = Browser(chromium, base, tmp_path)
    yield b
    b.close()
