"""The console's Roles page through the test client, on both databases: the tab shows for
those who see members, a role is defined, redefined and deleted from its forms, a deletion
refused because the role is in use comes back as the result with where, a permission the
acting user does not hold is offered disabled with the policy's reason, and the role
pickers of the other pages offer the organization's own roles."""

import re

import pytest

from tests.routes.console_helpers import console_table, logged_in
from tests.support import add_user

ORG = "org-pix4d"
PAGE = f"/console/orgs/{ORG}/roles"
KEY = "custom:field_crew"
OWNER = "pix4d-owner"
pytestmark = [pytest.mark.usefixtures(console_table.__name__)]


def result_of(page) -> str:
    found = re.search(r'<section class="result[^>]*>.*?</section>', page.text, re.S)
    return found.group(0) if found else ""


def test_roles_page_defines_redefines_and_deletes_a_role(app, api, demo):
    client, token = logged_in(app, api, "pix4d-owner")
    page = client.get(PAGE)
    assert page.status_code == 200 and 'data-tab="roles"' in page.text
    assert 'id="no-roles"' in page.text and 'data-builtin="owner"' in page.text
    made = client.post(
        PAGE,
        data={
            "csrf": token,
            "key": "field_crew",
            "name": "Field crew",
            "permission": ["Dataset.view", "Dataset.upload"],
        },
    )
    assert made.status_code == 303
    page = client.get(PAGE)
    assert "Done:" in result_of(page) and f'data-role="{KEY}"' in page.text
    assert (
        api.get(f"/v1/orgs/{ORG}/roles/{KEY}", actor="pix4d-owner").get_json()["name"]
        == "Field crew"
    )
    # the members page offers it, to invite as and to give
    members = client.get(f"/console/orgs/{ORG}").text
    assert f'<option value="{KEY}"' in members
    assert (
        api.put(f"/v1/orgs/{ORG}/members/pix4d-reader", {"role": KEY}, actor=OWNER).status_code
        == 200
    )
    redefined = client.post(
        f"{PAGE}/{KEY}/edit",
        data={"csrf": token, "name": "Crew", "permission": ["Dataset.view"]},
    )
    assert redefined.status_code == 303
    assert not api.allowed(
        "pix4d-reader", "upload", {"type": "Dataset", "id": "pix4d-bridge-scan", "org": ORG}
    )
    # in use: the 409 says where, and nothing changes
    client.post(f"{PAGE}/{KEY}/delete", data={"csrf": token, "confirm": "yes"})
    refused = result_of(client.get(PAGE))
    assert 'data-status="409"' in refused and "1 memberships" in refused
    assert (
        api.put(f"/v1/orgs/{ORG}/members/pix4d-reader", {"role": "reader"}, actor=OWNER).status_code
        == 200
    )
    client.post(f"{PAGE}/{KEY}/delete", data={"csrf": token, "confirm": "yes"})
    page = client.get(PAGE)
    assert "Done:" in result_of(page) and 'id="no-roles"' in page.text


def test_bad_definitions_come_back_naming_the_field(app, api, demo):
    client, token = logged_in(app, api, "pix4d-owner")
    client.post(PAGE, data={"csrf": token, "key": "Crew!", "name": "Crew", "permission": []})
    result = result_of(client.get(PAGE))
    assert 'data-status="422"' in result and "<code>key</code>" in result
    bad = {"csrf": token, "key": "crew", "name": "Crew", "permission": ["Organization.close"]}
    client.post(PAGE, data=bad)
    assert "<code>permissions.0</code>" in result_of(client.get(PAGE))


def test_a_manager_is_offered_only_what_they_hold(app, api, demo):
    client, token = logged_in(app, api, "pix4d-manager")
    page = client.get(PAGE).text
    assert re.search(
        r'value="Organization.edit_billing" disabled title="[^"]*may hand out only what they hold',
        page,
    )
    assert re.search(r'value="Dataset.upload">', page)
    refused = client.post(
        PAGE,
        data={
            "csrf": token,
            "key": "billing",
            "name": "Billing",
            "permission": ["Organization.edit_billing"],
        },
    )
    assert refused.status_code == 303
    result = result_of(client.get(PAGE))
    assert 'data-status="403"' in result and "may hand out only what they hold" in result


def test_the_pickers_offer_the_orgs_own_roles(app, api, demo):
    crew = {
        "key": KEY,
        "name": "Field crew",
        "permissions": [{"type": "Dataset", "permission": "upload"}],
    }
    assert api.post(f"/v1/orgs/{ORG}/roles", crew, actor="pix4d-owner").status_code == 201
    add_user(api, "ann")
    assert api.post(f"/v1/orgs/{ORG}/join-requests", {}, actor="ann").status_code == 201
    client, _token = logged_in(app, api, "pix4d-owner")
    for path in (
        f"/console/orgs/{ORG}/teams",
        f"/console/orgs/{ORG}/requests",  # the Domains page's, as its auto-join roles
        f"/console/orgs/{ORG}/members/pix4d-member?type=Folder",
        f"/console/orgs/{ORG}/resource?type=Folder&id=pix4d-survey",
    ):
        assert f'value="{KEY}"' in client.get(path).text, path


def test_a_member_has_no_roles_tab(app, api, demo):
    client, _token = logged_in(app, api, "pix4d-member")
    page = client.get(f"/console/orgs/{ORG}")
    assert 'data-tab="roles"' not in page.text
    assert 'data-refused="view_members"' in client.get(PAGE).text
