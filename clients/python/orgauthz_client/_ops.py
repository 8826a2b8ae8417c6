"""Every operation of the API, once, for both clients.

An operation is a generator: it yields the ``Call`` s it needs, receives each one's
successful ``Reply`` and returns the typed result (the drivers in ``client.py`` send, retry
and raise). A list is a ``Paged``: its first call, where the cursor goes and how an item is
read; the drivers turn it into an iterator over every page.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from ._core import Call, Core, Reply
from .types import (
    Acceptance,
    Actions,
    Actor,
    AuditEvent,
    BatchResult,
    Check,
    Decision,
    Erasure,
    Event,
    Grant,
    Invitation,
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
    User,
    UserOrg,
)

T = TypeVar("T")
Op = Generator[Call, Reply, T]
ResourceLike = ResourceRef | Ref | Mapping[str, Any] | tuple[str, str] | tuple[str, str, str | None]
ActorLike = str | Mapping[str, Any]

MAX_BATCH = 1000
"""The service's limit of checks per ``/v1/authorize/batch`` call."""


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""A field left out of a ``PATCH``-like body (``None`` sends ``null``, which clears it)."""


@dataclass
class Paged(Generic[T]):
    """A list: ``first`` call; the cursor goes into the query (``param``) or the JSON body
    (``in_body``); ``item`` reads one item."""

    first: Call
    item: Callable[[dict[str, Any]], T]
    param: str = "cursor"
    in_body: bool = False
    stream: bool = False  # the cursor never ends (events): stop at the first empty page

    def next(self, cursor: str) -> Call:
        if self.in_body:
            return replace(self.first, json={**self.first.json, "cursor": cursor})
        return replace(self.first, params={**(self.first.params or {}), self.param: cursor})

    def page(self, reply: Reply) -> Page[T]:
        body = reply.body or {}
        return Page([self.item(i) for i in body.get("items") or []], body.get("next_cursor"))

    def after(self, page: Page[T]) -> Call | None:
        """The call for the page after ``page``; None when it was the last."""
        if not page.next_cursor or (self.stream and not page.items):
            return None
        return self.next(page.next_cursor)


def _seg(value: str) -> str:
    return quote(str(value), safe="")


def _actor(actor: ActorLike) -> dict[str, Any]:
    return {"id": actor} if isinstance(actor, str) else dict(actor)


def resource_json(resource: ResourceLike) -> dict[str, Any]:
    """A resource as the decision endpoints read it."""
    if isinstance(resource, (ResourceRef, Ref)):
        return resource.to_json()
    if isinstance(resource, tuple):  # (type, id) or (type, id, org)
        named = {"type": resource[0], "id": resource[1]}
        if len(resource) > 2 and resource[2]:
            named["org"] = resource[2]
        return named
    return dict(resource)


def _check_json(
    check: Check | Mapping[str, Any] | tuple[Any, ...], explain: bool
) -> dict[str, Any]:
    if isinstance(check, Check):
        body = check.to_json()
        body["explain"] = check.explain or explain
    elif isinstance(check, tuple):
        actor, action, resource = check
        body = {"actor": _actor(actor), "action": action, "resource": resource_json(resource)}
    else:
        body = dict(check)
        body["actor"] = _actor(body["actor"])
        body["resource"] = resource_json(body["resource"])
    body.setdefault("explain", explain)
    return body


# ---------------------------------------------------------------- decisions


def authorize(
    c: Core, actor: ActorLike, action: str, resource: ResourceLike, *, explain: bool = False
) -> Op[Decision]:
    """May ``actor`` (a user id) do ``action`` on ``resource``? Unknown actors, actions and
    resources are ``allowed: False``, never an error. ``explain=True`` adds the
    explanation (``decision.reason``). Raises on errors; see :meth:`allowed` for a
    fail-closed answer."""
    body = {
        "actor": _actor(actor),
        "action": action,
        "resource": resource_json(resource),
        "explain": explain,
    }
    reply = yield Call("POST", "/v1/authorize", json=body)
    return Decision.from_json(reply.body)


def allowed(
    c: Core,
    actor: ActorLike,
    action: str,
    resource: ResourceLike,
    *,
    timeout: float | None = None,
) -> Op[bool]:
    """Fail closed: True only when the service answered ``allowed: true``. A timeout, a
    connection error, a 503 (or any other error) is False, within ``timeout`` seconds in
    all (the client's timeout by default) including retries. Never raises for those; they
    are logged on the ``orgauthz_client`` logger."""
    seconds = timeout if timeout is not None else c._settings.timeout
    body = {"actor": _actor(actor), "action": action, "resource": resource_json(resource)}
    call = Call(
        "POST",
        "/v1/authorize",
        json=body,
        timeout=seconds,
        deadline=time.monotonic() + seconds,
    )
    reply = yield call
    return (reply.body or {}).get("allowed") is True


def authorize_batch(
    c: Core,
    checks: Iterable[Check | Mapping[str, Any] | tuple[Any, ...]],
    *,
    explain: bool = False,
) -> Op[BatchResult]:
    """Decide many checks, answered in their order. A check is a :class:`Check`, a dict
    like the body of ``authorize``, or ``(actor, action, resource)``.

    The service takes at most 1,000 checks per call (``MAX_BATCH``), each call against one
    policy version. A longer list is split into several calls, so a policy reload between
    them can decide parts under different versions: the result's ``policy_versions`` names
    every version that answered (``result.one_policy_version`` tells whether one did) and
    ``calls`` how many calls were made."""
    bodies = [_check_json(ch, explain) for ch in checks]
    results: list[Decision] = []
    calls = 0
    for start in range(0, len(bodies), MAX_BATCH):
        reply = yield Call(
            "POST", "/v1/authorize/batch", json={"checks": bodies[start : start + MAX_BATCH]}
        )
        calls += 1
        results.extend(Decision.from_json(r) for r in reply.body["results"])
    return BatchResult(results, {r.policy_version for r in results}, calls)


def allowed_actions(c: Core, actor: ActorLike, resource: ResourceLike) -> Op[Actions]:
    """Every action the policy allows ``actor`` on ``resource``."""
    body = {"actor": _actor(actor), "resource": resource_json(resource)}
    reply = yield Call("POST", "/v1/authorize/actions", json=body)
    return Actions.from_json(reply.body)


def list_resources(
    c: Core, actor: ActorLike, action: str, type: str, org: str, *, page_size: int | None = None
) -> Paged[ListedResource]:
    """Every registered resource of ``type`` in ``org`` on which ``actor`` may do
    ``action``, in id order, over every page (``page_size`` per call, 1 to 500)."""
    body: dict[str, Any] = {"actor": _actor(actor), "action": action, "type": type, "org": org}
    if page_size is not None:
        body["limit"] = page_size
    return Paged(
        Call("POST", "/v1/authorize/resources", json=body), ListedResource.from_json, in_body=True
    )


def list_actors(
    c: Core, action: str, resource: ResourceLike, *, page_size: int | None = None
) -> Paged[Actor]:
    """Every user who may do ``action`` on ``resource``, in id order, over every page."""
    body: dict[str, Any] = {"action": action, "resource": resource_json(resource)}
    if page_size is not None:
        body["limit"] = page_size
    return Paged(Call("POST", "/v1/authorize/actors", json=body), Actor.from_json, in_body=True)


# ---------------------------------------------------------------- organizations


def create_org(
    c: Core,
    name: str,
    style: str,
    *,
    id: str | None = None,
    legal: Mapping[str, Any] | None = None,
    billing: Mapping[str, Any] | None = None,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[Organization]:
    """Create an organization; the acting user gets the style's top role."""
    body: dict[str, Any] = {"name": name, "style": style}
    for key, value in (("id", id), ("legal", legal), ("billing", billing)):
        if value is not None:
            body[key] = value
    reply = yield Call(
        "POST",
        "/v1/orgs",
        json=body,
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return Organization.from_json(reply.body)


def get_org(c: Core, org_id: str, *, actor: str | None = None) -> Op[Organization]:
    reply = yield Call("GET", f"/v1/orgs/{_seg(org_id)}", actor=c._actor(actor))
    return Organization.from_json(reply.body)


def update_org(
    c: Core,
    org_id: str,
    *,
    name: str | None = None,
    legal: Mapping[str, Any] | None = None,
    billing: Mapping[str, Any] | None = None,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[Organization]:
    """Change the name, legal or billing details (each is its own action; all must be
    allowed). ``legal`` and ``billing`` replace the stored object."""
    body = {
        k: v for k, v in (("name", name), ("legal", legal), ("billing", billing)) if v is not None
    }
    reply = yield Call(
        "PATCH",
        f"/v1/orgs/{_seg(org_id)}",
        json=body,
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return Organization.from_json(reply.body)


def close_org(
    c: Core, org_id: str, *, actor: str | None = None, idempotency_key: str | None = None
) -> Op[Organization]:
    """Close the organization (its rows are kept; it then allows nothing)."""
    reply = yield Call(
        "DELETE",
        f"/v1/orgs/{_seg(org_id)}",
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return Organization.from_json(reply.body)


def list_orgs(
    c: Core, *, actor: str | None = None, page_size: int | None = None
) -> Paged[Organization]:
    """The acting user's organizations (contract 1.1: ``GET /v1/orgs``)."""
    return Paged(
        Call("GET", "/v1/orgs", params={"limit": page_size}, actor=c._actor(actor)),
        Organization.from_json,
    )


def audit(
    c: Core,
    org_id: str,
    *,
    actor: str | None = None,
    page_size: int | None = None,
    filters: Mapping[str, str] | None = None,
) -> Paged[AuditEvent]:
    """The org's audit trail, every page. ``filters`` are sent as query parameters
    (contract 1.1: ``actor``, ``action``, ``subject``, ``since``, ``until``, ``order``)."""
    params: dict[str, Any] = {"limit": page_size, **(filters or {})}
    return Paged(
        Call("GET", f"/v1/orgs/{_seg(org_id)}/audit", params=params, actor=c._actor(actor)),
        AuditEvent.from_json,
    )


# ---------------------------------------------------------------- members


def list_members(
    c: Core,
    org_id: str,
    *,
    role: str | None = None,
    q: str | None = None,
    actor: str | None = None,
    page_size: int | None = None,
) -> Paged[Member]:
    """Members by user id, then pending invitations (``status: pending``), every page."""
    params = {"role": role, "q": q, "limit": page_size}
    return Paged(
        Call("GET", f"/v1/orgs/{_seg(org_id)}/members", params=params, actor=c._actor(actor)),
        Member.from_json,
    )


def get_member(c: Core, org_id: str, user_id: str, *, actor: str | None = None) -> Op[MemberDetail]:
    """One member, with the grants it holds in the org (contract 1.1)."""
    reply = yield Call(
        "GET", f"/v1/orgs/{_seg(org_id)}/members/{_seg(user_id)}", actor=c._actor(actor)
    )
    return MemberDetail.from_json(reply.body)


def change_role(
    c: Core,
    org_id: str,
    user_id: str,
    role: str,
    *,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[Member]:
    reply = yield Call(
        "PUT",
        f"/v1/orgs/{_seg(org_id)}/members/{_seg(user_id)}",
        json={"role": role},
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return Member.from_json(reply.body)


def remove_member(
    c: Core,
    org_id: str,
    user_id: str,
    *,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[None]:
    """Remove a member, or leave when ``actor`` is that member."""
    yield Call(
        "DELETE",
        f"/v1/orgs/{_seg(org_id)}/members/{_seg(user_id)}",
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return None


def remove_members(
    c: Core,
    org_id: str,
    user_ids: Iterable[str],
    *,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[list[str]]:
    """Remove several members, all or nothing; the ids removed."""
    reply = yield Call(
        "POST",
        f"/v1/orgs/{_seg(org_id)}/members/remove",
        json={"user_ids": list(user_ids)},
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return list(reply.body["removed"])


# ---------------------------------------------------------------- invitations


def invite(
    c: Core,
    org_id: str,
    invitations: Iterable[tuple[str, str] | Mapping[str, str]],
    *,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[list[Invitation]]:
    """Invite ``(email, role)`` pairs, all or nothing; each answer carries its ``token``
    once, for the caller to send."""
    items = [
        {"email": i[0], "role": i[1]} if isinstance(i, tuple) else dict(i) for i in invitations
    ]
    reply = yield Call(
        "POST",
        f"/v1/orgs/{_seg(org_id)}/invitations",
        json={"invitations": items},
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return [Invitation.from_json(i) for i in reply.body["items"]]


def list_invitations(
    c: Core,
    org_id: str,
    *,
    status: str | None = None,
    actor: str | None = None,
    page_size: int | None = None,
) -> Paged[Invitation]:
    """Invitations by id; ``status`` one of pending, accepted, expired, cancelled."""
    return Paged(
        Call(
            "GET",
            f"/v1/orgs/{_seg(org_id)}/invitations",
            params={"status": status, "limit": page_size},
            actor=c._actor(actor),
        ),
        Invitation.from_json,
    )


def get_invitation(
    c: Core, org_id: str, invitation_id: str, *, actor: str | None = None
) -> Op[Invitation]:
    """One invitation (contract 1.1)."""
    reply = yield Call(
        "GET", f"/v1/orgs/{_seg(org_id)}/invitations/{_seg(invitation_id)}", actor=c._actor(actor)
    )
    return Invitation.from_json(reply.body)


def cancel_invitation(
    c: Core,
    org_id: str,
    invitation_id: str,
    *,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[Invitation]:
    reply = yield Call(
        "DELETE",
        f"/v1/orgs/{_seg(org_id)}/invitations/{_seg(invitation_id)}",
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return Invitation.from_json(reply.body)


def resend_invitation(
    c: Core,
    org_id: str,
    invitation_id: str,
    *,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[Invitation]:
    """A new token, the lifetime starting again (contract 1.1)."""
    reply = yield Call(
        "POST",
        f"/v1/orgs/{_seg(org_id)}/invitations/{_seg(invitation_id)}/resend",
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return Invitation.from_json(reply.body)


def change_invitation_role(
    c: Core,
    org_id: str,
    invitation_id: str,
    role: str,
    *,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[Invitation]:
    """A pending invitation's new role (contract 1.2): a new ``token`` (the old one stops
    working) and a fresh mail; the same role changes nothing."""
    reply = yield Call(
        "PATCH",
        f"/v1/orgs/{_seg(org_id)}/invitations/{_seg(invitation_id)}",
        json={"role": role},
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return Invitation.from_json(reply.body)


def accept_invitation(
    c: Core,
    token: str,
    user_id: str,
    email: str,
    name: str = "",
    *,
    idempotency_key: str | None = None,
) -> Op[Acceptance]:
    """Accept as the user in the body (created if new); no ``X-Actor-Id``."""
    body = {"token": token, "user": {"id": user_id, "email": email, "name": name}}
    reply = yield Call(
        "POST", "/v1/invitations/accept", json=body, write=True, idempotency_key=idempotency_key
    )
    return Acceptance.from_json(reply.body)


# ---------------------------------------------------------------- users


def put_user(
    c: Core,
    user_id: str,
    email: str,
    name: str = "",
    *,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[User]:
    """Create or update a user (the calling service syncing its identity provider)."""
    reply = yield Call(
        "PUT",
        f"/v1/users/{_seg(user_id)}",
        json={"email": email, "name": name},
        actor=actor,
        write=True,
        idempotency_key=idempotency_key,
    )
    return User.from_json(reply.body)


def get_user(c: Core, user_id: str, *, actor: str | None = None) -> Op[User]:
    reply = yield Call("GET", f"/v1/users/{_seg(user_id)}", actor=actor)
    return User.from_json(reply.body)


def set_default_org(
    c: Core,
    user_id: str,
    org_id: str | None,
    *,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[User]:
    """``PATCH /v1/users/{id}``: the user's default organization (one they belong to)."""
    reply = yield Call(
        "PATCH",
        f"/v1/users/{_seg(user_id)}",
        json={"default_org_id": org_id},
        actor=actor,
        write=True,
        idempotency_key=idempotency_key,
    )
    return User.from_json(reply.body)


def user_orgs(
    c: Core, user_id: str, *, actor: str | None = None, page_size: int | None = None
) -> Paged[UserOrg]:
    """The organizations the user belongs to, with the role in each."""
    return Paged(
        Call("GET", f"/v1/users/{_seg(user_id)}/orgs", params={"limit": page_size}, actor=actor),
        UserOrg.from_json,
    )


def delete_user(
    c: Core, user_id: str, *, actor: str | None = None, idempotency_key: str | None = None
) -> Op[Erasure]:
    """Erase the user: memberships, grants, pending invitations, profile; the audit trail
    keeps a pseudonym (contract 1.1). 409 where the user is an org's last top role."""
    reply = yield Call(
        "DELETE",
        f"/v1/users/{_seg(user_id)}",
        actor=actor,
        write=True,
        idempotency_key=idempotency_key,
    )
    return Erasure.from_json(reply.body)


# ---------------------------------------------------------------- resources and grants


def _resource_path(org_id: str, type: str, resource_id: str) -> str:
    return f"/v1/orgs/{_seg(org_id)}/resources/{_seg(type)}/{_seg(resource_id)}"


def put_resource(
    c: Core,
    org_id: str,
    type: str,
    resource_id: str,
    *,
    parent: Ref | tuple[str, str] | Mapping[str, str] | None = UNSET,
    owner: str | None = UNSET,
    attributes: Mapping[str, Any] | None = UNSET,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[Resource]:
    """Register or update a resource. On an update a field left out keeps its value and
    ``None`` clears it (``parent=None`` moves it to the top)."""
    body: dict[str, Any] = {}
    if parent is not UNSET:
        body["parent"] = None if parent is None else resource_json(parent)
    if owner is not UNSET:
        body["owner"] = owner
    if attributes is not UNSET:
        body["attributes"] = attributes
    reply = yield Call(
        "PUT",
        _resource_path(org_id, type, resource_id),
        json=body,
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return Resource.from_json(reply.body)


def get_resource(
    c: Core, org_id: str, type: str, resource_id: str, *, actor: str | None = None
) -> Op[Resource]:
    reply = yield Call("GET", _resource_path(org_id, type, resource_id), actor=c._actor(actor))
    return Resource.from_json(reply.body)


def delete_resource(
    c: Core,
    org_id: str,
    type: str,
    resource_id: str,
    *,
    recursive: bool = False,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[None]:
    """Remove a resource; with anything below it only ``recursive=True`` (409 otherwise)."""
    yield Call(
        "DELETE",
        _resource_path(org_id, type, resource_id),
        params={"recursive": "true"} if recursive else None,
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return None


def org_resources(
    c: Core,
    org_id: str,
    *,
    parent: tuple[str, str] | None = None,
    type: str | None = None,
    actor: str | None = None,
    page_size: int | None = None,
) -> Paged[ResourceWithGrants]:
    """The children of ``parent`` (or the org's top level), every page (contract 1.1)."""
    params = {
        "parent_type": parent[0] if parent else None,
        "parent_id": parent[1] if parent else None,
        "type": type,
        "limit": page_size,
    }
    return Paged(
        Call("GET", f"/v1/orgs/{_seg(org_id)}/resources", params=params, actor=c._actor(actor)),
        ResourceWithGrants.from_json,
    )


def grant(
    c: Core,
    org_id: str,
    type: str,
    resource_id: str,
    user_id: str,
    role: str,
    *,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[Grant]:
    """Give a member a role on one resource (replacing the one held)."""
    reply = yield Call(
        "PUT",
        f"{_resource_path(org_id, type, resource_id)}/grants/{_seg(user_id)}",
        json={"role": role},
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return Grant.from_json(reply.body)


def revoke(
    c: Core,
    org_id: str,
    type: str,
    resource_id: str,
    user_id: str,
    *,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[None]:
    yield Call(
        "DELETE",
        f"{_resource_path(org_id, type, resource_id)}/grants/{_seg(user_id)}",
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return None


def grant_batch(
    c: Core,
    org_id: str,
    user_id: str,
    grants: Iterable[tuple[str, str, str] | Mapping[str, str]],
    *,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[list[Grant]]:
    """Several ``(type, id, role)`` grants to one member, all or nothing, at most the
    policy's ``grant_batch_limit``."""
    items = [
        {"type": g[0], "id": g[1], "role": g[2]} if isinstance(g, tuple) else dict(g)
        for g in grants
    ]
    reply = yield Call(
        "POST",
        f"/v1/orgs/{_seg(org_id)}/members/{_seg(user_id)}/grants",
        json={"grants": items},
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return [Grant.from_json(g) for g in reply.body["items"]]


def list_grants(
    c: Core,
    org_id: str,
    type: str,
    resource_id: str,
    *,
    actor: str | None = None,
    page_size: int | None = None,
) -> Paged[ResourceGrant]:
    """The grants on one resource (contract 1.1)."""
    return Paged(
        Call(
            "GET",
            f"{_resource_path(org_id, type, resource_id)}/grants",
            params={"limit": page_size},
            actor=c._actor(actor),
        ),
        ResourceGrant.from_json,
    )


# ---------------------------------------------------------------- events, policies, ops


def events(
    c: Core,
    *,
    after: str | None = None,
    org: str | None = None,
    types: Iterable[str] | None = None,
    page_size: int | None = None,
) -> Paged[Event]:
    """Every committed change after the cursor ``after``, in commit order, up to the last
    one committed (contract 1.1: ``GET /v1/events``; the iterator ends at the first empty
    page, as the service's cursor never does). To follow the stream, poll
    :meth:`events_page` with the last ``next_cursor``."""
    params = {
        "after": after,
        "org": org,
        "types": ",".join(types) if types else None,
        "limit": page_size,
    }
    return Paged(
        Call("GET", "/v1/events", params=params), Event.from_json, param="after", stream=True
    )


def events_page(
    c: Core,
    *,
    after: str | None = None,
    org: str | None = None,
    types: Iterable[str] | None = None,
    page_size: int | None = None,
) -> Op[Page[Event]]:
    """One page of ``GET /v1/events`` with its ``next_cursor``."""
    paged = events(c, after=after, org=org, types=types, page_size=page_size)
    reply = yield paged.first
    return paged.page(reply)


def policies(c: Core) -> Op[dict[str, Any]]:
    """Each style's roles, types, actions and settings, read from the policy files."""
    reply = yield Call("GET", "/v1/policies")
    return dict(reply.body)


def matrix(c: Core, style: str) -> Op[dict[str, Any]]:
    """The effective role x action matrix of ``style`` (JSON)."""
    reply = yield Call("GET", f"/v1/policies/{_seg(style)}/matrix")
    return dict(reply.body)


def health(c: Core) -> Op[dict[str, Any]]:
    """``GET /healthz``: the process is up (it needs no database)."""
    reply = yield Call("GET", "/healthz", retries=0)
    return dict(reply.body)


def ready(c: Core) -> Op[dict[str, Any]]:
    """``GET /readyz``: raises :class:`Unavailable` when the service is not ready."""
    reply = yield Call("GET", "/readyz", retries=0)
    return dict(reply.body)
