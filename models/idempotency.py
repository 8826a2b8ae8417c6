"""Answers kept for ``Idempotency-Key`` retries (routes/idempotency.py)."""

import peewee

from models.base import BaseModel, utcnow


class IdempotentRequest(BaseModel):
    """The first answer to a management write sent with an ``Idempotency-Key``.

    ``key_hash``: SHA-256 of the caller's API key name and the Idempotency-Key, never the key
    itself; ``sealed``: the answer encrypted with a key derived from the Idempotency-Key, so
    the one-time tokens an answer may carry cannot be read from the database; ``subjects``:
    keyed tags of the strings the request and answer hold, so an erasure finds the answers
    that name the user without reading them.
    """

    id: "peewee.AutoField[int]"  # the automatic primary key, declared for the type checker
    key_hash = peewee.CharField(max_length=64, unique=True)
    request_hash = peewee.CharField(max_length=64)
    status = peewee.IntegerField()
    sealed = peewee.TextField()
    # Who the request and its answer name, as keyed tags (``access.derived.subject_tag``),
    # " t1 t2 ": erasing a user drops the answers that name them (the answer is sealed).
    subjects = peewee.TextField(default="")
    created_at = peewee.DateTimeField(default=utcnow, index=True)

    @classmethod
    def forget_subjects(cls, tags: list[str]) -> None:
        """Drop the answers whose ``subjects`` hold any of ``tags`` (each `` tag ``)."""
        if not tags:
            return
        clause = cls.subjects.contains(tags[0])
        for tag in tags[1:]:
            clause |= cls.subjects.contains(tag)
        cls.delete().where(clause).execute()
