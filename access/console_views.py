"""What a screen's buttons for management writes would answer, asked as the write asks.

A button of the console (change a member's role, remove, leave, invite, cancel or resend an
invitation) is shown enabled when the write would be allowed, else disabled with the reason.
The reason is the preview of that write (access/previews.py ``plan``: the write's own checks
and the questions its plan asks the policy, on the facts read now by the same functions
the write calls under its locks), worded as the write's refusal is (access/refusals.py).
No fact of a management resource is built here: a screen cannot drift from the write.
Each question asked is a decision, logged like one; the write decides again on submit.
"""

from access import previews, refusals
from access.context import Context
from access.errors import DomainError, FactsUnavailable
from access.targets import TargetBuilder


def refusal_preview(
    ctx: Context, targets: TargetBuilder, actor: str, action: str, ref: dict
) -> str | None:
    """None when the management write ``action`` on ``ref`` (a management resource as
    /v1/authorize names it: ``type``, ``org``, ``id``, ``attributes``) would be allowed
    for ``actor``, else why not: the write's own words for a failed check, or the policy's
    reason for the first question it refuses. Raises FactsUnavailable."""
    try:
        questions = previews.plan(ctx, targets, actor, action, ref)
    except FactsUnavailable:
        raise
    except DomainError as exc:
        return exc.detail
    for question in questions:
        asker = question.asker(actor)
        reason = refusals.denial(ctx.policy, targets, asker, question.action, question.target)
        if reason is not None:
            return reason
    return None


def role_change_refusal(
    ctx: Context, targets: TargetBuilder, actor: str, org_id: str, user_id: str, role: str
) -> str | None:
    """``refusal_preview`` of giving the member ``user_id`` the role ``role``."""
    attributes = {"member": user_id, "to_role": role}
    ref = {"type": "RoleChange", "org": org_id, "id": "", "attributes": attributes}
    return refusal_preview(ctx, targets, actor, "change_role", ref)


def removal_refusal(
    ctx: Context, targets: TargetBuilder, actor: str, org_id: str, user_id: str
) -> str | None:
    """``refusal_preview`` of removing the member ``user_id`` (leaving, for the actor)."""
    ref = {"type": "Membership", "org": org_id, "id": "", "attributes": {"user": user_id}}
    return refusal_preview(ctx, targets, actor, "remove", ref)


def invitation_refusal(
    ctx: Context,
    targets: TargetBuilder,
    actor: str,
    org_id: str,
    action: str,
    invitation_id: str = "",
    role: str = "",
) -> str | None:
    """``refusal_preview`` of ``action`` on an Invitation: ``invite`` as ``role`` (a new
    one, no ``invitation_id``) or the stored ``invitation_id`` resent (``invite``) or
    cancelled (``cancel``)."""
    attributes = {"role": role} if role else {}
    ref = {"type": "Invitation", "org": org_id, "id": invitation_id, "attributes": attributes}
    return refusal_preview(ctx, targets, actor, action, ref)


def team_refusal(
    ctx: Context,
    targets: TargetBuilder,
    actor: str,
    org_id: str,
    action: str,
    tid: str,
    role: str | None = None,
) -> str | None:
    """``refusal_preview`` of ``action`` on the Team ``tid``: ``manage`` (a stored team,
    or creating it holding ``role``), ``assign_role`` of ``role`` to a stored team."""
    name = "role" if action == "manage" else "to_role"
    attributes = {name: role} if role else {}
    ref = {"type": "Team", "org": org_id, "id": tid, "attributes": attributes}
    return refusal_preview(ctx, targets, actor, action, ref)


def define_refusal(
    ctx: Context,
    targets: TargetBuilder,
    actor: str,
    org_id: str,
    key: str = "",
    permissions: list | None = None,
) -> str | None:
    """``refusal_preview`` of ``define`` on the CustomRole ``key``: a new role giving
    ``permissions`` ({type, permission} each), or the stored role ``key`` redefined to give
    them too, or (none given) renamed or deleted."""
    attributes = {"permissions": permissions} if permissions else {}
    ref = {"type": "CustomRole", "org": org_id, "id": key, "attributes": attributes}
    return refusal_preview(ctx, targets, actor, "define", ref)
