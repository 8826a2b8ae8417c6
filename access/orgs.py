"""Organizations: create, read, update (name, legal, billing), close, and their audit trail.

Every write is one unit of work (access/uow.py): lock, read fresh facts, ask the policy,
write, audit.
"""

import contextlib
import datetime
import re
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

from access import shapes
from access.context import Context
from access.decisions import decide, require
from access.errors import Conflict, Invalid, NotFound, PolicyFault
from access.events import summary, target_org
from access.shapes import Given, iso
from access.targets import TargetBuilder
from access.uow import UnitOfWork
from authz.engine import StyleEngine
from authz.matrix import org_roles
from authz.view import OrgRef, Target
from models import AuditEvent, Membership, Organization, Resource, User
from models.base import IntegrityError
from models.members import rid_taken
from models.paging import Page


def engine_for(ctx: Context, org: OrgRef) -> StyleEngine:
    """The policy engine of the organization's style. Raises Conflict if none is loaded."""
    try:
        return ctx.policy.engine(org.style)
    except KeyError as exc:
        raise Conflict(f"no policy is loaded for the style {org.style!r}") from exc


def setting(engine: StyleEngine, name: str) -> Any:
    """A setting the style's policy must state. Raises PolicyFault when it states none."""
    value = engine.setting(name)
    if value is None:
        raise PolicyFault(f"the {engine.style} policy states no setting({name!r}, ...)")
    return value


def declared_role(
    engine: StyleEngine, role: str, field: str = "role", org: OrgRef | None = None
) -> str:
    """``role`` if the style's policy declares it on Organization, or ``org`` defines it
    itself (access/custom_roles.py). Raises Invalid."""
    roles = org_roles(engine, org.custom_roles if org is not None else ())
    if role not in roles:
        raise Invalid(
            f"the {engine.style} policy declares no role {role!r}"
            + (f" and organization {org.id!r} defines none" if org is not None else ""),
            {field: [f"one of: {', '.join(roles)}"]},
        )
    return role


def org_ref(targets: TargetBuilder, org_id: str) -> OrgRef:
    """The organization as decisions see it. Raises NotFound."""
    org = targets.org(org_id)
    if org is None:
        raise NotFound(f"no organization {org_id!r}")
    return org


def org_target(targets: TargetBuilder, org_id: str) -> Target:
    """The Organization as a decision target. Raises NotFound."""
    target = targets.registered(org_id, "Organization", org_id)
    if target is None:
        raise NotFound(f"no organization {org_id!r}")
    return target


@contextlib.contextmanager
def conflict_is_409() -> Iterator[None]:
    """Turn a unique-index violation (a concurrent request wrote the same id or email between
    our check and our insert; the transaction is rolled back) into Conflict."""
    try:
        yield
    except IntegrityError as exc:
        raise Conflict(
            "a concurrent request created the same id or email; nothing was changed, try again",
            retryable=True,
        ) from exc


def as_dict(
    org: Organization, role: str | None = None, initial_resource: dict | None = None
) -> dict:
    """The API form of an organization (access/shapes.py, ``OrganizationOut``); ``role``:
    the acting user's role in it, ``initial_resource``: the one its creation made."""
    given: dict[str, Any] = {} if role is None else {"role": role}
    if initial_resource is not None:
        given["initial_resource"] = initial_resource
    return shapes.ORGANIZATION.answer(Given(org, **given))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "resource"


def create(ctx: Context, actor: str, body: dict) -> dict:
    """Create an organization; the acting user gets the role the policy's ``creator_role``
    names. Returns the org. Raises Invalid (unknown style), Forbidden (the policy's ``create``
    on NewOrganization refuses, e.g. one organization per user), Conflict (id taken)."""
    style = body["style"]
    if style not in ctx.policy.styles:
        raise Invalid(
            f"no policy style {style!r}",
            {"style": [f"one of: {', '.join(ctx.policy.styles)}"]},
        )
    engine = ctx.policy.engine(style)
    creator_role = declared_role(engine, setting(engine, "creator_role"), "creator_role")
    org_id = body["id"] or f"org-{uuid.uuid4().hex[:16]}"
    # The creator's row lock serialises every unit that could make them a member anywhere,
    # so "one organization per user" reads a count that holds until commit.
    with conflict_is_409(), UnitOfWork(ctx, lock_users=[actor]) as uow:
        target = uow.targets.new_organization(
            style,
            {
                "creator_in_style_org": Membership.in_open_org_of_style(actor, style),
                "creator_created_in_style": Organization.created_open_in_style(actor, style),
            },
        )
        uow.require(actor, "create", target, what=f"create a {style} organization")
        if Organization.find(org_id) is not None:
            raise Conflict(f"an organization {org_id!r} already exists", {"id": ["taken"]})
        after = _write_new(ctx, engine, actor, org_id, body, creator_role)
        uow.audit(org_id, "org.create", target_org(org_id), None, after, actor)
        from access.resources import create_personal  # resources imports this module

        create_personal(uow, engine, org_id, actor)  # UP42: the creator's own Workspace
    return after


def _write_new(
    ctx: Context, engine: StyleEngine, actor: str, org_id: str, body: dict, creator_role: str
) -> dict:
    """Write the organization, its creator's membership, its initial resource and the
    creator's default organization (when they had none). Returns what its audit entry
    records."""
    now = ctx.now()
    org = Organization.create(
        id=org_id,
        name=body["name"],
        style=body["style"],
        legal=body["legal"],
        billing=body["billing"],
        created_by=actor,
        created_at=now,
    )
    Membership.create(user=actor, org=org_id, role=creator_role, created_at=now)
    initial = _initial_resource(engine, org_id, now)
    User.default_to(actor, org_id)
    first = None
    if initial is not None:
        first = {"type": initial.type, "id": initial.rid, "name": initial.attributes["name"]}
    after = as_dict(org, creator_role, first)
    return after


def _initial_resource(engine: StyleEngine, org_id: str, now: datetime.datetime) -> Resource | None:
    """The first resource a style creates with an organization (respond.io's first Space),
    or None. Its id is ``<org id>-<name>``, unless another organization registered that id
    first: then a random suffix, so nobody can block another organization's creation."""
    initial_type = engine.setting("initial_resource_type")
    if not initial_type:
        return None
    if initial_type not in engine.types:
        raise PolicyFault(
            f"the {engine.style} policy's initial_resource_type "
            f"{initial_type!r} is not a resource type it declares",
        )
    name = setting(engine, "initial_resource_name")
    rid = f"{org_id}-{_slug(name)}"[:200]
    if rid_taken(org_id, initial_type, rid):
        rid = f"{rid[:190]}-{secrets.token_hex(4)}"
    return Resource.create(
        org=org_id,
        type=initial_type,
        rid=rid,
        parent=None,
        path="",
        attributes={"name": name},
        created_at=now,
        updated_at=now,
    )


def get(ctx: Context, actor: str, org_id: str) -> dict:
    """The organization, for those the policy allows ``view``. Raises NotFound, Forbidden."""
    targets = TargetBuilder()
    target = org_target(targets, org_id)
    require(ctx.policy, targets, actor, "view", target, what=f"view {org_id}")
    return as_dict(Organization.get_by_id(org_id), targets.actor(actor, target).role)


def list_mine(ctx: Context, actor: str, limit: int, after: str | None) -> dict:
    """The organizations the acting user belongs to and the policy lets them ``view`` (a
    closed one allows nothing), by id, after the id ``after``, each with the user's role:
    ``{"items", "next"}``. A page may hold fewer than ``limit`` when some were refused."""
    targets = TargetBuilder()
    found = Membership.of_user_page(actor, limit, after, ctx.orgs)
    items = []
    for m in found.rows:
        target = targets.registered(m.org.id, "Organization", m.org.id)
        if target is not None and decide(ctx.policy, targets, actor, "view", target).allowed:
            items.append(as_dict(m.org, m.role))
    return {"items": items, "next": found.next}


# Each field of an organization is guarded by its own action (docs/API.md).
FIELD_ACTIONS = {
    "name": "edit_details",
    "legal": "edit_legal",
    "billing": "edit_billing",
    # where settings may be changed from is a setting: asked as one, from inside the list
    "admin_ip_allowlist": "edit_details",
}


def update(ctx: Context, actor: str, org_id: str, changes: dict) -> dict:
    """Change name, legal and/or billing details, each asked as its own action; all or
    nothing. Raises NotFound, Forbidden."""
    with UnitOfWork(ctx, org_id) as uow:
        uow.org()
        target = org_target(uow.targets, org_id)
        for field in sorted(changes):
            uow.require(actor, FIELD_ACTIONS[field], target, what=f"change the {field} of {org_id}")
        row = uow.org_row
        assert row is not None  # uow.org() found it under the lock
        before = {f: getattr(row, f) for f in changes}
        for field, value in changes.items():
            setattr(row, field, value)
        row.save()
        uow.audit(org_id, "org.update", target_org(org_id), before, dict(changes), actor)
        role = uow.targets.actor(actor, target).role
    return as_dict(row, role)


def close(ctx: Context, actor: str, org_id: str) -> dict:
    """Close the organization (action ``close``): it then allows nothing. Raises NotFound, Forbidden
    (also when it is already closed)."""
    with UnitOfWork(ctx, org_id) as uow:
        uow.org()
        uow.require(actor, "close", org_target(uow.targets, org_id), what=f"close {org_id}")
        row = uow.org_row
        assert row is not None  # uow.org() found it under the lock
        row.closed_at = ctx.now()
        row.save()
        uow.audit(
            org_id,
            "org.close",
            target_org(org_id),
            {"closed_at": None},
            {"closed_at": iso(row.closed_at)},
            actor,
        )
    return as_dict(row)


def audit_dict(event: AuditEvent) -> dict:
    """The API form of an audit event: who, the action, the target (one format, see
    access/events.py), the change, and ``summary``, the same in words."""
    words = summary(event.action, event.actor, event.target, event.before, event.after)
    return shapes.AUDIT_EVENT.answer(Given(event, summary=words))


def audit_page(
    ctx: Context,
    actor: str,
    org_id: str,
    limit: int,
    after: int | None,
    *,
    order: str = "asc",
    filters: dict | None = None,
) -> dict:
    """The organization's audit trail after the event id ``after`` (oldest first, or newest
    first with ``order="desc"``), filtered by ``filters``: ``actor`` and ``action`` (exact),
    ``subject`` (a target: its own entries, and for a user or a resource the grants on them
    too), ``since`` and ``until`` (datetimes, inclusive); action ``view_audit``. Raises
    NotFound, Forbidden."""
    targets = TargetBuilder()
    require(
        ctx.policy,
        targets,
        actor,
        "view_audit",
        org_target(targets, org_id),
        what=f"view the audit trail of {org_id}",
    )
    return _audit_items(AuditEvent.page(org_id, filters or {}, limit, after, order))


def _audit_items(found: Page) -> dict:
    return {"items": [audit_dict(r) for r in found.rows], "next": found.next}


# ---------------------------------------------------------------- reads for the console
def abilities(ctx: Context, actor: str, org_id: str, actions: list) -> dict:
    """What the acting user may do on the organization: ``{action: None}`` for each action
    the policy allows, else the reason it refuses (the sentence a 403 would carry; for a
    closed organization, that it is closed). Each is a decision, logged like one. Raises
    NotFound."""
    from access.refusals import why  # refusals imports decisions, as this module does

    targets = TargetBuilder()
    target = org_target(targets, org_id)
    found = {}
    for action in actions:
        decision = decide(ctx.policy, targets, actor, action, target, explain=True)
        found[action] = (
            None if decision.allowed else why(ctx.policy, targets, actor, action, target, decision)
        )
    return found


def closed_audit_page(
    ctx: Context,
    actor: str,
    org_id: str,
    limit: int,
    after: int | None,
    *,
    order: str = "asc",
    filters: dict | None = None,
) -> dict:
    """The audit trail of a closed organization, as ``audit_page`` reads an open one's, and
    the organization itself (``"org"``: what its ``org.create`` entry holds anyway).

    A closed organization allows nothing (access/decisions.py refuses before asking the
    policy), except this: the policy is asked ``view_closed_audit`` on the organization's
    facts as they stood when it closed (the memberships are kept), so those it names (in
    every style: those who could read the trail before) still read what happened, the
    closing included. Raises NotFound, Conflict (the organization is open: ``audit_page``),
    Forbidden."""
    targets = TargetBuilder()
    target = org_target(targets, org_id)
    if not target.org.is_closed:
        raise Conflict(f"organization {org_id!r} is open; read its audit trail as usual")
    as_it_stood = target._replace(org=target.org._replace(closed_at=None))
    require(
        ctx.policy,
        targets,
        actor,
        "view_closed_audit",
        as_it_stood,
        what=f"view the audit trail of the closed organization {org_id}",
    )
    found = _audit_items(AuditEvent.page(org_id, filters or {}, limit, after, order))
    found["org"] = as_dict(Organization.get_by_id(org_id))
    return found


def directory(
    q: str | None, limit: int, after: str | None, orgs: frozenset[str] | None = None
) -> dict:
    """Every organization by id with its name, style and closing time, those whose id or
    name contains ``q`` when given, after the id ``after``: the console's pickers (a
    service key may ask about any organization, as /v1/authorize does; a key bound to
    ``orgs`` about those). Returns ``{"items", "next"}``."""
    found = Organization.directory(q, limit, after, orgs)
    items = [
        {"id": o.id, "name": o.name, "style": o.style, "closed_at": iso(o.closed_at)}
        for o in found.rows
    ]
    return {"items": items, "next": found.next}
