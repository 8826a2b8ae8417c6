"""Organizations, their memberships and invitations."""

import datetime
from collections.abc import Iterable
from typing import Any

import peewee

from models.base import BaseModel, Fixed, JSONField, db, row_lock, utcnow
from models.paging import Page, keyset
from models.users import User


class Organization(BaseModel):
    """An organization of one vendor style (the policy that decides for it)."""

    id = peewee.CharField(primary_key=True, max_length=64)
    name = peewee.CharField(max_length=200)
    style = peewee.CharField(max_length=32)
    legal = JSONField(default=dict)
    billing = JSONField(default=dict)
    created_by = peewee.CharField(max_length=200, null=True, index=True)
    created_at = peewee.DateTimeField(default=utcnow)
    closed_at = peewee.DateTimeField(null=True)
    # CIDR ranges the org's settings may be changed from (a check's context.ip; None: any).
    admin_ip_allowlist = JSONField(null=True)
    # The roles it defines itself: key -> {name, permissions, created_at, updated_at,
    # created_by} (access/custom_roles.py; None: none).
    custom_roles = JSONField(null=True)

    @property
    def is_closed(self) -> bool:
        """Whether the organization was closed (it then allows nothing)."""
        return self.closed_at is not None

    @classmethod
    def lock(cls, org_id: str) -> "Organization | None":
        """Lock the organization's row until the transaction ends, and return it (or None).

        Every change to an organization's memberships takes this lock first, so rules that
        read several rows ("is this the last owner?") see them unchanged until commit: two
        owners demoting each other at once are serialised, and the second is refused. On
        SQLite the transaction's write lock (BEGIN IMMEDIATE) already serialises writers.
        """
        return _LOCK_ORG.first(org_id)  # the first statement of every write

    @classmethod
    def lock_ahead(cls, org_id: str) -> None:
        """``lock``, its row unread, sent ahead of the transaction's next statement in that
        statement's round trip (``Fixed.later``): PostgreSQL runs the two in order, and the
        next, a statement of its own with its own snapshot, runs once the lock is held, as
        if sent after it (``models.members.lock_with_member``). On SQLite nothing: the
        transaction's BEGIN IMMEDIATE is the lock."""
        if not isinstance(db.obj, peewee.SqliteDatabase):
            _LOCK_ORG.later(org_id)

    @classmethod
    def find(cls, org_id: str) -> "Organization | None":
        """The organization ``org_id``, or None."""
        return cls.get_or_none(cls.id == org_id)

    @classmethod
    def existing(cls, org_ids: Iterable[str]) -> set[str]:
        """Those of ``org_ids`` that name an organization."""
        return {o.id for o in cls.select(cls.id).where(cls.id.in_(sorted(set(org_ids))))}

    @classmethod
    def created_open_in_style(cls, user_id: str, style: str) -> bool:
        """Whether ``user_id`` created an open organization of ``style``."""
        mine = (cls.created_by == user_id) & (cls.style == style) & cls.closed_at.is_null()
        return cls.select().where(mine).exists()

    @classmethod
    def directory(
        cls, q: str | None, limit: int, after: str | None, orgs: frozenset[str] | None
    ) -> Page:
        """Organizations by id (id, name, style, closing time), of ``orgs`` when given,
        whose id or name contains ``q`` when given, after the id ``after``."""
        query = cls.select(cls.id, cls.name, cls.style, cls.closed_at)
        if orgs is not None:
            query = query.where(cls.id.in_(sorted(orgs)))
        if q:
            query = query.where(cls.id.contains(q) | cls.name.contains(q))
        return keyset(query, cls.id, limit, after)


class Membership(BaseModel):
    """A user's one role in one organization."""

    id: "peewee.AutoField[int]"  # the automatic primary key, declared for the type checker
    user = peewee.ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
    org = peewee.ForeignKeyField(Organization, backref="memberships", on_delete="CASCADE")
    user_id: str  # the foreign keys' columns, declared for the type checker
    org_id: str
    role = peewee.CharField(max_length=64)
    created_at = peewee.DateTimeField(default=utcnow)
    # When the membership lapses (UTC; None: never). Past it the member holds nothing
    # (models/facts.py reads only live rows) and the expiry job removes it (access/expiry.py).
    expires_at = peewee.DateTimeField(null=True)

    @classmethod
    def is_last_of_role(cls, org_id: str, user_id: str, role: str) -> bool:
        """Whether no other member of the organization holds ``role`` for good (a
        membership that expires does not keep the org's last owner: it lapses).

        Call it under ``Organization.lock`` so the answer holds until commit.
        """
        return not cls.select().where(cls._holding_for_good(cls, org_id, role, user_id)).exists()

    @classmethod
    def last_of_role_column(cls) -> peewee.Node:
        """``is_last_of_role`` of a membership row as a column of a query that selects it
        (``.last_of_role`` on the row)."""
        o = cls.alias()
        others = o.select(o.id).where(cls._holding_for_good(o, cls.org, cls.role, cls.user))
        return (~peewee.fn.EXISTS(others)).alias("last_of_role")

    @staticmethod
    def _holding_for_good(m: Any, org_id: Any, role: Any, user_id: Any) -> peewee.Expression:
        """Memberships ``m`` of ``org_id`` of another user than ``user_id`` holding ``role``
        for good (the values may be columns: a correlated subquery)."""
        return (m.org == org_id) & (m.role == role) & (m.user != user_id) & m.expires_at.is_null()

    @classmethod
    def find(cls, org_id: str, user_id: str, last_of_role: bool = False) -> "Membership | None":
        """The membership of ``user_id`` in ``org_id`` with its user, or None. ``last_of_role``:
        also ``is_last_of_role`` of its role, in the same statement (``.last_of_role``)."""
        return (_MEMBER_LAST if last_of_role else _MEMBER).first(org_id, user_id)

    @classmethod
    def holds(cls, user_id: str, org_id: str) -> bool:
        """Whether ``user_id`` is a member of ``org_id``."""
        return cls.select().where((cls.user == user_id) & (cls.org == org_id)).exists()

    @classmethod
    def of_users(cls, org_id: str, user_ids: list) -> list["Membership"]:
        """The memberships of ``user_ids`` in ``org_id``, each with its user."""
        mine = (cls.org == org_id) & cls.user.in_(user_ids)
        return list(cls.select(cls, User).join(User).where(mine))

    @classmethod
    def in_open_org_of_style(cls, user_id: str, style: str, other_than: str | None = None) -> bool:
        """Whether ``user_id`` belongs to an open organization of ``style`` (other than
        ``other_than``)."""
        clause = (
            (cls.user == user_id) & (Organization.style == style) & Organization.closed_at.is_null()
        )
        if other_than is not None:
            clause &= Organization.id != other_than
        return cls.select().join(Organization).where(clause).exists()

    @classmethod
    def of_user_page(
        cls, user_id: str, limit: int, after: str | None, orgs: frozenset[str] | None
    ) -> Page:
        """The memberships of ``user_id`` (of ``orgs`` when given) with their organization,
        by organization id, after ``after``."""
        query = cls.select(cls, Organization).join(Organization).where(cls.user == user_id)
        if orgs is not None:
            query = query.where(Organization.id.in_(sorted(orgs)))
        return keyset(query, Organization.id, limit, after, key_of=lambda m: m.org.id)

    @classmethod
    def of_user(cls, user_id: str) -> list["Membership"]:
        """Every membership of ``user_id`` with its organization, by organization id."""
        query = cls.select(cls, Organization).join(Organization).where(cls.user == user_id)
        return list(query.order_by(Organization.id))

    @classmethod
    def org_ids_of(cls, user_id: str) -> set[str]:
        """The organizations ``user_id`` belongs to."""
        return {m.org_id for m in cls.select(cls.org).where(cls.user == user_id)}

    @classmethod
    def role_stays(cls, org_id: str, role: str, leaving: list) -> bool:
        """Whether a member of ``org_id`` not in ``leaving`` holds ``role`` for good."""
        stay = (
            (cls.org == org_id)
            & (cls.role == role)
            & cls.user.not_in(leaving)
            & cls.expires_at.is_null()
        )
        return cls.select().where(stay).exists()

    @classmethod
    def set_role(cls, membership_id: int, role: str) -> None:
        """Give the membership ``membership_id`` the role ``role`` (with the unit's next round
        trip: its row was read under the organization's lock, so its count is known)."""
        _SET_ROLE.later(role, membership_id)

    @classmethod
    def role_counts(cls, org_id: str, roles: set) -> dict[str, int]:
        """``{role: how many members of org_id hold it}`` for ``roles``."""
        if not roles:
            return {}
        n = peewee.fn.COUNT(cls.id).alias("n")
        query = cls.select(cls.role, n).where((cls.org == org_id) & cls.role.in_(sorted(roles)))
        rows: Any = query.group_by(cls.role).tuples()  # (role, count) rows
        return {role: count for role, count in rows}

    @classmethod
    def email_keys_in(cls, org_id: str, keys: Iterable[str]) -> set[str]:
        """Those of the email keys ``keys`` whose user is a member of ``org_id``."""
        query = User.select(User.email_key).join(cls)
        mine = (cls.org == org_id) & User.email_key.in_(sorted(set(keys)))
        return {u.email_key for u in query.where(mine)}

    @classmethod
    def listed(
        cls, org_id: str, role: str | None, q: str | None
    ) -> "peewee.ModelSelect[Membership]":
        """The members of ``org_id`` with their users, of ``role`` and whose name or email
        contains ``q`` when given (the member list)."""
        query = cls.select(cls, User).join(User).where(cls.org == org_id)
        if role:
            query = query.where(cls.role == role)
        if q:
            query = query.where(User.name.contains(q) | User.email.contains(q))
        return query

    class Meta:
        indexes = (
            (("user", "org"), True),  # one membership per user and org; the decision lookup
            (("org", "role"), False),  # "is this the last owner", members by role
        )


def _member(org_id: str, user_id: str, last_of_role: bool) -> peewee.Query:
    m = Membership
    columns: list = [m, User] + ([m.last_of_role_column()] if last_of_role else [])
    mine = (m.org == org_id) & (m.user == user_id)
    return m.select(*columns).join(User).where(mine).limit(1)


def _set_role(role: str, membership_id: int) -> peewee.Query:
    return Membership.update(role=role).where(Membership.id == membership_id)


# The statements of every write, their SQL built once (models.base.Fixed).
_LOCK_ORG = row_lock(Organization)
_MEMBER = Fixed(lambda org_id, user_id: _member(org_id, user_id, False))
_MEMBER_LAST = Fixed(lambda org_id, user_id: _member(org_id, user_id, True))
_SET_ROLE = Fixed(_set_role)


class Invitation(BaseModel):
    """An invitation to join an organization with a role. Only the token's hash is kept."""

    id = peewee.CharField(primary_key=True, max_length=64)
    org = peewee.ForeignKeyField(Organization, backref="invitations", on_delete="CASCADE")
    org_id: str
    email = peewee.CharField(max_length=320)
    email_key = peewee.CharField(max_length=320)
    role = peewee.CharField(max_length=64)
    token_hash = peewee.CharField(max_length=64, unique=True)
    status = peewee.CharField(max_length=16, default="pending")  # pending|accepted|cancelled
    invited_by = peewee.CharField(max_length=200, null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField()
    accepted_by = peewee.CharField(max_length=200, null=True)
    ended_at = peewee.DateTimeField(null=True)
    # The membership it gives lapses this many days after acceptance (None: never).
    membership_days = peewee.IntegerField(null=True)

    @classmethod
    def find(cls, invitation_id: str | None) -> "Invitation | None":
        """The invitation ``invitation_id``, or None."""
        return cls.get_or_none(cls.id == invitation_id)

    @classmethod
    def of_org(cls, org_id: str, invitation_id: str) -> "Invitation | None":
        """The invitation ``invitation_id`` of ``org_id``, or None."""
        return cls.get_or_none((cls.id == invitation_id) & (cls.org == org_id))

    @classmethod
    def by_token_hash(cls, token_hash: str) -> "Invitation | None":
        """The invitation whose token hashes to ``token_hash``, or None."""
        return cls.get_or_none(cls.token_hash == token_hash)

    @classmethod
    def _pending(cls, now: datetime.datetime) -> peewee.Expression:
        return (cls.status == "pending") & (cls.expires_at > now)

    def invited_again(self, now: datetime.datetime) -> bool:
        """Whether another pending invitation to the org has this one's email."""
        other = (
            (Invitation.org == self.org_id)
            & (Invitation.email_key == self.email_key)
            & (Invitation.id != self.id)
            & Invitation._pending(now)
        )
        return Invitation.select().where(other).exists()

    @classmethod
    def page(
        cls, org_id: str, status: str | None, now: datetime.datetime, limit: int, after: str | None
    ) -> Page:
        """The invitations of ``org_id`` by id, by status as a person sees it (pending,
        accepted, expired, cancelled; every one when None), after the id ``after``."""
        query = cls.select().where(cls.org == org_id)
        if status == "pending":
            query = query.where(cls._pending(now))
        elif status == "expired":  # pending past its time, or marked by the expiry job
            query = query.where(
                (cls.status == "expired") | ((cls.status == "pending") & (cls.expires_at <= now))
            )
        elif status:
            query = query.where(cls.status == status)
        return keyset(query, cls.id, limit, after)

    @classmethod
    def listed(
        cls, org_id: str, now: datetime.datetime, role: str | None, q: str | None
    ) -> "peewee.ModelSelect[Invitation]":
        """The pending invitations of ``org_id``, of ``role`` and whose email contains ``q``
        when given (the member list shows them after the members)."""
        query = cls.select().where((cls.org == org_id) & cls._pending(now))
        if role:
            query = query.where(cls.role == role)
        if q:
            query = query.where(cls.email.contains(q))
        return query

    @classmethod
    def orgs_with_due(cls, now: datetime.datetime, limit: int) -> list[str]:
        """The organizations (at most ``limit``) with pending invitations past their time."""
        due = (cls.status == "pending") & (cls.expires_at <= now)
        rows = cls.select(cls.org).where(due).distinct().limit(limit)
        return sorted({row.org_id for row in rows})

    @classmethod
    def due_in(cls, org_id: str, now: datetime.datetime, limit: int) -> list["Invitation"]:
        """The pending invitations of ``org_id`` past their time, by id, at most ``limit``."""
        due = (cls.org == org_id) & (cls.status == "pending") & (cls.expires_at <= now)
        return list(cls.select().where(due).order_by(cls.id).limit(limit))

    class Meta:
        indexes = ((("org", "email_key", "status"), False),)

    def status_at(self, now: datetime.datetime) -> str:
        """The status as a person sees it: a pending invitation past its time is expired."""
        if self.status == "pending" and self.expires_at <= now:
            return "expired"
        return self.status
