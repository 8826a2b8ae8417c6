"""What the routes answer, for the OpenAPI document (the routes build dicts)."""

from marshmallow import Schema, fields, validate

from routes.schemas.inputs import EVENT_TYPES_TEXT, INVITATION_STATUSES, Ref


def _consistency_token() -> fields.String:
    return fields.String(metadata={"description": "the change position it was decided at"})


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
    consistency_token = _consistency_token()
    explanation = fields.Nested(Explanation)


class BatchResponse(Schema):
    results = fields.List(fields.Nested(AuthorizeResponse), required=True)
    consistency_token = _consistency_token()


class ActionsResponse(Schema):
    actions = fields.List(fields.String(), required=True)
    policy_version = fields.String()
    consistency_token = _consistency_token()


# What the management endpoints answer (for the OpenAPI document; the routes build dicts).
def _opt_str() -> fields.String:
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
    org = fields.String(allow_none=True)
    summary = fields.String(metadata={"description": "the entry in words: who did what to whom"})


class AuditPage(Schema):
    items = fields.List(fields.Nested(AuditEventOut), required=True)
    next_cursor = _opt_str()


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
    consistency_token = _consistency_token()


class ActorOut(Schema):
    id = fields.String()


class ActorPage(Schema):
    items = fields.List(fields.Nested(ActorOut))
    next_cursor = fields.String(allow_none=True)
    consistency_token = _consistency_token()


# ---------------------------------------------------------------- 1.1: reads
class MemberDetailOut(MemberOut):
    grants = fields.List(fields.Dict(), required=True)


class ResourceGrantOut(Schema):
    user_id = fields.String(required=True)
    role = fields.String(required=True)
    created_at = _opt_str()


class ResourceWithGrantsOut(ResourceOut):
    grants = fields.List(
        fields.Nested(ResourceGrantOut),
        allow_none=True,
        metadata={"description": "null when the acting user may not view the members"},
    )


class ResourceTreePage(Schema):
    items = fields.List(fields.Nested(ResourceWithGrantsOut), required=True)
    next_cursor = _opt_str()


class ResourceGrantPage(Schema):
    items = fields.List(fields.Nested(ResourceGrantOut), required=True)
    next_cursor = _opt_str()


class OrgPage(Schema):
    items = fields.List(fields.Nested(OrganizationOut), required=True)
    next_cursor = _opt_str()


class ErasedOut(Schema):
    user_id = fields.String(required=True, metadata={"description": "the pseudonym"})
    orgs_left = fields.List(fields.String(), required=True)
    invitations_removed = fields.Integer(required=True)
    resources_unowned = fields.Integer(required=True)
    audit_entries_pseudonymised = fields.Integer(required=True)
    events_pseudonymised = fields.Integer(required=True)


class EventOut(Schema):
    id = fields.String(required=True, metadata={"description": "evt_<position>, in commit order"})
    type = fields.String(required=True, metadata={"description": EVENT_TYPES_TEXT})
    time = fields.String(required=True)
    org = _opt_str()
    actor = _opt_str()
    subject = fields.Dict(required=True, allow_none=True)
    before = fields.Raw(required=True, allow_none=True)
    after = fields.Raw(required=True, allow_none=True)


class EventPage(Schema):
    items = fields.List(fields.Nested(EventOut), required=True)
    next_cursor = fields.String(
        required=True, metadata={"description": "never null: poll again after it"}
    )


class WebhookOut(Schema):
    id = fields.String(required=True)
    url = fields.String(required=True)
    types = fields.List(fields.String(), required=True)
    orgs = fields.List(fields.String(), required=True)
    created_at = _opt_str()


class WebhookCreated(WebhookOut):
    secret = fields.String(
        required=True,
        metadata={"description": "shown once; keys X-Orgauthz-Signature (deprecated)"},
    )
    signing_secret = fields.String(
        required=True,
        metadata={
            "description": "shown once; the Standard Webhooks secret (whsec_<base64>) of "
            "webhook-signature: the same 32 bytes as secret, in standard base64"
        },
    )


class WebhookPage(Schema):
    items = fields.List(fields.Nested(WebhookOut), required=True)
    next_cursor = _opt_str()


class DeliveryOut(Schema):
    id = fields.String(required=True)
    event_id = fields.String(required=True)
    event_type = fields.String(required=True)
    status = fields.String(required=True)
    attempts = fields.Integer(required=True)
    next_attempt_at = _opt_str()
    last_status = fields.Integer(allow_none=True)
    last_error = _opt_str()
    created_at = _opt_str()
    delivered_at = _opt_str()
    log = fields.List(fields.Dict(), required=True)


class DeliveryPage(Schema):
    items = fields.List(fields.Nested(DeliveryOut), required=True)
    next_cursor = _opt_str()


class KeyScopeOut(Schema):
    key = fields.String(required=True)
    service_wide = fields.Boolean(required=True)
    orgs = fields.List(fields.String(), required=True)
