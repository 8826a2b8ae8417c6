"""Users as the calling service syncs them from its identity provider, their default
organization and the organizations they belong to."""

from access.context import Context
from access.errors import ApiError
from access.orgs import conflict_is_409, iso
from access.uow import UnitOfWork
from models import Membership, Organization, User


def as_dict(user: User) -> dict:
    """The API form of a user."""
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "default_org_id": user.default_org,
        "last_active_at": iso(user.last_active_at),
        "created_at": iso(user.created_at),
    }


def user_or_404(user_id: str) -> User:
    """The user. Raises ApiError 404."""
    user = User.get_or_none(User.id == user_id)
    if user is None:
        raise ApiError(404, f"no user {user_id!r}")
    return user


def put(ctx: Context, user_id: str, email: str, name: str) -> dict:
    """Create or update a user's email and name. Raises ApiError 409 (the email belongs to
    another user)."""
    email_key = User.email_key_of(email)
    with conflict_is_409(), UnitOfWork(ctx, lock_users=[user_id]) as uow:
        holder = User.get_or_none(User.email_key == email_key)
        if holder is not None and holder.id != user_id:
            raise ApiError(
                409, f"the email {email!r} belongs to another user", {"email": ["taken"]}
            )
        user = User.get_or_none(User.id == user_id)
        created = user is None
        before = None if created else {"email": user.email, "name": user.name}
        if created:
            user = User.create(
                id=user_id, email=email, email_key=email_key, name=name, created_at=ctx.now()
            )
        else:
            user.email, user.email_key, user.name = email, email_key, name
            user.save()
        after = {"email": user.email, "name": user.name}
        if before != after:
            uow.audit(
                None,
                "user.create" if created else "user.update",
                f"user:{user_id}",
                before,
                after,
                user_id,
            )
    return as_dict(user)


def set_default_org(ctx: Context, user_id: str, org_id: str | None) -> dict:
    """Set (or clear, with None) the default organization, which must be one the user
    belongs to. Raises ApiError 422 (not a member of it), 404."""
    with UnitOfWork(ctx, org_id, lock_users=[user_id]) as uow:
        user = user_or_404(user_id)
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
            uow.audit(
                None,
                "user.default_org",
                f"user:{user_id}",
                {"default_org_id": before},
                {"default_org_id": org_id},
                user_id,
            )
    return as_dict(user)


def orgs_page(user_id: str, limit: int, after: str | None) -> dict:
    """The organizations the user belongs to, each with the user's role, by id, after the
    id ``after``. Returns ``{"items", "next"}``. Raises ApiError 404."""
    user = user_or_404(user_id)
    query = (
        Membership.select(Membership, Organization)
        .join(Organization)
        .where(Membership.user == user_id)
    )
    if after is not None:
        query = query.where(Organization.id > after)
    rows = list(query.order_by(Organization.id).limit(limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
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
    return {"items": items, "next": rows[-1].org.id if more else None}
