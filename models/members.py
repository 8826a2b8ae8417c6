"""Queries that span an organization's tables: a member's memberships, grants (on its
resources) and default organization, the member list (members, then pending invitations),
the directory of users, and whether a resource id is registered (models/resources.py holds
the resource queries of the resource core)."""

import datetime
import functools
from typing import Any

import peewee

from models.base import Fixed
from models.orgs import Invitation, Membership, Organization
from models.paging import Page, keyset
from models.resources import Grant, Resource
from models.teams import TeamMember
from models.users import User


def grants_in(org_id: str, user_ids: list) -> dict:
    """The grants of these users in the org: ``{user id: [{"type", "id", "role"}]}``, by
    resource type and id."""
    rows = (
        Grant.select(Grant.user, Grant.role, Resource.type, Resource.rid)
        .join(Resource)
        .where((Grant.org == org_id) & (Grant.user.in_(user_ids)))
        .order_by(Resource.type, Resource.rid)
    )
    found: dict = {}
    for g in rows:
        found.setdefault(g.user_id, []).append(
            {"type": g.resource.type, "id": g.resource.rid, "role": g.role}
        )
    return found


def drop_memberships(org_id: str, memberships: list) -> dict:
    """Delete the memberships, the members' grants and places in teams in the org, and
    their default_org there. Returns the grants dropped (``grants_in``)."""
    user_ids = [m.user_id for m in memberships]
    dropped = grants_in(org_id, user_ids)
    Grant.delete().where((Grant.org == org_id) & (Grant.user.in_(user_ids))).execute()
    TeamMember.drop_user(org_id, user_ids)
    Membership.delete().where(Membership.id.in_([m.id for m in memberships])).execute()
    User.clear_default(user_ids, org_id)
    return dropped


def member_and_grant(org_id: str, user_id: str, resource_pk: int) -> tuple[bool, Grant | None]:
    """Whether ``user_id`` is a member of ``org_id``, and the grant they hold on the resource
    ``resource_pk`` (None: none), in one statement."""
    row = _MEMBER_AND_GRANT.first(org_id, user_id, resource_pk)
    if row is None:
        return False, None
    return True, _present(getattr(row, "held", None))


def _present(row: Any) -> Any:
    """A row an outer join gave, or None for its empty side (a row whose key is None)."""
    return row if row is not None and row.id is not None else None


def _member_and_grant(org_id: str, user_id: str, resource_pk: int) -> peewee.Query:
    on = (Grant.user == Membership.user) & (Grant.resource == resource_pk)
    return (
        Membership.select(Membership.id, Grant)
        .join(Grant, peewee.JOIN.LEFT_OUTER, on=on, attr="held")
        .where((Membership.org == org_id) & (Membership.user == user_id))
        .limit(1)
    )


def emails_taken(org_id: str, keys: list, now: datetime.datetime) -> dict[str, str]:
    """``{email key: "member" or "pending"}`` for those of the email keys ``keys`` whose
    user is a member of ``org_id`` or that have a pending invitation there, in one statement
    (a member wins over an invitation)."""
    keys = sorted(set(keys))
    found: dict[str, str] = {}
    for key, why in _taken(len(keys)).all(org_id, now, *keys):  # UNION: each (key, why) once
        if found.get(key) != "member":
            found[key] = why
    return found


@functools.lru_cache(maxsize=64)  # one per batch size; prepared for the small ones
def _taken(count: int) -> Fixed:
    def build(org_id: str, now: datetime.datetime, *keys: str) -> peewee.Query:
        members = (
            User.select(User.email_key, peewee.Value("member").alias("why"))
            .join(Membership)
            .where((Membership.org == org_id) & User.email_key.in_(list(keys)))
        )
        pending = Invitation.select(
            Invitation.email_key, peewee.Value("pending").alias("why")
        ).where(
            (Invitation.org == org_id)
            & Invitation.email_key.in_(list(keys))
            & Invitation._pending(now)
        )
        return (members | pending).tuples()

    return Fixed(build, 2 + count, prepare=count <= 8)


# Their SQL built once (models.base.Fixed).
_MEMBER_AND_GRANT = Fixed(_member_and_grant)
_ORG_AND_MEMBER = Fixed(lambda org_id, user_id: _org_and_member(org_id, user_id))
_ORG_MEMBER_GRANT = Fixed(
    lambda org_id, user_id, type_, rid: _org_and_member(org_id, user_id, (type_, rid))
)


def lock_with_member(
    org_id: str, user_id: str, grant_on: tuple[str, str] | None = None
) -> tuple[Organization | None, Membership | None]:
    """``Organization.lock``, then ``Membership.find(org_id, user_id, last_of_role=True)``, in
    one round trip (``Organization.lock_ahead``: the read runs once the lock is held).
    ``grant_on``: a resource's (type, id): the member's grant on it is read too
    (``.held``, None: none). Returns the organization (None: none) and the membership (None:
    none)."""
    Organization.lock_ahead(org_id)
    if grant_on is None:
        org = _ORG_AND_MEMBER.first(org_id, user_id)
    else:
        org = _ORG_MEMBER_GRANT.first(org_id, user_id, *grant_on)
    if org is None:
        return None, None
    member = _present(getattr(org, "member", None))
    if member is None:
        return org, None
    member.last_of_role = org.last_of_role
    if grant_on is not None:
        member.held = _present(getattr(member, "held", None))
    return org, member


def _org_and_member(org_id: str, user_id: str, grant_on: tuple | None = None) -> peewee.Query:
    m = Membership
    on = (m.org == Organization.id) & (m.user == user_id)
    columns = [Organization, m, User, m.last_of_role_column()] + ([Grant] if grant_on else [])
    query = (
        Organization.select(*columns)
        .join(m, peewee.JOIN.LEFT_OUTER, on=on, attr="member")
        .join(User, peewee.JOIN.LEFT_OUTER, on=(m.user == User.id))
    )
    if grant_on is not None:  # the resource as the org names it: (org, type, id) is unique
        type_, rid = grant_on
        resource = Resource.select(Resource.id).where(
            (Resource.org == org_id) & (Resource.type == type_) & (Resource.rid == rid)
        )
        held = (Grant.user == m.user) & (Grant.resource == resource)
        query = query.switch(m).join(Grant, peewee.JOIN.LEFT_OUTER, on=held, attr="held")
    return query.where(Organization.id == org_id).limit(1)


def user_orgs(user_id: str) -> set[str]:
    """The organizations ``user_id`` belongs to or holds a grant in."""
    granted = Grant.select(Grant.org).where(Grant.user == user_id)
    return Membership.org_ids_of(user_id) | {g.org_id for g in granted}


def member_page(
    org_id: str,
    now: datetime.datetime,
    limit: int,
    after: list | None,
    role: str | None = None,
    q: str | None = None,
) -> Page:
    """Active members by user id, then pending invitations by id, after the key ``after``
    (``["m", user id]`` or ``["i", invitation id]``). Rows: ``("m", user id, membership)``
    or ``("i", invitation id, invitation)``; ``next``: such a key, or None."""
    rows: list = []
    if after is None or after[0] == "m":
        members = keyset(
            Membership.listed(org_id, role, q),
            User.id,
            limit,
            after[1] if after else None,
            key_of=lambda m: m.user.id,
        )
        rows = [("m", m.user.id, m) for m in members.rows]
        if members.next is not None:
            return Page(rows, ["m", members.next])
    pending = Invitation.listed(org_id, now, role, q)
    left = limit - len(rows)
    if left <= 0:  # the page is full of members: does an invitation follow?
        return Page(rows, ["m", rows[-1][1]] if rows and pending.exists() else None)
    invited = keyset(pending, Invitation.id, left, after[1] if after and after[0] == "i" else None)
    rows += [("i", inv.id, inv) for inv in invited.rows]
    return Page(rows, ["i", invited.next] if invited.next is not None else None)


def user_directory(
    q: str | None, limit: int, after: str | None, orgs: frozenset[str] | None
) -> Page:
    """Users by id (id, name, email), members of ``orgs`` only when given, whose id, name or
    email contains ``q`` when given, after the id ``after``."""
    query = User.select(User.id, User.name, User.email)
    if orgs is not None:
        members = Membership.select(Membership.user).where(Membership.org.in_(sorted(orgs)))
        query = query.where(User.id.in_(members))
    if q:
        query = query.where(User.id.contains(q) | User.name.contains(q) | User.email.contains(q))
    return keyset(query, User.id, limit, after)


def rid_taken(org_id: str, type_: str, rid: str) -> bool:
    """Whether ``org_id`` registered a resource ``type_`` ``rid``."""
    taken = (Resource.org == org_id) & (Resource.type == type_) & (Resource.rid == rid)
    return Resource.select().where(taken).exists()
