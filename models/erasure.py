"""What erasing a user (access/users.py) reads and changes across tables: every row that
names the user, their addresses or their id, besides their memberships and grants
(models/members.py)."""

import json
from typing import Any

from peewee import OP, Expression, Field, Value, fn

from models.audit import AuditEvent
from models.console import ConsoleSession
from models.domains import Domain
from models.idempotency import IdempotentRequest
from models.join_requests import JoinRequest
from models.orgs import Invitation, Membership, Organization
from models.outbox import Event, OutboxMail
from models.resources import Resource
from models.users import User, UserEmail


def addresses(user: User) -> tuple[set, set]:
    """(every address the user has had, those of them no other user holds now)."""
    own = {user.email_key} | UserEmail.of(user.id)
    accepted = Invitation.select(Invitation.email_key).where(Invitation.accepted_by == user.id)
    own |= {i.email_key for i in accepted}
    return own, own - User.holding(own, user.id)


def orgs_touched(user_id: str, free: set) -> set[str]:
    """Every organization whose rows erasing ``user_id`` changes (``free``: their addresses
    no other user holds): memberships, invitations to those addresses, sent or accepted by
    them, resources they own, organizations they created."""
    mine = (
        Invitation.email_key.in_(sorted(free))
        | (Invitation.invited_by == user_id)
        | (Invitation.accepted_by == user_id)
    )
    invited_to = {i.org_id for i in Invitation.select(Invitation.org).where(mine)}
    owned = Resource.select(Resource.org).where(Resource.owner == user_id).distinct()
    created = Organization.select(Organization.id).where(Organization.created_by == user_id)
    return (
        Membership.org_ids_of(user_id)
        | invited_to
        | {r.org_id for r in owned}
        | {o.id for o in created}
    )


def pending_invitations(keys: set) -> list[Invitation]:
    """The pending invitations to any of the addresses ``keys``."""
    pending = Invitation.email_key.in_(sorted(keys)) & (Invitation.status == "pending")
    return list(Invitation.select().where(pending))


def remove_invitation(inv: Invitation) -> None:
    """Delete the invitation and its queued mails."""
    OutboxMail.delete().where(OutboxMail.invitation_id == inv.id).execute()
    inv.delete_instance()


def forget_invitations(user_id: str, keys: set, pseudonym: str, email: str) -> None:
    """The invitations to any of ``keys`` and those the user accepted name ``email``
    instead; those they sent or accepted name ``pseudonym``; the mails of these invitations
    and those to the addresses go; a queued mail naming the user as its inviter names the
    pseudonym."""
    theirs = Invitation.email_key.in_(sorted(keys)) | (Invitation.accepted_by == user_id)
    mailed = [i.id for i in Invitation.select(Invitation.id).where(theirs)]
    Invitation.update(email=email, email_key=email).where(theirs).execute()
    Invitation.update(accepted_by=pseudonym).where(Invitation.accepted_by == user_id).execute()
    Invitation.update(invited_by=pseudonym).where(Invitation.invited_by == user_id).execute()
    OutboxMail.delete().where(
        fn.LOWER(OutboxMail.recipient).in_(sorted(keys)) | OutboxMail.invitation_id.in_(mailed)
    ).execute()
    for queued in OutboxMail.select().where(mentions(OutboxMail.data, user_id)):
        if queued.data.get("inviter_id") == user_id:  # "<pseudonym> invited you"
            queued.data = {**queued.data, "inviter_id": pseudonym, "inviter_name": pseudonym}
            queued.save()


def forget_user(user: User, pseudonym: str, tags: list[str]) -> int:
    """Unown the user's resources, name ``pseudonym`` as the creator of their
    organizations, drop them from console sessions, delete their profile and addresses, and
    the kept answers whose subjects hold any of ``tags``. Returns how many resources they
    owned."""
    unowned = int(Resource.update(owner=None).where(Resource.owner == user.id).execute())
    Organization.update(created_by=pseudonym).where(Organization.created_by == user.id).execute()
    ConsoleSession.update(actor=None).where(ConsoleSession.actor == user.id).execute()
    User.clear_default([user.id])
    # Issue 28: their requests to join go; domains they added or set name the pseudonym.
    JoinRequest.delete().where(JoinRequest.user_id == user.id).execute()
    JoinRequest.update(decided_by=pseudonym).where(JoinRequest.decided_by == user.id).execute()
    Domain.update(added_by=pseudonym).where(Domain.added_by == user.id).execute()
    Domain.update(configured_by=pseudonym).where(Domain.configured_by == user.id).execute()
    user.delete_instance()
    UserEmail.forget(user.id)
    IdempotentRequest.forget_subjects(tags)
    return unowned


def mentions(field: Field, text: str) -> Expression:
    """Rows whose JSON column ``field`` holds ``text`` somewhere, case-insensitively (a
    superset: the rows are then changed value by value). The pattern is given as a plain
    value: the field's own conversion would JSON-encode it."""
    needle = json.dumps(text)[1:-1]  # as stored: non-ASCII escaped
    return Expression(field, OP.ILIKE, Value(f"%{needle}%", converter=False))


def naming(model: type[AuditEvent] | type[Event], user_id: str, needles: list[str]) -> list:
    """Every row of the audit trail or the events that names ``user_id``: as actor, in its
    target (audit) or subject (events), or anywhere in before and after (``needles``: the
    id and the addresses); read whole, by key (updating a table while a cursor walks it
    skips rows on SQLite)."""
    clause = model.actor == user_id
    for needle in needles:
        clause |= mentions(model.before, needle) | mentions(model.after, needle)
        if model is Event:
            clause |= mentions(Event.subject, needle)
    if model is AuditEvent:
        clause |= AuditEvent.target.contains(user_id)
    key: Any = model._meta.primary_key
    return list(model.select().where(clause).order_by(key))


def rewrite(row: AuditEvent | Event, changes: dict[str, Any]) -> None:
    """Write ``changes`` to the audit or event row ``row``."""
    model = type(row)
    key: Any = model._meta.primary_key
    model.update(**changes).where(key == getattr(row, key.name)).execute()
