"""orgauthz-client: call the orgauthz authorization service from Python.

``Client`` blocks, ``AsyncClient`` awaits; both have the same methods. Results are the
dataclasses of :mod:`orgauthz_client.types`; problems are the exceptions of
:mod:`orgauthz_client.errors`. ``orgauthz_client.flask`` guards Flask views;
``verify_webhook`` checks a webhook delivery's Standard Webhooks signature.
"""

# The one place the version is written (pyproject.toml reads it: dynamic = ["version"]); set
# before the submodules load, which send it in the User-Agent.
__version__ = "0.1.0"

from ._ops import MAX_BATCH, UNSET  # noqa: E402
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
    Domain,
    Erasure,
    Event,
    Explanation,
    Grant,
    Invitation,
    JoinRequest,
    ListedResource,
    Member,
    MemberDetail,
    Organization,
    Page,
    Ref,
    Resource,
    ResourceGrant,
    ResourceRef,
    ResourceWithGrants,
    Suggestion,
    User,
    UserOrg,
)
from .webhooks import InvalidWebhook, verify_webhook

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
    "InvalidWebhook",
    "verify_webhook",
    "Acceptance",
    "Actions",
    "Actor",
    "AuditEvent",
    "BatchResult",
    "Check",
    "Decision",
    "Domain",
    "Erasure",
    "Event",
    "Explanation",
    "Grant",
    "Invitation",
    "JoinRequest",
    "ListedResource",
    "Member",
    "MemberDetail",
    "Organization",
    "Page",
    "Ref",
    "Resource",
    "ResourceGrant",
    "ResourceRef",
    "ResourceWithGrants",
    "Suggestion",
    "User",
    "UserOrg",
]
