"""Requests to join an organization: a user asks, the organization's admins approve (with a
role) or decline, or the request expires (its lifetime a style setting,
``join_request_lifetime_hours``)."""

import datetime

import peewee

from models.base import BaseModel, utcnow
from models.orgs import Organization
from models.paging import Page, keyset

JOIN_REQUEST_STATUSES = ("pending", "approved", "declined", "expired")


class JoinRequest(BaseModel):
    """A user's request to join an organization with a role (the approver may give
    another)."""

    id = peewee.CharField(primary_key=True, max_length=64)
    org = peewee.ForeignKeyField(Organization, backref="join_requests", on_delete="CASCADE")
    org_id: str
    user_id = peewee.CharField(max_length=200)
    email = peewee.CharField(max_length=320)
    role = peewee.CharField(max_length=64)
    via_domain = peewee.CharField(max_length=253, null=True)
    message = peewee.CharField(max_length=500, default="")
    status = peewee.CharField(max_length=16, default="pending")
    created_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField()
    decided_by = peewee.CharField(max_length=200, null=True)
    ended_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = ((("org", "user_id", "status"), False), (("status", "expires_at"), False))

    def status_at(self, now: datetime.datetime) -> str:
        """The status as a person sees it: a pending request past its time is expired."""
        if self.status == "pending" and self.expires_at <= now:
            return "expired"
        return self.status

    @classmethod
    def _pending(cls, now: datetime.datetime) -> peewee.Expression:
        return (cls.status == "pending") & (cls.expires_at > now)

    @classmethod
    def of_org(cls, org_id: str, request_id: str) -> "JoinRequest | None":
        """The request ``request_id`` to ``org_id``, or None."""
        return cls.get_or_none((cls.id == request_id) & (cls.org == org_id))

    @classmethod
    def pending_of(cls, org_id: str, user_id: str, now: datetime.datetime) -> "JoinRequest | None":
        """The pending request of ``user_id`` to ``org_id``, or None."""
        mine = (cls.org == org_id) & (cls.user_id == user_id) & cls._pending(now)
        return cls.get_or_none(mine)

    @classmethod
    def page(
        cls, org_id: str, status: str | None, now: datetime.datetime, limit: int, after: str | None
    ) -> Page:
        """The requests to ``org_id`` by id, by status as a person sees it (every one when
        None), after the id ``after``."""
        query = cls.select().where(cls.org == org_id)
        if status == "pending":
            query = query.where(cls._pending(now))
        elif status == "expired":
            query = query.where(
                (cls.status == "expired") | ((cls.status == "pending") & (cls.expires_at <= now))
            )
        elif status:
            query = query.where(cls.status == status)
        return keyset(query, cls.id, limit, after)

    @classmethod
    def orgs_with_due(cls, now: datetime.datetime, limit: int) -> list[str]:
        """The organizations (at most ``limit``) with pending requests past their time."""
        due = (cls.status == "pending") & (cls.expires_at <= now)
        rows = cls.select(cls.org).where(due).distinct().limit(limit)
        return sorted({row.org_id for row in rows})

    @classmethod
    def due_in(cls, org_id: str, now: datetime.datetime, limit: int) -> list["JoinRequest"]:
        """The pending requests to ``org_id`` past their time, by id, at most ``limit``."""
        due = (cls.org == org_id) & (cls.status == "pending") & (cls.expires_at <= now)
        return list(cls.select().where(due).order_by(cls.id).limit(limit))
