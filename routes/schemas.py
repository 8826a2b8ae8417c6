"""Marshmallow schemas: the only way a request body gets in.

Every string a request schema takes is a ``Text`` (or ``EmailText``), every free-form
object a ``JSONObject``: none may hold a NUL character (PostgreSQL refuses it in text) or a
lone surrogate (no database can encode it), so such input is a 422 naming the field, never
a database error. Every length limit fits the column the value is stored in
(tests/routes/test_limits.py reads both).
"""

import datetime
import json
import re

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from access.decisions import new_decision_id as new_id
from access.events import EVENT_TYPES
from access.mail import header_unsafe

# NUL, and the UTF-16 surrogate range: a str holds one only when it came unpaired
# (JSON's "\ud800"); a paired one was already decoded to its code point.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE = "must not contain NUL (U+0000) or an unpaired surrogate (U+D800-U+DFFF)"


def storable(text: str) -> bool:
    """Whether every database can store ``text``."""
    return _UNSTORABLE.search(text) is None


class Text(fields.String):
    """A string any database can store: no NUL, no lone surrogate (422 naming the field)."""

    default_error_messages = {"unstorable": UNSTORABLE}

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not storable(text):
            raise self.make_error("unstorable")
        return text


class EmailText(Text, fields.Email):
    """An email address that is also ``Text``."""


class MailName(Text):
    """A name that may reach a mail header (an organization's, a user's): ``Text`` with no
    line break and no encoded word (``=?...?=``) that decodes to a control character (422
    naming the field; access/mail.py)."""

    default_error_messages = {
        "header_unsafe": "must not contain a line break (CR, LF) or an encoded word "
        "(=?...?=) that decodes to a control character: it is shown in mail headers"
    }

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if header_unsafe(text):
            raise self.make_error("header_unsafe")
        return text


class JSONObject(fields.Dict):
    """A JSON object stored or shown as given (attributes, legal, billing): string keys, and
    no key or string anywhere inside holds NUL or a lone surrogate."""

    default_error_messages = {
        "unstorable": f"no key or string in it {UNSTORABLE}",
        "too_large": "at most {max_bytes} bytes as JSON",
    }
    # An object is kept with its resource and may be shown to the policy: bounded, so that
    # what callers send cannot grow a worker's caches (a decision's view keeps only the
    # attributes its policy reads; the fact cache keeps stored resources whole).
    MAX_BYTES = 4096

    def __init__(self, **kwargs):
        super().__init__(keys=fields.String(), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        obj = super()._deserialize(value, attr, data, **kwargs)
        if (
            len(json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass"))
            > self.MAX_BYTES
        ):
            raise self.make_error("too_large", max_bytes=self.MAX_BYTES)
        stack = [obj]
        while stack:  # iteratively: load() already refused bodies nested past MAX_DEPTH
            item = stack.pop()
            if isinstance(item, str):
                if not storable(item):
                    raise self.make_error("unstorable")
            elif isinstance(item, dict):
                stack.extend(item.keys())
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
        return obj


# Each limit is the length of the column the value lands in (models/): ids of users and
# resources 200, organization ids and resource types 64, roles 64, emails 320.
ID = validate.Length(min=1, max=200)
NAME = validate.Length(min=1, max=100)  # actions: never stored
ROLE = validate.Length(min=1, max=64)
TYPE = validate.Length(min=1, max=64)
ORG_ID = validate.Length(min=1, max=64)
EMAIL = validate.Length(max=320)

# X-Request-Id: kept when it fits audit_event.request_id and is visible ASCII, else replaced.
REQUEST_ID_MAX = 100
_REQUEST_ID = re.compile(f"[\x21-\x7e]{{1,{REQUEST_ID_MAX}}}")


def request_id(header: str | None) -> str:
    """The request id: the caller's ``X-Request-Id`` when it is 1 to 100 visible ASCII
    characters, else a generated one (never an error: the id is for correlating logs).
    Generated ids are a per-process random prefix and a counter (32 hex digits, as a uuid4
    was): ``os.urandom`` costs tens of microseconds per call on some VMs."""
    if header:
        header = header.strip()
        if _REQUEST_ID.fullmatch(header):
            return header
    return new_id()


class Ref(Schema):
    """A resource named by type and id."""

    type = Text(required=True, validate=TYPE)
    id = Text(required=True, validate=ID)


class ResourceRef(Ref):
    """A registered resource, or one described inline (org, parent, owner, attributes)."""

    org = Text(load_default=None, allow_none=True, validate=ORG_ID)
    parent = fields.Nested(Ref, load_default=None, allow_none=True)
    owner = Text(load_default=None, allow_none=True, validate=ID)
    attributes = JSONObject(load_default=dict)


class ActorRef(Schema):
    id = Text(required=True, validate=ID)


CONSISTENCY_MODES = ("minimize_latency", "at_least_as_fresh", "fully_consistent")


class Consistency(Schema):
    """How fresh the facts of a decision or list must be (docs/API.md, version 1.1); read by
    routes/decisions.py before the body is loaded."""

    mode = Text(required=True, validate=validate.OneOf(CONSISTENCY_MODES))
    token = Text(
        validate=validate.Length(min=1, max=40),
        metadata={"description": "the X-Consistency-Token of a write (at_least_as_fresh)"},
    )


def _consistency():
    return fields.Nested(Consistency, metadata={"description": "default: minimize_latency"})


def _consistency_token():
    return fields.String(metadata={"description": "the change position it was decided at"})


class AuthorizeRequest(Schema):
    actor = fields.Nested(ActorRef, required=True)
    action = Text(required=True, validate=NAME)
    resource = fields.Nested(ResourceRef, required=True)
    explain = fields.Boolean(load_default=False)
    consistency = _consistency()


class BatchRequest(Schema):
    checks = fields.List(
        fields.Nested(AuthorizeRequest), required=True, validate=validate.Length(min=1, max=1000)
    )
    consistency = _consistency()


class ActionsRequest(Schema):
    actor = fields.Nested(ActorRef, required=True)
    resource = fields.Nested(ResourceRef, required=True)
    consistency = _consistency()


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


class PageArgs(Schema):
    """``?limit=&cursor=`` of every list."""

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = Text(load_default=None)


# ---------------------------------------------------------------- management
ORG_ID = validate.Length(min=1, max=64)
EMAIL = validate.Length(max=320)


class NewOrganizationRequest(Schema):
    """``POST /v1/orgs``."""

    id = Text(
        load_default=None,
        validate=[
            ORG_ID,
            validate.Regexp(
                r"^[A-Za-z0-9][A-Za-z0-9._-]*$", error="letters, digits, '.', '_' and '-' only"
            ),
        ],
    )
    name = MailName(required=True, validate=validate.Length(min=1, max=200))
    style = Text(required=True, validate=validate.Length(min=1, max=32))
    legal = JSONObject(load_default=dict)
    billing = JSONObject(load_default=dict)


class OrganizationPatch(Schema):
    """``PATCH /v1/orgs/{org_id}``: any of name, legal, billing (each its own action)."""

    name = MailName(validate=validate.Length(min=1, max=200))
    legal = JSONObject()
    billing = JSONObject()

    @validates_schema
    def not_empty(self, data, **kwargs):
        if not data:
            raise ValidationError("send at least one of name, legal, billing", "_body")


class RoleRequest(Schema):
    """``PUT /v1/orgs/{org_id}/members/{user_id}``."""

    role = Text(required=True, validate=ROLE)


class RemoveMembersRequest(Schema):
    """``POST /v1/orgs/{org_id}/members/remove``."""

    user_ids = fields.List(
        Text(validate=ID), required=True, validate=validate.Length(min=1, max=500)
    )

    @validates_schema
    def distinct(self, data, **kwargs):
        ids = data.get("user_ids") or []
        if len(set(ids)) != len(ids):
            raise ValidationError("a user id is listed twice", "user_ids")


class MemberListArgs(PageArgs):
    """``GET /v1/orgs/{org_id}/members?role=&q=&limit=&cursor=``."""

    role = Text(load_default=None, validate=ROLE)
    q = Text(load_default=None, validate=validate.Length(min=1, max=200))


class InvitationItem(Schema):
    email = EmailText(required=True, validate=EMAIL)
    role = Text(required=True, validate=ROLE)


class InvitationBatchRequest(Schema):
    """``POST /v1/orgs/{org_id}/invitations``; the policy's batch limit is checked after."""

    invitations = fields.List(
        fields.Nested(InvitationItem), required=True, validate=validate.Length(min=1, max=1000)
    )


INVITATION_STATUSES = ("pending", "accepted", "expired", "cancelled")


class InvitationListArgs(PageArgs):
    status = Text(load_default=None, validate=validate.OneOf(INVITATION_STATUSES))


class InvitationRolePatch(Schema):
    """``PATCH /v1/orgs/{org_id}/invitations/{invitation_id}``: a pending invitation's role."""

    role = Text(required=True, validate=ROLE)


class UserRequest(Schema):
    """``PUT /v1/users/{user_id}``, and the user of an accepted invitation (with ``id``)."""

    email = EmailText(required=True, validate=EMAIL)
    name = MailName(load_default="", validate=validate.Length(max=200))


class AcceptingUser(UserRequest):
    id = Text(required=True, validate=ID)


class AcceptInvitationRequest(Schema):
    """``POST /v1/invitations/accept``."""

    token = Text(required=True, validate=validate.Length(min=1, max=200))
    user = fields.Nested(AcceptingUser, required=True)


class UserPatch(Schema):
    """``PATCH /v1/users/{user_id}``."""

    default_org_id = Text(required=True, allow_none=True, validate=ORG_ID)


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
    org = fields.String(allow_none=True)
    summary = fields.String(metadata={"description": "the entry in words: who did what to whom"})


class AuditPage(Schema):
    items = fields.List(fields.Nested(AuditEventOut), required=True)
    next_cursor = _opt_str()


# ---------------------------------------------------------------- resources and grants
class ResourcePut(Schema):
    """``PUT /v1/orgs/{org_id}/resources/{type}/{id}``. On an update, a field left out keeps
    its value; ``null`` clears it (``"parent": null`` moves the resource to the top)."""

    parent = fields.Nested(Ref, allow_none=True)
    owner = Text(allow_none=True, validate=ID)
    attributes = JSONObject()


class GrantPut(Schema):
    """``PUT .../resources/{type}/{id}/grants/{user_id}``."""

    role = Text(required=True, validate=ROLE)


class GrantItem(Ref):
    role = Text(required=True, validate=ROLE)


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
    action = Text(required=True, validate=NAME)
    type = Text(required=True, validate=TYPE)
    org = Text(required=True, validate=ORG_ID)
    limit = fields.Integer(validate=validate.Range(min=1, max=500))
    cursor = Text()
    consistency = _consistency()


class ListActorsRequest(Schema):
    """``POST /v1/authorize/actors``; ``limit`` and ``cursor`` here or in the query."""

    action = Text(required=True, validate=NAME)
    resource = fields.Nested(ResourceRef, required=True)
    limit = fields.Integer(validate=validate.Range(min=1, max=500))
    cursor = Text()
    consistency = _consistency()


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


class RecursiveArgs(Schema):
    """``DELETE .../resources/{type}/{id}?recursive=true``."""

    recursive = fields.Boolean(load_default=False)


# ---------------------------------------------------------------- 1.1: reads
class MemberDetailOut(MemberOut):
    grants = fields.List(fields.Dict(), required=True)


class AuditListArgs(PageArgs):
    """``GET /v1/orgs/{org_id}/audit?actor=&action=&subject=&since=&until=&order=``."""

    actor = Text(load_default=None, validate=ID)
    action = Text(load_default=None, validate=validate.Length(min=1, max=64))
    subject = Text(
        load_default=None,
        validate=validate.Length(min=3, max=400),
        metadata={
            "description": "a target: organization:<id>, user:<id>, invitation:<id>, "
            "resource:<Type>/<id>, grant:<Type>/<id>/<user id>"
        },
    )
    since = fields.NaiveDateTime(load_default=None, timezone=datetime.UTC)
    until = fields.NaiveDateTime(load_default=None, timezone=datetime.UTC)
    order = Text(load_default="asc", validate=validate.OneOf(["asc", "desc"]))


class ResourceListArgs(PageArgs):
    """``GET /v1/orgs/{org_id}/resources?parent_type=&parent_id=&type=``: the children of
    a parent (both given), or the org's top level (neither)."""

    parent_type = Text(load_default=None, validate=TYPE)
    parent_id = Text(load_default=None, validate=ID)
    type = Text(load_default=None, validate=TYPE)

    @validates_schema
    def both_or_neither(self, data, **kwargs):
        if (data.get("parent_type") is None) != (data.get("parent_id") is None):
            raise ValidationError("send parent_type and parent_id together", "parent_id")


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


# ---------------------------------------------------------------- 1.1: events and webhooks
EVENT_TYPES_TEXT = ", ".join(EVENT_TYPES)
_EVENT_TYPE = re.compile(r"^[a-z_]+\.[a-z_]+$")


def _event_types(text: str) -> list:
    types = [t.strip() for t in text.split(",") if t.strip()]
    if not types or len(types) > 50 or not all(_EVENT_TYPE.match(t) for t in types):
        raise ValidationError(f"a comma-separated list of event types: {EVENT_TYPES_TEXT}")
    return types


class EventListArgs(Schema):
    """``GET /v1/events?after=&org=&types=&limit=``."""

    after = Text(load_default=None, metadata={"description": "the next_cursor of a page"})
    org = Text(load_default=None, validate=ORG_ID)
    types = Text(
        load_default=None,
        validate=validate.Length(min=1, max=2000),
        metadata={"description": f"comma-separated: {EVENT_TYPES_TEXT}"},
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))

    @validates_schema
    def types_listed(self, data, **kwargs):
        if data.get("types") is not None:
            try:
                _event_types(data["types"])
            except ValidationError as exc:
                raise ValidationError(exc.messages, "types") from exc


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


class WebhookRequest(Schema):
    """``POST /v1/webhooks``."""

    url = Text(required=True, validate=validate.Length(min=8, max=2000))
    types = fields.List(
        Text(validate=validate.Length(min=3, max=64)),
        load_default=list,
        validate=validate.Length(max=50),
        metadata={"description": f"event types (empty: all): {EVENT_TYPES_TEXT}"},
    )
    orgs = fields.List(
        Text(validate=ORG_ID),
        load_default=list,
        validate=validate.Length(max=100),
        metadata={
            "description": "the organizations whose events it gets (empty: every one the "
            "API key may see)"
        },
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


class DeliveryListArgs(PageArgs):
    status = Text(load_default=None, validate=validate.OneOf(["pending", "delivered", "failed"]))


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


__all__ = [
    "EmailText",
    "JSONObject",
    "Text",
    "request_id",
    "storable",
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


class KeyScopeRequest(Schema):
    """``PUT /v1/keys/{name}/orgs``."""

    orgs = fields.List(
        Text(validate=ORG_ID),
        required=True,
        allow_none=True,
        validate=validate.Length(max=1000),
        metadata={
            "description": "the organizations the key is bound to (an empty list: none); "
            "null makes it service-wide"
        },
    )


class KeyScopeOut(Schema):
    key = fields.String(required=True)
    service_wide = fields.Boolean(required=True)
    orgs = fields.List(fields.String(), required=True)
