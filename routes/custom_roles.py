"""An organization's own roles: ``/v1/orgs/{org_id}/roles``. HTTP only: parse, call
access/custom_roles.py, answer."""

from flask import Blueprint
from flask.typing import ResponseReturnValue

from access import custom_roles
from access.errors import Invalid
from routes.context import acting, ctx, load
from routes.openapi import doc
from routes.schemas.custom_roles import (
    CustomRoleCreate,
    CustomRoleDetailOut,
    CustomRoleOut,
    CustomRoleUpdate,
    RolesOut,
)

bp = Blueprint("custom_roles", __name__, url_prefix="/v1/orgs/<org_id>/roles")


@bp.get("")
@doc(response=RolesOut)
def list_roles(org_id: str) -> ResponseReturnValue:
    """The style's roles, the org's own roles, and what its own may give; action
    ``view_members``. 404, 403."""
    actor = acting()
    return custom_roles.list_roles(ctx(actor), actor, org_id)


@bp.post("")
@doc(request=CustomRoleCreate, response=CustomRoleOut, status=201)
def create_role(org_id: str) -> ResponseReturnValue:
    """Define a role (``define`` on a CustomRole: never one that gives more than the actor
    holds). 201. 422 (a permission the style does not let be delegated), 409 (the key is
    taken), 404, 403 (the policy's reason)."""
    body = load(CustomRoleCreate)
    actor = acting()
    found = custom_roles.create(
        ctx(actor), actor, org_id, body["key"], body["name"], body["permissions"]
    )
    return found, 201


@bp.get("/<key>")
@doc(response=CustomRoleDetailOut)
def get_role(org_id: str, key: str) -> ResponseReturnValue:
    """One of the org's roles, with where it is held; action ``view_members``."""
    actor = acting()
    return custom_roles.get(ctx(actor), actor, org_id, key)


@bp.patch("/<key>")
@doc(request=CustomRoleUpdate, response=CustomRoleOut)
def update_role(org_id: str, key: str) -> ResponseReturnValue:
    """Rename a role or change what it gives (its holders gain or lose it at once)."""
    body = load(CustomRoleUpdate)
    if not body:
        raise Invalid("nothing to change", {"_body": ["give name or permissions"]})
    actor = acting()
    return custom_roles.update(
        ctx(actor), actor, org_id, key, body.get("name"), body.get("permissions")
    )


@bp.delete("/<key>")
@doc(status=204)
def delete_role(org_id: str, key: str) -> ResponseReturnValue:
    """Delete a role nothing holds or offers. 204. 409 naming where it is in use."""
    actor = acting()
    custom_roles.delete(ctx(actor), actor, org_id, key)
    return "", 204
