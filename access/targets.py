"""Load from the database what a decision needs, in a fixed small number of indexed queries.

A ``Target`` is the chain of a resource: its organization, its ancestors, itself. The actor's
facts on it are its membership role in the organization and its grants on the chain. The
``Facts`` object caches both for one request (a batch asks about the same actor and org many
times).
"""

import functools
import json

import peewee

from authz.view import ActorFacts, Node, OrgRef, Target, org_node
from models import Grant, Membership, Organization, Resource, User, db

# The decision path runs these on every uncached request. They are plain SQL, prepared once:
# building them with Peewee's query builder cost ~300 µs each, more than running them.
_SQL = {
    "org": 'SELECT id, style, closed_at FROM "{org}" WHERE id = {p}',
    "resource": "SELECT r.id, r.type, r.rid, r.owner, r.attributes, r.path, o.id, o.style, "
    'o.closed_at FROM "{res}" r JOIN "{org}" o ON o.id = r.org_id '
    "WHERE r.type = {p} AND r.rid = {p}",
    "ancestors": 'SELECT id, type, rid, owner, attributes FROM "{res}" WHERE id IN ({many})',
    "actor": 'SELECT u.id, m.role FROM "{user}" u LEFT JOIN "{mem}" m '
    "ON m.user_id = u.id AND m.org_id = {p} WHERE u.id = {p}",
    "grants": 'SELECT resource_id, role FROM "{grant}" '
    "WHERE user_id = {p} AND resource_id IN ({many})",
    # The same two pairs in one round trip each, so that uncached, a resource ten folders
    # deep costs the queries an organization does (bench/listing.py): the actor with its
    # grants on the chain, and (PostgreSQL, which splits the path into ids) the resource
    # with its ancestors.
    "actor_grants": 'SELECT u.id, m.role, g.resource_id, g.role FROM "{user}" u '
    'LEFT JOIN "{mem}" m ON m.user_id = u.id AND m.org_id = {p} '
    'LEFT JOIN "{grant}" g ON g.user_id = u.id '
    "AND g.resource_id IN ({many}) WHERE u.id = {p}",
    "chain": "SELECT a.id, a.type, a.rid, a.owner, a.attributes, a.path, o.id, o.style, "
    'o.closed_at, a.id = r.id FROM "{res}" r JOIN "{org}" o ON o.id = r.org_id '
    'JOIN "{res}" a ON a.id = ANY(array_append('
    "string_to_array(btrim(r.path, '/'), '/')::int[], r.id)) "
    "WHERE r.type = {p} AND r.rid = {p}",
}


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
    )


def _query(name: str, params: tuple, many: int = 0) -> list:
    return db.execute_sql(_sql(name, many, db.param), params).fetchall()


def _path_ids(path: str) -> list:
    return [int(p) for p in (path or "").split("/") if p]


def _attrs(text) -> dict:
    return json.loads(text) if text else {}


class Facts:
    """Loader and cache of targets and actor facts.

    Without ``maps`` it caches for one request only (management endpoints, which write and
    must read their own writes). With the ``maps`` of ``access.cache.CACHE.sync()`` it shares
    them across the worker's requests until a decision fact changes.
    """

    def __init__(self, maps=None):
        if maps is None:
            self._orgs, self._targets, self._actors, self._grants = {}, {}, {}, {}
        else:
            self._orgs, self._targets = maps.orgs, maps.targets
            self._actors, self._grants = maps.actors, maps.grants

    def org(self, org_id: str) -> OrgRef | None:
        """The organization ``org_id`` or None."""
        if org_id not in self._orgs:
            rows = _query("org", (org_id,))
            self._orgs[org_id] = OrgRef(*rows[0]) if rows else None
        return self._orgs[org_id]

    def registered(self, type_: str, rid: str) -> Target | None:
        """The chain of the registered resource (type_, rid), or None: two queries, or none
        when cached."""
        key = (type_, rid)
        if key in self._targets:
            return self._targets[key]
        target = self._load_registered(type_, rid)
        if len(self._targets) > 200_000:
            self._targets.clear()
        self._targets[key] = target
        return target

    def _load_registered(self, type_: str, rid: str) -> Target | None:
        if type_ == "Organization":
            org = self.org(rid)
            return Target(org, (org_node(org),)) if org else None
        if isinstance(db.obj, peewee.PostgresqlDatabase):
            rows = _query("chain", (type_, rid))
            if not rows:
                return None
            me = next(r for r in rows if r[9])
            by_pk = {r[0]: r for r in rows}
            ancestors = [
                Node(by_pk[i][1], by_pk[i][2], i, by_pk[i][3], _attrs(by_pk[i][4]))
                for i in _path_ids(me[5])
                if i in by_pk
            ]
        else:
            rows = _query("resource", (type_, rid))
            if not rows:
                return None
            me = rows[0]
            ancestors = self.ancestors(me[5])
        pk, rtype, rrid, owner, attributes, path, org_id, style, closed_at = me[:9]
        org = self._orgs.setdefault(org_id, OrgRef(org_id, style, closed_at))
        node = Node(rtype, rrid, pk, owner, _attrs(attributes))
        return Target(org, (org_node(org), *ancestors, node))

    @staticmethod
    def ancestors(path: str) -> list:
        """The ancestor nodes named by a resource's ``path``, root first, in one query."""
        ids = _path_ids(path)
        if not ids:
            return []
        by_pk = {r[0]: r for r in _query("ancestors", tuple(ids), len(ids))}
        return [
            Node(by_pk[i][1], by_pk[i][2], i, by_pk[i][3], _attrs(by_pk[i][4]))
            for i in ids
            if i in by_pk
        ]

    def target(self, ref: dict) -> Target | None:
        """Resolve a resource reference of the API: registered, else described inline.

        For a registered resource the stored facts win over inline ones. An inline resource
        needs ``org``; its ``parent``, when given, must be registered in the same org (or be
        described by type alone, as a bare level).
        """
        found = self.registered(ref["type"], ref["id"])
        if found is not None:
            return found
        org = self.org(ref.get("org") or "")
        if org is None:
            return None
        chain = (org_node(org),)
        parent = ref.get("parent")
        if parent:
            above = self.registered(parent["type"], parent["id"])
            if above is not None:
                if above.org.id != org.id:
                    return None
                chain = above.chain
            else:
                chain = chain + (Node(parent["type"], parent["id"]),)
        node = Node(ref["type"], ref["id"], None, ref.get("owner"), ref.get("attributes") or {})
        return Target(org, chain + (node,))

    def actor(self, user_id: str, target: Target) -> ActorFacts:
        """The actor's membership role in the target's org and grants on its chain."""
        pks = tuple(n.pk for n in target.chain if n.pk is not None)
        key = (user_id, target.org.id)
        grants = self._grants
        if key not in self._actors:
            missing = [pk for pk in pks if (user_id, pk) not in grants]
            if missing:  # exists? role? grants on the chain? one query
                rows = _query("actor_grants", (target.org.id, *missing, user_id), len(missing))
                found = {}
                for _uid, _role, pk, grant_role in rows:
                    if pk is not None:
                        found[pk] = found.get(pk, ()) + (grant_role,)
                if rows:
                    if len(grants) > 200_000:
                        grants.clear()
                    for pk in missing:
                        grants[(user_id, pk)] = found.get(pk, ())
            else:  # exists? role? one query
                rows = _query("actor", (target.org.id, user_id))
            if len(self._actors) > 200_000:
                self._actors.clear()
            self._actors[key] = (bool(rows), rows[0][1] if rows else None)
        known, role = self._actors[key]
        missing = [pk for pk in pks if (user_id, pk) not in grants]
        if known and missing:
            found = {}
            for pk, grant_role in _query("grants", (user_id, *missing), len(missing)):
                found[pk] = found.get(pk, ()) + (grant_role,)
            if len(grants) > 200_000:
                grants.clear()
            for pk in missing:
                grants[(user_id, pk)] = found.get(pk, ())
        held = {pk: grants.get((user_id, pk), ()) for pk in pks}
        return ActorFacts(known, role, held)
