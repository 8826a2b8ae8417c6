"""Numbered migrations, applied in order by ``models.migrate.upgrade`` (``flask db upgrade``).

Each module ``mNNNN_<name>.py`` has ``up(database)``, run in one transaction with its row
in ``schema_migration``. A migration is written for the database as the one before it left
it, and must not be edited once released: change the schema with a new one. The first is
what ``flask db init`` created before migrations existed, so a database made then upgrades
in place (its tables exist, so 0001 only adds what is missing).
"""
