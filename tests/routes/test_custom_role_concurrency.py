"""Roles an organization defines, under concurrency, on both databases (the suite's
PostgreSQL run included): deleting a role races with handing it out, 30 times. Both lock the
organization's row first and read after it (the role's definition lives on that row), so
either the delete wins and the handing out is a 422 (no such role), or the handing out wins
and the delete is a 409 (in use): never a member, team or grant left holding a role that no
longer exists."""

from models import Grant, Membership, Organization, Resource, Team, db
from tests.support import add_user, race

ROUNDS = 30
CREW = {"name": "Crew", "permissions": [["Dataset", "view"], ["Organization", "view"]]}


def setup_org(org_id: str) -> None:
    with db.connection_context():
        Organization.create(
            id=org_id,
            name="Race",
            style="pix4d",
            created_by="ann",
            custom_roles={"custom:crew": CREW},
        )
        Membership.create(user="ann", org=org_id, role="owner")
        Membership.create(user="cy", org=org_id, role="member")
        Team.create(org=org_id, tid="field", name="Field")
        Resource.create(org=org_id, type="Folder", rid="f")


def dangling(org_id: str) -> list:
    """Rows of ``org_id`` that name custom:crew although the org no longer defines it."""
    with db.connection_context():
        if "custom:crew" in (Organization.find(org_id).custom_roles or {}):
            return []
        found = [
            m.user_id
            for m in Membership.select().where(Membership.org == org_id)
            if m.role == "custom:crew"
        ]
        found += [t.tid for t in Team.select().where(Team.org == org_id) if t.role == "custom:crew"]
        found += [
            g.id for g in Grant.select().where(Grant.org == org_id) if g.role == "custom:crew"
        ]
        return found


def test_a_role_is_never_deleted_from_under_its_holders(api, app):
    for uid in ("ann", "cy"):
        add_user(api, uid)
    seen = set()
    writes = [
        ("PUT", "/members/cy", {"role": "custom:crew"}),
        ("PATCH", "/teams/field", {"role": "custom:crew"}),
        ("PUT", "/resources/Folder/f/grants/cy", {"role": "custom:crew"}),
    ]
    for round_ in range(ROUNDS):
        org_id = f"org-role-race-{round_}"
        setup_org(org_id)
        method, path, body = writes[round_ % len(writes)]
        calls = [
            ("DELETE", f"/v1/orgs/{org_id}/roles/custom:crew", None, "ann"),
            (method, f"/v1/orgs/{org_id}{path}", body, "ann"),
        ]
        results = race(app, api.key, calls)
        assert results in ([204, 422], [409, 200], [409, 201]), (round_, results)
        assert dangling(org_id) == [], (round_, results)
        seen.add(results[0])
    assert seen  # every round ended in one of the two serial orders
