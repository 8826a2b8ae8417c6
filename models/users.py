"""Users, as synced from the calling service's identity provider."""

import peewee

from models.base import BaseModel, utcnow


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
        query = cls.select().where(cls.id == user_id)
        if not isinstance(cls._meta.database.obj, peewee.SqliteDatabase):
            query = query.for_update()
        return query.first()


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
    def of(cls, user_id: str) -> set:
        """Every address recorded for the user."""
        return {r.email_key for r in cls.select(cls.email_key).where(cls.user_id == user_id)}
