"""API keys of the services that call us. Only a hash of each key is stored.

A key is service-wide (``scoped`` false: every organization, today's behaviour for a
product's backend) or bound to the organizations of its ``ApiKeyOrg`` rows (``scoped``
true: those only, none when it has no row; access/keys.py)."""

import datetime
import hashlib
import hmac
import secrets

import peewee

from models.base import BaseModel, Fixed, utcnow
from models.orgs import Organization

KEY_PREFIX = "oaz_"


def hash_secret(secret: str) -> str:
    """SHA-256 of a secret (API key or invitation token), hex. Keys are random, so no salt."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(BaseModel):
    """A named key a calling service sends as ``Authorization: Bearer <key>``."""

    id: "peewee.AutoField[int]"  # the automatic primary key, declared for the type checker
    name = peewee.CharField(max_length=100, unique=True)
    key_hash = peewee.CharField(max_length=64, unique=True)
    created_at = peewee.DateTimeField(default=utcnow)
    revoked_at = peewee.DateTimeField(null=True)
    scoped = peewee.BooleanField(default=False)  # bound to its ApiKeyOrg rows' orgs only

    @classmethod
    def create_key(cls, name: str, orgs: "list[str] | None" = None) -> str:
        """Make a key named ``name`` and return it (it cannot be read back); with ``orgs``
        (a list, possibly empty) it is bound to those organizations.

        Raises IntegrityError when the name is taken (or an org does not exist).
        """
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        row = cls.create(name=name, key_hash=hash_secret(key), scoped=orgs is not None)
        if orgs:
            ApiKeyOrg.insert_many(
                [{"key": row.id, "org": org} for org in sorted(set(orgs))]
            ).execute()
        return key

    def orgs(self) -> "frozenset[str] | None":
        """The organizations this key is bound to, or None when it is service-wide."""
        if not self.scoped:
            return None
        rows = ApiKeyOrg.select(ApiKeyOrg.org).where(ApiKeyOrg.key == self.id)
        return frozenset(r.org_id for r in rows)

    @classmethod
    def find_active(cls, key: str) -> "ApiKey | None":
        """The unrevoked key matching ``key``, or None. The hash is compared in constant time."""
        digest = hash_secret(key)
        row = _BY_HASH.first(digest)
        if row is None or row.revoked_at is not None:
            return None
        return row if hmac.compare_digest(row.key_hash, digest) else None

    @classmethod
    def named(cls, name: str) -> "ApiKey | None":
        """The key named ``name`` (revoked or not), or None."""
        return cls.get_or_none(cls.name == name)

    @classmethod
    def active(cls, name: str) -> "ApiKey | None":
        """The unrevoked key named ``name``, or None."""
        return cls.get_or_none((cls.name == name) & cls.revoked_at.is_null())

    @classmethod
    def by_name(cls) -> list["ApiKey"]:
        """Every key, by name."""
        return list(cls.select().order_by(cls.name))

    def bind_orgs(self, orgs: "list[str] | None") -> None:
        """Bind the key to ``orgs`` (none when empty), or make it service-wide (None)."""
        ApiKeyOrg.delete().where(ApiKeyOrg.key == self.id).execute()
        if orgs:
            ApiKeyOrg.insert_many([{"key": self.id, "org": o} for o in orgs]).execute()
        ApiKey.update(scoped=orgs is not None).where(ApiKey.id == self.id).execute()

    def revoke(self, now: datetime.datetime) -> dict:
        """Revoke the key, stop its webhooks and end its console sessions, in the caller's
        transaction. Returns ``{"webhooks", "sessions"}``: how many."""
        from models.console import ConsoleSession  # it imports this module
        from models.outbox import Webhook

        ApiKey.update(revoked_at=now).where(ApiKey.id == self.id).execute()
        hooks = Webhook.stop_of_key(self.name, now)
        sessions = ConsoleSession.delete().where(ConsoleSession.key == self.id).execute()
        return {"webhooks": hooks, "sessions": sessions}


class ApiKeyOrg(BaseModel):
    """One organization a scoped key is bound to."""

    key = peewee.ForeignKeyField(ApiKey, backref="org_rows", on_delete="CASCADE")
    key_id: int  # the foreign key's column, declared for the type checker
    org = peewee.ForeignKeyField(Organization, on_delete="CASCADE", index=True)
    org_id: str  # the foreign key's column, declared for the type checker

    @classmethod
    def bound(cls) -> "dict[int, list[str]]":
        """``{key id: the organizations it is bound to, by id}`` of every scoped key."""
        found: dict[int, list[str]] = {}
        for r in cls.select().order_by(cls.org):
            found.setdefault(r.key_id, []).append(r.org_id)
        return found

    class Meta:
        primary_key = peewee.CompositeKey("key", "org")


class KeyName(str):
    """An authenticated key's name (what the logs, the rate limit and the audit trail
    name), carrying its scope: ``orgs`` is None for a service-wide key, else the
    organizations it is bound to. The fact cache keeps it as the key's name."""

    orgs: "frozenset[str] | None"

    def __new__(cls, name: str, orgs: "frozenset[str] | None") -> "KeyName":
        made = super().__new__(cls, name)
        made.orgs = orgs
        return made


# A key's row by its hash, on every management call whose facts are not fresh: its SQL built
# once (models.base.Fixed).
_BY_HASH = Fixed(lambda digest: ApiKey.select().where(ApiKey.key_hash == digest).limit(1))
