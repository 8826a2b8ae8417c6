"""Resources registered by callers (folders, datasets, spaces, licenses...) and grants of a
role on one of them to one user.

Every write is one unit of work (access/uow.py): the organization's row is locked first, so
the facts the policy is shown are those committed when the lock was granted (a Manager
demoted while their grant waited is refused as a Reader), and a move cannot race another
move into a cycle.
"""

import secrets
from typing import Any

from access.context import Context
from access.decisions import require
from access.errors import Conflict, Invalid, PolicyFault
from access.events import target_resource
from access.grants import (
    delete_grant,
    grant_batch,
    grant_plan,
    grant_questions,
    grants_of,
    grants_on,
    put_grant,
    revoke_plan,
)
from access.orgs import engine_for, org_ref
from access.registry import (
    as_dict,
    callers_types,
    check_role,
    check_type,
    fits,
    grant_dict,
    org_target_of,
    parent_row,
    resource_or_404,
    seen_by,
    state_of,
)
from access.screens import (
    abilities,
    creatable,
    detail,
    grant_reasons,
    level,
    list_children,
    registered_ids,
    search,
)
from access.targets import TargetBuilder
from access.uow import UnitOfWork
from authz.engine import StyleEngine
from authz.view import Node, OrgRef
from models import Resource

# What callers import from here: the resource operations of this module, and those of
# access/grants.py, access/screens.py and access/registry.py they sit beside.
__all__ = [
    "abilities",
    "as_dict",
    "callers_types",
    "check_role",
    "check_type",
    "creatable",
    "create_personal",
    "delete",
    "delete_grant",
    "detail",
    "get",
    "grant_batch",
    "grant_dict",
    "grant_plan",
    "grant_questions",
    "grant_reasons",
    "grants_of",
    "grants_on",
    "level",
    "list_children",
    "org_target_of",
    "put",
    "put_grant",
    "registered_ids",
    "resource_or_404",
    "revoke_plan",
    "search",
    "seen_by",
]


# ---------------------------------------------------------------- resources
def put(ctx: Context, actor: str, org_id: str, type_: str, rid: str, body: dict) -> tuple:
    """Register or update a resource; a new parent moves its whole subtree. Returns (the
    resource, created?). Raises NotFound (org), Conflict (a move into its own subtree), Invalid
    (type not declared, parent unknown or not allowed), Forbidden (the policy: ``create``;
    ``edit``, and ``create`` under a new parent)."""
    with UnitOfWork(ctx, org_id) as uow:
        org = uow.org()
        engine = engine_for(ctx, org)
        check_type(engine, type_)
        existing = Resource.named(org_id, type_, rid)  # another org's is another resource
        if "parent" in body:
            parent = parent_row(engine, org, type_, body["parent"])
        elif existing is not None and existing.parent_id:
            parent = Resource.get_by_id(existing.parent_id)
        else:
            parent = None
        owner = body.get("owner", existing.owner if existing else None)
        attributes = body.get("attributes", existing.attributes if existing else {})
        moving = existing is not None and (parent.id if parent else None) != existing.parent_id
        as_written = uow.targets.under(org, parent, Node(type_, rid, None, owner, attributes))
        if existing is None:
            uow.require(actor, "create", as_written)
            return _create(uow, actor, org, type_, rid, parent, owner, attributes), True
        uow.require(actor, "edit", uow.targets.registered(org_id, type_, rid))
        if moving:
            uow.require(actor, "create", as_written)
        row = existing
        before = state_of(row)
        if moving:
            _move(row, parent)
        row.owner, row.attributes, row.updated_at = owner, attributes, ctx.now()
        row.save()
        uow.audit(
            org_id,
            "resource.move" if moving else "resource.update",
            target_resource(type_, rid),
            before,
            state_of(row, parent),
            actor,
        )
    return as_dict(row, parent), False


def _create(
    uow: UnitOfWork,
    actor: str,
    org: OrgRef,
    type_: str,
    rid: str,
    parent: Resource | None,
    owner: str | None,
    attributes: Any,
) -> dict:
    """Write a new resource under ``parent`` (the policy said yes), audited; its API form."""
    now = uow.ctx.now()
    row = Resource(
        org=org.id,
        type=type_,
        rid=rid,
        owner=owner,
        attributes=attributes,
        created_at=now,
        updated_at=now,
    )
    row.place_under(parent)
    row.save(force_insert=True)
    uow.audit(
        org.id, "resource.create", target_resource(type_, rid), None, state_of(row, parent), actor
    )
    return as_dict(row, parent)


def _move(row: Resource, parent: Resource | None) -> None:
    """Put ``row`` under ``parent`` and rewrite path and shape of its whole subtree, in the
    caller's unit of work. Raises Conflict for a move into its own subtree."""
    if parent is not None and (parent.id == row.id or row.id in parent.ancestor_ids):
        raise Conflict(
            f"{row.type} {row.rid!r} cannot move into its own subtree",
            {"parent": ["would make a cycle"]},
        )
    old_child, old_shape = row.child_path, row.shape
    longest_path, longest_shape = row.longest_below()
    row.place_under(parent)
    grow_path, grow_shape = len(row.child_path) - len(old_child), len(row.shape) - len(old_shape)
    deepest_path = max(longest_path, len(old_child)) + grow_path
    deepest_shape = max(longest_shape, len(old_shape)) + grow_shape
    if not fits("x" * deepest_path, "x" * deepest_shape):
        raise Invalid(
            f"{row.type} {row.rid!r} cannot move there: its subtree would nest deeper than "
            f"the chain's ids and types fit {Resource.path.max_length} characters",
            {"parent": ["too deep"]},
        )
    Resource.rebase(row.org_id, (old_child, old_shape), (row.child_path, row.shape))


def get(ctx: Context, actor: str, org_id: str, type_: str, rid: str) -> dict:
    """A registered resource. Raises NotFound, Forbidden (the policy: ``view``)."""
    targets = TargetBuilder()
    org_ref(targets, org_id)
    row = resource_or_404(org_id, type_, rid)
    require(ctx.policy, targets, actor, "view", targets.registered(org_id, type_, rid))
    return as_dict(row)


def delete(ctx: Context, actor: str, org_id: str, type_: str, rid: str, recursive: bool) -> None:
    """Remove a resource and its grants; with ``recursive`` its whole subtree too.

    Raises NotFound, Conflict (it has children and recursive is not set), Forbidden (the policy:
    ``delete`` on the resource).
    """
    with UnitOfWork(ctx, org_id) as uow:
        uow.org()
        row = resource_or_404(org_id, type_, rid)
        uow.require(actor, "delete", uow.targets.registered(org_id, type_, rid))
        below = row.below()
        if below and not recursive:
            raise Conflict(
                f"{type_} {rid!r} has {len(below)} resources below it; move them"
                " or delete with ?recursive=true",
                {"recursive": ["not set"]},
            )
        before = state_of(row)
        row.delete_with(below)
        uow.audit(
            org_id,
            "resource.delete",
            target_resource(type_, rid),
            before,
            {"deleted_below": len(below)},
            actor,
        )


# ---------------------------------------------------------------- a member's own resource
def create_personal(uow: UnitOfWork, engine: StyleEngine, org_id: str, user_id: str) -> None:
    """Give ``user_id`` the resource of their own their style gives each member (UP42's
    Workspace: the policy's ``personal_resource_type``, its id ``personal_resource_id`` with
    ``{user}`` the user's id), owned by them, in ``uow`` (the unit that makes them a
    member), audited as created by them. Nothing when the style states none. A member who
    comes back finds theirs again (removing a member keeps it); when another resource of the
    org holds that id, a random suffix, so no one can keep a member from having one."""
    type_ = engine.setting("personal_resource_type")
    if not type_:
        return
    if type_ not in callers_types(engine):
        raise PolicyFault(
            f"the {engine.style} policy's personal_resource_type {type_!r} is not a "
            "resource type it declares",
        )
    pattern = str(engine.setting("personal_resource_id") or f"{type_.lower()}-{{user}}")
    rid = pattern.replace("{user}", user_id)[:200]
    taken = Resource.named(org_id, type_, rid)
    if taken is not None and taken.owner == user_id:
        return
    if taken is not None:
        rid = f"{rid[:190]}-{secrets.token_hex(4)}"
    now = uow.ctx.now()
    row = Resource(org=org_id, type=type_, rid=rid, owner=user_id, attributes={})
    row.created_at = row.updated_at = now
    row.place_under(None)
    row.save(force_insert=True)
    uow.audit(org_id, "resource.create", target_resource(type_, rid), None, state_of(row), user_id)
