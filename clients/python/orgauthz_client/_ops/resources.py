"""Resources and grants; events, the policies and the health endpoints."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .._core import Call, Core
from ..types import (
    Event,
    Grant,
    Page,
    Ref,
    Resource,
    ResourceGrant,
    ResourceWithGrants,
)
from ._base import (
    UNSET,
    Op,
    Paged,
    _seg,
    resource_json,
)

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
    expires_at: str | None = None,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[Grant]:
    """Give a member a role on one resource (replacing the one held), until ``expires_at``
    (ISO 8601) when given (1.3)."""
    body: dict[str, Any] = {"role": role}
    if expires_at is not None:
        body["expires_at"] = expires_at
    reply = yield Call(
        "PUT",
        f"{_resource_path(org_id, type, resource_id)}/grants/{_seg(user_id)}",
        json=body,
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
