"""Users: create or update, read, the default organization, their organizations,
erasure."""

from __future__ import annotations

from .._core import Call, Core
from ..types import (
    Erasure,
    User,
    UserOrg,
)
from ._base import (
    Op,
    Paged,
    _seg,
)

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
