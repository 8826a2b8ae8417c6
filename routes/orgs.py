"""Organizations: create, read, update (name, legal, billing), close, and their audit trail.

Also the helpers every management route shares (members, invitations): asking the policy
about a management resource with a reason a person can act on, reading the policy's
settings and roles, and dumping rows. Every write follows the same path: schema -> load ->
ask the policy -> one ``models.transaction()`` (the organization's row lock first) -> audit
-> dump.
"""

import contextlib
import re
import uuid

import peewee
from flask import Blueprint, g, request

from access.decisions import decide
from access.errors import ApiError
from access.targets import TargetBuilder
from authz.engine import StyleEngine
from authz.view import OrgRef, build_view, management_target
from models import AuditEvent, Membership, Organization, Resource, User, transaction
from routes.context import (
    acting_user,
    audit,
    facts,
    load,
    now,
    org_or_404,
    policy,
    require,
    touch_last_active,
)
from routes.openapi import doc
from routes.pagination import decode, paginate
from routes.schemas import (
    AuditPage,
    NewOrganizationRequest,
    OrganizationOut,
    OrganizationPatch,
    PlainPageArgs,
)

bp = Blueprint("orgs", __name__, url_prefix="/v1/orgs")

FORBIDDEN = "Forbidden by policy"


# ---------------------------------------------------------------- shared helpers


def iso(value) -> str | None:
    """A stored (naive UTC) datetime as ISO 8601 with ``Z``, or None."""
    return value.isoformat(timespec="seconds") + "Z" if value else None


def acting() -> str:
    """The acting user of a management call (``X-Actor-Id``), marked active.

    Raises ApiError 422 when the header is missing.
    """
    actor = acting_user()
    touch_last_active(actor)
    return actor


def fresh_org(org_id: str) -> OrgRef:
    """The organization as decisions see it, read again with new per-request facts.

    Called inside a transaction after ``Organization.lock``: what was cached earlier in the
    request (a role, ``closed_at``) may have changed while we waited for the lock. Raises
    ApiError 404.
    """
    g.facts = TargetBuilder()
    return org_or_404(org_id)


def engine_for(org: OrgRef) -> StyleEngine:
    """The policy engine of the organization's style. Raises ApiError 409 if none is loaded."""
    try:
        return policy().engine(org.style)
    except KeyError as exc:
        raise ApiError(409, f"no policy is loaded for the style {org.style!r}") from exc


def setting(engine: StyleEngine, name: str):
    """A setting the style's policy must state. Raises ApiError 500 when it states none."""
    value = engine.setting(name)
    if value is None:
        raise ApiError(500, f"the {engine.style} policy states no setting({name!r}, ...)")
    return value


def declared_role(engine: StyleEngine, role: str, field: str = "role") -> str:
    """``role`` if the style's policy declares it on Organization. Raises ApiError 422."""
    roles = engine.roles("Organization")
    if role not in roles:
        raise ApiError(
            422,
            f"the {engine.style} policy declares no role {role!r}",
            {field: [f"one of: {', '.join(roles)}"]},
        )
    return role


def org_target(org_id: str):
    """The Organization as a decision target. Raises ApiError 404."""
    target = facts().registered("Organization", org_id)
    if target is None:
        raise ApiError(404, f"no organization {org_id!r}")
    return target


# The attribute of each management resource that names the role it is about; the policy is
# asked about every declared role to say which ones the actor could have used instead.
ROLE_ATTRIBUTE = {"Invitation": "role", "RoleChange": "to_role", "Membership": "role"}
VERB = {
    "invite": "invite as",
    "cancel": "cancel invitations for",
    "change_role": "give",
    "remove": "remove members with",
}


def would_allow(actor: str, action: str, org: OrgRef, type_: str, attributes: dict) -> bool:
    """A what-if question about a management resource, to explain a refusal: the policy's
    answer on the actor's view, asked of the engine directly (not a decision: not logged)."""
    engine = policy().engine(org.style)
    target = management_target(org, type_, attributes)
    actor_facts = facts().actor(actor, target)
    return engine.is_allowed(action, build_view(engine, actor, target.chain, actor_facts))


def management_denial(
    actor: str, action: str, org: OrgRef, type_: str, attributes: dict
) -> str | None:
    """Ask the policy about a management resource; None if allowed, else the reason.

    The reason is found by asking the policy again about the same request with one fact
    changed (never by Python knowing a role): "it is the last owner" when the same change
    would be allowed if it were not; the roles the actor may use when another role would be
    allowed; otherwise what the decision says.
    """
    snapshot, known = policy(), facts()
    target = management_target(org, type_, attributes)
    first = decide(snapshot, known, actor, action, target, explain=True)
    if first.allowed:
        return None
    expl = first.explanation or {}
    if "facts_shown" not in expl:  # no policy question was asked: closed org, unknown actor
        return expl.get("reason", first.reason)
    engine = snapshot.engine(org.style)
    actor_role = known.actor(actor, target).role

    def what_if(attrs: dict) -> bool:
        return would_allow(actor, action, org, type_, attrs)

    role = attributes.get("role") or attributes.get("from_role")
    who = f"{actor} ({actor_role or 'no role'} in {org.id})"
    if attributes.get("last_of_role") and what_if({**attributes, "last_of_role": False}):
        return (
            f"{role!r} is held by no other member of {org.id}, and the {engine.style} "
            f"policy keeps at least one; give another member the role {role!r} first"
        )
    if (
        attributes.get("is_self")
        and not what_if({**attributes, "is_self": False})
        and type_ == "Membership"
    ):
        return (
            f"the {engine.style} policy does not let {who} remove themselves; "
            f"another member allowed to remove members must do it"
        )
    if attributes.get("is_self") and type_ == "Membership":
        return f"the {engine.style} policy does not let {who} leave"
    key = ROLE_ATTRIBUTE.get(type_)
    if key and action in VERB:
        usable = [
            r
            for r in engine.roles("Organization")
            if what_if({**attributes, key: r, "last_of_role": False})
        ]
        if usable:
            return (
                f"the {engine.style} policy lets {who} {VERB[action]} only these roles: "
                f"{', '.join(usable)}"
            )
        return f"the {engine.style} policy lets {who} {VERB[action]} no role"
    return f"the {engine.style} policy does not allow it: {expl.get('reason', first.reason)}"


def require_management(
    actor: str, action: str, org: OrgRef, type_: str, attributes: dict, what: str
) -> None:
    """Ask the policy about a management action. Raises ApiError 403 with the reason."""
    reason = management_denial(actor, action, org, type_, attributes)
    if reason is not None:
        raise ApiError(403, f"{actor} may not {what}: {reason}", title=FORBIDDEN)


def dump_org(org: Organization, role: str | None = None) -> dict:
    """The API form of an organization; ``role``: the acting user's role in it."""
    body = {
        "id": org.id,
        "name": org.name,
        "style": org.style,
        "legal": org.legal or {},
        "billing": org.billing or {},
        "created_by": org.created_by,
        "created_at": iso(org.created_at),
        "closed_at": iso(org.closed_at),
    }
    if role is not None:
        body["role"] = role
    return body


@contextlib.contextmanager
def conflict_is_409():
    """Turn a unique-index violation (a concurrent request wrote the same id or email between
    our check and our insert; the transaction is rolled back) into ApiError 409."""
    try:
        yield
    except peewee.IntegrityError as exc:
        raise ApiError(
            409, "a concurrent request created the same id or email; nothing was changed, try again"
        ) from exc


def list_args(schema_cls) -> dict:
    """The query string loaded with ``schema_cls`` (unknown parameters: 422)."""
    return schema_cls().load(request.args.to_dict())


# ---------------------------------------------------------------- organizations


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "resource"


@bp.post("")
@doc(request=NewOrganizationRequest, response=OrganizationOut, status=201)
def create_org():
    """Create an organization; the acting user gets the role the policy's ``creator_role``
    names. 201 with the org. Raises ApiError 422 (body, unknown style), 403 (the policy's
    ``create`` on NewOrganization refuses, e.g. one organization per user), 409 (id taken)."""
    body = load(NewOrganizationRequest)
    actor = acting()
    snapshot = policy()
    style = body["style"]
    if style not in snapshot.styles:
        raise ApiError(
            422, f"no policy style {style!r}", {"style": [f"one of: {', '.join(snapshot.styles)}"]}
        )
    engine = snapshot.engine(style)
    creator_role = declared_role(engine, setting(engine, "creator_role"), "creator_role")
    org_id = body["id"] or f"org-{uuid.uuid4().hex[:16]}"
    with conflict_is_409(), transaction():
        # The user's row lock serialises this user's concurrent creations, so the facts
        # below stay true until commit.
        user = User.lock(actor)
        in_style = (
            Membership.select()
            .join(Organization)
            .where(
                (Membership.user == actor)
                & (Organization.style == style)
                & Organization.closed_at.is_null()
            )
            .exists()
        )
        created_in_style = (
            Organization.select()
            .where(
                (Organization.created_by == actor)
                & (Organization.style == style)
                & Organization.closed_at.is_null()
            )
            .exists()
        )
        target = management_target(
            OrgRef("", style),
            "NewOrganization",
            {
                "creator_in_style_org": in_style,
                "creator_created_in_style": created_in_style,
            },
            standalone=True,
        )
        require(actor, "create", target, what=f"create a {style} organization")
        if Organization.get_or_none(Organization.id == org_id) is not None:
            raise ApiError(409, f"an organization {org_id!r} already exists", {"id": ["taken"]})
        org = Organization.create(
            id=org_id,
            name=body["name"],
            style=style,
            legal=body["legal"],
            billing=body["billing"],
            created_by=actor,
            created_at=now(),
        )
        Membership.create(user=actor, org=org_id, role=creator_role, created_at=now())
        initial = None
        initial_type = engine.setting("initial_resource_type")
        if initial_type:  # respond.io (004): a first Space with a default name
            if initial_type not in engine.types:
                raise ApiError(
                    500,
                    f"the {style} policy's initial_resource_type "
                    f"{initial_type!r} is not a resource type it declares",
                )
            name = setting(engine, "initial_resource_name")
            initial = Resource.create(
                org=org_id,
                type=initial_type,
                rid=f"{org_id}-{_slug(name)}",
                parent=None,
                path="",
                attributes={"name": name},
                created_at=now(),
                updated_at=now(),
            )
        if user.default_org is None:
            User.update(default_org=org_id).where(User.id == actor).execute()
        after = dump_org(org, creator_role)
        if initial is not None:
            after["initial_resource"] = {
                "type": initial.type,
                "id": initial.rid,
                "name": initial.attributes["name"],
            }
        audit(org_id, "org.create", f"organization:{org_id}", None, after, actor)
    return after, 201


@bp.get("/<org_id>")
@doc(response=OrganizationOut)
def get_org(org_id):
    """The organization, for those the policy allows ``view``. Raises ApiError 404, 403."""
    actor = acting()
    target = org_target(org_id)
    require(actor, "view", target, what=f"view {org_id}")
    role = facts().actor(actor, target).role
    return dump_org(Organization.get_by_id(org_id), role)


# Each field of an organization is guarded by its own action (API.md, VOCABULARY.md).
FIELD_ACTIONS = {"name": "edit_details", "legal": "edit_legal", "billing": "edit_billing"}


@bp.patch("/<org_id>")
@doc(request=OrganizationPatch, response=OrganizationOut)
def update_org(org_id):
    """Change name, legal and/or billing details, each asked as its own action; all or
    nothing. Raises ApiError 422, 404, 403."""
    body = load(OrganizationPatch)
    actor = acting()
    org_or_404(org_id)
    with transaction():
        Organization.lock(org_id)
        fresh_org(org_id)
        target = org_target(org_id)
        for field in sorted(body):
            require(actor, FIELD_ACTIONS[field], target, what=f"change the {field} of {org_id}")
        row = Organization.get_by_id(org_id)
        before = {f: getattr(row, f) for f in body}
        for field, value in body.items():
            setattr(row, field, value)
        row.save()
        audit(org_id, "org.update", f"organization:{org_id}", before, dict(body), actor)
    return dump_org(row, facts().actor(actor, target).role)


@bp.delete("/<org_id>")
@doc(response=OrganizationOut)
def close_org(org_id):
    """Close the organization (action ``close``): it then allows nothing. 200 with the org.
    Raises ApiError 404, 403 (also when it is already closed)."""
    actor = acting()
    org_or_404(org_id)
    with transaction():
        Organization.lock(org_id)
        fresh_org(org_id)
        require(actor, "close", org_target(org_id), what=f"close {org_id}")
        row = Organization.get_by_id(org_id)
        row.closed_at = now()
        row.save()
        audit(
            org_id,
            "org.close",
            f"organization:{org_id}",
            {"closed_at": None},
            {"closed_at": iso(row.closed_at)},
            actor,
        )
    return dump_org(row)


# ---------------------------------------------------------------- audit trail


def dump_event(event: AuditEvent) -> dict:
    """The API form of an audit event."""
    return {
        "id": event.id,
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "before": event.before,
        "after": event.after,
        "request_id": event.request_id,
        "api_key": event.api_key,
        "created_at": iso(event.created_at),
    }


@bp.get("/<org_id>/audit")
@doc(query=PlainPageArgs, response=AuditPage)
def list_audit(org_id):
    """The organization's audit trail, oldest first, paginated; action ``view_audit``.
    Raises ApiError 404, 403, 422."""
    actor = acting()
    args = list_args(PlainPageArgs)
    require(actor, "view_audit", org_target(org_id), what=f"view the audit trail of {org_id}")
    after = decode(args["cursor"]) if args["cursor"] else None
    if after is not None and not isinstance(after, int):
        raise ApiError(422, "the cursor is not one this service gave", {"cursor": ["invalid"]})
    query = AuditEvent.select().where(AuditEvent.org == org_id)
    return paginate(query, AuditEvent.id, args["limit"], after, dump_event)


__all__ = [
    "acting",
    "bp",
    "conflict_is_409",
    "declared_role",
    "dump_org",
    "engine_for",
    "fresh_org",
    "iso",
    "management_denial",
    "org_target",
    "require_management",
    "setting",
    "would_allow",
]
