"""The SQL of the list queries (access/listing.py): the few rows and groups the policy is
asked about, then the rows of the groups it allows, in one select per page.

Every read goes through ``read``, the request's ``Facts.read`` (a replica or the primary:
access/cache.py), so a list is decided on the same facts as a check. The statements are
plain SQL: groups of rows become conditions (path prefixes, ``shape IN``, ``owner =``,
``attributes IN``, ``id IN``) that the indexes on (org, type, shape), (org, type, path) and
(org, type, rid) answer.
"""

import json
from collections.abc import Callable, Sequence
from typing import NamedTuple

import peewee

from models.base import db
from models.orgs import Membership
from models.resources import Grant, Resource, child_path, path_ids
from models.teams import Team, TeamGrant, TeamMember
from models.users import User

# A read of facts (``Facts.read`` of the request: a replica or the primary): SQL and its
# parameters to rows.
Read = Callable[[str, tuple], list]
# The parameters of one query: strings (ids, types, paths) and integers (keys, limits).
Params = list[str | int]
# A context's allowed combinations: (shape, attribute texts or None) -> owned values allowed.
Combos = dict[tuple[str, tuple[str, ...] | None], set[bool | None]]


def _tables() -> dict:
    return {
        "res": Resource._meta.table_name,
        "grant": Grant._meta.table_name,
        "mem": Membership._meta.table_name,
        "user": User._meta.table_name,
        "team": Team._meta.table_name,
        "tmem": TeamMember._meta.table_name,
        "tgrant": TeamGrant._meta.table_name,
    }


def _live(alias: str) -> str:
    """The condition that the row ``alias`` has not lapsed by the parameter given."""
    return f"({alias}.expires_at IS NULL OR {alias}.expires_at > {{p}})"


def _run(read: Read, sql: str, params: Sequence[object]) -> list:
    """Run one read through ``read``."""
    return read(sql.format(p=db.param, **_tables()), tuple(params))


def _marks(n: int) -> str:
    return ", ".join(["{p}"] * n)


# ---------------------------------------------------------------- resources
class Special(NamedTuple):
    """A resource whose facts for the actor are not its type alone (access/listing.py)."""

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


class Context(NamedTuple):
    """The rows under ``prefix`` ("" : the whole org) outside the subtrees ``excluded``, and
    the combinations of them the policy allows."""

    prefix: str
    excluded: list[str]
    combos: Combos


_ROW = "r.id, r.type, r.rid, r.owner, r.attributes, r.path, r.shape"
_HAS_CHILD = 'EXISTS (SELECT 1 FROM "{res}" c WHERE c.parent_id = r.id)'


def _special(row: Sequence) -> Special:
    pk, type_, rid, owner, attributes, path, shape = row
    return Special(
        pk,
        type_,
        rid,
        owner,
        json.loads(attributes) if attributes else {},
        path or "",
        shape or type_,
    )


def granted(read: Read, user_id: str, org_id: str, now: object) -> list[tuple[str, Special]]:
    """The user's live grants in the org, its own and its teams' (live team memberships):
    (role, the resource). The caller counts them only for a live member."""
    rows = _run(
        read,
        f'SELECT g.role, {_ROW} FROM "{{grant}}" g JOIN "{{res}}" r'
        f" ON r.id = g.resource_id WHERE g.user_id = {{p}} AND r.org_id = {{p}} AND {_live('g')}"
        f' UNION ALL SELECT tg.role, {_ROW} FROM "{{tgrant}}" tg'
        ' JOIN "{tmem}" tm ON tm.team_id = tg.team_id JOIN "{res}" r ON r.id = tg.resource_id'
        f" WHERE tm.user_id = {{p}} AND tm.org_id = {{p}} AND {_live('tg')} AND {_live('tm')}",
        [user_id, org_id, now, user_id, org_id, now, now],
    )
    return [(row[0], _special(row[1:])) for row in rows]


def owned_parents(read: Read, org_id: str, user_id: str) -> list[Special]:
    """The resources of the org the user owns that have children."""
    rows = _run(
        read,
        f'SELECT {_ROW} FROM "{{res}}" r WHERE r.org_id = {{p}}'
        f" AND r.owner = {{p}} AND {_HAS_CHILD}",
        [org_id, user_id],
    )
    return [_special(row) for row in rows]


def parents_of_types(read: Read, org_id: str, types: list[str]) -> list[Special]:
    """The resources of the org of ``types`` that have children."""
    rows = _run(
        read,
        f'SELECT {_ROW} FROM "{{res}}" r WHERE r.org_id = {{p}} AND r.type IN'
        f" ({_marks(len(types))}) AND {_HAS_CHILD}",
        [org_id, *types],
    )
    return [_special(row) for row in rows]


def shapes(read: Read, org_id: str, type_: str) -> list[str]:
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


def attribute_texts(read: Read, org_id: str, type_: str) -> list[str]:
    """The distinct ``attributes`` texts of the rows of ``type_`` in the org."""
    rows = _run(
        read,
        'SELECT DISTINCT attributes FROM "{res}" WHERE org_id = {p} AND type = {p}',
        [org_id, type_],
    )
    return [text for (text,) in rows]


def allowed_rids(
    read: Read,
    org_id: str,
    type_: str,
    actor_id: str,
    allowed_ids: list[int],
    granted_ids: list[int],
    contexts: list[Context],
    after: str | None,
    limit: int,
    plan: tuple[int, int],
) -> list[str]:
    """The rids of the rows of ``type_`` the policy allows, in rid order after ``after``,
    ``limit`` + 1 at most: the rows ``allowed_ids`` (granted rows are decided alone) and
    the allowed combinations of each context, the granted rows ``granted_ids`` left out of
    them. ``plan``: (SORT_AT, MAX_RUNS), how a subtree is read (``_branches``)."""
    branches = _branches(read, org_id, type_, actor_id, allowed_ids, granted_ids, contexts, plan)
    if not branches:
        return []
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
    return [rid for (rid,) in _run(read, sql, all_params)]


def _branches(
    read: Read,
    org_id: str,
    type_: str,
    actor_id: str,
    allowed_ids: list[int],
    granted_ids: list[int],
    contexts: list[Context],
    plan: tuple[int, int],
) -> list[tuple[str, Params, str]]:
    """(condition, parameters, order) of each select of the page.

    One branch per subtree context, one for the rest; contexts are disjoint and granted
    rows are only in the first branch, so UNION ALL never repeats a row. A subtree is read
    as one run per folder holding rows of the type (the distinct paths, by index skips, at
    most MAX_RUNS): the subtree index (org, type, path, rid) gives each run in id order and
    the union is merged to the page, so a page costs the same whether the subtree holds
    1,000 rows or 500,000 (sorting it read them all: half the table for a grant on a root
    folder). A subtree of more folders than that is sorted when it holds few rows (a count
    stopped at SORT_AT), else the (org, type, rid) index is walked in id order, stopping at
    the page. (Left to itself the planner may walk the whole rid index for a small
    subtree: hence the explicit plans.)"""
    sort_at, max_runs = plan
    not_granted = f"r.id NOT IN ({_marks(len(granted_ids))})" if granted_ids else ""
    branches: list[tuple[str, Params, str]] = []
    rest: list[str] = []
    rest_params: Params = []
    if allowed_ids:
        rest.append(f"r.id IN ({_marks(len(allowed_ids))})")
        rest_params += allowed_ids
    for prefix, excluded, combos in contexts:
        condition, params = _group_condition(prefix, excluded, combos, actor_id)
        if not_granted:
            condition = f"({not_granted} AND {condition})"
            params = [*granted_ids, *params]
        if not prefix:
            rest.append(condition)
            rest_params += params
        else:
            runs = _paths(read, org_id, type_, prefix, max_runs + 1)
            if len(runs) <= max_runs:  # one run per folder, each read in id order
                for path in runs:
                    branches.append((f"({condition} AND r.path = {{p}})", [*params, path], "r.rid"))
            elif _at_least(read, org_id, type_, prefix, sort_at):
                branches.append((condition, params, "r.rid"))
            else:
                branches.append((condition, params, "r.rid || ''"))
    if rest:
        branches.insert(0, ("(" + " OR ".join(rest) + ")", rest_params, "r.rid"))
    return branches


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
    count: int = _run(read, sql, [org_id, type_, prefix + "%", n])[0][0]
    return count >= n


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
    for (texts, owned), shapes_ in sorted(by_condition.items(), key=repr):
        parts = [f"r.shape IN ({_marks(len(shapes_))})"]
        params += sorted(shapes_)
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


# ---------------------------------------------------------------- actors
def _signature(pks: list[int], now: object) -> tuple[str | None, Params]:
    """Each user's grant role on each level ``pks`` of a chain (columns g0, g1...), as a
    subquery, and its parameters; None for a chain of no registered level."""
    if not pks:
        return None, []
    cols = ", ".join(
        f"MAX(CASE WHEN resource_id = {{p}} THEN role END) AS g{i}" for i in range(len(pks))
    )
    sql = (
        f'(SELECT user_id, {cols} FROM "{{grant}}" g WHERE resource_id IN'
        f" ({_marks(len(pks))}) AND {_live('g')} GROUP BY user_id)"
    )
    return sql, [*pks, *pks, now]  # type: ignore[list-item]


def membership_roles(read: Read, org_id: str, now: object) -> list[str]:
    """The distinct live membership roles held in the org."""
    rows = _run(
        read,
        f'SELECT DISTINCT role FROM "{{mem}}" m WHERE org_id = {{p}} AND {_live("m")}',
        [org_id, now],
    )
    return [role for (role,) in rows]


def grant_groups(
    read: Read, org_id: str, pks: list[int], now: object
) -> list[tuple[str | None, ...]]:
    """The distinct (live membership role in the org, live grant role on each level
    ``pks``) of the users holding a grant on one of them."""
    sig, sig_params = _signature(pks, now)
    if sig is None:
        return []
    cols = ", ".join(f"s.g{i}" for i in range(len(pks)))
    rows = _run(
        read,
        f'SELECT DISTINCT m.role, {cols} FROM {sig} s LEFT JOIN "{{mem}}" m'
        f" ON m.user_id = s.user_id AND m.org_id = {{p}} AND {_live('m')}",
        sig_params + [org_id, now],
    )
    return [tuple(row) for row in rows]


# What a member a team gives something holds (``team_members``): (membership role, its teams'
# org roles, {pk: roles on it, its own and its teams'}, {pk: its own grant's role}).
TeamHeld = tuple[str | None, set[str], dict[int, set[str]], dict[int, str]]


def team_members(
    read: Read, org_id: str, pks: list[int], after: str | None, now: object
) -> dict[str, TeamHeld]:
    """The users (after ``after``) in a live team of the org that holds an org role or a
    live role on one of ``pks``, and what each holds in the org, none of it lapsed, in one
    read (``TeamHeld``; membership role None: no live membership, so its teams give it
    nothing). The teams are found from the team side (an org's teams with a role, the
    grants on ``pks``), so the read grows with those teams' places, not with the org."""
    later = " AND tm.user_id > {p}" if after is not None else ""
    held = (
        'SELECT tm.user_id FROM "{team}" t JOIN "{tmem}" tm ON tm.team_id = t.id'
        f" WHERE t.org_id = {{p}} AND t.role IS NOT NULL AND {_live('tm')}{later}"
    )
    params: list = [org_id, now] + ([after] if after is not None else [])
    if pks:
        held += (
            ' UNION SELECT tm.user_id FROM "{tgrant}" tg JOIN "{tmem}" tm'
            f" ON tm.team_id = tg.team_id WHERE tg.resource_id IN ({_marks(len(pks))})"
            f" AND tg.org_id = {{p}} AND {_live('tg')} AND {_live('tm')}{later}"
        )
        params += [*pks, org_id, now, now] + ([after] if after is not None else [])
    sql = (
        f"WITH held AS ({held})"
        ' SELECT m.user_id, m.role, 0, 0 FROM "{mem}" m WHERE m.org_id = {p}'
        f" AND m.user_id IN (SELECT user_id FROM held) AND {_live('m')}"
        ' UNION ALL SELECT tm.user_id, t.role, 1, 0 FROM "{tmem}" tm'
        ' JOIN "{team}" t ON t.id = tm.team_id WHERE tm.org_id = {p}'
        " AND tm.user_id IN (SELECT user_id FROM held) AND t.role IS NOT NULL"
        f" AND {_live('tm')}"
    )
    params += [org_id, now, org_id, now]
    if pks:
        on = _marks(len(pks))
        sql += (
            ' UNION ALL SELECT g.user_id, g.role, 2, g.resource_id FROM "{grant}" g'
            " WHERE g.user_id IN (SELECT user_id FROM held)"
            f" AND g.resource_id IN ({on}) AND {_live('g')}"
            ' UNION ALL SELECT tm.user_id, tg.role, 3, tg.resource_id FROM "{tgrant}" tg'
            ' JOIN "{tmem}" tm ON tm.team_id = tg.team_id WHERE tm.org_id = {p}'
            f" AND tm.user_id IN (SELECT user_id FROM held) AND tg.resource_id IN ({on})"
            f" AND {_live('tg')} AND {_live('tm')}"
        )
        params += [*pks, now, org_id, *pks, now, now]
    found: dict[str, TeamHeld] = {}
    for user, role, kind, pk in _run(read, sql, params):
        entry = found.setdefault(user, (None, set(), {}, {}))
        if kind == 0:
            found[user] = (role, *entry[1:])
        elif kind == 1:
            entry[1].add(role)
        else:
            entry[2].setdefault(pk, set()).add(role)
            if kind == 2:
                entry[3][pk] = role
    return found


def users_of_groups(
    read: Read,
    org_id: str,
    pks: list[int],
    groups: list[tuple[str | None, ...]],
    owners: list[str],
    after: str | None,
    limit: int,
    now: object,
) -> list[str]:
    """The ids of the users in ``groups`` (live membership role, live grant role on each
    level ``pks``; None: none), but ``owners``, in id order after ``after``, ``limit`` + 1
    at most.

    One select per kind of group, each from the rows that can be in it, in id order up to
    the page, merged: groups with a grant from the live grants on ``pks`` (few); groups of
    a membership role alone from the org's memberships of those roles (the (org, role)
    index), less anyone with such a grant; the group "no role, no grant" (users outside the
    org) from the users. So a page does not walk every member to find a rare group."""
    sqls: list[str] = []
    params: Params = []
    for sql, col, branch_params in _group_selects(org_id, pks, groups, now):
        if owners:
            sql += f" AND {col} NOT IN ({_marks(len(owners))})"
            branch_params = [*branch_params, *owners]
        if after is not None:
            sql += f" AND {col} > {{p}}"
            branch_params = [*branch_params, after]
        sqls.append(f"{sql} ORDER BY {col} LIMIT {{p}}")
        params += [*branch_params, limit + 1]
    if len(sqls) == 1:
        return [r[0] for r in _run(read, sqls[0], params)]
    sql = " UNION ALL ".join(f"SELECT id FROM ({q}) b{i}" for i, q in enumerate(sqls))
    return [r[0] for r in _run(read, sql + " ORDER BY id LIMIT {p}", [*params, limit + 1])]


def _group_selects(
    org_id: str, pks: list[int], groups: list[tuple[str | None, ...]], now: object
) -> list[tuple[str, str, list]]:
    """The selects of ``users_of_groups``, one per kind of group: (select, its id column,
    parameters)."""
    sig, sig_params = _signature(pks, now)
    no_grant, no_grant_params = "", []  # type: tuple[str, list]
    if pks:
        no_grant = (
            f' AND NOT EXISTS (SELECT 1 FROM "{{grant}}" g WHERE g.user_id = {{col}}'
            f" AND g.resource_id IN ({_marks(len(pks))}) AND {_live('g')})"
        )
        no_grant_params = [*pks, now]
    branches: list[tuple[str, str, list]] = []  # the parameters: ids, roles, times
    granted = [g for g in groups if any(g[1:])]
    if granted and sig:
        terms, term_params = _group_terms(granted)
        branches.append(
            (
                f'SELECT s.user_id AS id FROM {sig} s LEFT JOIN "{{mem}}" m'
                f" ON m.user_id = s.user_id AND m.org_id = {{p}} AND {_live('m')}"
                f" WHERE {terms}",
                "s.user_id",
                [*sig_params, org_id, now, *term_params],
            )
        )
    roles = sorted({g[0] for g in groups if g[0] is not None and not any(g[1:])})
    if roles:
        branches.append(
            (
                f'SELECT m.user_id AS id FROM "{{mem}}" m WHERE m.org_id = {{p}}'
                f" AND m.role IN ({_marks(len(roles))}) AND {_live('m')}"
                + no_grant.replace("{col}", "m.user_id"),
                "m.user_id",
                [org_id, *roles, now, *no_grant_params],
            )
        )
    if any(g[0] is None and not any(g[1:]) for g in groups):
        branches.append(
            (
                f'SELECT u.id AS id FROM "{{user}}" u WHERE NOT EXISTS (SELECT 1 FROM "{{mem}}"'
                f" m WHERE m.user_id = u.id AND m.org_id = {{p}} AND {_live('m')})"
                + no_grant.replace("{col}", "u.id"),
                "u.id",
                [org_id, now, *no_grant_params],
            )
        )
    return branches


def _group_terms(groups: list[tuple[str | None, ...]]) -> tuple[str, Params]:
    """The condition that the row's (``m.role``, ``s.g0``, ``s.g1``...) is one of
    ``groups``, and its parameters."""
    terms: list[str] = []
    params: Params = []
    for role, *grant_roles in groups:
        parts = ["m.role IS NULL" if role is None else "m.role = {p}"]
        params += [] if role is None else [role]
        for i, r in enumerate(grant_roles):
            parts.append(f"s.g{i} IS NULL" if r is None else f"s.g{i} = {{p}}")
            params += [] if r is None else [r]
        terms.append("(" + " AND ".join(parts) + ")")
    return "(" + " OR ".join(terms) + ")", params
