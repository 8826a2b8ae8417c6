"""The outbox: events in commit order, invitation mails to send, webhooks and their
deliveries (models/outbox.py); the event counter's one row; invitations gain the stored
status ``expired`` (set once, by the expiry job), which needs no schema change."""

import peewee

from models.outbox import OUTBOX_MODELS, EventCounter


def up(database: peewee.Database) -> None:
    database.create_tables(OUTBOX_MODELS, safe=True)
    table = EventCounter._meta.table_name
    if isinstance(database, peewee.SqliteDatabase):
        database.execute_sql(f'INSERT OR IGNORE INTO "{table}" (id, value) VALUES (1, 0)')
    else:
        database.execute_sql(
            f'INSERT INTO "{table}" (id, value) VALUES (1, 0) ON CONFLICT (id) DO NOTHING'
        )
