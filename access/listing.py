"""List queries: "which resources may this actor do this on" and "who may do this on it".

Both are answered in the database, never by checking rows one by one in Python, and both
agree with ``access.decisions.decide`` on every row, because they ask the same engine the
same question on the same view (``build_view``), once per *group* of rows that share a view.

A decision is a pure function of the view: per level of the chain from the organization
down, its type, the roles the actor holds on it, whether the actor owns it, and the
attributes the policy reads. So:

**Resources** (``list_resources``; actor A, action X, type T, organization O).
Every registered row carries ``shape``, its chain of types (``Folder/Folder/Dataset``), kept
on every write and move. Call *special* the few resources whose facts for A are not the
plain ones: those A holds a grant on (one query loads them), those A owns that have
children, and those with children of a type the policy reads attributes of. Every other
ancestor level of a row is just its type. Then a row's view is fixed by

* its *context*: the deepest special resource on its path (or none: "untouched"), which
  fixes every special level above it; a context is a path prefix in SQL;
* its shape;
* its own level: owner = A or not (only if the policy reads ownership at all, i.e.
  calls ``actor.owns``), the values of the attributes the policy reads on T,
  and A's grant on the row itself (granted rows are few: each is decided alone, by id).

The distinct shapes of T come from an index skip-scan (one index probe per shape, not a
scan); the distinct attribute values only when the policy reads attributes of T (License
``kind``). For each context x shape x owned x attribute values the engine is asked once
(memoized), and the allowed combinations become SQL conditions: path prefixes, ``shape
IN``, ``owner =``, ``attributes IN``, ``id IN``. One select per subtree context (each sorts
its own rows, found through the ``(org, type, path)`` index) and one for the rest, joined
by ``UNION ALL`` (contexts are disjoint), come back in ``rid`` order with a keyset cursor
(``rid > last``), so pages are stable and nothing is truncated. Cost grows with the number
of special resources (a handful per actor), not with rows; a cold memo pays one Polar query
per group.

**Actors** (``list_actors``; action X on resource R). A user's view of R's chain is fixed by
its membership role in O, its grants on the chain's registered levels, and which levels it
owns. The owners of the chain (at most one per level) are decided one by one, exactly as
``decide`` would. Everyone else is grouped in SQL by (membership role, grant role on each
level): one ``GROUP BY`` lists the groups that exist, the engine is asked once per group (plus
the group "no role, no grant", which decides whether users outside the org qualify), and
one query selects the users of the allowed groups, in id order with a keyset cursor. When
a team holds an org role or a role on the chain, the members it gives one are read apart,
found from the team side: all they hold (their own roles and their teams') in one
statement, the engine asked once per distinct view. The grouped query leaves out those it
would wrongly count (their own roles allowed, all they hold not), and the two are merged by id.

This module asks the policy; the statements that read the groups and the rows are
models/listing.py, run through the request's ``Facts.read`` (a replica or the primary).
"""

import json
from collections.abc import Callable

from access.targets import TargetBuilder
from authz.engine import PolicySet, StyleEngine
from authz.view import MANAGEMENT_TYPES, ActorFacts, Node, OrgRef, Target, build_view, org_node
from models import listing as stored
from models.listing import Combos, Context, Read, Special

# An ``attributes`` text of a row: the visible attributes it shows the policy, and the
# stored texts that show the same (None, None: the policy reads no attribute of the type).
Variant = tuple[dict | None, list[str] | None]
# Whether the policy allows the action on a chain (one actor's facts, one action).
Allowed = Callable[[tuple[Node, ...]], bool]

SORT_AT = 2000  # a subtree with this many rows of the type is read in id order, not sorted
MAX_RUNS = 64  # folders of such a subtree read as runs of their own; more: the id walk


def _page(items: list, more: bool) -> dict:
    """One page of a list query: ``{"items", "next"}``, ``next`` the sort key of the last
    row when more follow (the same form as every page of the domain core)."""
    return {"items": items, "next": items[-1]["id"] if more and items else None}


def _engine(policy: PolicySet, org: OrgRef | None, type_: str, action: str) -> StyleEngine | None:
    """The engine when the question can be asked at all (as ``decide`` checks), else None."""
    if org is None or org.is_closed:
        return None
    try:
        engine = policy.engine(org.style)
    except KeyError:
        return None
    if type_ not in engine.types or action not in engine.permissions(type_):
        return None
    return engine


def _node(s: Special) -> Node:
    return Node(s.type, s.rid, s.pk, s.owner, s.attributes)


def _attribute_variants(read: Read, engine: StyleEngine, org_id: str, type_: str) -> list[Variant]:
    """[(visible attributes, [stored texts])] of the rows of ``type_``, or [(None, None)]
    when the policy reads no attribute of it (then attributes never split a group)."""
    if not engine.attributes.get(type_):
        return [(None, None)]
    variants: dict[str, tuple[dict, list[str]]] = {}
    for text in stored.attribute_texts(read, org_id, type_):
        visible = engine.visible_attributes(type_, json.loads(text) if text else {})
        key = json.dumps(visible, sort_keys=True)
        variants.setdefault(key, (visible, []))[1].append(text)
    return list(variants.values())


def _specials(
    read: Read, engine: StyleEngine, org_id: str, actor_id: str, now: object
) -> tuple[dict[int, list[str]], dict[int, Special]]:
    """The special resources (granted, owned with children, read attributes with
    children) by pk, and the actor's grant roles on them."""
    grants: dict[int, list[str]] = {}
    specials: dict[int, Special] = {}
    for role, s in stored.granted(read, actor_id, org_id, now):
        grants.setdefault(s.pk, []).append(role)
        specials[s.pk] = s
    if engine.reads_ownership:
        for s in stored.owned_parents(read, org_id, actor_id):
            specials.setdefault(s.pk, s)
    read_types = sorted(engine.attributes)
    if read_types:
        for s in stored.parents_of_types(read, org_id, read_types):
            specials.setdefault(s.pk, s)
    return grants, specials


def _above(specials: dict[int, Special], pks: list[int]) -> dict[int, Node]:
    """The special levels among ``pks``, by depth."""
    return {specials[a].shape.count("/"): _node(specials[a]) for a in pks if a in specials}


def list_resources(
    policy: PolicySet,
    facts: TargetBuilder,
    actor_id: str,
    action: str,
    type_: str,
    org_id: str,
    limit: int,
    after: str | None,
) -> dict:
    """The registered resources of ``type_`` in ``org_id`` on which ``actor_id`` may do
    ``action``, in ``rid`` order after ``after``, at most ``limit``. Never raises for an
    unknown actor, org, type or action: the page is empty, as ``decide`` would deny."""
    read = facts.facts.read
    org = facts.org(org_id)
    engine = _engine(policy, org, type_, action)
    if engine is None or org is None or type_ in MANAGEMENT_TYPES or type_ == "Organization":
        return _page([], False)
    member = facts.actor(actor_id, Target(org, (org_node(org),)))
    if not member.known:
        return _page([], False)
    grants, specials = _specials(read, engine, org_id, actor_id, facts.now())
    grants = grants if member.org_roles() else {}  # no live membership: its grants: nothing
    held = member._replace(grants={pk: tuple(sorted(set(r))) for pk, r in grants.items()})
    held = held.holding(org.custom_roles)  # the org's own roles among those grants too

    def allowed(chain: tuple[Node, ...]) -> bool:
        return engine.is_allowed(action, build_view(engine, actor_id, chain, held))

    shapes = stored.shapes(read, org_id, type_)
    variants = _attribute_variants(read, engine, org_id, type_)
    # Rows the actor holds a grant on: few; each decided alone, with its exact chain.
    granted = [s for s in specials.values() if s.pk in grants and s.type == type_]
    allowed_ids = [
        s.pk
        for s in granted
        if allowed(TargetBuilder.shaped(org, s.shape, _above(specials, s.ancestors), _node(s)))
    ]
    owned_values: tuple[bool | None, ...] = (False, True) if engine.reads_ownership else (None,)
    contexts = []
    for ctx in [None, *specials.values()]:
        context = _context(
            org, type_, actor_id, specials, shapes, variants, owned_values, ctx, allowed
        )
        if context is not None:
            contexts.append(context)
    rows = stored.allowed_rids(
        read,
        org_id,
        type_,
        actor_id,
        allowed_ids,
        [s.pk for s in granted],
        contexts,
        after,
        limit,
        (SORT_AT, MAX_RUNS),
    )
    items = [{"type": type_, "id": rid, "org": org_id} for rid in rows[:limit]]
    return _page(items, len(rows) > limit)


def _context(
    org: OrgRef,
    type_: str,
    actor_id: str,
    specials: dict[int, Special],
    shapes: list[str],
    variants: list[Variant],
    owned_values: tuple[bool | None, ...],
    ctx: Special | None,
    allowed: Allowed,
) -> Context | None:
    """The rows whose deepest special ancestor is ``ctx`` (None: none), and the
    combinations of shape x own level of them the policy allows (None: none)."""
    if ctx is None:
        above: dict[int, Node] = {}
        prefix, inside = "", list(specials.values())
        candidates = shapes
    else:
        above = _above(specials, [*ctx.ancestors, ctx.pk])
        prefix = ctx.child_path
        inside = [s for s in specials.values() if s.path.startswith(prefix)]
        candidates = [sh for sh in shapes if sh.startswith(ctx.shape + "/")]
    combos: Combos = {}  # (shape, attribute texts) -> the owned values allowed
    for shape in candidates:
        for visible, texts in variants:
            for owned in owned_values:
                last = Node(type_, "", None, actor_id if owned else None, visible or {})
                if allowed(TargetBuilder.shaped(org, shape, above, last)):
                    key = tuple(texts) if texts is not None else None
                    combos.setdefault((shape, key), set()).add(owned)
    if not combos:
        return None
    # Leave out the subtrees of deeper specials (they are contexts of their own); naming
    # the outermost ones is enough.
    excluded = sorted(
        {s.child_path for s in inside if not any(o.pk in s.ancestors for o in inside)}
    )
    return Context(prefix, excluded, combos)


def list_actors(
    policy: PolicySet,
    facts: TargetBuilder,
    action: str,
    target: Target | None,
    limit: int,
    after: str | None,
) -> dict:
    """The users who may do ``action`` on ``target``, in id order after ``after``, at most
    ``limit``. Never raises for an unknown resource or action: the page is empty."""
    if target is None:
        return _page([], False)
    engine = _engine(policy, target.org, target.node.type, action)
    if engine is None:
        return _page([], False)
    read = facts.facts.read
    chain = target.chain
    pks = [n.pk for n in chain if n.pk is not None]
    owners = sorted({n.owner for n in chain if n.owner is not None})

    # The owners of the chain: each decided alone, exactly as decide() does.
    chosen = []
    for owner in owners:
        held = facts.actor(owner, target)
        if held.known and engine.is_allowed(action, build_view(engine, owner, chain, held)):
            if after is None or owner > after:
                chosen.append(owner)

    # Everyone else, grouped by (membership role, grant role on each registered level),
    # but the members a team gives something here: those are decided on all they hold.
    now = facts.now()
    allowed = _allowed_groups(read, engine, action, target, pks, now)
    found, left_out = _team_members(engine, action, target, owners, allowed, after, now, read)
    rows: list[str] = []
    if allowed:
        rows = stored.users_of_groups(
            read, target.org.id, pks, allowed, owners + left_out, after, limit, now
        )
    merged = sorted(set(rows) | set(chosen) | set(found))[: limit + 1]
    items = [{"id": uid} for uid in merged[:limit]]
    return _page(items, len(merged) > limit)


def _team_members(
    engine: StyleEngine,
    action: str,
    target: Target,
    owners: list[str],
    allowed: list[tuple[str | None, ...]],
    after: str | None,
    now: object,
    read: Read,
) -> tuple[list[str], list[str]]:
    """The members (not ``owners``, after ``after``) a team gives an org role or a role on
    the chain, read in one statement, the policy asked once per distinct view (their own
    roles and their teams' together, as ``decide`` shows them): (those it lets do
    ``action`` on ``target``, those it does not though their own roles alone are in an
    ``allowed`` group, which the grouped read must leave out)."""
    pks = [n.pk for n in target.chain if n.pk is not None]
    groups = set(allowed)
    decided: dict[tuple, bool] = {}
    found: list[str] = []
    left_out: list[str] = []
    for uid, (role, team_roles, grants, own) in stored.team_members(
        read, target.org.id, pks, after, now
    ).items():
        if uid in owners or role is None:  # no live membership: grouped with the rest
            continue
        on = tuple((pk, tuple(sorted(roles))) for pk, roles in sorted(grants.items()))
        key = (role, tuple(sorted(team_roles)), on)
        if key not in decided:
            held = ActorFacts(True, role, dict(on), key[1]).holding(target.org.custom_roles)
            view = build_view(engine, None, target.chain, held)
            decided[key] = engine.is_allowed(action, view)
        if decided[key]:
            found.append(uid)
        elif (role, *(own.get(pk) for pk in pks)) in groups:
            left_out.append(uid)
    return found, left_out


def _allowed_groups(
    read: Read, engine: StyleEngine, action: str, target: Target, pks: list, now: object
) -> list[tuple[str | None, ...]]:
    """The groups (membership role, grant role on each registered level) whose users the
    policy lets do ``action`` on ``target``, owning nothing; the group "no role, no grant"
    is users outside the org."""
    groups: set[tuple[str | None, ...]] = {(None,) + (None,) * len(pks)}
    for member_role in stored.membership_roles(read, target.org.id, now):
        groups.add((member_role,) + (None,) * len(pks))
    groups.update(stored.grant_groups(read, target.org.id, pks, now))
    allowed: list[tuple[str | None, ...]] = []
    for group in groups:
        role, *grant_roles = group
        # A grant counts for a member only, as decide() counts it.
        grants = {pk: (r,) for pk, r in zip(pks, grant_roles) if r} if role else {}
        held = ActorFacts(True, role, grants).holding(target.org.custom_roles)
        # actor_id None: owns nothing (the owners were decided above).
        if engine.is_allowed(action, build_view(engine, None, target.chain, held)):
            allowed.append(group)
    return allowed
