"""A resource is named by (organization, type, id): what one organization registers never
changes another's decisions, lists, explanations or registrations (docs/API.md, version 1.2).

The squat: a new user makes their own pix4d org and registers the id of a dataset of the
demo org (``pix4d-bridge-scan``), and of one the demo org has not registered yet. Before
version 1.2 the registered resource won whatever ``org`` the check named: the victim's owner
was denied ``delete``, the squatter allowed, the actors list named the squatter, the
explanation showed the squatter's chain, and the victim could no longer register the id.
"""

import pytest

from models import Resource, db

VICTIM, OWNER, MEMBER = "org-pix4d", "pix4d-owner", "pix4d-member"
SQUATTER = "u-mallory"
DATASET = {"type": "Dataset", "id": "pix4d-bridge-scan"}


def check(api, actor, action, resource, **extra):
    body = {"actor": {"id": actor}, "action": action, "resource": resource, **extra}
    response = api.post("/v1/authorize", body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def squat(api, demo):
    """The squatter's own pix4d org, holding the victim's dataset id and a new one."""
    api.put(f"/v1/users/{SQUATTER}", {"email": "m@evil.example", "name": "M"})
    made = api.post("/v1/orgs", {"name": "Squat", "style": "pix4d"}, actor=SQUATTER)
    assert made.status_code == 201, made.get_json()
    org = made.get_json()["id"]
    base = f"/v1/orgs/{org}/resources"
    assert api.put(f"{base}/Folder/pix4d-survey", {}, actor=SQUATTER).status_code == 201
    for rid in ("pix4d-bridge-scan", "victim-next"):
        body = {"parent": {"type": "Folder", "id": "pix4d-survey"}}
        put = api.put(f"{base}/Dataset/{rid}", body, actor=SQUATTER)
        assert put.status_code == 201, put.get_json()
    return org


def test_a_check_naming_its_org_is_decided_on_that_orgs_facts_only(api, squat):
    mine = {**DATASET, "org": VICTIM}
    assert check(api, OWNER, "delete", mine)["allowed"] is True
    assert check(api, SQUATTER, "delete", mine)["allowed"] is False
    assert check(api, SQUATTER, "view", mine)["allowed"] is False
    # and the squatter's own copy is theirs alone
    theirs = {**DATASET, "org": squat}
    assert check(api, SQUATTER, "delete", theirs)["allowed"] is True
    assert check(api, OWNER, "view", theirs)["allowed"] is False
    # repeated (answered from the worker's known answers): the same
    for _ in range(2):
        assert check(api, OWNER, "delete", mine)["allowed"] is True
        assert check(api, SQUATTER, "delete", mine)["allowed"] is False


def test_the_explanation_shows_the_named_orgs_chain(api, squat):
    explained = check(api, MEMBER, "view", {**DATASET, "org": VICTIM}, explain=True)
    chain = explained["explanation"]["resource_chain"]
    assert chain[0] == {"type": "Organization", "id": VICTIM}
    assert chain[1:] == [
        {"type": "Folder", "id": "pix4d-survey"},
        {"type": "Folder", "id": "pix4d-survey-2026"},
        {"type": "Dataset", "id": "pix4d-bridge-scan"},
    ]


def test_the_actors_list_names_only_the_named_orgs_users(api, squat):
    body = {"action": "delete", "resource": {**DATASET, "org": VICTIM}}
    listed = api.post("/v1/authorize/actors", body)
    assert listed.status_code == 200, listed.get_json()
    ids = {item["id"] for item in listed.get_json()["items"]}
    assert OWNER in ids and SQUATTER not in ids
    theirs = api.post("/v1/authorize/actors", {**body, "resource": {**DATASET, "org": squat}})
    assert {item["id"] for item in theirs.get_json()["items"]} == {SQUATTER}


def test_actions_and_lists_stay_in_the_named_org(api, squat):
    acts = api.post(
        "/v1/authorize/actions",
        {"actor": {"id": OWNER}, "resource": {**DATASET, "org": VICTIM}},
    ).get_json()["actions"]
    assert "delete" in acts
    none = api.post(
        "/v1/authorize/actions",
        {"actor": {"id": SQUATTER}, "resource": {**DATASET, "org": VICTIM}},
    ).get_json()["actions"]
    assert none == []
    listed = api.post(
        "/v1/authorize/resources",
        {"actor": {"id": SQUATTER}, "action": "view", "type": "Dataset", "org": VICTIM},
    )
    assert listed.status_code == 200 and listed.get_json()["items"] == []


def test_the_victim_registers_an_id_another_org_took_first(api, squat):
    base = f"/v1/orgs/{VICTIM}/resources"
    put = api.put(f"{base}/Dataset/victim-next", {}, actor=OWNER)
    assert put.status_code == 201, put.get_json()
    got = api.get(f"{base}/Dataset/victim-next", actor=OWNER)
    assert got.status_code == 200 and got.get_json()["org"] == VICTIM
    with db.connection_context():
        orgs = {r.org_id for r in Resource.select().where(Resource.rid == "victim-next")}
    assert orgs == {VICTIM, squat}
    # the squatter cannot read or delete the victim's row through their own id
    other = f"/v1/orgs/{VICTIM}/resources/Dataset/victim-next"
    assert api.delete(other, actor=SQUATTER).status_code in (403, 404)
    assert api.get(f"{base}/Dataset/victim-next", actor=OWNER).status_code == 200


def test_a_check_naming_no_org_of_an_id_two_orgs_registered_is_a_422(api, squat):
    body = {"actor": {"id": OWNER}, "action": "view", "resource": DATASET}
    for _ in range(2):  # the fast path declines it; the answer is the route's problem
        r = api.post("/v1/authorize", body)
        assert r.status_code == 422, r.get_json()
        assert r.content_type == "application/problem+json"
        assert "resource.org" in r.get_json()["errors"]
    batch = api.post(
        "/v1/authorize/batch",
        {"checks": [{**body, "resource": {**DATASET, "org": VICTIM}}, body]},
    )
    assert batch.status_code == 422 and "checks.1.resource.org" in batch.get_json()["errors"]
    acts = api.post("/v1/authorize/actions", {"actor": {"id": OWNER}, "resource": DATASET})
    assert acts.status_code == 422 and "resource.org" in acts.get_json()["errors"]
    actors = api.post("/v1/authorize/actors", {"action": "view", "resource": DATASET})
    assert actors.status_code == 422 and "resource.org" in actors.get_json()["errors"]


def test_an_id_only_one_org_registered_still_resolves_without_the_org(api, demo):
    quarry = {"type": "Dataset", "id": "pix4d-quarry-march"}
    assert check(api, OWNER, "delete", quarry)["allowed"] is True
    # a second registration elsewhere makes the same question ambiguous at once, even after
    # the answer was known
    api.put(f"/v1/users/{SQUATTER}", {"email": "m@evil.example", "name": "M"})
    org = api.post("/v1/orgs", {"name": "S", "style": "pix4d"}, actor=SQUATTER).get_json()["id"]
    put = api.put(f"/v1/orgs/{org}/resources/Dataset/pix4d-quarry-march", {}, actor=SQUATTER)
    assert put.status_code == 201, put.get_json()
    body = {"actor": {"id": OWNER}, "action": "delete", "resource": quarry}
    assert api.post("/v1/authorize", body).status_code == 422


def test_require_resource_org_makes_the_org_required(app, api, demo):
    from routes import core

    core.configure({"REQUIRE_RESOURCE_ORG": True})
    try:
        body = {"actor": {"id": OWNER}, "action": "view", "resource": DATASET}
        r = api.post("/v1/authorize", body)
        assert r.status_code == 422 and "resource.org" in r.get_json()["errors"]
        body["resource"] = {**DATASET, "org": VICTIM}
        assert api.post("/v1/authorize", body).get_json()["allowed"] is True
        org = {"type": "Organization", "id": VICTIM}  # an organization names itself
        assert check(api, OWNER, "view", org)["allowed"] is True
    finally:
        core.configure(app.config)


def test_require_resource_org_is_a_setting(monkeypatch, tmp_path):
    from ops import config

    monkeypatch.setenv("ORGAUTHZ_REQUIRE_RESOURCE_ORG", "true")
    assert config.load(tmp_path)["REQUIRE_RESOURCE_ORG"] is True
    monkeypatch.delenv("ORGAUTHZ_REQUIRE_RESOURCE_ORG")
    assert config.load(tmp_path)["REQUIRE_RESOURCE_ORG"] is False
