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
one query selects the users of the allowed groups, in id order with a keyset cursor.
"""

import json
from collections.abc import Callable, Sequence
from typing import NamedTuple

import peewee

from access.targets import TargetBuilder
from authz.engine import PolicySet, StyleEngine
from authz.view import MANAGEMENT_TYPES, ActorFacts, Node, OrgRef, Target, build_view
from models import Grant, Membership, Resource, User, db
from models.resources import child_path, path_ids

# A read of facts (``Facts.read`` of the request: a replica or the primary): SQL and its
# parameters to rows.
Read = Callable[[str, tuple], list]
# The parameters of one query: strings (ids, types, paths) and integers (keys, limits).
Params = list[str | int]
# A context's allowed combinations: (shape, attribute texts or None) -> owned values allowed.
Combos = dict[tuple[str, tuple[str, ...] | None], set[bool | None]]
# An ``attributes`` text of a row: the visible attributes it shows the policy, and the
# stored texts that show the same (None, None: the policy reads no attribute of the type).
Variant = tuple[dict | None, list[str] | None]


def _page(items: list, more: bool) -> dict:
    """One page of a list query: ``{"items", "next"}``, ``next`` the sort key of the last
    row when more follow (the same form as every page of the domain core)."""
    return {"items": items, "next": items[-1]["id"] if more and items else None}


def _tables() -> dict:
    return {
        "res": Resource._meta.table_name,
        "grant": Grant._meta.table_name,
        "mem": Membership._meta.table_name,
        "user": User._meta.table_name,
    }


def _run(read: Read, sql: str, params: Sequence[object]) -> list:
    """Run one read through ``read`` (the request's ``Facts.read``: a replica or the
    primary, access/cache.py)."""
    return read(sql.format(p=db.param, **_tables()), tuple(params))


def _marks(n: int) -> str:
    return ", ".join(["{p}"] * n)


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


class _Special(NamedTuple):
    pk: int
    type: str
    rid: str
    owner: str | None
    attributes: dict
    path: str
    shape: str

    @property
    def ancestors(self) -> list[int]:
        return path_ids(self.path)

    @property
    def child_path(self) -> str:
        return child_path(self.path, self.pk)

    @property
    def node(self) -> Node:
        return Node(self.type, self.rid, self.pk, self.owner, self.attributes)


_ROW = "r.id, r.type, r.rid, r.owner, r.attributes, r.path, r.shape"


def _special(row: Sequence) -> _Special:
    pk, type_, rid, owner, attributes, path, shape = row
    return _Special(
        pk,
        type_,
        rid,
        owner,
        json.loads(attributes) if attributes else {},
        path or "",
        shape or type_,
    )


def _shapes(read: Read, org_id: str, type_: str) -> list[str]:
    """The distinct shapes of ``type_`` in the org: one index probe per shape."""
    sql = (
        "WITH RECURSIVE s(shape) AS ("
        ' SELECT MIN(shape) FROM "{res}" WHERE org_id = {p} AND type = {p}'
        " UNION ALL"
        ' SELECT (SELECT MIN(r.shape) FROM "{res}" r'
        "         WHERE r.org_id = {p} AND r.type = {p} AND r.shape > s.shape)"
        " FROM s WHERE s.shape IS NOT NULL)"
        " SELECT shape FROM s WHERE shape IS NOT NULL"
    )
    return [r[0] for r in _run(read, sql, [org_id, type_, org_id, type_])]


def _attribute_variants(read: Read, engine: StyleEngine, org_id: str, type_: str) -> list[Variant]:
    """[(visible attributes, [stored texts])] of the rows of ``type_``, or [(None, None)]
    when the policy reads no attribute of it (then attributes never split a group)."""
    if not engine.attributes.get(type_):
        return [(None, None)]
    variants: dict[str, tuple[dict, list[str]]] = {}
    rows = _run(
        read,
        'SELECT DISTINCT attributes FROM "{res}" WHERE org_id = {p} AND type = {p}',
        [org_id, type_],
    )
    for (text,) in rows:
        visible = engine.visible_attributes(type_, json.loads(text) if text else {})
        key = json.dumps(visible, sort_keys=True)
        variants.setdefault(key, (visible, []))[1].append(text)
    return list(variants.values())


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
    actor_rows = _run(
        read,
        'SELECT u.id, m.role FROM "{user}" u LEFT JOIN "{mem}" m'
        " ON m.user_id = u.id AND m.org_id = {p} WHERE u.id = {p}",
        [org_id, actor_id],
    )
    if not actor_rows:
        return _page([], False)
    role = actor_rows[0][1]

    # The special resources: granted, owned with children, read attributes with children.
    grants: dict[int, list[str]] = {}
    specials: dict[int, _Special] = {}
    for row in _run(
        read,
        f'SELECT g.role, {_ROW} FROM "{{grant}}" g JOIN "{{res}}" r'
        " ON r.id = g.resource_id WHERE g.user_id = {p} AND r.org_id = {p}",
        [actor_id, org_id],
    ):
        s = _special(row[1:])
        grants.setdefault(s.pk, []).append(row[0])
        specials[s.pk] = s
    has_child = 'EXISTS (SELECT 1 FROM "{res}" c WHERE c.parent_id = r.id)'
    if engine.reads_ownership:
        for row in _run(
            read,
            f'SELECT {_ROW} FROM "{{res}}" r WHERE r.org_id = {{p}}'
            f" AND r.owner = {{p}} AND {has_child}",
            [org_id, actor_id],
        ):
            specials.setdefault(row[0], _special(row))
    read_types = sorted(engine.attributes)
    if read_types:
        for row in _run(
            read,
            f'SELECT {_ROW} FROM "{{res}}" r WHERE r.org_id = {{p}} AND r.type IN'
            f" ({_marks(len(read_types))}) AND {has_child}",
            [org_id, *read_types],
        ):
            specials.setdefault(row[0], _special(row))
    held = ActorFacts(True, role, {pk: tuple(roles) for pk, roles in grants.items()})

    def allowed(chain: tuple[Node, ...]) -> bool:
        return engine.is_allowed(action, build_view(engine, actor_id, chain, held))

    shapes = _shapes(read, org_id, type_)
    owned_values: tuple[bool | None, ...] = (False, True) if engine.reads_ownership else (None,)
    variants = _attribute_variants(read, engine, org_id, type_)

    # Rows the actor holds a grant on: few; each decided alone, with its exact chain.
    granted = [s for s in specials.values() if s.pk in grants and s.type == type_]
    allowed_ids = []
    for s in granted:
        above = {
            specials[a].shape.count("/"): specials[a].node for a in s.ancestors if a in specials
        }
        if allowed(TargetBuilder.shaped(org, s.shape, above, s.node)):
            allowed_ids.append(s.pk)

    # Every other row: by context (deepest special ancestor, or none) x shape x own level.
    contexts: list[tuple[str, str, Params]] = []  # (prefix or "", condition, parameters)
    for ctx in [None, *specials.values()]:
        if ctx is None:
            above, prefix, inside = {}, "", list(specials.values())
            candidates = shapes
        else:
            above = {
                specials[a].shape.count("/"): specials[a].node
                for a in [*ctx.ancestors, ctx.pk]
                if a in specials
            }
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
            continue
        # Leave out the subtrees of deeper specials (they are contexts of their own); naming
        # the outermost ones is enough.
        excluded = sorted(
            {s.child_path for s in inside if not any(o.pk in s.ancestors for o in inside)}
        )
        contexts.append((prefix, *_group_condition(prefix, excluded, combos, actor_id)))

    # One branch per subtree context, one for the rest; contexts are disjoint and granted
    # rows are only in the first branch, so UNION ALL never repeats a row. A subtree is
    # read as one run per folder holding rows of the type (the distinct paths, by index
    # skips, at most MAX_RUNS): the subtree index (org, type, path, rid) gives each run in
    # id order and the union is merged to the page, so a page costs the same whether the
    # subtree holds 1,000 rows or 500,000 (sorting it read them all: half the table for a
    # grant on a root folder). A subtree of more folders than that is sorted when it holds
    # few rows (a count stopped at SORT_AT), else the (org, type, rid) index is walked in id
    # order, stopping at the page. (Left to itself the planner may walk the whole rid index
    # for a small subtree: hence the explicit plans.)
    not_granted = f"r.id NOT IN ({_marks(len(granted))})" if granted else ""
    branches: list[tuple[str, Params, str]] = []  # (condition, parameters, order)
    rest: list[str] = []
    rest_params: Params = []
    if allowed_ids:
        rest.append(f"r.id IN ({_marks(len(allowed_ids))})")
        rest_params += allowed_ids
    for prefix, condition, params in contexts:
        if not_granted:
            condition = f"({not_granted} AND {condition})"
            params = [*(s.pk for s in granted), *params]
        if not prefix:
            rest.append(condition)
            rest_params += params
        else:
            runs = _paths(read, org_id, type_, prefix, MAX_RUNS + 1)
            if len(runs) <= MAX_RUNS:  # one run per folder, each read in id order
                for path in runs:
                    branches.append((f"({condition} AND r.path = {{p}})", [*params, path], "r.rid"))
            elif _at_least(read, org_id, type_, prefix, SORT_AT):
                branches.append((condition, params, "r.rid"))
            else:
                branches.append((condition, params, "r.rid || ''"))
    if rest:
        branches.insert(0, ("(" + " OR ".join(rest) + ")", rest_params, "r.rid"))
    if not branches:
        return _page([], False)
    sqls: list[str] = []
    all_params: Params = []
    for condition, params, order in branches:
        sql = 'SELECT r.rid FROM "{res}" r WHERE r.org_id = {p} AND r.type = {p}'
        all_params += [org_id, type_]
        if after is not None:
            sql += " AND r.rid > {p}"
            all_params.append(after)
        sqls.append(f"{sql} AND {condition} ORDER BY {order} LIMIT {{p}}")
        all_params += params + [limit + 1]
    if len(sqls) == 1:
        sql = sqls[0]
    else:
        sql = " UNION ALL ".join(f"SELECT rid FROM ({q}) b{i}" for i, q in enumerate(sqls))
        sql += " ORDER BY rid LIMIT {p}"
        all_params.append(limit + 1)
    rows = _run(read, sql, all_params)
    items = [{"type": type_, "id": rid, "org": org_id} for (rid,) in rows[:limit]]
    return _page(items, len(rows) > limit)


SORT_AT = 2000  # a subtree with this many rows of the type is read in id order, not sorted
MAX_RUNS = 64  # folders of such a subtree read as runs of their own; more: the id walk


def _paths(read: Read, org_id: str, type_: str, prefix: str, most: int) -> list[str]:
    """The distinct paths of the rows of ``type_`` under ``prefix`` (one index probe each),
    at most ``most``. On PostgreSQL the subtree index orders paths byte by byte
    (``varchar_pattern_ops``), so the skips use its operators; ``MIN`` would read the whole
    subtree."""
    if isinstance(db.obj, peewee.PostgresqlDatabase):
        first = (
            'SELECT path FROM "{res}" WHERE org_id = {p} AND type = {p} AND path LIKE {p}'
            " ORDER BY path USING ~<~ LIMIT 1"
        )
        after = (
            'SELECT r.path FROM "{res}" r WHERE r.org_id = {p} AND r.type = {p}'
            " AND r.path LIKE {p} AND r.path ~>~ s.path ORDER BY r.path USING ~<~ LIMIT 1"
        )
    else:
        first = 'SELECT MIN(path) FROM "{res}" WHERE org_id = {p} AND type = {p} AND path LIKE {p}'
        after = (
            'SELECT MIN(r.path) FROM "{res}" r WHERE r.org_id = {p} AND r.type = {p}'
            " AND r.path LIKE {p} AND r.path > s.path"
        )
    sql = (
        f"WITH RECURSIVE s(path) AS (SELECT ({first}) UNION ALL SELECT ({after})"
        " FROM s WHERE s.path IS NOT NULL) SELECT path FROM s WHERE path IS NOT NULL LIMIT {p}"
    )
    like = prefix + "%"
    return [r[0] for r in _run(read, sql, [org_id, type_, like, org_id, type_, like, most])]


def _at_least(read: Read, org_id: str, type_: str, prefix: str, n: int) -> bool:
    """Whether the subtree ``prefix`` holds at least ``n`` rows of ``type_`` (reads at most
    ``n`` entries of the subtree index)."""
    sql = (
        'SELECT COUNT(*) FROM (SELECT 1 FROM "{res}" r WHERE r.org_id = {p} AND r.type = {p}'
        " AND r.path LIKE {p} LIMIT {p}) s"
    )
    return _run(read, sql, [org_id, type_, prefix + "%", n])[0][0] >= n


def _group_condition(
    prefix: str, excluded: list[str], combos: Combos, actor_id: str
) -> tuple[str, Params]:
    """The SQL (and parameters) selecting the rows of one context whose combination of
    shape, ownership and attribute values the policy allows."""
    by_condition: dict[tuple[tuple[str, ...] | None, frozenset[bool | None]], list[str]] = {}
    for (shape, texts), owned_set in combos.items():
        by_condition.setdefault((texts, frozenset(owned_set)), []).append(shape)
    terms: list[str] = []
    params: Params = []
    for (texts, owned), shapes in sorted(by_condition.items(), key=repr):
        parts = [f"r.shape IN ({_marks(len(shapes))})"]
        params += sorted(shapes)
        if owned == {True}:
            parts.append("r.owner = {p}")
            params.append(actor_id)
        elif owned == {False}:
            parts.append("(r.owner IS NULL OR r.owner <> {p})")
            params.append(actor_id)
        if texts is not None:
            parts.append(f"r.attributes IN ({_marks(len(texts))})")
            params += list(texts)
        terms.append("(" + " AND ".join(parts) + ")")
    scope: list[str] = []
    scope_params: Params = []
    if prefix:
        scope.append("r.path LIKE {p}")
        scope_params.append(prefix + "%")
    for path in excluded:
        scope.append("r.path NOT LIKE {p}")
        scope_params.append(path + "%")
    sql = "(" + " AND ".join(scope + ["(" + " OR ".join(terms) + ")"]) + ")"
    return sql, scope_params + params


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

    # Everyone else, grouped by (membership role, grant role on each registered level).
    sig_cols = ", ".join(
        f"MAX(CASE WHEN resource_id = {{p}} THEN role END) AS g{i}" for i in range(len(pks))
    )
    sig = (
        (
            f'(SELECT user_id, {sig_cols} FROM "{{grant}}" WHERE resource_id IN'
            f" ({_marks(len(pks))}) GROUP BY user_id)"
        )
        if pks
        else None
    )
    sig_params = pks + pks
    # (membership role, grant role on each registered level); no role, no grant: users
    # outside the org
    groups: set[tuple[str | None, ...]] = {(None,) + (None,) * len(pks)}
    for (role,) in _run(
        read, 'SELECT DISTINCT role FROM "{mem}" WHERE org_id = {p}', [target.org.id]
    ):
        groups.add((role,) + (None,) * len(pks))
    if sig:
        cols = ", ".join(f"s.g{i}" for i in range(len(pks)))
        for row in _run(
            read,
            f'SELECT DISTINCT m.role, {cols} FROM {sig} s LEFT JOIN "{{mem}}" m'
            " ON m.user_id = s.user_id AND m.org_id = {p}",
            sig_params + [target.org.id],
        ):
            groups.add(tuple(row))
    allowed: list[tuple[str | None, ...]] = []
    for group in groups:
        role, *grant_roles = group
        held = ActorFacts(True, role, {pk: (r,) for pk, r in zip(pks, grant_roles) if r})
        # actor_id None: owns nothing (the owners were decided above).
        if engine.is_allowed(action, build_view(engine, None, chain, held)):
            allowed.append(group)
    rows: list[str]
    if not allowed:
        rows = []
    else:
        terms: list[str] = []
        term_params: list[str] = []
        for role, *grant_roles in allowed:
            parts = ["m.role IS NULL" if role is None else "m.role = {p}"]
            term_params += [] if role is None else [role]
            for i, r in enumerate(grant_roles):
                parts.append(f"s.g{i} IS NULL" if r is None else f"s.g{i} = {{p}}")
                term_params += [] if r is None else [r]
            terms.append("(" + " AND ".join(parts) + ")")
        sql = (
            'SELECT u.id FROM "{user}" u LEFT JOIN "{mem}" m ON m.user_id = u.id AND m.org_id = {p}'
        )
        params: Params = [target.org.id]
        if sig:
            sql += f" LEFT JOIN {sig} s ON s.user_id = u.id"
            params += sig_params
        sql += " WHERE (" + " OR ".join(terms) + ")"
        params += term_params
        if owners:
            sql += f" AND u.id NOT IN ({_marks(len(owners))})"
            params += owners
        if after is not None:
            sql += " AND u.id > {p}"
            params.append(after)
        sql += " ORDER BY u.id LIMIT {p}"
        params.append(limit + 1)
        rows = [r[0] for r in _run(read, sql, params)]
    merged = sorted(set(rows) | set(chosen))[: limit + 1]
    items = [{"id": uid} for uid in merged[:limit]]
    return _page(items, len(merged) > limit)
