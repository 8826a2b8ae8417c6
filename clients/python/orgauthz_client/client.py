"""``Client`` (blocking) and ``AsyncClient`` (asyncio): the same methods, from the same
operations (``_ops/``), each sent by its own driver over one ``httpx`` connection pool
(keep-alive: a decision over a kept-alive connection costs no TCP handshake).

    from orgauthz_client import Client
    with Client("http://127.0.0.1:8000", api_key, actor="u-alice") as authz:
        if authz.allowed("u-bob", "view", ("Dataset", "d-1")):
            ...
"""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

import httpx

from . import __version__, _ops
from ._core import Call, Core, Reply, Settings
from .errors import OrgauthzError

log = logging.getLogger("orgauthz_client")
USER_AGENT = f"orgauthz-client/{__version__} httpx/{httpx.__version__}"


def _with_user_agent(headers: dict[str, str] | None) -> dict[str, str]:
    """The caller's headers, with this client's User-Agent unless they set their own (the
    service's access log and a gateway's can then tell which client and version called)."""
    merged = dict(headers or {})
    if not any(name.lower() == "user-agent" for name in merged):
        merged["User-Agent"] = USER_AGENT
    return merged


P = ParamSpec("P")
T = TypeVar("T")
OpFn = Callable[Concatenate[Any, P], Generator[Call, Reply, T]]
PagedFn = Callable[Concatenate[Any, P], "_ops.Paged[T]"]


# ---------------------------------------------------------------- the blocking driver


def _sync(op: OpFn[P, T]) -> Callable[Concatenate[Client, P], T]:
    def method(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> T:
        gen = op(self, *args, **kwargs)
        try:
            call = next(gen)
            while True:
                call = gen.send(self._send(call))
        except StopIteration as done:
            return cast(T, done.value)

    functools.update_wrapper(method, op)
    return method


def _sync_fail_closed(op: OpFn[P, bool]) -> Callable[Concatenate[Client, P], bool]:
    run = _sync(op)

    def method(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> bool:
        try:
            return run(self, *args, **kwargs)
        except OrgauthzError as exc:
            log.warning("orgauthz: denying (fail closed): %s", exc)
            return False

    functools.update_wrapper(method, op)
    return method


def _sync_pages(op: PagedFn[P, T]) -> Callable[Concatenate[Client, P], Iterator[T]]:
    def method(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        paged = op(self, *args, **kwargs)
        call: Call | None = paged.first
        while call is not None:
            page = paged.page(self._send(call))
            yield from page.items
            call = paged.after(page)

    functools.update_wrapper(method, op)
    return method


class Client(Core):
    """The orgauthz API, blocking. One instance holds one keep-alive connection pool:
    make it once and share it (it is thread-safe); close it with ``close()`` or ``with``.

    ``actor`` is the default ``X-Actor-Id`` of management calls (each call's ``actor=``
    overrides it; :meth:`as_actor` makes a view with another one sharing the pool).
    ``timeout`` bounds each attempt in seconds; ``retries`` how many times a call may be
    sent again (see ``_core`` for when); ``keepalive=False`` opens a connection per call.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        actor: str | None = None,
        timeout: float = 5.0,
        connect_timeout: float | None = None,
        retries: int = 2,
        backoff: float = 0.05,
        max_backoff: float = 2.0,
        idempotency: bool = True,
        keepalive: bool = True,
        max_connections: int = 100,
        headers: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._settings = Settings(
            base_url,
            api_key,
            actor,
            timeout,
            connect_timeout,
            retries,
            backoff,
            max_backoff,
            idempotency,
            dict(headers or {}),
        )
        limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections if keepalive else 0,
        )
        self._http = httpx.Client(
            base_url=base_url,
            headers=_with_user_agent(headers),
            limits=limits,
            transport=transport,
            timeout=timeout,
        )
        self._owner = True

    def as_actor(self, actor: str | None) -> Client:
        """The same client (and connection pool) acting for ``actor``."""
        view = copy.copy(self)
        view._settings = _with_actor(self._settings, actor)
        view._owner = False
        return view

    def close(self) -> None:
        if self._owner:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, call: Call) -> Reply:
        """Send ``call``, retrying as the rules say; its successful reply, or raise."""
        kwargs = self._prepare(call)
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    call.method, call.path, timeout=self._timeout(call), **kwargs
                )
            except httpx.TransportError as exc:
                delay = self._retry_delay(call, attempt, exc=exc)
                if delay is None:
                    raise self._transport_error(exc) from exc
            else:
                reply = self._reply(response)
                if reply.ok:
                    return reply
                delay = self._retry_delay(call, attempt, reply=reply)
                if delay is None:
                    raise self._error(reply)
            attempt += 1
            time.sleep(delay)

    # decisions
    authorize = _sync(_ops.authorize)
    allowed = _sync_fail_closed(_ops.allowed)
    authorize_batch = _sync(_ops.authorize_batch)
    allowed_actions = _sync(_ops.allowed_actions)
    list_resources = _sync_pages(_ops.list_resources)
    list_actors = _sync_pages(_ops.list_actors)
    # organizations
    create_org = _sync(_ops.create_org)
    get_org = _sync(_ops.get_org)
    update_org = _sync(_ops.update_org)
    close_org = _sync(_ops.close_org)
    list_orgs = _sync_pages(_ops.list_orgs)
    audit = _sync_pages(_ops.audit)
    # members
    list_members = _sync_pages(_ops.list_members)
    get_member = _sync(_ops.get_member)
    change_role = _sync(_ops.change_role)
    remove_member = _sync(_ops.remove_member)
    remove_members = _sync(_ops.remove_members)
    # invitations
    invite = _sync(_ops.invite)
    list_invitations = _sync_pages(_ops.list_invitations)
    get_invitation = _sync(_ops.get_invitation)
    cancel_invitation = _sync(_ops.cancel_invitation)
    resend_invitation = _sync(_ops.resend_invitation)
    change_invitation_role = _sync(_ops.change_invitation_role)
    accept_invitation = _sync(_ops.accept_invitation)
    # verified domains and requests to join (contract 1.3)
    add_domain = _sync(_ops.add_domain)
    list_domains = _sync_pages(_ops.list_domains)
    get_domain = _sync(_ops.get_domain)
    verify_domain = _sync(_ops.verify_domain)
    configure_domain = _sync(_ops.configure_domain)
    remove_domain = _sync(_ops.remove_domain)
    suggested_orgs = _sync(_ops.suggested_orgs)
    ask_to_join = _sync(_ops.ask_to_join)
    list_join_requests = _sync_pages(_ops.list_join_requests)
    get_join_request = _sync(_ops.get_join_request)
    approve_join_request = _sync(_ops.approve_join_request)
    decline_join_request = _sync(_ops.decline_join_request)
    # users
    put_user = _sync(_ops.put_user)
    get_user = _sync(_ops.get_user)
    set_default_org = _sync(_ops.set_default_org)
    user_orgs = _sync_pages(_ops.user_orgs)
    delete_user = _sync(_ops.delete_user)
    # resources and grants
    put_resource = _sync(_ops.put_resource)
    get_resource = _sync(_ops.get_resource)
    delete_resource = _sync(_ops.delete_resource)
    org_resources = _sync_pages(_ops.org_resources)
    grant = _sync(_ops.grant)
    revoke = _sync(_ops.revoke)
    grant_batch = _sync(_ops.grant_batch)
    list_grants = _sync_pages(_ops.list_grants)
    # teams (1.3)
    list_teams = _sync_pages(_ops.list_teams)
    create_team = _sync(_ops.create_team)
    get_team = _sync(_ops.get_team)
    update_team = _sync(_ops.update_team)
    delete_team = _sync(_ops.delete_team)
    add_team_member = _sync(_ops.add_team_member)
    remove_team_member = _sync(_ops.remove_team_member)
    grant_team = _sync(_ops.grant_team)
    revoke_team = _sync(_ops.revoke_team)
    # custom roles (1.3)
    list_roles = _sync(_ops.list_roles)
    define_role = _sync(_ops.define_role)
    get_role = _sync(_ops.get_role)
    update_role = _sync(_ops.update_role)
    delete_role = _sync(_ops.delete_role)
    # events, policies, operations
    events = _sync_pages(_ops.events)
    events_page = _sync(_ops.events_page)
    policies = _sync(_ops.policies)
    matrix = _sync(_ops.matrix)
    health = _sync(_ops.health)
    ready = _sync(_ops.ready)


# ---------------------------------------------------------------- the asyncio driver


def _async(op: OpFn[P, T]) -> Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, T]]:
    async def method(self: AsyncClient, /, *args: P.args, **kwargs: P.kwargs) -> T:
        gen = op(self, *args, **kwargs)
        try:
            call = next(gen)
            while True:
                call = gen.send(await self._send(call))
        except StopIteration as done:
            return cast(T, done.value)

    functools.update_wrapper(method, op)
    return method


def _async_fail_closed(
    op: OpFn[P, bool],
) -> Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, bool]]:
    run = _async(op)

    async def method(self: AsyncClient, /, *args: P.args, **kwargs: P.kwargs) -> bool:
        try:
            return await run(self, *args, **kwargs)
        except OrgauthzError as exc:
            log.warning("orgauthz: denying (fail closed): %s", exc)
            return False

    functools.update_wrapper(method, op)
    return method


def _async_pages(op: PagedFn[P, T]) -> Callable[Concatenate[AsyncClient, P], AsyncIterator[T]]:
    async def method(self: AsyncClient, /, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[T]:
        paged = op(self, *args, **kwargs)
        call: Call | None = paged.first
        while call is not None:
            page = paged.page(await self._send(call))
            for item in page.items:
                yield item
            call = paged.after(page)

    functools.update_wrapper(method, op)
    return method


class AsyncClient(Core):
    """The orgauthz API for asyncio: the methods of :class:`Client`, awaited (lists are
    ``async for`` iterators). Close it with ``await aclose()`` or ``async with``."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        actor: str | None = None,
        timeout: float = 5.0,
        connect_timeout: float | None = None,
        retries: int = 2,
        backoff: float = 0.05,
        max_backoff: float = 2.0,
        idempotency: bool = True,
        keepalive: bool = True,
        max_connections: int = 100,
        headers: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = Settings(
            base_url,
            api_key,
            actor,
            timeout,
            connect_timeout,
            retries,
            backoff,
            max_backoff,
            idempotency,
            dict(headers or {}),
        )
        limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections if keepalive else 0,
        )
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers=_with_user_agent(headers),
            limits=limits,
            transport=transport,
            timeout=timeout,
        )
        self._owner = True

    def as_actor(self, actor: str | None) -> AsyncClient:
        """The same client (and connection pool) acting for ``actor``."""
        view = copy.copy(self)
        view._settings = _with_actor(self._settings, actor)
        view._owner = False
        return view

    async def aclose(self) -> None:
        if self._owner:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(self, call: Call) -> Reply:
        kwargs = self._prepare(call)
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    call.method, call.path, timeout=self._timeout(call), **kwargs
                )
            except httpx.TransportError as exc:
                delay = self._retry_delay(call, attempt, exc=exc)
                if delay is None:
                    raise self._transport_error(exc) from exc
            else:
                reply = self._reply(response)
                if reply.ok:
                    return reply
                delay = self._retry_delay(call, attempt, reply=reply)
                if delay is None:
                    raise self._error(reply)
            attempt += 1
            await asyncio.sleep(delay)

    # decisions
    authorize = _async(_ops.authorize)
    allowed = _async_fail_closed(_ops.allowed)
    authorize_batch = _async(_ops.authorize_batch)
    allowed_actions = _async(_ops.allowed_actions)
    list_resources = _async_pages(_ops.list_resources)
    list_actors = _async_pages(_ops.list_actors)
    # organizations
    create_org = _async(_ops.create_org)
    get_org = _async(_ops.get_org)
    update_org = _async(_ops.update_org)
    close_org = _async(_ops.close_org)
    list_orgs = _async_pages(_ops.list_orgs)
    audit = _async_pages(_ops.audit)
    # members
    list_members = _async_pages(_ops.list_members)
    get_member = _async(_ops.get_member)
    change_role = _async(_ops.change_role)
    remove_member = _async(_ops.remove_member)
    remove_members = _async(_ops.remove_members)
    # invitations
    invite = _async(_ops.invite)
    list_invitations = _async_pages(_ops.list_invitations)
    get_invitation = _async(_ops.get_invitation)
    cancel_invitation = _async(_ops.cancel_invitation)
    resend_invitation = _async(_ops.resend_invitation)
    change_invitation_role = _async(_ops.change_invitation_role)
    accept_invitation = _async(_ops.accept_invitation)
    # verified domains and requests to join (contract 1.3)
    add_domain = _async(_ops.add_domain)
    list_domains = _async_pages(_ops.list_domains)
    get_domain = _async(_ops.get_domain)
    verify_domain = _async(_ops.verify_domain)
    configure_domain = _async(_ops.configure_domain)
    remove_domain = _async(_ops.remove_domain)
    suggested_orgs = _async(_ops.suggested_orgs)
    ask_to_join = _async(_ops.ask_to_join)
    list_join_requests = _async_pages(_ops.list_join_requests)
    get_join_request = _async(_ops.get_join_request)
    approve_join_request = _async(_ops.approve_join_request)
    decline_join_request = _async(_ops.decline_join_request)
    # users
    put_user = _async(_ops.put_user)
    get_user = _async(_ops.get_user)
    set_default_org = _async(_ops.set_default_org)
    user_orgs = _async_pages(_ops.user_orgs)
    delete_user = _async(_ops.delete_user)
    # resources and grants
    put_resource = _async(_ops.put_resource)
    get_resource = _async(_ops.get_resource)
    delete_resource = _async(_ops.delete_resource)
    org_resources = _async_pages(_ops.org_resources)
    grant = _async(_ops.grant)
    revoke = _async(_ops.revoke)
    grant_batch = _async(_ops.grant_batch)
    list_grants = _async_pages(_ops.list_grants)
    # teams (1.3)
    list_teams = _async_pages(_ops.list_teams)
    create_team = _async(_ops.create_team)
    get_team = _async(_ops.get_team)
    update_team = _async(_ops.update_team)
    delete_team = _async(_ops.delete_team)
    add_team_member = _async(_ops.add_team_member)
    remove_team_member = _async(_ops.remove_team_member)
    grant_team = _async(_ops.grant_team)
    revoke_team = _async(_ops.revoke_team)
    # custom roles (1.3)
    list_roles = _async(_ops.list_roles)
    define_role = _async(_ops.define_role)
    get_role = _async(_ops.get_role)
    update_role = _async(_ops.update_role)
    delete_role = _async(_ops.delete_role)
    # events, policies, operations
    events = _async_pages(_ops.events)
    events_page = _async(_ops.events_page)
    policies = _async(_ops.policies)
    matrix = _async(_ops.matrix)
    health = _async(_ops.health)
    ready = _async(_ops.ready)


def _with_actor(settings: Settings, actor: str | None) -> Settings:
    out = copy.copy(settings)
    out.actor = actor
    return out
