"""Members of an organization: ``/v1/orgs/{org_id}/members``. HTTP only: parse, call
access/members.py, dump."""

from flask import Blueprint
from flask.typing import ResponseReturnValue

from access import members
from routes.context import acting, ctx, list_args, load
from routes.openapi import doc
from routes.pagination import decode, listed
from routes.schemas import (
    MemberDetailOut,
    MemberListArgs,
    MemberOut,
    MemberPage,
    RemovedResponse,
    RemoveMembersRequest,
    RoleRequest,
)

bp = Blueprint("members", __name__, url_prefix="/v1/orgs/<org_id>/members")


@bp.get("")
@doc(query=MemberListArgs, response=MemberPage)
def list_members(org_id: str) -> ResponseReturnValue:
    """Active members by user id, then pending invitations, filtered by ``?role=`` and
    ``?q=`` (name or email, case-insensitive), paginated; action ``view_members``.
    404, 403, 422."""
    actor = acting()
    args = list_args(MemberListArgs)
    after = decode(args["cursor"], "pair")
    page = members.list_page(
        ctx(actor), actor, org_id, args["limit"], after, role=args["role"], q=args["q"]
    )
    return listed(page)


@bp.get("/<user_id>")
@doc(response=MemberDetailOut)
def get_member(org_id: str, user_id: str) -> ResponseReturnValue:
    """One member: role, last activity, joined, and their grants in the org; action
    ``view_members``. 404 (org, not a member), 403 (the policy's reason)."""
    actor = acting()
    return members.get(ctx(actor), actor, org_id, user_id)


@bp.put("/<user_id>")
@doc(request=RoleRequest, response=MemberOut)
def change_role(org_id: str, user_id: str) -> ResponseReturnValue:
    """Give a member another role (``change_role`` on a RoleChange). 200 with the member.
    422 (undeclared role), 404, 403 (the policy's reason)."""
    body = load(RoleRequest)
    actor = acting()
    return members.change_role(ctx(actor), actor, org_id, user_id, body["role"])


@bp.delete("/<user_id>")
def remove_member(org_id: str, user_id: str) -> ResponseReturnValue:
    """Remove a member, or leave when ``user_id`` is the acting user (``remove`` on a
    Membership). 204. 404, 403 (the policy's reason)."""
    actor = acting()
    members.remove(ctx(actor), actor, org_id, [user_id])
    return "", 204


@bp.post("/remove")
@doc(request=RemoveMembersRequest, response=RemovedResponse)
def remove_members(org_id: str) -> ResponseReturnValue:
    """Remove several members, all or nothing. 200 ``{"removed": [...]}``.
    422, 404, 403 (naming each refused member)."""
    body = load(RemoveMembersRequest)
    actor = acting()
    return {"removed": members.remove(ctx(actor), actor, org_id, body["user_ids"])}
