"""Verified domains of an organization: the DNS TXT token it publishes, whether it is
verified, and what a verified one offers users of that domain (``join_mode``: nothing,
suggesting the organization, or joining it at once with ``join_role``).

``verified_name`` is the domain's name once verified and null before: its unique index is
what keeps one domain verified by one organization at most (two organizations may both
add it and publish their tokens; the second to verify is refused).
"""

import datetime

import peewee

from models.base import BaseModel, utcnow
from models.orgs import Organization
from models.paging import Page, keyset

JOIN_MODES = ("off", "suggest", "auto")


class Domain(BaseModel):
    """A domain an organization added; ``status`` pending until its TXT token is found."""

    id = peewee.CharField(primary_key=True, max_length=64)
    org = peewee.ForeignKeyField(Organization, backref="domains", on_delete="CASCADE")
    org_id: str
    name = peewee.CharField(max_length=253)
    token = peewee.CharField(max_length=64)
    status = peewee.CharField(max_length=16, default="pending")  # pending|verified
    verified_name = peewee.CharField(max_length=253, null=True, unique=True)
    join_mode = peewee.CharField(max_length=16, default="off")
    join_role = peewee.CharField(max_length=64, null=True)
    configured_by = peewee.CharField(max_length=200, null=True)
    added_by = peewee.CharField(max_length=200, null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    verified_at = peewee.DateTimeField(null=True)
    checked_at = peewee.DateTimeField(null=True)
    check_error = peewee.CharField(max_length=500, null=True)

    class Meta:
        indexes = ((("org", "name"), True),)  # a domain once per organization

    @classmethod
    def of_org(cls, org_id: str, domain_id: str) -> "Domain | None":
        """The domain ``domain_id`` of ``org_id``, or None."""
        return cls.get_or_none((cls.id == domain_id) & (cls.org == org_id))

    @classmethod
    def named_in(cls, org_id: str, name: str) -> "Domain | None":
        """The domain ``name`` of ``org_id``, or None."""
        return cls.get_or_none((cls.org == org_id) & (cls.name == name))

    @classmethod
    def verified_by_other(cls, org_id: str, name: str) -> "Domain | None":
        """The domain ``name`` as another organization verified it, or None."""
        return cls.get_or_none((cls.verified_name == name) & (cls.org != org_id))

    @classmethod
    def page(cls, org_id: str, limit: int, after: str | None) -> Page:
        """The domains of ``org_id`` by id, after the id ``after``."""
        return keyset(cls.select().where(cls.org == org_id), cls.id, limit, after)

    @classmethod
    def offering(cls, name: str) -> list["Domain"]:
        """The verified domain ``name`` with what it offers (suggest or auto), with its
        open organization: at most one row (``verified_name`` is unique)."""
        open_org = Organization.closed_at.is_null()
        offers = (cls.verified_name == name) & cls.join_mode.in_(["suggest", "auto"])
        query = cls.select(cls, Organization).join(Organization).where(offers & open_org)
        return list(query)

    def mark_checked(self, now: datetime.datetime, error: str | None) -> None:
        """Record a lookup of the token that did not verify the domain."""
        self.checked_at, self.check_error = now, error
        self.save()
