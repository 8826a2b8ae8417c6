"""Members of an organization: list (with pending invitations), change a role, remove one
or several, leave.

Every change is one unit of work (access/uow.py) that locks the organization's row first and
only then reads the memberships, computes ``last_of_role`` and asks the policy. That is what
makes the last-owner rule hold under concurrency: on PostgreSQL the row lock (SELECT ... FOR
UPDATE) makes a second change to the same organization wait until the first commits, and
the second then reads the committed roles (READ COMMITTED) and is decided on them; on SQLite
the transaction's BEGIN IMMEDIATE serialises writers the same way. Two Owners demoting each
other at once: the first wins; the second, now a Manager demoting the last Owner, is refused.
"""

from access.context import Context
from access.decisions import require
from access.errors import Forbidden, NotFound
from access.events import target_user
from access.orgs import declared_role, engine_for, org_target
from access.refusals import Question
from access.shapes import MEMBER, Given
from access.targets import TargetBuilder
from access.uow import UnitOfWork
from authz.view import OrgRef
from models import Invitation, Membership, User
from models import members as queries


def as_dict(membership: Membership, user: User) -> dict:
    """An active member as the member list shows it (access/shapes.py, ``MemberOut``)."""
    return MEMBER.answer(
        Given(
            user,
            user_id=user.id,
            role=membership.role,
            status="active",
            joined_at=membership.created_at,
        )
    )


def pending_dict(invitation: Invitation) -> dict:
    """A pending invitation as the member list shows it (``status: pending``)."""
    return MEMBER.answer(
        Given(
            invitation,
            user_id=None,
            name="",
            status="pending",
            last_active_at=None,
            invitation_id=invitation.id,
        )
    )


def list_page(
    ctx: Context,
    actor: str,
    org_id: str,
    limit: int,
    after: list | None,
    role: str | None = None,
    q: str | None = None,
) -> dict:
    """Active members by user id, then pending invitations, filtered by role and by ``q``
    (name or email), after the key ``after`` (``["m", user_id]`` or ``["i", invitation
    id]``); action ``view_members``. Returns ``{"items", "next"}``. Raises NotFound, Forbidden."""
    targets = TargetBuilder()
    require(
        ctx.policy,
        targets,
        actor,
        "view_members",
        org_target(targets, org_id),
        what=f"view the members of {org_id}",
    )
    found = queries.member_page(org_id, ctx.now(), limit, after, role, q)
    items = [
        as_dict(row, row.user) if kind == "m" else pending_dict(row) for kind, _, row in found.rows
    ]
    return {"items": items, "next": found.next}


def _membership(org_id: str, user_id: str, last_of_role: bool = False) -> Membership:
    """The membership of ``user_id`` in ``org_id`` (``Membership.find``). Raises NotFound."""
    row = Membership.find(org_id, user_id, last_of_role)
    if row is None:
        raise NotFound(f"{user_id!r} is not a member of {org_id!r}")
    return row


def change_plan(
    ctx: Context,
    targets: TargetBuilder,
    org: OrgRef,
    actor: str,
    user_id: str,
    role: str,
    membership: Membership | None = None,
) -> tuple[Membership, list[Question]]:
    """What giving ``user_id`` the role ``role`` asks the policy, on the facts read now:
    the member's current role, ``is_self``, ``last_of_role``. The write calls it under its
    unit's locks with the membership read with them (``membership``, with its
    ``last_of_role``), a preview of a RoleChange (access/previews.py) as is. Returns the
    membership and the questions. Raises Invalid (undeclared role), NotFound."""
    to_role = declared_role(engine_for(ctx, org), role, org=org)
    if membership is None:  # one read for both
        membership = _membership(org.id, user_id, last_of_role=True)
    from_role = membership.role
    if from_role == to_role:  # nothing to change; still only for those who see members
        what = f"view the members of {org.id}"
        return membership, [Question("view_members", org_target(targets, org.id), what)]
    attrs = {
        "from_role": from_role,
        "to_role": to_role,
        "is_self": user_id == actor,
        "last_of_role": bool(membership.last_of_role),  # type: ignore[attr-defined]
    }
    target = targets.management(org, "RoleChange", attrs)
    what = f"change the role of {user_id} from {from_role} to {to_role}"
    return membership, [Question("change_role", target, what)]


def change_role(ctx: Context, actor: str, org_id: str, user_id: str, role: str) -> dict:
    """Give a member another role (``change_role`` on a RoleChange, ``change_plan``).
    Returns the member. Raises Invalid (undeclared role), NotFound, Forbidden (the policy's
    reason)."""
    with UnitOfWork(ctx, org_id, member=user_id) as uow:  # the member read with the lock
        membership, questions = change_plan(
            ctx, uow.targets, uow.org(), actor, user_id, role, uow.member
        )
        uow.ask(actor, questions)
        from_role, to_role = membership.role, role  # change_plan checked it is declared
        if from_role == to_role:
            return as_dict(membership, membership.user)
        Membership.set_role(membership.id, to_role)
        uow.audit(
            org_id,
            "member.change_role",
            target_user(user_id),
            {"role": from_role},
            {"role": to_role},
            actor,
        )
        membership.role = to_role
    return as_dict(membership, membership.user)


def removal_plan(
    targets: TargetBuilder, org: OrgRef, actor: str, user_ids: list
) -> tuple[dict, list[Question]]:
    """What removing ``user_ids`` at once asks the policy, on the facts read now: one
    ``remove`` on a Membership per user, with its role, ``is_self`` and ``last_of_role``
    (counting only members who stay: removing both Owners at once is removing the last
    one). The write calls it under its unit's locks, a preview of a Membership
    (access/previews.py) as is. Returns ({user id: membership}, the questions in the order
    of ``user_ids``). Raises NotFound (a user who is not a member)."""
    found = {m.user.id: m for m in Membership.of_users(org.id, user_ids)}
    missing = [u for u in user_ids if u not in found]
    if missing:
        raise NotFound(
            f"not members of {org.id}: {', '.join(missing)}",
            {"user_ids": [f"not a member: {u}" for u in missing]},
        )
    questions = []
    for user_id in user_ids:
        role = found[user_id].role
        stays = Membership.role_stays(org.id, role, user_ids)
        attrs = {"role": role, "is_self": user_id == actor, "last_of_role": not stays}
        what = "leave" if user_id == actor else f"remove {user_id} from"
        target = targets.management(org, "Membership", attrs)
        questions.append(Question("remove", target, f"{what} {org.id}"))
    return found, questions


def remove(ctx: Context, actor: str, org_id: str, user_ids: list) -> list:
    """Remove members (or leave, for the acting user's own id), all or nothing: ``remove``
    on each Membership (``removal_plan``). Returns the removed user ids. Raises NotFound
    (a user who is not a member), Forbidden (any refusal; then nothing is removed)."""
    with UnitOfWork(ctx, org_id) as uow:
        found, questions = removal_plan(uow.targets, uow.org(), actor, user_ids)
        denied, reasons = {}, {}
        for i, (user_id, question) in enumerate(zip(user_ids, questions, strict=True)):
            reason = uow.refusal(actor, question)
            if reason is not None:
                denied[f"user_ids.{i}"] = [f"{user_id} ({found[user_id].role}): {reason}"]
                reasons[user_id] = reason
        if denied:
            if len(user_ids) == 1:
                raise Forbidden(
                    f"{actor} may not {questions[0].what}: {reasons[user_ids[0]]}",
                    policy=True,
                )
            raise Forbidden(
                f"{actor} may not remove {len(denied)} of these {len(user_ids)} "
                "members; nobody was removed",
                denied,
                policy=True,
            )
        memberships = [found[u] for u in user_ids]
        dropped = drop_memberships(org_id, memberships)
        for m in memberships:
            action = "member.leave" if m.user.id == actor else "member.remove"
            before = {"role": m.role, "grants": dropped.get(m.user.id, [])}
            uow.audit(org_id, action, target_user(m.user.id), before, None, actor)
    return [m.user.id for m in memberships]


def grants_in(org_id: str, user_ids: list) -> dict:
    """The grants of these users in the org: ``{user id: [{"type", "id", "role"}]}``, by
    resource type and id."""
    return queries.grants_in(org_id, user_ids)


def drop_memberships(org_id: str, memberships: list) -> dict:
    """Delete the memberships, the members' grants in the org and their default_org there.
    Returns the grants dropped (``grants_in``), for the audit entry.

    Runs inside the caller's unit of work, after the policy allowed it.
    """
    return queries.drop_memberships(org_id, memberships)


def get(ctx: Context, actor: str, org_id: str, user_id: str) -> dict:
    """One member with role, last activity and grants in the org; action ``view_members``.
    Raises NotFound (org, not a member), Forbidden (with the policy's reason)."""
    targets = TargetBuilder()
    require(
        ctx.policy,
        targets,
        actor,
        "view_members",
        org_target(targets, org_id),
        what=f"view the members of {org_id}",
    )
    membership = _membership(org_id, user_id)
    body = as_dict(membership, membership.user)
    body["grants"] = grants_in(org_id, [user_id]).get(user_id, [])
    return body


def list_page_with_grants(
    ctx: Context,
    actor: str,
    org_id: str,
    limit: int,
    after: list | None,
    q: str | None = None,
) -> dict:
    """``list_page`` (action ``view_members``) with each active member's grants in the org
    (``grants``: ``[{"type", "id", "role"}]``, as ``get`` shows one member's), for a
    screen that lists members with what they were given. Raises NotFound, Forbidden."""
    found = list_page(ctx, actor, org_id, limit, after, q=q)
    ids = [m["user_id"] for m in found["items"] if m["status"] == "active"]
    held = grants_in(org_id, ids) if ids else {}
    for m in found["items"]:
        if m["status"] == "active":
            m["grants"] = held.get(m["user_id"], [])
    return found


def last_of_role(org_id: str, members_: list) -> dict:
    """``{user id: whether no other member holds their role}`` for the listed members
    (``[{"user_id", "role"}]``): the ``last_of_role`` fact a screen's buttons are asked
    with before the change (the change itself computes it again under the org's lock)."""
    counts = Membership.role_counts(org_id, {m["role"] for m in members_})
    return {m["user_id"]: counts.get(m["role"], 0) <= 1 for m in members_}
