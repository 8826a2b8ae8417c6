"""POST /v1/authorize/resources and /v1/authorize/actors against the demo data."""

import pytest

from models import Membership, db
from tests.support import list_actors, list_resources


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
    assert list_resources(api, "up42-member", "view", "Asset", "org-up42") == [
        "up42-asset-1",
        "up42-asset-2",
    ]
    # but deletes only its own (the admin's asset is not its)
    assert list_resources(api, "up42-member", "delete", "Asset", "org-up42") == ["up42-asset-2"]
    assert list_resources(api, "up42-admin", "delete", "Asset", "org-up42") == [
        "up42-asset-1",
        "up42-asset-2",
    ]


def test_respondio_member_sees_assigned_spaces_admin_sees_all(api, demo):
    all_spaces = ["respondio-my-workspace", "respondio-support"]
    assert list_resources(api, "respondio-member", "use", "Space", "org-respondio") == [
        "respondio-support"
    ]
    assert list_resources(api, "respondio-org-admin", "use", "Space", "org-respondio") == all_spaces
    assert list_resources(api, "respondio-user-admin", "use", "Space", "org-respondio") == []
    assert (
        list_resources(api, "respondio-user-admin", "view", "Space", "org-respondio") == all_spaces
    )


def test_pix4d_grant_on_a_folder_reaches_everything_below(api, demo):
    assert list_resources(api, "pix4d-member", "view", "Dataset", "org-pix4d") == [
        "pix4d-bridge-scan"
    ]
    assert list_resources(api, "pix4d-member", "view", "Folder", "org-pix4d") == [
        "pix4d-survey",
        "pix4d-survey-2026",
    ]
    assert list_resources(api, "pix4d-reader", "view", "Dataset", "org-pix4d") == [
        "pix4d-bridge-scan",
        "pix4d-quarry-march",
    ]
    # License attribute kind: a reader uses the cloud license only
    assert list_resources(api, "pix4d-reader", "use", "License", "org-pix4d") == ["pix4d-cloud-1"]
    assert list_resources(api, "pix4d-editor", "use", "License", "org-pix4d") == [
        "pix4d-cloud-1",
        "pix4d-desktop-1",
    ]
    assert list_resources(api, "pix4d-member", "use", "License", "org-pix4d") == ["pix4d-desktop-1"]


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
    assert list_resources(api, actor, action, type_, org) == []


def test_pages_are_stable_and_complete(api, demo):
    for i in range(23):
        r = api.put(
            f"/v1/orgs/org-pix4d/resources/Dataset/ds-{i:02d}",
            {"parent": {"type": "Folder", "id": "pix4d-survey"}},
            actor="pix4d-owner",
        )
        assert r.status_code == 201
    everything = list_resources(api, "pix4d-member", "view", "Dataset", "org-pix4d")
    assert len(everything) == 24 and everything == sorted(everything)
    assert (
        list_resources(api, "pix4d-member", "view", "Dataset", "org-pix4d", limit=5) == everything
    )
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
    assert list_actors(api, "use", space) == ["respondio-member", "respondio-org-admin"]
    assert list_actors(api, "use", space, limit=1) == ["respondio-member", "respondio-org-admin"]
    assert list_actors(api, "view", space) == sorted(
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
    assert ("respondio-member" in list_actors(api, "use", space)) is left


def test_actors_follow_grants_up_the_tree_and_owners(api, demo):
    deep = {"type": "Dataset", "id": "pix4d-bridge-scan"}
    assert list_actors(api, "upload", deep) == ["pix4d-editor", "pix4d-manager", "pix4d-owner"]
    assert "pix4d-member" in list_actors(api, "view", deep)
    add_asset(api, "up42-asset-2", "up42-member")
    assert list_actors(api, "delete", {"type": "Asset", "id": "up42-asset-2"}) == [
        "up42-admin",
        "up42-member",
    ]
    assert list_actors(api, "view", {"type": "Dataset", "id": "nope"}) == []
