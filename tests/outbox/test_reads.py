"""The reads an admin screen needs, each decided by the policy: the acting user's orgs, one
member with grants, the resource tree with grants, one resource's grants, one invitation,
and the audit trail newest first with filters, each entry in words."""

from tests.support import add_user, invite, new_org, problem

PIX = "/v1/orgs/org-pix4d"


def items(response):
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_my_orgs_are_listed_with_my_role_and_paginated(api, demo):
    add_user(api, "multi")
    for style in ("pix4d", "up42"):
        new_org(api, "multi", style, name=f"Mine {style}", id=f"org-multi-{style}")
    first = api.get("/v1/orgs?limit=1", actor="multi").get_json()
    assert [o["id"] for o in first["items"]] == ["org-multi-pix4d"]
    second = api.get("/v1/orgs", actor="multi", query_string={"cursor": first["next_cursor"]})
    assert [(o["id"], o["role"]) for o in items(second)] == [("org-multi-up42", "admin")]
    assert [o["id"] for o in items(api.get("/v1/orgs", actor="pix4d-member"))] == ["org-pix4d"]
    # A closed organization allows nothing, so it is not listed.
    api.delete("/v1/orgs/org-multi-up42", actor="multi")
    assert [o["id"] for o in items(api.get("/v1/orgs", actor="multi"))] == ["org-multi-pix4d"]
    problem(api.get("/v1/orgs"), 422)  # who is asking?


def test_one_member_with_role_grants_and_last_activity(api, demo, clock):
    api.get(PIX, actor="pix4d-member")  # marks them active
    member = api.get(f"{PIX}/members/pix4d-member", actor="pix4d-manager")
    body = member.get_json()
    assert member.status_code == 200, body
    assert body["role"] == "member" and body["status"] == "active"
    assert body["last_active_at"] == clock.now.isoformat() + "Z"
    assert body["grants"] == [
        {"type": "Folder", "id": "pix4d-survey", "role": "reader"},
        {"type": "License", "id": "pix4d-desktop-1", "role": "assignee"},
    ]
    problem(api.get(f"{PIX}/members/nobody", actor="pix4d-manager"), 404)


def test_a_member_who_may_not_list_members_gets_403_with_the_reason(api, demo):
    for path in (f"{PIX}/members/pix4d-owner", f"{PIX}/members"):
        body = problem(api.get(path, actor="pix4d-member"), 403)
        assert body["detail"].startswith("pix4d-member may not view the members of org-pix4d: ")
        assert len(body["detail"]) > len("pix4d-member may not view the members of org-pix4d: ")


def test_the_resource_tree_by_parent_with_grants(api, demo):
    top = items(api.get(f"{PIX}/resources", actor="pix4d-manager"))
    # Licenses declare no ``view`` in the Pix4D policy: nobody lists them.
    assert [(r["type"], r["id"]) for r in top] == [
        ("Folder", "pix4d-survey"),
        ("Site", "pix4d-quarry"),
    ]
    assert top[0]["grants"] == [
        {
            "user_id": "pix4d-member",
            "role": "reader",
            "created_at": top[0]["grants"][0]["created_at"],
            "expires_at": None,  # a grant that never lapses (1.3)
        }
    ]
    assert all(r["parent"] is None for r in top)
    below = items(
        api.get(f"{PIX}/resources?parent_type=Folder&parent_id=pix4d-survey", actor="pix4d-manager")
    )
    assert [r["id"] for r in below] == ["pix4d-survey-2026"]
    assert below[0]["parent"] == {"type": "Folder", "id": "pix4d-survey"}
    only = items(api.get(f"{PIX}/resources?type=Site", actor="pix4d-manager"))
    assert [r["id"] for r in only] == ["pix4d-quarry"]
    # Paginated.
    page = api.get(f"{PIX}/resources?limit=1", actor="pix4d-manager").get_json()
    rest = api.get(
        f"{PIX}/resources", actor="pix4d-manager", query_string={"cursor": page["next_cursor"]}
    ).get_json()
    assert [r["id"] for r in page["items"] + rest["items"]] == [r["id"] for r in top]
    assert rest["next_cursor"] is None
    # A Member sees what is assigned to them (the policy decides each row), without grants.
    mine = items(api.get(f"{PIX}/resources", actor="pix4d-member"))
    assert [r["id"] for r in mine] == ["pix4d-survey"]
    assert all(r["grants"] is None for r in mine)
    problem(api.get(f"{PIX}/resources?parent_type=Folder", actor="pix4d-manager"), 422)
    problem(
        api.get(f"{PIX}/resources?parent_type=Folder&parent_id=nope", actor="pix4d-manager"), 404
    )
    problem(api.get(f"{PIX}/resources", actor="up42-admin"), 403)


def test_grants_of_one_resource(api, demo):
    got = items(api.get(f"{PIX}/resources/Folder/pix4d-survey/grants", actor="pix4d-manager"))
    assert [(g["user_id"], g["role"]) for g in got] == [("pix4d-member", "reader")]
    body = problem(
        api.get(f"{PIX}/resources/Folder/pix4d-survey/grants", actor="pix4d-member"), 403
    )
    assert "pix4d-member may not view who holds grants in org-pix4d" in body["detail"]
    problem(api.get(f"{PIX}/resources/Folder/nope/grants", actor="pix4d-manager"), 404)


def test_one_invitation(api, demo):
    made = invite(api, "pix4d-manager", "org-pix4d", ("one@example.com", "reader")).get_json()
    inv_id = made["items"][0]["id"]
    got = api.get(f"{PIX}/invitations/{inv_id}", actor="pix4d-owner")
    assert got.status_code == 200 and got.get_json()["email"] == "one@example.com"
    assert "token" not in got.get_json()
    problem(api.get(f"{PIX}/invitations/{inv_id}", actor="pix4d-editor"), 403)
    problem(api.get(f"{PIX}/invitations/nope", actor="pix4d-owner"), 404)
    problem(api.get(f"/v1/orgs/org-up42/invitations/{inv_id}", actor="up42-admin"), 404)


def test_audit_newest_first_with_filters_and_in_words(api, demo, clock):
    api.put(f"{PIX}/members/pix4d-editor", {"role": "manager"}, actor="pix4d-owner")
    clock.advance(hours=1)
    api.put(
        f"{PIX}/resources/Folder/pix4d-survey/grants/pix4d-reader",
        {"role": "editor"},
        actor="pix4d-manager",
    )
    clock.advance(hours=1)
    api.delete(f"{PIX}/members/pix4d-member", actor="pix4d-owner")
    newest = items(api.get(f"{PIX}/audit?order=desc", actor="pix4d-owner"))
    assert [e["action"] for e in newest] == ["member.remove", "grant.create", "member.change_role"]
    removal, grant, change = newest
    assert change["summary"] == "pix4d-owner changed pix4d-editor's role from Editor to Manager"
    assert grant["summary"] == (
        "pix4d-manager gave pix4d-reader the Editor role on Folder pix4d-survey"
    )
    assert grant["target"] == "grant:Folder/pix4d-survey/pix4d-reader"
    assert removal["summary"] == (
        "pix4d-owner removed pix4d-member (was Member); grants dropped: Reader on Folder "
        "pix4d-survey, Assignee on License pix4d-desktop-1"
    )
    assert removal["before"]["grants"] == [
        {"type": "Folder", "id": "pix4d-survey", "role": "reader"},
        {"type": "License", "id": "pix4d-desktop-1", "role": "assignee"},
    ]
    # Filters: actor, action, subject (a user: their own entries and grants to them), time.
    assert [
        e["action"] for e in items(api.get(f"{PIX}/audit?actor=pix4d-manager", actor="pix4d-owner"))
    ] == ["grant.create"]
    assert len(items(api.get(f"{PIX}/audit?action=member.change_role", actor="pix4d-owner"))) == 1
    about = items(api.get(f"{PIX}/audit?subject=user:pix4d-reader", actor="pix4d-owner"))
    assert [e["action"] for e in about] == ["grant.create"]
    about = items(api.get(f"{PIX}/audit?subject=resource:Folder/pix4d-survey", actor="pix4d-owner"))
    assert [e["action"] for e in about] == ["grant.create"]
    since = (clock.now.replace(minute=0) - __import__("datetime").timedelta(hours=1)).isoformat()
    window = items(
        api.get(f"{PIX}/audit", actor="pix4d-owner", query_string={"since": since + "Z"})
    )
    assert [e["action"] for e in window] == ["grant.create", "member.remove"]
    until = items(api.get(f"{PIX}/audit", actor="pix4d-owner", query_string={"until": since}))
    assert [e["action"] for e in until] == ["member.change_role", "grant.create"]
    # Pagination newest first.
    page = api.get(f"{PIX}/audit?order=desc&limit=2", actor="pix4d-owner").get_json()
    rest = api.get(
        f"{PIX}/audit",
        actor="pix4d-owner",
        query_string={"order": "desc", "cursor": page["next_cursor"]},
    )
    assert [e["action"] for e in page["items"] + items(rest)] == [e["action"] for e in newest]
    # No internal integer ids in what changed.
    api.put(
        f"{PIX}/resources/Folder/f-new",
        {"parent": {"type": "Folder", "id": "pix4d-survey"}},
        actor="pix4d-owner",
    )
    [made] = items(api.get(f"{PIX}/audit?order=desc&limit=1", actor="pix4d-owner"))
    assert made["after"]["parent"] == {"type": "Folder", "id": "pix4d-survey"}
    assert "path" not in made["after"]
    assert made["summary"] == "pix4d-owner created Folder f-new in Folder pix4d-survey"
    for bad in ("order=up", "subject=nothing", "since=yesterday"):
        problem(api.get(f"{PIX}/audit?{bad}", actor="pix4d-owner"), 422)
    problem(api.get(f"{PIX}/audit?order=desc", actor="pix4d-member"), 403)
