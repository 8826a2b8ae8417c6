"""Marshmallow schemas: the only way a request body gets in."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

ID = validate.Length(min=1, max=200)
NAME = validate.Length(min=1, max=100)


class Ref(Schema):
    """A resource named by type and id."""

    type = fields.String(required=True, validate=validate.Length(min=1, max=64))
    id = fields.String(required=True, validate=ID)


class ResourceRef(Ref):
    """A registered resource, or one described inline (org, parent, owner, attributes)."""

    org = fields.String(load_default=None, allow_none=True, validate=ID)
    parent = fields.Nested(Ref, load_default=None, allow_none=True)
    owner = fields.String(load_default=None, allow_none=True, validate=ID)
    attributes = fields.Dict(keys=fields.String(), load_default=dict)


class ActorRef(Schema):
    id = fields.String(required=True, validate=ID)


class AuthorizeRequest(Schema):
    actor = fields.Nested(ActorRef, required=True)
    action = fields.String(required=True, validate=NAME)
    resource = fields.Nested(ResourceRef, required=True)
    explain = fields.Boolean(load_default=False)


class BatchRequest(Schema):
    checks = fields.List(
        fields.Nested(AuthorizeRequest), required=True, validate=validate.Length(min=1, max=1000)
    )


class ActionsRequest(Schema):
    actor = fields.Nested(ActorRef, required=True)
    resource = fields.Nested(ResourceRef, required=True)


class Explanation(Schema):
    style = fields.String()
    reason = fields.String()
    rule = fields.String(allow_none=True)
    held = fields.List(fields.Dict())
    effective_roles = fields.List(fields.String())
    resource_chain = fields.List(fields.Dict())
    facts_shown = fields.List(fields.Dict())
    declared_actions = fields.List(fields.String())


class AuthorizeResponse(Schema):
    allowed = fields.Boolean(required=True)
    decision_id = fields.String(required=True)
    policy_version = fields.String(required=True)
    explanation = fields.Nested(Explanation)


class BatchResponse(Schema):
    results = fields.List(fields.Nested(AuthorizeResponse), required=True)


class ActionsResponse(Schema):
    actions = fields.List(fields.String(), required=True)
    policy_version = fields.String()


class PageArgs(Schema):
    """``?limit=&cursor=`` of every list."""

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(load_default=None)


# ---------------------------------------------------------------- management
ORG_ID = validate.Length(min=1, max=64)
EMAIL = validate.Length(max=320)


class NewOrganizationRequest(Schema):
    """``POST /v1/orgs``."""

    id = fields.String(
        load_default=None,
        validate=[
            ORG_ID,
            validate.Regexp(
                r"^[A-Za-z0-9][A-Za-z0-9._-]*$", error="letters, digits, '.', '_' and '-' only"
            ),
        ],
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    style = fields.String(required=True, validate=validate.Length(min=1, max=32))
    legal = fields.Dict(keys=fields.String(), load_default=dict)
    billing = fields.Dict(keys=fields.String(), load_default=dict)


class OrganizationPatch(Schema):
    """``PATCH /v1/orgs/{org_id}``: any of name, legal, billing (each its own action)."""

    name = fields.String(validate=validate.Length(min=1, max=200))
    legal = fields.Dict(keys=fields.String())
    billing = fields.Dict(keys=fields.String())

    @validates_schema
    def not_empty(self, data, **kwargs):
        if not data:
            raise ValidationError("send at least one of name, legal, billing", "_body")


class RoleRequest(Schema):
    """``PUT /v1/orgs/{org_id}/members/{user_id}``."""

    role = fields.String(required=True, validate=NAME)


class RemoveMembersRequest(Schema):
    """``POST /v1/orgs/{org_id}/members/remove``."""

    user_ids = fields.List(
        fields.String(validate=ID), required=True, validate=validate.Length(min=1, max=500)
    )

    @validates_schema
    def distinct(self, data, **kwargs):
        ids = data.get("user_ids") or []
        if len(set(ids)) != len(ids):
            raise ValidationError("a user id is listed twice", "user_ids")


class MemberListArgs(PageArgs):
    """``GET /v1/orgs/{org_id}/members?role=&q=&limit=&cursor=``."""

    role = fields.String(load_default=None, validate=NAME)
    q = fields.String(load_default=None, validate=validate.Length(min=1, max=200))


class InvitationItem(Schema):
    email = fields.Email(required=True, validate=EMAIL)
    role = fields.String(required=True, validate=NAME)


class InvitationBatchRequest(Schema):
    """``POST /v1/orgs/{org_id}/invitations``; the policy's batch limit is checked after."""

    invitations = fields.List(
        fields.Nested(InvitationItem), required=True, validate=validate.Length(min=1, max=1000)
    )


INVITATION_STATUSES = ("pending", "accepted", "expired", "cancelled")


class InvitationListArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(INVITATION_STATUSES))


class UserRequest(Schema):
    """``PUT /v1/users/{user_id}``, and the user of an accepted invitation (with ``id``)."""

    email = fields.Email(required=True, validate=EMAIL)
    name = fields.String(load_default="", validate=validate.Length(max=200))


class AcceptingUser(UserRequest):
    id = fields.String(required=True, validate=ID)


class AcceptInvitationRequest(Schema):
    """``POST /v1/invitations/accept``."""

    token = fields.String(required=True, validate=validate.Length(min=1, max=200))
    user = fields.Nested(AcceptingUser, required=True)


class UserPatch(Schema):
    """``PATCH /v1/users/{user_id}``."""

    default_org_id = fields.String(required=True, allow_none=True, validate=ORG_ID)


class PlainPageArgs(PageArgs):
    """Lists with nothing but ``limit`` and ``cursor``; other query parameters are a 422."""


# What the management endpoints answer (for the OpenAPI document; the routes build dicts).
def _opt_str():
    return fields.String(required=True, allow_none=True)


class OrganizationOut(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    style = fields.String(required=True)
    legal = fields.Dict(required=True)
    billing = fields.Dict(required=True)
    created_by = _opt_str()
    created_at = _opt_str()
    closed_at = _opt_str()
    role = fields.String(metadata={"description": "the acting user's role in it"})
    initial_resource = fields.Dict(metadata={"description": "respond.io: the first Space"})


class MemberOut(Schema):
    user_id = _opt_str()
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["active", "pending"]))
    last_active_at = _opt_str()
    joined_at = fields.String(allow_none=True)
    invitation_id = fields.String()
    expires_at = fields.String()


class MemberPage(Schema):
    items = fields.List(fields.Nested(MemberOut), required=True)
    next_cursor = _opt_str()


class InvitationOut(Schema):
    id = fields.String(required=True)
    org_id = fields.String(required=True)
    email = fields.String(required=True)
    role = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(INVITATION_STATUSES))
    expires_at = _opt_str()
    invited_by = _opt_str()
    created_at = _opt_str()
    accepted_by = _opt_str()
    ended_at = _opt_str()
    token = fields.String(metadata={"description": "only in the answer that created it"})


class InvitationBatchResponse(Schema):
    items = fields.List(fields.Nested(InvitationOut), required=True)


class InvitationPage(InvitationBatchResponse):
    next_cursor = _opt_str()


class AcceptResponse(Schema):
    org_id = fields.String(required=True)
    user_id = fields.String(required=True)
    role = fields.String(required=True)
    status = fields.String(required=True)
    invitation_id = fields.String(required=True)
    joined_at = _opt_str()


class RemovedResponse(Schema):
    removed = fields.List(fields.String(), required=True)


class UserOut(Schema):
    id = fields.String(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    default_org_id = _opt_str()
    last_active_at = _opt_str()
    created_at = _opt_str()


class UserOrgOut(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    style = fields.String(required=True)
    role = fields.String(required=True)
    closed_at = _opt_str()
    is_default = fields.Boolean(required=True)


class UserOrgPage(Schema):
    items = fields.List(fields.Nested(UserOrgOut), required=True)
    next_cursor = _opt_str()


class AuditEventOut(Schema):
    id = fields.Integer(required=True)
    actor = _opt_str()
    action = fields.String(required=True)
    target = _opt_str()
    before = fields.Raw(required=True, allow_none=True)
    after = fields.Raw(required=True, allow_none=True)
    request_id = _opt_str()
    api_key = _opt_str()
    created_at = _opt_str()


class AuditPage(Schema):
    items = fields.List(fields.Nested(AuditEventOut), required=True)
    next_cursor = _opt_str()


# ---------------------------------------------------------------- resources and grants
class ResourcePut(Schema):
    """``PUT /v1/orgs/{org_id}/resources/{type}/{id}``. On an update, a field left out keeps
    its value; ``null`` clears it (``"parent": null`` moves the resource to the top)."""

    parent = fields.Nested(Ref, allow_none=True)
    owner = fields.String(allow_none=True, validate=ID)
    attributes = fields.Dict(keys=fields.String())


class GrantPut(Schema):
    """``PUT .../resources/{type}/{id}/grants/{user_id}``."""

    role = fields.String(required=True, validate=NAME)


class GrantItem(Ref):
    role = fields.String(required=True, validate=NAME)


class GrantBatchRequest(Schema):
    """``POST /v1/orgs/{org_id}/members/{user_id}/grants``; the policy sets the limit."""

    grants = fields.List(
        fields.Nested(GrantItem), required=True, validate=validate.Length(min=1, max=1000)
    )

    @validates_schema
    def distinct(self, data, **kwargs):
        keys = [(g["type"], g["id"]) for g in data.get("grants") or []]
        if len(set(keys)) != len(keys):
            raise ValidationError("a resource is listed twice", "grants")


class ListResourcesRequest(Schema):
    """``POST /v1/authorize/resources``; ``limit`` and ``cursor`` here or in the query."""

    actor = fields.Nested(ActorRef, required=True)
    action = fields.String(required=True, validate=NAME)
    type = fields.String(required=True, validate=validate.Length(min=1, max=64))
    org = fields.String(required=True, validate=ID)
    limit = fields.Integer(validate=validate.Range(min=1, max=500))
    cursor = fields.String()


class ListActorsRequest(Schema):
    """``POST /v1/authorize/actors``; ``limit`` and ``cursor`` here or in the query."""

    action = fields.String(required=True, validate=NAME)
    resource = fields.Nested(ResourceRef, required=True)
    limit = fields.Integer(validate=validate.Range(min=1, max=500))
    cursor = fields.String()


class ResourceOut(Schema):
    type = fields.String()
    id = fields.String()
    org = fields.String()
    parent = fields.Nested(Ref, allow_none=True)
    owner = fields.String(allow_none=True)
    attributes = fields.Dict(keys=fields.String())
    created_at = fields.String()
    updated_at = fields.String()


class GrantOut(Schema):
    user_id = fields.String()
    type = fields.String()
    id = fields.String()
    org = fields.String()
    role = fields.String()
    created_at = fields.String()


class GrantBatchResponse(Schema):
    items = fields.List(fields.Nested(GrantOut))


class ResourceRefOut(Schema):
    type = fields.String()
    id = fields.String()
    org = fields.String()


class ResourcePage(Schema):
    items = fields.List(fields.Nested(ResourceRefOut))
    next_cursor = fields.String(allow_none=True)


class ActorOut(Schema):
    id = fields.String()


class ActorPage(Schema):
    items = fields.List(fields.Nested(ActorOut))
    next_cursor = fields.String(allow_none=True)


class RecursiveArgs(Schema):
    """``DELETE .../resources/{type}/{id}?recursive=true``."""

    recursive = fields.Boolean(load_default=False)


__all__ = [
    "ActorPage",
    "GrantBatchResponse",
    "GrantOut",
    "RecursiveArgs",
    "ResourceOut",
    "ResourcePage",
    "GrantBatchRequest",
    "GrantPut",
    "ListActorsRequest",
    "ListResourcesRequest",
    "ResourcePut",
    "AcceptInvitationRequest",
    "InvitationBatchRequest",
    "InvitationListArgs",
    "MemberListArgs",
    "NewOrganizationRequest",
    "OrganizationPatch",
    "PlainPageArgs",
    "RemoveMembersRequest",
    "RoleRequest",
    "UserPatch",
    "UserRequest",
    "ActionsRequest",
    "AuthorizeRequest",
    "BatchRequest",
    "PageArgs",
    "ResourceRef",
    "Schema",
    "ValidationError",
    "fields",
    "validate",
    "validates_schema",
]
