"""The decisions: authorize, allowed (fail closed), batches, actions and the lists."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from .._core import Call, Core
from ..types import (
    Actions,
    Actor,
    BatchResult,
    Check,
    Decision,
    ListedResource,
)
from ._base import (
    MAX_BATCH,
    ActorLike,
    Op,
    Paged,
    ResourceLike,
    _actor,
    _check_json,
    resource_json,
)

# ---------------------------------------------------------------- decisions


def authorize(
    c: Core,
    actor: ActorLike,
    action: str,
    resource: ResourceLike,
    *,
    explain: bool = False,
    context: Mapping[str, Any] | None = None,
) -> Op[Decision]:
    """May ``actor`` (a user id) do ``action`` on ``resource``? Unknown actors, actions and
    resources are ``allowed: False``, never an error. ``explain=True`` adds the
    explanation (``decision.reason``). ``context``: the request context the policy may
    read (contract 1.3), e.g. ``{"ip": "203.0.113.7"}``; an attribute no style declares,
    or of another kind, raises ``Invalid`` naming ``context.<name>``. Raises on errors;
    see :meth:`allowed` for a fail-closed answer."""
    body: dict[str, Any] = {
        "actor": _actor(actor),
        "action": action,
        "resource": resource_json(resource),
        "explain": explain,
    }
    if context:
        body["context"] = dict(context)
    reply = yield Call("POST", "/v1/authorize", json=body)
    return Decision.from_json(reply.body)


def allowed(
    c: Core,
    actor: ActorLike,
    action: str,
    resource: ResourceLike,
    *,
    timeout: float | None = None,
    context: Mapping[str, Any] | None = None,
) -> Op[bool]:
    """Fail closed: True only when the service answered ``allowed: true``. A timeout, a
    connection error, a 503 (or any other error, a 422 for a bad ``context`` too) is
    False, within ``timeout`` seconds in all (the client's timeout by default) including
    retries. Never raises for those; they are logged on the ``orgauthz_client`` logger.
    ``context`` as for :meth:`authorize`."""
    seconds = timeout if timeout is not None else c._settings.timeout
    body: dict[str, Any] = {
        "actor": _actor(actor),
        "action": action,
        "resource": resource_json(resource),
    }
    if context:
        body["context"] = dict(context)
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
    """Decide many checks, answered in their order. A check is a :class:`Check` (its
    ``context`` is the check's own request context), a dict like the body of
    ``authorize``, ``(actor, action, resource)`` or ``(actor, action, resource, context)``.

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


def allowed_actions(
    c: Core,
    actor: ActorLike,
    resource: ResourceLike,
    *,
    context: Mapping[str, Any] | None = None,
) -> Op[Actions]:
    """Every action the policy allows ``actor`` on ``resource`` (with ``context``, the
    request context, as for :meth:`authorize`)."""
    body: dict[str, Any] = {"actor": _actor(actor), "resource": resource_json(resource)}
    if context:
        body["context"] = dict(context)
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
