"""The browser console's server-side sessions (routes/console/sessions.py).

The browser's cookie holds only a random session id; this table keeps its SHA-256 and what
the session needs: the API key it logged in with (never the key itself), the acting user,
its CSRF token and, between a change and the page that shows its result, that result
encrypted (Fernet, routes/console/results.py) with a key derived from the server's secret
and the session id (so the invitation tokens it may carry are never readable from the
database). Logging out deletes the row; a revoked key ends every
session of that key; an expired or idle session is deleted when next seen, and the expired
rows of every session whenever someone logs in.
"""

import datetime
import hmac
import secrets
from typing import Any

import peewee

from models.base import BaseModel
from models.keys import ApiKey, hash_secret


class ConsoleSession(BaseModel):
    """One logged-in browser. ``id_hash``: SHA-256 (hex) of the id in its cookie."""

    id: "peewee.AutoField[int]"  # the automatic primary key, declared for the type checker
    id_hash = peewee.CharField(max_length=64, unique=True)
    key = peewee.ForeignKeyField(ApiKey, backref="console_sessions", on_delete="CASCADE")
    key_id: int  # the foreign key's column, declared for the type checker
    actor = peewee.CharField(max_length=200, null=True)
    csrf = peewee.CharField(max_length=64)
    flash = peewee.TextField(null=True)
    created_at = peewee.DateTimeField()
    last_seen_at = peewee.DateTimeField()
    expires_at = peewee.DateTimeField(index=True)

    @classmethod
    def start(
        cls, key: ApiKey, now: datetime.datetime, lifetime: datetime.timedelta
    ) -> "tuple[str, ConsoleSession]":
        """A new session of ``key``: returns (the id for the cookie, the row). Expired rows
        of any session are deleted on the way."""
        session_id = secrets.token_urlsafe(32)
        cls.delete().where(cls.expires_at <= now).execute()
        row = cls.create(
            id_hash=hash_secret(session_id),
            key=key,
            csrf=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
        )
        return session_id, row

    @classmethod
    def find(
        cls, session_id: str, now: datetime.datetime, idle: datetime.timedelta
    ) -> "ConsoleSession | None":
        """The live session with this id, its key joined, or None. A session past its end
        or idle too long is deleted; so is every session of a revoked key."""
        digest = hash_secret(session_id)
        row = cls.select(cls, ApiKey).join(ApiKey).where(cls.id_hash == digest).first()
        if row is None or not hmac.compare_digest(row.id_hash, digest):
            return None
        if row.key.revoked_at is not None:
            cls.delete().where(cls.key == row.key_id).execute()
            return None
        if row.expires_at <= now or row.last_seen_at + idle <= now:
            cls.delete().where(cls.id == row.id).execute()
            return None
        return row

    @classmethod
    def end(cls, session_id: str) -> None:
        """Forget the session with this id (logout)."""
        cls.delete().where(cls.id_hash == hash_secret(session_id)).execute()

    def seen(self, now: datetime.datetime, every: datetime.timedelta) -> None:
        """Record activity, at most once per ``every`` (a page view is not a write each)."""
        if now - self.last_seen_at >= every:
            self.last_seen_at = now
            type(self).update(last_seen_at=now).where(type(self).id == self.id).execute()

    def set(self, **fields: Any) -> None:
        """Change the acting user or the pending result (``actor=``, ``flash=``)."""
        for name, value in fields.items():
            setattr(self, name, value)
        type(self).update(**fields).where(type(self).id == self.id).execute()
