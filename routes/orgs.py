"""Organizations: ``/v1/orgs``. HTTP only: parse, call access/orgs.py, dump."""

from flask import Blueprint

from access import orgs
from routes.context import acting, ctx, list_args, load
from routes.openapi import doc
from routes.pagination import decode, listed
from routes.schemas import (
    AuditPage,
    NewOrganizationRequest,
    OrganizationOut,
    OrganizationPatch,
    PlainPageArgs,
)

bp = Blueprint("orgs", __name__, url_prefix="/v1/orgs")


@bp.post("")
@doc(request=NewOrganizationRequest, response=OrganizationOut, status=201)
def create_org():
    """Create an organization; the acting user gets the role the policy's ``creator_role``
    names. 201 with the org. 422 (body, unknown style), 403 (the policy's ``create`` on
    NewOrganization refuses, e.g. one organization per user), 409 (id taken)."""
    body = load(NewOrganizationRequest)
    actor = acting()
    return orgs.create(ctx(actor), actor, body), 201


@bp.get("/<org_id>")
@doc(response=OrganizationOut)
def get_org(org_id):
    """The organization, for those the policy allows ``view``. 404, 403."""
    actor = acting()
    return orgs.get(ctx(actor), actor, org_id)


@bp.patch("/<org_id>")
@doc(request=OrganizationPatch, response=OrganizationOut)
def update_org(org_id):
    """Change name, legal and/or billing details, each asked as its own action; all or
    nothing. 422, 404, 403."""
    body = load(OrganizationPatch)
    actor = acting()
    return orgs.update(ctx(actor), actor, org_id, body)


@bp.delete("/<org_id>")
@doc(response=OrganizationOut)
def close_org(org_id):
    """Close the organization (action ``close``): it then allows nothing. 200 with the org.
    404, 403 (also when it is already closed)."""
    actor = acting()
    return orgs.close(ctx(actor), actor, org_id)


@bp.get("/<org_id>/audit")
@doc(query=PlainPageArgs, response=AuditPage)
def list_audit(org_id):
    """The organization's audit trail, oldest first, paginated; action ``view_audit``.
    404, 403, 422."""
    actor = acting()
    args = list_args(PlainPageArgs)
    after = decode(args["cursor"], "int")
    return listed(orgs.audit_page(ctx(actor), actor, org_id, args["limit"], after))
