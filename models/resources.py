"""Resources registered by callers, and grants of a role on one of them to one user."""

from typing import Any

import peewee

from models.base import BaseModel, JSONField, utcnow
from models.orgs import Organization
from models.users import User


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

    class Meta:
        indexes = (
            (("user", "resource"), True),  # one role per user and resource
            (("resource",), False),
            (("org", "user"), False),  # a member's grants go with the membership
        )
