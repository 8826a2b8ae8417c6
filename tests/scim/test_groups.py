"""SCIM Groups are teams: created, renamed, their members patched and the team deleted,
each decided by the policy as the directory's acting user; the directory's mapping gives a
group's team an org role."""

from models import ScimGroup, Team, TeamMember, db
from tests.scim.conftest import Scim, group_body, issue, map_group, patch_body, user_body


def _user(directory, name):
    r = directory.post("/Users", user_body(f"{name}@acme.example.com"))
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def _team(tid):
    with db.connection_context():
        team = Team.get_or_none(Team.tid == tid)
        if team is None:
            return None
        return team.name, team.role, set(TeamMember.user_ids(team.id))


def test_a_group_is_a_team_with_its_members(directory):
    ann, bob = _user(directory, "ann"), _user(directory, "bob")
    r = directory.post("/Groups", group_body("Surveyors", ann, external_id="g-1"))
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["displayName"] == "Surveyors" and body["externalId"] == "g-1"
    assert [m["value"] for m in body["members"]] == [ann]
    assert body["members"][0]["$ref"].endswith(f"/scim/v2/Users/{ann}")
    assert _team(body["id"]) == ("Surveyors", None, {"ann@acme.example.com"})

    gid = body["id"]
    add = {"op": "add", "path": "members", "value": [{"value": bob}]}
    assert directory.patch(f"/Groups/{gid}", patch_body(add)).status_code == 200
    assert _team(gid)[2] == {"ann@acme.example.com", "bob@acme.example.com"}
    remove = {"op": "remove", "path": f'members[value eq "{ann}"]'}
    r = directory.patch(f"/Groups/{gid}", patch_body(remove))
    assert r.status_code == 200, r.get_json()
    assert [m["value"] for m in r.get_json()["members"]] == [bob]
    rename = {"op": "replace", "path": "displayName", "value": "Field team"}
    assert directory.patch(f"/Groups/{gid}", patch_body(rename)).status_code == 200
    assert _team(gid) == ("Field team", None, {"bob@acme.example.com"})

    found = directory.get('/Groups?filter=displayName eq "field TEAM"').get_json()
    assert [g["id"] for g in found["Resources"]] == [gid]
    assert directory.get('/Groups?filter=externalId eq "g-1"').get_json()["totalResults"] == 1

    assert directory.delete(f"/Groups/{gid}").status_code == 204
    assert _team(gid) is None
    assert directory.get(f"/Groups/{gid}").status_code == 404


def test_the_mapping_gives_the_team_its_role(app, directory):
    map_group(app, "Editors", "editor")
    ann = _user(directory, "ann")
    gid = directory.post("/Groups", group_body("editors", ann)).get_json()["id"]
    assert _team(gid) == ("editors", "editor", {"ann@acme.example.com"})


def test_members_must_be_active_users_of_the_directory(app, directory):
    ann = _user(directory, "ann")
    off = patch_body({"op": "replace", "value": {"active": False}})
    directory.patch(f"/Users/{ann}", off)
    r = directory.post("/Groups", group_body("G", ann))
    assert r.status_code == 400 and r.get_json()["scimType"] == "invalidValue"
    r = directory.post("/Groups", group_body("G", "no-such-user"))
    assert r.status_code == 400
    with db.connection_context():
        assert ScimGroup.select().count() == 0 and Team.select().count() == 0


def test_display_names_are_unique_in_the_directory(directory):
    assert directory.post("/Groups", group_body("Ops")).status_code == 201
    r = directory.post("/Groups", group_body("OPS"))
    assert r.status_code == 409 and r.get_json()["scimType"] == "uniqueness"


def test_managing_the_team_is_decided_as_the_acting_user(app, demo):
    # a pix4d Editor may not manage teams: a directory acting as them makes none
    editor = Scim(app.test_client(), issue(app, acting="pix4d-editor", role="member"))
    r = editor.post("/Groups", group_body("Nope"))
    assert r.status_code == 403, r.get_json()
    assert r.get_json()["detail"].startswith("pix4d-editor may not create team")
    with db.connection_context():
        assert Team.select().count() == 0 and ScimGroup.select().count() == 0


def test_a_deactivated_user_leaves_their_teams(directory):
    ann = _user(directory, "ann")
    gid = directory.post("/Groups", group_body("Crew", ann)).get_json()["id"]
    off = patch_body({"op": "replace", "value": {"active": False}})
    assert directory.patch(f"/Users/{ann}", off).status_code == 200
    assert _team(gid)[2] == set()
    assert "members" not in directory.get(f"/Groups/{gid}").get_json()
