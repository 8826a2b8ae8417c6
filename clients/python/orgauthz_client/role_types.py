"""Typed results of contract 1.3's custom roles, the roles an organization defines itself
(see types.py: each class names where /openapi.json describes it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar  # noqa: F401 -- _Model's own annotations resolve in this module too

from .types import _extra, _Model


@dataclass
class RolePermission(_Model):
    """One permission a role gives: a resource type and one of its permissions that the
    organization's style lets be delegated (``Dataset``, ``upload``)."""

    __openapi__ = ("get", "/v1/orgs/{}/roles", "delegable[]")

    type: str
    permission: str
    extra: dict[str, Any] = _extra()


@dataclass
class CustomRole(_Model):
    """A role an organization defined: ``key`` (``custom:<name>``) is what a membership, an
    invitation, a team, a domain or a grant names."""

    __openapi__ = ("post", "/v1/orgs/{}/roles", "")

    key: str
    name: str
    permissions: list[RolePermission]
    created_at: str | None = None
    updated_at: str | None = None
    created_by: str | None = None
    consistency_token: str | None = None  # the change position it committed at
    extra: dict[str, Any] = _extra()


@dataclass
class CustomRoleUses(_Model):
    """Where a role is held or offered, a count by kind (a role in use cannot be deleted)."""

    __openapi__ = ("get", "/v1/orgs/{}/roles/{}", "uses")

    memberships: int
    invitations: int
    join_requests: int
    grants: int
    teams: int
    team_grants: int
    domains: int
    extra: dict[str, Any] = _extra()


@dataclass
class CustomRoleDetail(_Model):
    """A role an organization defined, with where it is held (``uses``)."""

    __openapi__ = ("get", "/v1/orgs/{}/roles/{}", "")

    key: str
    name: str
    permissions: list[RolePermission]
    uses: CustomRoleUses
    created_at: str | None = None
    updated_at: str | None = None
    created_by: str | None = None
    extra: dict[str, Any] = _extra()


@dataclass
class Roles(_Model):
    """An organization's roles: its style's (``builtin``), its own (``items``), and what
    its own may give (``delegable``)."""

    __openapi__ = ("get", "/v1/orgs/{}/roles", "")

    builtin: list[str]
    items: list[CustomRole]
    delegable: list[RolePermission]
    extra: dict[str, Any] = _extra()
