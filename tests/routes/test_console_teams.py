"""The console's Teams page through the test client, on both databases: the tab shows for
those who see members, a team is made and filled from its forms, the policy's refusals come
back as the result with its reason, and buttons the policy refuses are disabled with it."""

import re

import pytest

from tests.routes.console_helpers import console_table, logged_in

ORG = "org-pix4d"
pytestmark = [pytest.mark.usefixtures(console_table.__name__)]


def test_teams_page_makes_and_fills_a_team(app, api, demo):
    client, token = logged_in(app, api, "pix4d-owner")
    page = client.get(f"/console/orgs/{ORG}/teams")
    assert page.status_code == 200 and 'data-tab="teams"' in page.text
    assert 'id="no-teams"' in page.text
    made = client.post(
        f"/console/orgs/{ORG}/teams",
        data={"csrf": token, "id": "crew", "name": "Crew", "role": "editor"},
    )
    assert made.status_code == 303
    added = client.post(
        f"/console/orgs/{ORG}/teams/crew/members",
        data={"csrf": token, "user_id": "pix4d-member", "expires_at": "2099-01-01T10:00"},
    )
    assert added.status_code == 303
    page = client.get(f"/console/orgs/{ORG}/teams")
    assert 'data-team="crew"' in page.text and 'data-member="pix4d-member"' in page.text
    assert "2099-01-01T10:00:00Z" in page.text
    assert api.allowed(
        "pix4d-member", "upload", {"type": "Folder", "id": "pix4d-survey", "org": ORG}
    )


def test_a_manager_sees_why_an_owners_team_is_not_theirs(app, api, demo):
    api.post(
        f"/v1/orgs/{ORG}/teams",
        {"id": "owners", "name": "Owners", "role": "owner"},
        actor="pix4d-owner",
    )
    client, token = logged_in(app, api, "pix4d-manager")
    page = client.get(f"/console/orgs/{ORG}/teams")
    assert "may manage teams only up to Manager, and this team is an Owner" in page.text
    assert re.search(r'<option value="owner" disabled title="[^"]*this team is an Owner', page.text)
    refused = client.post(
        f"/console/orgs/{ORG}/teams/owners/delete",
        data={"csrf": token, "confirm": "yes"},
    )
    assert refused.status_code == 303
    result = client.get(f"/console/orgs/{ORG}/teams").text
    assert "403" in result and "this team is an Owner" in result


def test_a_member_has_no_teams_tab(app, api, demo):
    client, _token = logged_in(app, api, "pix4d-member")
    page = client.get(f"/console/orgs/{ORG}")
    assert 'data-tab="teams"' not in page.text
    assert "view_members" in client.get(f"/console/orgs/{ORG}/teams").text
