"""Guarding a Flask view of the calling service with orgauthz.

    from orgauthz_client.flask import Guard

    guard = Guard(client, actor=lambda: g.user_id)

    @app.get("/datasets/<dataset_id>")
    @guard.require("view", lambda dataset_id: ("Dataset", dataset_id))
    def show(dataset_id): ...

    # or, inside a view, once the resource is known:
    guard.check("upload", ("Dataset", dataset.id))

A deny answers the caller's own ``403`` problem document whose ``detail`` is the policy's
reason; the orgauthz service unreachable, slow or answering 503 answers ``503`` with
``Retry-After`` (fail closed: the view never runs without an allow).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, jsonify

from .client import Client
from .errors import ConnectionFailed, OrgauthzError, Unavailable
from .types import Decision

F = TypeVar("F", bound=Callable[..., Any])


def _problem(status: int, title: str, detail: str, retry_after: float | None = None) -> Any:
    response = jsonify({"type": "about:blank", "title": title, "status": status, "detail": detail})
    response.status_code = status
    response.content_type = "application/problem+json"
    if retry_after is not None:
        response.headers["Retry-After"] = str(int(max(1, retry_after)))
    return response


def require(client: Client, actor: str, action: str, resource: Any) -> Decision:
    """Ask orgauthz (with the explanation) and return the allowing decision; otherwise stop
    the request: ``403`` with the policy's reason, or ``503`` when orgauthz cannot answer."""
    try:
        decision = client.authorize(actor, action, resource, explain=True)
    except (ConnectionFailed, Unavailable) as exc:
        abort(
            _problem(
                503,
                "Service Unavailable",
                "authorization is unavailable; try again",
                getattr(exc, "retry_after", None) or 1,
            )
        )
    except OrgauthzError as exc:  # a bad key or a bad check: a deny, with nothing leaked
        abort(_problem(503, "Service Unavailable", f"authorization failed: {type(exc).__name__}"))
    if not decision.allowed:
        abort(_problem(403, "Forbidden", decision.reason or f"{action} is not allowed"))
    return decision


class Guard:
    """``require``/``check`` with the acting user taken from the request (``actor()``)."""

    def __init__(self, client: Client, actor: Callable[[], str]) -> None:
        self.client = client
        self.actor = actor

    def check(self, action: str, resource: Any) -> Decision:
        return require(self.client, self.actor(), action, resource)

    def require(self, action: str, resource: Callable[..., Any] | Any) -> Callable[[F], F]:
        """A decorator: ``resource`` is a resource, or a function of the view's arguments
        that returns one."""

        def decorate(view: F) -> F:
            @functools.wraps(view)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                target = resource(*args, **kwargs) if callable(resource) else resource
                self.check(action, target)
                return view(*args, **kwargs)

            return guarded  # type: ignore[return-value]

        return decorate
