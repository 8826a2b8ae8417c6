"""Resources and grants: ``/v1/orgs/{org_id}/resources/...`` and the batch of grants of one
member. HTTP only: parse, call access/resources.py, dump."""

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from access import resources
from access.errors import Invalid
from routes.context import acting_user, ctx, list_args, load
from routes.openapi import doc
from routes.pagination import decode, listed
from routes.schemas import (
    GrantBatchRequest,
    GrantBatchResponse,
    GrantOut,
    GrantPut,
    PlainPageArgs,
    RecursiveArgs,
    ResourceGrantPage,
    ResourceListArgs,
    ResourceOut,
    ResourcePut,
    ResourceTreePage,
)

bp = Blueprint("resources", __name__, url_prefix="/v1/orgs")


def _check_ids(type_: str, rid: str) -> None:
    """Raises Invalid for ids over the stored lengths."""
    if len(type_) > 64 or len(rid) > 200:
        raise Invalid("type or id too long", {"type" if len(type_) > 64 else "id": ["too long"]})


@bp.get("/<org_id>/resources")
@doc(query=ResourceListArgs, response=ResourceTreePage)
def list_resources(org_id: str) -> ResponseReturnValue:
    """The resources directly under ``?parent_type=&parent_id=`` (neither: the org's top
    level), optionally ``?type=``, that the acting user may ``view``, each with its grants
    (null unless they may ``view_members``), paginated (a page may hold fewer than
    ``limit``). Needs ``view`` on the parent. 404, 403, 422."""
    actor = acting_user()
    args = list_args(ResourceListArgs)
    after = decode(args["cursor"], "int")
    parent = {"type": args["parent_type"], "id": args["parent_id"]} if args["parent_type"] else None
    page = resources.list_children(
        ctx(actor), actor, org_id, parent, args["type"], args["limit"], after
    )
    return listed(page)


@bp.get("/<org_id>/resources/<type_>/<rid>/grants")
@doc(query=PlainPageArgs, response=ResourceGrantPage)
def list_grants(org_id: str, type_: str, rid: str) -> ResponseReturnValue:
    """Who holds which role on one resource, by user id, paginated: for those who may
    ``view`` it and ``view_members`` of the org. 404, 403, 422."""
    actor = acting_user()
    _check_ids(type_, rid)
    args = list_args(PlainPageArgs)
    after = decode(args["cursor"], "str")
    return listed(resources.grants_of(ctx(actor), actor, org_id, type_, rid, args["limit"], after))


@bp.put("/<org_id>/resources/<type_>/<rid>")
@doc(request=ResourcePut, response=ResourceOut)
def put_resource(org_id: str, type_: str, rid: str) -> ResponseReturnValue:
    """Register (201) or update (200) a resource; a new parent moves its whole subtree.

    404 (org), 409 (type and id taken in another org, or a move into its own subtree), 422
    (type not declared, parent unknown or not allowed, invalid body), 403 (the policy:
    ``create``; ``edit``, and ``create`` under a new parent).
    """
    actor = acting_user()
    body = load(ResourcePut)
    _check_ids(type_, rid)
    resource, created = resources.put(ctx(actor), actor, org_id, type_, rid, body)
    return resource, 201 if created else 200


@bp.get("/<org_id>/resources/<type_>/<rid>")
@doc(response=ResourceOut)
def get_resource(org_id: str, type_: str, rid: str) -> ResponseReturnValue:
    """A registered resource. 404, 403 (the policy: ``view``)."""
    actor = acting_user()
    return resources.get(ctx(actor), actor, org_id, type_, rid)


@bp.delete("/<org_id>/resources/<type_>/<rid>")
@doc(query=RecursiveArgs, status=204)
def delete_resource(org_id: str, type_: str, rid: str) -> ResponseReturnValue:
    """Remove a resource and its grants; with ``?recursive=true`` its whole subtree too.
    404, 409 (it has children and recursive is not set), 403 (the policy: ``delete``)."""
    actor = acting_user()
    args = RecursiveArgs().load({k: v for k, v in request.args.items() if k == "recursive"})
    resources.delete(ctx(actor), actor, org_id, type_, rid, args["recursive"])
    return "", 204


@bp.put("/<org_id>/resources/<type_>/<rid>/grants/<user_id>")
@doc(request=GrantPut, response=GrantOut)
def put_grant(org_id: str, type_: str, rid: str, user_id: str) -> ResponseReturnValue:
    """Give a member a role on a resource: 201 created, 200 changed or unchanged. 404 (org,
    resource, user), 422 (role not declared on the type, user not a member), 403 (the
    policy: ``grant`` on a Grant, ``revoke`` of a role it replaces)."""
    actor = acting_user()
    body = load(GrantPut)
    grant, created = resources.put_grant(
        ctx(actor), actor, org_id, type_, rid, user_id, body["role"], body["expires_at"]
    )
    return grant, 201 if created else 200


@bp.delete("/<org_id>/resources/<type_>/<rid>/grants/<user_id>")
@doc(status=204)
def delete_grant(org_id: str, type_: str, rid: str, user_id: str) -> ResponseReturnValue:
    """Take a grant back (204). 404 (org, resource, no such grant), 403 (the policy:
    ``revoke`` on the Grant)."""
    actor = acting_user()
    resources.delete_grant(ctx(actor), actor, org_id, type_, rid, user_id)
    return "", 204


@bp.post("/<org_id>/members/<user_id>/grants")
@doc(request=GrantBatchRequest, response=GrantBatchResponse)
def grant_batch(org_id: str, user_id: str) -> ResponseReturnValue:
    """Give a member roles on several resources at once, all or nothing (200 with items).
    404 (org, user), 403 (over the policy's ``grant_batch_limit``, or the policy refuses
    any one), 422 (a type, resource or role the org does not have, naming
    ``grants.<i>.<field>``; user not a member)."""
    actor = acting_user()
    body = load(GrantBatchRequest)
    return {"items": resources.grant_batch(ctx(actor), actor, org_id, user_id, body["grants"])}
