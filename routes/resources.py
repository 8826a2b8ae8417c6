"""Resources registered by callers (folders, datasets, spaces, licenses...) and grants of a
role on one of them to one user.

Every write reads top to bottom: schema, load, ask the policy for the acting user
(``X-Actor-Id``), change the models in one transaction (under the organization's row lock,
so a move cannot race another move into a cycle), audit, dump.
"""

import peewee
from flask import Blueprint, request

from access.errors import ApiError
from authz.view import MANAGEMENT_TYPES, Node, OrgRef, Target, management_target, org_node
from models import Grant, Membership, Organization, Resource, User, db, transaction
from routes.context import acting_user, audit, facts, load, now, org_or_404, policy, require
from routes.openapi import doc
from routes.schemas import (
    GrantBatchRequest,
    GrantBatchResponse,
    GrantOut,
    GrantPut,
    RecursiveArgs,
    ResourceOut,
    ResourcePut,
)

bp = Blueprint("resources", __name__, url_prefix="/v1/orgs")


# ---------------------------------------------------------------- helpers
def _engine(org: OrgRef):
    """The org's style engine. Raises ApiError 409 when the style has no policy."""
    try:
        return policy().engine(org.style)
    except KeyError as exc:
        raise ApiError(409, f"organization style {org.style!r} has no policy") from exc


def _check_type(engine, type_: str, field: str = "type") -> None:
    """Raises ApiError 422 naming ``field`` unless the policy declares ``type_`` as a
    resource callers register."""
    if type_ not in engine.types or type_ in MANAGEMENT_TYPES or type_ == "Organization":
        declared = sorted(
            t for t in engine.types if t not in MANAGEMENT_TYPES and t != "Organization"
        )
        raise ApiError(
            422,
            f"the {engine.style} policy declares no resource type {type_!r}",
            {field: [f"not a resource type of this organization: one of {declared}"]},
        )


def _check_ids(type_: str, rid: str) -> None:
    """Raises ApiError 422 for ids over the stored lengths."""
    if len(type_) > 64 or len(rid) > 200:
        raise ApiError(
            422, "type or id too long", {"type" if len(type_) > 64 else "id": ["too long"]}
        )


def _resource_or_404(org_id: str, type_: str, rid: str) -> Resource:
    """The registered resource of the org; raises ApiError 404."""
    row = Resource.get_or_none((Resource.type == type_) & (Resource.rid == rid))
    if row is None or row.org_id != org_id:
        raise ApiError(404, f"no {type_} {rid!r} in organization {org_id!r}")
    return row


def _parent(engine, org: OrgRef, type_: str, ref) -> Resource | None:
    """The parent named by ``ref`` ({type, id} or None). Raises ApiError 422 naming
    ``parent`` when it is not registered in this org or the policy relates no such parent."""
    if ref is None:
        return None
    row = Resource.get_or_none((Resource.type == ref["type"]) & (Resource.rid == ref["id"]))
    if row is None or row.org_id != org.id:
        raise ApiError(
            422,
            f"no {ref['type']} {ref['id']!r} in organization {org.id!r}",
            {"parent": ["not a registered resource of this organization"]},
        )
    allowed = {t for t in engine.types[type_].relations.values() if t != "Organization"}
    if row.type not in allowed:
        raise ApiError(
            422,
            f"in the {engine.style} policy a {type_} does not sit in a {row.type}",
            {"parent": [f"must be one of {sorted(allowed) or 'none (top level only)'}"]},
        )
    return row


def _inline(
    org: OrgRef, type_: str, rid: str, parent: Resource | None, owner, attributes
) -> Target:
    """The resource as it would be once written, for the policy to decide on."""
    chain = facts().registered(parent.type, parent.rid).chain if parent else (org_node(org),)
    return Target(org, chain + (Node(type_, rid, None, owner, attributes or {}),))


def dump_resource(row: Resource, parent: Resource | None = None) -> dict:
    if parent is None and row.parent_id:
        parent = Resource.get_by_id(row.parent_id)
    return {
        "type": row.type,
        "id": row.rid,
        "org": row.org_id,
        "parent": {"type": parent.type, "id": parent.rid} if parent else None,
        "owner": row.owner,
        "attributes": row.attributes,
        "created_at": row.created_at.isoformat() + "Z",
        "updated_at": row.updated_at.isoformat() + "Z",
    }


def dump_grant(grant: Grant, resource: Resource) -> dict:
    return {
        "user_id": grant.user_id,
        "type": resource.type,
        "id": resource.rid,
        "org": resource.org_id,
        "role": grant.role,
        "created_at": grant.created_at.isoformat() + "Z",
    }


def _state(row: Resource) -> dict:
    return {
        "parent": row.parent_id,
        "owner": row.owner,
        "attributes": row.attributes,
        "path": row.path,
    }


# ---------------------------------------------------------------- resources
@bp.put("/<org_id>/resources/<type_>/<rid>")
@doc(request=ResourcePut, response=ResourceOut)
def put_resource(org_id: str, type_: str, rid: str):
    """Register (201) or update (200) a resource; a new parent moves its whole subtree.

    Raises ApiError 404 (org), 409 (type and id taken in another org, or a move into its
    own subtree), 422 (type not declared, parent unknown or not allowed, invalid body),
    403 (the policy: ``create``; ``edit``, and ``create`` under a new parent).
    """
    actor = acting_user()
    body = load(ResourcePut)
    _check_ids(type_, rid)
    org = org_or_404(org_id)
    engine = _engine(org)
    _check_type(engine, type_)
    existing = Resource.get_or_none((Resource.type == type_) & (Resource.rid == rid))
    if existing is not None and existing.org_id != org_id:
        raise ApiError(
            409,
            f"{type_} {rid!r} is registered in another organization; a type and"
            " id name one resource across the service",
            {"id": ["taken"]},
        )
    if "parent" in body:
        parent = _parent(engine, org, type_, body["parent"])
    else:
        parent = Resource.get_by_id(existing.parent_id) if existing and existing.parent_id else None
    owner = body.get("owner", existing.owner if existing else None)
    attributes = body.get("attributes", existing.attributes if existing else {})
    moving = existing is not None and (parent.id if parent else None) != existing.parent_id
    if existing is None:
        require(actor, "create", _inline(org, type_, rid, parent, owner, attributes))
    else:
        require(actor, "edit", facts().registered(type_, rid))
        if moving:
            require(actor, "create", _inline(org, type_, rid, parent, owner, attributes))

    with transaction():
        Organization.lock(org_id)
        if existing is None:
            if Resource.get_or_none((Resource.type == type_) & (Resource.rid == rid)):
                raise ApiError(
                    409,
                    f"{type_} {rid!r} was registered meanwhile; send it again",
                    {"id": ["taken"]},
                )
            if parent is not None:  # as it is under the lock: it may have moved meanwhile
                parent = Resource.get_or_none(Resource.id == parent.id)
                if parent is None:
                    raise ApiError(409, "the parent was deleted meanwhile", {"parent": ["gone"]})
            try:
                row = Resource.create(
                    org=org_id,
                    type=type_,
                    rid=rid,
                    parent=parent,
                    owner=owner,
                    attributes=attributes,
                    created_at=now(),
                    updated_at=now(),
                )
            except peewee.IntegrityError as exc:  # the same type and id, in another org
                raise ApiError(
                    409, f"{type_} {rid!r} was registered meanwhile", {"id": ["taken"]}
                ) from exc
            audit(org_id, "resource.create", f"{type_}/{rid}", None, _state(row), actor)
            return dump_resource(row, parent), 201
        row = Resource.get_or_none(Resource.id == existing.id)  # as it is under the lock
        if row is None:
            raise ApiError(409, f"{type_} {rid!r} was deleted meanwhile; send it again")
        before = _state(row)
        if moving:
            _move(row, parent)
        row.owner, row.attributes, row.updated_at = owner, attributes, now()
        row.save()
        audit(
            org_id,
            "resource.move" if moving else "resource.update",
            f"{type_}/{rid}",
            before,
            _state(row),
            actor,
        )
    return dump_resource(row, parent), 200


def _move(row: Resource, parent: Resource | None) -> None:
    """Put ``row`` under ``parent`` and rewrite path and shape of its whole subtree, in the
    caller's transaction. Raises ApiError 409 for a move into its own subtree."""
    if parent is not None:
        parent = Resource.get_or_none(Resource.id == parent.id)  # re-read under the lock
        if parent is None:
            raise ApiError(409, "the new parent was deleted meanwhile", {"parent": ["gone"]})
        if parent.id == row.id or row.id in parent.ancestor_ids:
            raise ApiError(
                409,
                f"{row.type} {row.rid!r} cannot move into its own subtree",
                {"parent": ["would make a cycle"]},
            )
    old_child, old_shape = row.child_path, row.shape
    row.place_under(parent)
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


@bp.get("/<org_id>/resources/<type_>/<rid>")
@doc(response=ResourceOut)
def get_resource(org_id: str, type_: str, rid: str):
    """A registered resource. Raises ApiError 404, 403 (the policy: ``view``)."""
    actor = acting_user()
    org_or_404(org_id)
    row = _resource_or_404(org_id, type_, rid)
    require(actor, "view", facts().registered(type_, rid))
    return dump_resource(row)


@bp.delete("/<org_id>/resources/<type_>/<rid>")
@doc(query=RecursiveArgs, status=204)
def delete_resource(org_id: str, type_: str, rid: str):
    """Remove a resource and its grants; with ``?recursive=true`` its whole subtree too.

    Raises ApiError 404, 409 (it has children and recursive is not set), 403 (the policy:
    ``delete`` on the resource).
    """
    actor = acting_user()
    org_or_404(org_id)
    recursive = RecursiveArgs().load({k: v for k, v in request.args.items() if k == "recursive"})[
        "recursive"
    ]
    row = _resource_or_404(org_id, type_, rid)
    require(actor, "delete", facts().registered(type_, rid))
    with transaction():
        Organization.lock(org_id)
        below = list(row.subtree().select(Resource.id, Resource.path).tuples())
        if below and not recursive:
            raise ApiError(
                409,
                f"{type_} {rid!r} has {len(below)} resources below it; move them"
                " or delete with ?recursive=true",
                {"recursive": ["not set"]},
            )
        ids = [row.id] + [pk for pk, _ in below]
        for i in range(0, len(ids), 500):
            Grant.delete().where(Grant.resource.in_(ids[i : i + 500])).execute()
        # Deepest first: a parent is never deleted before what sits in it.
        by_depth = {}
        for pk, path in below:
            by_depth.setdefault(path.count("/"), []).append(pk)
        for depth in sorted(by_depth, reverse=True):
            level = by_depth[depth]
            for i in range(0, len(level), 500):
                Resource.delete().where(Resource.id.in_(level[i : i + 500])).execute()
        Resource.delete().where(Resource.id == row.id).execute()
        audit(
            org_id,
            "resource.delete",
            f"{type_}/{rid}",
            _state(row),
            {"deleted_below": len(below)},
            actor,
        )
    return "", 204


# ---------------------------------------------------------------- grants
def _member_or_error(org_id: str, user_id: str) -> None:
    """Raises ApiError 404 for an unknown user, 422 naming user_id for a non-member."""
    if User.get_or_none(User.id == user_id) is None:
        raise ApiError(404, f"no user {user_id!r}")
    if (
        not Membership.select()
        .where((Membership.org == org_id) & (Membership.user == user_id))
        .exists()
    ):
        raise ApiError(
            422,
            f"{user_id!r} is not a member of organization {org_id!r}",
            {"user_id": ["not a member of the organization"]},
        )


def _check_role(engine, type_: str, role: str, field: str = "role") -> None:
    """Raises ApiError 422 naming ``field`` unless the policy declares ``role`` on ``type_``."""
    if role not in engine.roles(type_):
        raise ApiError(
            422,
            f"the {engine.style} policy declares no role {role!r} on {type_}",
            {field: [f"one of {engine.roles(type_)}"]},
        )


def _ask_grant(
    actor: str, org: OrgRef, row: Resource, user_id: str, role: str, what: str
) -> Grant | None:
    """Ask the policy for ``grant`` of ``role`` on ``row`` (and ``revoke`` of a different
    role the user holds there). Returns the existing grant. Raises ApiError 403."""
    target = facts().registered(row.type, row.rid)
    existing = Grant.get_or_none((Grant.user == user_id) & (Grant.resource == row.id))
    if existing is not None and existing.role != role:
        require(
            actor,
            "revoke",
            management_target(org, "Grant", {"role": existing.role}, under=target),
            what=f"{existing.role} {what}",
        )
    require(
        actor,
        "grant",
        management_target(org, "Grant", {"role": role}, under=target),
        what=f"{role} {what}",
    )
    return existing


def _write_grant(org_id: str, user_id: str, row: Resource, role: str, actor: str) -> tuple:
    """Create or change the grant, in the caller's transaction. Returns (grant, created)."""
    existing = Grant.get_or_none((Grant.user == user_id) & (Grant.resource == row.id))
    target = f"{row.type}/{row.rid}/grants/{user_id}"
    if existing is None:
        grant = Grant.create(user=user_id, resource=row.id, org=org_id, role=role, created_at=now())
        audit(org_id, "grant.create", target, None, {"role": role}, actor)
        return grant, True
    if existing.role != role:
        before = {"role": existing.role}
        existing.role = role
        existing.save()
        audit(org_id, "grant.update", target, before, {"role": role}, actor)
    return existing, False


@bp.put("/<org_id>/resources/<type_>/<rid>/grants/<user_id>")
@doc(request=GrantPut, response=GrantOut)
def put_grant(org_id: str, type_: str, rid: str, user_id: str):
    """Give a member a role on a resource: 201 created, 200 changed or unchanged.

    Raises ApiError 404 (org, resource, user), 422 (role not declared on the type, user not
    a member), 403 (the policy: ``grant`` on a Grant, ``revoke`` of a role it replaces).
    """
    actor = acting_user()
    body = load(GrantPut)
    org = org_or_404(org_id)
    engine = _engine(org)
    row = _resource_or_404(org_id, type_, rid)
    _check_role(engine, type_, body["role"])
    _member_or_error(org_id, user_id)
    _ask_grant(actor, org, row, user_id, body["role"], f"on {type_} {rid} to {user_id}")
    with transaction():
        Organization.lock(org_id)
        _member_or_error(org_id, user_id)  # not removed meanwhile
        grant, created = _write_grant(org_id, user_id, row, body["role"], actor)
    return dump_grant(grant, row), 201 if created else 200


@bp.delete("/<org_id>/resources/<type_>/<rid>/grants/<user_id>")
@doc(status=204)
def delete_grant(org_id: str, type_: str, rid: str, user_id: str):
    """Take a grant back (204). Raises ApiError 404 (org, resource, no such grant), 403
    (the policy: ``revoke`` on the Grant)."""
    actor = acting_user()
    org = org_or_404(org_id)
    row = _resource_or_404(org_id, type_, rid)
    grant = Grant.get_or_none((Grant.user == user_id) & (Grant.resource == row.id))
    if grant is None:
        raise ApiError(404, f"{user_id!r} holds no grant on {type_} {rid!r}")
    target = facts().registered(type_, rid)
    require(
        actor,
        "revoke",
        management_target(org, "Grant", {"role": grant.role}, under=target),
        what=f"{grant.role} on {type_} {rid} from {user_id}",
    )
    with transaction():
        Organization.lock(org_id)
        deleted = (
            Grant.delete().where((Grant.user == user_id) & (Grant.resource == row.id)).execute()
        )
        if deleted:
            audit(
                org_id,
                "grant.delete",
                f"{type_}/{rid}/grants/{user_id}",
                {"role": grant.role},
                None,
                actor,
            )
    return "", 204


@bp.post("/<org_id>/members/<user_id>/grants")
@doc(request=GrantBatchRequest, response=GrantBatchResponse)
def grant_batch(org_id: str, user_id: str):
    """Give a member roles on several resources at once, all or nothing (200 with items).

    Raises ApiError 404 (org, user), 403 (more than the policy's ``grant_batch_limit``, as
    for invitations; or the policy refuses any one of them), 422 (a type, resource or role
    the policy or org does not have, naming ``grants.<i>.<field>``; user not a member).
    """
    actor = acting_user()
    body = load(GrantBatchRequest)
    org = org_or_404(org_id)
    engine = _engine(org)
    limit = int(engine.setting("grant_batch_limit", 100))
    if len(body["grants"]) > limit:
        raise ApiError(
            403,
            f"at most {limit} grants at a time in a {engine.style} organization;"
            f" {len(body['grants'])} sent",
            {"grants": [f"at most {limit}"]},
        )
    errors, rows = {}, []
    for i, item in enumerate(body["grants"]):
        if item["type"] not in engine.types or item["type"] in MANAGEMENT_TYPES:
            errors[f"grants.{i}.type"] = ["not a resource type of this organization"]
            continue
        row = Resource.get_or_none((Resource.type == item["type"]) & (Resource.rid == item["id"]))
        if row is None or row.org_id != org_id:
            errors[f"grants.{i}.id"] = ["not a registered resource of this organization"]
            continue
        if item["role"] not in engine.roles(item["type"]):
            errors[f"grants.{i}.role"] = [f"one of {engine.roles(item['type'])}"]
            continue
        rows.append((row, item["role"]))
    if errors:
        raise ApiError(422, f"invalid fields: {', '.join(sorted(errors))}", errors)
    _member_or_error(org_id, user_id)
    for row, role in rows:
        _ask_grant(actor, org, row, user_id, role, f"on {row.type} {row.rid} to {user_id}")
    with transaction():
        Organization.lock(org_id)
        _member_or_error(org_id, user_id)
        items = [
            dump_grant(_write_grant(org_id, user_id, row, role, actor)[0], row)
            for row, role in rows
        ]
    return {"items": items}
