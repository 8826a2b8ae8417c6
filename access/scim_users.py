"""SCIM 2.0 Users (RFC 7643 section 4.1, RFC 7644 section 3) of an organization's
directory: create, read, search, replace, patch, delete.

The resources are read and written by ``scim2-models`` (validation in each request's
context, PATCH, filters, attribute selection); this module keeps what the service owns:
the ``id``, ``meta`` (its ``version`` is the ETag), the uniqueness of ``userName`` in the
organization, and the membership each change makes (access/scim.py: joining with the
directory's default role, leaving on ``active: false`` or delete, each decided by the
policy). A password is never kept (the model returns it never, and nothing stores it).

The orgauthz user a SCIM user stands for is found by its primary email (an existing user
is linked), or created with ``userName`` as its id. Its email and name are taken when it is
created; later changes stay in the directory's record of the user.
"""

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import EmailStr, ValidationError
from scim2_models import (
    Context as ScimContext,
)
from scim2_models import (
    Email,
    InvalidFilterException,
    InvalidValueException,
    NotFoundException,
    PatchOp,
    PreconditionFailedException,
    Required,
    ResponseParameters,
    ScimFilter,
    UniquenessException,
    User,
)
from scim2_models.path.expressions import CompareOperator, Comparison, LogicalExpr

from access import scim
from access.context import Context
from access.events import target_user
from access.orgs import conflict_is_409
from access.scim import Directory
from access.uow import UnitOfWork
from models import ScimUser, UserEmail
from models import User as Person

MAX_COUNT = 200  # the most users one page answers (count above it is lowered to it)


class DirectoryEmail(Email):
    """An email of a User, whose ``value`` is required."""

    value: Annotated[EmailStr | None, Required.true] = None


class DirectoryUser(User):
    """The core User schema, with ``emails`` (and their ``value``) required: an orgauthz
    user has an email."""

    emails: Annotated[list[DirectoryEmail] | None, Required.true] = None  # type: ignore[assignment]


SCHEMA = DirectoryUser.to_schema()


def invalid(exc: ValidationError) -> InvalidValueException:
    """A pydantic validation error as a SCIM invalidValue naming the attributes."""
    errors = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
    )
    return InvalidValueException(detail=errors[:1000])


def parse(payload: Any, scim_ctx: ScimContext) -> DirectoryUser:
    """A User from a request body. Raises InvalidValueException naming the attributes."""
    try:
        return DirectoryUser.model_validate(payload, scim_ctx=scim_ctx)
    except ValidationError as exc:
        raise invalid(exc) from None


def _primary_email(user: DirectoryUser) -> str:
    emails = [e for e in user.emails or [] if e.value]
    chosen = next((e for e in emails if e.primary), emails[0] if emails else None)
    if chosen is None or "@" not in str(chosen.value):
        raise InvalidValueException(detail="emails: a user needs an email address")
    return str(chosen.value).strip()


def _display_name(user: DirectoryUser) -> str:
    name = user.name
    parts = [name.given_name, name.family_name] if name else []
    text = user.display_name or (name.formatted if name else None) or " ".join(filter(None, parts))
    return (text or "")[:200]


def _stored(user: DirectoryUser) -> dict:
    """What is kept of a User: its attributes as returned by default, without id or meta."""
    body = user.model_dump(scim_ctx=ScimContext.RESOURCE_QUERY_RESPONSE)
    body.pop("id", None)
    body.pop("meta", None)
    body.pop("password", None)
    return body


def as_dict(row: ScimUser, location: str, params: ResponseParameters | None = None) -> dict:
    """The SCIM representation of a stored user, with ``id`` and ``meta``, narrowed by
    ``attributes`` / ``excludedAttributes`` when given."""
    body = {**row.resource, "id": row.id}
    body["meta"] = {
        "resourceType": "User",
        "created": row.created_at.isoformat(),
        "lastModified": row.modified_at.isoformat(),
        "location": location,
        "version": etag(row),
    }
    if params is None:
        return body
    user = DirectoryUser.model_validate(body, scim_ctx=ScimContext.RESOURCE_QUERY_RESPONSE)
    return user.model_dump(scim_ctx=ScimContext.RESOURCE_QUERY_RESPONSE, response_parameters=params)


def etag(row: Any) -> str:
    return f'W/"{row.version}"'


def _audit_view(row: ScimUser) -> dict:
    return {"scim_id": row.id, "userName": row.user_name, "active": row.active}


def _row(org_id: str, scim_id: str) -> ScimUser:
    row = ScimUser.of_org(org_id, scim_id)
    if row is None:
        raise NotFoundException(detail=f"no User {scim_id!r}")
    return row


def check_version(row: Any, if_match: str | None) -> None:
    """Raises PreconditionFailedException when ``If-Match`` names another version."""
    if if_match is None or if_match.strip() == "*":
        return
    wanted = {t.strip() for t in if_match.split(",")}
    if etag(row) not in wanted and etag(row)[2:] not in wanted:
        raise PreconditionFailedException(
            detail=f"the User is at version {etag(row)}, not {if_match}"
        )


def _unique_name(org_id: str, user: DirectoryUser, other_than: str | None = None) -> str:
    key = str(user.user_name or "").strip().lower()
    held = ScimUser.named(org_id, key)
    if held is not None and held.id != other_than:
        raise UniquenessException(detail=f"userName {user.user_name!r} is already provisioned")
    return key


def get(d: Directory, scim_id: str, location: str, params: ResponseParameters | None) -> dict:
    """One user of the directory. Raises NotFoundException."""
    return as_dict(_row(d.org_id, scim_id), location, params)


def found(d: Directory, scim_id: str) -> ScimUser:
    """The stored user (for its ETag). Raises NotFoundException."""
    return _row(d.org_id, scim_id)


# ---------------------------------------------------------------- search
FILTERABLE = {"username": "user_name_key", "externalid": "external_id", "id": "id"}


def _equalities(node: Any, where: dict, fields: dict) -> None:
    if isinstance(node, LogicalExpr) and str(node.op).lower() == "and":
        for term in node.terms:
            _equalities(term, where, fields)
        return
    if (
        isinstance(node, Comparison)
        and node.op == CompareOperator.eq
        and node.attr_path.sub_attr is None
        and str(node.attr_path.attr).lower() in fields
        and isinstance(node.value, str)
    ):
        field = fields[str(node.attr_path.attr).lower()]
        value = node.value.strip().lower() if field.endswith("_key") else node.value
        if where.setdefault(field, value) != value:
            where["id"] = None  # two different values of one attribute: nothing matches
        return
    names = ", ".join(sorted(fields))
    raise InvalidFilterException(
        detail=f"this service filters on {names} with eq, joined by and (case-insensitive names)"
    )


def where_of(filter_text: str | None, model: Any = None, fields: dict | None = None) -> dict:
    """The equalities a filter states (``{column: value}``). Raises InvalidFilterException
    for a filter that is not one or more ``eq`` of ``fields`` (default: the User's
    ``userName``, ``externalId``, ``id``) joined by ``and``."""
    where: dict = {}
    if filter_text:
        try:
            bound: Any = ScimFilter  # parameterised with a model chosen at run time
            parsed = bound[model or DirectoryUser](filter_text)
        except (ValueError, InvalidFilterException) as exc:
            raise InvalidFilterException(detail=f"filter: {exc}") from None
        _equalities(parsed.ast, where, fields or FILTERABLE)
    return where


def search(
    d: Directory,
    filter_text: str | None,
    start: int,
    count: int,
    location: Callable[[str], str],
    params: ResponseParameters | None,
) -> dict:
    """A ListResponse of the directory's users matching the filter, ``count`` (at most
    MAX_COUNT) from ``start`` (1-based). Raises InvalidFilterException."""
    where = where_of(filter_text)
    start, count = max(start, 1), min(max(count, 0), MAX_COUNT)
    rows: list[ScimUser] = []
    if where.get("id", "") is None:
        total = 0
    else:
        total, rows = ScimUser.page(d.org_id, where, start, count)
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(rows),
        "Resources": [as_dict(r, location(r.id), params) for r in rows],
    }


# ---------------------------------------------------------------- writes
def _person(user_id: str, email: str, name: str, now: Any) -> tuple[Person, bool]:
    """The orgauthz user ``user_id`` (created with ``email`` when new). Returns (user,
    created). Raises UniquenessException (the id is another email's user)."""
    person = Person.find(user_id)
    key = Person.email_key_of(email)
    if person is not None:
        if person.email_key != key:
            raise UniquenessException(
                detail=f"userName {user_id!r} is the id of a user with another email"
            )
        return person, False
    person = Person.create(id=user_id, email=email, email_key=key, name=name, created_at=now)
    UserEmail.remember(user_id, key)
    return person, True


def create(ctx: Context, d: Directory, payload: Any, location: Callable[[str], str]) -> dict:
    """Provision a user: the orgauthz user (linked by email, else created), the SCIM record,
    and, when active, the membership (access/scim.py ``join``). Raises
    InvalidValueException, UniquenessException, Forbidden (the policy's reason)."""
    user = parse(payload, ScimContext.RESOURCE_CREATION_REQUEST)
    email = _primary_email(user)
    linked = Person.by_email_key(Person.email_key_of(email))
    user_id = linked.id if linked is not None else str(user.user_name).strip()
    now = ctx.now()
    with conflict_is_409(), UnitOfWork(ctx, d.org_id, lock_users=[user_id]) as uow:
        uow.org()
        key = _unique_name(d.org_id, user, None)
        person, created = _person(user_id, email, _display_name(user), now)
        held = ScimUser.for_user(d.org_id, person.id)
        if held is not None:
            raise UniquenessException(detail=f"{person.id} is already provisioned as {held.id}")
        if created:
            after = {"email": person.email, "name": person.name, "via": "scim"}
            uow.audit(None, "user.create", target_user(person.id), None, after, d.acting_user)
        row = ScimUser.create(
            id=str(uuid.uuid4()),
            org=d.org_id,
            user_id=person.id,
            user_name=str(user.user_name),
            user_name_key=key,
            external_id=user.external_id,
            active=user.active is not False,
            resource=_stored(user),
            created_at=now,
            modified_at=now,
        )
        if row.active:
            scim.join(ctx, uow, d, person.id)
        uow.audit(d.org_id, "scim.user_create", target_user(person.id), None, _audit_view(row))
        scim.synced(d.org_id, now)
    return as_dict(row, location(row.id))


def _change(
    ctx: Context,
    d: Directory,
    scim_id: str,
    if_match: str | None,
    make: Callable[[DirectoryUser], DirectoryUser],
    location: Callable[[str], str],
) -> dict:
    """Replace or patch a user (``make`` gives the new User from the current one): a user
    made inactive leaves the org, one made active joins it, each decided by the policy;
    the version moves on. Raises NotFoundException, PreconditionFailedException,
    InvalidValueException, UniquenessException, Forbidden."""
    user_id = _row(d.org_id, scim_id).user_id  # a record's user never changes
    now = ctx.now()
    with UnitOfWork(ctx, d.org_id, lock_users=[user_id]) as uow:
        uow.org()
        row = _row(d.org_id, scim_id)  # read again under the locks
        check_version(row, if_match)
        current = DirectoryUser.model_validate(
            {**row.resource, "id": row.id}, scim_ctx=ScimContext.RESOURCE_QUERY_RESPONSE
        )
        user = make(current)
        before = _audit_view(row)
        row.user_name_key = _unique_name(d.org_id, user, row.id)
        row.user_name, row.external_id = str(user.user_name), user.external_id
        was_active, row.active = row.active, user.active is not False
        if was_active and not row.active:
            scim.leave(uow, d, user_id)
        elif row.active and not was_active:
            scim.join(ctx, uow, d, user_id)
        row.resource, row.version, row.modified_at = _stored(user), row.version + 1, now
        row.save()
        uow.audit(d.org_id, "scim.user_update", target_user(user_id), before, _audit_view(row))
        scim.synced(d.org_id, now)
    return as_dict(row, location(row.id))


def replace(
    ctx: Context,
    d: Directory,
    scim_id: str,
    payload: Any,
    if_match: str | None,
    location: Callable[[str], str],
) -> dict:
    """PUT: the user as sent (``id`` and ``meta`` stay the service's)."""
    user = parse(payload, ScimContext.RESOURCE_REPLACEMENT_REQUEST)
    _primary_email(user)
    return _change(ctx, d, scim_id, if_match, lambda _current: user, location)


def patch(
    ctx: Context,
    d: Directory,
    scim_id: str,
    payload: Any,
    if_match: str | None,
    location: Callable[[str], str],
) -> dict:
    """PATCH: the operations applied by scim2-models to the stored user, the result
    validated again as a replacement (a required attribute cannot be removed)."""
    try:
        op = PatchOp[DirectoryUser].model_validate(
            payload, scim_ctx=ScimContext.RESOURCE_PATCH_REQUEST
        )
    except ValidationError as exc:
        raise invalid(exc) from None

    def patched(current: DirectoryUser) -> DirectoryUser:
        op.patch(current)
        body = current.model_dump(scim_ctx=ScimContext.RESOURCE_REPLACEMENT_REQUEST)
        user = parse(body, ScimContext.RESOURCE_REPLACEMENT_REQUEST)
        _primary_email(user)
        return user

    return _change(ctx, d, scim_id, if_match, patched, location)


def delete(ctx: Context, d: Directory, scim_id: str, if_match: str | None) -> None:
    """Deprovision a user: the membership is removed (decided by the policy), then the
    record. The orgauthz user stays (``DELETE /v1/users/{id}`` erases a person)."""
    user_id = _row(d.org_id, scim_id).user_id
    with UnitOfWork(ctx, d.org_id, lock_users=[user_id]) as uow:
        uow.org()
        row = _row(d.org_id, scim_id)
        check_version(row, if_match)
        if row.active:
            scim.leave(uow, d, user_id)
        before = _audit_view(row)
        row.delete_instance()
        uow.audit(d.org_id, "scim.user_delete", target_user(user_id), before, None)
        scim.synced(d.org_id, ctx.now())
