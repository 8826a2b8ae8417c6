"""The domain core's refusals: each carries the HTTP status a caller gets, a detail a person
can act on, and the fields it is about. routes/errors.py turns them into problem details;
the console shows their detail."""


class ApiError(Exception):
    """A refusal with a status and a detail a person can act on; ``errors`` names fields."""

    def __init__(
        self,
        status: int,
        detail: str,
        errors: dict | None = None,
        title: str = "",
        retryable: bool = False,
    ):
        super().__init__(detail)
        self.status, self.detail, self.errors, self.title = status, detail, errors, title
        # A refusal that the same request may not meet again (a race lost): an answer kept
        # for an Idempotency-Key retry would tell the client to retry for ever.
        self.retryable = retryable


FORBIDDEN = "Forbidden by policy"


class FactsUnavailable(Exception):
    """The database could not be read while deciding: the answer is a deny, and the service
    says it is unavailable (503) rather than pretending the policy said no."""
