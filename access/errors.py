"""The domain core's refusals, by kind: what went wrong in words a person can act on, and
the fields it is about. The core says *what* a refusal is; routes/errors.py maps each kind to
its HTTP status and problem document, once; the console shows the detail."""

from typing import ClassVar

FORBIDDEN = "Forbidden by policy"


class DomainError(Exception):
    """A refusal: ``detail`` a person can act on, ``errors`` naming fields.

    ``retryable``: the same request may succeed if sent again (a race lost), so an answer
    kept for an Idempotency-Key retry must not repeat it."""

    kind: ClassVar[str] = "refused"

    def __init__(self, detail: str, errors: dict | None = None, *, retryable: bool = False) -> None:
        super().__init__(detail)
        self.detail, self.errors, self.retryable = detail, errors, retryable


class Malformed(DomainError):
    """The request cannot be read at all (not JSON, not the shape a standard requires)."""


class Unauthenticated(DomainError):
    """No credential, or one the service does not know."""


class Forbidden(DomainError):
    """The caller may not do this. ``policy``: the policy said no (its reason is in the
    detail); otherwise the caller's credential does not reach that far (a key's scope)."""

    def __init__(
        self,
        detail: str,
        errors: dict | None = None,
        *,
        policy: bool = False,
        retryable: bool = False,
    ) -> None:
        super().__init__(detail, errors, retryable=retryable)
        self.policy = policy


class NotFound(DomainError):
    """No such thing in the organizations the caller may see."""


class Conflict(DomainError):
    """The state of things does not allow it now (taken, already done, a rule it breaks)."""


class Gone(DomainError):
    """It existed and ended (an expired or used invitation)."""


class Invalid(DomainError):
    """Fields that are not acceptable; ``errors`` names each one."""


class PolicyFault(DomainError):
    """The loaded policy does not declare what the service needs of it: a fault of the
    deployment, not of the request."""


class Unavailable(DomainError):
    """A dependency could not answer; try again."""


class FactsUnavailable(Unavailable):
    """The database could not be read while deciding: the answer is a deny, and the service
    says it is unavailable (503) rather than pretending the policy said no."""

    def __init__(self, detail: str = "the facts could not be read") -> None:
        super().__init__(detail)


class RateLimited(DomainError):
    """The caller sent more than its limit allows in the window; try again later."""
