"""Users as the calling service syncs them from its identity provider, their default
organization and the organizations they belong to, and erasing one (privacy requests)."""

import json
import operator
from functools import reduce
from typing import Any

from peewee import OP, Expression, Field, Value, fn

from access import derived
from access.context import Context
from access.errors import Conflict, Invalid, NotFound
from access.events import subject_of, target_invitation, target_user
from access.members import drop_memberships
from access.orgs import conflict_is_409, iso
from access.uow import UnitOfWork
from models import (
    AuditEvent,
    ConsoleSession,
    Event,
    IdempotentRequest,
    Invitation,
    Membership,
    Organization,
    OutboxMail,
    Resource,
    User,
    UserEmail,
)


def as_dict(user: User) -> dict:
    """The API form of a user."""
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "default_org_id": user.default_org,
        "last_active_at": iso(user.last_active_at),
        "created_at": iso(user.created_at),
    }


def user_or_404(user_id: str) -> User:
    """The user. Raises NotFound."""
    user = User.get_or_none(User.id == user_id)
    if user is None:
        raise NotFound(f"no user {user_id!r}")
    return user


def put(ctx: Context, user_id: str, email: str, name: str) -> dict:
    """Create or update a user's email and name. Raises Conflict (the email belongs to
    another user)."""
    email_key = User.email_key_of(email)
    with conflict_is_409(), UnitOfWork(ctx, lock_users=[user_id]) as uow:
        holder = User.get_or_none(User.email_key == email_key)
        if holder is not None and holder.id != user_id:
            raise Conflict(f"the email {email!r} belongs to another user", {"email": ["taken"]})
        user = User.get_or_none(User.id == user_id)
        created = user is None
        before = None if user is None else {"email": user.email, "name": user.name}
        if created:
            user = User.create(
                id=user_id, email=email, email_key=email_key, name=name, created_at=ctx.now()
            )
        else:
            assert user is not None  # not created: it was found
            user.email, user.email_key, user.name = email, email_key, name
            user.save()
        UserEmail.remember(user_id, email_key)  # every address they had, for an erasure
        after = {"email": user.email, "name": user.name}
        if before != after:
            uow.audit(
                None,
                "user.create" if created else "user.update",
                target_user(user_id),
                before,
                after,
                user_id,
            )
    assert user is not None  # found or created in the block, which swallows no exception
    return as_dict(user)


def set_default_org(ctx: Context, user_id: str, org_id: str | None) -> dict:
    """Set (or clear, with None) the default organization, which must be one the user
    belongs to. Raises Invalid (not a member of it), NotFound."""
    with UnitOfWork(ctx, org_id, lock_users=[user_id]) as uow:
        user = user_or_404(user_id)
        if (
            org_id is not None
            and not Membership.select()
            .where((Membership.user == user_id) & (Membership.org == org_id))
            .exists()
        ):
            raise Invalid(
                f"{user_id} is not a member of {org_id!r}",
                {"default_org_id": ["must be an organization the user belongs to"]},
            )
        before = user.default_org
        user.default_org = org_id
        user.save()
        if before != org_id:
            uow.audit(
                None,
                "user.default_org",
                target_user(user_id),
                {"default_org_id": before},
                {"default_org_id": org_id},
                user_id,
            )
    return as_dict(user)


def orgs_page(
    user_id: str, limit: int, after: str | None, orgs: frozenset[str] | None = None
) -> dict:
    """The organizations the user belongs to (of ``orgs`` only, when given: an API key's
    scope), each with the user's role, by id, after the id ``after``. Returns ``{"items",
    "next"}``. Raises NotFound."""
    user = user_or_404(user_id)
    query = (
        Membership.select(Membership, Organization)
        .join(Organization)
        .where(Membership.user == user_id)
    )
    if orgs is not None:
        query = query.where(Organization.id.in_(sorted(orgs)))
    if after is not None:
        query = query.where(Organization.id > after)
    rows = list(query.order_by(Organization.id).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        {
            "id": m.org.id,
            "name": m.org.name,
            "style": m.org.style,
            "role": m.role,
            "closed_at": iso(m.org.closed_at),
            "is_default": m.org.id == user.default_org,
        }
        for m in rows
    ]
    return {"items": items, "next": rows[-1].org.id if more else None}


def directory(
    q: str | None, limit: int, after: str | None, orgs: frozenset[str] | None = None
) -> dict:
    """Users by id with their names and emails, those whose id, name or email contains
    ``q`` when given, after the id ``after``: the console's acting-user picker (a service
    key may act as any user, as ``X-Actor-Id`` does; a key bound to ``orgs``: their
    members only). Returns ``{"items", "next"}``."""
    query = User.select(User.id, User.name, User.email)
    if orgs is not None:
        members = Membership.select(Membership.user).where(Membership.org.in_(sorted(orgs)))
        query = query.where(User.id.in_(members))
    if q:
        query = query.where(User.id.contains(q) | User.name.contains(q) | User.email.contains(q))
    if after is not None:
        query = query.where(User.id > after)
    rows = list(query.order_by(User.id).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    items = [{"id": u.id, "name": u.name, "email": u.email} for u in rows]
    return {"items": items, "next": rows[-1].id if more else None}


# ---------------------------------------------------------------- erasure
class _Retry(Exception):
    """The user joined another organization while the erasure waited for its locks."""


def erase(ctx: Context, user_id: str) -> dict:
    """Erase a user: their memberships and grants (as a removal drops them, each audited
    with the grants it drops), their pending invitations, their profile, and every other
    mention of them, except that the audit trail and the events keep their entries with the
    user replaced by a stable pseudonym (``access.derived.pseudonym``).

    Refused (409, naming the orgs) when the user holds the last top role (the policy's
    ``creator_role``) of an open organization: it must not be left without one. Locks every
    organization concerned (sorted) and then the user, as every unit of work locks an
    organization before a user. Returns ``{"user_id": pseudonym, ...}``. Raises NotFound.
    """
    for _ in range(5):
        try:
            return _erase(ctx, user_id)
        except _Retry:
            continue
    raise Conflict(
        f"{user_id} kept joining organizations during the erasure; try again", retryable=True
    )


def _addresses(user: User) -> tuple[set, set]:
    """(every address the user has had, those of them no other user holds now): the first
    are forgotten in the user's own records, the second wherever they appear."""
    own = {user.email_key} | UserEmail.of(user.id)
    own |= {
        i.email_key
        for i in Invitation.select(Invitation.email_key).where(Invitation.accepted_by == user.id)
    }
    taken = {
        u.email_key
        for u in User.select(User.email_key).where(
            User.email_key.in_(sorted(own)) & (User.id != user.id)
        )
    }
    return own, own - taken


def _orgs_of(user: User) -> list:
    member_of = {
        m.org_id for m in Membership.select(Membership.org).where(Membership.user == user.id)
    }
    invited_to = {
        i.org_id
        for i in Invitation.select(Invitation.org).where(
            Invitation.email_key.in_(sorted(_addresses(user)[1]))
            | (Invitation.invited_by == user.id)
            | (Invitation.accepted_by == user.id)
        )
    }
    # Every org whose rows the erasure changes, so it locks them all before the user (as
    # every unit of work does): ownerships and creators in orgs they have left too.
    owning = {
        r.org_id for r in Resource.select(Resource.org).where(Resource.owner == user.id).distinct()
    }
    created = {
        o.id for o in Organization.select(Organization.id).where(Organization.created_by == user.id)
    }
    return sorted(member_of | invited_to | owning | created)


def _erase(ctx: Context, user_id: str) -> dict:
    org_ids = _orgs_of(user_or_404(user_id))
    with UnitOfWork(ctx) as uow:
        for org_id in org_ids:
            Organization.lock(org_id)
        user = User.lock(user_id)
        if user is None:
            raise NotFound(f"no user {user_id!r}")
        if not set(_orgs_of(user)) <= set(org_ids):
            raise _Retry
        memberships = list(
            Membership.select(Membership, Organization)
            .join(Organization)
            .where(Membership.user == user_id)
            .order_by(Organization.id)
        )
        last = []
        for m in memberships:
            if m.org.closed_at is not None or m.org.style not in ctx.policy.styles:
                continue
            top = ctx.policy.engine(m.org.style).setting("creator_role")
            if m.role == top and Membership.is_last_of_role(m.org.id, user_id, top):
                last.append(m.org.id)
        if last:
            raise Conflict(
                f"{user_id} is the last holder of the top role of {', '.join(last)}; give "
                "that role to someone else there (or close the organization) first",
                {"user_id": [f"last top role of {o}" for o in last]},
            )
        pseudonym = derived.pseudonym(user_id)
        own, addresses = _addresses(user)
        names = _Names(user, pseudonym, addresses)
        # 1. What a removal drops, organization by organization, audited under the pseudonym.
        for m in memberships:
            dropped = drop_memberships(m.org.id, [m])
            before = {"role": m.role, "grants": dropped.get(user_id, [])}
            uow.audit(
                m.org.id,
                "member.remove",
                target_user(pseudonym),
                before,
                {"reason": "erased"},
                None,
            )
        # 2. Pending invitations to any of their addresses: removed, with their queued mails.
        pending = list(
            Invitation.select().where(
                Invitation.email_key.in_(sorted(addresses)) & (Invitation.status == "pending")
            )
        )
        for inv in pending:
            view = {"id": inv.id, "email": names.email, "role": inv.role, "status": "pending"}
            OutboxMail.delete().where(OutboxMail.invitation_id == inv.id).execute()
            inv.delete_instance()
            uow.audit(
                inv.org_id,
                "invitation.cancel",
                target_invitation(inv.id),
                view,
                {**view, "status": "cancelled", "reason": "erased"},
                None,
            )
        # 3. Every other mention: invitations' history (those to any of their addresses, and
        # those they accepted), mails, kept answers, ownerships, creators, the history.
        theirs = Invitation.email_key.in_(sorted(addresses)) | (Invitation.accepted_by == user_id)
        mailed = [i.id for i in Invitation.select(Invitation.id).where(theirs)]
        Invitation.update(email=names.email, email_key=names.email).where(theirs).execute()
        Invitation.update(accepted_by=pseudonym).where(Invitation.accepted_by == user_id).execute()
        Invitation.update(invited_by=pseudonym).where(Invitation.invited_by == user_id).execute()
        OutboxMail.delete().where(
            fn.LOWER(OutboxMail.recipient).in_(sorted(addresses))
            | OutboxMail.invitation_id.in_(mailed)
        ).execute()
        for queued in OutboxMail.select().where(_mentions(OutboxMail.data, user_id)):
            if queued.data.get("inviter_id") == user_id:  # "<pseudonym> invited you"
                queued.data = {**queued.data, "inviter_id": pseudonym, "inviter_name": pseudonym}
                queued.save()
        unowned = Resource.update(owner=None).where(Resource.owner == user_id).execute()
        Organization.update(created_by=pseudonym).where(
            Organization.created_by == user_id
        ).execute()
        ConsoleSession.update(actor=None).where(ConsoleSession.actor == user_id).execute()
        User.update(default_org=None).where(User.id == user_id).execute()
        user.delete_instance()
        UserEmail.delete().where(UserEmail.user_id == user_id).execute()
        tags = [f" {derived.subject_tag(value)} " for value in (user_id, *sorted(own))]
        kept = [IdempotentRequest.subjects.contains(tag) for tag in tags]
        IdempotentRequest.delete().where(reduce(operator.or_, kept)).execute()
        # 4. The audit trail and the events keep their entries, naming the pseudonym.
        audited = _pseudonymise(AuditEvent, names, "target")
        evented = _pseudonymise(Event, names, "subject")
        after = {
            "orgs_left": [m.org.id for m in memberships],
            "invitations_removed": len(pending),
            "resources_unowned": unowned,
        }
        uow.audit(None, "user.erase", target_user(pseudonym), None, after, None)
    return {
        "user_id": pseudonym,
        **after,
        "audit_entries_pseudonymised": audited,
        "events_pseudonymised": evented,
    }


def _mentions(field: Field, text: str) -> Expression:
    """Rows whose JSON column ``field`` holds ``text`` somewhere, case-insensitively (a
    superset: the rows are then changed value by value). The pattern is given as a plain
    value: the field's own conversion would JSON-encode it."""
    needle = json.dumps(text)[1:-1]  # as stored: non-ASCII escaped
    return Expression(field, OP.ILIKE, Value(f"%{needle}%", converter=False))


class _Names:
    """The erased user's identifiers and their replacements."""

    def __init__(self, user: User, pseudonym: str, addresses: set) -> None:
        self.user_id, self.pseudonym = user.id, pseudonym
        self.email = f"{pseudonym}@erased.invalid"
        # Every address of theirs that no other user holds now (a record of the user's own
        # profile replaces its "email" whatever it is: ``replace(personal=True)``).
        self.emails = {user.email.lower(), *addresses}
        self.name = user.name
        self.needles = [user.id, *sorted(self.emails)]

    def replace(self, value: Any, personal: bool = False) -> Any:
        """``value`` with every string naming the user replaced; ``personal``: inside a
        record of the user's own profile, where ``name`` is theirs too."""
        if isinstance(value, dict):
            mine = {"name": self.pseudonym, "email": self.email} if personal else {}
            return {
                k: mine[k] if k in mine and value[k] else self.replace(v, personal)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.replace(v, personal) for v in value]
        if isinstance(value, str):
            if value == self.user_id:
                return self.pseudonym
            if value.lower() in self.emails:
                return self.email
        return value


# ``model``: AuditEvent or Event; which columns are read depends on ``target_field``.
def _pseudonymise(model: type[Any], names: _Names, target_field: str) -> int:
    """Replace the user in every row of ``model`` (the audit trail or the events) that
    names them: as actor, in the target or subject, or anywhere in before and after."""
    clause = model.actor == names.user_id
    for needle in names.needles:
        clause |= _mentions(model.before, needle) | _mentions(model.after, needle)
        if target_field == "subject":
            clause |= _mentions(model.subject, needle)
    if target_field == "target":
        clause |= model.target.contains(names.user_id)
    count = 0
    pk = model._meta.primary_key
    # Read every row first: updating a table while a cursor walks it skips rows on SQLite.
    for row in list(model.select().where(clause).order_by(pk)):
        subject = row.target if target_field == "target" else row.subject
        own = _names_user(subject, names.user_id)
        changes = {
            "before": names.replace(row.before, own),
            "after": names.replace(row.after, own),
            "actor": names.pseudonym if row.actor == names.user_id else row.actor,
        }
        if target_field == "target":
            changes["target"] = _retarget(row.target, names)
        else:
            changes["subject"] = names.replace(row.subject)
        model.update(**changes).where(pk == getattr(row, pk.name)).execute()
        count += 1
    return count


def _names_user(subject: str | dict | None, user_id: str) -> bool:
    """Whether a target or subject is the user themselves (their profile's records)."""
    if isinstance(subject, str):
        subject = subject_of(subject)
    if not subject:
        return False
    return subject.get("kind") == "user" and subject.get("id") == user_id


def _retarget(target: str | None, names: _Names) -> str | None:
    """The target with the user replaced, compared as text (not parsed: an id may hold a
    ``/``)."""
    if not target:
        return target
    if target == f"user:{names.user_id}":
        return target_user(names.pseudonym)
    if target.startswith("grant:") and target.endswith("/" + names.user_id):
        return target[: -len(names.user_id)] + names.pseudonym
    return target
