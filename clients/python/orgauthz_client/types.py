"""Typed results, one dataclass per object the service answers (and the two request objects
a caller builds: :class:`ResourceRef` and :class:`Check`).

Each class names where the service's ``/openapi.json`` describes it in ``__openapi__``:
``(method, path, where)``, ``where`` being the property path inside that operation's
success schema (``""`` the body itself, ``"items[]"`` the items of a page,
``"explanation"`` a nested property). The client's tests compare every class's fields with
that schema (names, required, nullable), so the document and the client cannot drift apart.
Fields the service adds later land in ``extra`` instead of failing.
"""

from __future__ import annotations

import dataclasses
import sys
import types as _pytypes
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

T = TypeVar("T")
D = TypeVar("D", bound="_Model")


class _Model:
    """``from_json`` for the dataclasses below: known fields by name, nested models by the
    field's type, the rest kept in ``extra``."""

    __openapi__: ClassVar[tuple[str, str, str] | None] = None

    @classmethod
    def from_json(cls: type[D], data: dict[str, Any]) -> D:
        hints = _hints(cls)
        known = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name == "extra":
                continue
            if f.name in data:
                known[f.name] = _convert(hints[f.name], data[f.name])
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                known[f.name] = None  # the server left out a field it documents as required
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        extra = {k: v for k, v in data.items() if k not in names}
        return cls(**known, extra=extra)  # type: ignore[call-arg]

    def to_json(self) -> dict[str, Any]:
        """The object as the service reads it: ``None`` fields and ``extra`` left out."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.name == "extra" or value is None:
                continue
            out[f.name] = value.to_json() if isinstance(value, _Model) else value
        return out


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
    return _HINTS[cls]


def _convert(hint: Any, value: Any) -> Any:
    """``value`` (JSON) as ``hint``: a nested model, or a list of them; anything else as is."""
    if value is None:
        return None
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    origin = typing.get_origin(hint)
    if origin is list and args and isinstance(value, list):
        return [_convert(args[0], v) for v in value]
    if origin in (typing.Union, _pytypes.UnionType) and args:
        return _convert(args[0], value)
    if isinstance(hint, type) and issubclass(hint, _Model) and isinstance(value, dict):
        return hint.from_json(value)
    return value


def _extra() -> Any:
    return field(default_factory=dict, repr=False, compare=False)


# ---------------------------------------------------------------- what a caller sends


@dataclass
class Ref(_Model):
    """A resource named by type and id (a parent, a registered resource)."""

    __openapi__ = ("get", "/v1/orgs/{}/resources/{}/{}", "parent")

    type: str
    id: str
    extra: dict[str, Any] = _extra()


@dataclass
class ResourceRef(_Model):
    """What a decision is about: a registered resource by ``type``, ``id`` and ``org`` (the
    organization that registered it: name it whenever ids can come from end users; without
    it, an id that several orgs registered is a 422), or one described inline (``org``,
    ``parent``, ``owner``, ``attributes``) for the caller's own objects. For a registered
    resource the stored facts win."""

    __openapi__ = ("post", "/v1/authorize/actions", "<request>resource")

    type: str
    id: str
    org: str | None = None
    parent: Ref | None = None
    owner: str | None = None
    attributes: dict[str, Any] | None = None
    extra: dict[str, Any] = _extra()


@dataclass
class Check(_Model):
    """One check of :meth:`Client.authorize_batch` (``actor`` is the user id)."""

    __openapi__ = ("post", "/v1/authorize", "<request>")

    actor: str
    action: str
    resource: ResourceRef
    explain: bool = False
    consistency: dict[str, Any] | None = None  # {"mode": ..., "token": ...} (contract 1.1)
    context: dict[str, Any] | None = None  # the request context, e.g. {"ip": ...} (1.3)
    extra: dict[str, Any] = _extra()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "actor": {"id": self.actor},
            "action": self.action,
            "resource": self.resource.to_json(),
            "explain": self.explain,
        }
        if self.context:
            out["context"] = dict(self.context)
        if self.consistency is not None:
            out["consistency"] = self.consistency
        return out


# ---------------------------------------------------------------- decisions


@dataclass
class Explanation(_Model):
    """Why: the role or grant held, the effective roles, the rule, or why nothing did."""

    __openapi__ = ("post", "/v1/authorize", "explanation")

    style: str | None = None
    reason: str | None = None
    rule: str | None = None
    held: list[dict[str, Any]] | None = None
    effective_roles: list[str] | None = None
    resource_chain: list[dict[str, Any]] | None = None
    facts_shown: list[dict[str, Any]] | None = None
    declared_actions: list[str] | None = None
    extra: dict[str, Any] = _extra()


@dataclass
class Decision(_Model):
    """The answer of ``POST /v1/authorize`` (``explanation`` when asked with ``explain``)."""

    __openapi__ = ("post", "/v1/authorize", "")

    allowed: bool
    decision_id: str
    policy_version: str
    consistency_token: str | None = None  # the change position it was decided at (1.1)
    explanation: Explanation | None = None
    extra: dict[str, Any] = _extra()

    @property
    def reason(self) -> str | None:
        """The policy's reason, when the decision was explained."""
        return self.explanation.reason if self.explanation else None


@dataclass
class BatchResult:
    """The answers of :meth:`Client.authorize_batch`, in the order of the checks.

    The service decides at most 1,000 checks per call, all against one policy version. More
    checks are sent as several calls, so a policy reload between two calls can answer them
    with different versions: ``policy_versions`` has every version that answered (one
    element when one version decided everything), ``calls`` how many calls were made.
    """

    results: list[Decision]
    policy_versions: set[str]
    calls: int

    @property
    def one_policy_version(self) -> bool:
        return len(self.policy_versions) <= 1

    def __iter__(self) -> typing.Iterator[Decision]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, index: int) -> Decision:
        return self.results[index]


@dataclass
class Actions(_Model):
    """The answer of ``POST /v1/authorize/actions``."""

    __openapi__ = ("post", "/v1/authorize/actions", "")

    actions: list[str]
    policy_version: str | None = None
    consistency_token: str | None = None  # the change position it was decided at (1.1)
    extra: dict[str, Any] = _extra()


@dataclass
class ListedResource(_Model):
    """One item of ``POST /v1/authorize/resources``."""

    __openapi__ = ("post", "/v1/authorize/resources", "items[]")

    type: str | None = None
    id: str | None = None
    org: str | None = None
    extra: dict[str, Any] = _extra()


@dataclass
class Actor(_Model):
    """One item of ``POST /v1/authorize/actors``."""

    __openapi__ = ("post", "/v1/authorize/actors", "items[]")

    id: str | None = None
    extra: dict[str, Any] = _extra()


# ---------------------------------------------------------------- management


@dataclass
class Organization(_Model):
    __openapi__ = ("get", "/v1/orgs/{}", "")

    id: str
    name: str
    style: str
    legal: dict[str, Any]
    billing: dict[str, Any]
    created_by: str | None
    created_at: str | None
    closed_at: str | None
    admin_ip_allowlist: list[str] | None = None  # where its settings may change from (1.3)
    role: str | None = None  # the acting user's role in it
    initial_resource: dict[str, Any] | None = None  # respond.io: the first Space
    extra: dict[str, Any] = _extra()


@dataclass
class Member(_Model):
    """A member (``status: active``) or a pending invitation (``status: pending``,
    ``user_id`` null, with ``invitation_id`` and ``expires_at``)."""

    __openapi__ = ("get", "/v1/orgs/{}/members", "items[]")

    user_id: str | None
    email: str
    name: str
    role: str
    status: str
    last_active_at: str | None
    joined_at: str | None = None
    invitation_id: str | None = None
    expires_at: str | None = None
    extra: dict[str, Any] = _extra()


@dataclass
class MemberDetail(_Model):
    """One member with the grants it holds in the org (``GET .../members/{user_id}``)."""

    __openapi__ = ("get", "/v1/orgs/{}/members/{}", "")

    user_id: str | None
    email: str
    name: str
    role: str
    status: str
    last_active_at: str | None
    grants: list[dict[str, Any]]
    joined_at: str | None = None
    invitation_id: str | None = None
    expires_at: str | None = None
    extra: dict[str, Any] = _extra()


@dataclass
class Invitation(_Model):
    """An invitation; ``token`` only in the answer that created it."""

    __openapi__ = ("get", "/v1/orgs/{}/invitations", "items[]")

    id: str
    org_id: str
    email: str
    role: str
    status: str
    expires_at: str | None
    invited_by: str | None
    created_at: str | None
    accepted_by: str | None
    ended_at: str | None
    token: str | None = None
    membership_days: int | None = None  # the membership lapses this many days after (1.3)
    extra: dict[str, Any] = _extra()


@dataclass
class Acceptance(_Model):
    """The membership an accepted invitation made."""

    __openapi__ = ("post", "/v1/invitations/accept", "")

    org_id: str
    user_id: str
    role: str
    status: str
    invitation_id: str
    joined_at: str | None
    consistency_token: str | None = None  # the change position it committed at (1.1)
    extra: dict[str, Any] = _extra()


@dataclass
class User(_Model):
    __openapi__ = ("get", "/v1/users/{}", "")

    id: str
    email: str
    name: str
    default_org_id: str | None
    last_active_at: str | None
    created_at: str | None
    extra: dict[str, Any] = _extra()


@dataclass
class UserOrg(_Model):
    """One organization of ``GET /v1/users/{id}/orgs``, with the user's role in it."""

    __openapi__ = ("get", "/v1/users/{}/orgs", "items[]")

    id: str
    name: str
    style: str
    role: str
    closed_at: str | None
    is_default: bool
    extra: dict[str, Any] = _extra()


@dataclass
class AuditEvent(_Model):
    __openapi__ = ("get", "/v1/orgs/{}/audit", "items[]")

    id: int
    actor: str | None
    action: str
    target: str | None
    before: Any
    after: Any
    request_id: str | None
    api_key: str | None
    created_at: str | None
    org: str | None = None
    summary: str | None = None  # the entry in words: who did what to whom
    extra: dict[str, Any] = _extra()


@dataclass
class Resource(_Model):
    """A registered resource."""

    __openapi__ = ("get", "/v1/orgs/{}/resources/{}/{}", "")

    type: str | None = None
    id: str | None = None
    org: str | None = None
    parent: Ref | None = None
    owner: str | None = None
    attributes: dict[str, Any] | None = None
    created_at: str | None = None
    updated_at: str | None = None
    extra: dict[str, Any] = _extra()


@dataclass
class Grant(_Model):
    """A user's role on one resource."""

    __openapi__ = ("put", "/v1/orgs/{}/resources/{}/{}/grants/{}", "")

    user_id: str | None = None
    type: str | None = None
    id: str | None = None
    org: str | None = None
    role: str | None = None
    created_at: str | None = None
    expires_at: str | None = None  # when it lapses (1.3); None: never
    consistency_token: str | None = None  # the change position it committed at (1.1)
    extra: dict[str, Any] = _extra()


@dataclass
class ResourceWithGrants(_Model):
    """One resource of ``GET /v1/orgs/{id}/resources`` (a level of the tree), with its
    grants."""

    __openapi__ = ("get", "/v1/orgs/{}/resources", "items[]")

    type: str | None = None
    id: str | None = None
    org: str | None = None
    parent: Ref | None = None
    owner: str | None = None
    attributes: dict[str, Any] | None = None
    grants: list[dict[str, Any]] | None = None
    created_at: str | None = None
    updated_at: str | None = None
    extra: dict[str, Any] = _extra()


@dataclass
class ResourceGrant(_Model):
    """One grant of ``GET .../resources/{type}/{id}/grants``."""

    __openapi__ = ("get", "/v1/orgs/{}/resources/{}/{}/grants", "items[]")

    user_id: str
    role: str
    created_at: str | None
    expires_at: str | None  # when it lapses (1.3); None: never
    extra: dict[str, Any] = _extra()


@dataclass
class Erasure(_Model):
    """What ``DELETE /v1/users/{id}`` did; ``user_id`` is the pseudonym left in the trail."""

    __openapi__ = ("delete", "/v1/users/{}", "")

    user_id: str
    orgs_left: list[str]
    invitations_removed: int
    resources_unowned: int
    audit_entries_pseudonymised: int
    events_pseudonymised: int
    consistency_token: str | None = None  # the change position it committed at (1.1)
    extra: dict[str, Any] = _extra()


@dataclass
class Event(_Model):
    """One committed change of ``GET /v1/events`` (contract 1.1), in commit order."""

    __openapi__ = ("get", "/v1/events", "items[]")

    id: str | int
    type: str
    time: str
    org: str | None
    actor: str | None
    subject: Any
    before: Any
    after: Any
    extra: dict[str, Any] = _extra()


@dataclass
class Page(Generic[T]):
    """One page of a list: ``next_cursor`` is None on the last one."""

    items: list[T]
    next_cursor: str | None


@dataclass
class TeamMember(_Model):
    """A member's place in a team (1.3)."""

    __openapi__ = ("put", "/v1/orgs/{}/teams/{}/members/{}", "")

    user_id: str
    expires_at: str | None
    consistency_token: str | None = None  # the change position it committed at
    extra: dict[str, Any] = _extra()


@dataclass
class TeamGrant(_Model):
    """A team's role on one resource (1.3)."""

    __openapi__ = ("put", "/v1/orgs/{}/teams/{}/grants/{}/{}", "")

    type: str
    id: str
    role: str
    expires_at: str | None
    consistency_token: str | None = None  # the change position it committed at
    extra: dict[str, Any] = _extra()


@dataclass
class Team(_Model):
    """A team of an organization (1.3): its members hold its org role and its grants."""

    __openapi__ = ("post", "/v1/orgs/{}/teams", "")

    id: str
    name: str
    role: str | None
    created_at: str | None
    consistency_token: str | None = None  # the change position it committed at
    extra: dict[str, Any] = _extra()


@dataclass
class TeamDetail(_Model):
    """A team with its live members and roles on resources (1.3)."""

    __openapi__ = ("get", "/v1/orgs/{}/teams/{}", "")

    id: str
    name: str
    members: list[TeamMember]
    grants: list[TeamGrant]
    role: str | None
    created_at: str | None
    extra: dict[str, Any] = _extra()


# Contract 1.3's verified domains, requests to join and custom roles live in their own
# modules (length).
from .domain_types import Domain, JoinRequest, Suggestion  # noqa: E402
from .role_types import CustomRole, CustomRoleDetail, CustomRoleUses, RolePermission, Roles  # noqa: E402

MODELS: tuple[type[_Model], ...] = (
    Ref,
    ResourceRef,
    Check,
    Explanation,
    Decision,
    Actions,
    ListedResource,
    Actor,
    Organization,
    Member,
    MemberDetail,
    Invitation,
    Acceptance,
    User,
    UserOrg,
    AuditEvent,
    Resource,
    Grant,
    ResourceWithGrants,
    ResourceGrant,
    Erasure,
    Event,
    Team,
    TeamDetail,
    TeamMember,
    TeamGrant,
    Domain,
    Suggestion,
    JoinRequest,
    Roles,
    RolePermission,
    CustomRole,
    CustomRoleDetail,
    CustomRoleUses,
)
"""Every class that mirrors a schema of the service's OpenAPI document."""
