"""What the requests take: the body and query-string schemas of every route (Marshmallow,
the only way a request body gets in), built from the field shapes of
routes/schemas/fields.py."""

import datetime
import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from access.events import EVENT_TYPES
from access.shapes import INVITATION_STATUSES
from routes.schemas.fields import (
    EMAIL,
    ORG_ID,
    EmailText,
    JSONObject,
    MailName,
    Text,
    action_name,
    identifier,
    kind,
    org_id,
    role,
)


class Ref(Schema):
    """A resource named by type and id."""

    type = kind(required=True)
    id = identifier(required=True)


class ResourceRef(Ref):
    """A registered resource, or one described inline (org, parent, owner, attributes)."""

    org = org_id(load_default=None, allow_none=True)
    parent = fields.Nested(Ref, load_default=None, allow_none=True)
    owner = identifier(load_default=None, allow_none=True)
    attributes = JSONObject(load_default=dict)


class ActorRef(Schema):
    id = identifier(required=True)


CONSISTENCY_MODES = ("minimize_latency", "at_least_as_fresh", "fully_consistent")


class Consistency(Schema):
    """How fresh the facts of a decision or list must be (docs/API.md, version 1.1); read by
    routes/decisions.py before the body is loaded."""

    mode = Text(required=True, validate=validate.OneOf(CONSISTENCY_MODES))
    token = Text(
        validate=validate.Length(min=1, max=40),
        metadata={"description": "the X-Consistency-Token of a write (at_least_as_fresh)"},
    )


def _consistency() -> fields.Nested:
    return fields.Nested(Consistency, metadata={"description": "default: minimize_latency"})


def _context() -> JSONObject:
    return JSONObject(
        load_default=dict,
        metadata={
            "description": "version 1.3: the request context the policy may read (name -> "
            "value; each a context attribute a style declares, of its kind: string, boolean, "
            'integer or ip), e.g. {"ip": "203.0.113.7"}. Unknown or ill-typed: a 422 naming '
            "context.<name>"
        },
    )


class AuthorizeRequest(Schema):
    actor = fields.Nested(ActorRef, required=True)
    action = action_name(required=True)
    resource = fields.Nested(ResourceRef, required=True)
    explain = fields.Boolean(load_default=False)
    context = _context()
    consistency = _consistency()


class BatchRequest(Schema):
    checks = fields.List(
        fields.Nested(AuthorizeRequest), required=True, validate=validate.Length(min=1, max=1000)
    )
    consistency = _consistency()


class ActionsRequest(Schema):
    actor = fields.Nested(ActorRef, required=True)
    resource = fields.Nested(ResourceRef, required=True)
    context = _context()
    consistency = _consistency()


class PageArgs(Schema):
    """``?limit=&cursor=`` of every list."""

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = Text(load_default=None)


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
    def not_empty(self, data: dict, **kwargs: Any) -> None:
        if not data:
            raise ValidationError("send at least one of name, legal, billing", "_body")


class RoleRequest(Schema):
    """``PUT /v1/orgs/{org_id}/members/{user_id}``."""

    role = role(required=True)


class RemoveMembersRequest(Schema):
    """``POST /v1/orgs/{org_id}/members/remove``."""

    user_ids = fields.List(identifier(), required=True, validate=validate.Length(min=1, max=500))

    @validates_schema
    def distinct(self, data: dict, **kwargs: Any) -> None:
        ids = data.get("user_ids") or []
        if len(set(ids)) != len(ids):
            raise ValidationError("a user id is listed twice", "user_ids")


class MemberListArgs(PageArgs):
    """``GET /v1/orgs/{org_id}/members?role=&q=&limit=&cursor=``."""

    role = role(load_default=None)
    q = Text(load_default=None, validate=validate.Length(min=1, max=200))


class InvitationItem(Schema):
    email = EmailText(required=True, validate=EMAIL)
    role = role(required=True)
    # The membership lapses this many days after acceptance (a contractor for 30 days).
    membership_days = fields.Integer(load_default=None, validate=validate.Range(min=1, max=3650))


class InvitationBatchRequest(Schema):
    """``POST /v1/orgs/{org_id}/invitations``; the policy's batch limit is checked after."""

    invitations = fields.List(
        fields.Nested(InvitationItem), required=True, validate=validate.Length(min=1, max=1000)
    )


class InvitationListArgs(PageArgs):
    status = Text(load_default=None, validate=validate.OneOf(INVITATION_STATUSES))


class InvitationRolePatch(Schema):
    """``PATCH /v1/orgs/{org_id}/invitations/{invitation_id}``: a pending invitation's role."""

    role = role(required=True)


class UserRequest(Schema):
    """``PUT /v1/users/{user_id}``, and the user of an accepted invitation (with ``id``)."""

    email = EmailText(required=True, validate=EMAIL)
    name = MailName(load_default="", validate=validate.Length(max=200))


class AcceptingUser(UserRequest):
    id = identifier(required=True)


class AcceptInvitationRequest(Schema):
    """``POST /v1/invitations/accept``."""

    token = Text(required=True, validate=validate.Length(min=1, max=200))
    user = fields.Nested(AcceptingUser, required=True)


class UserPatch(Schema):
    """``PATCH /v1/users/{user_id}``."""

    default_org_id = org_id(required=True, allow_none=True)


class PlainPageArgs(PageArgs):
    """Lists with nothing but ``limit`` and ``cursor``; other query parameters are a 422."""


# ---------------------------------------------------------------- resources and grants
class ResourcePut(Schema):
    """``PUT /v1/orgs/{org_id}/resources/{type}/{id}``. On an update, a field left out keeps
    its value; ``null`` clears it (``"parent": null`` moves the resource to the top)."""

    parent = fields.Nested(Ref, allow_none=True)
    owner = identifier(allow_none=True)
    attributes = JSONObject()


class GrantPut(Schema):
    """``PUT .../resources/{type}/{id}/grants/{user_id}``; ``expires_at``: when it lapses."""

    role = role(required=True)
    expires_at = fields.NaiveDateTime(load_default=None, allow_none=True, timezone=datetime.UTC)


class GrantItem(Ref):
    role = role(required=True)


class GrantBatchRequest(Schema):
    """``POST /v1/orgs/{org_id}/members/{user_id}/grants``; the policy sets the limit."""

    grants = fields.List(
        fields.Nested(GrantItem), required=True, validate=validate.Length(min=1, max=1000)
    )

    @validates_schema
    def distinct(self, data: dict, **kwargs: Any) -> None:
        keys = [(g["type"], g["id"]) for g in data.get("grants") or []]
        if len(set(keys)) != len(keys):
            raise ValidationError("a resource is listed twice", "grants")


class ListResourcesRequest(Schema):
    """``POST /v1/authorize/resources``; ``limit`` and ``cursor`` here or in the query."""

    actor = fields.Nested(ActorRef, required=True)
    action = action_name(required=True)
    type = kind(required=True)
    org = org_id(required=True)
    limit = fields.Integer(validate=validate.Range(min=1, max=500))
    cursor = Text()
    consistency = _consistency()


class ListActorsRequest(Schema):
    """``POST /v1/authorize/actors``; ``limit`` and ``cursor`` here or in the query."""

    action = action_name(required=True)
    resource = fields.Nested(ResourceRef, required=True)
    limit = fields.Integer(validate=validate.Range(min=1, max=500))
    cursor = Text()
    consistency = _consistency()


class RecursiveArgs(Schema):
    """``DELETE .../resources/{type}/{id}?recursive=true``."""

    recursive = fields.Boolean(load_default=False)


class AuditListArgs(PageArgs):
    """``GET /v1/orgs/{org_id}/audit?actor=&action=&subject=&since=&until=&order=``."""

    actor = identifier(load_default=None)
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

    parent_type = kind(load_default=None)
    parent_id = identifier(load_default=None)
    type = kind(load_default=None)

    @validates_schema
    def both_or_neither(self, data: dict, **kwargs: Any) -> None:
        if (data.get("parent_type") is None) != (data.get("parent_id") is None):
            raise ValidationError("send parent_type and parent_id together", "parent_id")


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
    org = org_id(load_default=None)
    types = Text(
        load_default=None,
        validate=validate.Length(min=1, max=2000),
        metadata={"description": f"comma-separated: {EVENT_TYPES_TEXT}"},
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))

    @validates_schema
    def types_listed(self, data: dict, **kwargs: Any) -> None:
        if data.get("types") is not None:
            try:
                _event_types(data["types"])
            except ValidationError as exc:
                raise ValidationError(exc.messages, "types") from exc


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
        org_id(),
        load_default=list,
        validate=validate.Length(max=100),
        metadata={
            "description": "the organizations whose events it gets (empty: every one the "
            "API key may see)"
        },
    )


class DeliveryListArgs(PageArgs):
    status = Text(load_default=None, validate=validate.OneOf(["pending", "delivered", "failed"]))


class KeyScopeRequest(Schema):
    """``PUT /v1/keys/{name}/orgs``."""

    orgs = fields.List(
        org_id(),
        required=True,
        allow_none=True,
        validate=validate.Length(max=1000),
        metadata={
            "description": "the organizations the key is bound to (an empty list: none); "
            "null makes it service-wide"
        },
    )
