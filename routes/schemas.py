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


class PageArgs(Schema):
    """``?limit=&cursor=`` of every list."""

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(load_default=None)


__all__ = [
    "ActionsRequest", "AuthorizeRequest", "BatchRequest", "PageArgs", "ResourceRef",
    "Schema", "ValidationError", "fields", "validate", "validates_schema",
]
