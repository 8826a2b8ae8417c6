"""Users, as synced from the calling service's identity provider."""

from collections.abc import Iterable

import peewee

from models.base import BaseModel, Fixed, row_lock, utcnow


class User(BaseModel):
    """A person. The id is the subject id the caller's identity provider gave them."""

    id = peewee.CharField(primary_key=True, max_length=200)
    email = peewee.CharField(max_length=320)
    # Lower-cased email: unique, so two users never share an address whatever its case.
    email_key = peewee.CharField(max_length=320, unique=True)
    name = peewee.CharField(max_length=200, default="")
    default_org = peewee.CharField(max_length=64, null=True)
    last_active_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)

    @staticmethod
    def email_key_of(email: str) -> str:
        """The case-insensitive key of an email address."""
        return email.strip().lower()

    @classmethod
    def lock(cls, user_id: str) -> "User | None":
        """Lock the user's row until the transaction ends, and return it (or None).

        Creating an organization takes it, so "one organization per user" rules read a count
        no concurrent creation by the same user can change before commit. On SQLite the
        transaction's write lock (BEGIN IMMEDIATE) already serialises writers.
        """
        return _LOCK_USER.first(user_id)

    @classmethod
    def find(cls, user_id: str) -> "User | None":
        """The user ``user_id``, or None."""
        return _BY_ID.first(user_id)

    @classmethod
    def by_email_key(cls, email_key: str) -> "User | None":
        """The user whose email has the key ``email_key``, or None."""
        return cls.get_or_none(cls.email_key == email_key)

    @classmethod
    def default_to(cls, user_id: str, org_id: str) -> None:
        """Make ``org_id`` the default organization of ``user_id`` when they have none."""
        unset = (cls.id == user_id) & cls.default_org.is_null()
        cls.update(default_org=org_id).where(unset).execute()

    @classmethod
    def clear_default(cls, user_ids: Iterable[str], org_id: str | None = None) -> None:
        """Clear the default organization of ``user_ids`` (only where it is ``org_id``,
        when given)."""
        clause = cls.id.in_(list(user_ids))
        if org_id is not None:
            clause &= cls.default_org == org_id
        cls.update(default_org=None).where(clause).execute()

    @classmethod
    def holding(cls, email_keys: Iterable[str], other_than: str) -> set[str]:
        """Those of ``email_keys`` that a user other than ``other_than`` holds now."""
        held = cls.email_key.in_(sorted(set(email_keys))) & (cls.id != other_than)
        return {u.email_key for u in cls.select(cls.email_key).where(held)}


class UserEmail(BaseModel):
    """Every address a user has had (lower-cased), the current one included: erasing the
    user forgets each of them wherever the service wrote it (access/users.py). Written where
    a user is created or their email changes (``PUT /v1/users/{id}``, accepting an
    invitation as a new user); the rows go with the erasure."""

    id: "peewee.AutoField[int]"  # the automatic primary key, declared for the type checker
    user_id = peewee.CharField(max_length=200)
    email_key = peewee.CharField(max_length=320)
    first_seen_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("user_id", "email_key"), True),)

    @classmethod
    def remember(cls, user_id: str, email_key: str) -> None:
        """Record that ``user_id`` had ``email_key`` (once)."""
        cls.insert(user_id=user_id, email_key=email_key).on_conflict_ignore().execute()

    @classmethod
    def forget(cls, user_id: str) -> None:
        """Forget every address recorded for the user."""
        cls.delete().where(cls.user_id == user_id).execute()

    @classmethod
    def of(cls, user_id: str) -> set:
        """Every address recorded for the user."""
        return {r.email_key for r in cls.select(cls.email_key).where(cls.user_id == user_id)}


# Their SQL built once (models.base.Fixed).
_LOCK_USER = row_lock(User)
_BY_ID = Fixed(lambda user_id: User.select().where(User.id == user_id).limit(1))
