"""Access that expires, with the service's clock moved forward: a grant, a place in a team, a
team's grant and a membership each allow until their expires_at and never after, from the
cache too; lists drop them; the expiry job removes each once and records it as an event."""

from access.context import Context
from access.expiry import expire_due
from models import Grant, Membership, db
from tests.support import accept, invite, list_actors, list_resources, problem

ORG = "org-pix4d"
BRIDGE = {"type": "Dataset", "id": "pix4d-bridge-scan", "org": ORG}
GRANT = f"/v1/orgs/{ORG}/resources/Folder/pix4d-survey/grants/pix4d-member"
TEAMS = f"/v1/orgs/{ORG}/teams"
LATER = "2026-11-23T13:00:00Z"  # an hour after the test clock's start


def run_expiry(app):
    """One pass of the expiry job, as the worker runs it (the service as actor)."""
    ctx = Context(app.extensions["orgauthz.policy"].current, app.config["CLOCK"])
    with app.app_context(), db.connection_context():
        return expire_due(ctx)


def events(api, *types):
    feed = api.get("/v1/events", query_string={"org": ORG}).get_json()["items"]
    return [e for e in feed if e["type"] in types]


def test_a_grant_allows_until_it_expires_and_never_after(app, api, demo, clock):
    given = api.put(GRANT, {"role": "editor", "expires_at": LATER}, actor="pix4d-owner")
    assert given.status_code == 200 and given.get_json()["expires_at"] == "2026-11-23T13:00:00Z"
    for _ in range(2):  # the second answer would come from the worker's cache
        assert api.allowed("pix4d-member", "upload", BRIDGE)
    assert "pix4d-member" in list_actors(api, "upload", BRIDGE)
    clock.advance(minutes=59, seconds=59)
    assert api.allowed("pix4d-member", "upload", BRIDGE)
    clock.advance(seconds=1)  # at expires_at: lapsed
    assert not api.allowed("pix4d-member", "upload", BRIDGE)
    assert "pix4d-member" not in list_actors(api, "upload", BRIDGE)
    assert "pix4d-bridge-scan" not in list_resources(api, "pix4d-member", "upload", "Dataset", ORG)
    # the job removes it once, with its event
    assert run_expiry(app) >= 1 and run_expiry(app) == 0
    assert [e["subject"]["kind"] for e in events(api, "grant.expired")] == ["grant"]
    with db.connection_context():
        assert Grant.get_or_none(user="pix4d-member", role="editor") is None


def test_an_expiry_in_the_past_is_a_422_naming_the_field(api, demo):
    refused = api.put(
        GRANT, {"role": "editor", "expires_at": "2020-01-01T00:00:00Z"}, actor="pix4d-owner"
    )
    assert "expires_at" in problem(refused, 422)["errors"]
    refused = api.put(GRANT, {"role": "editor", "expires_at": "soon"}, actor="pix4d-owner")
    assert "expires_at" in problem(refused, 422)["errors"]


def test_a_place_in_a_team_and_a_team_grant_lapse(app, api, demo, clock):
    api.post(TEAMS, {"id": "crew", "name": "Crew", "role": "manager"}, actor="pix4d-owner")
    api.post(TEAMS, {"id": "field", "name": "Field"}, actor="pix4d-owner")
    api.put(f"{TEAMS}/crew/members/pix4d-member", {"expires_at": LATER}, actor="pix4d-owner")
    api.put(f"{TEAMS}/field/members/pix4d-reader", {}, actor="pix4d-owner")
    body = {"role": "editor", "expires_at": "2026-11-23T14:00:00Z"}
    assert (
        api.put(f"{TEAMS}/field/grants/Folder/pix4d-survey", body, actor="pix4d-owner").status_code
        == 201
    )
    org = {"type": "Organization", "id": ORG}
    assert api.allowed("pix4d-member", "invite_members", org)
    assert api.allowed("pix4d-reader", "upload", BRIDGE)
    clock.advance(hours=1)
    assert not api.allowed("pix4d-member", "invite_members", org)  # its place in crew lapsed
    assert api.allowed("pix4d-reader", "upload", BRIDGE)
    clock.advance(hours=1)
    assert not api.allowed("pix4d-reader", "upload", BRIDGE)  # field's grant lapsed
    run_expiry(app)
    assert len(events(api, "team.member_expired")) == 1
    assert len(events(api, "team.grant_expired")) == 1
    team = api.get(f"{TEAMS}/crew", actor="pix4d-owner").get_json()
    assert team["members"] == []


def test_an_invitation_gives_a_membership_for_some_days(app, api, demo, clock):
    sent = invite(api, "pix4d-owner", ORG, ("temp@example.com", "editor"))
    item = sent.get_json()["items"][0]
    assert item["membership_days"] is None
    body = {"invitations": [{"email": "temp@example.com", "role": "editor", "membership_days": 30}]}
    api.delete(f"/v1/orgs/{ORG}/invitations/{item['id']}", actor="pix4d-owner")
    sent = api.post(f"/v1/orgs/{ORG}/invitations", body, actor="pix4d-owner")
    assert sent.status_code == 201 and sent.get_json()["items"][0]["membership_days"] == 30
    assert accept(api, sent.get_json()["items"][0]["token"], "temp").status_code == 200
    assert api.allowed("temp", "upload", BRIDGE)
    clock.advance(days=30)
    assert not api.allowed("temp", "upload", BRIDGE)
    assert not api.allowed("temp", "view", {"type": "Organization", "id": ORG})
    run_expiry(app)
    assert [e["subject"]["id"] for e in events(api, "member.expired")] == ["temp"]
    with db.connection_context():
        assert not Membership.holds("temp", ORG)
    bad = {"invitations": [{"email": "x@example.com", "role": "editor", "membership_days": 0}]}
    refused = api.post(f"/v1/orgs/{ORG}/invitations", bad, actor="pix4d-owner")
    assert "invitations.0.membership_days" in problem(refused, 422)["errors"]


def test_an_expiring_owner_does_not_keep_the_org(api, demo, clock):
    body = {"invitations": [{"email": "o2@example.com", "role": "owner", "membership_days": 1}]}
    sent = api.post(f"/v1/orgs/{ORG}/invitations", body, actor="pix4d-owner")
    assert accept(api, sent.get_json()["items"][0]["token"], "o2").status_code == 200
    # the permanent Owner may not leave: the other Owner's membership lapses
    refused = api.delete(f"/v1/orgs/{ORG}/members/pix4d-owner", actor="pix4d-owner")
    assert "at least one Owner" in problem(refused, 403)["detail"]
