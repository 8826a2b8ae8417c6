"""Resources registered by callers, and grants of a role on one of them to one user."""

import datetime
import json
from collections.abc import Callable
from typing import Any

import peewee

from models.base import BaseModel, Fixed, JSONField, db, utcnow
from models.orgs import Organization
from models.paging import Page, keyset
from models.users import User

BATCH = 500  # ids per IN (...) list


class Resource(BaseModel):
    """A resource of an organization: a Folder, a Dataset, a Space, a License...

    ``path`` holds the primary keys of its ancestors, root first, as ``/3/17/`` (empty for a
    top-level resource), so the whole chain loads in one query and a subtree is a prefix
    match. ``shape`` is the chain of types from the top, itself last (``Folder/Folder/Dataset``):
    list queries group rows by it (``access.listing``). Both are kept right on every write and
    move; ``save`` fills them from the parent when a new row comes without them.
    """

    id: "peewee.AutoField[int]"  # the automatic primary key, declared for the type checker
    org = peewee.ForeignKeyField(Organization, backref="resources", on_delete="CASCADE")
    type = peewee.CharField(max_length=64)
    rid = peewee.CharField(max_length=200)
    parent = peewee.ForeignKeyField("self", null=True, backref="children", on_delete="RESTRICT")
    org_id: str  # the foreign keys' columns, declared for the type checker
    parent_id: int | None
    owner = peewee.CharField(max_length=200, null=True)
    attributes = JSONField(default=dict)
    path = peewee.CharField(max_length=2000, default="", index=True)
    shape = peewee.CharField(max_length=2000, default="")
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            # A resource is named by (org, type, rid): the unique index on those three is
            # made by migration 0008 ("resource_org_type_rid", with the columns list
            # queries read); (type, rid) finds the org of a check that names none.
            (("type", "rid"), False),
            (("org", "type"), False),
            (("org", "type", "shape"), False),  # the distinct shapes of a type, by index skips
            (("org", "owner"), False),  # what an actor owns, for list queries
        )

    def place_under(self, parent: "Resource | None") -> None:
        """Set ``parent`` and the ``path`` and ``shape`` that follow from it (the one place
        that derives them)."""
        self.parent = parent
        self.path = parent.child_path if parent else ""
        self.shape = f"{parent.shape}/{self.type}" if parent else self.type

    def save(self, *args: Any, **kwargs: Any) -> int:
        """Save; a new row without ``shape`` gets ``path`` and ``shape`` from its parent."""
        if not self.shape:
            self.place_under(self.parent if self.parent_id else None)
        return super().save(*args, **kwargs)

    @property
    def depth(self) -> int:
        """How many resources it sits in (0 for a top-level one)."""
        return len(self.ancestor_ids)

    def subtree(self) -> "peewee.ModelSelect[Resource]":
        """Every resource below this one, however deep (not itself): a prefix match on path."""
        return Resource.select().where(Resource.path.startswith(self.child_path))

    @property
    def ancestor_ids(self) -> list:
        """Primary keys of the ancestors, root first."""
        return path_ids(self.path)

    @property
    def child_path(self) -> str:
        """The ``path`` a child of this resource has."""
        return child_path(self.path, self.id)

    # ------------------------------------------------------------ queries
    @classmethod
    def named(cls, org_id: str, type_: str, rid: str) -> "Resource | None":
        """The org's registered (type_, rid): a resource is named by organization, type and
        id."""
        return cls.get_or_none((cls.org == org_id) & (cls.type == type_) & (cls.rid == rid))

    @classmethod
    def by_ids(cls, pks: list[int]) -> "dict[int, Resource]":
        """The resources of ``pks`` by primary key (those that exist)."""
        return {r.id: r for r in cls.select().where(cls.id.in_(pks or [0]))}

    @classmethod
    def rids(cls, org_id: str, type_: str, limit: int) -> list[str]:
        """The ids of the org's resources of ``type_``, by id, at most ``limit``."""
        rows = (
            cls.select(cls.rid)
            .where((cls.org == org_id) & (cls.type == type_))
            .order_by(cls.rid)
            .limit(limit)
        )
        return [r.rid for r in rows]

    @classmethod
    def children_page(
        cls,
        org_id: str,
        parent: "Resource | None",
        type_: str | None,
        limit: int,
        after: int | None,
        keep: Callable[["Resource"], bool],
        most: int,
    ) -> Page:
        """The resources directly under ``parent`` (None: the org's top level), optionally
        of one type, by primary key after ``after``, that ``keep``: up to ``limit``,
        looking at ``most`` rows at most (``keyset``)."""
        query = cls.select().where(
            (cls.org == org_id) & (cls.parent == parent.id if parent else cls.parent.is_null())
        )
        if type_:
            query = query.where(cls.type == type_)
        return keyset(query, cls.id, limit, after, keep=keep, most=most)

    @classmethod
    def search_page(
        cls,
        org_id: str,
        type_: str | None,
        q: str | None,
        limit: int,
        after: int | None,
        keep: Callable[["Resource"], bool],
        most: int,
    ) -> Page:
        """The org's resources, optionally of one type, whose id or attributes contain
        ``q`` (any case; all when None: a superset of a search by name, ``keep`` decides),
        by primary key after ``after``, that ``keep`` (``keyset``)."""
        query = cls.select().where(cls.org == org_id)
        if type_:
            query = query.where(cls.type == type_)
        if q:
            # The attributes are JSON text: the pattern is given as a plain value, as stored
            # (the field's own conversion would JSON-encode it).
            stored = json.dumps(q)[1:-1]
            in_attributes = peewee.Expression(
                cls.attributes, peewee.OP.ILIKE, peewee.Value(f"%{stored}%", converter=False)
            )
            query = query.where(cls.rid.contains(q) | in_attributes)
        return keyset(query, cls.id, limit, after, keep=keep, most=most)

    @classmethod
    def children_counts(cls, pks: list[int]) -> dict[int, int]:
        """How many resources sit directly in each of ``pks`` (absent: none)."""
        rows: Any = (
            cls.select(cls.parent, peewee.fn.COUNT(cls.id))
            .where(cls.parent.in_(pks or [0]))
            .group_by(cls.parent)
            .tuples()
        )
        return dict(rows)

    def child_count(self) -> int:
        """How many resources sit directly in this one."""
        return Resource.select().where(Resource.parent == self.id).count()

    def below(self) -> list[tuple[int, str]]:
        """(primary key, path) of every resource below this one, however deep."""
        rows: Any = self.subtree().select(Resource.id, Resource.path).tuples()
        return list(rows)

    def delete_with(self, below: list[tuple[int, str]]) -> None:
        """Delete this resource, the resources ``below`` it (``below()``) and their grants:
        deepest first, so a parent is never deleted before what sits in it."""
        ids = [self.id] + [pk for pk, _ in below]
        for i in range(0, len(ids), BATCH):
            Grant.delete().where(Grant.resource.in_(ids[i : i + BATCH])).execute()
        by_depth: dict[int, list[int]] = {}
        for pk, path in below:
            by_depth.setdefault(path.count("/"), []).append(pk)
        for depth in sorted(by_depth, reverse=True):
            level = by_depth[depth]
            for i in range(0, len(level), BATCH):
                Resource.delete().where(Resource.id.in_(level[i : i + BATCH])).execute()
        Resource.delete().where(Resource.id == self.id).execute()

    def longest_below(self) -> tuple[int, int]:
        """The longest ``path`` and ``shape`` below this resource (0, 0: nothing below)."""
        longest = (
            Resource.select(
                peewee.fn.MAX(peewee.fn.LENGTH(Resource.path)),
                peewee.fn.MAX(peewee.fn.LENGTH(Resource.shape)),
            )
            .where((Resource.org == self.org_id) & Resource.path.startswith(self.child_path))
            .tuples()
            .first()
        )
        return (longest[0] or 0, longest[1] or 0) if longest else (0, 0)

    @classmethod
    def rebase(cls, org_id: str, old: tuple[str, str], new: tuple[str, str]) -> None:
        """Rewrite the subtree whose child path was ``old`` = (child path, shape) to sit at
        ``new`` (a move): one statement over its rows."""
        p = db.param
        db.execute_sql(
            f'UPDATE "{cls._meta.table_name}" SET path = {p} || substr(path, {p}),'
            f" shape = {p} || substr(shape, {p}) WHERE org_id = {p} AND path LIKE {p}",
            (new[0], len(old[0]) + 1, new[1], len(old[1]) + 1, org_id, old[0] + "%"),
        )


def path_ids(path: str) -> list:
    """The primary keys a ``path`` names, root first."""
    return [int(p) for p in (path or "").split("/") if p]


def child_path(path: str, pk: int) -> str:
    """The ``path`` of a child of the resource at ``path`` with primary key ``pk``."""
    return f"{path or '/'}{pk}/"


class Grant(BaseModel):
    """One user's role on one resource (an assigned license, folder or space)."""

    id: "peewee.AutoField[int]"  # the automatic primary key, declared for the type checker
    user = peewee.ForeignKeyField(User, backref="grants", on_delete="CASCADE")
    resource = peewee.ForeignKeyField(Resource, backref="grants", on_delete="CASCADE")
    org = peewee.ForeignKeyField(Organization, backref="grants", on_delete="CASCADE")
    user_id: str  # the foreign keys' columns, declared for the type checker
    resource_id: int
    org_id: str
    role = peewee.CharField(max_length=64)
    created_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField(null=True)  # when it lapses (UTC; None: never)

    class Meta:
        indexes = (
            (("user", "resource"), True),  # one role per user and resource
            (("resource",), False),
            (("org", "user"), False),  # a member's grants go with the membership
        )

    @classmethod
    def change(cls, grant_id: int, role: str, expires_at: datetime.datetime | None) -> None:
        """Give the grant ``grant_id`` ``role`` until ``expires_at``, with the unit's next
        round trip (its row was read under the organization's lock: one row)."""
        _CHANGE_GRANT.later(role, expires_at, grant_id)

    @classmethod
    def held(cls, user_id: str, resource_pk: int) -> "Grant | None":
        """The user's grant on the resource, or None."""
        return cls.get_or_none((cls.user == user_id) & (cls.resource == resource_pk))

    @classmethod
    def page_on(cls, resource_pk: int, limit: int, after: str | None) -> Page:
        """The grants on one resource, by user id after ``after`` (``keyset``)."""
        return keyset(cls.select().where(cls.resource == resource_pk), cls.user, limit, after)

    @classmethod
    def by_resource(cls, pks: list[int]) -> "dict[int, list[Grant]]":
        """The grants on each of ``pks``, by user id (absent: none)."""
        found: dict[int, list[Grant]] = {}
        for i in range(0, len(pks), BATCH):
            rows = (
                cls.select()
                .where(cls.resource.in_(pks[i : i + BATCH]))
                .order_by(cls.resource, cls.user)
            )
            for g in rows:
                found.setdefault(g.resource_id, []).append(g)
        return found


def _change_grant(role: str, expires_at: Any, grant_id: int) -> peewee.Query:
    return Grant.update(role=role, expires_at=expires_at).where(Grant.id == grant_id)


_CHANGE_GRANT = Fixed(_change_grant)  # its SQL built once (models.base.Fixed)
