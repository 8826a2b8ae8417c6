"""orgauthz-client: call the orgauthz authorization service from Python.

``Client`` blocks, ``AsyncClient`` awaits; both have the same methods. Results are the
dataclasses of :mod:`orgauthz_client.types`; problems are the exceptions of
:mod:`orgauthz_client.errors`. ``orgauthz_client.flask`` guards Flask views.
"""

from ._ops import MAX_BATCH, UNSET
from .client import AsyncClient, Client
from .errors import (
    ApiError,
    BadRequest,
    Conflict,
    ConnectionFailed,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    OrgauthzError,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    Timeout,
    Unauthorized,
    Unavailable,
)
from .types import (
    Acceptance,
    Actions,
    Actor,
    AuditEvent,
    BatchResult,
    Check,
    Decision,
    Event,
    Explanation,
    Grant,
    Invitation,
    ListedResource,
    Member,
    Organization,
    Page,
    Ref,
    Resource,
    ResourceRef,
    User,
    UserOrg,
)

__version__ = "0.1.0"

__all__ = [
    "MAX_BATCH",
    "UNSET",
    "AsyncClient",
    "Client",
    "ApiError",
    "BadRequest",
    "Conflict",
    "ConnectionFailed",
    "Forbidden",
    "Gone",
    "Invalid",
    "NotFound",
    "OrgauthzError",
    "PayloadTooLarge",
    "RateLimited",
    "ServerError",
    "Timeout",
    "Unauthorized",
    "Unavailable",
    "Acceptance",
    "Actions",
    "Actor",
    "AuditEvent",
    "BatchResult",
    "Check",
    "Decision",
    "Event",
    "Explanation",
    "Grant",
    "Invitation",
    "ListedResource",
    "Member",
    "Organization",
    "Page",
    "Ref",
    "Resource",
    "ResourceRef",
    "User",
    "UserOrg",
]
