"""The reads of decision facts: what a decision is asked about and who asks.

A resource's chain is one recursive query (a primary key probe per level), the actor with
its role and grants on the chain another, an organization a third. They are plain SQL,
prepared once per database (``statement``): building them with Peewee's query builder cost
~300 µs each, more than running them. ``access.targets.TargetBuilder`` runs them through
the request's ``Facts.read`` (the primary, or a replica: access/cache.py), whose reads on the
primary are ``read``.

Also here: the change position's read (``POSITION_SQL``, for replicas and the listener) and
the live data of every open organization a policy diff compares (``open_orgs``).
"""

import functools
from collections.abc import Iterator
from typing import NamedTuple

import peewee

from models.base import db, prepared, utcnow
from models.generation import Generation
from models.orgs import Membership, Organization
from models.resources import Grant, Resource
from models.teams import Team, TeamGrant, TeamMember, held_through_teams, live
from models.users import User

MAX_DEPTH = 256  # resources nest at most this deep: deeper is a 422 (access/resources.py)

_LIVE = "({t}.expires_at IS NULL OR {t}.expires_at > {{p}})"
_ACTOR = (
    "SELECT u.id, m.role, m.expires_at, CAST(NULL AS TIMESTAMP), 0, CAST(NULL AS INTEGER)"
    ' FROM "{user}" u LEFT JOIN "{mem}" m '
    f"ON m.user_id = u.id AND m.org_id = {{p}} AND {_LIVE.format(t='m')} WHERE u.id = {{p}}"
    ' UNION ALL SELECT tm.user_id, t.role, tm.expires_at, NULL, 1, NULL FROM "{tmem}" tm'
    ' JOIN "{team}" t ON t.id = tm.team_id'
    " WHERE tm.org_id = {p} AND tm.user_id = {p}"
    f" AND {_LIVE.format(t='tm')}"
)
_GRANTS = (
    "SELECT g.user_id, g.role, g.expires_at, CAST(NULL AS TIMESTAMP), 2, g.resource_id"
    ' FROM "{grant}" g'
    f" WHERE g.user_id = {{p}} AND g.resource_id IN ({{many}}) AND {_LIVE.format(t='g')}"
    " UNION ALL SELECT tm.user_id, tg.role, tg.expires_at, tm.expires_at, 3, tg.resource_id"
    ' FROM "{tgrant}" tg JOIN "{tmem}" tm ON tm.team_id = tg.team_id'
    " WHERE tm.user_id = {p} AND tm.org_id = {p} AND tg.resource_id IN ({many})"
    f" AND {_LIVE.format(t='tg')} AND {_LIVE.format(t='tm')}"
)

_SQL = {
    "org": 'SELECT id, style, closed_at, admin_ip_allowlist, custom_roles FROM "{org}"'
    " WHERE id = {p}",
    # The resource and its ancestors, deepest first, with its organization: one round trip.
    # A resource is named by (organization, type, id): the org's own registration only.
    "chain": "WITH RECURSIVE c(id, type, rid, owner, attributes, parent_id, org_id, depth) AS ("
    ' SELECT id, type, rid, owner, attributes, parent_id, org_id, 0 FROM "{res}"'
    " WHERE org_id = {p} AND type = {p} AND rid = {p}"
    " UNION ALL"
    " SELECT a.id, a.type, a.rid, a.owner, a.attributes, a.parent_id, a.org_id, c.depth + 1"
    f' FROM "{{res}}" a JOIN c ON a.id = c.parent_id WHERE c.depth < {MAX_DEPTH})'
    " SELECT c.id, c.type, c.rid, c.owner, c.attributes, o.id, o.style, o.closed_at,"
    ' o.admin_ip_allowlist, o.custom_roles FROM c JOIN "{org}" o ON o.id = c.org_id'
    " ORDER BY c.depth DESC",
    # A check that names no org: every org's registration of (type, id), at most two (one
    # is the answer, two are a 422 asking for the org), each chain tagged with its leaf.
    "chains": "WITH RECURSIVE c(leaf, id, type, rid, owner, attributes, parent_id, org_id, depth)"
    " AS (SELECT * FROM (SELECT id AS leaf, id, type, rid, owner, attributes, parent_id,"
    ' org_id, 0 FROM "{res}" WHERE type = {p} AND rid = {p} LIMIT 2) s'
    " UNION ALL"
    " SELECT c.leaf, a.id, a.type, a.rid, a.owner, a.attributes, a.parent_id, a.org_id,"
    f' c.depth + 1 FROM "{{res}}" a JOIN c ON a.id = c.parent_id WHERE c.depth < {MAX_DEPTH})'
    " SELECT c.id, c.type, c.rid, c.owner, c.attributes, o.id, o.style, o.closed_at,"
    " o.admin_ip_allowlist, o.custom_roles, c.leaf"
    ' FROM c JOIN "{org}" o ON o.id = c.org_id ORDER BY c.leaf, c.depth DESC',
    # Whether the user exists and its live role in the org (kind 0), the org roles of its
    # live teams (kind 1): one round trip. A lapsed membership holds nothing, nor do its
    # teams. Each row: (user, role, expires_at, team expires_at, kind, resource pk).
    "actor": _ACTOR,
    # The same, with the grants on the chain, its own (kind 2) and its teams' (kind 3).
    "actor_grants": f"{_ACTOR} UNION ALL {_GRANTS}",
    "grants": _GRANTS,
}

# The change position (models/generation.py): one primary-key read.
POSITION_SQL = f'SELECT value FROM "{Generation._meta.table_name}" WHERE id = 1'


@functools.lru_cache(maxsize=512)
def _sql(name: str, many: int, p: str) -> str:
    return _SQL[name].format(
        p=p,
        many=", ".join([p] * many),
        org=Organization._meta.table_name,
        res=Resource._meta.table_name,
        user=User._meta.table_name,
        mem=Membership._meta.table_name,
        grant=Grant._meta.table_name,
        team=Team._meta.table_name,
        tmem=TeamMember._meta.table_name,
        tgrant=TeamGrant._meta.table_name,
    )


def statement(name: str, many: int = 0) -> str:
    """The fact read ``name`` (org, chain, chains, actor, actor_grants, grants) for the
    bound database, with ``many`` parameters in its ``IN`` list."""
    return _sql(name, many, db.param)


def read(sql: str, params: tuple | list = ()) -> list:
    """The rows of one read on the primary (prepared once per connection: its text is one of
    a few fixed ones)."""
    with prepared():
        return db.execute_sql(sql, params).fetchall()


def on_postgres(database: peewee.Database | None) -> bool:
    """Whether ``database`` (``db.obj``: the bound one) is PostgreSQL."""
    return isinstance(database, peewee.PostgresqlDatabase)


class OrgData(NamedTuple):
    """An organization with its live memberships, grants and resources, and what its
    members hold through live teams: ``team_roles`` (user -> org roles) and
    ``team_grants`` (user -> resource pk -> roles)."""

    org: Organization
    members: list[Membership]
    grants: list[Grant]
    resources: list[Resource]
    team_roles: dict
    team_grants: dict


def open_orgs() -> Iterator[OrgData]:
    """Every open organization with its rows, one organization at a time (a policy diff
    compares them: access/review.py)."""
    now = utcnow()
    for org in Organization.select().where(Organization.closed_at.is_null()):
        roles, grants = held_through_teams(org.id, now)
        yield OrgData(
            org,
            list(
                Membership.select().where(
                    (Membership.org == org.id) & live(Membership.expires_at, now)
                )
            ),
            list(Grant.select().where((Grant.org == org.id) & live(Grant.expires_at, now))),
            list(Resource.select().where(Resource.org == org.id)),
            roles,
            grants,
        )
