"""Invitations: ``/v1/orgs/{org_id}/invitations`` and ``/v1/invitations/accept``. HTTP
only: parse, call access/invitations.py, dump."""

from flask import Blueprint
from flask.typing import ResponseReturnValue

from access import invitations
from routes.context import acting, acting_user, ctx, list_args, load, touch_last_active
from routes.openapi import doc
from routes.pagination import decode, listed
from routes.schemas import (
    AcceptInvitationRequest,
    AcceptResponse,
    InvitationBatchRequest,
    InvitationBatchResponse,
    InvitationListArgs,
    InvitationOut,
    InvitationPage,
    InvitationRolePatch,
)

bp = Blueprint("invitations", __name__, url_prefix="/v1")


@bp.post("/orgs/<org_id>/invitations")
@doc(request=InvitationBatchRequest, response=InvitationBatchResponse, status=201)
def invite(org_id: str) -> ResponseReturnValue:
    """Invite a batch ``{"invitations": [{"email", "role"}, ...]}``, all or nothing.

    201 ``{"items": [...]}`` in the order sent, each with its token (shown once). 422 (body;
    undeclared role or an email twice, per item), 403 (over the policy's batch limit; or
    items the policy's ``invite`` refuses, per item), 409 (already a member or already
    invited, per item), 404.
    """
    body = load(InvitationBatchRequest)
    actor = acting()
    return {"items": invitations.invite(ctx(actor), actor, org_id, body["invitations"])}, 201


@bp.get("/orgs/<org_id>/invitations")
@doc(query=InvitationListArgs, response=InvitationPage)
def list_invitations(org_id: str) -> ResponseReturnValue:
    """Invitations by id, ``?status=pending|accepted|expired|cancelled``, paginated; action
    ``view_invitations``. 404, 403, 422."""
    actor = acting()
    args = list_args(InvitationListArgs)
    after = decode(args["cursor"], "str")
    page = invitations.list_page(ctx(actor), actor, org_id, args["status"], args["limit"], after)
    return listed(page)


@bp.get("/orgs/<org_id>/invitations/<invitation_id>")
@doc(response=InvitationOut)
def get_invitation(org_id: str, invitation_id: str) -> ResponseReturnValue:
    """One invitation (never its token); action ``view_invitations``. 404, 403."""
    actor = acting()
    return invitations.get(ctx(actor), actor, org_id, invitation_id)


@bp.post("/orgs/<org_id>/invitations/<invitation_id>/resend")
@doc(response=InvitationOut)
def resend_invitation(org_id: str, invitation_id: str) -> ResponseReturnValue:
    """Send a pending or expired invitation again: a new token (in this answer, once, and in
    the mail), the old one dead, the lifetime restarted; decided as inviting with its role.
    404, 403, 409 (accepted or cancelled; the email is a member or invited again)."""
    actor = acting()
    return invitations.resend(ctx(actor), actor, org_id, invitation_id)


@bp.patch("/orgs/<org_id>/invitations/<invitation_id>")
@doc(request=InvitationRolePatch, response=InvitationOut)
def change_invitation_role(org_id: str, invitation_id: str) -> ResponseReturnValue:
    """Change a pending invitation's role ``{"role"}`` (``change_role`` on the Invitation).

    200 with the invitation and a new token (once; the old one stops working, a fresh mail
    goes out; ``invited_by`` becomes the acting user); the same role changes nothing. 422
    (body; undeclared role), 404, 403 (the policy's reason), 409 (not pending any more).
    """
    body = load(InvitationRolePatch)
    actor = acting()
    return invitations.change_role(ctx(actor), actor, org_id, invitation_id, body["role"])


@bp.delete("/orgs/<org_id>/invitations/<invitation_id>")
@doc(response=InvitationOut)
def cancel_invitation(org_id: str, invitation_id: str) -> ResponseReturnValue:
    """Cancel a pending invitation (``cancel`` on the Invitation); its token stops working.
    200 with the invitation. 404, 403, 409 (not pending any more)."""
    actor = acting()
    return invitations.cancel(ctx(actor), actor, org_id, invitation_id)


@bp.post("/invitations/accept")
@doc(request=AcceptInvitationRequest, response=AcceptResponse)
def accept_invitation() -> ResponseReturnValue:
    """Accept an invitation as the user in the body (created if new). 200 with the
    membership. 422, 403 (X-Actor-Id of another user; the policy's ``accept`` refuses, e.g.
    another email), 404 (unknown token), 410 (expired, cancelled or used), 409 (already a
    member; the email belongs to another user)."""
    body = load(AcceptInvitationRequest)
    user_id = body["user"]["id"]
    acting_user(required=False, must_be=user_id)
    membership = invitations.accept(ctx(user_id), body["token"], body["user"])
    touch_last_active(user_id)
    return membership
