"""Every address a user has had (``user_email``), so erasing them forgets each one, and the
keyed tags of who a kept Idempotency-Key answer names (``idempotent_request.subjects``), so
erasing them drops those answers.

The history starts from what the database already shows: each user's current address, the
addresses their ``user.create`` and ``user.update`` audit entries name, and those of the
invitations they accepted. Answers kept before this migration have no tags (they expire
within a day). Columns are added only when missing (an earlier migration may have created
the table from today's model).
"""

import json

import peewee

from models.users import UserEmail


def _add_column(database: peewee.Database, table: str, ddl: str) -> None:
    name = ddl.split()[0]
    if name not in {c.name for c in database.get_columns(table)}:
        database.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN {ddl}')


def _emails(document: str | None) -> list:
    """The ``email`` of an audit entry's before or after (JSON text), if any."""
    try:
        value = json.loads(document) if document else None
    except ValueError:
        return []
    email = value.get("email") if isinstance(value, dict) else None
    return [email] if isinstance(email, str) and email else []


def up(database: peewee.Database) -> None:
    _add_column(database, "idempotent_request", "subjects TEXT NOT NULL DEFAULT ''")
    database.create_tables([UserEmail], safe=True)
    found = set(database.execute_sql('SELECT id, email_key FROM "user"').fetchall())
    users = {user_id for user_id, _ in found}
    accepted = database.execute_sql(
        'SELECT accepted_by, email_key FROM "invitation" WHERE accepted_by IS NOT NULL'
    )
    for user_id, key in accepted.fetchall():
        found.add((user_id, key))
    audited = database.execute_sql(
        'SELECT target, before, after FROM "audit_event" '
        "WHERE action IN ('user.create', 'user.update')"
    )
    for target, before, after in audited.fetchall():
        if not (target or "").startswith("user:"):
            continue
        for email in _emails(before) + _emails(after):
            found.add((target[len("user:") :], email.strip().lower()))
    p = database.param
    for user_id, key in sorted(f for f in found if f[0] in users):  # erased ones: pseudonyms
        database.execute_sql(
            f'INSERT INTO "user_email" (user_id, email_key, first_seen_at) VALUES ({p}, {p}, '
            "CURRENT_TIMESTAMP) ON CONFLICT (user_id, email_key) DO NOTHING",
            (user_id, key),
        )
