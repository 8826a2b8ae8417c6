"""The database errors the domain core tells apart, so that it catches them without
importing the driver's library: a read or write that failed (``DatabaseError``), a unique or
foreign key violated (``IntegrityError``, one of them), a connection unusable
(``InterfaceError``, not a DatabaseError)."""

from peewee import DatabaseError, IntegrityError, InterfaceError

__all__ = ["DatabaseError", "IntegrityError", "InterfaceError"]
