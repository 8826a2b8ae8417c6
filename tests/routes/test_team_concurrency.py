"""Teams under concurrency, on both databases (the suite's PostgreSQL run included): a team
change and a membership change race from two threads, 30 times each.

- A member removed from the org while a Manager puts them in a team: the place never
  outlives the membership (both lock the organization's row first, then read; the second
  sees the first's commit).
- Two Owners demoting each other while a team of theirs holds Owner: the team does not
  count as an Owner (the last-owner rule counts members' own roles), so one demotion is
  refused and the org keeps an Owner of its own.
"""

from models import Membership, Organization, Team, TeamMember, db
from tests.support import add_user, race

ROUNDS = 30


def setup_org(org_id: str, members: dict) -> None:
    with db.connection_context():
        Organization.create(id=org_id, name="Race", style="pix4d", created_by="ann")
        for user, role in members.items():
            Membership.create(user=user, org=org_id, role=role)
        team = Team.create(org=org_id, tid="crew", name="Crew", role="owner")
        TeamMember.create(team=team.id, user="ann", org=org_id)
        TeamMember.create(team=team.id, user="bob", org=org_id)


def test_a_place_in_a_team_never_outlives_the_membership(api, app):
    for uid in ("ann", "bob", "cy"):
        add_user(api, uid)
    for round_ in range(ROUNDS):
        org_id = f"org-team-race-{round_}"
        setup_org(org_id, {"ann": "owner", "bob": "manager", "cy": "member"})
        with db.connection_context():
            Team.create(org=org_id, tid="field", name="Field")
        calls = [
            ("DELETE", f"/v1/orgs/{org_id}/members/cy", None, "ann"),
            ("PUT", f"/v1/orgs/{org_id}/teams/field/members/cy", {}, "bob"),
        ]
        results = race(app, api.key, calls)
        assert results[0] == 204 and results[1] in (200, 422), results
        with db.connection_context():
            placed = TeamMember.select().where(
                (TeamMember.org == org_id) & (TeamMember.user == "cy")
            )
            assert not placed.exists(), (round_, results)


def test_a_team_of_owners_never_keeps_the_last_owner(api, app):
    for uid in ("ann", "bob"):
        add_user(api, uid)
    outcomes = set()
    for round_ in range(ROUNDS):
        org_id = f"org-owner-race-{round_}"
        setup_org(org_id, {"ann": "owner", "bob": "owner"})
        calls = [
            ("PUT", f"/v1/orgs/{org_id}/members/bob", {"role": "manager"}, "ann"),
            ("PUT", f"/v1/orgs/{org_id}/members/ann", {"role": "manager"}, "bob"),
        ]
        results = race(app, api.key, calls)
        outcomes.add(tuple(sorted(results)))
        with db.connection_context():
            owners = Membership.select().where(
                (Membership.org == org_id) & (Membership.role == "owner")
            )
            assert owners.count() == 1, (round_, results)
    assert outcomes == {(200, 403)}
