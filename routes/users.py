"""Users: ``/v1/users``. HTTP only: parse, call access/users.py, dump.

These calls act for the user in the path: ``X-Actor-Id`` is optional and, when sent, must be
that user (403 otherwise). An API key bound to organizations sees a user who is a member of
one of them (or of none; others are a 404) and changes or erases only one who belongs to
nothing outside them (403 otherwise; access/keys.py).
"""

from flask import Blueprint, g
from flask.typing import ResponseReturnValue

from access import keys, users
from access.errors import Invalid
from routes.context import acting_user, ctx, list_args, load, touch_last_active
from routes.openapi import doc
from routes.pagination import decode, listed
from routes.schemas import ErasedOut, PlainPageArgs, UserOrgPage, UserOut, UserPatch, UserRequest

bp = Blueprint("users", __name__, url_prefix="/v1/users")


def _as(user_id: str, change: bool = False) -> None:
    """Check ``X-Actor-Id`` (optional, must be ``user_id``), that the API key's scope sees
    the user (and may ``change`` them: access/keys.py), and mark the user active. Raises
    Forbidden, NotFound."""
    if acting_user(required=False, must_be=user_id):
        touch_last_active(user_id)
    keys.require_user(g.key_orgs, user_id, change)


@bp.put("/<user_id>")
@doc(request=UserRequest, response=UserOut)
def put_user(user_id: str) -> ResponseReturnValue:
    """Create or update a user's email and name (200 either way). 422, 403, 409 (the email
    belongs to another user)."""
    body = load(UserRequest)
    _as(user_id, change=True)
    return users.put(ctx(user_id), user_id, body["email"], body["name"])


@bp.get("/<user_id>")
@doc(response=UserOut)
def get_user(user_id: str) -> ResponseReturnValue:
    """The user. 404, 403."""
    _as(user_id)
    return users.as_dict(users.user_or_404(user_id))


@bp.patch("/<user_id>")
@doc(request=UserPatch, response=UserOut)
def patch_user(user_id: str) -> ResponseReturnValue:
    """Set (or clear, with null) the default organization, which must be one the user
    belongs to. 422 (not a member of it), 404, 403."""
    body = load(UserPatch)
    _as(user_id)
    if keys.outside(g.key_orgs, body["default_org_id"]):  # as an org the user is not in
        raise Invalid(
            f"{user_id} is not a member of {body['default_org_id']!r}",
            {"default_org_id": ["must be an organization the user belongs to"]},
        )
    return users.set_default_org(ctx(user_id), user_id, body["default_org_id"])


@bp.get("/<user_id>/orgs")
@doc(query=PlainPageArgs, response=UserOrgPage)
def user_orgs(user_id: str) -> ResponseReturnValue:
    """The organizations the user belongs to, each with the user's role, by id, paginated.
    404, 403, 422."""
    _as(user_id)
    args = list_args(PlainPageArgs)
    after = decode(args["cursor"], "str")
    return listed(users.orgs_page(user_id, args["limit"], after, g.key_orgs))


@bp.delete("/<user_id>")
@doc(response=ErasedOut)
def erase_user(user_id: str) -> ResponseReturnValue:
    """Erase the user (a privacy request): memberships, grants, pending invitations and the
    profile go; the audit trail and the events keep their entries under a pseudonym (in the
    answer). 404, 403 (X-Actor-Id of another user), 409 (naming the orgs where the user is
    the last holder of the top role)."""
    acting_user(required=False, must_be=user_id)  # not marked active: they are going
    keys.require_user(g.key_orgs, user_id, change=True)
    return users.erase(ctx(None), user_id)
