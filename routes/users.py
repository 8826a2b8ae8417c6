"""Users: ``/v1/users``. HTTP only: parse, call access/users.py, dump.

These calls act for the user in the path: ``X-Actor-Id`` is optional and, when sent, must be
that user (403 otherwise).
"""

from flask import Blueprint

from access import users
from routes.context import acting_user, ctx, list_args, load, touch_last_active
from routes.openapi import doc
from routes.pagination import decode, listed
from routes.schemas import ErasedOut, PlainPageArgs, UserOrgPage, UserOut, UserPatch, UserRequest

bp = Blueprint("users", __name__, url_prefix="/v1/users")


def _as(user_id: str) -> None:
    """Check ``X-Actor-Id`` (optional, must be ``user_id``) and mark the user active.
    Raises ApiError 403."""
    if acting_user(required=False, must_be=user_id):
        touch_last_active(user_id)


@bp.put("/<user_id>")
@doc(request=UserRequest, response=UserOut)
def put_user(user_id):
    """Create or update a user's email and name (200 either way). 422, 403, 409 (the email
    belongs to another user)."""
    body = load(UserRequest)
    _as(user_id)
    return users.put(ctx(user_id), user_id, body["email"], body["name"])


@bp.get("/<user_id>")
@doc(response=UserOut)
def get_user(user_id):
    """The user. 404, 403."""
    _as(user_id)
    return users.as_dict(users.user_or_404(user_id))


@bp.patch("/<user_id>")
@doc(request=UserPatch, response=UserOut)
def patch_user(user_id):
    """Set (or clear, with null) the default organization, which must be one the user
    belongs to. 422 (not a member of it), 404, 403."""
    body = load(UserPatch)
    _as(user_id)
    return users.set_default_org(ctx(user_id), user_id, body["default_org_id"])


@bp.get("/<user_id>/orgs")
@doc(query=PlainPageArgs, response=UserOrgPage)
def user_orgs(user_id):
    """The organizations the user belongs to, each with the user's role, by id, paginated.
    404, 403, 422."""
    _as(user_id)
    args = list_args(PlainPageArgs)
    return listed(users.orgs_page(user_id, args["limit"], decode(args["cursor"], "str")))


@bp.delete("/<user_id>")
@doc(response=ErasedOut)
def erase_user(user_id):
    """Erase the user (a privacy request): memberships, grants, pending invitations and the
    profile go; the audit trail and the events keep their entries under a pseudonym (in the
    answer). 404, 403 (X-Actor-Id of another user), 409 (naming the orgs where the user is
    the last holder of the top role)."""
    acting_user(required=False, must_be=user_id)  # not marked active: they are going
    return users.erase(ctx(None), user_id)
