"""The audit trail of management changes, written in the same transaction as the change."""

import peewee

from models.base import BaseModel, JSONField, utcnow
from models.paging import Page, keyset


class AuditEvent(BaseModel):
    """Who did what to whom, with the state before and after."""

    id: "peewee.AutoField[int]"  # the automatic primary key, declared for the type checker
    org = peewee.CharField(max_length=64, null=True)
    actor = peewee.CharField(max_length=200, null=True)
    action = peewee.CharField(max_length=64)
    target = peewee.CharField(max_length=512, null=True)  # {type}/{rid}/grants/{user}: 473
    before = JSONField(null=True)
    after = JSONField(null=True)
    request_id = peewee.CharField(max_length=100, null=True)
    api_key = peewee.CharField(max_length=100, null=True)
    created_at = peewee.DateTimeField(default=utcnow)

    @classmethod
    def filtered(cls, org_id: str, filters: dict) -> "peewee.ModelSelect[AuditEvent]":
        """The audit rows of ``org_id`` that ``filters`` keep: ``actor`` and ``action``
        (exact), ``since`` and ``until`` (datetimes, inclusive), ``subject`` (a target: its
        own entries, and for a user or a resource the grants on them too)."""
        query = cls.select().where(cls.org == org_id)
        if filters.get("actor"):
            query = query.where(cls.actor == filters["actor"])
        if filters.get("action"):
            query = query.where(cls.action == filters["action"])
        if filters.get("since"):
            query = query.where(cls.created_at >= filters["since"])
        if filters.get("until"):
            query = query.where(cls.created_at <= filters["until"])
        subject = filters.get("subject")
        if subject:
            kind, _, rest = subject.partition(":")
            clause = cls.target == subject
            if kind == "user":  # grants to the user
                clause |= cls.target.startswith("grant:") & cls.target.endswith("/" + rest)
            elif kind == "resource":  # grants on the resource
                clause |= cls.target.startswith("grant:" + rest + "/")
            query = query.where(clause)
        return query

    @classmethod
    def page(
        cls, org_id: str, filters: dict, limit: int, after: int | None, order: str = "asc"
    ) -> Page:
        """One page of ``filtered`` by id, oldest first (``order="desc"``: newest first)."""
        query = cls.filtered(org_id, filters)
        return keyset(query, cls.id, limit, after, descending=order == "desc")

    class Meta:
        indexes = ((("org", "id"), False),)
