"""The schemas of an organization's own roles (``/v1/orgs/{org_id}/roles``, docs/API.md
1.3 "Custom roles"): a key ``custom:<name>``, a name, and the permissions it gives, each a
resource type and one of its permissions that the organization's style lets be delegated."""

from marshmallow import Schema, fields, validate

from access.custom_roles import KEY, MAX_PERMISSIONS
from routes.schemas.fields import Text

ROLE_KEY = validate.Regexp(
    KEY, error="custom: then a lowercase letter and up to 56 of a-z 0-9 _ (custom:billing)"
)


class Permission(Schema):
    """One permission a role gives: ``{"type": "Dataset", "permission": "view"}``."""

    type = Text(required=True, validate=validate.Length(min=1, max=64))
    permission = Text(required=True, validate=validate.Length(min=1, max=64))


def permissions(**options: object) -> fields.List:
    return fields.List(
        fields.Nested(Permission),
        validate=validate.Length(min=1, max=MAX_PERMISSIONS),
        **options,  # type: ignore[arg-type]
    )


class CustomRoleCreate(Schema):
    """``POST /v1/orgs/{org_id}/roles``."""

    key = Text(required=True, validate=[validate.Length(min=1, max=64), ROLE_KEY])
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    permissions = permissions(required=True)


class CustomRoleUpdate(Schema):
    """``PATCH /v1/orgs/{org_id}/roles/{key}``: a new name, new permissions, or both."""

    name = Text(validate=validate.Length(min=1, max=200))
    permissions = permissions()


class CustomRoleOut(Schema):
    """A role an organization defined."""

    key = fields.String(required=True)
    name = fields.String(required=True)
    permissions = fields.List(fields.Nested(Permission), required=True)
    created_at = fields.String(allow_none=True)
    updated_at = fields.String(allow_none=True)
    created_by = fields.String(allow_none=True)


class CustomRoleUses(Schema):
    """Where a role is held or offered, by kind (a count each)."""

    memberships = fields.Integer(required=True)
    invitations = fields.Integer(required=True)
    join_requests = fields.Integer(required=True)
    grants = fields.Integer(required=True)
    teams = fields.Integer(required=True)
    team_grants = fields.Integer(required=True)
    domains = fields.Integer(required=True)


class CustomRoleDetailOut(CustomRoleOut):
    """``GET /v1/orgs/{org_id}/roles/{key}``: the role and where it is held (``uses``)."""

    uses = fields.Nested(CustomRoleUses, required=True)


class RolesOut(Schema):
    """``GET /v1/orgs/{org_id}/roles``: the style's roles, the organization's own, and what
    its own may give."""

    builtin = fields.List(fields.String(), required=True)
    items = fields.List(fields.Nested(CustomRoleOut), required=True)
    delegable = fields.List(fields.Nested(Permission), required=True)
