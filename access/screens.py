"""Reads of registered resources for an admin screen: a level of the tree, a search, one
resource with what sits around it, and what the acting user may do there (each a decision,
logged like one; the change decides again).

A list pages by row id (``models.paging.keyset``) and holds only the rows the policy lets
the actor see, so a page may hold fewer than ``limit`` items; a page looks at a bounded
number of rows (``SCAN_LIMIT``, ``SEARCH_SCAN``) and says where the next one goes on.
"""

from access.context import Context
from access.decisions import decide, require
from access.orgs import engine_for, org_ref
from access.registry import (
    as_dict,
    callers_types,
    grantable,
    held_dict,
    org_target_of,
    require_seen,
    resource_or_404,
    seen_by,
)
from access.targets import TargetBuilder
from authz.view import Node, Target
from models import Grant, Resource

SCAN_LIMIT = 2000  # rows looked at for one page of children (the rest: the next page)
SEARCH_SCAN = 500  # rows looked at for one page of a search (the rest: the next page)


def _grants_by_resource(pks: list) -> dict:
    """{resource pk: [{"user_id", "role", "created_at"}]} by user id."""
    return {pk: [held_dict(g) for g in found] for pk, found in Grant.by_resource(pks).items()}


def _parent_of_level(
    ctx: Context, targets: TargetBuilder, actor: str, org_id: str, parent: dict | None, seen: bool
) -> Resource | None:
    """The stored parent of a level (None: the org's top level), once the actor may see
    it: ``view`` on the Organization for the top level, else ``view`` on the parent (or,
    ``seen``, ``seen_by``). Raises NotFound, Forbidden."""
    if parent is None:
        require(ctx.policy, targets, actor, "view", org_target_of(targets, org_id))
        return None
    row = resource_or_404(org_id, parent["type"], parent["id"])
    if seen:
        require_seen(ctx.policy, targets, actor, org_id, row.type, row.rid)
    else:
        on = targets.registered(org_id, row.type, row.rid)
        require(ctx.policy, targets, actor, "view", on)
    return row


def list_children(
    ctx: Context,
    actor: str,
    org_id: str,
    parent: dict | None,
    type_: str | None,
    limit: int,
    after: int | None,
) -> dict:
    """The resources directly under ``parent`` ({type, id}; None: the org's top level),
    optionally of one type, that the policy lets the actor ``view``, each with its grants
    when the actor may ``view_members`` of the org (else ``grants`` is null). Needs ``view``
    on the parent (the Organization for the top level). Returns ``{"items", "next"}``; a
    page holds fewer than ``limit`` items when some rows were not viewable. Raises NotFound,
    Forbidden."""
    targets = TargetBuilder()
    org = org_ref(targets, org_id)
    parent_row = _parent_of_level(ctx, targets, actor, org_id, parent, seen=False)
    show_grants = decide(
        ctx.policy, targets, actor, "view_members", org_target_of(targets, org_id)
    ).allowed

    def keep(row: Resource) -> bool:
        node = Node(row.type, row.rid, row.id, row.owner, row.attributes)
        target = targets.under(org, parent_row, node)
        return decide(ctx.policy, targets, actor, "view", target).allowed

    found = Resource.children_page(org_id, parent_row, type_, limit, after, keep, SCAN_LIMIT)
    grants = _grants_by_resource([r.id for r in found.rows]) if show_grants else {}
    items = []
    for row in found.rows:
        body = as_dict(row, parent_row)
        body["grants"] = grants.get(row.id, []) if show_grants else None
        items.append(body)
    return {"items": items, "next": found.next}


def level(
    ctx: Context, actor: str, org_id: str, parent: dict | None, limit: int, after: int | None
) -> dict:
    """``list_children`` as a screen lists a level of the tree: the resources directly
    under ``parent`` (None: the top level) that the actor sees (``seen_by``: licenses
    too), each with its grants when they may ``view_members`` (else null) and how many
    resources sit in it (``children``). Needs ``view`` on the Organization for the top
    level, the parent seen otherwise. Returns ``{"items", "next"}``. Raises NotFound,
    Forbidden."""
    targets = TargetBuilder()
    org = org_ref(targets, org_id)
    parent_row = _parent_of_level(ctx, targets, actor, org_id, parent, seen=True)
    show_grants = decide(
        ctx.policy, targets, actor, "view_members", org_target_of(targets, org_id)
    ).allowed

    def keep(row: Resource) -> bool:
        node = Node(row.type, row.rid, row.id, row.owner, row.attributes)
        return seen_by(ctx.policy, targets, actor, targets.under(org, parent_row, node))

    found = Resource.children_page(org_id, parent_row, None, limit, after, keep, SCAN_LIMIT)
    rows = found.rows
    grants = _grants_by_resource([r.id for r in rows]) if show_grants else {}
    counts = Resource.children_counts([r.id for r in rows])
    items = []
    for row in rows:
        body = as_dict(row, parent_row)
        body["grants"] = grants.get(row.id, []) if show_grants else None
        body["children"] = counts.get(row.id, 0)
        items.append(body)
    return {"items": items, "next": found.next}


def search(
    ctx: Context,
    actor: str,
    org_id: str,
    q: str | None,
    type_: str | None,
    limit: int,
    after: int | None,
) -> dict:
    """The org's resources, wherever they sit, whose id or ``name`` attribute contains
    ``q`` (any case; all when None), optionally of one type, that the actor sees
    (``seen_by``): a search box, and the pickers of a screen (a new parent, resources to
    assign). Each item is ``as_dict`` with ``depth``. Needs no ``view`` of the
    organization: a member who may see only what was assigned to them finds exactly that.
    Returns ``{"items", "next"}`` by row, a page holding fewer than ``limit`` when rows
    were not seen. Raises NotFound."""
    targets = TargetBuilder()
    org_ref(targets, org_id)
    needle = (q or "").casefold()

    def keep(row: Resource) -> bool:
        name = str((row.attributes or {}).get("name", ""))
        if needle and needle not in row.rid.casefold() and needle not in name.casefold():
            return False  # the text was in another attribute
        return seen_by(
            ctx.policy, targets, actor, targets.registered(row.org_id, row.type, row.rid)
        )

    found = Resource.search_page(org_id, type_, q, limit, after, keep, SEARCH_SCAN)
    parents = Resource.by_ids([r.parent_id for r in found.rows if r.parent_id])
    items = []
    for row in found.rows:
        body = as_dict(row, parents.get(row.parent_id) if row.parent_id else None)
        body["depth"] = row.depth
        items.append(body)
    return {"items": items, "next": found.next}


def detail(ctx: Context, actor: str, org_id: str, type_: str, rid: str) -> dict:
    """A registered resource the actor sees (``seen_by``), with what a screen shows around
    it: ``chain``, the resources it sits in from the top (``{"type", "id", "name"}``;
    ``name`` and ``id`` null for one the actor does not see), and ``children``, how many
    sit directly in it. Raises NotFound, Forbidden."""
    targets = TargetBuilder()
    org_ref(targets, org_id)
    row = resource_or_404(org_id, type_, rid)
    require_seen(ctx.policy, targets, actor, org_id, type_, rid)
    body = as_dict(row)
    above = Resource.by_ids(row.ancestor_ids)
    chain = []
    for pk in row.ancestor_ids:
        r = above.get(pk)
        if r is None:
            continue
        seen = seen_by(ctx.policy, targets, actor, targets.registered(r.org_id, r.type, r.rid))
        chain.append(
            {
                "type": r.type,
                "id": r.rid if seen else None,
                "name": (r.attributes or {}).get("name") if seen else None,
            }
        )
    body["chain"] = chain
    body["children"] = row.child_count()
    return body


def abilities(
    ctx: Context, actor: str, org_id: str, type_: str, rid: str, roles_held: list
) -> dict:
    """What the acting user may do to a registered resource, each ``None`` when the policy
    allows it, else the reason it refuses: ``edit`` (rename), ``delete``, ``grant`` and
    ``revoke`` by role (``{role: reason}``; ``revoke`` for ``roles_held``, the roles its
    grants hold), and ``parents``: the types it may sit in (a move). Each is a decision,
    logged like one; the change decides again. Raises NotFound."""
    from access.refusals import why  # refusals imports decisions, as this module does

    targets = TargetBuilder()
    org = org_ref(targets, org_id)
    resource_or_404(org_id, type_, rid)
    engine = engine_for(ctx, org)
    on = targets.registered(org_id, type_, rid)

    def reason(action: str, target: Target | None) -> str | None:
        decision = decide(ctx.policy, targets, actor, action, target, explain=True)
        return (
            None if decision.allowed else why(ctx.policy, targets, actor, action, target, decision)
        )

    def on_grant(action: str, role: str) -> str | None:
        return reason(action, targets.management(org, "Grant", {"role": role}, under=on))

    roles = grantable(engine, type_, org)  # the style's and the org's own
    return {
        "edit": reason("edit", on),
        "delete": reason("delete", on),
        "grant": {r: on_grant("grant", r) for r in roles},
        "revoke": {r: on_grant("revoke", r) for r in sorted(set(roles_held))},
        "parents": sorted(t for t in engine.types[type_].relations.values() if t != "Organization"),
    }


def creatable(ctx: Context, actor: str, org_id: str, parent: dict | None) -> list:
    """The resource types that may sit in ``parent`` ({type, id}; None: the top level of
    the org), each ``{"type", "reason", "attributes"}``: ``reason`` None when the policy
    lets the actor ``create`` one there, else why not; ``attributes`` the values the policy
    shows apart (``{name: [values]}``, e.g. a License's kind), one of which a new one
    needs. Raises NotFound."""
    from access.refusals import why  # refusals imports decisions, as this module does

    targets = TargetBuilder()
    org = org_ref(targets, org_id)
    engine = engine_for(ctx, org)
    parent_row = resource_or_404(org_id, parent["type"], parent["id"]) if parent else None
    found = []
    for type_ in callers_types(engine):
        relations = {t for t in engine.types[type_].relations.values()}
        fits = parent_row.type in relations if parent_row else "Organization" in relations
        if not fits:
            continue
        values = engine.attribute_values.get(type_, {})
        attrs = {name: next(iter(v)) for name, v in values.items() if v}
        target = targets.under(org, parent_row, Node(type_, "", None, None, attrs))
        decision = decide(ctx.policy, targets, actor, "create", target, explain=True)
        found.append(
            {
                "type": type_,
                "reason": None
                if decision.allowed
                else why(ctx.policy, targets, actor, "create", target, decision),
                "attributes": {name: sorted(v) for name, v in values.items()},
            }
        )
    return found


def grant_reasons(ctx: Context, actor: str, org_id: str, action: str, items: list) -> list:
    """For each ``{"type", "id", "role"}`` of ``items`` (registered resources of the org),
    None when the policy lets the actor ``action`` (``grant`` or ``revoke``) that role on
    it, else the reason it refuses (or that the resource is gone): the buttons of a screen
    that lists grants. Each is a decision, logged like one. Raises NotFound (org)."""
    from access.refusals import why  # refusals imports decisions, as this module does

    targets = TargetBuilder()
    org = org_ref(targets, org_id)
    found: list[str | None] = []
    for item in items:
        on = targets.registered(org_id, item["type"], item["id"])
        if on is None or on.org.id != org_id:
            found.append(f"no {item['type']} {item['id']!r} in organization {org_id!r}")
            continue
        target = targets.management(org, "Grant", {"role": item["role"]}, under=on)
        decision = decide(ctx.policy, targets, actor, action, target, explain=True)
        found.append(
            None if decision.allowed else why(ctx.policy, targets, actor, action, target, decision)
        )
    return found


def registered_ids(org_id: str, type_: str, limit: int) -> list:
    """The ids of the org's resources of ``type_``, by id, at most ``limit``: the console's
    playground offers them to ask about (a question, not a listing of what anyone may
    see)."""
    return Resource.rids(org_id, type_, limit)
