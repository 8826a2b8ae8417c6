"""Organizations, their memberships and invitations."""

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


class Membership(BaseModel):
    """A user's one role in one organization."""

    user = peewee.ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
    org = peewee.ForeignKeyField(Organization, backref="memberships", on_delete="CASCADE")
    role = peewee.CharField(max_length=64)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("user", "org"), True),  # one membership per user and org; the decision lookup
            (("org", "role"), False),  # "is this the last owner", members by role
        )


class Invitation(BaseModel):
    """An invitation to join an organization with a role. Only the token's hash is kept."""

    id = peewee.CharField(primary_key=True, max_length=64)
    org = peewee.ForeignKeyField(Organization, backref="invitations", on_delete="CASCADE")
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

    def status_at(self, now) -> str:
        """The status as a person sees it: a pending invitation past its time is expired."""
        if self.status == "pending" and self.expires_at <= now:
            return "expired"
        return self.status
