"""Users as the calling service syncs them from its identity provider, their default
organization and the organizations they belong to.

These calls act for the user in the path: ``X-Actor-Id`` is optional and, when sent, must be
that user (403 otherwise).
"""

from flask import Blueprint

from access.errors import ApiError
from models import Membership, Organization, User, transaction
from routes.context import acting_user, audit, load, now, touch_last_active
from routes.openapi import doc
from routes.orgs import conflict_is_409, iso, list_args
from routes.pagination import decode, encode
from routes.schemas import PlainPageArgs, UserOrgPage, UserOut, UserPatch, UserRequest

bp = Blueprint("users", __name__, url_prefix="/v1/users")


def dump_user(user: User) -> dict:
    """The API form of a user."""
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "default_org_id": user.default_org,
        "last_active_at": iso(user.last_active_at),
        "created_at": iso(user.created_at),
    }


def _as(user_id: str) -> None:
    """Check ``X-Actor-Id`` (optional, must be ``user_id``) and mark the user active.
    Raises ApiError 403."""
    if acting_user(required=False, must_be=user_id):
        touch_last_active(user_id)


def _user_or_404(user_id: str) -> User:
    user = User.get_or_none(User.id == user_id)
    if user is None:
        raise ApiError(404, f"no user {user_id!r}")
    return user


@bp.put("/<user_id>")
@doc(request=UserRequest, response=UserOut)
def put_user(user_id):
    """Create or update a user's email and name (200 either way). Raises ApiError 422, 403,
    409 (the email belongs to another user)."""
    body = load(UserRequest)
    _as(user_id)
    email_key = User.email_key_of(body["email"])
    with conflict_is_409(), transaction():
        holder = User.get_or_none(User.email_key == email_key)
        if holder is not None and holder.id != user_id:
            raise ApiError(
                409, f"the email {body['email']!r} belongs to another user", {"email": ["taken"]}
            )
        user = User.get_or_none(User.id == user_id)
        created = user is None
        before = None if created else {"email": user.email, "name": user.name}
        if created:
            user = User.create(
                id=user_id,
                email=body["email"],
                email_key=email_key,
                name=body["name"],
                created_at=now(),
            )
        else:
            user.email, user.email_key, user.name = body["email"], email_key, body["name"]
            user.save()
        after = {"email": user.email, "name": user.name}
        if before != after:
            audit(
                None,
                "user.create" if created else "user.update",
                f"user:{user_id}",
                before,
                after,
                user_id,
            )
    return dump_user(user)


@bp.get("/<user_id>")
@doc(response=UserOut)
def get_user(user_id):
    """The user. Raises ApiError 404, 403."""
    _as(user_id)
    return dump_user(_user_or_404(user_id))


@bp.patch("/<user_id>")
@doc(request=UserPatch, response=UserOut)
def patch_user(user_id):
    """Set (or clear, with null) the default organization, which must be one the user
    belongs to. Raises ApiError 422 (not a member of it), 404, 403."""
    body = load(UserPatch)
    _as(user_id)
    org_id = body["default_org_id"]
    with transaction():
        user = _user_or_404(user_id)
        if (
            org_id is not None
            and not Membership.select()
            .where((Membership.user == user_id) & (Membership.org == org_id))
            .exists()
        ):
            raise ApiError(
                422,
                f"{user_id} is not a member of {org_id!r}",
                {"default_org_id": ["must be an organization the user belongs to"]},
            )
        before = user.default_org
        user.default_org = org_id
        user.save()
        if before != org_id:
            audit(
                None,
                "user.default_org",
                f"user:{user_id}",
                {"default_org_id": before},
                {"default_org_id": org_id},
                user_id,
            )
    return dump_user(user)


@bp.get("/<user_id>/orgs")
@doc(query=PlainPageArgs, response=UserOrgPage)
def user_orgs(user_id):
    """The organizations the user belongs to, each with the user's role, by id, paginated.
    Raises ApiError 404, 403, 422."""
    _as(user_id)
    args = list_args(PlainPageArgs)
    user = _user_or_404(user_id)
    after = decode(args["cursor"]) if args["cursor"] else None
    if after is not None and not isinstance(after, str):
        raise ApiError(422, "the cursor is not one this service gave", {"cursor": ["invalid"]})
    query = (
        Membership.select(Membership, Organization)
        .join(Organization)
        .where(Membership.user == user_id)
    )
    if after is not None:
        query = query.where(Organization.id > after)
    rows = list(query.order_by(Organization.id).limit(args["limit"] + 1))
    more = len(rows) > args["limit"]
    rows = rows[: args["limit"]]
    items = [
        {
            "id": m.org.id,
            "name": m.org.name,
            "style": m.org.style,
            "role": m.role,
            "closed_at": iso(m.org.closed_at),
            "is_default": m.org.id == user.default_org,
        }
        for m in rows
    ]
    return {"items": items, "next_cursor": encode(rows[-1].org.id) if more else None}
