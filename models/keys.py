"""API keys of the services that call us. Only a hash of each key is stored."""

import hashlib
import hmac
import secrets

import peewee

from models.base import BaseModel, utcnow

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

    @classmethod
    def create_key(cls, name: str) -> str:
        """Make a key named ``name`` and return it (it cannot be read back).

        Raises IntegrityError when the name is taken.
        """
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        cls.create(name=name, key_hash=hash_secret(key))
        return key

    @classmethod
    def find_active(cls, key: str) -> "ApiKey | None":
        """The unrevoked key matching ``key``, or None. The hash is compared in constant time."""
        digest = hash_secret(key)
        row = cls.get_or_none(cls.key_hash == digest)
        if row is None or row.revoked_at is not None:
            return None
        return row if hmac.compare_digest(row.key_hash, digest) else None
