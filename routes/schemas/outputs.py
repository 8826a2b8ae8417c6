"""What the routes answer, for the OpenAPI document.

The management API's shapes (an organization, a member, an invitation, ...) are defined once,
in the domain core that builds them (access/shapes.py, and the event's in access/events.py),
and imported here; this module adds the envelopes (pages, batches) and the decision answers.
"""

from marshmallow import Schema, fields

from access.events import EventOut  # noqa: F401 -- defined once, in the core
from access.shapes import (  # noqa: F401 -- defined once, in the core
    AuditEventOut,
    DeliveryOut,
    GrantOut,
    InvitationOut,
    KeyScopeOut,
    MemberOut,
    OrganizationOut,
    ResourceGrantOut,
    ResourceOut,
    UserOut,
    WebhookCreated,
    WebhookOut,
)


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


# The envelopes of the management endpoints' answers.
def _opt_str() -> fields.String:
    return fields.String(required=True, allow_none=True)


class MemberPage(Schema):
    items = fields.List(fields.Nested(MemberOut), required=True)
    next_cursor = _opt_str()


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


class AuditPage(Schema):
    items = fields.List(fields.Nested(AuditEventOut), required=True)
    next_cursor = _opt_str()


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


class EventPage(Schema):
    items = fields.List(fields.Nested(EventOut), required=True)
    next_cursor = fields.String(
        required=True, metadata={"description": "never null: poll again after it"}
    )


class WebhookPage(Schema):
    items = fields.List(fields.Nested(WebhookOut), required=True)
    next_cursor = _opt_str()


class DeliveryPage(Schema):
    items = fields.List(fields.Nested(DeliveryOut), required=True)
    next_cursor = _opt_str()
