"""An identity provider's day, as Okta or Entra ID send it: users pushed (one already a
member, linked by email), looked up by filter, renamed and re-pushed, one deactivated, one
deleted, one reactivated; at the end the organization has exactly the members expected,
with their roles, and the audit trail names each change. On both databases."""

from models import Membership, db
from tests.scim.conftest import patch_body, user_body


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
