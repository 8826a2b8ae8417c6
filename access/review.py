"""What the review tools need from the database: the live data a policy diff compares
(authz/diff.py is pure and is handed it here)."""

from access.targets import node_of
from authz.diff import Member, World
from authz.view import Node, OrgRef
from models import Grant, Membership, Organization, Resource


def live_worlds():
    """Every open organization with its members, their grants and every registered chain,
    one organization at a time."""
    for org in Organization.select().where(Organization.closed_at.is_null()):
        grants: dict = {}
        for g in Grant.select().where(Grant.org == org.id):
            held = grants.setdefault(g.user_id, {})
            held[g.resource_id] = held.get(g.resource_id, ()) + (g.role,)
        members = [
            Member(m.user_id, m.role, grants.get(m.user_id, {}))
            for m in Membership.select().where(Membership.org == org.id)
        ]
        rows = {r.id: r for r in Resource.select().where(Resource.org == org.id)}
        root = Node("Organization", org.id)
        chains = [(root,)]
        for r in rows.values():
            chains.append(
                (root, *(node_of(rows[pk]) for pk in r.ancestor_ids if pk in rows), node_of(r))
            )
        yield World(OrgRef(org.id, org.style, org.closed_at), members, chains)
