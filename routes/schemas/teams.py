"""The request schemas of teams (``/v1/orgs/{org_id}/teams``) and of expiring access: a time
at which access lapses is ``expires_at``, an ISO 8601 time (UTC when it names no zone)."""

import datetime

from marshmallow import Schema, fields, validate

from access.shapes import TeamGrantOut, TeamMemberOut, TeamOut
from routes.schemas.fields import Text, identifier, role
from routes.schemas.inputs import PageArgs

TEAM_ID = validate.Regexp(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", error="1 to 64 of A-Z a-z 0-9 _ . - "
)


def expires_at() -> fields.NaiveDateTime:
    """When access lapses (stored as naive UTC); absent or null: never."""
    return fields.NaiveDateTime(load_default=None, allow_none=True, timezone=datetime.UTC)


class TeamCreate(Schema):
    """``POST /v1/orgs/{org_id}/teams``."""

    id = Text(required=True, validate=[validate.Length(min=1, max=64), TEAM_ID])
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    role = role(load_default=None, allow_none=True)


class TeamUpdate(Schema):
    """``PATCH /v1/orgs/{org_id}/teams/{team_id}``: a new name, a new org role (null: none)."""

    name = Text(validate=validate.Length(min=1, max=200))
    role = role(allow_none=True)


class TeamMemberPut(Schema):
    """``PUT /v1/orgs/{org_id}/teams/{team_id}/members/{user_id}``."""

    expires_at = expires_at()


class TeamGrantPut(Schema):
    """``PUT /v1/orgs/{org_id}/teams/{team_id}/grants/{type}/{id}``."""

    role = role(required=True)
    expires_at = expires_at()


class TeamListArgs(PageArgs):
    """``GET /v1/orgs/{org_id}/teams?limit=&cursor=``."""


class TeamDetailOut(TeamOut):
    """``GET /v1/orgs/{org_id}/teams/{team_id}``: the team, its live members (first 500) and
    its live roles on resources."""

    members = fields.List(fields.Nested(TeamMemberOut), required=True)
    grants = fields.List(fields.Nested(TeamGrantOut), required=True)


class TeamPage(Schema):
    items = fields.List(fields.Nested(TeamOut), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


__all__ = [
    "TeamDetailOut",
    "TeamGrantOut",
    "TeamMemberOut",
    "TeamOut",
    "TeamPage",
    "TeamCreate",
    "TeamGrantPut",
    "TeamListArgs",
    "TeamMemberPut",
    "TeamUpdate",
    "identifier",
]
