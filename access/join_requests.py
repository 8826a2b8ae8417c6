"""Requests to join an organization: a user asks (naming a role, else the style's
``join_request_role``); the organization's admins approve, with that role or another, or
decline; a request not decided within the style's ``join_request_lifetime_hours`` expires.

The policy decides as for an invitation of that role, on the same ``Invitation``
management resource (no rule of its own): asking and being approved are ``accept`` by the
requesting user (shown ``email_matches`` true, since the user asks for themselves, and
``actor_in_other_org``: UP42's one account per user); approving is ``invite`` by the
approver, declining ``cancel``, each shown the role. When the user's email domain is a
verified domain of the organization set to ``auto`` (access/domains.py), asking joins at
once with the domain's role, if whoever configured the domain may still ``invite`` as it
(the domain carries their authority, as an invitation carries its inviter's); otherwise the
request waits for an admin. Each change is one unit of work, audited (its event follows),
with the user's row locked as accepting an invitation does.
"""

import datetime
import uuid

from marshmallow import fields, validate

from access import domains, mail, refusals
from access.context import Context
from access.decisions import require
from access.errors import Conflict, Forbidden, NotFound
from access.events import target_join_request, target_user
from access.invitations import invite_question
from access.orgs import declared_role, engine_for, iso, org_ref, org_target
from access.refusals import Question
from access.resources import create_personal
from access.shapes import Given, Shape, opt_str, opt_time
from access.targets import TargetBuilder
from access.uow import UnitOfWork
from authz.engine import StyleEngine
from authz.view import OrgRef
from models import Domain, JoinRequest, Membership, User
from models.join_requests import JOIN_REQUEST_STATUSES


class JoinRequestOut(Shape):
    GIVEN = frozenset({"status"})
    id = fields.String(required=True)
    org_id = fields.String(required=True)
    user_id = fields.String(required=True)
    email = fields.String(required=True)
    role = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(JOIN_REQUEST_STATUSES))
    via_domain = opt_str()
    message = fields.String(required=True)
    created_at = opt_time()
    expires_at = opt_time()
    decided_by = opt_str()
    ended_at = opt_time()


JOIN_REQUEST = JoinRequestOut()


def as_dict(jr: JoinRequest, now: datetime.datetime) -> dict:
    """The API form of a request (``JoinRequestOut``)."""
    return JOIN_REQUEST.answer(Given(jr, status=jr.status_at(now)))


def _audit_view(jr: JoinRequest) -> dict:
    return {
        "user_id": jr.user_id,
        "role": jr.role,
        "status": jr.status,
        "via_domain": jr.via_domain,
        "expires_at": iso(jr.expires_at),
    }


def _setting(engine: StyleEngine, name: str) -> object:
    """A setting of requests to join; a style that states none offers no requests (the
    AuthZEN ``todo`` scenario's). Raises Forbidden."""
    value = engine.setting(name)
    if value is None:
        raise Forbidden(
            f"the {engine.style} policy offers no requests to join (it states no {name})",
            policy=True,
        )
    return value


def joining_question(targets: TargetBuilder, org: OrgRef, user_id: str, role: str) -> Question:
    """What joining as ``role`` asks of the user: ``accept`` on an Invitation of that role
    sent to them (``email_matches``), with ``actor_in_other_org`` read now."""
    in_other = Membership.in_open_org_of_style(user_id, org.style, other_than=org.id)
    attrs = {"role": role, "email_matches": True, "actor_in_other_org": in_other}
    target = targets.management(org, "Invitation", attrs)
    return Question("accept", target, f"join {org.id} as {role}", of=user_id)


def _join(uow: UnitOfWork, ctx: Context, org: OrgRef, jr: JoinRequest, by: str | None) -> None:
    """Make the requesting user a member with the request's role, in ``uow``: the
    membership, the request approved, the audit, UP42's Workspace. Raises Conflict."""
    now = ctx.now()
    if Membership.holds(jr.user_id, org.id):
        raise Conflict(f"{jr.user_id} is already a member of {org.id}", {"user_id": ["a member"]})
    Membership.create(user=jr.user_id, org=org.id, role=jr.role, created_at=now)
    before = _audit_view(jr)
    jr.status, jr.decided_by, jr.ended_at = "approved", by, now
    jr.save()
    User.default_to(jr.user_id, org.id)
    uow.audit(
        org.id, "join_request.approve", target_join_request(jr.id), before, _audit_view(jr), by
    )
    member = {"role": jr.role, "via": "join_request"}
    uow.audit(org.id, "member.add", target_user(jr.user_id), None, member, by or jr.user_id)
    create_personal(uow, engine_for(ctx, org), org.id, jr.user_id)


def create(ctx: Context, user_id: str, org_id: str, role: str | None, message: str) -> dict:
    """The user ``user_id`` asks to join ``org_id`` (as ``role``, else the style's
    ``join_request_role``). Joins at once when their email's verified domain offers ``auto``
    and its configurer may still invite as its role. Returns the request (``approved`` when
    joined). Raises NotFound (user, org), Invalid (undeclared role), Forbidden (the policy's
    ``accept`` refuses: e.g. a UP42 user with another account), Conflict (a member already,
    or a request pending)."""
    user = User.find(user_id)
    if user is None:
        raise NotFound(f"no user {user_id!r}", {"X-Actor-Id": ["no such user"]})
    with UnitOfWork(ctx, org_id, lock_users=[user_id]) as uow:
        org = uow.org()
        engine = engine_for(ctx, org)
        now = ctx.now()
        offer = domains.offer_for(org_id, user.email_key)
        auto = offer is not None and offer.join_mode == "auto" and offer.join_role
        if role is not None:
            role = declared_role(engine, role, org=org)
        elif auto:
            role = str(offer.join_role)  # type: ignore[union-attr]
        else:
            role = declared_role(engine, str(_setting(engine, "join_request_role")))
        if Membership.holds(user_id, org_id):
            raise Conflict(f"{user_id} is already a member of {org_id}", {"user_id": ["a member"]})
        if JoinRequest.pending_of(org_id, user_id, now) is not None:
            raise Conflict(
                f"{user_id} already asked to join {org_id}", {"user_id": ["a request is pending"]}
            )
        uow.ask(user_id, [joining_question(uow.targets, org, user_id, role)])
        hours = float(_setting(engine, "join_request_lifetime_hours"))  # type: ignore[arg-type]
        jr = JoinRequest.create(
            id=f"jr-{uuid.uuid4().hex[:20]}",
            org=org_id,
            user_id=user_id,
            email=user.email,
            role=role,
            via_domain=offer.name if offer is not None else None,
            message=message,
            status="pending",
            created_at=now,
            expires_at=now + datetime.timedelta(hours=hours),
        )
        uow.audit(
            org_id,
            "join_request.create",
            target_join_request(jr.id),
            None,
            _audit_view(jr),
            user_id,
        )
        if auto and offer is not None and role == offer.join_role:
            lent = uow.refusal(user_id, _domain_question(uow.targets, org, offer))
            if lent is None:  # the domain's configurer may still invite as its role
                _join(uow, ctx, org, jr, None)
    return as_dict(jr, now)


def _domain_question(targets: TargetBuilder, org: OrgRef, offer: Domain) -> Question:
    """``invite`` as the domain's role, asked of whoever configured it, as they are now."""
    q = invite_question(targets, org, str(offer.join_role))
    return Question(q.action, q.target, q.what, of=offer.configured_by or "")


def _mail_decision(uow: UnitOfWork, jr: JoinRequest, by: str, now: datetime.datetime) -> None:
    """Queue the mail telling the requester their request was approved or declined."""
    org, decider = uow.org_row, User.find(by)
    assert org is not None  # locked on entering; uow.org() found it
    data = {
        "style": org.style,
        "org_id": org.id,
        "org_name": org.name,
        "decider_name": (decider.name or decider.id) if decider else by,
        "role": jr.role,
        "approved": jr.status == "approved",
    }
    mail.queue_notice(jr.email, "join_request_decided", data, now)


def _stored(org_id: str, request_id: str) -> JoinRequest:
    found = JoinRequest.of_org(org_id, request_id)
    if found is None:
        raise NotFound(f"no request to join {request_id!r} in {org_id!r}")
    return found


def _pending(jr: JoinRequest, now: datetime.datetime, verb: str) -> None:
    status = jr.status_at(now)
    if status != "pending":
        raise Conflict(f"the request is {status}; only a pending one can be {verb}")


def approve(ctx: Context, actor: str, org_id: str, request_id: str, role: str | None) -> dict:
    """Approve a pending request, as its role or ``role``: ``invite`` on an Invitation of
    that role by the actor, then ``accept`` by the user (as they are now). Returns the
    request, approved. Raises Invalid, NotFound, Forbidden, Conflict (not pending; already a
    member)."""
    user_id = _stored(org_id, request_id).user_id
    with UnitOfWork(ctx, org_id, lock_users=[user_id]) as uow:
        org = uow.org()
        jr = _stored(org_id, request_id)
        given = declared_role(engine_for(ctx, org), role or jr.role, org=org)
        uow.ask(actor, [invite_question(uow.targets, org, given)])
        now = ctx.now()
        _pending(jr, now, "approved")
        refused = uow.refusal(user_id, joining_question(uow.targets, org, user_id, given))
        if refused is not None:
            raise Forbidden(f"{user_id} may not join {org_id} as {given}: {refused}", policy=True)
        jr.role = given
        _join(uow, ctx, org, jr, actor)
        _mail_decision(uow, jr, actor, now)
    return as_dict(jr, now)


def decline(ctx: Context, actor: str, org_id: str, request_id: str) -> dict:
    """Decline a pending request: ``cancel`` on an Invitation of its role. Raises NotFound,
    Forbidden, Conflict (not pending)."""
    with UnitOfWork(ctx, org_id) as uow:
        org = uow.org()
        jr = _stored(org_id, request_id)
        target = uow.targets.management(org, "Invitation", {"role": jr.role})
        uow.ask(actor, [Question("cancel", target, f"decline the request {jr.id}")])
        now = ctx.now()
        _pending(jr, now, "declined")
        before = _audit_view(jr)
        jr.status, jr.decided_by, jr.ended_at = "declined", actor, now
        jr.save()
        uow.audit(
            org_id,
            "join_request.decline",
            target_join_request(jr.id),
            before,
            _audit_view(jr),
            actor,
        )
        _mail_decision(uow, jr, actor, now)
    return as_dict(jr, now)


def _require_view(ctx: Context, targets: TargetBuilder, actor: str, org_id: str) -> None:
    what = f"view the requests to join {org_id}"
    require(ctx.policy, targets, actor, "view_invitations", org_target(targets, org_id), what)


def list_page(
    ctx: Context, actor: str, org_id: str, status: str | None, limit: int, after: str | None
) -> dict:
    """Requests by id, by status; action ``view_invitations``. Raises NotFound, Forbidden."""
    _require_view(ctx, TargetBuilder(), actor, org_id)
    now = ctx.now()
    found = JoinRequest.page(org_id, status, now, limit, after)
    return {"items": [as_dict(jr, now) for jr in found.rows], "next": found.next}


def get(ctx: Context, actor: str, org_id: str, request_id: str) -> dict:
    """One request (``view_invitations``, or the requesting user's own). Raises NotFound,
    Forbidden."""
    jr = _stored(org_id, request_id)
    if jr.user_id != actor:
        _require_view(ctx, TargetBuilder(), actor, org_id)
    return as_dict(jr, ctx.now())


def expire_due(ctx: Context, limit: int = 500) -> int:
    """Mark the pending requests past their time ``expired``, each once, audited (actor:
    the service), one unit of work per organization. Returns how many."""
    now = ctx.now()
    marked = 0
    for org_id in JoinRequest.orgs_with_due(now, limit):
        with UnitOfWork(ctx, org_id) as uow:
            if uow.org_row is None:
                continue
            for jr in JoinRequest.due_in(org_id, now, limit):
                before = _audit_view(jr)
                jr.status, jr.ended_at = "expired", now
                jr.save()
                target = target_join_request(jr.id)
                uow.audit(org_id, "join_request.expire", target, before, _audit_view(jr))
                marked += 1
    return marked


def screen_refusals(
    ctx: Context, targets: TargetBuilder, actor: str, org_id: str, jr: dict, roles: list
) -> dict:
    """What the Requests list's buttons for the pending request ``jr`` would answer, asked
    as approving and declining ask (each a decision, logged; the write decides again):
    ``{"approve": {role: why not or None}, "decline": why not or None}``."""
    org = org_ref(targets, org_id)

    def approve_why(role: str) -> str | None:
        for q in (
            invite_question(targets, org, role),
            joining_question(targets, org, jr["user_id"], role),
        ):
            reason = refusals.denial(ctx.policy, targets, q.asker(actor), q.action, q.target)
            if reason is not None:
                return reason
        return None

    cancel = targets.management(org, "Invitation", {"role": jr["role"]})
    return {
        "approve": {r: approve_why(r) for r in roles},
        "decline": refusals.denial(ctx.policy, targets, actor, "cancel", cancel),
    }
