"""Teams of an organization: create, rename, give or take back an org role, delete, add and
remove members, give and take back roles on resources.

A team's members hold its roles as their own (authz/view.py ``ActorFacts``), so each change
is decided by the policy as handing out what the team holds: ``manage`` on a Team (its
``role``) to create, rename, delete it or change who is in it, ``assign_role`` (``role``,
``to_role``) to change its org role, and ``grant``/``revoke`` on a Grant under the resource
for its roles on resources, the same rules as for a member. Every change is one unit of
work (access/uow.py): the organization's row is locked first, then the policy is asked on
the facts read after the lock, then the rows are written and audited (each audit is an
event). Team memberships and team grants may carry ``expires_at`` (access/expiry.py).
"""

import datetime

from access.context import Context
from access.decisions import require
from access.errors import Conflict, Invalid, NotFound
from access.events import target_team
from access.orgs import conflict_is_409, declared_role, engine_for, org_target
from access.refusals import Question
from access.registry import check_role, resource_or_404
from access.shapes import TEAM, TEAM_GRANT, TEAM_MEMBER, Given, iso
from access.targets import TargetBuilder
from access.uow import UnitOfWork
from authz.view import OrgRef
from models import Membership, Team, TeamGrant, TeamMember


def team_dict(team: Team) -> dict:
    """A team as the API shows it (access/shapes.py, ``TeamOut``)."""
    return TEAM.answer(Given(team, id=team.tid))


def _team(org_id: str, tid: str) -> Team:
    """The team ``tid`` of ``org_id``. Raises NotFound."""
    team = Team.of_org(org_id, tid)
    if team is None:
        raise NotFound(f"no team {tid!r} in organization {org_id!r}")
    return team


def _future(uow: UnitOfWork, expires_at: datetime.datetime | None) -> None:
    """Raises Invalid naming ``expires_at`` unless it is later than now (or None)."""
    if expires_at is not None and expires_at <= uow.ctx.now():
        raise Invalid("expires_at is not in the future", {"expires_at": ["must be in the future"]})


def ask_manage(uow: UnitOfWork, actor: str, org: OrgRef, role: str | None, what: str) -> None:
    """Ask ``manage`` on a Team holding ``role``, in ``uow`` (the one way a team change is
    asked: the API here, SCIM groups in access/scim_groups.py). Raises Forbidden."""
    target = uow.targets.management(org, "Team", {"role": role})
    uow.ask(actor, [Question("manage", target, what)])


def ask_assign(
    uow: UnitOfWork, actor: str, org: OrgRef, role: str | None, to_role: str | None, tid: str
) -> None:
    """Ask ``assign_role`` on a Team from ``role`` to ``to_role``. Raises Forbidden."""
    target = uow.targets.management(org, "Team", {"role": role, "to_role": to_role})
    what = f"give team {tid} the role {to_role}" if to_role else f"take team {tid}'s role back"
    uow.ask(actor, [Question("assign_role", target, what)])


def team_plan(
    ctx: Context, targets: TargetBuilder, org: OrgRef, action: str, tid: str, ref_attrs: dict
) -> list[Question]:
    """What a write on a team asks the policy, on the facts read now (a preview on
    /v1/authorize, access/previews.py): ``manage`` on the stored team ``tid`` (its role
    read here, whatever the caller says), or, when ``tid`` names none, on the team creating
    it would make, holding ``attributes.role`` (then also ``assign_role`` of it, as
    ``create`` asks); ``assign_role`` of ``attributes.to_role``
    (absent: none) to the stored team ``tid``. Raises NotFound (assign_role: no such team),
    Invalid (undeclared role)."""
    engine = engine_for(ctx, org)
    stored = Team.of_org(org.id, tid) if tid else None
    if stored is not None:
        role = stored.role
    elif action == "manage":
        asked = ref_attrs.get("role")
        role = declared_role(engine, asked, org=org) if isinstance(asked, str) and asked else None
    else:
        raise NotFound(f"no team {tid!r} in organization {org.id!r}")
    if action == "manage":
        target = targets.management(org, "Team", {"role": role})
        questions = [Question("manage", target, f"manage team {tid}")]
        if stored is None and role is not None:  # creating it with a role gives it one
            given = targets.management(org, "Team", {"role": None, "to_role": role})
            questions.append(Question("assign_role", given, f"give team {tid} the role {role}"))
        return questions
    to = ref_attrs.get("to_role")
    to_role = (
        declared_role(engine, to, "attributes.to_role", org) if isinstance(to, str) and to else None
    )
    target = targets.management(org, "Team", {"role": role, "to_role": to_role})
    return [Question("assign_role", target, f"give team {tid} the role {to_role}")]


# ---------------------------------------------------------------- reading
def _viewer(ctx: Context, actor: str, org_id: str) -> None:
    targets = TargetBuilder()
    what = f"view the teams of {org_id}"
    require(ctx.policy, targets, actor, "view_members", org_target(targets, org_id), what=what)


def list_page(ctx: Context, actor: str, org_id: str, limit: int, after: str | None) -> dict:
    """The org's teams by id after ``after``; action ``view_members``. Raises NotFound,
    Forbidden."""
    _viewer(ctx, actor, org_id)
    found = Team.page(org_id, limit, after)
    return {"items": [team_dict(t) for t in found.rows], "next": found.next}


def get(ctx: Context, actor: str, org_id: str, tid: str) -> dict:
    """A team with its members (first 500, live) and its roles on resources; action
    ``view_members``. Raises NotFound, Forbidden."""
    _viewer(ctx, actor, org_id)
    team = _team(org_id, tid)
    now = ctx.now()
    members = TeamMember.page(team.id, now, 500, None)
    return {
        **team_dict(team),
        "members": [TEAM_MEMBER.answer(m) for m in members.rows],
        "grants": [
            TEAM_GRANT.answer(Given(g, type=g.resource.type, id=g.resource.rid))
            for g in TeamGrant.of_team(team.id, now)
        ],
    }


# ---------------------------------------------------------------- the team itself
def create(
    ctx: Context, actor: str, org_id: str, tid: str, name: str, role: str | None = None
) -> dict:
    """Create a team (``manage``; with a role, ``assign_role`` to it too). Returns the
    team. Raises Invalid (undeclared role), Conflict (the id is taken), NotFound,
    Forbidden."""
    with UnitOfWork(ctx, org_id) as uow:
        org = uow.org()
        if role is not None:
            declared_role(engine_for(ctx, org), role, org=org)
        ask_manage(uow, actor, org, role, f"create team {tid}")
        if role is not None:
            ask_assign(uow, actor, org, None, role, tid)
        if Team.of_org(org_id, tid) is not None:
            raise Conflict(f"team {tid!r} already exists", {"id": ["already taken"]})
        with conflict_is_409():
            team = Team.create(org=org_id, tid=tid, name=name, role=role, created_at=ctx.now())
        after = {"name": name, "role": role}
        uow.audit(org_id, "team.create", target_team(tid), None, after, actor)
    return team_dict(team)


_UNSET = object()


def update(
    ctx: Context, actor: str, org_id: str, tid: str, name: str | None, role: object = _UNSET
) -> dict:
    """Rename a team (``manage``) and/or change its org role (``assign_role``; None takes
    it back). Returns the team. Raises Invalid, NotFound, Forbidden."""
    with UnitOfWork(ctx, org_id) as uow:
        org = uow.org()
        team = _team(org_id, tid)
        before: dict[str, str | None] = {}
        after: dict[str, str | None] = {}
        if name is not None and name != team.name:
            ask_manage(uow, actor, org, team.role, f"rename team {tid}")
            before["name"], after["name"] = team.name, name
            team.name = name
        if role is not _UNSET and role != team.role:
            to_role = (
                None if role is None else declared_role(engine_for(ctx, org), str(role), org=org)
            )
            ask_assign(uow, actor, org, team.role, to_role, tid)
            before["role"], after["role"] = team.role, to_role
            team.role = to_role
        if after:
            team.save()
            uow.audit(org_id, "team.update", target_team(tid), before, after, actor)
    return team_dict(team)


def delete(ctx: Context, actor: str, org_id: str, tid: str) -> None:
    """Delete a team with its memberships and grants (``manage``). Raises NotFound,
    Forbidden."""
    with UnitOfWork(ctx, org_id) as uow:
        org = uow.org()
        team = _team(org_id, tid)
        ask_manage(uow, actor, org, team.role, f"delete team {tid}")
        members = TeamMember.user_ids(team.id)
        before = {"name": team.name, "role": team.role, "members": members}
        team.delete_instance(recursive=True)
        uow.audit(org_id, "team.delete", target_team(tid), before, None, actor)


# ---------------------------------------------------------------- members
def add_member(
    ctx: Context,
    actor: str,
    org_id: str,
    tid: str,
    user_id: str,
    expires_at: datetime.datetime | None = None,
) -> dict:
    """Put a member of the org in a team, or change when their place in it lapses
    (``manage``). Returns ``{"user_id", "expires_at"}``. Raises Invalid (not a member, an
    expiry in the past), NotFound, Forbidden."""
    with UnitOfWork(ctx, org_id) as uow:
        org = uow.org()
        team = _team(org_id, tid)
        _future(uow, expires_at)
        member = Membership.find(org_id, user_id)
        if member is None or (member.expires_at is not None and member.expires_at <= ctx.now()):
            raise Invalid(
                f"{user_id!r} is not a member of organization {org_id!r}",
                {"user_id": ["not a member of the organization"]},
            )
        ask_manage(uow, actor, org, team.role, f"add {user_id} to team {tid}")
        held = TeamMember.held(team.id, user_id)
        after = {"user": user_id, "expires_at": iso(expires_at)}
        if held is None:
            TeamMember.create(
                team=team.id, user=user_id, org=org_id, expires_at=expires_at, created_at=ctx.now()
            )
            uow.audit(org_id, "team.member_add", target_team(tid), None, after, actor)
        elif held.expires_at != expires_at:
            before = {"user": user_id, "expires_at": iso(held.expires_at)}
            held.expires_at = expires_at
            held.save()
            uow.audit(org_id, "team.member_update", target_team(tid), before, after, actor)
    return {"user_id": user_id, "expires_at": iso(expires_at)}


def remove_member(ctx: Context, actor: str, org_id: str, tid: str, user_id: str) -> None:
    """Take a member out of a team (``manage``). Raises NotFound, Forbidden."""
    with UnitOfWork(ctx, org_id) as uow:
        org = uow.org()
        team = _team(org_id, tid)
        held = TeamMember.held(team.id, user_id)
        if held is None:
            raise NotFound(f"{user_id!r} is not in team {tid!r}")
        ask_manage(uow, actor, org, team.role, f"take {user_id} out of team {tid}")
        held.delete_instance()
        before = {"user": user_id}
        uow.audit(org_id, "team.member_remove", target_team(tid), before, None, actor)


# ---------------------------------------------------------------- roles on resources
def put_grant(
    ctx: Context,
    actor: str,
    org_id: str,
    tid: str,
    type_: str,
    rid: str,
    role: str,
    expires_at: datetime.datetime | None = None,
) -> tuple[dict, bool]:
    """Give a team a role on a resource (``grant`` on a Grant under it, after ``revoke``
    of a different role it holds there: the rules for a member). Returns (the grant,
    created?). Raises Invalid (undeclared role, expiry past), NotFound, Forbidden."""
    with UnitOfWork(ctx, org_id) as uow:
        org = uow.org()
        team = _team(org_id, tid)
        row = resource_or_404(org_id, type_, rid)
        check_role(engine_for(ctx, org), type_, role, org)
        _future(uow, expires_at)
        on = uow.targets.registered(org_id, type_, rid)
        existing = TeamGrant.held(team.id, row.id)
        questions = []
        what = f"on {type_} {rid}"
        if existing is not None and existing.role != role:
            revoke = uow.targets.management(org, "Grant", {"role": existing.role}, under=on)
            questions.append(
                Question("revoke", revoke, f"revoke {existing.role} {what} from {tid}")
            )
        give = uow.targets.management(org, "Grant", {"role": role}, under=on)
        questions.append(Question("grant", give, f"grant {role} {what} to team {tid}"))
        uow.ask(actor, questions)
        after = {
            "resource": {"type": type_, "id": rid},
            "role": role,
            "expires_at": iso(expires_at),
        }
        created = existing is None
        if existing is None:
            TeamGrant.create(
                team=team.id,
                resource=row.id,
                org=org_id,
                role=role,
                expires_at=expires_at,
                created_at=ctx.now(),
            )
            uow.audit(org_id, "team.grant", target_team(tid), None, after, actor)
        elif (existing.role, existing.expires_at) != (role, expires_at):
            before = {**after, "role": existing.role, "expires_at": iso(existing.expires_at)}
            existing.role, existing.expires_at = role, expires_at
            existing.save()
            uow.audit(org_id, "team.grant_update", target_team(tid), before, after, actor)
    answer = {"type": type_, "id": rid, "role": role, "expires_at": iso(expires_at)}
    return answer, created


def delete_grant(ctx: Context, actor: str, org_id: str, tid: str, type_: str, rid: str) -> None:
    """Take a team's role on a resource back (``revoke`` on the Grant). Raises NotFound,
    Forbidden."""
    with UnitOfWork(ctx, org_id) as uow:
        org = uow.org()
        team = _team(org_id, tid)
        row = resource_or_404(org_id, type_, rid)
        grant = TeamGrant.held(team.id, row.id)
        if grant is None:
            raise NotFound(f"team {tid!r} holds no role on {type_} {rid!r}")
        on = uow.targets.registered(org_id, type_, rid)
        target = uow.targets.management(org, "Grant", {"role": grant.role}, under=on)
        what = f"revoke {grant.role} on {type_} {rid} from team {tid}"
        uow.ask(actor, [Question("revoke", target, what)])
        grant.delete_instance()
        before = {"resource": {"type": type_, "id": rid}, "role": grant.role}
        uow.audit(org_id, "team.revoke", target_team(tid), before, None, actor)


def live_teams_of(org_id: str, user_id: str, now: datetime.datetime) -> list[str]:
    """The ids of the teams ``user_id`` is in (live), for explanations and member pages."""
    return TeamMember.teams_of(org_id, user_id, now)
