"""Grants of a role on one registered resource to one member: give, take back, several at
once, and the grants on a resource.

Every write is one unit of work (access/uow.py): the organization's row is locked first, so
the facts the policy is shown are those committed when the lock was granted (a Manager
demoted while their grant waited is refused as a Reader). ``grant_plan`` and
``revoke_plan`` are what a write checks before it writes; a preview of a Grant
(access/previews.py) asks them as they are.
"""

import datetime

from access.context import Context
from access.decisions import require
from access.errors import Forbidden, Invalid, NotFound
from access.events import target_grant
from access.orgs import engine_for, org_ref
from access.refusals import Question
from access.registry import (
    callers_types,
    check_role,
    grant_dict,
    grantable,
    held_dict,
    org_target_of,
    require_seen,
    resource_or_404,
)
from access.shapes import iso
from access.targets import TargetBuilder
from access.uow import UnitOfWork
from authz.view import OrgRef
from models import Grant, Membership, Resource, User, create_later
from models.members import member_and_grant


def _registered(targets: TargetBuilder, org: OrgRef, type_: str, rid: str) -> Resource:
    """The registered resource as the chain the policy is shown has it (one read for both:
    ``targets.registered``; its id, type, rid, owner and attributes). Raises NotFound."""
    found = targets.registered(org.id, type_, rid) if type_ != "Organization" else None
    if found is None:
        return resource_or_404(org.id, type_, rid)  # (raises NotFound)
    leaf = found.chain[-1]
    return Resource(
        id=leaf.pk,
        org=org.id,
        type=leaf.type,
        rid=leaf.id,
        owner=leaf.owner,
        attributes=leaf.attributes,
    )


def _member_or_error(
    org_id: str,
    user_id: str,
    resource_pk: int | None = None,
    read: tuple[Membership | None] | None = None,
) -> Grant | None:
    """The grant ``user_id`` holds on the resource ``resource_pk`` when given (None: none),
    read with whether they are a member (one statement), or as the unit read them with its
    lock (``read``: ``(membership with .held, or None,)``). Raises NotFound for an unknown
    user, Invalid naming user_id for a non-member (a member is a user: the membership's
    foreign key)."""
    if read is not None:
        member, held = read[0] is not None, getattr(read[0], "held", None)
    elif resource_pk is None:
        member, held = Membership.holds(user_id, org_id), None
    else:
        member, held = member_and_grant(org_id, user_id, resource_pk)
    if member:
        return held
    if User.get_or_none(id=user_id) is None:
        raise NotFound(f"no user {user_id!r}")
    raise Invalid(
        f"{user_id!r} is not a member of organization {org_id!r}",
        {"user_id": ["not a member of the organization"]},
    )


def grant_questions(
    targets: TargetBuilder,
    org: OrgRef,
    row: Resource,
    user_id: str,
    role: str,
    held: tuple[Grant | None] | None = None,
) -> tuple[Grant | None, list[Question]]:
    """What giving ``user_id`` the role ``role`` on ``row`` asks the policy, on the facts
    read now: ``grant`` of ``role`` on a Grant under it, after ``revoke`` of the different
    role the user holds there (read from the database, unless ``held`` gives it, as
    ``(grant or None,)``). Returns (the grant held, or None; the questions)."""
    on = targets.registered(org.id, row.type, row.rid)
    what = f"on {row.type} {row.rid}"
    existing = held[0] if held is not None else Grant.held(user_id, row.id)
    questions = []
    if existing is not None and existing.role != role:
        target = targets.management(org, "Grant", {"role": existing.role}, under=on)
        revoke = f"revoke {existing.role} {what} from {user_id}"
        questions.append(Question("revoke", target, revoke))
    target = targets.management(org, "Grant", {"role": role}, under=on)
    questions.append(Question("grant", target, f"grant {role} {what} to {user_id}"))
    return existing, questions


def grant_plan(
    ctx: Context,
    targets: TargetBuilder,
    org: OrgRef,
    type_: str,
    rid: str,
    user_id: str,
    role: str,
    read: tuple[Membership | None] | None = None,
) -> tuple[Resource, Grant | None, list[Question]]:
    """Everything ``put_grant`` checks before it writes, on the facts read now (the write
    calls it under its unit's locks with the member and its grant read with them, ``read``;
    a preview of a Grant, access/previews.py, as is): (the resource, the grant held,
    ``grant_questions``). Raises NotFound (resource, user), Invalid (role not declared on
    the type, user not a member)."""
    row = _registered(targets, org, type_, rid)
    check_role(engine_for(ctx, org), type_, role, org)
    held = _member_or_error(org.id, user_id, row.id, read)
    existing, questions = grant_questions(targets, org, row, user_id, role, (held,))
    return row, existing, questions


def revoke_plan(
    targets: TargetBuilder, org: OrgRef, type_: str, rid: str, user_id: str
) -> tuple[Resource, Grant, list[Question]]:
    """Everything ``delete_grant`` checks before it deletes, on the facts read now: the
    resource, the grant (its role read from the database) and ``revoke`` on it. Raises
    NotFound (resource, no such grant)."""
    row = resource_or_404(org.id, type_, rid)
    grant = Grant.held(user_id, row.id)
    if grant is None:
        raise NotFound(f"{user_id!r} holds no grant on {type_} {rid!r}")
    on = targets.registered(org.id, type_, rid)
    target = targets.management(org, "Grant", {"role": grant.role}, under=on)
    what = f"revoke {grant.role} on {type_} {rid} from {user_id}"
    return row, grant, [Question("revoke", target, what)]


def _grant(
    uow: UnitOfWork, actor: str, org: OrgRef, row: Resource, user_id: str, role: str
) -> tuple[Grant, bool]:
    """Ask the policy ``grant_questions``, then write the grant. Returns (grant, created?).
    Raises Forbidden."""
    existing, questions = grant_questions(uow.targets, org, row, user_id, role)
    return _write_grant(uow, actor, org, row, user_id, role, existing, questions)


def _write_grant(
    uow: UnitOfWork,
    actor: str,
    org: OrgRef,
    row: Resource,
    user_id: str,
    role: str,
    existing: Grant | None,
    questions: list[Question],
    expires_at: datetime.datetime | None = None,
) -> tuple[Grant, bool]:
    uow.ask(actor, questions)
    if expires_at is not None and expires_at <= uow.ctx.now():
        raise Invalid("expires_at is not in the future", {"expires_at": ["must be in the future"]})
    audit_target = target_grant(row.type, row.rid, user_id)
    after: dict = {"role": role}
    if expires_at is not None:
        after["expires_at"] = iso(expires_at)
    if existing is None:  # its key is never read: written with the next round trip
        grant = create_later(
            Grant,
            user=user_id,
            resource=row.id,
            org=org.id,
            role=role,
            created_at=uow.ctx.now(),
            expires_at=expires_at,
        )
        uow.audit(org.id, "grant.create", audit_target, None, after, actor)
        return grant, True
    if (existing.role, existing.expires_at) != (role, expires_at):
        before: dict = {"role": existing.role}
        if existing.expires_at is not None:
            before["expires_at"] = iso(existing.expires_at)
        existing.role, existing.expires_at = role, expires_at
        Grant.change(existing.id, role, expires_at)
        uow.audit(org.id, "grant.update", audit_target, before, after, actor)
    return existing, False


def put_grant(
    ctx: Context,
    actor: str,
    org_id: str,
    type_: str,
    rid: str,
    user_id: str,
    role: str,
    expires_at: datetime.datetime | None = None,
) -> tuple:
    """Give a member a role on a resource, until ``expires_at`` when given (access/expiry.py).
    Returns (the grant, created?). Raises NotFound (org, resource, user), Invalid (role not
    declared on the type, user not a member, an expiry not in the future), Forbidden (the
    policy: ``grant`` on a Grant, ``revoke`` of a role it replaces)."""
    # The member and its grant on the resource are read in the lock's round trip.
    with UnitOfWork(ctx, org_id, member=user_id, grant_on=(type_, rid)) as uow:
        org = uow.org()
        plan = grant_plan(ctx, uow.targets, org, type_, rid, user_id, role, (uow.member,))
        row, existing, questions = plan
        grant, created = _write_grant(
            uow, actor, org, row, user_id, role, existing, questions, expires_at
        )
    return grant_dict(grant, row), created


def delete_grant(ctx: Context, actor: str, org_id: str, type_: str, rid: str, user_id: str) -> None:
    """Take a grant back. Raises NotFound (org, resource, no such grant), Forbidden (the
    policy: ``revoke`` on the Grant)."""
    with UnitOfWork(ctx, org_id) as uow:
        _, grant, questions = revoke_plan(uow.targets, uow.org(), type_, rid, user_id)
        uow.ask(actor, questions)
        grant.delete_instance()
        uow.audit(
            org_id,
            "grant.delete",
            target_grant(type_, rid, user_id),
            {"role": grant.role},
            None,
            actor,
        )


def grant_batch(ctx: Context, actor: str, org_id: str, user_id: str, items: list) -> list:
    """Give a member roles on several resources at once, all or nothing.

    Raises NotFound (org, user), Forbidden (more than the policy's ``grant_batch_limit``, as
    for invitations; or the policy refuses any one of them), Invalid (a type, resource or role
    the policy or org does not have, naming ``grants.<i>.<field>``; user not a member).
    """
    with UnitOfWork(ctx, org_id) as uow:
        org = uow.org()
        engine = engine_for(ctx, org)
        limit = int(engine.setting("grant_batch_limit", 100))
        if len(items) > limit:
            raise Forbidden(
                f"at most {limit} grants at a time in a {engine.style} organization;"
                f" {len(items)} sent",
                {"grants": [f"at most {limit}"]},
            )
        errors, rows = {}, []
        for i, item in enumerate(items):
            if item["type"] not in callers_types(engine):
                errors[f"grants.{i}.type"] = ["not a resource type of this organization"]
                continue
            row = Resource.named(org_id, item["type"], item["id"])
            if row is None:
                errors[f"grants.{i}.id"] = ["not a registered resource of this organization"]
                continue
            roles = grantable(engine, item["type"], org)
            if item["role"] not in roles:
                errors[f"grants.{i}.role"] = [f"one of {roles}"]
                continue
            rows.append((row, item["role"]))
        if errors:
            raise Invalid(f"invalid fields: {', '.join(sorted(errors))}", errors)
        _member_or_error(org_id, user_id)
        return [
            grant_dict(_grant(uow, actor, org, row, user_id, role)[0], row) for row, role in rows
        ]


def _page_on(
    ctx: Context,
    targets: TargetBuilder,
    actor: str,
    row: Resource,
    limit: int,
    after: str | None,
) -> dict:
    """``{"items", "next"}``: the grants on ``row`` by user id after ``after``, for those
    who may ``view_members`` of its org (a grant names a member). Raises Forbidden."""
    require(
        ctx.policy,
        targets,
        actor,
        "view_members",
        org_target_of(targets, row.org_id),
        what=f"view who holds grants in {row.org_id}",
    )
    found = Grant.page_on(row.id, limit, after)
    return {"items": [held_dict(g) for g in found.rows], "next": found.next}


def grants_of(
    ctx: Context, actor: str, org_id: str, type_: str, rid: str, limit: int, after: str | None
) -> dict:
    """The grants on one resource, by user id: for those the policy lets ``view`` it and
    ``view_members`` of the org (a grant names a member). Raises NotFound, Forbidden."""
    targets = TargetBuilder()
    org_ref(targets, org_id)
    row = resource_or_404(org_id, type_, rid)
    require(ctx.policy, targets, actor, "view", targets.registered(org_id, type_, rid))
    return _page_on(ctx, targets, actor, row, limit, after)


def grants_on(
    ctx: Context, actor: str, org_id: str, type_: str, rid: str, limit: int, after: str | None
) -> dict:
    """``grants_of`` for a resource the actor sees (``seen_by``: a license's assignees
    too), for those who may ``view_members`` of the org. Raises NotFound, Forbidden."""
    targets = TargetBuilder()
    org_ref(targets, org_id)
    row = resource_or_404(org_id, type_, rid)
    require_seen(ctx.policy, targets, actor, org_id, type_, rid)
    return _page_on(ctx, targets, actor, row, limit, after)
