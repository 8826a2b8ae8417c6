"""Every page of the console, looked at: a screenshot at 1280x800 and at 390 px wide
(``<tmp>/shots/<page>-1280.png`` and ``-390.png``), no sideways scroll on the phone, no
console error, no page or asset answering 400 or more, and axe-core (tests/routes/axe,
from the npm registry: ``npm ci --prefix tests/routes/axe``) run in each page by Playwright
reporting no serious or critical violation. One database is enough for what a browser
adds (tests/routes/test_console_journey.py runs on both)."""

import shutil

import pytest

from authz.engine import POLICY_DIR, policy_version
from ops import reload as staging
from tests.routes.console_helpers import (
    browser,
    chromium,
    console_table,
    live,
)
from tests.serving import needs_chromium

FIXTURES = (browser, chromium, live)  # used by name by the tests below

pytestmark = [
    pytest.mark.usefixtures(console_table.__name__),
    needs_chromium,
    pytest.mark.parametrize("backend", ["sqlite"], indirect=True),
]


def look(browser, name, path=None):
    """Open ``path`` (or stay), then shoot it and run axe at both widths."""
    if path is not None:
        response = browser.goto(path)
        assert response.status < 400, (path, response.status)
    browser.shot(name, axe=True)


def a_candidate(tmp_path, name, up42_member_buys=False, comment=None):
    folder = tmp_path / name
    shutil.copytree(POLICY_DIR, folder)
    if up42_member_buys:
        up42 = folder / "up42.polar"
        up42.write_text(
            up42.read_text().replace('"buy_credits" if "admin";', '"buy_credits" if "member";')
        )
    if comment:
        with open(folder / "pix4d.polar", "a") as f:
            f.write(comment)
    return folder


def test_every_page_at_both_widths(browser, live, tmp_path, monkeypatch, api):
    page = browser.page
    _base, key = live
    look(browser, "login", "/console/")
    browser.login(key, actor="pix4d-owner")
    look(browser, "home", "/console/")
    look(browser, "new-org", "/console/orgs/new")

    # Members, with the tokens of a sending, and a refused change's result.
    browser.goto("/console/orgs/org-pix4d")
    page.fill("#invite-form textarea[name=emails]", "ivy@example.com\njo@example.com")
    browser.submit("#invite-form button[type=submit]")
    look(browser, "members-invited")
    look(browser, "member", "/console/orgs/org-pix4d/members/pix4d-member")
    look(browser, "resources", "/console/orgs/org-pix4d/resources")
    look(
        browser,
        "resources-in-folder",
        "/console/orgs/org-pix4d/resources?parent_type=Folder&parent_id=pix4d-survey",
    )
    look(browser, "resources-search", "/console/orgs/org-pix4d/resources?q=scan")
    look(browser, "resource", "/console/orgs/org-pix4d/resource?type=Folder&id=pix4d-survey")
    # A destructive change's confirmation, open.
    page.locator("#delete details[data-action=delete] > summary").click()
    look(browser, "resource-confirm-delete")
    look(browser, "settings", "/console/orgs/org-pix4d/settings")
    team = {"id": "crew", "name": "Crew", "role": "editor"}
    api.post("/v1/orgs/org-pix4d/teams", team, actor="pix4d-owner")
    api.put("/v1/orgs/org-pix4d/teams/crew/members/pix4d-member", {}, actor="pix4d-owner")
    look(browser, "teams", "/console/orgs/org-pix4d/teams")
    crew = {
        "key": "custom:field_crew",
        "name": "Field crew",
        "permissions": [{"type": "Dataset", "permission": "upload"}],
    }
    api.post("/v1/orgs/org-pix4d/roles", crew, actor="pix4d-owner")
    look(browser, "roles", "/console/orgs/org-pix4d/roles")
    # A role's redefinition form, open.
    page.locator("article[data-role='custom:field_crew'] details > summary").first.click()
    look(browser, "roles-redefine")
    look(browser, "audit", "/console/orgs/org-pix4d/audit")
    look(browser, "audit-filtered", "/console/orgs/org-pix4d/audit?action=invitation.create")
    look(
        browser,
        "playground",
        "/console/playground?org=org-pix4d&actor=pix4d-member&type=Dataset&id=pix4d-bridge-scan",
    )

    # Policies: a style's two matrices; the diff against a previous version and against the
    # refused candidate, with what replay says of it.
    look(browser, "policies", "/console/policies?style=pix4d")
    look(browser, "policies-management", "/console/policies?style=pix4d&show=management")
    root = tmp_path / "snapshots"
    monkeypatch.setattr(staging, "STAGED", staging.Staged())
    previous = a_candidate(tmp_path, "previous", comment="\n# a comment only\n")
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(previous, root / policy_version(previous))
    assert not staging.stage(False, a_candidate(tmp_path, "wider", up42_member_buys=True), root)
    api.post(
        "/v1/authorize",
        {
            "actor": {"id": "up42-member"},
            "action": "buy_credits",
            "resource": {"type": "Organization", "id": "org-up42"},
        },
    )
    look(
        browser,
        "policies-diff-previous",
        f"/console/policies?style=up42&against={policy_version(previous)}",
    )
    look(browser, "policies-diff-refused", "/console/policies?style=up42&against=refused")
    assert "gains" in page.inner_text("#diff-report")
    assert page.locator("#replay-summary").is_visible()

    # What a Member sees, and a closed organization's trail.
    browser.set_actor("pix4d-member")
    look(browser, "member-view-members", "/console/orgs/org-pix4d")
    look(browser, "member-view-settings", "/console/orgs/org-pix4d/settings")
    browser.set_actor("up42-admin")
    closed = api.delete("/v1/orgs/org-up42", actor="up42-admin")
    assert closed.status_code == 200, closed.get_json()
    look(browser, "closed-audit", "/console/orgs/org-up42/audit")
    look(browser, "closed-members", "/console/orgs/org-up42")
    assert len(browser.shots) == len(browser.axe_checked) == 2 * 25
