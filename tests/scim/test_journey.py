"""An identity provider's day, as Okta or Entra ID send it: users pushed (one already a
member, linked by email), looked up by filter, renamed and re-pushed, one deactivated, one
deleted, one reactivated; at the end the organization has exactly the members expected,
with their roles, and the audit trail names each change. On both databases."""

from models import Grant, Membership, db
from tests.scim.conftest import group_body, map_group, patch_body, user_body


def _members(org):
    with db.connection_context():
        rows = Membership.select().where(Membership.org == org)
        return {m.user_id: m.role for m in rows}


def test_an_identity_provider_day(api, directory):
    before = _members("org-pix4d")
    ids = {}
    for name in ("ada", "ben", "cy", "dee"):
        body = user_body(f"{name}@acme.example.com", external_id=f"00u{name}")
        r = directory.post("/Users", body)
        assert r.status_code == 201, r.get_json()
        ids[name] = r.get_json()["id"]
    linked = directory.post("/Users", user_body("pix4d.editor", email="editor@pix4d.example"))
    assert linked.status_code == 201, linked.get_json()

    # Okta looks a user up by userName before each push
    found = directory.get('/Users?filter=userName eq "ben@acme.example.com"').get_json()
    assert [u["id"] for u in found["Resources"]] == [ids["ben"]]

    # a rename (PUT of the whole user), a title (PATCH add), a deactivation (Entra's PATCH)
    renamed = user_body("ada@acme.example.com", external_id="00uada")
    renamed["displayName"] = "Ada L."
    assert directory.put(f"/Users/{ids['ada']}", renamed).status_code == 200
    add = {"op": "add", "path": "title", "value": "Surveyor"}
    assert directory.patch(f"/Users/{ids['ben']}", patch_body(add)).status_code == 200
    off = {"op": "Replace", "path": "active", "value": "False"}  # Entra sends strings
    r = directory.patch(f"/Users/{ids['cy']}", patch_body(off))
    assert r.status_code == 200, r.get_json()
    assert directory.delete(f"/Users/{ids['dee']}").status_code == 204
    # the linked editor is deactivated, then reactivated: back as the default role
    sid = linked.get_json()["id"]
    directory.patch(f"/Users/{sid}", patch_body({"op": "replace", "value": {"active": False}}))
    directory.patch(f"/Users/{sid}", patch_body({"op": "replace", "value": {"active": True}}))

    after = _members("org-pix4d")
    expected = dict(before)
    expected.update({"ada@acme.example.com": "member", "ben@acme.example.com": "member"})
    expected["pix4d-editor"] = "member"
    assert after == expected
    listed = directory.get("/Users?count=50").get_json()
    assert listed["totalResults"] == 4
    assert {u["userName"]: u["active"] for u in listed["Resources"]} == {
        "ada@acme.example.com": True,
        "ben@acme.example.com": True,
        "cy@acme.example.com": False,
        "pix4d.editor": True,
    }
    audit = api.get("/v1/orgs/org-pix4d/audit?limit=100", actor="pix4d-owner").get_json()
    actions = [e["action"] for e in audit["items"]]
    assert actions.count("member.add") == 4 + 1  # four new users, the editor's return
    assert actions.count("member.remove") == 3  # cy deactivated, dee deleted, the editor
    assert {e["actor"] for e in audit["items"] if e["action"].startswith("member.")} == {
        "pix4d-owner"
    }


def test_an_identity_provider_day_with_groups(app, api, directory):
    """Users and groups pushed, group membership patched, a user deactivated: the
    organization's members, its teams (with the mapped role) and grants are exactly those
    expected, and decisions follow."""
    map_group(app, "Surveyors", "editor")
    ids = {}
    for name in ("ada", "ben", "cy"):
        r = directory.post("/Users", user_body(f"{name}@acme.example.com"))
        ids[name] = r.get_json()["id"]
    who = {n: f"{n}@acme.example.com" for n in ids}
    grant = api.put(
        f"/v1/orgs/org-pix4d/resources/Folder/pix4d-survey/grants/{who['cy']}",
        {"role": "reader"},
        actor="pix4d-manager",
    )
    assert grant.status_code in (200, 201), grant.get_json()
    surveyors = directory.post("/Groups", group_body("Surveyors", ids["ada"], ids["ben"]))
    assert surveyors.status_code == 201, surveyors.get_json()
    sid = surveyors.get_json()["id"]
    guests = directory.post("/Groups", group_body("Guests", ids["cy"])).get_json()["id"]
    # Okta moves ben out of Surveyors and cy in (one PATCH), then deactivates cy
    move = patch_body(
        {"op": "remove", "path": f'members[value eq "{ids["ben"]}"]'},
        {"op": "add", "path": "members", "value": [{"value": ids["cy"]}]},
    )
    assert directory.patch(f"/Groups/{sid}", move).status_code == 200
    off = patch_body({"op": "replace", "value": {"active": False}})
    assert directory.patch(f"/Users/{ids['cy']}", off).status_code == 200

    members = _members("org-pix4d")
    assert members[who["ada"]] == members[who["ben"]] == "member" and who["cy"] not in members
    team = api.get(f"/v1/orgs/org-pix4d/teams/{sid}", actor="pix4d-owner").get_json()
    assert team["name"] == "Surveyors" and team["role"] == "editor"
    assert [m["user_id"] for m in team["members"]] == [who["ada"]]
    assert (
        api.get(f"/v1/orgs/org-pix4d/teams/{guests}", actor="pix4d-owner").get_json()["members"]
        == []
    )
    with db.connection_context():
        assert Grant.select().where(Grant.user == who["cy"]).count() == 0
    dataset = {"type": "Dataset", "id": "pix4d-bridge-scan"}
    assert api.allowed(who["ada"], "upload", dataset)  # editor through Surveyors
    assert not api.allowed(who["ben"], "upload", dataset)  # moved out
    assert not api.allowed(who["cy"], "view", dataset)  # deactivated: no longer a member
