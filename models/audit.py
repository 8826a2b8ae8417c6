"""The audit trail of management changes, written in the same transaction as the change."""

import peewee

from models.base import BaseModel, JSONField, utcnow


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

    class Meta:
        indexes = ((("org", "id"), False),)
