"""Teams: an organization's named groups of its members, which may hold an org role and
roles on resources (grants), as a member does.

A member's effective roles are their own and their teams': the decision facts
(models/facts.py) read both, and the policy is shown them together. Every row carries its
organization (``org``), so a change to any of them is a change to that organization's facts
(the change notices, models/migrations/m0011_teams.py) and every lookup names it.

Access may expire (``expires_at``, UTC; None: never): a team membership or a team's grant
past it is not read as a fact, and the expiry job (access/expiry.py) drops it and records
it once.
"""

import datetime
from typing import Any, NamedTuple

import peewee

from models.base import BaseModel, utcnow
from models.orgs import Organization
from models.paging import Page, keyset
from models.resources import Grant, Resource
from models.users import User


def live(field: Any, now: datetime.datetime) -> peewee.Expression:
    """Rows whose ``field`` (an ``expires_at``) is unset or later than ``now``."""
    return field.is_null() | (field > now)


class Team(BaseModel):
    """A team of an organization: its id is the org's (``eng``, ``contractors``)."""

    id: "peewee.AutoField[int]"  # the automatic primary key, never shown (``tid`` is)
    org = peewee.ForeignKeyField(Organization, backref="teams", on_delete="CASCADE")
    org_id: str
    tid = peewee.CharField(max_length=64)
    name = peewee.CharField(max_length=200)
    role = peewee.CharField(max_length=64, null=True)  # the org role the team holds
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "team"
        indexes = ((("org", "tid"), True),)

    @classmethod
    def of_org(cls, org_id: str, tid: str) -> "Team | None":
        """The team ``tid`` of ``org_id``, or None."""
        return cls.get_or_none((cls.org == org_id) & (cls.tid == tid))

    @classmethod
    def page(cls, org_id: str, limit: int, after: str | None) -> Page:
        """The org's teams by id, after ``after``."""
        return keyset(cls.select().where(cls.org == org_id), cls.tid, limit, after)

    @classmethod
    def count_in(cls, org_id: str) -> int:
        """How many teams the organization has."""
        return cls.select().where(cls.org == org_id).count()

    @classmethod
    def holding(cls, org_id: str, role: str) -> list[str]:
        """The ids of the org's teams that hold ``role``."""
        rows = cls.select(cls.tid).where((cls.org == org_id) & (cls.role == role))
        return sorted(t.tid for t in rows)


class TeamMember(BaseModel):
    """A member of an organization in one of its teams."""

    id: "peewee.AutoField[int]"
    team = peewee.ForeignKeyField(Team, backref="members", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, backref="teams", on_delete="CASCADE")
    org = peewee.ForeignKeyField(Organization, on_delete="CASCADE")
    team_id: int
    user_id: str
    org_id: str
    expires_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "team_member"
        indexes = (
            (("team", "user"), True),
            (("org", "user"), False),  # a user's teams in an org: the decision facts
            (("expires_at",), False),  # what the expiry job finds due
        )

    @classmethod
    def held(cls, team_pk: int, user_id: str) -> "TeamMember | None":
        """The user's membership of the team, or None."""
        return cls.get_or_none((cls.team == team_pk) & (cls.user == user_id))

    @classmethod
    def page(cls, team_pk: int, now: datetime.datetime, limit: int, after: str | None) -> Page:
        """The team's members (not lapsed) by user id, after ``after``."""
        query = cls.select().where((cls.team == team_pk) & live(cls.expires_at, now))
        return keyset(query, cls.user, limit, after)

    @classmethod
    def user_ids(cls, team_pk: int) -> list[str]:
        """The ids of every member of the team, lapsed or not, in order."""
        return sorted(m.user_id for m in cls.select(cls.user).where(cls.team == team_pk))

    @classmethod
    def teams_of(cls, org_id: str, user_id: str, now: datetime.datetime) -> list[str]:
        """The ids of the org's teams ``user_id`` is in, not lapsed by ``now``."""
        mine = (cls.org == org_id) & (cls.user == user_id) & live(cls.expires_at, now)
        return sorted(r.team.tid for r in cls.select(cls, Team).join(Team).where(mine))

    @classmethod
    def drop_user(cls, org_id: str, user_ids: list[str]) -> list[tuple[str, str]]:
        """Take ``user_ids`` out of every team of ``org_id`` (they leave the org); returns
        the (user id, team id) pairs dropped."""
        rows = (
            cls.select(cls.user, Team.tid)
            .join(Team)
            .where((cls.org == org_id) & cls.user.in_(user_ids))
        )
        dropped = sorted((r.user_id, r.team.tid) for r in rows)
        cls.delete().where((cls.org == org_id) & cls.user.in_(user_ids)).execute()
        return dropped


class TeamGrant(BaseModel):
    """A team's role on one resource of its organization."""

    id: "peewee.AutoField[int]"
    team = peewee.ForeignKeyField(Team, backref="grants", on_delete="CASCADE")
    resource = peewee.ForeignKeyField(Resource, backref="team_grants", on_delete="CASCADE")
    org = peewee.ForeignKeyField(Organization, on_delete="CASCADE")
    team_id: int
    resource_id: int
    org_id: str
    role = peewee.CharField(max_length=64)
    expires_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "team_grant"
        indexes = (
            (("team", "resource"), True),  # one role per team and resource
            (("resource",), False),
            (("expires_at",), False),
        )

    @classmethod
    def held(cls, team_pk: int, resource_pk: int) -> "TeamGrant | None":
        """The team's grant on the resource, or None."""
        return cls.get_or_none((cls.team == team_pk) & (cls.resource == resource_pk))

    @classmethod
    def of_team(cls, team_pk: int, now: datetime.datetime) -> list["TeamGrant"]:
        """The team's grants (not lapsed) with their resources, by resource type and id."""
        query = (
            cls.select(cls, Resource)
            .join(Resource)
            .where((cls.team == team_pk) & live(cls.expires_at, now))
        )
        return list(query.order_by(Resource.type, Resource.rid))

    @classmethod
    def any_in(cls, org_id: str) -> bool:
        """Whether a team of the org holds a role on a resource."""
        return cls.select().where(cls.org == org_id).exists()


class Provenance(NamedTuple):
    """Where a member's roles in an org come from, for an explanation: its own grants on
    some resources, and what its live teams hold (not lapsed)."""

    grants: dict  # resource pk -> its own roles there
    team_roles: list  # (team id, org role)
    team_grants: list  # (team id, resource pk, role)


def provenance(org_id: str, user_id: str, pks: list[int], now: datetime.datetime) -> Provenance:
    """Which of the member's roles on the org and on ``pks`` are its own, which its teams'."""
    own: dict[int, set[str]] = {}
    mine = (Grant.user == user_id) & Grant.resource.in_(pks or [0]) & live(Grant.expires_at, now)
    for g in Grant.select(Grant.resource, Grant.role).where(mine):
        own.setdefault(g.resource_id, set()).add(g.role)
    in_team = (
        (TeamMember.org == org_id) & (TeamMember.user == user_id) & live(TeamMember.expires_at, now)
    )
    teams = list(Team.select(Team).join(TeamMember).where(in_team))
    team_roles = sorted((t.tid, t.role) for t in teams if t.role)
    held = (
        TeamGrant.team.in_([t.id for t in teams] or [0])
        & TeamGrant.resource.in_(pks or [0])
        & live(TeamGrant.expires_at, now)
    )
    tids = {t.id: t.tid for t in teams}
    team_grants = sorted(
        (tids[g.team_id], g.resource_id, g.role) for g in TeamGrant.select().where(held)
    )
    return Provenance(own, team_roles, team_grants)


def held_through_teams(org_id: str, now: datetime.datetime) -> tuple[dict, dict]:
    """What each member of ``org_id`` holds through its live teams: ({user: org roles},
    {user: {resource pk: roles}}), for a policy diff over the live data."""
    places = list(
        TeamMember.select(TeamMember, Team)
        .join(Team)
        .where((TeamMember.org == org_id) & live(TeamMember.expires_at, now))
    )
    by_team: dict[int, list[str]] = {}
    roles: dict[str, set[str]] = {}
    for p in places:
        by_team.setdefault(p.team_id, []).append(p.user_id)
        if p.team.role:
            roles.setdefault(p.user_id, set()).add(p.team.role)
    grants: dict[str, dict[int, set[str]]] = {}
    held = (TeamGrant.org == org_id) & live(TeamGrant.expires_at, now)
    for g in TeamGrant.select().where(held):
        for user in by_team.get(g.team_id, ()):
            grants.setdefault(user, {}).setdefault(g.resource_id, set()).add(g.role)
    return roles, grants


TEAM_MODELS = [Team, TeamMember, TeamGrant]
