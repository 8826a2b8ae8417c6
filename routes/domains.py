"""Verified domains (``/v1/orgs/{org_id}/domains``), what a user's domain suggests
(``/v1/users/{user_id}/suggested-orgs``) and requests to join
(``/v1/orgs/{org_id}/join-requests``). HTTP only: parse, call access/domains.py and
access/join_requests.py, dump. Their body and answer schemas live here and in those
modules (issue 28 keeps them beside the family)."""

import re

from flask import Blueprint
from flask.typing import ResponseReturnValue
from marshmallow import Schema, ValidationError, fields, validate

from access import domains, join_requests
from access.domains import DomainOut
from access.join_requests import JoinRequestOut
from models.join_requests import JOIN_REQUEST_STATUSES
from routes.context import acting, acting_user, ctx, list_args, load
from routes.openapi import doc
from routes.pagination import decode, listed
from routes.schemas import PageArgs
from routes.schemas.fields import Text, role

bp = Blueprint("domains", __name__, url_prefix="/v1")

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def domain_name(text: str) -> str:
    """``text`` as a domain name: lower case, no trailing dot, at least two labels of
    letters, digits and hyphens (an internationalized name in its ``xn--`` form). Raises
    ValidationError."""
    name = text.strip().lower().rstrip(".")
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(_LABEL.match(x) for x in labels):
        raise ValidationError("not a domain name (e.g. example.com; IDN in its xn-- form)")
    if labels[-1].isdigit():
        raise ValidationError("not a domain name: an IP address")
    return name


class DomainName(Text):
    def _deserialize(self, value, attr, data, **kwargs):  # type: ignore[no-untyped-def]
        return domain_name(super()._deserialize(value, attr, data, **kwargs))


class DomainRequest(Schema):
    """``POST /v1/orgs/{org_id}/domains``."""

    domain = DomainName(required=True, validate=validate.Length(min=1, max=253))


class DomainPatch(Schema):
    """``PATCH /v1/orgs/{org_id}/domains/{domain_id}``: what a verified domain offers."""

    join_mode = Text(required=True, validate=validate.OneOf(domains.JOIN_MODES))
    join_role = role(load_default=None, allow_none=True)


class DomainPage(Schema):
    items = fields.List(fields.Nested(DomainOut), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class Suggestion(Schema):
    org_id = fields.String(required=True)
    org_name = fields.String(required=True)
    style = fields.String(required=True)
    domain = fields.String(required=True)
    join = fields.String(required=True, metadata={"description": "auto or request"})


class SuggestionList(Schema):
    items = fields.List(fields.Nested(Suggestion), required=True)


class JoinRequestCreate(Schema):
    """``POST /v1/orgs/{org_id}/join-requests``, by the user in ``X-Actor-Id``."""

    role = role(load_default=None, allow_none=True)
    message = Text(load_default="", validate=validate.Length(max=500))


class JoinRequestApprove(Schema):
    """``POST .../join-requests/{request_id}/approve``: the role given (default: asked)."""

    role = role(load_default=None, allow_none=True)


class JoinRequestListArgs(PageArgs):
    status = Text(load_default=None, validate=validate.OneOf(JOIN_REQUEST_STATUSES))


class JoinRequestPage(Schema):
    items = fields.List(fields.Nested(JoinRequestOut), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


# ---------------------------------------------------------------- verified domains
@bp.post("/orgs/<org_id>/domains")
@doc(request=DomainRequest, response=DomainOut, status=201)
def add_domain(org_id: str) -> ResponseReturnValue:
    """Add a domain ``{"domain"}``: 201 with the TXT record to publish (``txt_name``,
    ``txt_value``), pending. 422 (not a domain name), 403 (``manage`` on a Domain), 404,
    409 (added already; verified by another organization, naming ``domain``)."""
    body = load(DomainRequest)
    actor = acting()
    return domains.add(ctx(actor), actor, org_id, body["domain"]), 201


@bp.get("/orgs/<org_id>/domains")
@doc(query=PageArgs, response=DomainPage)
def list_domains(org_id: str) -> ResponseReturnValue:
    """The organization's domains by id, paginated (``manage`` on a Domain). 404, 403, 422."""
    actor = acting()
    args = list_args(PageArgs)
    after = decode(args["cursor"], "str")
    return listed(domains.list_page(ctx(actor), actor, org_id, args["limit"], after))


@bp.get("/orgs/<org_id>/domains/<domain_id>")
@doc(response=DomainOut)
def get_domain(org_id: str, domain_id: str) -> ResponseReturnValue:
    """One domain (``manage`` on a Domain). 404, 403."""
    actor = acting()
    return domains.get(ctx(actor), actor, org_id, domain_id)


@bp.post("/orgs/<org_id>/domains/<domain_id>/verify")
@doc(response=DomainOut)
def verify_domain(org_id: str, domain_id: str) -> ResponseReturnValue:
    """Look the TXT token up (the ``DNS_NAMESERVER`` setting's server) and verify the
    domain. 200 verified. 409 naming ``domain``: the token is not published (the domain
    stays pending, ``check_error`` says why) or another organization verified it. 403, 404."""
    actor = acting()
    return domains.verify(ctx(actor), actor, org_id, domain_id)


@bp.patch("/orgs/<org_id>/domains/<domain_id>")
@doc(request=DomainPatch, response=DomainOut)
def configure_domain(org_id: str, domain_id: str) -> ResponseReturnValue:
    """What a verified domain offers its users ``{"join_mode": "off"|"suggest"|"auto",
    "join_role"}`` (``configure`` on a Domain, shown the mode and the role). 422 (body; no or
    undeclared ``join_role`` for auto), 403, 404, 409 (not verified, naming ``join_mode``)."""
    body = load(DomainPatch)
    actor = acting()
    return domains.configure_join(
        ctx(actor), actor, org_id, domain_id, body["join_mode"], body["join_role"]
    )


@bp.delete("/orgs/<org_id>/domains/<domain_id>")
@doc(response=DomainOut)
def remove_domain(org_id: str, domain_id: str) -> ResponseReturnValue:
    """Remove a domain (``manage`` on a Domain). 200 with it. 403, 404."""
    actor = acting()
    return domains.remove(ctx(actor), actor, org_id, domain_id)


@bp.get("/users/<user_id>/suggested-orgs")
@doc(response=SuggestionList)
def suggested_orgs(user_id: str) -> ResponseReturnValue:
    """The organizations the user's verified email domain suggests (or joins at once:
    ``join: auto``), that they are not in. ``X-Actor-Id``, when sent, must be the user
    (403). 404 (no such user)."""
    acting_user(required=False, must_be=user_id)
    return domains.suggestions(ctx(user_id), user_id)


# ---------------------------------------------------------------- requests to join
@bp.post("/orgs/<org_id>/join-requests")
@doc(request=JoinRequestCreate, response=JoinRequestOut, status=201)
def ask_to_join(org_id: str) -> ResponseReturnValue:
    """The user in ``X-Actor-Id`` asks to join ``{"role"?, "message"?}``. 201 with the
    request: ``pending``, or ``approved`` when their verified domain joins them at once.
    422 (body; undeclared role), 403 (the policy's ``accept`` of an invitation of that
    role refuses), 404, 409 (a member already, or a request pending, naming ``user_id``)."""
    body = load(JoinRequestCreate)
    user_id = acting()
    answer = join_requests.create(ctx(user_id), user_id, org_id, body["role"], body["message"])
    return answer, 201


@bp.get("/orgs/<org_id>/join-requests")
@doc(query=JoinRequestListArgs, response=JoinRequestPage)
def list_join_requests(org_id: str) -> ResponseReturnValue:
    """Requests to join by id, ``?status=pending|approved|declined|expired``, paginated
    (``view_invitations``). 404, 403, 422."""
    actor = acting()
    args = list_args(JoinRequestListArgs)
    after = decode(args["cursor"], "str")
    page = join_requests.list_page(ctx(actor), actor, org_id, args["status"], args["limit"], after)
    return listed(page)


@bp.get("/orgs/<org_id>/join-requests/<request_id>")
@doc(response=JoinRequestOut)
def get_join_request(org_id: str, request_id: str) -> ResponseReturnValue:
    """One request (``view_invitations``, or the requesting user's own). 404, 403."""
    actor = acting()
    return join_requests.get(ctx(actor), actor, org_id, request_id)


@bp.post("/orgs/<org_id>/join-requests/<request_id>/approve")
@doc(request=JoinRequestApprove, response=JoinRequestOut)
def approve_join_request(org_id: str, request_id: str) -> ResponseReturnValue:
    """Approve a pending request ``{"role"?}``, decided as inviting with that role (and the
    user's ``accept`` of it). 200 approved, the user a member. 422, 403, 404, 409 (not
    pending; a member already)."""
    body = load(JoinRequestApprove)
    actor = acting()
    return join_requests.approve(ctx(actor), actor, org_id, request_id, body["role"])


@bp.post("/orgs/<org_id>/join-requests/<request_id>/decline")
@doc(response=JoinRequestOut)
def decline_join_request(org_id: str, request_id: str) -> ResponseReturnValue:
    """Decline a pending request, decided as cancelling an invitation of its role. 200
    declined. 403, 404, 409 (not pending)."""
    actor = acting()
    return join_requests.decline(ctx(actor), actor, org_id, request_id)
