"""Facts cached across requests, per worker, valid for one value of the change counter.

``sync()`` runs once per decision request: one primary-key read of the counter
(models/generation.py). If the counter moved, the next requests get fresh, empty maps. A
request keeps the maps it synced with, so a request that loaded old rows while a change
committed writes them into maps nobody will read again: stale facts can never be served
after the change is visible.
"""

import threading

from models import db
from models.generation import current


class Maps:
    """The cached facts of one generation."""

    __slots__ = ("generation", "orgs", "targets", "actors", "grants", "keys")

    def __init__(self, generation: int):
        self.generation = generation
        self.orgs, self.targets, self.actors, self.grants, self.keys = {}, {}, {}, {}, {}


class FactCache:
    """One per worker process; thread-safe (gthread workers share it)."""

    def __init__(self):
        self._maps = Maps(-1)
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget everything (a new app may be bound to another database)."""
        with self._lock:
            self._maps = Maps(-1)

    def sync(self) -> Maps:
        """The maps valid now: drop everything if any decision fact changed since."""
        generation = current(db)
        maps = self._maps
        if maps.generation != generation:
            with self._lock:
                if self._maps.generation != generation:
                    self._maps = Maps(generation)
                maps = self._maps
        return maps


CACHE = FactCache()
