"""Teams over HTTP, on both databases: a team's members hold its org role and its roles on
resources as their own (decisions, lists, explain), each change is decided by the style's
policy, recorded in the audit trail and the events feed, and a removed member leaves their
teams."""

from models import TeamMember, db
from tests.support import list_actors, list_resources, problem

ORG = "org-pix4d"
SURVEY = {"type": "Folder", "id": "pix4d-survey", "org": ORG}
BRIDGE = {"type": "Dataset", "id": "pix4d-bridge-scan", "org": ORG}
TEAMS = f"/v1/orgs/{ORG}/teams"


def make_team(api, actor="pix4d-owner", tid="field", **body):
    response = api.post(TEAMS, {"id": tid, "name": tid.title(), **body}, actor=actor)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_team_role_is_held_by_its_members(api, demo):
    assert not api.allowed("pix4d-member", "invite_members", {"type": "Organization", "id": ORG})
    make_team(api, role="manager")
    added = api.put(f"{TEAMS}/field/members/pix4d-member", {}, actor="pix4d-owner")
    assert added.status_code == 200, added.get_json()
    assert api.allowed("pix4d-member", "invite_members", {"type": "Organization", "id": ORG})
    # explain names the team that gave the role
    body = {"actor": {"id": "pix4d-member"}, "action": "invite_members", "explain": True}
    body["resource"] = {"type": "Organization", "id": ORG}
    held = api.post("/v1/authorize", body).get_json()["explanation"]["held"]
    assert {
        "type": "Organization",
        "id": ORG,
        "role": "manager",
        "source": "team",
        "team": "field",
    } in held
    # out of the team, back to a Member
    assert api.delete(f"{TEAMS}/field/members/pix4d-member", actor="pix4d-owner").status_code == 204
    assert not api.allowed("pix4d-member", "invite_members", {"type": "Organization", "id": ORG})


def test_a_team_grant_reaches_down_the_tree_and_into_lists(api, demo):
    assert not api.allowed("pix4d-member", "upload", BRIDGE)
    make_team(api)
    api.put(f"{TEAMS}/field/members/pix4d-member", {}, actor="pix4d-owner")
    given = api.put(
        f"{TEAMS}/field/grants/Folder/pix4d-survey", {"role": "editor"}, actor="pix4d-owner"
    )
    assert given.status_code == 201, given.get_json()
    assert api.allowed("pix4d-member", "upload", BRIDGE)  # a Folder grant reaches the dataset
    assert "pix4d-bridge-scan" in list_resources(api, "pix4d-member", "upload", "Dataset", ORG)
    assert "pix4d-member" in list_actors(api, "upload", BRIDGE)
    assert (
        api.delete(f"{TEAMS}/field/grants/Folder/pix4d-survey", actor="pix4d-owner").status_code
        == 204
    )
    assert not api.allowed("pix4d-member", "upload", BRIDGE)
    assert "pix4d-member" not in list_actors(api, "upload", BRIDGE)


def test_who_manages_teams_is_the_policy(api, demo):
    # pix4d: a Manager manages teams up to Manager; an Editor none (the policy's reasons)
    refused = api.post(TEAMS, {"id": "t1", "name": "T"}, actor="pix4d-editor")
    assert "may not manage teams; Owners and Managers do" in problem(refused, 403)["detail"]
    refused = api.post(TEAMS, {"id": "t2", "name": "T", "role": "owner"}, actor="pix4d-manager")
    assert problem(refused, 403)
    make_team(api, actor="pix4d-manager", tid="ops", role="manager")
    make_team(api, actor="pix4d-owner", tid="owners", role="owner")
    # a Manager may not fill a team of Owners, nor rename it
    refused = api.put(f"{TEAMS}/owners/members/pix4d-editor", {}, actor="pix4d-manager")
    assert "this team is an Owner" in problem(refused, 403)["detail"]
    refused = api.patch(f"{TEAMS}/owners", {"name": "X"}, actor="pix4d-manager")
    assert problem(refused, 403)
    # a Manager may not raise a team to Owner
    refused = api.patch(f"{TEAMS}/ops", {"role": "owner"}, actor="pix4d-manager")
    assert "not Owner" in problem(refused, 403)["detail"]
    changed = api.patch(f"{TEAMS}/ops", {"role": "editor", "name": "Ops"}, actor="pix4d-manager")
    assert changed.status_code == 200 and changed.get_json()["role"] == "editor"


def test_bad_input_names_the_field(api, demo):
    make_team(api)
    assert (
        "role"
        in problem(
            api.post(TEAMS, {"id": "x", "name": "X", "role": "boss"}, actor="pix4d-owner"), 422
        )["errors"]
    )
    assert (
        "id"
        in problem(api.post(TEAMS, {"id": "field", "name": "again"}, actor="pix4d-owner"), 409)[
            "errors"
        ]
    )
    assert (
        "id"
        in problem(api.post(TEAMS, {"id": "no spaces", "name": "X"}, actor="pix4d-owner"), 422)[
            "errors"
        ]
    )
    refused = api.put(f"{TEAMS}/field/members/up42-admin", {}, actor="pix4d-owner")
    assert "user_id" in problem(refused, 422)["errors"]
    refused = api.put(
        f"{TEAMS}/field/grants/Folder/pix4d-survey", {"role": "boss"}, actor="pix4d-owner"
    )
    assert "role" in problem(refused, 422)["errors"]
    refused = api.put(
        f"{TEAMS}/field/members/pix4d-member", {"expires_at": "yesterday"}, actor="pix4d-owner"
    )
    assert "expires_at" in problem(refused, 422)["errors"]
    assert api.get(f"{TEAMS}/nope", actor="pix4d-owner").status_code == 404
    assert (
        api.get("/v1/orgs/org-up42/teams/field", actor="up42-admin").status_code == 404
    )  # org walls


def test_changes_are_audited_as_events_and_removal_leaves_teams(api, demo):
    make_team(api, role="reader")
    api.put(f"{TEAMS}/field/members/pix4d-member", {}, actor="pix4d-owner")
    feed = api.get("/v1/events", query_string={"org": ORG}).get_json()["items"]
    types = [e["type"] for e in feed]
    assert "team.created" in types and "team.member_added" in types
    listed = api.get(TEAMS, actor="pix4d-owner").get_json()["items"]
    assert [t["id"] for t in listed] == ["field"]
    assert api.get(TEAMS, actor="pix4d-member").status_code == 403  # view_members
    assert (
        api.delete(f"/v1/orgs/{ORG}/members/pix4d-member", actor="pix4d-owner").status_code == 204
    )
    with db.connection_context():
        assert not TeamMember.select().where(TeamMember.user == "pix4d-member").exists()
    assert api.delete(f"{TEAMS}/field", actor="pix4d-owner").status_code == 204
    assert api.get(f"{TEAMS}/field", actor="pix4d-owner").status_code == 404


def test_a_preview_answers_what_the_write_would(api, demo):
    make_team(api, tid="owners", role="owner")
    stored = {"type": "Team", "org": ORG, "id": "owners", "attributes": {"role": "member"}}
    # the stored team's role is read (an Owner's), whatever the caller says it is
    assert not api.allowed("pix4d-manager", "manage", stored)
    assert api.allowed("pix4d-owner", "manage", stored)
    new = {"type": "Team", "org": ORG, "id": "new", "attributes": {"role": "manager"}}
    assert api.allowed("pix4d-manager", "manage", new)  # creating it, as a Manager
    assert not api.allowed("pix4d-manager", "manage", {**new, "attributes": {"role": "owner"}})
    give = {"type": "Team", "org": ORG, "id": "owners", "attributes": {"to_role": "reader"}}
    assert api.allowed("pix4d-owner", "assign_role", give)
    assert not api.allowed("pix4d-manager", "assign_role", give)
    missing = {"type": "Team", "org": ORG, "id": "nope", "attributes": {"to_role": "reader"}}
    assert not api.allowed("pix4d-owner", "assign_role", missing)
