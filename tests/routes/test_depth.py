"""A 200-deep chain of folders with every other level owned answers correctly, for the
stock Pix4D policy (which never reads ownership) and for one that does (an owner is an
editor of its folder, and roles flow down), without Polar ever walking 200 levels
(authz/view.py ``walk``); deeper than MAX_DEPTH is a 422 naming ``parent``."""

import shutil

import pytest

from access.targets import MAX_DEPTH

BASE = "/v1/orgs/org-pix4d/resources"
DEPTH = 200
OWNER_IS_EDITOR = """
# test addition: the owner of a folder is an editor of it (so ownership matters, deep down)
has_role(actor: User, "editor", folder: Folder) if actor.owns(folder);
"""


def chain(api, depth: int = DEPTH, owned_by: str = "pix4d-member", bottom: bool = True) -> list:
    """Folders d0 .. d{depth-1}, each in the one before, every odd one owned; a dataset at
    the bottom. Returns the folder ids."""
    parent, ids = None, []
    for level in range(depth):
        body = {"parent": {"type": "Folder", "id": parent}} if parent else {}
        if level % 2:
            body["owner"] = owned_by
        rid = f"d{level}"
        response = api.put(f"{BASE}/Folder/{rid}", body, actor="pix4d-owner")
        assert response.status_code == 201, response.get_json()
        parent = rid
        ids.append(rid)
    if bottom:
        put = api.put(
            f"{BASE}/Dataset/bottom",
            {"parent": {"type": "Folder", "id": parent}},
            actor="pix4d-owner",
        )
        assert put.status_code == 201, put.get_json()
    return ids


def grant(api, folder: str, user: str, role: str) -> str:
    response = api.put(f"{BASE}/Folder/{folder}/grants/{user}", {"role": role}, actor="pix4d-owner")
    assert response.status_code == 201, response.get_json()
    return response.headers["X-Consistency-Token"]


def fresh(written: str) -> dict:
    return {"consistency": {"mode": "at_least_as_fresh", "token": written}}


BOTTOM = {"type": "Dataset", "id": "bottom"}


def test_a_200_deep_chain_with_every_other_level_owned(api, demo):
    ids = chain(api)
    # the member owns every other level, but the Pix4D policy never reads ownership
    assert api.allowed("pix4d-member", "view", BOTTOM) is False
    assert api.allowed("pix4d-reader", "view", BOTTOM) is True
    assert api.allowed("pix4d-reader", "upload", BOTTOM) is False
    assert api.allowed("pix4d-editor", "upload", BOTTOM) is True
    written = grant(api, ids[0], "pix4d-member", "reader")  # at the top: flows 200 levels
    assert api.allowed("pix4d-member", "view", BOTTOM, **fresh(written)) is True
    assert api.allowed("pix4d-member", "upload", BOTTOM, **fresh(written)) is False
    written = grant(api, ids[100], "pix4d-member", "editor")  # half way down
    assert api.allowed("pix4d-member", "upload", BOTTOM, **fresh(written)) is True
    above = {"type": "Folder", "id": ids[99]}
    assert api.allowed("pix4d-member", "upload", above, **fresh(written)) is False
    assert api.allowed("pix4d-member", "view", above, **fresh(written)) is True
    actions = api.post(
        "/v1/authorize/actions", {"actor": {"id": "pix4d-member"}, "resource": BOTTOM}
    ).get_json()["actions"]
    assert {"view", "upload", "edit"} <= set(actions)
    explained = api.post(
        "/v1/authorize",
        {"actor": {"id": "pix4d-member"}, "action": "upload", "resource": BOTTOM, "explain": True},
    ).get_json()
    assert explained["allowed"] is True
    assert len(explained["explanation"]["resource_chain"]) == DEPTH + 2
    assert len(explained["explanation"]["facts_shown"]) <= 3  # what Polar was shown


@pytest.fixture
def owner_reading_app(app, tmp_path):
    """The app with the Pix4D policy plus a rule that reads ownership on folders."""
    from app import create_app
    from authz.engine import POLICY_DIR

    policies = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, policies)
    pix4d = policies / "pix4d.polar"
    pix4d.write_text(pix4d.read_text() + OWNER_IS_EDITOR)
    return create_app({**app.config, "POLICY_DIR": str(policies)})


def test_a_policy_that_reads_ownership_deep_down(owner_reading_app, api, demo):
    from tests.conftest import Api

    engine = owner_reading_app.extensions["orgauthz.policy"].current.engine("pix4d")
    assert engine.reads_ownership
    owned = Api(owner_reading_app.test_client(), api.key)
    ids = chain(owned, owned_by="pix4d-member")
    # d1 is the member's: an editor there, and below, to the bottom
    assert owned.allowed("pix4d-member", "upload", BOTTOM) is True
    assert owned.allowed("pix4d-member", "upload", {"type": "Folder", "id": ids[1]}) is True
    assert owned.allowed("pix4d-member", "upload", {"type": "Folder", "id": ids[0]}) is False
    # someone who owns nothing and holds nothing: nothing
    assert owned.allowed("pix4d-reader", "upload", BOTTOM) is False


def test_deeper_than_the_configured_maximum_is_422(api, demo):
    ids = chain(api, MAX_DEPTH, bottom=False)  # depths 0 .. MAX_DEPTH - 1
    response = api.put(
        f"{BASE}/Folder/too-deep",
        {"parent": {"type": "Folder", "id": ids[-1]}},
        actor="pix4d-owner",
    )
    assert response.status_code == 422 and "parent" in response.get_json()["errors"]
    assert api.allowed("pix4d-editor", "upload", {"type": "Folder", "id": ids[-1]}) is True
