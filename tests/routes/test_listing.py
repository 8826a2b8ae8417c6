"""POST /v1/authorize/resources and /v1/authorize/actors against the demo data."""

import pytest

from models import Membership, db


def resources(api, actor, action, type_, org, limit=None):
    """Every page of the list, following next_cursor."""
    ids, cursor = [], None
    while True:
        body = {"actor": {"id": actor}, "action": action, "type": type_, "org": org}
        if limit:
            body["limit"] = limit
        if cursor:
            body["cursor"] = cursor
        r = api.post("/v1/authorize/resources", body)
        assert r.status_code == 200, r.get_json()
        ids += [i["id"] for i in r.get_json()["items"]]
        cursor = r.get_json()["next_cursor"]
        if cursor is None:
            return ids


def actors(api, action, resource, limit=None):
    ids, cursor = [], None
    while True:
        body = {"action": action, "resource": resource}
        if limit:
            body["limit"] = limit
        if cursor:
            body["cursor"] = cursor
        r = api.post("/v1/authorize/actors", body)
        assert r.status_code == 200, r.get_json()
        ids += [i["id"] for i in r.get_json()["items"]]
        cursor = r.get_json()["next_cursor"]
        if cursor is None:
            return ids


def add_asset(api, rid, owner, workspace="up42-ws-member"):
    r = api.put(
        f"/v1/orgs/org-up42/resources/Asset/{rid}",
        {"parent": {"type": "Workspace", "id": workspace}, "owner": owner},
        actor="up42-admin",
    )
    assert r.status_code == 201, r.get_json()


def test_up42_member_sees_other_users_assets(api, demo):
    # UP42 "User management" table: "See storage assets of other account users: Member yes"
    add_asset(api, "up42-asset-2", "up42-member")
    assert resources(api, "up42-member", "view", "Asset", "org-up42") == [
        "up42-asset-1",
        "up42-asset-2",
    ]
    # but deletes only its own (the admin's asset is not its)
    assert resources(api, "up42-member", "delete", "Asset", "org-up42") == ["up42-asset-2"]
    assert resources(api, "up42-admin", "delete", "Asset", "org-up42") == [
        "up42-asset-1",
        "up42-asset-2",
    ]


def test_respondio_member_sees_assigned_spaces_admin_sees_all(api, demo):
    all_spaces = ["respondio-my-workspace", "respondio-support"]
    assert resources(api, "respondio-member", "use", "Space", "org-respondio") == [
        "respondio-support"
    ]
    assert resources(api, "respondio-org-admin", "use", "Space", "org-respondio") == all_spaces
    assert resources(api, "respondio-user-admin", "use", "Space", "org-respondio") == []
    assert resources(api, "respondio-user-admin", "view", "Space", "org-respondio") == all_spaces


def test_pix4d_grant_on_a_folder_reaches_everything_below(api, demo):
    assert resources(api, "pix4d-member", "view", "Dataset", "org-pix4d") == ["pix4d-bridge-scan"]
    assert resources(api, "pix4d-member", "view", "Folder", "org-pix4d") == [
        "pix4d-survey",
        "pix4d-survey-2026",
    ]
    assert resources(api, "pix4d-reader", "view", "Dataset", "org-pix4d") == [
        "pix4d-bridge-scan",
        "pix4d-quarry-march",
    ]
    # License attribute kind: a reader uses the cloud license only
    assert resources(api, "pix4d-reader", "use", "License", "org-pix4d") == ["pix4d-cloud-1"]
    assert resources(api, "pix4d-editor", "use", "License", "org-pix4d") == [
        "pix4d-cloud-1",
        "pix4d-desktop-1",
    ]
    assert resources(api, "pix4d-member", "use", "License", "org-pix4d") == ["pix4d-desktop-1"]


@pytest.mark.parametrize(
    "actor, action, type_, org",
    [
        ("nobody", "view", "Dataset", "org-pix4d"),
        ("pix4d-owner", "fly", "Dataset", "org-pix4d"),
        ("pix4d-owner", "view", "Spaceship", "org-pix4d"),
        ("pix4d-owner", "view", "Dataset", "org-none"),
        ("pix4d-owner", "view", "Dataset", "org-up42"),
    ],
)
def test_unknown_things_list_nothing(api, demo, actor, action, type_, org):
    assert resources(api, actor, action, type_, org) == []


def test_pages_are_stable_and_complete(api, demo):
    for i in range(23):
        r = api.put(
            f"/v1/orgs/org-pix4d/resources/Dataset/ds-{i:02d}",
            {"parent": {"type": "Folder", "id": "pix4d-survey"}},
            actor="pix4d-owner",
        )
        assert r.status_code == 201
    everything = resources(api, "pix4d-member", "view", "Dataset", "org-pix4d")
    assert len(everything) == 24 and everything == sorted(everything)
    assert resources(api, "pix4d-member", "view", "Dataset", "org-pix4d", limit=5) == everything
    first = api.post(
        "/v1/authorize/resources?limit=5",
        {"actor": {"id": "pix4d-member"}, "action": "view", "type": "Dataset", "org": "org-pix4d"},
    )
    assert len(first.get_json()["items"]) == 5 and first.get_json()["next_cursor"]
    bad = api.post(
        "/v1/authorize/resources",
        {
            "actor": {"id": "pix4d-member"},
            "action": "view",
            "type": "Dataset",
            "org": "org-pix4d",
            "limit": 501,
            "extra": 1,
        },
    )
    assert bad.status_code == 422 and {"limit", "extra"} <= set(bad.get_json()["errors"])


def test_actors_who_may_use_a_space(api, demo):
    space = {"type": "Space", "id": "respondio-support"}
    assert actors(api, "use", space) == ["respondio-member", "respondio-org-admin"]
    assert actors(api, "use", space, limit=1) == ["respondio-member", "respondio-org-admin"]
    assert actors(api, "view", space) == sorted(
        [
            "respondio-member",
            "respondio-org-admin",
            "respondio-user-admin",
            "respondio-billing-admin",
        ]
    )
    # a grant left behind without a membership is evaluated like /v1/authorize does it
    # (member removal deletes grants; this one is left on purpose)
    with db.connection_context():
        Membership.delete().where(Membership.user == "respondio-member").execute()
    left = api.allowed("respondio-member", "use", space)
    assert ("respondio-member" in actors(api, "use", space)) is left


def test_actors_follow_grants_up_the_tree_and_owners(api, demo):
    deep = {"type": "Dataset", "id": "pix4d-bridge-scan"}
    assert actors(api, "upload", deep) == ["pix4d-editor", "pix4d-manager", "pix4d-owner"]
    assert "pix4d-member" in actors(api, "view", deep)
    add_asset(api, "up42-asset-2", "up42-member")
    assert actors(api, "delete", {"type": "Asset", "id": "up42-asset-2"}) == [
        "up42-admin",
        "up42-member",
    ]
    assert actors(api, "view", {"type": "Dataset", "id": "nope"}) == []
