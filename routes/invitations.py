"""Invitations: invite a batch, list by status, cancel, accept.

A token is ``secrets.token_urlsafe(32)``, returned once in the 201 answer; only its SHA-256
(``models.hash_secret``) is stored, and it is never logged. It works once, until the
lifetime the style's policy states (``setting("invitation_lifetime_hours", ...)``), and only
for the invited email (case-insensitive). A batch is all or nothing: every item is checked
(its role, the policy's ``invite``, no member or pending invitation with that email) before
anything is written; a batch with any refused item writes nothing and names each one.
"""

import datetime
import secrets
import uuid

from flask import Blueprint

from access.errors import ApiError
from models import Invitation, Membership, Organization, User, hash_secret, transaction
from routes.context import acting_user, audit, load, now, require, touch_last_active
from routes.openapi import doc
from routes.orgs import (
    FORBIDDEN,
    acting,
    conflict_is_409,
    engine_for,
    fresh_org,
    iso,
    list_args,
    management_denial,
    org_target,
    require_management,
    setting,
    would_allow,
)
from routes.pagination import decode, paginate
from routes.schemas import (
    AcceptInvitationRequest,
    AcceptResponse,
    InvitationBatchRequest,
    InvitationBatchResponse,
    InvitationListArgs,
    InvitationOut,
    InvitationPage,
)

bp = Blueprint("invitations", __name__, url_prefix="/v1")


def dump_invitation(inv: Invitation, token: str | None = None) -> dict:
    """The API form of an invitation; ``token`` only in the answer that created it."""
    body = {
        "id": inv.id,
        "org_id": inv.org_id,
        "email": inv.email,
        "role": inv.role,
        "status": inv.status_at(now()),
        "expires_at": iso(inv.expires_at),
        "invited_by": inv.invited_by,
        "created_at": iso(inv.created_at),
        "accepted_by": inv.accepted_by,
        "ended_at": iso(inv.ended_at),
    }
    if token is not None:
        body["token"] = token
    return body


def _audit_view(inv: Invitation) -> dict:
    """What the audit trail keeps of an invitation (never the token or its hash)."""
    return {
        "id": inv.id,
        "email": inv.email,
        "role": inv.role,
        "status": inv.status,
        "expires_at": iso(inv.expires_at),
    }


@bp.post("/orgs/<org_id>/invitations")
@doc(request=InvitationBatchRequest, response=InvitationBatchResponse, status=201)
def invite(org_id):
    """Invite a batch ``{"invitations": [{"email", "role"}, ...]}``, all or nothing.

    201 ``{"items": [...]}`` in the order sent, each with its token (shown once). Raises
    ApiError 422 (body; undeclared role or an email twice, per item), 403 (over the policy's
    batch limit; or items the policy's ``invite`` refuses, per item), 409 (already a member
    or already invited, per item), 404.
    """
    body = load(InvitationBatchRequest)
    actor = acting()
    engine = engine_for(fresh_org(org_id))
    items = body["invitations"]
    limit = int(setting(engine, "invitation_batch_limit"))
    if len(items) > limit:
        raise ApiError(
            403,
            f"the {engine.style} policy allows at most {limit} invitations at "
            f"a time (invitation_batch_limit); this batch has {len(items)}, so none "
            "was sent",
            {"invitations": [f"at most {limit} at a time"]},
            title=FORBIDDEN,
        )
    roles = engine.roles("Organization")
    errors, seen = {}, {}
    for i, item in enumerate(items):
        if item["role"] not in roles:
            errors[f"invitations.{i}.role"] = [f"one of: {', '.join(roles)}"]
        key = User.email_key_of(item["email"])
        if key in seen:
            errors[f"invitations.{i}.email"] = [f"the same as invitations.{seen[key]}.email"]
        seen.setdefault(key, i)
    if errors:
        raise ApiError(422, f"invalid fields: {', '.join(errors)}; no invitation was sent", errors)
    lifetime = datetime.timedelta(hours=float(setting(engine, "invitation_lifetime_hours")))
    created = []
    with conflict_is_409(), transaction():
        Organization.lock(org_id)  # no concurrent invitation or member for the same email
        org = fresh_org(org_id)
        denied = {}
        for i, item in enumerate(items):
            reason = management_denial(actor, "invite", org, "Invitation", {"role": item["role"]})
            if reason is not None:
                denied[f"invitations.{i}.role"] = [reason]
        if denied:
            raise ApiError(
                403,
                f"{actor} may not send {len(denied)} of these {len(items)} "
                "invitations; none was sent",
                denied,
                title=FORBIDDEN,
            )
        keys = list(seen)
        members = {
            u.email_key
            for u in User.select(User.email_key)
            .join(Membership)
            .where((Membership.org == org_id) & (User.email_key.in_(keys)))
        }
        pending = {
            inv.email_key
            for inv in Invitation.select(Invitation.email_key).where(
                (Invitation.org == org_id)
                & (Invitation.email_key.in_(keys))
                & (Invitation.status == "pending")
                & (Invitation.expires_at > now())
            )
        }
        conflicts = {}
        for i, item in enumerate(items):
            key = User.email_key_of(item["email"])
            if key in members:
                conflicts[f"invitations.{i}.email"] = ["already a member of the organization"]
            elif key in pending:
                conflicts[f"invitations.{i}.email"] = ["already has a pending invitation"]
        if conflicts:
            raise ApiError(
                409,
                f"{len(conflicts)} of these {len(items)} emails are already "
                "members or invited; no invitation was sent",
                conflicts,
            )
        for item in items:
            token = secrets.token_urlsafe(32)
            inv = Invitation.create(
                id=f"inv-{uuid.uuid4().hex[:20]}",
                org=org_id,
                email=item["email"],
                email_key=User.email_key_of(item["email"]),
                role=item["role"],
                token_hash=hash_secret(token),
                status="pending",
                invited_by=actor,
                created_at=now(),
                expires_at=now() + lifetime,
            )
            audit(
                org_id, "invitation.create", f"invitation:{inv.id}", None, _audit_view(inv), actor
            )
            created.append(dump_invitation(inv, token))
    return {"items": created}, 201


@bp.get("/orgs/<org_id>/invitations")
@doc(query=InvitationListArgs, response=InvitationPage)
def list_invitations(org_id):
    """Invitations by id, ``?status=pending|accepted|expired|cancelled``, paginated; action
    ``view_invitations``. Raises ApiError 404, 403, 422."""
    actor = acting()
    args = list_args(InvitationListArgs)
    require(actor, "view_invitations", org_target(org_id), what=f"view the invitations of {org_id}")
    query = Invitation.select().where(Invitation.org == org_id)
    status = args["status"]
    if status == "pending":
        query = query.where((Invitation.status == "pending") & (Invitation.expires_at > now()))
    elif status == "expired":  # stored as pending; expired is pending past its time
        query = query.where((Invitation.status == "pending") & (Invitation.expires_at <= now()))
    elif status:
        query = query.where(Invitation.status == status)
    after = decode(args["cursor"]) if args["cursor"] else None
    if after is not None and not isinstance(after, str):
        raise ApiError(422, "the cursor is not one this service gave", {"cursor": ["invalid"]})
    return paginate(query, Invitation.id, args["limit"], after, dump_invitation)


@bp.delete("/orgs/<org_id>/invitations/<invitation_id>")
@doc(response=InvitationOut)
def cancel_invitation(org_id, invitation_id):
    """Cancel a pending invitation (``cancel`` on the Invitation); its token stops working.
    200 with the invitation. Raises ApiError 404, 403, 409 (not pending any more)."""
    actor = acting()
    fresh_org(org_id)
    with transaction():
        Organization.lock(org_id)
        org = fresh_org(org_id)
        inv = Invitation.get_or_none((Invitation.id == invitation_id) & (Invitation.org == org_id))
        if inv is None:
            raise ApiError(404, f"no invitation {invitation_id!r} in {org_id!r}")
        require_management(
            actor,
            "cancel",
            org,
            "Invitation",
            {"role": inv.role},
            what=f"cancel the invitation {invitation_id}",
        )
        status = inv.status_at(now())
        if status != "pending":
            raise ApiError(409, f"the invitation is {status}; only a pending one can be cancelled")
        before = _audit_view(inv)
        inv.status, inv.ended_at = "cancelled", now()
        inv.save()
        audit(org_id, "invitation.cancel", f"invitation:{inv.id}", before, _audit_view(inv), actor)
    return dump_invitation(inv)


def _usable(inv: Invitation) -> None:
    """Raises ApiError 410 unless the invitation is pending and not expired."""
    status = inv.status_at(now())
    if status != "pending":
        word = {"accepted": "was already used"}.get(status, f"is {status}")
        raise ApiError(410, f"the invitation {word}; ask for a new one")


# Facts of an accepted invitation and what to tell a person when the policy's answer
# changes with them (the policy decides; this only names the fact that made the difference).
ACCEPT_FACTS = {
    "email_matches": "the invitation was sent to another email address than the user's",
    "actor_in_other_org": "the user already belongs to another {style} organization, and this "
    "style does not merge accounts: they must leave it first",
}


@bp.post("/invitations/accept")
@doc(request=AcceptInvitationRequest, response=AcceptResponse)
def accept_invitation():
    """Accept an invitation as the user in the body (created if new). 200 with the
    membership. Raises ApiError 422, 403 (X-Actor-Id of another user; the policy's
    ``accept`` refuses, e.g. another email), 404 (unknown token), 410 (expired, cancelled or
    used), 409 (already a member; the email belongs to another user)."""
    body = load(AcceptInvitationRequest)
    person = body["user"]
    user_id = person["id"]
    acting_user(required=False, must_be=user_id)
    digest = hash_secret(body["token"])
    inv = Invitation.get_or_none(Invitation.token_hash == digest)
    if inv is None:
        raise ApiError(404, "no invitation has this token")
    _usable(inv)
    with conflict_is_409(), transaction():
        Organization.lock(inv.org_id)
        inv = Invitation.get_by_id(inv.id)  # read again under the lock: a token works once
        _usable(inv)
        org = fresh_org(inv.org_id)
        user = User.get_or_none(User.id == user_id)
        email_key = User.email_key_of(person["email"])
        if user is None:
            holder = User.get_or_none(User.email_key == email_key)
            if holder is not None:
                raise ApiError(
                    409,
                    f"the email {person['email']!r} belongs to another user",
                    {"user.email": ["taken"]},
                )
            user = User.create(
                id=user_id,
                email=person["email"],
                email_key=email_key,
                name=person["name"],
                created_at=now(),
            )
        in_other = (
            Membership.select()
            .join(Organization)
            .where(
                (Membership.user == user_id)
                & (Organization.style == org.style)
                & (Organization.id != org.id)
                & Organization.closed_at.is_null()
            )
            .exists()
        )
        # The invited email must be the user's, both as sent now and as stored for them.
        attrs = {
            "role": inv.role,
            "actor_in_other_org": in_other,
            "email_matches": email_key == inv.email_key == user.email_key,
        }
        reason = management_denial(user_id, "accept", org, "Invitation", attrs)
        if reason is not None:
            why = (
                []
                if would_allow(user_id, "accept", org, "Invitation", attrs)
                else [
                    text.format(style=org.style)
                    for fact, text in ACCEPT_FACTS.items()
                    if would_allow(
                        user_id, "accept", org, "Invitation", {**attrs, fact: not attrs[fact]}
                    )
                ]
            )
            raise ApiError(
                403,
                f"{user_id} may not accept this invitation: {'; '.join(why) or reason}",
                title=FORBIDDEN,
            )
        if Membership.get_or_none((Membership.org == org.id) & (Membership.user == user_id)):
            raise ApiError(409, f"{user_id} is already a member of {org.id}")
        membership = Membership.create(user=user_id, org=org.id, role=inv.role, created_at=now())
        before = _audit_view(inv)
        inv.status, inv.accepted_by, inv.ended_at = "accepted", user_id, now()
        inv.save()
        if user.default_org is None:
            User.update(default_org=org.id).where(User.id == user_id).execute()
        audit(
            org.id, "invitation.accept", f"invitation:{inv.id}", before, _audit_view(inv), user_id
        )
        audit(org.id, "member.add", f"user:{user_id}", None, {"role": inv.role}, user_id)
    touch_last_active(user_id)
    return {
        "org_id": org.id,
        "user_id": user_id,
        "role": membership.role,
        "status": "active",
        "invitation_id": inv.id,
        "joined_at": iso(membership.created_at),
    }
