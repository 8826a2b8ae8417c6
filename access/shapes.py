"""What the management API answers: one Marshmallow schema per shape, which both builds the
answer (``SHAPE.answer(row)``, a fast ``dump``, in the functions of the domain core that
return it) and documents it (routes/schemas/outputs.py hands these classes to the OpenAPI
document).

A schema reads the row's attributes by field name. What the row does not hold (an
invitation's status at a given time, a token shown once, the acting user's role) the caller
computes and hands over with the row in ``Given(row, name=value, ...)``: marshmallow 4 has no
schema context, so these are plain inputs. A field named in a schema's ``GIVEN`` is read
from the given values only and is absent from the answer when not given (``token``,
``role``); any other field falls back to the row. Fields keep the order of the answer.

The event's shape lives with the event types, in access/events.py.
"""

import datetime
from typing import Any, ClassVar

from marshmallow import Schema, fields, missing, validate

INVITATION_STATUSES = ("pending", "accepted", "expired", "cancelled")
MEMBER_STATUSES = ("active", "pending")
NOTHING: dict[str, Any] = {}


def iso(value: datetime.datetime | None) -> str | None:
    """A stored (naive UTC) datetime as ISO 8601 with ``Z``, or None."""
    return value.isoformat(timespec="seconds") + "Z" if value else None


class Given:
    """A row and the values of its answer that the row does not hold, by field name."""

    __slots__ = ("row", "values")

    def __init__(self, row: object, **values: Any) -> None:
        self.row = row
        self.values = values


class Shape(Schema):
    """A schema that dumps a row or a ``Given``: given values first, then the row's
    attributes (plain ``getattr``: the rows are Peewee models).

    ``answer(obj)`` is ``dump(obj)`` made cheap for pages of rows: the same fields, read the
    same way and serialized by the fields' own ``_serialize``, without marshmallow's
    per-field dispatch (a shape has no hooks, defaults or computed fields, which that would
    skip; ``__init__`` checks). tests/access/test_shapes.py holds the two equal.
    """

    GIVEN: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if any(self._hooks.values()):
            raise TypeError(f"{type(self).__name__}: a shape has no pre/post dump hooks")
        plan = []
        for name, field in self.dump_fields.items():
            if not field._CHECK_ATTRIBUTE or field.dump_default is not missing:
                raise TypeError(f"{type(self).__name__}.{name}: a shape reads values as they are")
            attr = field.attribute or name
            plan.append((field.data_key or name, name, attr, attr in self.GIVEN, field._serialize))
        self._plan = tuple(plan)

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        if type(obj) is Given:
            if attr in obj.values:
                return obj.values[attr]
            obj = obj.row
        if attr in self.GIVEN:
            return default
        return getattr(obj, attr, default)

    def answer(self, obj: Any) -> dict[str, Any]:
        """``dump(obj)``: the answer of one row (or ``Given``)."""
        given, row = (obj.values, obj.row) if type(obj) is Given else (NOTHING, obj)
        body: dict[str, Any] = {}
        for key, name, attr, given_only, serialize in self._plan:
            if attr in given:
                value = given[attr]
            elif given_only:
                continue
            else:
                value = getattr(row, attr, missing)
                if value is missing:
                    continue
            body[key] = serialize(value, name, obj)
        return body


class Time(fields.String):
    """A stored datetime, answered as ISO 8601 with ``Z`` (null when there is none)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return iso(value)


class DictOrEmpty(fields.Dict):
    """A JSON object; a row's null is answered as ``{}``."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return super()._serialize(value or {}, attr, obj, **kwargs)


class ListOrEmpty(fields.List):
    """A list; a row's null is answered as ``[]``."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return super()._serialize(value or [], attr, obj, **kwargs)


def opt_str() -> fields.String:
    """Always in the answer, possibly null."""
    return fields.String(required=True, allow_none=True)


def opt_time() -> Time:
    return Time(required=True, allow_none=True)


class UserOut(Shape):
    id = fields.String(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    default_org_id = fields.String(required=True, allow_none=True, attribute="default_org")
    last_active_at = opt_time()
    created_at = opt_time()


class OrganizationOut(Shape):
    GIVEN = frozenset({"role", "initial_resource"})
    id = fields.String(required=True)
    name = fields.String(required=True)
    style = fields.String(required=True)
    legal = DictOrEmpty(required=True)
    billing = DictOrEmpty(required=True)
    created_by = opt_str()
    created_at = opt_time()
    closed_at = opt_time()
    role = fields.String(metadata={"description": "the acting user's role in it"})
    initial_resource = fields.Dict(metadata={"description": "respond.io: the first Space"})


class MemberOut(Shape):
    """An active member (``Given(user, ...)``) or a pending invitation
    (``Given(invitation, ...)``), as the member list shows them."""

    GIVEN = frozenset({"user_id", "status", "joined_at", "invitation_id"})
    user_id = opt_str()
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(MEMBER_STATUSES))
    last_active_at = opt_time()
    joined_at = Time(allow_none=True, metadata={"description": "active members only"})
    invitation_id = fields.String(metadata={"description": "pending invitations only"})
    expires_at = Time(metadata={"description": "pending invitations only"})


class InvitationOut(Shape):
    GIVEN = frozenset({"status", "token"})
    id = fields.String(required=True)
    org_id = fields.String(required=True)
    email = fields.String(required=True)
    role = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(INVITATION_STATUSES))
    expires_at = opt_time()
    invited_by = opt_str()
    created_at = opt_time()
    accepted_by = opt_str()
    ended_at = opt_time()
    membership_days = fields.Integer(
        allow_none=True,
        metadata={"description": "the membership lapses this many days after acceptance"},
    )
    token = fields.String(metadata={"description": "only in the answer that created it"})


class AuditEventOut(Shape):
    GIVEN = frozenset({"summary"})
    id = fields.Integer(required=True)
    org = fields.String(allow_none=True)
    actor = opt_str()
    action = fields.String(required=True)
    target = opt_str()
    summary = fields.String(metadata={"description": "the entry in words: who did what to whom"})
    before = fields.Raw(required=True, allow_none=True)
    after = fields.Raw(required=True, allow_none=True)
    request_id = opt_str()
    api_key = opt_str()
    created_at = opt_time()


class ParentOut(Shape):
    """A resource's parent, by type and id."""

    type = fields.String(required=True)
    id = fields.String(required=True, attribute="rid")


class ResourceOut(Shape):
    """A resource; ``Given(row, parent=<its parent row or None>)``."""

    GIVEN = frozenset({"parent"})
    type = fields.String()
    id = fields.String(attribute="rid")
    org = fields.String(attribute="org_id")
    parent = fields.Nested(ParentOut, allow_none=True)
    owner = fields.String(allow_none=True)
    attributes = fields.Dict(keys=fields.String())
    created_at = Time()
    updated_at = Time()


class GrantOut(Shape):
    """A grant; ``Given(grant, type=..., id=..., org=...)`` of its resource."""

    GIVEN = frozenset({"type", "id", "org"})
    user_id = fields.String()
    type = fields.String()
    id = fields.String()
    org = fields.String()
    role = fields.String()
    created_at = Time()
    expires_at = Time()  # when it lapses; null: never


class ResourceGrantOut(Shape):
    """A grant as a list of the grants on one resource shows it."""

    user_id = fields.String(required=True)
    role = fields.String(required=True)
    created_at = opt_time()
    expires_at = opt_time()


class WebhookOut(Shape):
    id = fields.String(required=True)
    url = fields.String(required=True)
    types = ListOrEmpty(fields.String(), required=True)
    orgs = ListOrEmpty(fields.String(), required=True)
    created_at = opt_time()


class WebhookCreated(WebhookOut):
    """A new endpoint: ``Given(hook, secret=..., signing_secret=...)``."""

    GIVEN = frozenset({"secret", "signing_secret"})
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


class DeliveryOut(Shape):
    """A delivery; ``Given(row, id=..., event_id=..., next_attempt_at=...)``."""

    GIVEN = frozenset({"id", "event_id", "next_attempt_at"})
    id = fields.String(required=True)
    event_id = fields.String(required=True)
    event_type = fields.String(required=True)
    status = fields.String(required=True)
    attempts = fields.Integer(required=True)
    next_attempt_at = Time(
        required=True, allow_none=True, metadata={"description": "while it is pending"}
    )
    last_status = fields.Integer(allow_none=True)
    last_error = opt_str()
    created_at = opt_time()
    delivered_at = opt_time()
    log = ListOrEmpty(fields.Dict(), required=True)


class KeyScopeOut(Shape):
    """An API key's scope; ``Given(row, service_wide=..., orgs=[...])``."""

    GIVEN = frozenset({"service_wide", "orgs"})
    key = fields.String(required=True, attribute="name")
    service_wide = fields.Boolean(required=True)
    orgs = fields.List(fields.String(), required=True)


class TeamOut(Shape):
    """A team; ``Given(team, id=team.tid)``."""

    GIVEN = frozenset({"id"})
    id = fields.String(required=True)
    name = fields.String(required=True)
    role = opt_str()
    created_at = opt_time()


class TeamMemberOut(Shape):
    """A member's place in a team."""

    user_id = fields.String(required=True)
    expires_at = opt_time()


class TeamGrantOut(Shape):
    """A team's role on a resource; ``Given(grant, type=..., id=...)`` of its resource."""

    GIVEN = frozenset({"type", "id"})
    type = fields.String(required=True)
    id = fields.String(required=True)
    role = fields.String(required=True)
    expires_at = opt_time()


USER = UserOut()
ORGANIZATION = OrganizationOut()
MEMBER = MemberOut()
INVITATION = InvitationOut()
AUDIT_EVENT = AuditEventOut()
RESOURCE = ResourceOut()
GRANT = GrantOut()
RESOURCE_GRANT = ResourceGrantOut()
WEBHOOK = WebhookOut()
WEBHOOK_CREATED = WebhookCreated()
DELIVERY = DeliveryOut()
KEY_SCOPE = KeyScopeOut()
TEAM = TeamOut()
TEAM_MEMBER = TeamMemberOut()
TEAM_GRANT = TeamGrantOut()
