"""An org admin's day in the console, in headless Chromium, on SQLite and on PostgreSQL:
create an organization, build a folder tree (create, rename, move, delete after a
confirmation), invite (the page says the mail was sent; a reload loses no token and sends
nothing twice), resend an invitation, grant a folder, change a role, close the organization after typing its name, and read each
step in the audit trail in words, filtered by an event's name. Then a Member walks through
every page and meets no error box: what the policy refuses them is absent or one line saying
why; and leaves the organization, after a confirmation.

Every page opened logs no console error and loads nothing that answers 400 or more
(console_helpers.Browser checks both when the test ends)."""

import re

import pytest

from tests.routes.console_helpers import (
    browser,
    chromium,
    console_table,
    live,
)
from tests.serving import needs_chromium

FIXTURES = (browser, chromium, live)  # used by name by the tests below

pytestmark = [pytest.mark.usefixtures(console_table.__name__), needs_chromium]


def result_text(page) -> str:
    return page.inner_text("#result")


def ok(page, *words):
    """The last change's result says Done, with these words."""
    result = page.locator("#result")
    assert result.get_attribute("class") == "result ok", result.inner_text()
    text = result.inner_text()
    for word in words:
        assert word in text, text


def create_folder(browser, rid, name, in_=None):
    """On the tree page (of ``in_``, when given), create a Folder."""
    page = browser.page
    page.select_option("#create-form select[name=type]", "Folder")
    page.fill("#create-form input[name=id]", rid)
    page.fill("#create-form input[name=name]", name)
    browser.submit("#create-form button[type=submit]")
    ok(page, f"create Folder {rid}")
    assert page.locator(f"#resources-table tr[data-id='{rid}']").is_visible()
    if in_:
        assert in_ in page.inner_text("#where")


def test_an_admin_builds_an_organization_and_reads_it_in_the_audit(browser, live, api):
    page = browser.page
    base, key = live
    browser.login(key, actor="pix4d-owner")

    # A new organization, from the home page.
    browser.follow("#new-org-link")
    page.fill("#new-org-form input[name=name]", "Acme Survey")
    page.select_option("#new-org-form select[name=style]", "pix4d")
    page.fill("#new-org-form input[name=id]", "acme")
    browser.submit("#new-org-form button[type=submit]")
    assert page.url.endswith("/console/orgs/acme")
    ok(page, "create the organization 'Acme Survey'")
    assert page.locator("h1").inner_text().startswith("Acme Survey")
    assert page.locator("#members-table tr[data-user=pix4d-owner]").get_attribute("data-role") == (
        "owner"
    )

    # A folder tree: North (and North 2026 in it), South, Scratch; South moves into North,
    # North 2026 is renamed, Scratch deleted after its confirmation.
    browser.follow("nav.tabs a[data-tab=resources]")
    create_folder(browser, "north", "North")
    create_folder(browser, "south", "South")
    create_folder(browser, "scratch", "Scratch")
    browser.follow("a[data-open='Folder/north']")
    create_folder(browser, "north-2026", "North 26", in_="North")
    browser.follow("a[data-resource='Folder/north-2026']")
    page.fill("#rename-form input[name=name]", "North 2026")
    browser.submit("#rename-form button[type=submit]")
    ok(page, "rename Folder north-2026 to 'North 2026'")
    assert page.locator("#resource-h").inner_text().startswith("North 2026")
    browser.goto("/console/orgs/acme/resource?type=Folder&id=south")
    page.select_option("#move-form select[name=parent]", "Folder/north")
    browser.submit("#move-form button[type=submit]")
    ok(page, "move Folder south to Folder north")
    assert "North" in page.inner_text(".crumbs")
    browser.goto("/console/orgs/acme/resource?type=Folder&id=scratch")
    browser.confirm(page.locator("#delete"), "delete")
    ok(page, "delete Folder scratch")
    rows = page.locator("#resources-table tbody tr[data-id]")
    assert sorted(r.get_attribute("data-id") for r in rows.all()) == ["north"]
    browser.follow("a[data-open='Folder/north']")
    inside = page.locator("#resources-table tbody tr[data-id]")
    assert sorted(r.get_attribute("data-id") for r in inside.all()) == ["north-2026", "south"]
    # The search finds a folder wherever it sits.
    page.fill("#resource-search input[name=q]", "2026")
    browser.submit("#resource-search button[type=submit]")
    assert [
        r.get_attribute("data-id") for r in page.locator("#resources-table tbody tr[data-id]").all()
    ] == ["north-2026"]

    # Invite two people. The tokens are shown after the redirect; a reload shows them
    # again and sends nothing again.
    browser.follow("nav.tabs a[data-tab=members]")
    page.fill("#invite-form textarea[name=emails]", "ivy@example.com\njo@example.com")
    page.select_option("#invite-form select[name=role]", "editor")
    browser.submit("#invite-form button[type=submit]")
    ok(page, "invite ivy@example.com, jo@example.com as Editor")
    # The mail went out (the tests' MAIL_URL is the default file://): the page says so and
    # asks nothing more; the tokens are one click away, for passing one on by hand.
    assert page.locator("#mail-note").get_attribute("data-mailed") == "yes"
    assert "mail was sent" in page.inner_text("#mail-note")
    assert "send each" not in result_text(page).lower()
    page.click("details.tokens-box > summary")
    tokens = {
        e: page.inner_text(f"code.token[data-email='{e}']").strip()
        for e in ("ivy@example.com", "jo@example.com")
    }
    assert all(len(t) > 30 for t in tokens.values())
    page.reload()
    assert page.locator("#result.failed").count() == 0
    page.click("details.tokens-box > summary")
    assert {e: page.inner_text(f"code.token[data-email='{e}']").strip() for e in tokens} == tokens
    assert page.locator("#invitations-table tbody tr[data-email]").count() == 2
    sent = api.get("/v1/orgs/acme/invitations", actor="pix4d-owner").get_json()["items"]
    assert sorted(i["email"] for i in sent) == ["ivy@example.com", "jo@example.com"]
    browser.submit("#hide-tokens button[type=submit]")
    assert page.locator("code.token").count() == 0

    # Resend Jo's invitation: a new token (the first stops working), a new mail.
    browser.submit("#invitations-table tr[data-email='jo@example.com'] button[data-action=resend]")
    ok(page, "resend the invitation")
    page.click("details.tokens-box > summary")
    resent = page.inner_text("code.token[data-email='jo@example.com']").strip()
    assert len(resent) > 30 and resent != tokens["jo@example.com"]
    old_token, tokens["jo@example.com"] = tokens["jo@example.com"], resent
    browser.submit("#hide-tokens button[type=submit]")
    stale = page.request.post(
        f"{base}/v1/invitations/accept",
        data={"token": old_token, "user": {"id": "jo", "email": "jo@example.com", "name": "Jo"}},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert stale.status >= 400, stale.text()

    # Both accept (through the JSON API, over HTTP, as the invited people's app would).
    for email, uid in (("ivy@example.com", "ivy"), ("jo@example.com", "jo")):
        accepted = page.request.post(
            f"{base}/v1/invitations/accept",
            data={"token": tokens[email], "user": {"id": uid, "email": email, "name": uid.title()}},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert accepted.status == 200, accepted.text()

    # Grant Jo the Reader role on the North folder.
    browser.goto("/console/orgs/acme/resource?type=Folder&id=north")
    page.select_option("#grant-form select[name=user_id]", "jo")
    page.select_option("#grant-form select[name=role]", "reader")
    browser.submit("#grant-form button[type=submit]")
    ok(page, "give jo the Reader role on Folder north")
    assert page.locator("#grants-table tr[data-user=jo]").get_attribute("data-role") == "reader"

    # Change Ivy's role from Editor to Manager; the members list shows Jo's grant.
    browser.follow("nav.tabs a[data-tab=members]")
    browser.submit(
        "#members-table tr[data-user=ivy] button[data-action=change_role][data-role=manager]"
    )
    ok(page, "change the role of ivy to Manager")
    assert page.locator("#members-table tr[data-user=ivy]").get_attribute("data-role") == "manager"
    assert "reader on Folder north" in page.inner_text("#members-table tr[data-user=jo] td.grants")

    # Close the organization: the name typed wrong is refused, then right.
    browser.follow("nav.tabs a[data-tab=settings]")
    page.locator("details[data-action=close] > summary").click()
    page.fill("#close-form input[name=confirm_name]", "Acme")
    browser.submit("#close-form button[type=submit]")
    assert page.locator("#result.failed").get_attribute("data-status") == "422"
    assert "confirm_name" in result_text(page)
    assert page.url.endswith("/console/orgs/acme/settings#close")
    page.locator("details[data-action=close] > summary").click()
    page.fill("#close-form input[name=confirm_name]", "Acme Survey")
    browser.submit("#close-form button[type=submit]")
    assert re.search(r"/console/orgs/acme/audit$", page.url)
    ok(page, "close the organization")
    assert "closed" in page.inner_text(".org-head")

    # The closed organization's audit trail, in words, newest first: every step.
    summaries = [s.inner_text() for s in page.locator("#audit-list li .summary").all()]
    expected = [
        "pix4d-owner closed the organization.",
        "pix4d-owner changed ivy's role from Editor to Manager.",
        "pix4d-owner gave jo the Reader role on Folder north.",
    ]
    assert summaries[: len(expected)] == expected, summaries
    text = "\n".join(summaries)
    for line in (
        "jo joined as Editor.",
        "jo accepted the invitation sent to jo@example.com (Editor).",
        "ivy accepted the invitation sent to ivy@example.com (Editor).",
        "pix4d-owner invited ivy@example.com as Editor",
        "pix4d-owner invited jo@example.com as Editor",
        "pix4d-owner resent the invitation of jo@example.com (Editor) with a new token",
        "pix4d-owner deleted Folder scratch.",
        "pix4d-owner moved Folder south from the top level to Folder north.",
        "pix4d-owner updated Folder north-2026.",
        "pix4d-owner created Folder north-2026 in Folder north.",
        "pix4d-owner created Folder north at the top level.",
        "pix4d-owner created the organization Acme Survey.",
    ):
        assert line in text, text
    assert summaries[-1] == "pix4d-owner created the organization Acme Survey."
    # The invitations were sent once each, for all the reloads.
    assert text.count("invited ivy@example.com") == 1
    # Filtered by subject: Jo's history.
    page.fill("#audit-filters input[name=subject]", "user:jo")
    browser.submit("#audit-filters button[type=submit]")
    jo = [s.inner_text() for s in page.locator("#audit-list li .summary").all()]
    assert jo == ["pix4d-owner gave jo the Reader role on Folder north.", "jo joined as Editor."]
    # The filter's names are the trail's, each beside the event it is published as, and it
    # takes the event's name too: invitation.created finds the two invitations.
    option = page.locator("#audit-filters select[name=action] option[value='invitation.create']")
    assert option.inner_text() == "invitation.create (event invitation.created)"
    offered = [o.get_attribute("value") for o in page.locator("#audit-filters option").all()]
    recorded = {e.get_attribute("data-action") for e in page.locator("#audit-list li").all()}
    browser.goto("/console/orgs/acme/audit")
    recorded |= {e.get_attribute("data-action") for e in page.locator("#audit-list li").all()}
    assert recorded <= set(offered), recorded - set(offered)
    browser.goto("/console/orgs/acme/audit?action=invitation.created")
    created = [s.inner_text() for s in page.locator("#audit-list li .summary").all()]
    assert len(created) == 2 and all(" invited " in s for s in created), created
    assert page.locator("#audit-filters select[name=action]").input_value() == "invitation.create"

    # Nothing else of a closed organization is open any more.
    browser.goto("/console/orgs/acme")
    assert page.locator("#closed-note").is_visible()
    assert page.locator("#members-table").count() == 0


@pytest.mark.parametrize("who", ["pix4d-member"])
def test_a_member_sees_no_error_box_anywhere(browser, live, api, who):
    page = browser.page
    _base, key = live
    browser.login(key, actor=who)
    pages = [
        "/console/",
        "/console/orgs/org-pix4d",
        "/console/orgs/org-pix4d/resources",
        "/console/orgs/org-pix4d/resources?parent_type=Folder&parent_id=pix4d-survey",
        "/console/orgs/org-pix4d/resource?type=Folder&id=pix4d-survey",
        "/console/orgs/org-pix4d/resources?q=pix4d",
        "/console/orgs/org-pix4d/members/pix4d-member",
        "/console/orgs/org-pix4d/settings",
        "/console/orgs/org-pix4d/audit",
        "/console/orgs/new",
        "/console/policies",
        "/console/playground",
    ]
    for path in pages:
        response = browser.goto(path)
        assert response.status == 200, path
        browser.no_error_box()
    # What the policy refuses is said in one line each, in its words.
    browser.goto("/console/orgs/org-pix4d")
    refused = page.locator("p.note[data-refused=view_members]")
    assert "needs the role Owner or Manager" in refused.inner_text()
    assert page.locator("p.note[data-refused=invite]").is_visible()
    assert page.locator("#invite-form").count() == 0
    # The tabs are those the member may open: no audit trail.
    tabs = [t.get_attribute("data-tab") for t in page.locator("nav.tabs a").all()]
    assert tabs == ["members", "resources", "settings"]
    # The tree shows what was assigned: the survey folder and what sits in it.
    browser.goto("/console/orgs/org-pix4d/resources")
    ids = [
        r.get_attribute("data-id") for r in page.locator("#resources-table tbody tr[data-id]").all()
    ]
    assert "pix4d-survey" in ids and "pix4d-quarry" not in ids
    # Settings: every field disabled with the policy's reason; closing is one line.
    browser.goto("/console/orgs/org-pix4d/settings")
    for field in ("name", "legal", "billing"):
        assert page.locator(f"#{field}-form button[type=submit]").is_disabled()
        assert page.locator(f"p.why[data-refused={field}]").inner_text()
    assert page.locator("p.note[data-refused=close]").is_visible()

    # The member cannot see the members table, yet leaves: a confirmation, then the core's
    # removal of their own membership (as DELETE of it), which the policy allows them.
    browser.goto("/console/orgs/org-pix4d")
    assert page.locator("#members-table").count() == 0
    assert "are member here" in page.inner_text("#leave")
    browser.confirm(page.locator("#leave"), "remove")
    ok(page, "leave the organization")
    left = api.get("/v1/orgs/org-pix4d/members", actor="pix4d-owner").get_json()["items"]
    assert who not in [m["user_id"] for m in left]
    assert page.locator("#leave").count() == 0
