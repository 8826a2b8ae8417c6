"""SCIM 2.0 Groups (RFC 7643 section 4.2) of an organization's directory: each group is a
team of the organization (access/teams.py), its SCIM id the team's id.

Every change is one unit of work decided as the directory's acting user, with the questions
and audit entries of a team change made by hand: ``manage`` on the Team to create, rename or
delete it and to put members in or take them out, ``assign_role`` when the directory's role
mapping gives a group's team an org role (``flask scim map ORG GROUP ROLE``; applied when a
group of that name is created or renamed to it). A member is a User of the same directory
(its SCIM id), active, hence a member of the organization; the team's members the
directory did not provision are neither shown nor touched. ``displayName`` is unique in the
directory (case-insensitive).
"""

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import ValidationError
from scim2_models import Context as ScimContext
from scim2_models import (
    Group,
    GroupMember,
    InvalidValueException,
    Mutability,
    NotFoundException,
    PatchOp,
    ResponseParameters,
    UniquenessException,
)

from access import scim
from access.context import Context
from access.events import target_team
from access.orgs import conflict_is_409, declared_role, engine_for
from access.scim import Directory
from access.scim_users import check_version, etag, invalid, where_of
from access.teams import ask_assign, ask_manage
from access.uow import UnitOfWork
from authz.view import OrgRef
from models import Membership, ScimGroup, Team, TeamMember
from models.scim import team_users, users_by_scim_id

MAX_COUNT = 200  # groups per page
MAX_MEMBERS = 1000  # members one group shows (and one request may name)
FILTERABLE = {"displayname": "display_name_key", "externalid": "external_id", "id": "id"}
Location = Callable[[str], str]


class DirectoryGroupMember(GroupMember):
    """A member of a Group: ``display`` is not kept (the User's own resource names it)."""

    display: Annotated[str | None, Mutability.read_only] = None


class DirectoryGroup(Group):
    """The core Group schema; its members are Users of the directory."""

    members: list[DirectoryGroupMember] | None = None  # type: ignore[assignment]


SCHEMA = DirectoryGroup.to_schema()


def parse(payload: Any, scim_ctx: ScimContext) -> DirectoryGroup:
    try:
        group = DirectoryGroup.model_validate(payload, scim_ctx=scim_ctx)
    except ValidationError as exc:
        raise invalid(exc) from None
    if len(group.members or []) > MAX_MEMBERS:
        raise InvalidValueException(detail=f"members: at most {MAX_MEMBERS} in one request")
    return group


def as_dict(
    row: ScimGroup,
    location: Location,
    user_location: Location,
    params: ResponseParameters | None = None,
) -> dict:
    """The SCIM representation of a directory group: the team's name and its provisioned
    members (at most MAX_MEMBERS)."""
    team = Team.get_by_id(row.team_id)
    body: dict = {"schemas": [str(Group.__schema__)], "id": row.id, "displayName": team.name}
    if row.external_id:
        body["externalId"] = row.external_id
    members = team_users(team.id, row.org_id, MAX_MEMBERS)
    if members:
        body["members"] = [
            {"value": sid, "$ref": user_location(sid), "type": "User"} for sid, _, _ in members
        ]
    body["meta"] = {
        "resourceType": "Group",
        "created": row.created_at.isoformat(),
        "lastModified": row.modified_at.isoformat(),
        "location": location(row.id),
        "version": etag(row),
    }
    if params is None:
        return body
    group = DirectoryGroup.model_validate(body, scim_ctx=ScimContext.RESOURCE_QUERY_RESPONSE)
    return group.model_dump(
        scim_ctx=ScimContext.RESOURCE_QUERY_RESPONSE, response_parameters=params
    )


def found(d: Directory, scim_id: str) -> ScimGroup:
    """The directory's group ``scim_id``. Raises NotFoundException."""
    row = ScimGroup.of_org(d.org_id, scim_id)
    if row is None:
        raise NotFoundException(detail=f"no Group {scim_id!r}")
    return row


def search(
    d: Directory,
    filter_text: str | None,
    start: int,
    count: int,
    locations: tuple[Location, Location],
    params: ResponseParameters | None,
) -> dict:
    """A ListResponse of the directory's groups matching the filter (``displayName``,
    ``externalId``, ``id`` ``eq``, joined by ``and``)."""
    where = where_of(filter_text, DirectoryGroup, FILTERABLE)
    start, count = max(start, 1), min(max(count, 0), MAX_COUNT)
    rows: list[ScimGroup] = []
    total = 0
    if where.get("id", "") is not None:
        total, rows = ScimGroup.page(d.org_id, where, start, count)
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(rows),
        "Resources": [as_dict(r, *locations, params) for r in rows],
    }


# ---------------------------------------------------------------- writes
def _audit_view(row: ScimGroup, name: str) -> dict:
    return {"scim_id": row.id, "displayName": name}


def _unique_name(org_id: str, name: str, other_than: str | None) -> str:
    key = name.strip().lower()
    held = ScimGroup.named(org_id, key)
    if held is not None and held.id != other_than:
        raise UniquenessException(detail=f"a Group named {name!r} is already provisioned")
    return key


def _wanted(d: Directory, group: DirectoryGroup) -> dict[str, str]:
    """{user id: SCIM id} of the members a Group names. Raises InvalidValueException (not
    a User of this directory, or a deactivated one)."""
    scim_ids = sorted({str(m.value) for m in group.members or [] if m.value})
    users = users_by_scim_id(d.org_id, scim_ids)
    missing = [s for s in scim_ids if s not in users]
    if missing:
        raise InvalidValueException(detail=f"members: no User {', '.join(missing)} here")
    inactive = [s for s in scim_ids if not users[s].active]
    if inactive:
        raise InvalidValueException(detail=f"members: User {', '.join(inactive)} is inactive")
    return {users[s].user_id: s for s in scim_ids}


def _set_members(
    uow: UnitOfWork, d: Directory, org: OrgRef, team: Team, wanted: dict[str, str]
) -> None:
    """Make the team's provisioned members those of ``wanted``: ``manage`` on the Team for
    each change, audited as a team change."""
    now, actor = uow.ctx.now(), d.acting_user
    current = {uid for _, _, uid in team_users(team.id, org.id, MAX_MEMBERS)}
    for user_id in sorted(set(wanted) - current):
        if not Membership.holds(user_id, org.id):
            raise InvalidValueException(detail=f"members: {user_id} is not a member")
        ask_manage(uow, actor, org, team.role, f"add {user_id} to team {team.tid}")
        TeamMember.create(team=team.id, user=user_id, org=org.id, created_at=now)
        after = {"user": user_id, "expires_at": None}
        uow.audit(org.id, "team.member_add", target_team(team.tid), None, after, actor)
    for user_id in sorted(current - set(wanted)):
        ask_manage(uow, actor, org, team.role, f"take {user_id} out of team {team.tid}")
        TeamMember.delete().where(
            (TeamMember.team == team.id) & (TeamMember.user == user_id)
        ).execute()
        before = {"user": user_id}
        uow.audit(org.id, "team.member_remove", target_team(team.tid), before, None, actor)


def _mapped_role(ctx: Context, org: OrgRef, d: Directory, name: str) -> str | None:
    """The org role the directory's mapping gives a group of this name, or None."""
    role = scim.mapped_role(d.org_id, name)
    return None if role is None else declared_role(engine_for(ctx, org), role, "role_map")


def create(ctx: Context, d: Directory, payload: Any, locations: tuple[Location, Location]) -> dict:
    """Provision a group: a new team (its mapped role, if any) with the members named."""
    group = parse(payload, ScimContext.RESOURCE_CREATION_REQUEST)
    name = str(group.display_name or "").strip()[:200]
    now, actor, tid = ctx.now(), d.acting_user, str(uuid.uuid4())
    with conflict_is_409(), UnitOfWork(ctx, d.org_id) as uow:
        org = uow.org()
        key = _unique_name(d.org_id, name, None)
        wanted = _wanted(d, group)
        role = _mapped_role(ctx, org, d, name)
        ask_manage(uow, actor, org, role, f"create team {tid}")
        if role is not None:
            ask_assign(uow, actor, org, None, role, tid)
        team = Team.create(org=d.org_id, tid=tid, name=name, role=role, created_at=now)
        after = {"name": name, "role": role}
        uow.audit(d.org_id, "team.create", target_team(tid), None, after, actor)
        row = ScimGroup.create(
            id=tid,
            org=d.org_id,
            team=team.id,
            display_name_key=key,
            external_id=group.external_id,
            created_at=now,
            modified_at=now,
        )
        _set_members(uow, d, org, team, wanted)
        uow.audit(d.org_id, "scim.group_create", target_team(tid), None, _audit_view(row, name))
        scim.synced(d.org_id, now)
    return as_dict(row, *locations)


def _change(
    ctx: Context,
    d: Directory,
    scim_id: str,
    if_match: str | None,
    make: Callable[[DirectoryGroup], DirectoryGroup],
    locations: tuple[Location, Location],
) -> dict:
    """Replace or patch a group (``make`` gives the new Group from the current one)."""
    now = ctx.now()
    with conflict_is_409(), UnitOfWork(ctx, d.org_id) as uow:
        org = uow.org()
        row = found(d, scim_id)
        check_version(row, if_match)
        team = Team.get_by_id(row.team_id)
        current = parse(as_dict(row, *locations), ScimContext.RESOURCE_QUERY_RESPONSE)
        group = make(current)
        name = str(group.display_name or "").strip()[:200]
        before = _audit_view(row, team.name)
        row.display_name_key = _unique_name(d.org_id, name, row.id)
        if name != team.name:
            _rename(uow, d, org, team, name)
        _set_members(uow, d, org, team, _wanted(d, group))
        row.external_id, row.version, row.modified_at = group.external_id, row.version + 1, now
        row.save()
        uow.audit(
            d.org_id, "scim.group_update", target_team(row.id), before, _audit_view(row, name)
        )
        scim.synced(d.org_id, now)
    return as_dict(row, *locations)


def _rename(uow: UnitOfWork, d: Directory, org: OrgRef, team: Team, name: str) -> None:
    """Rename the team (``manage``), and give it the role the mapping names for its new
    name, if any (``assign_role``)."""
    actor = d.acting_user
    ask_manage(uow, actor, org, team.role, f"rename team {team.tid}")
    before, after = {"name": team.name}, {"name": name}
    role = _mapped_role(uow.ctx, org, d, name)
    if role is not None and role != team.role:
        ask_assign(uow, actor, org, team.role, role, team.tid)
        before["role"], after["role"] = team.role or "", role
        team.role = role
    team.name = name
    team.save()
    uow.audit(org.id, "team.update", target_team(team.tid), before, after, actor)


def replace(
    ctx: Context,
    d: Directory,
    scim_id: str,
    payload: Any,
    if_match: str | None,
    locations: tuple[Location, Location],
) -> dict:
    """PUT: the group as sent, its members those it names."""
    group = parse(payload, ScimContext.RESOURCE_REPLACEMENT_REQUEST)
    return _change(ctx, d, scim_id, if_match, lambda _current: group, locations)


def patch(
    ctx: Context,
    d: Directory,
    scim_id: str,
    payload: Any,
    if_match: str | None,
    locations: tuple[Location, Location],
) -> dict:
    """PATCH (members add and remove, with or without a value filter; displayName)."""
    try:
        op = PatchOp[DirectoryGroup].model_validate(
            payload, scim_ctx=ScimContext.RESOURCE_PATCH_REQUEST
        )
    except ValidationError as exc:
        raise invalid(exc) from None

    def patched(current: DirectoryGroup) -> DirectoryGroup:
        op.patch(current)
        body = current.model_dump(scim_ctx=ScimContext.RESOURCE_REPLACEMENT_REQUEST)
        return parse(body, ScimContext.RESOURCE_REPLACEMENT_REQUEST)

    return _change(ctx, d, scim_id, if_match, patched, locations)


def delete(ctx: Context, d: Directory, scim_id: str, if_match: str | None) -> None:
    """Deprovision a group: its team is deleted (``manage``), with its places and grants."""
    with UnitOfWork(ctx, d.org_id) as uow:
        org = uow.org()
        row = found(d, scim_id)
        check_version(row, if_match)
        team = Team.get_by_id(row.team_id)
        ask_manage(uow, d.acting_user, org, team.role, f"delete team {team.tid}")
        members = TeamMember.user_ids(team.id)
        before = {"name": team.name, "role": team.role, "members": members}
        view = _audit_view(row, team.name)
        team.delete_instance(recursive=True)
        uow.audit(d.org_id, "team.delete", target_team(row.id), before, None, d.acting_user)
        uow.audit(d.org_id, "scim.group_delete", target_team(row.id), view, None)
        scim.synced(d.org_id, ctx.now())
