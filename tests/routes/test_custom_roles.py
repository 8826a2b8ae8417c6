"""Roles an organization defines itself, over HTTP on both databases (docs/API.md 1.3,
"Custom roles"): defined within what the style lets be delegated, never by one who holds
less than the role gives, held as a membership role, a grant or a team's role, redefined
with effect at once, and deleted only when nothing holds or offers it."""

import json
import shutil

from access.review import live_worlds
from authz.diff import diff, widens
from authz.engine import POLICY_DIR, PolicySet
from models import db
from tests.support import invite, list_actors, list_resources, problem

ORG = "org-pix4d"
ROLES = f"/v1/orgs/{ORG}/roles"
BRIDGE = {"type": "Dataset", "id": "pix4d-bridge-scan", "org": ORG}  # in survey/survey-2026
QUARRY = {"type": "Dataset", "id": "pix4d-quarry-march", "org": ORG}  # in the quarry site
ORG_REF = {"type": "Organization", "id": ORG}
CREW = {
    "key": "custom:field_crew",
    "name": "Field crew",
    "permissions": [
        {"type": "Organization", "permission": "view"},
        {"type": "Dataset", "permission": "view"},
        {"type": "Dataset", "permission": "upload"},
    ],
}
BILLING = {
    "key": "custom:billing",
    "name": "Billing",
    "permissions": [{"type": "Organization", "permission": "edit_billing"}],
}


def define(api, role=CREW, actor="pix4d-owner"):
    response = api.post(ROLES, role, actor=actor)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def set_role(api, user, role, actor="pix4d-owner"):
    return api.put(f"/v1/orgs/{ORG}/members/{user}", {"role": role}, actor=actor)


def test_a_custom_role_gives_what_it_lists_and_nothing_else(api, demo):
    shown = define(api)
    assert shown["key"] == "custom:field_crew" and len(shown["permissions"]) == 3
    changed = set_role(api, "pix4d-reader", "custom:field_crew")
    assert changed.status_code == 200, changed.get_json()
    assert api.allowed("pix4d-reader", "upload", BRIDGE)  # a Reader may not upload
    assert api.allowed("pix4d-reader", "view", QUARRY)
    assert not api.allowed("pix4d-reader", "edit", BRIDGE)  # not listed
    assert not api.allowed("pix4d-reader", "view", {"type": "Folder", "id": "pix4d-survey"})
    assert not api.allowed("pix4d-reader", "view_credits", ORG_REF)  # a Reader's, not listed
    assert "pix4d-quarry-march" in list_resources(api, "pix4d-reader", "upload", "Dataset", ORG)
    assert "pix4d-reader" in list_actors(api, "upload", QUARRY)
    listed = api.get(ROLES, actor="pix4d-manager").get_json()
    assert [r["key"] for r in listed["items"]] == ["custom:field_crew"]
    assert "owner" in listed["builtin"]
    assert {"type": "Dataset", "permission": "upload"} in listed["delegable"]


def test_granted_on_a_folder_it_reaches_what_is_inside(api, demo):
    define(api)
    put = api.put(
        f"/v1/orgs/{ORG}/resources/Folder/pix4d-survey/grants/pix4d-member",
        {"role": "custom:field_crew"},
        actor="pix4d-owner",
    )
    assert put.status_code in (200, 201), put.get_json()
    assert api.allowed("pix4d-member", "upload", BRIDGE)  # two levels down
    assert not api.allowed("pix4d-member", "upload", QUARRY)  # elsewhere: nothing


def test_no_one_defines_or_hands_out_more_than_they_hold(api, demo):
    # A Manager holds no edit_billing: they may neither define nor hand out such a role.
    refused = api.post(ROLES, BILLING, actor="pix4d-manager")
    assert "may hand out only what they hold" in problem(refused, 403)["detail"]
    refused = api.post(ROLES, CREW, actor="pix4d-editor")
    assert "may not define roles; Owners and Managers do" in problem(refused, 403)["detail"]
    define(api, BILLING)
    refused = invite(api, "pix4d-manager", ORG, ("someone@example.com", "custom:billing"))
    (reason,) = problem(refused, 403)["errors"]["invitations.0.role"]
    assert "may hand out only what they hold" in reason
    refused = set_role(api, "pix4d-member", "custom:billing", actor="pix4d-manager")
    assert "may hand out only what they hold" in problem(refused, 403)["detail"]
    # within what they hold, a Manager may (a custom role ranks as a Member)
    define(api, CREW, actor="pix4d-manager")
    sent = invite(api, "pix4d-manager", ORG, ("crew@example.com", "custom:field_crew"))
    assert sent.status_code == 201, sent.get_json()
    # and the Owner hands out the billing role
    assert set_role(api, "pix4d-member", "custom:billing").status_code == 200
    assert api.allowed("pix4d-member", "edit_billing", ORG_REF)


def test_bad_definitions_are_422_naming_the_field(api, demo):
    bad = {**CREW, "permissions": [{"type": "Organization", "permission": "assign_roles"}]}
    assert "permissions.0" in problem(api.post(ROLES, bad, actor="pix4d-owner"), 422)["errors"]
    bad = {**CREW, "key": "field_crew"}
    assert "key" in problem(api.post(ROLES, bad, actor="pix4d-owner"), 422)["errors"]
    bad = {**CREW, "permissions": []}
    assert "permissions" in problem(api.post(ROLES, bad, actor="pix4d-owner"), 422)["errors"]
    undefined = set_role(api, "pix4d-member", "custom:nobody")
    assert "role" in problem(undefined, 422)["errors"]
    define(api)
    assert "key" in problem(api.post(ROLES, CREW, actor="pix4d-owner"), 409)["errors"]


def test_redefining_takes_effect_at_once_and_deleting_waits_for_no_use(api, demo):
    define(api)
    assert set_role(api, "pix4d-reader", "custom:field_crew").status_code == 200
    assert api.allowed("pix4d-reader", "upload", BRIDGE)
    fewer = {"permissions": [{"type": "Dataset", "permission": "view"}]}
    changed = api.patch(f"{ROLES}/custom:field_crew", fewer, actor="pix4d-owner")
    assert changed.status_code == 200, changed.get_json()
    assert not api.allowed("pix4d-reader", "upload", BRIDGE)  # the cached answer is gone
    assert api.allowed("pix4d-reader", "view", BRIDGE)
    in_use = api.delete(f"{ROLES}/custom:field_crew", actor="pix4d-owner")
    assert "1 memberships" in problem(in_use, 409)["detail"]
    detail = api.get(f"{ROLES}/custom:field_crew", actor="pix4d-owner").get_json()
    assert detail["uses"]["memberships"] == 1
    assert set_role(api, "pix4d-reader", "reader").status_code == 200
    assert api.delete(f"{ROLES}/custom:field_crew", actor="pix4d-owner").status_code == 204
    assert api.get(f"{ROLES}/custom:field_crew", actor="pix4d-owner").status_code == 404
    feed = api.get("/v1/events", query_string={"org": ORG}).get_json()["items"]
    kinds = [e["type"] for e in feed if e["type"].startswith("role.")]
    assert kinds == ["role.defined", "role.redefined", "role.deleted"]


def test_a_team_may_hold_a_custom_role(api, demo):
    define(api)
    made = api.post(
        f"/v1/orgs/{ORG}/teams",
        {"id": "crew", "name": "Crew", "role": "custom:field_crew"},
        actor="pix4d-owner",
    )
    assert made.status_code == 201, made.get_json()
    assert api.put(f"/v1/orgs/{ORG}/teams/crew/members/pix4d-member", {}, actor="pix4d-owner")
    assert api.allowed("pix4d-member", "upload", QUARRY)
    in_use = api.delete(f"{ROLES}/custom:field_crew", actor="pix4d-owner")
    assert "1 teams" in problem(in_use, 409)["detail"]


def test_the_other_styles_define_within_their_own_lists(api, demo):
    up42 = {
        "key": "custom:orderer",
        "name": "Orderer",
        "permissions": [{"type": "Organization", "permission": "create_catalog_order"}],
    }
    made = api.post("/v1/orgs/org-up42/roles", up42, actor="up42-admin")
    assert made.status_code == 201, made.get_json()
    refused = api.post("/v1/orgs/org-up42/roles", {**up42, "key": "custom:x"}, actor="up42-member")
    assert "may not define roles; Admins do" in problem(refused, 403)["detail"]
    todo = api.post("/v1/orgs/org-todo/roles", up42, actor="todo-admin")
    assert problem(todo, 422)["errors"]["permissions.0"]  # todo delegates nothing


def test_reviewers_list_every_org_role_and_see_it_in_the_matrices(app, api, demo):
    define(api, BILLING)
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["policy", "roles", "--json"])
    assert listed.exit_code == 0, listed.output
    (role,) = [r for r in json.loads(listed.output) if r["org"] == ORG]
    assert role["key"] == "custom:billing"
    assert role["permissions"] == ["Organization.edit_billing"]
    shown = runner.invoke(
        args=["policy", "matrix", "--org", ORG, "--management", "--format", "json"]
    )
    assert shown.exit_code == 0, shown.output
    m = json.loads(shown.output)
    assert m["roles"][-1] == "custom:billing"
    invite_as = next(t for t in m["tables"] if t["id"] == "invite")
    row = next(r for r in invite_as["rows"] if r["case"] == "custom:billing")
    allowed = dict(zip(m["roles"], row["allowed"]))
    assert allowed["owner"] is True and allowed["manager"] is False  # holds no edit_billing
    resources = runner.invoke(args=["policy", "matrix", "--org", ORG, "--format", "json"])
    org_table = next(
        t for t in json.loads(resources.output)["tables"] if t["type"] == "Organization"
    )
    billing = next(r for r in org_table["rows"] if r["action"] == "edit_billing")
    assert dict(zip(m["roles"], billing["allowed"]))["custom:billing"] is True


def test_a_policy_diff_counts_what_org_roles_give(app, api, demo, tmp_path):
    """A policy change that stops a permission being delegable is a loss for whoever holds
    it through an organization's own role, in the live data and in its management cells."""
    define(api)
    assert set_role(api, "pix4d-reader", "custom:field_crew").status_code == 200
    folder = tmp_path / "narrowed"
    shutil.copytree(POLICY_DIR, folder)
    polar = folder / "pix4d.polar"
    text = polar.read_text()
    assert text.count('"create", "edit", "delete",\n     "upload"]') == 1
    polar.write_text(text.replace('"create", "edit", "delete",\n     "upload"]', '"create"]'))
    old = app.extensions["orgauthz.policy"].current
    with db.connection_context():
        report = diff(old, PolicySet(folder), live_worlds())
    lost = {(c["user"], c["action"], c["resource_id"]) for c in report["data"]}
    assert ("pix4d-reader", "upload", "pix4d-bridge-scan") in lost
    assert not widens(report)


def test_a_preview_asks_what_defining_would_ask(api, demo):
    """/v1/authorize on a CustomRole answers as the write would, on the stored role."""
    billing = {"permissions": BILLING["permissions"]}
    resource = {"type": "CustomRole", "id": "custom:billing", "org": ORG, "attributes": billing}
    body = {"actor": {"id": "pix4d-manager"}, "action": "define", "resource": resource}
    body["explain"] = True
    answer = api.post("/v1/authorize", body).get_json()
    assert answer["allowed"] is False  # a Manager holds no edit_billing
    shown = answer["explanation"]["facts_shown"][-1]["attributes"]
    assert shown == [["role_permissions", [["Organization", "edit_billing"]]]]
    body["actor"] = {"id": "pix4d-owner"}
    assert api.post("/v1/authorize", body).get_json()["allowed"] is True
    define(api, BILLING)
    # deleting or renaming the stored role: what it gives now, whatever the caller says
    resource["attributes"] = {}
    body["actor"] = {"id": "pix4d-manager"}
    assert api.post("/v1/authorize", body).get_json()["allowed"] is False
    resource["attributes"] = {"permissions": [{"type": "Organization"}]}
    answer = api.post("/v1/authorize", body).get_json()
    assert answer["allowed"] is False
    assert "attributes.permissions.0" in answer["explanation"]["reason"]
