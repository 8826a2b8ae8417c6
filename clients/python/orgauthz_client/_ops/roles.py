"""Custom roles (contract 1.3): roles an organization defines itself as lists of the
permissions its style lets be delegated, held wherever a built-in role is."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._core import Call, Core
from ..role_types import CustomRole, CustomRoleDetail, RolePermission, Roles
from ._base import Op, _seg

PermissionLike = RolePermission | tuple[str, str]


def _roles(org_id: str, key: str | None = None) -> str:
    path = f"/v1/orgs/{_seg(org_id)}/roles"
    return path if key is None else f"{path}/{_seg(key)}"


def _permissions(permissions: Iterable[PermissionLike]) -> list[dict[str, str]]:
    """``(type, permission)`` pairs or RolePermission objects, as the service reads them."""
    out = []
    for p in permissions:
        type_, perm = (p.type, p.permission) if isinstance(p, RolePermission) else p
        out.append({"type": type_, "permission": perm})
    return out


def list_roles(c: Core, org_id: str, *, actor: str | None = None) -> Op[Roles]:
    """The style's roles, the organization's own, and what its own may give."""
    reply = yield Call("GET", _roles(org_id), actor=c._actor(actor))
    return Roles.from_json(reply.body)


def define_role(
    c: Core,
    org_id: str,
    key: str,
    name: str,
    permissions: Iterable[PermissionLike],
    *,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[CustomRole]:
    """Define the role ``key`` (``custom:<name>``) giving ``permissions``; ``Forbidden``
    with the policy's reason when the actor does not hold all of them, ``Invalid`` naming
    ``permissions.N`` for one the style does not let be delegated, ``Conflict`` when the
    key is taken."""
    reply = yield Call(
        "POST",
        _roles(org_id),
        json={"key": key, "name": name, "permissions": _permissions(permissions)},
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return CustomRole.from_json(reply.body)


def get_role(c: Core, org_id: str, key: str, *, actor: str | None = None) -> Op[CustomRoleDetail]:
    """One of the organization's roles, with where it is held (``uses``)."""
    reply = yield Call("GET", _roles(org_id, key), actor=c._actor(actor))
    return CustomRoleDetail.from_json(reply.body)


def update_role(
    c: Core,
    org_id: str,
    key: str,
    *,
    name: str | None = None,
    permissions: Iterable[PermissionLike] | None = None,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[CustomRole]:
    """Rename a role and/or change what it gives (its holders gain or lose it at once)."""
    body: dict[str, Any] = {} if name is None else {"name": name}
    if permissions is not None:
        body["permissions"] = _permissions(permissions)
    reply = yield Call(
        "PATCH",
        _roles(org_id, key),
        json=body,
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return CustomRole.from_json(reply.body)


def delete_role(
    c: Core,
    org_id: str,
    key: str,
    *,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[None]:
    """Delete a role nothing holds or offers; ``Conflict`` naming where it is in use."""
    yield Call(
        "DELETE",
        _roles(org_id, key),
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return None
