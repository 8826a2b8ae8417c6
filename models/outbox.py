"""The outbox: what the service tells the world, written in the same transaction as the
change it reports, and sent afterwards by a background worker (access/worker.py).

- ``Event``: one row per change, numbered by ``position`` in commit order (``EventCounter``
  hands out the numbers under a row lock held until commit, so a number is visible only
  once every smaller one is: a reader following ``position`` never skips a committed event).
- ``OutboxMail``: an invitation mail to send. It holds no token: the token is derived from
  the deployment's key and ``nonce`` (access/mail.py), and ``nonce`` is dropped once the
  mail is sent or dropped.
- ``Webhook``: an endpoint registered by an API key; its secret is derived the same way.
- ``Delivery``: one event to one endpoint, with its attempts.

Rows to send are claimed with a lease (``lease_until``): a worker that dies mid-send leaves
a lease that runs out, and another worker takes the row again.
"""

import peewee

from models.base import BaseModel, JSONField, utcnow


class EventCounter(BaseModel):
    """One row (id 1): the position of the last event written."""

    id = peewee.IntegerField(primary_key=True)
    value = peewee.BigIntegerField(default=0)


class Event(BaseModel):
    """A change, as ``GET /v1/events`` and the webhooks show it."""

    position = peewee.BigIntegerField(primary_key=True)
    type = peewee.CharField(max_length=64)
    time = peewee.DateTimeField(default=utcnow)
    org = peewee.CharField(max_length=64, null=True)
    actor = peewee.CharField(max_length=200, null=True)
    subject = JSONField(null=True)
    before = JSONField(null=True)
    after = JSONField(null=True)
    request_id = peewee.CharField(max_length=100, null=True)

    class Meta:
        indexes = (
            (("org", "position"), False),
            (("type", "position"), False),
        )


class OutboxMail(BaseModel):
    """An invitation mail waiting to be sent, or its record once sent (without the nonce)."""

    id: "peewee.AutoField[int]"  # the automatic primary key, declared for the type checker
    invitation_id = peewee.CharField(max_length=64, null=True, index=True)
    recipient = peewee.CharField(max_length=320)
    template = peewee.CharField(max_length=64, default="invitation")
    style = peewee.CharField(max_length=32)
    data = JSONField(default=dict)
    nonce = peewee.CharField(max_length=64, null=True)
    # pending | sent | dropped (superseded, cancelled, expired, key changed) | failed
    status = peewee.CharField(max_length=16, default="pending")
    attempts = peewee.IntegerField(default=0)
    next_attempt_at = peewee.DateTimeField(default=utcnow)
    lease_until = peewee.DateTimeField(null=True)
    lease_owner = peewee.CharField(max_length=64, null=True)
    last_error = peewee.CharField(max_length=500, null=True)
    message_id = peewee.CharField(max_length=200, null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    sent_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = ((("status", "next_attempt_at"), False),)


class Webhook(BaseModel):
    """An endpoint that gets the events of ``types`` (every type when empty)."""

    id = peewee.CharField(primary_key=True, max_length=64)
    api_key = peewee.CharField(max_length=100, index=True)
    url = peewee.CharField(max_length=2000)
    types = JSONField(default=list)
    orgs = JSONField(default=list)  # the organizations whose events it gets (empty: all)
    nonce = peewee.CharField(max_length=64)
    # The last event position turned into deliveries (starts at the head when registered).
    cursor = peewee.BigIntegerField(default=0)
    lease_until = peewee.DateTimeField(null=True)
    lease_owner = peewee.CharField(max_length=64, null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    deleted_at = peewee.DateTimeField(null=True)


class Delivery(BaseModel):
    """One event to one endpoint: pending until a 2xx (delivered) or out of tries (failed)."""

    id: "peewee.AutoField[int]"  # the automatic primary key, declared for the type checker
    webhook = peewee.ForeignKeyField(Webhook, backref="deliveries", on_delete="CASCADE")
    webhook_id: str  # the foreign key's column, declared for the type checker
    event = peewee.BigIntegerField()
    event_type = peewee.CharField(max_length=64)
    status = peewee.CharField(max_length=16, default="pending")  # pending|delivered|failed
    attempts = peewee.IntegerField(default=0)
    next_attempt_at = peewee.DateTimeField(default=utcnow)
    last_status = peewee.IntegerField(null=True)
    last_error = peewee.CharField(max_length=500, null=True)
    log = JSONField(default=list)  # the last attempts: time, status, error, milliseconds
    created_at = peewee.DateTimeField(default=utcnow)
    delivered_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = (
            (("webhook", "event"), True),
            (("webhook", "status", "event"), False),
        )


OUTBOX_MODELS = [EventCounter, Event, OutboxMail, Webhook, Delivery]
