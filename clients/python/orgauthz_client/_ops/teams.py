"""Teams (contract 1.3): an organization's groups of members, which hold an org role and
roles on resources for their members."""

from __future__ import annotations

from typing import Any

from .._core import Call, Core
from ..types import Team, TeamDetail, TeamGrant, TeamMember
from ._base import UNSET, Op, Paged, _seg


def _teams(org_id: str) -> str:
    return f"/v1/orgs/{_seg(org_id)}/teams"


def list_teams(
    c: Core, org_id: str, *, actor: str | None = None, page_size: int | None = None
) -> Paged[Team]:
    """The organization's teams by id."""
    call = Call("GET", _teams(org_id), params={"limit": page_size}, actor=c._actor(actor))
    return Paged(call, Team.from_json)


def create_team(
    c: Core,
    org_id: str,
    team_id: str,
    name: str,
    role: str | None = None,
    *,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[Team]:
    """Create a team, optionally holding the org role ``role``."""
    reply = yield Call(
        "POST",
        _teams(org_id),
        json={"id": team_id, "name": name, "role": role},
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return Team.from_json(reply.body)


def get_team(c: Core, org_id: str, team_id: str, *, actor: str | None = None) -> Op[TeamDetail]:
    """A team with its live members and roles on resources."""
    reply = yield Call("GET", f"{_teams(org_id)}/{_seg(team_id)}", actor=c._actor(actor))
    return TeamDetail.from_json(reply.body)


def update_team(
    c: Core,
    org_id: str,
    team_id: str,
    *,
    name: str | None = None,
    role: Any = UNSET,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[Team]:
    """Rename a team and/or change its org role (``None`` takes it back)."""
    body: dict[str, Any] = {} if name is None else {"name": name}
    if role is not UNSET:
        body["role"] = role
    reply = yield Call(
        "PATCH",
        f"{_teams(org_id)}/{_seg(team_id)}",
        json=body,
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return Team.from_json(reply.body)


def delete_team(
    c: Core,
    org_id: str,
    team_id: str,
    *,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[None]:
    yield Call(
        "DELETE",
        f"{_teams(org_id)}/{_seg(team_id)}",
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return None


def add_team_member(
    c: Core,
    org_id: str,
    team_id: str,
    user_id: str,
    *,
    expires_at: str | None = None,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[TeamMember]:
    """Put a member of the org in a team, until ``expires_at`` (ISO 8601) when given."""
    reply = yield Call(
        "PUT",
        f"{_teams(org_id)}/{_seg(team_id)}/members/{_seg(user_id)}",
        json={"expires_at": expires_at},
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return TeamMember.from_json(reply.body)


def remove_team_member(
    c: Core,
    org_id: str,
    team_id: str,
    user_id: str,
    *,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[None]:
    yield Call(
        "DELETE",
        f"{_teams(org_id)}/{_seg(team_id)}/members/{_seg(user_id)}",
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return None


def grant_team(
    c: Core,
    org_id: str,
    team_id: str,
    type: str,
    resource_id: str,
    role: str,
    *,
    expires_at: str | None = None,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[TeamGrant]:
    """Give a team a role on one resource (its members hold it), until ``expires_at``."""
    reply = yield Call(
        "PUT",
        f"{_teams(org_id)}/{_seg(team_id)}/grants/{_seg(type)}/{_seg(resource_id)}",
        json={"role": role, "expires_at": expires_at},
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return TeamGrant.from_json(reply.body)


def revoke_team(
    c: Core,
    org_id: str,
    team_id: str,
    type: str,
    resource_id: str,
    *,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[None]:
    yield Call(
        "DELETE",
        f"{_teams(org_id)}/{_seg(team_id)}/grants/{_seg(type)}/{_seg(resource_id)}",
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return None
