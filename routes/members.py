"""Members of an organization: list (with pending invitations), change a role, remove one
or several, leave.

Every change is one ``models.transaction()`` that takes ``Organization.lock(org_id)`` first
and only then reads the memberships, computes ``last_of_role`` and asks the policy. That is
what makes the last-owner rule hold under concurrency: on PostgreSQL the row lock (SELECT
... FOR UPDATE) makes a second change to the same organization wait until the first commits,
and the second then reads the committed roles (READ COMMITTED: each statement sees what was
committed before it started) and is decided on them; on SQLite the transaction's BEGIN
IMMEDIATE serialises writers the same way. Two Owners demoting each other at once: the
first wins; the second, now a Manager demoting the last Owner, is refused.
"""

from flask import Blueprint

from access.errors import ApiError
from models import Grant, Invitation, Membership, Organization, User, transaction
from routes.context import audit, load, now, require
from routes.openapi import doc
from routes.orgs import (
    FORBIDDEN,
    acting,
    declared_role,
    engine_for,
    fresh_org,
    iso,
    list_args,
    management_denial,
    org_target,
    require_management,
)
from routes.pagination import decode, encode
from routes.schemas import (
    MemberListArgs,
    MemberOut,
    MemberPage,
    RemovedResponse,
    RemoveMembersRequest,
    RoleRequest,
)

bp = Blueprint("members", __name__, url_prefix="/v1/orgs/<org_id>/members")


def dump_member(membership: Membership, user: User) -> dict:
    """An active member as the member list shows it."""
    return {
        "user_id": user.id,
        "email": user.email,
        "name": user.name,
        "role": membership.role,
        "status": "active",
        "last_active_at": iso(user.last_active_at),
        "joined_at": iso(membership.created_at),
    }


def dump_pending(invitation: Invitation) -> dict:
    """A pending invitation as the member list shows it (``status: pending``)."""
    return {
        "user_id": None,
        "email": invitation.email,
        "name": "",
        "role": invitation.role,
        "status": "pending",
        "last_active_at": None,
        "invitation_id": invitation.id,
        "expires_at": iso(invitation.expires_at),
    }


def _cursor(value):
    """A members cursor: ["m", user_id] (members come first) or ["i", invitation_id]."""
    if value is None:
        return None
    if (
        isinstance(value, list)
        and len(value) == 2
        and value[0] in ("m", "i")
        and isinstance(value[1], str)
    ):
        return value
    raise ApiError(422, "the cursor is not one this service gave", {"cursor": ["invalid"]})


@bp.get("")
@doc(query=MemberListArgs, response=MemberPage)
def list_members(org_id):
    """Active members by user id, then pending invitations, filtered by ``?role=`` and
    ``?q=`` (name or email, case-insensitive), paginated; action ``view_members``.
    Raises ApiError 404, 403, 422."""
    actor = acting()
    args = list_args(MemberListArgs)
    require(actor, "view_members", org_target(org_id), what=f"view the members of {org_id}")
    after = _cursor(decode(args["cursor"]) if args["cursor"] else None)
    limit, role, q = args["limit"], args["role"], args["q"]
    items = []
    if after is None or after[0] == "m":
        query = Membership.select(Membership, User).join(User).where(Membership.org == org_id)
        if role:
            query = query.where(Membership.role == role)
        if q:
            query = query.where(User.name.contains(q) | User.email.contains(q))
        if after:
            query = query.where(User.id > after[1])
        rows = query.order_by(User.id).limit(limit + 1)
        items = [("m", m.user.id, dump_member(m, m.user)) for m in rows]
    if len(items) <= limit:
        query = Invitation.select().where(
            (Invitation.org == org_id)
            & (Invitation.status == "pending")
            & (Invitation.expires_at > now())
        )
        if role:
            query = query.where(Invitation.role == role)
        if q:
            query = query.where(Invitation.email.contains(q))
        if after and after[0] == "i":
            query = query.where(Invitation.id > after[1])
        rows = query.order_by(Invitation.id).limit(limit + 1 - len(items))
        items += [("i", inv.id, dump_pending(inv)) for inv in rows]
    more = len(items) > limit
    items = items[:limit]
    next_cursor = encode([items[-1][0], items[-1][1]]) if more else None
    return {"items": [item for _, _, item in items], "next_cursor": next_cursor}


def _membership(org_id: str, user_id: str) -> Membership:
    """The membership of ``user_id`` in ``org_id``. Raises ApiError 404."""
    row = (
        Membership.select(Membership, User)
        .join(User)
        .where((Membership.org == org_id) & (Membership.user == user_id))
        .first()
    )
    if row is None:
        raise ApiError(404, f"{user_id!r} is not a member of {org_id!r}")
    return row


@bp.put("/<user_id>")
@doc(request=RoleRequest, response=MemberOut)
def change_role(org_id, user_id):
    """Give a member another role (``change_role`` on a RoleChange). 200 with the member.
    Raises ApiError 422 (undeclared role), 404, 403 (the policy's reason)."""
    body = load(RoleRequest)
    actor = acting()
    engine = engine_for(fresh_org(org_id))
    to_role = declared_role(engine, body["role"])
    with transaction():
        Organization.lock(org_id)  # first: the roles read below stay as read until commit
        org = fresh_org(org_id)
        membership = _membership(org_id, user_id)
        from_role = membership.role
        if from_role == to_role:  # nothing to change; still only for those who see members
            require(actor, "view_members", org_target(org_id), what=f"view the members of {org_id}")
            return dump_member(membership, membership.user)
        attrs = {
            "from_role": from_role,
            "to_role": to_role,
            "is_self": user_id == actor,
            "last_of_role": Membership.is_last_of_role(org_id, user_id, from_role),
        }
        require_management(
            actor,
            "change_role",
            org,
            "RoleChange",
            attrs,
            what=f"change the role of {user_id} from {from_role} to {to_role}",
        )
        Membership.update(role=to_role).where(Membership.id == membership.id).execute()
        audit(
            org_id,
            "member.change_role",
            f"user:{user_id}",
            {"role": from_role},
            {"role": to_role},
            actor,
        )
        membership.role = to_role
    return dump_member(membership, membership.user)


def _remove(org_id: str, memberships: list) -> None:
    """Delete the memberships, the members' grants in the org and their default_org there.

    Runs inside the caller's transaction.
    """
    user_ids = [m.user.id for m in memberships]
    Grant.delete().where((Grant.org == org_id) & (Grant.user.in_(user_ids))).execute()
    Membership.delete().where(Membership.id.in_([m.id for m in memberships])).execute()
    User.update(default_org=None).where(
        (User.id.in_(user_ids)) & (User.default_org == org_id)
    ).execute()


def _remove_checked(org_id: str, user_ids: list, actor: str) -> list:
    """Inside a transaction: lock, load the memberships, ask the policy about each, remove.

    ``last_of_role`` counts only members who stay: removing both Owners at once is removing
    the last one. Raises ApiError 404 (a user who is not a member), 403 (any refusal; then
    nothing is removed).
    """
    Organization.lock(org_id)
    org = fresh_org(org_id)
    rows = (
        Membership.select(Membership, User)
        .join(User)
        .where((Membership.org == org_id) & (Membership.user.in_(user_ids)))
    )
    found = {m.user.id: m for m in rows}
    missing = [u for u in user_ids if u not in found]
    if missing:
        raise ApiError(
            404,
            f"not members of {org_id}: {', '.join(missing)}",
            {"user_ids": [f"not a member: {u}" for u in missing]},
        )
    denied, reasons = {}, {}
    for i, user_id in enumerate(user_ids):
        role = found[user_id].role
        stays = (
            Membership.select()
            .where(
                (Membership.org == org_id)
                & (Membership.role == role)
                & Membership.user.not_in(user_ids)
            )
            .exists()
        )
        attrs = {"role": role, "is_self": user_id == actor, "last_of_role": not stays}
        reason = management_denial(actor, "remove", org, "Membership", attrs)
        if reason is not None:
            denied[f"user_ids.{i}"] = [f"{user_id} ({role}): {reason}"]
            reasons[user_id] = reason
    if denied:
        if len(user_ids) == 1:
            what = "leave" if user_ids[0] == actor else f"remove {user_ids[0]} from"
            raise ApiError(
                403, f"{actor} may not {what} {org_id}: {reasons[user_ids[0]]}", title=FORBIDDEN
            )
        raise ApiError(
            403,
            f"{actor} may not remove {len(denied)} of these {len(user_ids)} "
            "members; nobody was removed",
            denied,
            title=FORBIDDEN,
        )
    memberships = [found[u] for u in user_ids]
    _remove(org_id, memberships)
    for m in memberships:
        action = "member.leave" if m.user.id == actor else "member.remove"
        audit(org_id, action, f"user:{m.user.id}", {"role": m.role}, None, actor)
    return memberships


@bp.delete("/<user_id>")
def remove_member(org_id, user_id):
    """Remove a member, or leave when ``user_id`` is the acting user (``remove`` on a
    Membership). 204. Raises ApiError 404, 403 (the policy's reason)."""
    actor = acting()
    fresh_org(org_id)
    with transaction():
        _remove_checked(org_id, [user_id], actor)
    return "", 204


@bp.post("/remove")
@doc(request=RemoveMembersRequest, response=RemovedResponse)
def remove_members(org_id):
    """Remove several members, all or nothing. 200 ``{"removed": [...]}``.
    Raises ApiError 422, 404, 403 (naming each refused member)."""
    body = load(RemoveMembersRequest)
    actor = acting()
    fresh_org(org_id)
    with transaction():
        removed = _remove_checked(org_id, body["user_ids"], actor)
    return {"removed": [m.user.id for m in removed]}
