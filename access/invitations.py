"""Invitations: invite a batch, list by status, read one, cancel, resend, change
its role, accept, expire.

A token is returned once when the invitation is made (and once more when it is resent);
only its SHA-256 (``models.hash_secret``) is stored, and it is never logged. While it is
mailed, the token is derived from the deployment's key and a nonce kept with the queued mail
until it is sent (access/mail.py, access/derived.py); the mail is queued in the same unit
of work as the invitation. A token works once, until the lifetime the style's policy states
(``setting("invitation_lifetime_hours", ...)``), and only for the invited email
(case-insensitive). A batch is all or nothing: every item is checked (its role, the policy's
``invite``, no member or pending invitation with that email) before anything is written; a
batch with any refused item writes nothing and names each one. The expiry job
(``expire_due``) marks invitations past their time ``expired`` once, with its event.
"""

import datetime
import uuid

from access import mail
from access.context import Context
from access.decisions import require
from access.errors import Conflict, Forbidden, Gone, Invalid, NotFound
from access.events import target_invitation, target_user
from access.orgs import (
    conflict_is_409,
    declared_role,
    engine_for,
    iso,
    org_target,
    setting,
)
from access.refusals import Question, would_allow
from access.resources import create_personal
from access.shapes import INVITATION, Given
from access.targets import TargetBuilder
from access.uow import UnitOfWork
from authz.engine import StyleEngine
from authz.matrix import org_roles
from authz.view import OrgRef
from models import (
    Invitation,
    Membership,
    Organization,
    User,
    UserEmail,
    create_later,
    hash_secret,
)
from models.members import emails_taken


def as_dict(inv: Invitation, now: datetime.datetime, token: str | None = None) -> dict:
    """The API form of an invitation (access/shapes.py, ``InvitationOut``); ``token`` only
    in the answer that created it."""
    if token is None:
        return INVITATION.answer(Given(inv, status=inv.status_at(now)))
    return INVITATION.answer(Given(inv, status=inv.status_at(now), token=token))


def _audit_view(inv: Invitation) -> dict:
    """What the audit trail keeps of an invitation (never the token or its hash)."""
    return {
        "id": inv.id,
        "email": inv.email,
        "role": inv.role,
        "status": inv.status,
        "expires_at": iso(inv.expires_at),
        **({"membership_days": inv.membership_days} if inv.membership_days else {}),
    }


def _mail_data(org: Organization, inv: Invitation, inviter: User | None) -> dict:
    """What the invitation mail shows (never the token: access/mail.py derives it)."""
    return {
        "style": org.style,
        "org_id": org.id,
        "org_name": org.name,
        "inviter_id": inv.invited_by,
        "inviter_name": (inviter.name or inviter.id) if inviter else (inv.invited_by or org.name),
        "email": inv.email,
        "role": inv.role,
        "expires_at": iso(inv.expires_at),
    }


def invite_question(targets: TargetBuilder, org: OrgRef, role: str) -> Question:
    """What inviting someone as ``role`` asks the policy: ``invite`` on an Invitation
    showing that role (by ``invite`` for each item of a batch, by a preview of an
    Invitation, access/previews.py)."""
    target = targets.management(org, "Invitation", {"role": role})
    return Question("invite", target, f"invite someone as {role} to {org.id}")


PENDING = "already has a pending invitation"


def taken(org_id: str, keys: list, now: datetime.datetime) -> dict:
    """``{email key: why it cannot be invited}`` for those of ``keys`` that already are a
    member of the org or have a pending invitation there (a 409 for ``invite``)."""
    why = {"member": "already a member of the organization", "pending": PENDING}
    return {key: why[kind] for key, kind in emails_taken(org_id, keys, now).items()}


def stored(org_id: str, invitation_id: str) -> Invitation:
    """The invitation ``invitation_id`` of the org. Raises NotFound."""
    inv = Invitation.of_org(org_id, invitation_id)
    if inv is None:
        raise NotFound(f"no invitation {invitation_id!r} in {org_id!r}")
    return inv


def stored_question(targets: TargetBuilder, org: OrgRef, action: str, inv: Invitation) -> Question:
    """What ``cancel`` or resending (``invite``) a stored invitation asks the policy: the
    action on an Invitation showing its stored role."""
    target = targets.management(org, "Invitation", {"role": inv.role})
    verb = "cancel" if action == "cancel" else "resend"
    return Question(action, target, f"{verb} the invitation {inv.id}")


def cancellable(inv: Invitation, now: datetime.datetime) -> None:
    """Raises Conflict unless the invitation is pending."""
    status = inv.status_at(now)
    if status != "pending":
        raise Conflict(f"the invitation is {status}; only a pending one can be cancelled")


def resendable(org_id: str, inv: Invitation, now: datetime.datetime) -> None:
    """Raises Conflict unless the invitation is pending or expired, and its email is
    neither a member of the org nor invited again since."""
    status = inv.status_at(now)
    if status not in ("pending", "expired"):
        raise Conflict(f"the invitation is {status}; only a pending or expired one can be resent")
    if inv.invited_again(now) or Membership.email_keys_in(org_id, [inv.email_key]):
        raise Conflict(
            f"{inv.email} is already a member of {org_id} or has a newer invitation",
            {"email": ["already a member or invited"]},
        )


def invite(ctx: Context, actor: str, org_id: str, items: list) -> list:
    """Invite a batch ``[{"email", "role"}, ...]``, all or nothing. Returns the invitations
    in the order sent, each with its token (shown once). Raises Invalid (undeclared
    role or an email twice, per item), Forbidden (over the policy's batch limit; or items the
    policy's ``invite`` refuses, per item), Conflict (already a member or invited, per item),
    NotFound.
    """
    created = []
    # The inviter's membership and user row are read in the lock's round trip (their name
    # goes in the mail).
    with conflict_is_409(), UnitOfWork(ctx, org_id, member=actor) as uow:
        org = uow.org()  # the locked row: its style names the engine, no read before the lock
        engine = engine_for(ctx, org)
        keys = _checked_batch(engine, items, org)  # its own roles as they are under the lock
        lifetime = datetime.timedelta(hours=float(setting(engine, "invitation_lifetime_hours")))
        now = ctx.now()
        denied = {}
        for i, item in enumerate(items):
            reason = uow.refusal(actor, invite_question(uow.targets, org, item["role"]))
            if reason is not None:
                denied[f"invitations.{i}.role"] = [reason]
        if denied:
            raise Forbidden(
                f"{actor} may not send {len(denied)} of these {len(items)} "
                "invitations; none was sent",
                denied,
                policy=True,
            )
        _refuse_taken(org_id, items, keys, now)
        inviter = uow.member.user if uow.member is not None else User.find(actor)
        assert uow.org_row is not None  # locked on entering; uow.org() found it
        for item in items:
            inv, token = _new_invitation(org_id, item, actor, now, lifetime)
            mail.queue_invitation(
                inv, token[1], _mail_data(uow.org_row, inv, inviter), now, new=True
            )
            uow.audit(
                org_id,
                "invitation.create",
                target_invitation(inv.id),
                None,
                _audit_view(inv),
                actor,
            )
            created.append(as_dict(inv, now, token[0]))
    return created


def _checked_batch(engine: StyleEngine, items: list, org: OrgRef) -> list:
    """The email keys of a batch, each once. Raises Forbidden (over the policy's batch
    limit), Invalid (a role neither declared nor defined by ``org``, or an email twice, per
    item)."""
    limit = int(setting(engine, "invitation_batch_limit"))
    if len(items) > limit:
        raise Forbidden(
            f"the {engine.style} policy allows at most {limit} invitations at "
            f"a time (invitation_batch_limit); this batch has {len(items)}, so none "
            "was sent",
            {"invitations": [f"at most {limit} at a time"]},
            policy=True,
        )
    roles = org_roles(engine, org.custom_roles)
    seen: dict[str, int]  # email key -> the first item with it
    errors, seen = {}, {}
    for i, item in enumerate(items):
        if item["role"] not in roles:
            errors[f"invitations.{i}.role"] = [f"one of: {', '.join(roles)}"]
        key = User.email_key_of(item["email"])
        if key in seen:
            errors[f"invitations.{i}.email"] = [f"the same as invitations.{seen[key]}.email"]
        seen.setdefault(key, i)
    if errors:
        raise Invalid(f"invalid fields: {', '.join(errors)}; no invitation was sent", errors)
    return list(seen)


def _refuse_taken(org_id: str, items: list, keys: list, now: datetime.datetime) -> None:
    """Raises Conflict naming each item whose email is a member or invited already."""
    found = taken(org_id, keys, now)
    conflicts = {}
    for i, item in enumerate(items):
        problem = found.get(User.email_key_of(item["email"]))
        if problem is not None:
            conflicts[f"invitations.{i}.email"] = [problem]
    if conflicts:
        raise Conflict(
            f"{len(conflicts)} of these {len(items)} emails are already "
            "members or invited; no invitation was sent",
            conflicts,
        )


def _new_invitation(
    org_id: str, item: dict, actor: str, now: datetime.datetime, lifetime: datetime.timedelta
) -> tuple[Invitation, tuple]:
    """Write one invitation of a batch. Returns it and (its token, the mail's nonce)."""
    inv_id = f"inv-{uuid.uuid4().hex[:20]}"
    token, nonce = mail.new_token(inv_id)
    inv = create_later(  # written with the unit's next round trip (nothing reads it back)
        Invitation,
        id=inv_id,
        org=org_id,
        email=item["email"],
        email_key=User.email_key_of(item["email"]),
        role=item["role"],
        token_hash=hash_secret(token),
        status="pending",
        invited_by=actor,
        created_at=now,
        expires_at=now + lifetime,
        membership_days=item.get("membership_days"),
    )
    return inv, (token, nonce)


def list_page(
    ctx: Context, actor: str, org_id: str, status: str | None, limit: int, after: str | None
) -> dict:
    """Invitations by id, by status (pending, accepted, expired, cancelled), after the id
    ``after``; action ``view_invitations``. Returns ``{"items", "next"}``. Raises NotFound,
    Forbidden."""
    targets = TargetBuilder()
    require(
        ctx.policy,
        targets,
        actor,
        "view_invitations",
        org_target(targets, org_id),
        what=f"view the invitations of {org_id}",
    )
    now = ctx.now()
    found = Invitation.page(org_id, status, now, limit, after)
    return {"items": [as_dict(inv, now) for inv in found.rows], "next": found.next}


def cancel(ctx: Context, actor: str, org_id: str, invitation_id: str) -> dict:
    """Cancel a pending invitation (``cancel`` on the Invitation); its token stops working.
    Raises NotFound, Forbidden, Conflict (not pending any more)."""
    with UnitOfWork(ctx, org_id) as uow:
        org = uow.org()
        inv = stored(org_id, invitation_id)
        uow.ask(actor, [stored_question(uow.targets, org, "cancel", inv)])
        now = ctx.now()
        cancellable(inv, now)
        before = _audit_view(inv)
        inv.status, inv.ended_at = "cancelled", now
        inv.save()
        mail.drop_pending(inv.id, "the invitation was cancelled")
        uow.audit(
            org_id, "invitation.cancel", target_invitation(inv.id), before, _audit_view(inv), actor
        )
    assert inv is not None  # found in the block, which swallows no exception
    return as_dict(inv, now)


def usable(inv: Invitation, now: datetime.datetime) -> None:
    """Raises Gone unless the invitation is pending and not expired."""
    status = inv.status_at(now)
    if status != "pending":
        word = {"accepted": "was already used"}.get(status, f"is {status}")
        raise Gone(f"the invitation {word}; ask for a new one")


# Facts of an accepted invitation and what to tell a person when the policy's answer
# changes with them (the policy decides; this only names the fact that made the difference).
ACCEPT_FACTS = {
    "email_matches": "the invitation was sent to another email address than the user's",
    "actor_in_other_org": "the user already belongs to another {style} organization, and this "
    "style does not merge accounts: they must leave it first",
}


def accept_facts(
    org: OrgRef, inv: Invitation, user_id: str, email_key: str, stored_key: str
) -> dict:
    """What ``accept`` on an Invitation shows the policy, read now: its stored role, whether
    the user belongs to another open organization of the style, and whether the invited
    email is the user's, both as sent now (``email_key``) and as stored for them
    (``stored_key``). The write calls it under its unit's locks, a preview of an
    Invitation (access/previews.py) with the stored email as both."""
    in_other = Membership.in_open_org_of_style(user_id, org.style, other_than=org.id)
    return {
        "role": inv.role,
        "actor_in_other_org": in_other,
        "email_matches": email_key == inv.email_key == stored_key,
    }


def inviter_question(targets: TargetBuilder, org: OrgRef, inv: Invitation) -> Question:
    """What accepting also asks: ``invite`` on the invitation, of its inviter as they are
    now (removed, demoted): an invitation carries its inviter's authority."""
    target = targets.management(org, "Invitation", {"role": inv.role})
    return Question("invite", target, "accept this invitation", of=inv.invited_by or "")


def accept(ctx: Context, token: str, person: dict) -> dict:
    """Accept an invitation as ``person`` ({"id", "email", "name"}, created if new).
    Returns the membership. Raises NotFound (unknown token), Gone (expired, cancelled or
    used), Forbidden (the policy's ``accept`` refuses, e.g. another email, or a style with one
    organization per user), Conflict (already a member; the email belongs to another user)."""
    user_id = person["id"]
    inv = Invitation.by_token_hash(hash_secret(token))
    if inv is None or (ctx.orgs is not None and inv.org_id not in ctx.orgs):
        raise NotFound("no invitation has this token")  # another org's: the key's scope
    usable(inv, ctx.now())
    # The user's row lock too: "one organization per user" rules span organizations, and
    # every unit that could add this user anywhere (accepting, creating) takes it.
    with conflict_is_409(), UnitOfWork(ctx, inv.org_id, lock_users=[user_id]) as uow:
        inv = Invitation.get_by_id(inv.id)  # read again under the lock: a token works once
        now = ctx.now()
        usable(inv, now)
        org = uow.org()
        user = _accepting_user(person, now)
        email_key = User.email_key_of(person["email"])
        _require_accept(ctx, uow, org, inv, user_id, email_key, user.email_key)
        if Membership.holds(user_id, org.id):
            raise Conflict(f"{user_id} is already a member of {org.id}")
        lapses = now + datetime.timedelta(days=inv.membership_days) if inv.membership_days else None
        membership = Membership.create(
            user=user_id, org=org.id, role=inv.role, created_at=now, expires_at=lapses
        )
        before = _audit_view(inv)
        inv.status, inv.accepted_by, inv.ended_at = "accepted", user_id, now
        inv.save()
        User.default_to(user_id, org.id)
        mail.drop_pending(inv.id, "the invitation was accepted")
        uow.audit(
            org.id,
            "invitation.accept",
            target_invitation(inv.id),
            before,
            _audit_view(inv),
            user_id,
        )
        uow.audit(org.id, "member.add", target_user(user_id), None, {"role": inv.role}, user_id)
        create_personal(uow, engine_for(ctx, org), org.id, user_id)  # UP42: their Workspace
    return {
        "org_id": org.id,
        "user_id": user_id,
        "role": membership.role,
        "status": "active",
        "invitation_id": inv.id,
        "joined_at": iso(membership.created_at),
    }


def _accepting_user(person: dict, now: datetime.datetime) -> User:
    """The user accepting (``person``), created when new. Raises Conflict (a new user's
    email belongs to another user)."""
    user_id = person["id"]
    user = User.find(user_id)
    if user is not None:
        return user
    email_key = User.email_key_of(person["email"])
    if User.by_email_key(email_key) is not None:
        raise Conflict(
            f"the email {person['email']!r} belongs to another user",
            {"user.email": ["taken"]},
        )
    user = User.create(
        id=user_id,
        email=person["email"],
        email_key=email_key,
        name=person["name"],
        created_at=now,
    )
    UserEmail.remember(user_id, email_key)
    return user


def _require_accept(
    ctx: Context,
    uow: UnitOfWork,
    org: OrgRef,
    inv: Invitation,
    user_id: str,
    email_key: str,
    stored_key: str,
) -> None:
    """Ask the policy ``accept`` (naming the fact that made the difference when it
    refuses), then ``invite`` of the inviter as they are now. Raises Forbidden."""
    attrs = accept_facts(org, inv, user_id, email_key, stored_key)
    reason = uow.denial(user_id, "accept", "Invitation", attrs)
    if reason is not None:

        def what_if(changed: dict) -> bool:
            return would_allow(
                ctx.policy, uow.targets, user_id, "accept", org, "Invitation", changed
            )

        why = (
            []
            if what_if(attrs)
            else [
                text.format(style=org.style)
                for fact, text in ACCEPT_FACTS.items()
                if what_if({**attrs, fact: not attrs[fact]})
            ]
        )
        raise Forbidden(
            f"{user_id} may not accept this invitation: {'; '.join(why) or reason}",
            policy=True,
        )
    # It carries its inviter's authority: the policy is asked again whether the inviter,
    # as they are now (removed, demoted), may send it.
    lent = uow.refusal(user_id, inviter_question(uow.targets, org, inv))
    if lent is not None:
        raise Forbidden(
            f"{user_id} may not accept this invitation: it was sent by {inv.invited_by}, "
            f"who may no longer send it ({lent}); ask for it to be sent again",
            policy=True,
        )


def get(ctx: Context, actor: str, org_id: str, invitation_id: str) -> dict:
    """One invitation of the org; action ``view_invitations``. Raises NotFound, Forbidden."""
    targets = TargetBuilder()
    require(
        ctx.policy,
        targets,
        actor,
        "view_invitations",
        org_target(targets, org_id),
        what=f"view the invitations of {org_id}",
    )
    return as_dict(stored(org_id, invitation_id), ctx.now())


def resend(ctx: Context, actor: str, org_id: str, invitation_id: str) -> dict:
    """Send a pending or expired invitation again: a new token (the old one stops working),
    its lifetime starting again, a new mail, audited. The policy's ``invite`` on the
    Invitation decides, as for inviting with its role. Returns the invitation with its new
    token (shown once). Raises NotFound, Forbidden, Conflict (accepted or cancelled; the email is
    invited again or already a member)."""
    with conflict_is_409(), UnitOfWork(ctx, org_id) as uow:
        org = uow.org()
        inv = stored(org_id, invitation_id)
        uow.ask(actor, [stored_question(uow.targets, org, "invite", inv)])
        now = ctx.now()
        resendable(org_id, inv, now)
        engine = engine_for(ctx, org)
        lifetime = datetime.timedelta(hours=float(setting(engine, "invitation_lifetime_hours")))
        before = _audit_view(inv)
        token, nonce = mail.new_token(inv.id)
        inv.token_hash = hash_secret(token)
        inv.status, inv.ended_at, inv.expires_at = "pending", None, now + lifetime
        inv.invited_by = actor  # it carries the authority of whoever sent it last
        inv.save()
        inviter = User.find(actor)
        assert uow.org_row is not None  # locked on entering; uow.org() found it
        mail.queue_invitation(inv, nonce, _mail_data(uow.org_row, inv, inviter), now)
        uow.audit(
            org_id, "invitation.resend", target_invitation(inv.id), before, _audit_view(inv), actor
        )
    assert inv is not None  # found in the block, which swallows no exception
    return as_dict(inv, now, token)


def role_change_plan(
    ctx: Context, targets: TargetBuilder, org: OrgRef, invitation_id: str, role: str
) -> tuple[Invitation, list[Question]]:
    """What giving a stored invitation the role ``role`` asks the policy: ``change_role`` on
    it, shown its stored role and ``to_role``. Raises Invalid (undeclared role), NotFound."""
    to_role = declared_role(engine_for(ctx, org), role, org=org)
    inv = stored(org.id, invitation_id)
    target = targets.management(org, "Invitation", {"role": inv.role, "to_role": to_role})
    what = f"change the role of the invitation {invitation_id} to {to_role}"
    return inv, [Question("change_role", target, what)]


def role_changeable(inv: Invitation, now: datetime.datetime) -> None:
    """Raises Conflict unless the invitation is pending."""
    status = inv.status_at(now)
    if status != "pending":
        raise Conflict(f"the invitation is {status}; only a pending one can change its role")


def change_role(ctx: Context, actor: str, org_id: str, invitation_id: str, role: str) -> dict:
    """Give a pending invitation another role: ``change_role`` on the Invitation, shown its
    role now and ``to_role``. The invitation then carries the actor's authority
    (``invited_by`` becomes the actor), gets a new token (the old one stops working: its
    mail named the old role) and a fresh mail; its expiry stays. Returns the invitation with
    its new token (shown once); the same role changes nothing (no token). Raises Invalid (undeclared
    role), NotFound, Forbidden, Conflict (not pending any more)."""
    with UnitOfWork(ctx, org_id) as uow:
        org = uow.org()
        inv, questions = role_change_plan(ctx, uow.targets, org, invitation_id, role)
        to_role = role  # role_change_plan checked it is declared
        uow.ask(actor, questions)
        now = ctx.now()
        role_changeable(inv, now)
        if inv.role == to_role:
            return as_dict(inv, now)
        before = _audit_view(inv)
        token, nonce = mail.new_token(inv.id)
        inv.token_hash, inv.role, inv.invited_by = hash_secret(token), to_role, actor
        inv.save()
        inviter = User.find(actor)
        assert uow.org_row is not None  # locked on entering; uow.org() found it
        mail.queue_invitation(inv, nonce, _mail_data(uow.org_row, inv, inviter), now)
        uow.audit(
            org_id,
            "invitation.change_role",
            target_invitation(inv.id),
            before,
            _audit_view(inv),
            actor,
        )
    return as_dict(inv, now, token)


def expire_due(ctx: Context, limit: int = 500) -> int:
    """Mark the pending invitations past their time ``expired``, each once, with its audit
    entry and event (actor: none, the service), one unit of work per organization. Returns
    how many were marked. Any scheduler can run it (``flask invitations expire``); the
    worker thread of ``make run`` runs it every minute."""
    now = ctx.now()
    marked = 0
    for org_id in Invitation.orgs_with_due(now, limit):
        with UnitOfWork(ctx, org_id) as uow:
            if uow.org_row is None:
                continue
            for inv in Invitation.due_in(org_id, now, limit):
                before = _audit_view(inv)
                inv.status, inv.ended_at = "expired", now
                inv.save()
                mail.drop_pending(inv.id, "the invitation expired")
                uow.audit(
                    org_id, "invitation.expire", target_invitation(inv.id), before, _audit_view(inv)
                )
                marked += 1
    return marked
