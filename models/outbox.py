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

import datetime
from typing import Any

import peewee

from models.audit import AuditEvent
from models.base import BaseModel, JSONField, columns, db, utcnow
from models.facts import on_postgres
from models.paging import Page, keyset


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

    @classmethod
    def next_position(cls) -> int:
        """Take the next position (in the caller's transaction): the counter's UPDATE holds
        its row lock until commit (see the module docstring)."""
        table = EventCounter._meta.table_name
        bump = f'UPDATE "{table}" SET value = value + 1 WHERE id = 1 RETURNING value'
        rows = db.execute_sql(bump).fetchall()
        if not rows:  # its row was deleted (a table emptied by hand): start after the last
            top = cls.select(peewee.fn.MAX(cls.position)).scalar() or 0
            EventCounter.insert(id=1, value=top).on_conflict_ignore().execute()
            rows = db.execute_sql(bump).fetchall()
        return int(rows[0][0])

    @classmethod
    def audited(cls, audit: dict, event: dict, with_commit: bool = False) -> int | None:
        """Write an audit row (``AuditEvent``'s fields) and its event (``Event``'s, but
        ``position``) in the caller's transaction; the event's position. On PostgreSQL in
        one statement: the audit row, the counter's bump (an upsert: its row is made again,
        after the last event, when it was deleted by hand) and the event, chained in a WITH
        (the bump holds the counter's row lock until commit, as ``next_position`` does); on
        SQLite statement by statement. ``with_commit``: on PostgreSQL the statement goes out
        in the round trip of the transaction's ``COMMIT`` when it can
        (models/base.py ``send_with_commit``), and the position is None."""
        if on_postgres(db.obj):
            sql, params = _audited_sql(audit, event)
            later = getattr(db.obj, "send_with_commit", None) if with_commit else None
            if later is not None and later(sql, params, True):  # a text per kind of audit
                return None
            return int(db.execute_sql(sql, params).fetchall()[0][0])
        AuditEvent.insert(**audit).execute()
        return int(cls.create(position=cls.next_position(), **event).position)

    @classmethod
    def head(cls) -> int:
        """The position of the last committed event."""
        table = EventCounter._meta.table_name
        rows = db.execute_sql(f'SELECT value FROM "{table}" WHERE id = 1').fetchall()
        return (
            int(rows[0][0]) if rows else int(cls.select(peewee.fn.MAX(cls.position)).scalar() or 0)
        )

    @classmethod
    def at(cls, position: int) -> "Event | None":
        """The event at ``position``, or None."""
        return cls.get_or_none(cls.position == position)

    @classmethod
    def page(
        cls,
        after: int,
        top: int,
        limit: int,
        org: str | None = None,
        orgs: frozenset[str] | None = None,
        types: list | None = None,
    ) -> Page:
        """Events after ``after`` up to ``top``, by position, of ``org``, of ``orgs`` and of
        ``types`` when given."""
        query = cls.select().where(cls.position <= top)
        if org:
            query = query.where(cls.org == org)
        if orgs is not None:
            query = query.where(cls.org.in_(sorted(orgs)))
        if types:
            query = query.where(cls.type.in_(types))
        return keyset(query, cls.position, limit, after)

    @classmethod
    def between(cls, after: int, top: int, limit: int) -> list["Event"]:
        """Position, type and org of the events after ``after`` up to ``top``, by position,
        at most ``limit``."""
        query = cls.select(cls.position, cls.type, cls.org)
        span = (cls.position > after) & (cls.position <= top)
        return list(query.where(span).order_by(cls.position).limit(limit))

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

    @classmethod
    def find(cls, mail_id: int) -> "OutboxMail | None":
        """The mail ``mail_id``, or None."""
        return cls.get_or_none(cls.id == mail_id)

    @classmethod
    def drop_pending(cls, invitation_id: str, reason: str) -> None:
        """Drop the mails of an invitation that are still waiting (their nonce with them)."""
        waiting = (cls.invitation_id == invitation_id) & (cls.status == "pending")
        cls.update(status="dropped", nonce=None, lease_until=None, last_error=reason).where(
            waiting
        ).execute()

    @classmethod
    def _due(cls, now: datetime.datetime) -> peewee.Expression:
        return (
            (cls.status == "pending")
            & (cls.next_attempt_at <= now)
            & (cls.lease_until.is_null() | (cls.lease_until < now))
        )

    @classmethod
    def any_due(cls, now: datetime.datetime) -> bool:
        """Whether a mail is due (read without a write transaction)."""
        return cls.select(cls.id).where(cls._due(now)).limit(1).exists()

    @classmethod
    def claim(
        cls, owner: str, now: datetime.datetime, until: datetime.datetime, limit: int
    ) -> list[int]:
        """Lease up to ``limit`` due mails to ``owner`` until ``until``, counting an attempt
        each, in the caller's transaction; returns their ids. On PostgreSQL the rows are
        taken ``FOR UPDATE SKIP LOCKED`` (SQLite's write lock serialises claims)."""
        query = cls.select(cls.id).where(cls._due(now)).order_by(cls.id).limit(limit)
        if not isinstance(db.obj, peewee.SqliteDatabase):
            query = query.for_update(skip_locked=True)
        ids = [row.id for row in query]
        if ids:
            cls.update(lease_until=until, lease_owner=owner, attempts=cls.attempts + 1).where(
                cls.id.in_(ids)
            ).execute()
        return ids

    @classmethod
    def finish(cls, mail_id: int, owner: str, **fields: Any) -> None:
        """End ``owner``'s lease of the mail, writing ``fields``."""
        cls.update(lease_until=None, **fields).where(
            (cls.id == mail_id) & (cls.lease_owner == owner)
        ).execute()

    class Meta:
        indexes = ((("status", "next_attempt_at"), False),)


def _audited_sql(audit: dict, event: dict) -> tuple[str, list]:
    """``Event.audited``'s statement on PostgreSQL and its parameters."""
    a_cols, a_vals = columns(AuditEvent, audit)
    e_cols, e_vals = columns(Event, event)
    counter, events = EventCounter._meta.table_name, Event._meta.table_name
    sql = (
        f'WITH a AS (INSERT INTO "{AuditEvent._meta.table_name}" ({a_cols}) '
        f"VALUES ({', '.join(['%s'] * len(a_vals))})), "
        f'c AS (INSERT INTO "{counter}" (id, value) VALUES (1, 1 + COALESCE((SELECT '
        f'MAX("position") FROM "{events}"), 0)) ON CONFLICT (id) DO UPDATE SET value = '
        f'"{counter}".value + 1 RETURNING value) INSERT INTO "{events}" ("position", {e_cols}) '
        f'SELECT c.value, {", ".join(["%s"] * len(e_vals))} FROM c RETURNING "position"'
    )
    return sql, a_vals + e_vals


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

    @classmethod
    def owned(cls, api_key: str, hook_id: str) -> "Webhook | None":
        """The live endpoint ``hook_id`` of ``api_key``, or None."""
        mine = (cls.id == hook_id) & (cls.api_key == api_key) & cls.deleted_at.is_null()
        return cls.get_or_none(mine)

    @classmethod
    def page_of(cls, api_key: str, limit: int, after: str | None) -> Page:
        """The live endpoints of ``api_key`` by id, after the id ``after``."""
        query = cls.select().where((cls.api_key == api_key) & cls.deleted_at.is_null())
        return keyset(query, cls.id, limit, after)

    @classmethod
    def stop(cls, hook_id: str, now: datetime.datetime) -> None:
        """Mark the endpoint deleted: nothing more is sent to it."""
        cls.update(deleted_at=now).where(cls.id == hook_id).execute()

    @classmethod
    def stop_of_key(cls, api_key: str, now: datetime.datetime) -> int:
        """Mark every live endpoint of ``api_key`` deleted; returns how many."""
        live = (cls.api_key == api_key) & cls.deleted_at.is_null()
        return int(cls.update(deleted_at=now).where(live).execute())

    @classmethod
    def behind(cls, top: int) -> list["Webhook"]:
        """The live endpoints whose cursor is before ``top``."""
        return list(cls.select().where(cls.deleted_at.is_null() & (cls.cursor < top)))

    @classmethod
    def advance(cls, hook_id: str, position: int) -> None:
        """Move the endpoint's cursor forward to ``position`` (never back)."""
        ahead = (cls.id == hook_id) & (cls.cursor < position)
        cls.update(cursor=position).where(ahead).execute()

    @classmethod
    def lease(
        cls, hook_id: str, owner: str, now: datetime.datetime, until: datetime.datetime
    ) -> bool:
        """Hold the endpoint for ``owner`` until ``until`` unless another holds it now."""
        free = (cls.id == hook_id) & (cls.lease_until.is_null() | (cls.lease_until < now))
        return bool(cls.update(lease_until=until, lease_owner=owner).where(free).execute())

    @classmethod
    def release(cls, hook_id: str, owner: str) -> None:
        """End ``owner``'s hold of the endpoint."""
        held = (cls.id == hook_id) & (cls.lease_owner == owner)
        cls.update(lease_until=None, lease_owner=None).where(held).execute()


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

    @classmethod
    def find(cls, delivery_id: int) -> "Delivery | None":
        """The delivery ``delivery_id``, or None."""
        return cls.get_or_none(cls.id == delivery_id)

    @classmethod
    def page_of(cls, hook_id: str, status: str | None, limit: int, after: int | None) -> Page:
        """The deliveries of the endpoint, newest first, of ``status`` when given, before the
        delivery ``after``."""
        query = cls.select().where(cls.webhook == hook_id)
        if status:
            query = query.where(cls.status == status)
        return keyset(query, cls.id, limit, after, descending=True)

    @classmethod
    def add(cls, rows: list[dict]) -> None:
        """Insert deliveries; those of an (endpoint, event) already there are skipped."""
        cls.insert_many(rows).on_conflict_ignore().execute()

    @classmethod
    def due_endpoints(cls, now: datetime.datetime) -> list[str]:
        """The live endpoints with a pending delivery due by ``now``, by id."""
        due = (
            (cls.status == "pending") & (cls.next_attempt_at <= now) & Webhook.deleted_at.is_null()
        )
        rows = cls.select(cls.webhook).join(Webhook).where(due).distinct()
        return sorted({row.webhook_id for row in rows})

    @classmethod
    def oldest_pending(cls, hook_id: str) -> "Delivery | None":
        """The endpoint's pending delivery of the oldest event, or None."""
        pending = (cls.webhook == hook_id) & (cls.status == "pending")
        return cls.select().where(pending).order_by(cls.event, cls.id).first()

    @classmethod
    def change(cls, delivery_id: int, **fields: Any) -> None:
        """Write ``fields`` of the delivery ``delivery_id``."""
        cls.update(**fields).where(cls.id == delivery_id).execute()

    class Meta:
        indexes = (
            (("webhook", "event"), True),
            (("webhook", "status", "event"), False),
        )


OUTBOX_MODELS = [EventCounter, Event, OutboxMail, Webhook, Delivery]
