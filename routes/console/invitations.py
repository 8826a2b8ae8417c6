"""Invitations: the invitation form and the pending invitations of an organization's page
(routes/console/members.py shows them), inviting, cancelling and resending."""

import re

from flask import request, url_for
from flask.typing import ResponseReturnValue

from access import invitations
from access.console_views import invitation_refusal
from access.context import Context
from access.events import role_label
from access.targets import TargetBuilder
from routes.console.base import HTML, PAGE, bp, cursor
from routes.console.frame import Frame, change, confirmed
from routes.context import load
from routes.openapi import doc
from routes.schemas import InvitationBatchRequest


def pending(frame: Frame, targets: TargetBuilder) -> tuple[list, object]:
    """The pending invitations of a page (``?icursor=``), each with why it may not be
    cancelled or resent (None: it may), and the next page's cursor."""
    if frame.can["view_invitations"] is not None:
        return [], None
    context, actor, org_id = frame.context, frame.actor, frame.org_id
    page = invitations.list_page(context, actor, org_id, "pending", PAGE, cursor("icursor", "str"))
    rows = []
    for inv in page["items"]:
        ask = {"invitation_id": inv["id"]}
        cancel_reason = invitation_refusal(context, targets, actor, org_id, "cancel", **ask)
        resend_reason = invitation_refusal(context, targets, actor, org_id, "invite", **ask)
        rows.append({**inv, "cancel_reason": cancel_reason, "resend_reason": resend_reason})
    return rows, page["next"]


def invite_roles(frame: Frame, targets: TargetBuilder, roles: list) -> list:
    """The roles of the invitation form, each with why it may not be invited as."""
    context, actor, org_id = frame.context, frame.actor, frame.org_id
    return [
        {
            "role": r,
            "label": role_label(r),
            "reason": invitation_refusal(context, targets, actor, org_id, "invite", role=r),
        }
        for r in roles
    ]


@bp.post("/orgs/<org_id>/invite")
@doc(status=303, content_types=HTML)
def invite(org_id: str) -> ResponseReturnValue:
    """Invite several emails at once; the members page then shows each token once."""
    emails = [e for e in re.split(r"[\s,;]+", request.form.get("emails", "")) if e]
    role = request.form.get("role", "")

    def call(context: Context, actor: str) -> list:
        body = load(
            InvitationBatchRequest, {"invitations": [{"email": e, "role": role} for e in emails]}
        )
        return invitations.invite(context, actor, org_id, body["invitations"])

    what = f"invite {', '.join(emails) or 'nobody'} as {role_label(role)}"
    back = url_for("console.org", org_id=org_id) + "#invite"
    return change(org_id, what, call, back, tokens=True)


@bp.post("/orgs/<org_id>/invitations/<invitation_id>/cancel")
@doc(status=303, content_types=HTML)
def cancel(org_id: str, invitation_id: str) -> ResponseReturnValue:
    """Cancel a pending invitation, once confirmed."""

    def call(context: Context, actor: str) -> dict:
        confirmed()
        return invitations.cancel(context, actor, org_id, invitation_id)

    back = url_for("console.org", org_id=org_id) + "#invitations"
    return change(org_id, f"cancel the invitation {invitation_id}", call, back)


@bp.post("/orgs/<org_id>/invitations/<invitation_id>/resend")
@doc(status=303, content_types=HTML)
def resend(org_id: str, invitation_id: str) -> ResponseReturnValue:
    """Send a pending invitation again (the core's resend: the policy's ``invite`` on it, a
    new token, a new mail; the old token stops working); the new token is shown as after
    inviting."""

    def call(context: Context, actor: str) -> list:
        return [invitations.resend(context, actor, org_id, invitation_id)]

    back = url_for("console.org", org_id=org_id) + "#invitations"
    return change(org_id, f"resend the invitation {invitation_id}", call, back, tokens=True)
