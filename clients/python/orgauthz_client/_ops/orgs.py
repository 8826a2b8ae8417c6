"""Organizations, their members and their invitations."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .._core import Call, Core
from ..types import (
    Acceptance,
    AuditEvent,
    Invitation,
    Member,
    MemberDetail,
    Organization,
)
from ._base import (
    UNSET,
    Op,
    Paged,
    _seg,
)

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
    admin_ip_allowlist: Any = UNSET,
    context: Mapping[str, Any] | None = None,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[Organization]:
    """Change the name, legal or billing details, or the CIDR ranges its settings may be
    changed from (``admin_ip_allowlist``; ``None`` clears it) (each is its own action; all
    must be allowed). ``legal`` and ``billing`` replace the stored object. ``context``: the
    end user's request (``{"ip": ...}``), which the policy may read (contract 1.3)."""
    body: dict[str, Any] = {
        k: v for k, v in (("name", name), ("legal", legal), ("billing", billing)) if v is not None
    }
    if admin_ip_allowlist is not UNSET:
        body["admin_ip_allowlist"] = admin_ip_allowlist
    if context:
        body["context"] = dict(context)
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
