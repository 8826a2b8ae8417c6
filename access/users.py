"""Users as the calling service syncs them from its identity provider, their default
organization and the organizations they belong to, and erasing one (privacy requests)."""

from typing import Any

from access import derived, shapes
from access.context import Context
from access.errors import Conflict, Invalid, NotFound
from access.events import subject_of, target_invitation, target_user
from access.members import drop_memberships
from access.orgs import conflict_is_409, iso
from access.uow import UnitOfWork
from models import AuditEvent, Event, Membership, Organization, User, UserEmail, erasure
from models.members import user_directory


def as_dict(user: User) -> dict:
    """The API form of a user (access/shapes.py, ``UserOut``)."""
    return shapes.USER.answer(user)


def user_or_404(user_id: str) -> User:
    """The user. Raises NotFound."""
    user = User.find(user_id)
    if user is None:
        raise NotFound(f"no user {user_id!r}")
    return user


def put(ctx: Context, user_id: str, email: str, name: str) -> dict:
    """Create or update a user's email and name. Raises Conflict (the email belongs to
    another user)."""
    email_key = User.email_key_of(email)
    with conflict_is_409(), UnitOfWork(ctx, lock_users=[user_id]) as uow:
        holder = User.by_email_key(email_key)
        if holder is not None and holder.id != user_id:
            raise Conflict(f"the email {email!r} belongs to another user", {"email": ["taken"]})
        user = User.find(user_id)
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
        if org_id is not None and not Membership.holds(user_id, org_id):
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
    found = Membership.of_user_page(user_id, limit, after, orgs)
    items = [
        {
            "id": m.org.id,
            "name": m.org.name,
            "style": m.org.style,
            "role": m.role,
            "closed_at": iso(m.org.closed_at),
            "is_default": m.org.id == user.default_org,
        }
        for m in found.rows
    ]
    return {"items": items, "next": found.next}


def directory(
    q: str | None, limit: int, after: str | None, orgs: frozenset[str] | None = None
) -> dict:
    """Users by id with their names and emails, those whose id, name or email contains
    ``q`` when given, after the id ``after``: the console's acting-user picker (a service
    key may act as any user, as ``X-Actor-Id`` does; a key bound to ``orgs``: their
    members only). Returns ``{"items", "next"}``."""
    found = user_directory(q, limit, after, orgs)
    items = [{"id": u.id, "name": u.name, "email": u.email} for u in found.rows]
    return {"items": items, "next": found.next}


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


def _orgs_of(user: User) -> list:
    """Every org whose rows the erasure changes, so it locks them all before the user (as
    every unit of work does): ownerships and creators in orgs they have left too."""
    return sorted(erasure.orgs_touched(user.id, erasure.addresses(user)[1]))


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
        memberships = Membership.of_user(user_id)
        _refuse_last_top_role(ctx, user_id, memberships)
        pseudonym = derived.pseudonym(user_id)
        own, addresses = erasure.addresses(user)
        names = _Names(user, pseudonym, addresses)
        _leave_all(uow, memberships, user_id, pseudonym)
        pending = _remove_pending(uow, names, addresses)
        # 3. Every other mention: invitations' history (those to any of their addresses, and
        # those they accepted), mails, kept answers, ownerships, creators, the history.
        erasure.forget_invitations(user_id, addresses, pseudonym, names.email)
        tags = [f" {derived.subject_tag(value)} " for value in (user_id, *sorted(own))]
        unowned = erasure.forget_user(user, pseudonym, tags)
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


def _refuse_last_top_role(ctx: Context, user_id: str, memberships: list) -> None:
    """Raises Conflict (naming the orgs) when the user holds the last top role (the
    policy's ``creator_role``) of an open organization."""
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


def _leave_all(uow: UnitOfWork, memberships: list, user_id: str, pseudonym: str) -> None:
    """1. What a removal drops, organization by organization, audited under the pseudonym."""
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


def _remove_pending(uow: UnitOfWork, names: "_Names", addresses: set) -> list:
    """2. Pending invitations to any of their addresses: removed, with their queued mails,
    each audited. Returns them."""
    pending = erasure.pending_invitations(addresses)
    for inv in pending:
        view = {"id": inv.id, "email": names.email, "role": inv.role, "status": "pending"}
        erasure.remove_invitation(inv)
        uow.audit(
            inv.org_id,
            "invitation.cancel",
            target_invitation(inv.id),
            view,
            {**view, "status": "cancelled", "reason": "erased"},
            None,
        )
    return pending


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


def _pseudonymise(model: type[AuditEvent] | type[Event], names: _Names, target_field: str) -> int:
    """Replace the user in every row of ``model`` (the audit trail or the events) that
    names them: as actor, in the target or subject, or anywhere in before and after."""
    count = 0
    for row in erasure.naming(model, names.user_id, names.needles):
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
        erasure.rewrite(row, changes)
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
