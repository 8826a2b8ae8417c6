"""Problem details (RFC 9457) as exceptions, and transport failures.

Every error the client raises is an :class:`OrgauthzError`. An answer of the service that is
not a success is an :class:`ApiError` subclass chosen by its status, carrying the problem's
``title``, ``detail`` and ``errors`` (field -> messages); a request that got no answer is a
:class:`ConnectionFailed` (or its :class:`Timeout`).
"""

from __future__ import annotations

from typing import Any


class OrgauthzError(Exception):
    """Anything the client raises."""


class ConnectionFailed(OrgauthzError):
    """No answer: the connection could not be made, or broke (the cause is chained)."""


class Timeout(ConnectionFailed):
    """No answer within the timeout."""


class ApiError(OrgauthzError):
    """The service answered with a problem document (``application/problem+json``)."""

    status: int = 0

    def __init__(
        self,
        status: int,
        title: str = "",
        detail: str = "",
        errors: dict[str, list[str]] | None = None,
        type: str = "about:blank",
        body: Any = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}" if detail else f"{status} {title}")
        self.status = status
        self.title = title
        self.detail = detail
        self.errors: dict[str, list[str]] = errors or {}
        self.type = type
        self.body = body
        self.request_id = request_id
        self.retry_after = retry_after


class BadRequest(ApiError):
    """400: the body is not JSON, or nests too deeply."""


class Unauthorized(ApiError):
    """401: no API key, or a wrong or revoked one."""


class Forbidden(ApiError):
    """403: the org's policy refuses the change; ``reason`` is the policy's words."""

    @property
    def reason(self) -> str:
        return self.detail


class NotFound(ApiError):
    """404: an unknown id (or a route this service does not have yet)."""


class Conflict(ApiError):
    """409: the change conflicts with the current state (last owner, already a member...)."""


class Gone(ApiError):
    """410: an invitation that expired, was cancelled or was used."""


class PayloadTooLarge(ApiError):
    """413: the body is over the service's limit."""


class Invalid(ApiError):
    """422: invalid fields; ``errors`` names each one with its messages."""


class RateLimited(ApiError):
    """429: over the API key's rate limit; ``retry_after`` in seconds when the service said."""


class Unavailable(ApiError):
    """503: the service cannot decide now (its database is down); the answer is a deny.
    ``retry_after`` carries the ``Retry-After`` header in seconds."""


class ServerError(ApiError):
    """Any other 5xx."""


BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    413: PayloadTooLarge,
    422: Invalid,
    429: RateLimited,
    503: Unavailable,
}


def error_for(
    status: int, body: Any, request_id: str | None = None, retry_after: float | None = None
) -> ApiError:
    """The exception for a non-success answer with ``body`` (a problem document, or not)."""
    cls = BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    problem = body if isinstance(body, dict) else {}
    errors = problem.get("errors")
    return cls(
        status,
        title=str(problem.get("title") or ""),
        detail=str(problem.get("detail") or (body if isinstance(body, str) else "")),
        errors=errors if isinstance(errors, dict) else None,
        type=str(problem.get("type") or "about:blank"),
        body=body,
        request_id=request_id,
        retry_after=retry_after,
    )
