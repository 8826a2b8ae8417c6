"""Where an organization's own role (docs/API.md 1.3, "Custom roles") is held or offered:
what deleting it would leave without a role. The definitions themselves are a column of the
organization (``Organization.custom_roles``)."""

from typing import Any

from models.domains import Domain
from models.join_requests import JoinRequest
from models.orgs import Invitation, Membership
from models.resources import Grant
from models.teams import Team, TeamGrant


def uses(org_id: str, key: str) -> dict[str, int]:
    """How many rows of ``org_id`` hold or offer the role ``key``, by kind: memberships,
    pending invitations and requests to join, grants, teams, team grants, and verified
    domains that give it on joining. Lapsed rows count too: until the expiry job removes
    them they are still rows that name the role."""
    counts: dict[str, Any] = {
        "memberships": Membership.select().where(
            (Membership.org == org_id) & (Membership.role == key)
        ),
        "invitations": Invitation.select().where(
            (Invitation.org == org_id) & (Invitation.role == key) & (Invitation.status == "pending")
        ),
        "join_requests": JoinRequest.select().where(
            (JoinRequest.org == org_id)
            & (JoinRequest.role == key)
            & (JoinRequest.status == "pending")
        ),
        "grants": Grant.select().where((Grant.org == org_id) & (Grant.role == key)),
        "teams": Team.select().where((Team.org == org_id) & (Team.role == key)),
        "team_grants": TeamGrant.select().where(
            (TeamGrant.org == org_id) & (TeamGrant.role == key)
        ),
        "domains": Domain.select().where((Domain.org == org_id) & (Domain.join_role == key)),
    }
    return {where: query.count() for where, query in counts.items()}
