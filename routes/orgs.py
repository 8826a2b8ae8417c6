"""Organizations: ``/v1/orgs``. HTTP only: parse, call access/orgs.py, dump."""

from flask import Blueprint
from flask.typing import ResponseReturnValue

from access import orgs
from access.errors import Invalid
from access.events import parse_subject_filter
from authz.engine import asking
from routes.context import acting, ctx, list_args, load, request_context, service_wide
from routes.openapi import doc
from routes.pagination import decode, listed
from routes.schemas import (
    AuditListArgs,
    AuditPage,
    NewOrganizationRequest,
    OrganizationOut,
    OrganizationPatch,
    OrgPage,
    PlainPageArgs,
)

bp = Blueprint("orgs", __name__, url_prefix="/v1/orgs")


@bp.post("")
@doc(request=NewOrganizationRequest, response=OrganizationOut, status=201)
def create_org() -> ResponseReturnValue:
    """Create an organization; the acting user gets the role the policy's ``creator_role``
    names. 201 with the org. 422 (body, unknown style), 403 (the policy's ``create`` on
    NewOrganization refuses, e.g. one organization per user; an API key bound to
    organizations creates none), 409 (id taken)."""
    body = load(NewOrganizationRequest)
    actor = acting()
    service_wide("create organizations")  # its new org would be outside its scope
    return orgs.create(ctx(actor), actor, body), 201


@bp.get("")
@doc(query=PlainPageArgs, response=OrgPage)
def list_orgs() -> ResponseReturnValue:
    """The acting user's organizations that the policy lets them ``view``, each with their
    role, by id, paginated (a page may hold fewer than ``limit``). 422."""
    actor = acting()
    args = list_args(PlainPageArgs)
    after = decode(args["cursor"], "str")
    return listed(orgs.list_mine(ctx(actor), actor, args["limit"], after))


@bp.get("/<org_id>")
@doc(response=OrganizationOut)
def get_org(org_id: str) -> ResponseReturnValue:
    """The organization, for those the policy allows ``view``. 404, 403."""
    actor = acting()
    return orgs.get(ctx(actor), actor, org_id)


@bp.patch("/<org_id>")
@doc(request=OrganizationPatch, response=OrganizationOut)
def update_org(org_id: str) -> ResponseReturnValue:
    """Change name, legal and/or billing details, each asked as its own action; all or
    nothing. 422, 404, 403."""
    body = load(OrganizationPatch)
    context = request_context(body.pop("context", None))
    actor = acting()
    with asking(context):  # the rules that read the request's ip (docs/API.md 1.3)
        return orgs.update(ctx(actor), actor, org_id, body)


@bp.delete("/<org_id>")
@doc(response=OrganizationOut)
def close_org(org_id: str) -> ResponseReturnValue:
    """Close the organization (action ``close``): it then allows nothing. 200 with the org.
    404, 403 (also when it is already closed)."""
    actor = acting()
    return orgs.close(ctx(actor), actor, org_id)


@bp.get("/<org_id>/audit")
@doc(query=AuditListArgs, response=AuditPage)
def list_audit(org_id: str) -> ResponseReturnValue:
    """The organization's audit trail, oldest first (``?order=desc``: newest first),
    filtered by ``actor``, ``action``, ``subject`` (a target), ``since`` and ``until``,
    paginated; each entry has a ``summary`` in words. Action ``view_audit``. 404, 403, 422."""
    actor = acting()
    args = list_args(AuditListArgs)
    after = decode(args["cursor"], "int")
    filters = {k: args[k] for k in ("actor", "action", "since", "until")}
    if args["subject"] is not None:
        filters["subject"] = parse_subject_filter(args["subject"])
        if filters["subject"] is None:
            raise Invalid(
                "subject: a target such as user:<id> or resource:<Type>/<id>",
                {"subject": ["not a target"]},
            )
    page = orgs.audit_page(
        ctx(actor), actor, org_id, args["limit"], after, order=args["order"], filters=filters
    )
    return listed(page)
