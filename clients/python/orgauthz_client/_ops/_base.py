"""What every operation shares: the generator type, ``Paged``, ``UNSET`` and the
helpers that turn actors, resources and checks into JSON."""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from .._core import Call, Reply
from ..types import (
    Check,
    Page,
    Ref,
    ResourceRef,
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
        actor, action, resource, *rest = check
        body = {"actor": _actor(actor), "action": action, "resource": resource_json(resource)}
        if rest and rest[0]:
            body["context"] = dict(rest[0])
    else:
        body = dict(check)
        body["actor"] = _actor(body["actor"])
        body["resource"] = resource_json(body["resource"])
    body.setdefault("explain", explain)
    return body
