"""Organizations, their memberships and invitations."""

import datetime

import peewee

from models.base import BaseModel, JSONField, utcnow
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
        query = cls.select().where(cls.id == org_id)
        if not isinstance(cls._meta.database.obj, peewee.SqliteDatabase):
            query = query.for_update()
        return query.first()


class Membership(BaseModel):
    """A user's one role in one organization."""

    id: "peewee.AutoField[int]"  # the automatic primary key, declared for the type checker
    user = peewee.ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
    org = peewee.ForeignKeyField(Organization, backref="memberships", on_delete="CASCADE")
    user_id: str  # the foreign keys' columns, declared for the type checker
    org_id: str
    role = peewee.CharField(max_length=64)
    created_at = peewee.DateTimeField(default=utcnow)

    @classmethod
    def is_last_of_role(cls, org_id: str, user_id: str, role: str) -> bool:
        """Whether no other member of the organization holds ``role``.

        Call it under ``Organization.lock`` so the answer holds until commit.
        """
        others = cls.select().where(
            (cls.org == org_id) & (cls.role == role) & (cls.user != user_id)
        )
        return not others.exists()

    class Meta:
        indexes = (
            (("user", "org"), True),  # one membership per user and org; the decision lookup
            (("org", "role"), False),  # "is this the last owner", members by role
        )


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

    class Meta:
        indexes = ((("org", "email_key", "status"), False),)

    def status_at(self, now: datetime.datetime) -> str:
        """The status as a person sees it: a pending invitation past its time is expired."""
        if self.status == "pending" and self.expires_at <= now:
            return "expired"
        return self.status
