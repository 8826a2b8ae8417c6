"""Verified domains, what a user's domain suggests, and requests to join (contract 1.3)."""

from __future__ import annotations

from .._core import Call, Core
from ..types import Domain, JoinRequest, Suggestion
from ._base import Op, Paged, _seg


def _domain(org_id: str, domain_id: str = "") -> str:
    path = f"/v1/orgs/{_seg(org_id)}/domains"
    return f"{path}/{_seg(domain_id)}" if domain_id else path


def add_domain(
    c: Core,
    org_id: str,
    domain: str,
    *,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[Domain]:
    """Add a domain: ``txt_name`` and ``txt_value`` are the TXT record to publish."""
    reply = yield Call(
        "POST",
        _domain(org_id),
        json={"domain": domain},
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return Domain.from_json(reply.body)


def list_domains(
    c: Core, org_id: str, *, actor: str | None = None, page_size: int | None = None
) -> Paged[Domain]:
    """The organization's domains by id, every page."""
    return Paged(
        Call("GET", _domain(org_id), params={"limit": page_size}, actor=c._actor(actor)),
        Domain.from_json,
    )


def get_domain(c: Core, org_id: str, domain_id: str, *, actor: str | None = None) -> Op[Domain]:
    reply = yield Call("GET", _domain(org_id, domain_id), actor=c._actor(actor))
    return Domain.from_json(reply.body)


def verify_domain(
    c: Core,
    org_id: str,
    domain_id: str,
    *,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[Domain]:
    """Look the TXT token up now; ``Conflict`` (naming ``domain``) when it is not published
    or another organization verified the domain."""
    reply = yield Call(
        "POST",
        _domain(org_id, domain_id) + "/verify",
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return Domain.from_json(reply.body)


def configure_domain(
    c: Core,
    org_id: str,
    domain_id: str,
    join_mode: str,
    join_role: str | None = None,
    *,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[Domain]:
    """What a verified domain offers its users: ``off``, ``suggest``, or ``auto`` with
    ``join_role``."""
    body: dict = {"join_mode": join_mode}
    if join_role is not None:
        body["join_role"] = join_role
    reply = yield Call(
        "PATCH",
        _domain(org_id, domain_id),
        json=body,
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return Domain.from_json(reply.body)


def remove_domain(
    c: Core,
    org_id: str,
    domain_id: str,
    *,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[Domain]:
    reply = yield Call(
        "DELETE",
        _domain(org_id, domain_id),
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return Domain.from_json(reply.body)


def suggested_orgs(c: Core, user_id: str) -> Op[list[Suggestion]]:
    """The organizations the user's verified email domain suggests (``join``: ``auto`` or
    ``request``)."""
    reply = yield Call("GET", f"/v1/users/{_seg(user_id)}/suggested-orgs")
    return [Suggestion.from_json(i) for i in reply.body["items"]]


def _requests(org_id: str, request_id: str = "") -> str:
    path = f"/v1/orgs/{_seg(org_id)}/join-requests"
    return f"{path}/{_seg(request_id)}" if request_id else path


def ask_to_join(
    c: Core,
    org_id: str,
    *,
    role: str | None = None,
    message: str | None = None,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[JoinRequest]:
    """The acting user asks to join; ``status`` ``approved`` when their verified domain
    joins them at once, else ``pending``."""
    body = {k: v for k, v in (("role", role), ("message", message)) if v is not None}
    reply = yield Call(
        "POST",
        _requests(org_id),
        json=body,
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return JoinRequest.from_json(reply.body)


def list_join_requests(
    c: Core,
    org_id: str,
    *,
    status: str | None = None,
    actor: str | None = None,
    page_size: int | None = None,
) -> Paged[JoinRequest]:
    """Requests by id; ``status`` one of pending, approved, declined, expired."""
    params = {"status": status, "limit": page_size}
    return Paged(
        Call("GET", _requests(org_id), params=params, actor=c._actor(actor)),
        JoinRequest.from_json,
    )


def get_join_request(
    c: Core, org_id: str, request_id: str, *, actor: str | None = None
) -> Op[JoinRequest]:
    reply = yield Call("GET", _requests(org_id, request_id), actor=c._actor(actor))
    return JoinRequest.from_json(reply.body)


def approve_join_request(
    c: Core,
    org_id: str,
    request_id: str,
    *,
    role: str | None = None,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[JoinRequest]:
    """Approve, as the role asked or ``role``; decided as inviting that role."""
    reply = yield Call(
        "POST",
        _requests(org_id, request_id) + "/approve",
        json={"role": role} if role is not None else {},
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return JoinRequest.from_json(reply.body)


def decline_join_request(
    c: Core,
    org_id: str,
    request_id: str,
    *,
    actor: str | None = None,
    idempotency_key: str | None = None,
) -> Op[JoinRequest]:
    reply = yield Call(
        "POST",
        _requests(org_id, request_id) + "/decline",
        actor=c._actor(actor),
        write=True,
        idempotency_key=idempotency_key,
    )
    return JoinRequest.from_json(reply.body)
