"""Typed results of contract 1.3's verified domains and requests to join (see types.py:
each class names where /openapi.json describes it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar  # noqa: F401 -- _Model's own annotations resolve in this module too

from .types import _extra, _Model


@dataclass
class Domain(_Model):
    """A domain of an organization: publish ``txt_value`` at ``txt_name``, then verify."""

    __openapi__ = ("get", "/v1/orgs/{}/domains/{}", "")

    id: str
    org_id: str
    domain: str
    status: str
    txt_name: str
    txt_value: str
    join_mode: str
    join_role: str | None
    added_by: str | None
    created_at: str | None
    verified_at: str | None
    checked_at: str | None
    check_error: str | None
    extra: dict[str, Any] = _extra()


@dataclass
class Suggestion(_Model):
    """An organization a user's verified email domain suggests."""

    __openapi__ = ("get", "/v1/users/{}/suggested-orgs", "items[]")

    org_id: str
    org_name: str
    style: str
    domain: str
    join: str
    extra: dict[str, Any] = _extra()


@dataclass
class JoinRequest(_Model):
    """A user's request to join an organization."""

    __openapi__ = ("get", "/v1/orgs/{}/join-requests/{}", "")

    id: str
    org_id: str
    user_id: str
    email: str
    role: str
    status: str
    via_domain: str | None
    message: str
    created_at: str | None
    expires_at: str | None
    decided_by: str | None
    ended_at: str | None
    extra: dict[str, Any] = _extra()
