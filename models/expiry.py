"""The rows whose access has lapsed: memberships, grants, team memberships and team grants
past their ``expires_at``. The decision facts never read them (models/facts.py); the expiry
job (access/expiry.py) finds them here, drops them and records each once."""

import datetime
from typing import Any, NamedTuple

from models.orgs import Membership
from models.resources import Grant, Resource
from models.teams import Team, TeamGrant, TeamMember
from models.users import User


class Lapsed(NamedTuple):
    """What lapsed in one organization, each list at most the limit asked."""

    memberships: list[Membership]
    grants: list[Grant]
    team_members: list[TeamMember]
    team_grants: list[TeamGrant]


def _due(model: Any, now: datetime.datetime) -> Any:
    return model.expires_at.is_null(False) & (model.expires_at <= now)


def orgs_with_lapsed(now: datetime.datetime, limit: int) -> list[str]:
    """The organizations (at most ``limit``) with access past its time."""
    found: set[str] = set()
    for model in (Membership, Grant, TeamMember, TeamGrant):
        rows = model.select(model.org).where(_due(model, now)).distinct().limit(limit)
        found.update(r.org_id for r in rows)
    return sorted(found)[:limit]


def lapsed_in(org_id: str, now: datetime.datetime, limit: int) -> Lapsed:
    """The rows of ``org_id`` past their time, with what their records name."""

    def due(model: Any) -> Any:
        return (model.org == org_id) & _due(model, now)

    return Lapsed(
        list(Membership.select(Membership, User).join(User).where(due(Membership)).limit(limit)),
        list(Grant.select(Grant, Resource).join(Resource).where(due(Grant)).limit(limit)),
        list(TeamMember.select(TeamMember, Team).join(Team).where(due(TeamMember)).limit(limit)),
        list(
            TeamGrant.select(TeamGrant, Team, Resource)
            .join(Team)
            .switch(TeamGrant)
            .join(Resource)
            .where(due(TeamGrant))
            .limit(limit)
        ),
    )
