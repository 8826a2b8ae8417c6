"""The one builder of what a decision is asked about: ``TargetBuilder``.

A ``Target`` (authz/view.py) is the chain of a resource: its organization, its ancestors,
itself. Every decision the service makes, on a registered resource, on one described inline
by the caller, on the service's own management resources (an Invitation, a RoleChange...),
on a list query's group of rows or on the live data a policy diff compares, gets its target
from this class, and the actor's facts on it (membership role, grants on the chain) from
``actor``. ``authz.view.build_view`` then turns both into the view the policy is shown.

One SQL loader serves both databases: a resource's chain is one recursive query (a primary
key probe per level), the actor with its role and grants on the chain another, an
organization a third (models/facts.py: plain SQL, prepared once).

Without ``facts`` a builder caches for its own lifetime only (a unit of work makes a fresh
one after taking its locks, so it decides on what is committed now). With the ``facts`` of
``access.cache.CACHE.view()`` it shares the worker's cache across decision requests, as
fresh as the request asked (access/cache.py).
"""

import datetime
import json
from collections.abc import Callable
from typing import Any

from access.errors import Invalid, NotFound
from access.facts import MISSING, ActorEntry, Facts, PrivateFacts, Roles
from authz.view import (
    ActorFacts,
    Node,
    OrgRef,
    Target,
    freeze,
    management_target,
    org_node,
)
from models import Resource
from models.base import utcnow
from models.facts import MAX_DEPTH, statement

__all__ = ["MAX_DEPTH", "AmbiguousResource", "TargetBuilder", "node_of"]


def _attrs(value: dict | str | None) -> dict:
    if isinstance(value, dict):
        return value
    return json.loads(value) if value else {}


def org_of(
    org_id: str, style: str, closed_at: object, allowlist: object = None, custom: object = None
) -> OrgRef:
    """An organization as read (``org``, ``chain``: models/facts.py), its settings and the
    permissions of the roles it defines (``custom_roles``) with it."""
    found = json.loads(allowlist) if isinstance(allowlist, str) else allowlist
    settings = (("admin_ip_allowlist", freeze(found)),) if found else ()
    return OrgRef(org_id, style, closed_at, settings, custom_permissions(custom))


def custom_permissions(stored: object) -> tuple:
    """The stored ``custom_roles`` of an organization (JSON text or its value) as OrgRef
    holds them: sorted (key, ((type, permission), ...)) pairs."""
    roles = json.loads(stored) if isinstance(stored, str) else stored
    if not isinstance(roles, dict) or not roles:
        return ()
    return tuple(
        sorted(
            (key, tuple(sorted((str(t), str(p)) for t, p in role.get("permissions", ()))))
            for key, role in roles.items()
        )
    )


def node_of(row: Resource) -> Node:
    """A stored Resource row as a level of a chain."""
    return Node(row.type, row.rid, row.id, row.owner, _attrs(row.attributes))


class AmbiguousResource(Invalid):
    """A check named no organization and several registered the resource: the field that
    names the org is required (docs/API.md, version 1.2)."""

    def __init__(self, type_: str, rid: str, field: str) -> None:
        super().__init__(
            f"more than one organization registered {type_} {rid!r}: name the organization",
            {field: ["required: more than one organization registered this resource"]},
        )


class TargetBuilder:
    """Targets and actor facts, loaded from the database (see the module docstring)."""

    # The organizations of the calling API key (access/keys.py); None: service-wide. Every
    # decision on a target of another organization is a deny (access/decisions.py).
    scope: frozenset[str] | None = None
    # The service's clock (app.py sets it to ``CLOCK``); what lapsed by now is not a fact.
    clock: Callable[[], datetime.datetime] = staticmethod(utcnow)
    last_until: datetime.datetime | None = None  # when the last actor's facts lapse

    def __init__(self, facts: Facts | None = None) -> None:
        self.facts = facts if facts is not None else PrivateFacts()

    def outside(self, target: Target | None) -> bool:
        """Whether the calling key may not decide on ``target`` (another organization's)."""
        scope = self.scope
        return scope is not None and (target is None or target.org.id not in scope)

    def _query(self, name: str, params: tuple[str | int, ...], many: int = 0) -> list:
        self.facts.loads += 1
        return self.facts.read(statement(name, many), params)

    # ------------------------------------------------------------ organizations, resources
    def org(self, org_id: str) -> OrgRef | None:
        """The organization ``org_id`` or None."""
        found = self.facts.org(org_id)
        if found is MISSING:
            rows = self._query("org", (org_id,))
            found = org_of(*rows[0]) if rows else None
            self.facts.put_org(org_id, found)
        return found

    def registered(self, org_id: str, type_: str, rid: str) -> Target | None:
        """The chain of the resource (type_, rid) registered in ``org_id``, or None: one
        query, or none when cached. Another org's registration of the same id is another
        resource."""
        key = (org_id, type_, rid)
        found = self.facts.target(key)
        if found is MISSING:
            found = self._load_registered(org_id, type_, rid)
            self.facts.put_target(key, found)
        return found

    def _load_registered(self, org_id: str, type_: str, rid: str) -> Target | None:
        if type_ == "Organization":
            org = self.org(rid) if rid == org_id else None
            return Target(org, (org_node(org),)) if org else None
        return self._chain(self._query("chain", (org_id, type_, rid)))

    def _chain(self, rows: list) -> Target | None:
        if not rows:
            return None
        org = org_of(*rows[-1][5:10])
        org_id = org.id
        self.facts.put_org(org_id, org)
        chain = tuple(Node(r[1], r[2], r[0], r[3], _attrs(r[4])) for r in rows)
        return Target(org, (org_node(org), *chain))

    def find(self, type_: str, rid: str, field: str = "resource.org") -> Target | None:
        """The registered resource (type_, rid) of a check that names no organization: the
        one org that registered it, or None. Raises AmbiguousResource (a 422 naming
        ``field``) when several orgs did: such a check must name its org."""
        if type_ == "Organization":
            return self.registered(rid, type_, rid)
        org_id = self.facts.owner_org(type_, rid)
        if org_id is not MISSING:
            return self.registered(org_id, type_, rid) if org_id is not None else None
        rows = self._query("chains", (type_, rid))
        leaves = {r[10] for r in rows}
        if len(leaves) > 1:
            raise AmbiguousResource(type_, rid, field)
        found = self._chain([r[:10] for r in rows])
        if found is not None:
            self.facts.put_target((found.org.id, type_, rid), found)
        self.facts.put_owner_org(type_, rid, found.org.id if found else None)
        return found

    def target(self, ref: dict, field: str = "resource") -> Target | None:
        """Resolve a resource reference of the API: registered, else described inline.

        With ``org``, only that organization's facts count: its registration of (type, id),
        else the inline description in it. Without, the one org that registered it (several:
        AmbiguousResource, a 422 naming ``<field>.org``). For a registered resource the
        stored facts win over inline ones. An inline resource needs ``org``; its ``parent``,
        when given, must be registered in the same org (or be described by type alone, as
        a bare level).
        """
        named = ref.get("org")
        if not named:
            return self.find(ref["type"], ref["id"], f"{field}.org")
        found = self.registered(named, ref["type"], ref["id"])
        if found is not None:
            return found
        org = self.org(named)
        if org is None:
            return None
        parent = ref.get("parent")
        chain: tuple = (org_node(org),)
        if parent:
            above = self.registered(org.id, parent["type"], parent["id"])
            if above is not None:
                chain = above.chain
            else:
                chain = chain + (Node(parent["type"], parent["id"]),)
        node = Node(ref["type"], ref["id"], None, ref.get("owner"), ref.get("attributes") or {})
        return Target(org, chain + (node,))

    def under(self, org: OrgRef, parent: Resource | None, node: Node) -> Target:
        """``node`` as it would sit under the stored row ``parent`` (None: at the top of the
        org): what a resource is decided on before it is written or moved."""
        if not parent:
            return Target(org, (org_node(org), node))
        above = self.registered(org.id, parent.type, parent.rid)
        if above is None:  # read without a lock, and deleted since
            raise NotFound(f"no {parent.type} {parent.rid!r} in organization {org.id!r}")
        return Target(org, above.chain + (node,))

    @staticmethod
    def management(
        org: OrgRef, type_: str, attributes: dict, under: Target | None = None
    ) -> Target:
        """A management resource of the service (an Invitation, a RoleChange...) in ``org``;
        ``under``: the resource a Grant is on."""
        return management_target(org, type_, attributes, under=under)

    @staticmethod
    def new_organization(style: str, attributes: dict) -> Target:
        """The NewOrganization a user asks to create, outside any organization."""
        return management_target(OrgRef("", style), "NewOrganization", attributes, standalone=True)

    @staticmethod
    def shaped(org: OrgRef, shape: str, stored_at: dict[int, Node], last: Node) -> tuple[Node, ...]:
        """The chain of a row of ``shape`` (``Folder/Folder/Dataset``) for a list query:
        the stored rows of ``stored_at`` (depth -> Node) where they sit, bare levels (type
        only) elsewhere, ``last`` for the row itself."""
        parts = shape.split("/")
        chain = [org_node(org)]
        for depth, type_ in enumerate(parts[:-1]):
            chain.append(stored_at.get(depth) or Node(type_, ""))
        chain.append(last)
        return tuple(chain)

    # ------------------------------------------------------------ the actor
    def now(self) -> datetime.datetime:
        """The service's clock (``CLOCK``: tests move it): what has lapsed is read as gone."""
        return self.clock()

    def actor(self, user_id: str, target: Target) -> ActorFacts:
        """The actor's live membership role in the target's org, its teams' org roles and
        its grants (its own and its teams') on the chain, none past its ``expires_at``.

        Cached facts carry the time the first of them lapses (``until``): from then they
        are read again, so no decision allows past an expiry, from a cache either.
        ``last_until`` is that time for the facts returned (None: nothing lapses)."""
        facts, org, now = self.facts, target.org.id, self.now()
        pks = [n.pk for n in target.chain if n.pk is not None]
        held = {pk: _live(facts.grant(user_id, org, pk), now) for pk in pks}
        missing = [pk for pk, entry in held.items() if entry is MISSING]
        cached = _live(facts.actor(user_id, org), now)
        if cached is MISSING:
            params: tuple = (org, now, user_id, org, user_id, now)
            if missing:  # exists? role? teams? grants on the chain? one query
                params += _grant_params(user_id, org, missing, now)
                rows = self._query("actor_grants", params, len(missing))
            else:
                rows = self._query("actor", params)
            cached = _actor_entry(rows)
            facts.put_actor(user_id, org, cached)
            if missing and cached[0]:
                self._put_grants(user_id, org, missing, rows, cached, held)
                missing = []
        known, role, team_roles, in_teams, until = cached
        if missing and known and (role or team_roles):
            params = _grant_params(user_id, org, missing, now)
            rows = self._query("grants", params, len(missing))
            self._put_grants(user_id, org, missing, rows, cached, held)
        grants: dict = {}
        for pk, entry in held.items():
            if entry is MISSING or not (role or team_roles):
                grants[pk] = ()  # an unknown user, or one with no live membership: nothing
                continue
            grants[pk] = entry[0]
            until = _first(until, entry[1])
        self.last_until = until
        facts_ = ActorFacts(known, role, grants, team_roles, in_teams)
        return facts_.holding(target.org.custom_roles) if target.org.custom_roles else facts_

    def _put_grants(
        self, user_id: str, org: str, pks: list[int], rows: list, actor: ActorEntry, held: dict
    ) -> None:
        """Cache the grants of ``rows`` (kinds 2 and 3) on each of ``pks`` into ``held``;
        each lapses with its own expiry, its team membership's, and the membership's."""
        found: dict[int, tuple[Roles, datetime.datetime | None]] = {}
        for _uid, role, expires, team_expires, kind, pk in rows:
            if kind < 2:
                continue
            roles, until = found.get(pk, ((), None))
            found[pk] = (roles + (role,), _first(_first(until, expires), team_expires))
        for pk in pks:
            roles, until = found.get(pk, ((), None))
            entry = (tuple(sorted(set(roles))), _first(until, actor[-1]))
            held[pk] = entry
            self.facts.put_grant(user_id, org, pk, entry)


def _grant_params(user_id: str, org: str, pks: list[int], now: datetime.datetime) -> tuple:
    """The parameters of the ``grants`` read (models/facts.py) for ``pks``."""
    return (user_id, *pks, now, user_id, org, *pks, now, now)


def _actor_entry(rows: list) -> ActorEntry:
    """(known, live membership role, its teams' org roles, when the first lapses) from the
    rows of an ``actor`` read (kinds 0 and 1)."""
    known, role, until, team_roles, in_teams = False, None, None, set(), False
    for _uid, held, expires, _team_expires, kind, _pk in rows:
        if kind == 0:
            known, role = True, held
            until = _first(until, expires)
        elif kind == 1:  # a live place in a team (its org role, when it holds one)
            in_teams = True
            if held is not None:
                team_roles.add(held)
            until = _first(until, expires)
    if role is None:  # not a live member: its teams give nothing
        return (known, None, (), False, until if known else None)
    return (known, role, tuple(sorted(team_roles)), in_teams, until)


def _first(a: datetime.datetime | None, b: datetime.datetime | None) -> datetime.datetime | None:
    """The earlier of two expiries (None: never)."""
    if a is None:
        return _stamp(b)
    if b is None:
        return _stamp(a)
    return min(_stamp(a), _stamp(b))  # type: ignore[type-var]


def _stamp(value: object) -> datetime.datetime | None:
    """A stored time as a naive UTC datetime (SQLite hands back text)."""
    if value is None or isinstance(value, datetime.datetime):
        return value
    return datetime.datetime.fromisoformat(str(value))


def _live(entry: Any, now: datetime.datetime) -> Any:
    """A cached entry, or MISSING when one of its facts has lapsed by ``now``."""
    if entry is MISSING or entry[-1] is None or entry[-1] > now:
        return entry
    return MISSING
