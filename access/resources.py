"""Resources registered by callers (folders, datasets, spaces, licenses...) and grants of a
role on one of them to one user.

Every write is one unit of work (access/uow.py): the organization's row is locked first, so
the facts the policy is shown are those committed when the lock was granted (a Manager
demoted while their grant waited is refused as a Reader), and a move cannot race another
move into a cycle.
"""

import json
import secrets
from collections.abc import Callable
from typing import Any, cast

import peewee

from access.context import Context
from access.decisions import allowed_actions, decide, require
from access.errors import Conflict, Forbidden, Invalid, NotFound, PolicyFault
from access.events import target_grant, target_resource
from access.orgs import engine_for, iso, org_ref
from access.refusals import Question
from access.targets import MAX_DEPTH, TargetBuilder
from access.uow import UnitOfWork
from authz.engine import PolicySet, StyleEngine
from authz.view import MANAGEMENT_TYPES, Node, OrgRef, Target
from models import Grant, Membership, Resource, User, db
from models.paging import keyset


def callers_types(engine: StyleEngine) -> list:
    """The resource types of a style that callers register (not the organization, not the
    service's own management types)."""
    return sorted(t for t in engine.types if t not in MANAGEMENT_TYPES and t != "Organization")


def check_type(engine: StyleEngine, type_: str, field: str = "type") -> None:
    """Raises Invalid naming ``field`` unless the policy declares ``type_`` as a
    resource callers register."""
    if type_ not in callers_types(engine):
        raise Invalid(
            f"the {engine.style} policy declares no resource type {type_!r}",
            {field: [f"not a resource type of this organization: one of {callers_types(engine)}"]},
        )


def check_role(engine: StyleEngine, type_: str, role: str, field: str = "role") -> None:
    """Raises Invalid naming ``field`` unless the policy declares ``role`` on ``type_``."""
    if role not in engine.roles(type_):
        raise Invalid(
            f"the {engine.style} policy declares no role {role!r} on {type_}",
            {field: [f"one of {engine.roles(type_)}"]},
        )


def _row(org_id: str, type_: str, rid: str) -> Resource | None:
    """The org's registered (type_, rid): a resource is named by organization, type and id."""
    return Resource.get_or_none(
        (Resource.org == org_id) & (Resource.type == type_) & (Resource.rid == rid)
    )


def resource_or_404(org_id: str, type_: str, rid: str) -> Resource:
    """The registered resource of the org. Raises NotFound."""
    row = _row(org_id, type_, rid)
    if row is None:
        raise NotFound(f"no {type_} {rid!r} in organization {org_id!r}")
    return row


def _parent(engine: StyleEngine, org: OrgRef, type_: str, ref: dict | None) -> Resource | None:
    """The parent named by ``ref`` ({type, id} or None). Raises Invalid naming
    ``parent`` when it is not registered in this org or the policy relates no such parent,
    or when the chain would grow past MAX_DEPTH."""
    if ref is None:
        return None
    row = _row(org.id, ref["type"], ref["id"])
    if row is None:
        raise Invalid(
            f"no {ref['type']} {ref['id']!r} in organization {org.id!r}",
            {"parent": ["not a registered resource of this organization"]},
        )
    allowed = {t for t in engine.types[type_].relations.values() if t != "Organization"}
    if row.type not in allowed:
        raise Invalid(
            f"in the {engine.style} policy a {type_} does not sit in a {row.type}",
            {"parent": [f"must be one of {sorted(allowed) or 'none (top level only)'}"]},
        )
    if row.depth + 1 >= MAX_DEPTH or not _fits(row.child_path, f"{row.shape}/{type_}"):
        raise Invalid(
            f"resources nest at most {MAX_DEPTH} deep, and as deep as the chain's ids and "
            f"types fit {Resource.path.max_length} characters",
            {"parent": [f"too deep: already {row.depth + 1} deep"]},
        )
    return row


def _fits(path: str, shape: str) -> bool:
    """Whether a row's ``path`` and ``shape`` fit their columns."""
    return len(path) <= Resource.path.max_length and len(shape) <= Resource.shape.max_length


def as_dict(row: Resource, parent: Resource | None = None) -> dict:
    """The API form of a resource."""
    if parent is None and row.parent_id:
        parent = Resource.get_by_id(row.parent_id)
    return {
        "type": row.type,
        "id": row.rid,
        "org": row.org_id,
        "parent": {"type": parent.type, "id": parent.rid} if parent else None,
        "owner": row.owner,
        "attributes": row.attributes,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def grant_dict(grant: Grant, resource: Resource) -> dict:
    """The API form of a grant."""
    return {
        "user_id": grant.user_id,
        "type": resource.type,
        "id": resource.rid,
        "org": resource.org_id,
        "role": grant.role,
        "created_at": iso(grant.created_at),
    }


def _state(row: Resource, parent: Resource | None = None) -> dict:
    """What the audit trail keeps of a resource: its parent by type and id (never the
    internal row ids), owner and attributes."""
    if parent is None and row.parent_id:
        parent = Resource.get_by_id(row.parent_id)
    return {
        "parent": {"type": parent.type, "id": parent.rid} if parent else None,
        "owner": row.owner,
        "attributes": row.attributes,
    }


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
        existing = _row(org_id, type_, rid)  # another org's (type_, rid) is another resource
        if "parent" in body:
            parent = _parent(engine, org, type_, body["parent"])
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
        else:
            uow.require(actor, "edit", uow.targets.registered(org_id, type_, rid))
            if moving:
                uow.require(actor, "create", as_written)
        now = ctx.now()
        if existing is None:
            row = Resource(
                org=org_id,
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
                org_id,
                "resource.create",
                target_resource(type_, rid),
                None,
                _state(row, parent),
                actor,
            )
            return as_dict(row, parent), True
        row = existing
        before = _state(row)
        if moving:
            _move(row, parent)
        row.owner, row.attributes, row.updated_at = owner, attributes, now
        row.save()
        uow.audit(
            org_id,
            "resource.move" if moving else "resource.update",
            target_resource(type_, rid),
            before,
            _state(row, parent),
            actor,
        )
    return as_dict(row, parent), False


def _move(row: Resource, parent: Resource | None) -> None:
    """Put ``row`` under ``parent`` and rewrite path and shape of its whole subtree, in the
    caller's unit of work. Raises Conflict for a move into its own subtree."""
    if parent is not None and (parent.id == row.id or row.id in parent.ancestor_ids):
        raise Conflict(
            f"{row.type} {row.rid!r} cannot move into its own subtree",
            {"parent": ["would make a cycle"]},
        )
    old_child, old_shape = row.child_path, row.shape
    longest = (
        Resource.select(
            peewee.fn.MAX(peewee.fn.LENGTH(Resource.path)),
            peewee.fn.MAX(peewee.fn.LENGTH(Resource.shape)),
        )
        .where((Resource.org == row.org_id) & Resource.path.startswith(old_child))
        .tuples()
        .first()
    )
    row.place_under(parent)
    grow_path, grow_shape = len(row.child_path) - len(old_child), len(row.shape) - len(old_shape)
    deepest_path = max(longest[0] or 0, len(old_child)) + grow_path
    deepest_shape = max(longest[1] or 0, len(old_shape)) + grow_shape
    if not _fits("x" * deepest_path, "x" * deepest_shape):
        raise Invalid(
            f"{row.type} {row.rid!r} cannot move there: its subtree would nest deeper than "
            f"the chain's ids and types fit {Resource.path.max_length} characters",
            {"parent": ["too deep"]},
        )
    table = Resource._meta.table_name
    p = db.param
    db.execute_sql(
        f'UPDATE "{table}" SET path = {p} || substr(path, {p}), shape = {p} || substr(shape, {p})'
        f" WHERE org_id = {p} AND path LIKE {p}",
        (
            row.child_path,
            len(old_child) + 1,
            row.shape,
            len(old_shape) + 1,
            row.org_id,
            old_child + "%",
        ),
    )


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
        below: list[tuple[int, str]] = list(
            cast(Any, row.subtree().select(Resource.id, Resource.path).tuples())
        )
        if below and not recursive:
            raise Conflict(
                f"{type_} {rid!r} has {len(below)} resources below it; move them"
                " or delete with ?recursive=true",
                {"recursive": ["not set"]},
            )
        before = _state(row)
        ids = [row.id] + [pk for pk, _ in below]
        for i in range(0, len(ids), 500):
            Grant.delete().where(Grant.resource.in_(ids[i : i + 500])).execute()
        # Deepest first: a parent is never deleted before what sits in it.
        by_depth: dict = {}
        for pk, path in below:
            by_depth.setdefault(path.count("/"), []).append(pk)
        for depth in sorted(by_depth, reverse=True):
            level = by_depth[depth]
            for i in range(0, len(level), 500):
                Resource.delete().where(Resource.id.in_(level[i : i + 500])).execute()
        Resource.delete().where(Resource.id == row.id).execute()
        uow.audit(
            org_id,
            "resource.delete",
            target_resource(type_, rid),
            before,
            {"deleted_below": len(below)},
            actor,
        )


# ---------------------------------------------------------------- grants
def _member_or_error(org_id: str, user_id: str) -> None:
    """Raises NotFound for an unknown user, Invalid naming user_id for a non-member."""
    if User.get_or_none(User.id == user_id) is None:
        raise NotFound(f"no user {user_id!r}")
    if (
        not Membership.select()
        .where((Membership.org == org_id) & (Membership.user == user_id))
        .exists()
    ):
        raise Invalid(
            f"{user_id!r} is not a member of organization {org_id!r}",
            {"user_id": ["not a member of the organization"]},
        )


def grant_questions(
    targets: TargetBuilder, org: OrgRef, row: Resource, user_id: str, role: str
) -> tuple[Grant | None, list[Question]]:
    """What giving ``user_id`` the role ``role`` on ``row`` asks the policy, on the facts
    read now: ``grant`` of ``role`` on a Grant under it, after ``revoke`` of the different
    role the user holds there (read from the database). Returns (the grant held, or None;
    the questions)."""
    on = targets.registered(org.id, row.type, row.rid)
    what = f"on {row.type} {row.rid}"
    existing = Grant.get_or_none((Grant.user == user_id) & (Grant.resource == row.id))
    questions = []
    if existing is not None and existing.role != role:
        target = targets.management(org, "Grant", {"role": existing.role}, under=on)
        revoke = f"revoke {existing.role} {what} from {user_id}"
        questions.append(Question("revoke", target, revoke))
    target = targets.management(org, "Grant", {"role": role}, under=on)
    questions.append(Question("grant", target, f"grant {role} {what} to {user_id}"))
    return existing, questions


def grant_plan(
    ctx: Context, targets: TargetBuilder, org: OrgRef, type_: str, rid: str, user_id: str, role: str
) -> tuple[Resource, Grant | None, list[Question]]:
    """Everything ``put_grant`` checks before it writes, on the facts read now (the write
    calls it under its unit's locks, a preview of a Grant, access/previews.py, as is):
    (the resource, the grant held, ``grant_questions``). Raises NotFound (resource,
    user), Invalid (role not declared on the type, user not a member)."""
    row = resource_or_404(org.id, type_, rid)
    check_role(engine_for(ctx, org), type_, role)
    _member_or_error(org.id, user_id)
    existing, questions = grant_questions(targets, org, row, user_id, role)
    return row, existing, questions


def revoke_plan(
    targets: TargetBuilder, org: OrgRef, type_: str, rid: str, user_id: str
) -> tuple[Resource, Grant, list[Question]]:
    """Everything ``delete_grant`` checks before it deletes, on the facts read now: the
    resource, the grant (its role read from the database) and ``revoke`` on it. Raises
    NotFound (resource, no such grant)."""
    row = resource_or_404(org.id, type_, rid)
    grant = Grant.get_or_none((Grant.user == user_id) & (Grant.resource == row.id))
    if grant is None:
        raise NotFound(f"{user_id!r} holds no grant on {type_} {rid!r}")
    on = targets.registered(org.id, type_, rid)
    target = targets.management(org, "Grant", {"role": grant.role}, under=on)
    what = f"revoke {grant.role} on {type_} {rid} from {user_id}"
    return row, grant, [Question("revoke", target, what)]


def _grant(
    uow: UnitOfWork, actor: str, org: OrgRef, row: Resource, user_id: str, role: str
) -> tuple[Grant, bool]:
    """Ask the policy ``grant_questions``, then write the grant. Returns (grant, created?).
    Raises 403."""
    existing, questions = grant_questions(uow.targets, org, row, user_id, role)
    return _write_grant(uow, actor, org, row, user_id, role, existing, questions)


def _write_grant(
    uow: UnitOfWork,
    actor: str,
    org: OrgRef,
    row: Resource,
    user_id: str,
    role: str,
    existing: Grant | None,
    questions: list[Question],
) -> tuple[Grant, bool]:
    uow.ask(actor, questions)
    audit_target = target_grant(row.type, row.rid, user_id)
    if existing is None:
        grant = Grant.create(
            user=user_id, resource=row.id, org=org.id, role=role, created_at=uow.ctx.now()
        )
        uow.audit(org.id, "grant.create", audit_target, None, {"role": role}, actor)
        return grant, True
    if existing.role != role:
        before = {"role": existing.role}
        existing.role = role
        existing.save()
        uow.audit(org.id, "grant.update", audit_target, before, {"role": role}, actor)
    return existing, False


def put_grant(
    ctx: Context, actor: str, org_id: str, type_: str, rid: str, user_id: str, role: str
) -> tuple:
    """Give a member a role on a resource. Returns (the grant, created?). Raises NotFound (org,
    resource, user), Invalid (role not declared on the type, user not a member), Forbidden
    (the policy: ``grant`` on a Grant, ``revoke`` of a role it replaces)."""
    with UnitOfWork(ctx, org_id) as uow:
        org = uow.org()
        row, existing, questions = grant_plan(ctx, uow.targets, org, type_, rid, user_id, role)
        grant, created = _write_grant(uow, actor, org, row, user_id, role, existing, questions)
    return grant_dict(grant, row), created


def delete_grant(ctx: Context, actor: str, org_id: str, type_: str, rid: str, user_id: str) -> None:
    """Take a grant back. Raises NotFound (org, resource, no such grant), Forbidden (the
    policy: ``revoke`` on the Grant)."""
    with UnitOfWork(ctx, org_id) as uow:
        _, grant, questions = revoke_plan(uow.targets, uow.org(), type_, rid, user_id)
        uow.ask(actor, questions)
        Grant.delete().where(Grant.id == grant.id).execute()
        uow.audit(
            org_id,
            "grant.delete",
            target_grant(type_, rid, user_id),
            {"role": grant.role},
            None,
            actor,
        )


def grant_batch(ctx: Context, actor: str, org_id: str, user_id: str, items: list) -> list:
    """Give a member roles on several resources at once, all or nothing.

    Raises NotFound (org, user), Forbidden (more than the policy's ``grant_batch_limit``, as
    for invitations; or the policy refuses any one of them), 422 (a type, resource or role
    the policy or org does not have, naming ``grants.<i>.<field>``; user not a member).
    """
    with UnitOfWork(ctx, org_id) as uow:
        org = uow.org()
        engine = engine_for(ctx, org)
        limit = int(engine.setting("grant_batch_limit", 100))
        if len(items) > limit:
            raise Forbidden(
                f"at most {limit} grants at a time in a {engine.style} organization;"
                f" {len(items)} sent",
                {"grants": [f"at most {limit}"]},
            )
        errors, rows = {}, []
        for i, item in enumerate(items):
            if item["type"] not in callers_types(engine):
                errors[f"grants.{i}.type"] = ["not a resource type of this organization"]
                continue
            row = _row(org_id, item["type"], item["id"])
            if row is None:
                errors[f"grants.{i}.id"] = ["not a registered resource of this organization"]
                continue
            if item["role"] not in engine.roles(item["type"]):
                errors[f"grants.{i}.role"] = [f"one of {engine.roles(item['type'])}"]
                continue
            rows.append((row, item["role"]))
        if errors:
            raise Invalid(f"invalid fields: {', '.join(sorted(errors))}", errors)
        _member_or_error(org_id, user_id)
        return [
            grant_dict(_grant(uow, actor, org, row, user_id, role)[0], row) for row, role in rows
        ]


# ---------------------------------------------------------------- reads for an admin screen
SCAN_LIMIT = 2000  # rows looked at for one page of children (the rest: the next page)


def _grants_by_resource(pks: list) -> dict:
    """{resource pk: [{"user_id", "role", "created_at"}]} by user id."""
    found: dict = {}
    for i in range(0, len(pks), 500):
        rows = (
            Grant.select()
            .where(Grant.resource.in_(pks[i : i + 500]))
            .order_by(Grant.resource, Grant.user)
        )
        for g in rows:
            found.setdefault(g.resource_id, []).append(
                {"user_id": g.user_id, "role": g.role, "created_at": iso(g.created_at)}
            )
    return found


def list_children(
    ctx: Context,
    actor: str,
    org_id: str,
    parent: dict | None,
    type_: str | None,
    limit: int,
    after: int | None,
) -> dict:
    """The resources directly under ``parent`` ({type, id}; None: the org's top level),
    optionally of one type, that the policy lets the actor ``view``, each with its grants
    when the actor may ``view_members`` of the org (else ``grants`` is null). Needs ``view``
    on the parent (the Organization for the top level). Returns ``{"items", "next"}``; a
    page holds fewer than ``limit`` items when some rows were not viewable. Raises NotFound,
    Forbidden."""
    targets = TargetBuilder()
    org = org_ref(targets, org_id)
    if parent is None:
        parent_row = None
        require(ctx.policy, targets, actor, "view", org_target_of(targets, org_id))
    else:
        parent_row = resource_or_404(org_id, parent["type"], parent["id"])
        require(
            ctx.policy,
            targets,
            actor,
            "view",
            targets.registered(org_id, parent_row.type, parent_row.rid),
        )
    show_grants = decide(
        ctx.policy, targets, actor, "view_members", org_target_of(targets, org_id)
    ).allowed
    query = Resource.select().where(Resource.org == org_id)
    query = query.where(
        Resource.parent == parent_row.id if parent_row else Resource.parent.is_null()
    )
    if type_:
        query = query.where(Resource.type == type_)
    rows: list = []
    scanned, last, more = 0, after, False
    batch_size = min(limit + 1, 500)
    while True:
        batch = list(
            (query.where(Resource.id > last) if last is not None else query)
            .order_by(Resource.id)
            .limit(batch_size)
        )
        for row in batch:
            if len(rows) == limit:
                more = True  # a row follows the page
                break
            scanned += 1
            last = row.id
            node = Node(row.type, row.rid, row.id, row.owner, row.attributes)
            if decide(
                ctx.policy, targets, actor, "view", targets.under(org, parent_row, node)
            ).allowed:
                rows.append(row)
        else:
            if len(batch) < batch_size:
                break  # no more rows
            if scanned >= SCAN_LIMIT:
                more = True  # looked at enough for one request: the next page goes on
                break
            continue
        break
    grants = _grants_by_resource([r.id for r in rows]) if show_grants else {}
    items = []
    for row in rows:
        body = as_dict(row, parent_row)
        body["grants"] = grants.get(row.id, []) if show_grants else None
        items.append(body)
    return {"items": items, "next": last if more else None}


def org_target_of(targets: TargetBuilder, org_id: str) -> Target:
    target = targets.registered(org_id, "Organization", org_id)
    if target is None:
        raise NotFound(f"no organization {org_id!r}")
    return target


def grants_of(
    ctx: Context, actor: str, org_id: str, type_: str, rid: str, limit: int, after: str | None
) -> dict:
    """The grants on one resource, by user id: for those the policy lets ``view`` it and
    ``view_members`` of the org (a grant names a member). Raises NotFound, Forbidden."""
    targets = TargetBuilder()
    org_ref(targets, org_id)
    row = resource_or_404(org_id, type_, rid)
    require(ctx.policy, targets, actor, "view", targets.registered(org_id, type_, rid))
    require(
        ctx.policy,
        targets,
        actor,
        "view_members",
        org_target_of(targets, org_id),
        what=f"view who holds grants in {org_id}",
    )
    query = Grant.select().where(Grant.resource == row.id)
    if after is not None:
        query = query.where(Grant.user > after)
    found = list(query.order_by(Grant.user).limit(limit + 1))
    more = len(found) > limit
    found = found[:limit]
    return {
        "items": [
            {"user_id": g.user_id, "role": g.role, "created_at": iso(g.created_at)} for g in found
        ],
        "next": found[-1].user_id if more else None,
    }


SEARCH_SCAN = 500  # rows looked at for one page of a search (the rest: the next page)


def seen_by(policy: PolicySet, targets: TargetBuilder, actor: str, target: Target | None) -> bool:
    """Whether a screen shows the resource to the actor: the policy lets them ``view`` it;
    on a type whose policy declares no ``view`` (a Pix4D License: use, assign, edit...),
    whether it lets them do any action on it (who may assign or use a license sees it).
    Each action asked is a decision, logged like one."""
    if target is None:
        return False
    engine = policy.engines.get(target.org.style)
    if engine is not None and "view" not in engine.permissions(target.node.type):
        return bool(allowed_actions(policy, targets, actor, target))
    return decide(policy, targets, actor, "view", target).allowed


def _require_seen(
    policy: PolicySet, targets: TargetBuilder, actor: str, org_id: str, type_: str, rid: str
) -> None:
    """Raises Forbidden (the policy's reason for ``view``) unless ``seen_by``."""
    target = targets.registered(org_id, type_, rid)
    if not seen_by(policy, targets, actor, target):
        engine = policy.engines.get(target.org.style) if target else None
        if engine is not None and "view" not in engine.permissions(type_):
            raise Forbidden(
                f"{actor} may not see {type_} {rid}: the policy allows them no action on it",
                policy=True,
            )
        require(policy, targets, actor, "view", target)


def level(
    ctx: Context, actor: str, org_id: str, parent: dict | None, limit: int, after: int | None
) -> dict:
    """``list_children`` as a screen lists a level of the tree: the resources directly
    under ``parent`` (None: the top level) that the actor sees (``seen_by``: licenses
    too), each with its grants when they may ``view_members`` (else null). Needs ``view``
    on the Organization for the top level, the parent seen otherwise. Returns ``{"items",
    "next"}``. Raises NotFound, Forbidden."""
    targets = TargetBuilder()
    org = org_ref(targets, org_id)
    parent_row = None
    if parent is None:
        require(ctx.policy, targets, actor, "view", org_target_of(targets, org_id))
    else:
        parent_row = resource_or_404(org_id, parent["type"], parent["id"])
        _require_seen(ctx.policy, targets, actor, org_id, parent_row.type, parent_row.rid)
    show_grants = decide(
        ctx.policy, targets, actor, "view_members", org_target_of(targets, org_id)
    ).allowed
    query = Resource.select().where(
        (Resource.org == org_id)
        & (Resource.parent == parent_row.id if parent_row else Resource.parent.is_null())
    )
    rows, last, more = _scan(
        query,
        after,
        limit,
        SCAN_LIMIT,
        lambda row: seen_by(
            ctx.policy,
            targets,
            actor,
            targets.under(
                org, parent_row, Node(row.type, row.rid, row.id, row.owner, row.attributes)
            ),
        ),
    )
    grants = _grants_by_resource([r.id for r in rows]) if show_grants else {}
    items = []
    for row in rows:
        body = as_dict(row, parent_row)
        body["grants"] = grants.get(row.id, []) if show_grants else None
        body["children"] = None
        items.append(body)
    counts: dict = dict(
        cast(
            Any,
            Resource.select(Resource.parent, peewee.fn.COUNT(Resource.id))
            .where(Resource.parent.in_([r.id for r in rows] or [0]))
            .group_by(Resource.parent)
            .tuples(),
        )
    )
    for row, body in zip(rows, items, strict=True):
        body["children"] = counts.get(row.id, 0)
    return {"items": items, "next": last if more else None}


def _scan(query: Any, after: Any, limit: int, most: int, keep: Callable[[Any], bool]) -> tuple:
    """Rows of ``query`` by id after ``after`` that ``keep``, up to ``limit``, looking at
    ``most`` rows at most: (rows, the last id looked at, whether more may follow)."""
    found = keyset(query, Resource.id, limit, after, keep=keep, most=most)
    return found.rows, found.next, found.next is not None


def search(
    ctx: Context,
    actor: str,
    org_id: str,
    q: str | None,
    type_: str | None,
    limit: int,
    after: int | None,
) -> dict:
    """The org's resources, wherever they sit, whose id or ``name`` attribute contains
    ``q`` (any case; all when None), optionally of one type, that the actor sees
    (``seen_by``): a search box, and the pickers of a screen (a new parent, resources to
    assign). Each item is ``as_dict`` with ``depth``. Needs no ``view`` of the
    organization: a member who may see only what was assigned to them finds exactly that.
    Returns ``{"items", "next"}`` by row, a page holding fewer than ``limit`` when rows
    were not seen. Raises NotFound."""
    targets = TargetBuilder()
    org_ref(targets, org_id)
    query = Resource.select().where(Resource.org == org_id)
    if type_:
        query = query.where(Resource.type == type_)
    if q:
        # The attributes are JSON text: the pattern is given as a plain value, as stored
        # (the field's own conversion would JSON-encode it); a superset, checked below.
        stored = json.dumps(q)[1:-1]
        in_attributes = peewee.Expression(
            Resource.attributes, peewee.OP.ILIKE, peewee.Value(f"%{stored}%", converter=False)
        )
        query = query.where(Resource.rid.contains(q) | in_attributes)
    needle = (q or "").casefold()

    def keep(row: Resource) -> bool:
        name = str((row.attributes or {}).get("name", ""))
        if needle and needle not in row.rid.casefold() and needle not in name.casefold():
            return False  # the text was in another attribute
        return seen_by(
            ctx.policy, targets, actor, targets.registered(row.org_id, row.type, row.rid)
        )

    rows, last, more = _scan(query, after, limit, SEARCH_SCAN, keep)
    parents = {
        p.id: p
        for p in Resource.select().where(
            Resource.id.in_([r.parent_id for r in rows if r.parent_id] or [0])
        )
    }
    items = []
    for row in rows:
        body = as_dict(row, parents.get(row.parent_id))
        body["depth"] = row.depth
        items.append(body)
    return {"items": items, "next": last if more else None}


def detail(ctx: Context, actor: str, org_id: str, type_: str, rid: str) -> dict:
    """A registered resource the actor sees (``seen_by``), with what a screen shows around
    it: ``chain``, the resources it sits in from the top (``{"type", "id", "name"}``;
    ``name`` and ``id`` null for one the actor does not see), and ``children``, how many
    sit directly in it. Raises NotFound, Forbidden."""
    targets = TargetBuilder()
    org_ref(targets, org_id)
    row = resource_or_404(org_id, type_, rid)
    _require_seen(ctx.policy, targets, actor, org_id, type_, rid)
    body = as_dict(row)
    above = {r.id: r for r in Resource.select().where(Resource.id.in_(row.ancestor_ids or [0]))}
    chain = []
    for pk in row.ancestor_ids:
        r = above.get(pk)
        if r is None:
            continue
        seen = seen_by(ctx.policy, targets, actor, targets.registered(r.org_id, r.type, r.rid))
        chain.append(
            {
                "type": r.type,
                "id": r.rid if seen else None,
                "name": (r.attributes or {}).get("name") if seen else None,
            }
        )
    body["chain"] = chain
    body["children"] = Resource.select().where(Resource.parent == row.id).count()
    return body


def grants_on(
    ctx: Context, actor: str, org_id: str, type_: str, rid: str, limit: int, after: str | None
) -> dict:
    """``grants_of`` for a resource the actor sees (``seen_by``: a license's assignees
    too), for those who may ``view_members`` of the org. Raises NotFound, Forbidden."""
    targets = TargetBuilder()
    org_ref(targets, org_id)
    row = resource_or_404(org_id, type_, rid)
    _require_seen(ctx.policy, targets, actor, org_id, type_, rid)
    require(
        ctx.policy,
        targets,
        actor,
        "view_members",
        org_target_of(targets, org_id),
        what=f"view who holds grants in {org_id}",
    )
    query = Grant.select().where(Grant.resource == row.id)
    if after is not None:
        query = query.where(Grant.user > after)
    found = list(query.order_by(Grant.user).limit(limit + 1))
    more = len(found) > limit
    found = found[:limit]
    return {
        "items": [
            {"user_id": g.user_id, "role": g.role, "created_at": iso(g.created_at)} for g in found
        ],
        "next": found[-1].user_id if more else None,
    }


def abilities(
    ctx: Context, actor: str, org_id: str, type_: str, rid: str, roles_held: list
) -> dict:
    """What the acting user may do to a registered resource, each ``None`` when the policy
    allows it, else the reason it refuses: ``edit`` (rename), ``delete``, ``grant`` and
    ``revoke`` by role (``{role: reason}``; ``revoke`` for ``roles_held``, the roles its
    grants hold), and ``parents``: the types it may sit in (a move). Each is a decision,
    logged like one; the change decides again. Raises NotFound."""
    from access.refusals import why  # refusals imports decisions, as this module does

    targets = TargetBuilder()
    org = org_ref(targets, org_id)
    resource_or_404(org_id, type_, rid)
    engine = engine_for(ctx, org)
    on = targets.registered(org_id, type_, rid)

    def reason(action: str, target: Target | None) -> str | None:
        decision = decide(ctx.policy, targets, actor, action, target, explain=True)
        return (
            None if decision.allowed else why(ctx.policy, targets, actor, action, target, decision)
        )

    def on_grant(action: str, role: str) -> str | None:
        return reason(action, targets.management(org, "Grant", {"role": role}, under=on))

    roles = engine.roles(type_)
    return {
        "edit": reason("edit", on),
        "delete": reason("delete", on),
        "grant": {r: on_grant("grant", r) for r in roles},
        "revoke": {r: on_grant("revoke", r) for r in sorted(set(roles_held))},
        "parents": sorted(t for t in engine.types[type_].relations.values() if t != "Organization"),
    }


def creatable(ctx: Context, actor: str, org_id: str, parent: dict | None) -> list:
    """The resource types that may sit in ``parent`` ({type, id}; None: the top level of
    the org), each ``{"type", "reason", "attributes"}``: ``reason`` None when the policy
    lets the actor ``create`` one there, else why not; ``attributes`` the values the policy
    shows apart (``{name: [values]}``, e.g. a License's kind), one of which a new one
    needs. Raises NotFound."""
    from access.refusals import why  # refusals imports decisions, as this module does

    targets = TargetBuilder()
    org = org_ref(targets, org_id)
    engine = engine_for(ctx, org)
    parent_row = resource_or_404(org_id, parent["type"], parent["id"]) if parent else None
    found = []
    for type_ in callers_types(engine):
        relations = {t for t in engine.types[type_].relations.values()}
        fits = parent_row.type in relations if parent_row else "Organization" in relations
        if not fits:
            continue
        values = engine.attribute_values.get(type_, {})
        attrs = {name: next(iter(v)) for name, v in values.items() if v}
        target = targets.under(org, parent_row, Node(type_, "", None, None, attrs))
        decision = decide(ctx.policy, targets, actor, "create", target, explain=True)
        found.append(
            {
                "type": type_,
                "reason": None
                if decision.allowed
                else why(ctx.policy, targets, actor, "create", target, decision),
                "attributes": {name: sorted(v) for name, v in values.items()},
            }
        )
    return found


def grant_reasons(ctx: Context, actor: str, org_id: str, action: str, items: list) -> list:
    """For each ``{"type", "id", "role"}`` of ``items`` (registered resources of the org),
    None when the policy lets the actor ``action`` (``grant`` or ``revoke``) that role on
    it, else the reason it refuses (or that the resource is gone): the buttons of a screen
    that lists grants. Each is a decision, logged like one. Raises NotFound (org)."""
    from access.refusals import why  # refusals imports decisions, as this module does

    targets = TargetBuilder()
    org = org_ref(targets, org_id)
    found: list[str | None] = []
    for item in items:
        on = targets.registered(org_id, item["type"], item["id"])
        if on is None or on.org.id != org_id:
            found.append(f"no {item['type']} {item['id']!r} in organization {org_id!r}")
            continue
        target = targets.management(org, "Grant", {"role": item["role"]}, under=on)
        decision = decide(ctx.policy, targets, actor, action, target, explain=True)
        found.append(
            None if decision.allowed else why(ctx.policy, targets, actor, action, target, decision)
        )
    return found


def registered_ids(org_id: str, type_: str, limit: int) -> list:
    """The ids of the org's resources of ``type_``, by id, at most ``limit``: the console's
    playground offers them to ask about (a question, not a listing of what anyone may
    see)."""
    rows = (
        Resource.select(Resource.rid)
        .where((Resource.org == org_id) & (Resource.type == type_))
        .order_by(Resource.rid)
        .limit(limit)
    )
    return [r.rid for r in rows]


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
    taken = Resource.get_or_none(
        (Resource.org == org_id) & (Resource.type == type_) & (Resource.rid == rid)
    )
    if taken is not None and taken.owner == user_id:
        return
    if taken is not None:
        rid = f"{rid[:190]}-{secrets.token_hex(4)}"
    now = uow.ctx.now()
    row = Resource(org=org_id, type=type_, rid=rid, owner=user_id, attributes={})
    row.created_at = row.updated_at = now
    row.place_under(None)
    row.save(force_insert=True)
    uow.audit(org_id, "resource.create", target_resource(type_, rid), None, _state(row), user_id)
