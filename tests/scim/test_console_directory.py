"""The console's Directory page: the SCIM token's state, the acting user, the role mapping
and the last sync, shown to those the policy lets view the members; axe-core finds no
serious or critical violation in it at either width (tests/routes/console_helpers.py)."""

import pytest

from tests.routes.console_helpers import (
    browser,
    chromium,
    console_table,
    live,
    login,
    set_actor,
)
from tests.scim.conftest import Scim, issue, map_group, user_body
from tests.serving import needs_chromium

FIXTURES = (browser, chromium, live)  # used by name by the tests below


def _page(client, actor):
    set_actor(client, actor)
    return client.get("/console/orgs/org-pix4d/directory")


@pytest.mark.usefixtures(console_table.__name__)
def test_the_directory_page_shows_the_token_and_the_last_sync(app, api, demo):
    client = app.test_client()
    login(client, api.key)
    page = _page(client, "pix4d-owner")
    assert page.status_code == 200 and b'data-state="none"' in page.data
    directory = Scim(app.test_client(), issue(app))
    directory.post("/Users", user_body("ivy@acme.example.com"))
    map_group(app, "Surveyors", "editor")
    page = client.get("/console/orgs/org-pix4d/directory")
    text = page.get_data(as_text=True)
    assert "<td>group surveyors</td><td>editor</td>" in text
    assert 'data-state="active"' in text and ">pix4d-owner<" in text
    assert "1 active, 0 deactivated" in text and "never" not in text
    assert 'data-tab="directory"' in text


@pytest.mark.usefixtures(console_table.__name__)
def test_the_page_says_why_to_those_the_policy_keeps_from_the_members(app, api, demo):
    client = app.test_client()
    login(client, api.key)
    issue(app)
    page = _page(client, "pix4d-editor")  # a pix4d Editor may not view the members
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-tab="directory"' not in text and "directory-facts" not in text
    assert 'data-refused="view_members"' in text and "pix4d-owner" not in text


@needs_chromium
@pytest.mark.usefixtures(console_table.__name__)
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_directory_page_passes_axe_at_both_widths(app, browser, live):
    _base, key = live
    browser.login(key, actor="pix4d-owner")
    browser.goto("/console/orgs/org-pix4d/directory")
    browser.shot("directory-none", axe=True)
    Scim(app.test_client(), issue(app)).post("/Users", user_body("jo@acme.example.com"))
    map_group(app, "Surveyors", "editor")
    browser.goto("/console/orgs/org-pix4d/directory")
    browser.shot("directory-active", axe=True)
    assert len(browser.axe_checked) == 2 * 2
