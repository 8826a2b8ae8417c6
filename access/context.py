"""What every operation of the domain core needs from whoever called it."""

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from authz.engine import PolicySet


@dataclass(frozen=True)
class Context:
    """The policy version, the clock and who is calling, for one request.

    Built by the HTTP routes, the console and the CLI (the core imports none of them):
    ``actor`` is the acting user, ``request_id`` and ``api_key`` go into the audit trail,
    ``orgs`` is the API key's scope (access/keys.py).
    """

    policy: PolicySet
    clock: Callable[[], datetime.datetime]
    actor: str | None = None
    request_id: str | None = None
    api_key: str | None = None
    orgs: frozenset[str] | None = None  # the API key's organizations; None: service-wide

    def now(self) -> datetime.datetime:
        """The current time from the context's clock (the tests control it)."""
        return self.clock()
