"""What the resource operations share (access/resources.py, access/grants.py,
access/screens.py): the types and roles a policy lets callers register and grant, a
registered resource by (organization, type, id), its API form and what the audit trail
keeps of it, and whether a screen shows it to an actor."""

from access import shapes
from access.decisions import allowed_actions, decide, require
from access.errors import Forbidden, Invalid, NotFound
from access.shapes import Given
from access.targets import MAX_DEPTH, TargetBuilder
from authz.engine import PolicySet, StyleEngine
from authz.view import MANAGEMENT_TYPES, OrgRef, Target
from models import Grant, Resource


def callers_types(engine: StyleEngine) -> list:
    """The resource types of a style that callers register (not the organization, not the
    service's own management types)."""
    return sorted(t for t in engine.types if t not in MANAGEMENT_TYPES and t != "Organization")


def check_type(engine: StyleEngine, type_: str, field: str = "type") -> None:
    """Raises Invalid naming ``field`` unless the policy declares ``type_`` as a
    resource callers register."""
    if type_ not in callers_types(engine):
        raise Invalid(
            f"the {engine.style} policy declares no resource type {type_!r}",
            {field: [f"not a resource type of this organization: one of {callers_types(engine)}"]},
        )


def grantable(engine: StyleEngine, type_: str, org: OrgRef) -> list:
    """The roles a member may be granted on a ``type_``: the policy's on that type, and
    every role ``org`` defines itself (what it lists of other types reaches what sits in
    the resource; the policy decides who may grant it)."""
    return engine.roles(type_) + [key for key, _ in org.custom_roles]


def check_role(
    engine: StyleEngine, type_: str, role: str, org: OrgRef, field: str = "role"
) -> None:
    """Raises Invalid naming ``field`` unless ``role`` is grantable on ``type_``."""
    roles = grantable(engine, type_, org)
    if role not in roles:
        raise Invalid(
            f"the {engine.style} policy declares no role {role!r} on {type_}",
            {field: [f"one of {roles}"]},
        )


def resource_or_404(org_id: str, type_: str, rid: str) -> Resource:
    """The registered resource of the org. Raises NotFound."""
    row = Resource.named(org_id, type_, rid)
    if row is None:
        raise NotFound(f"no {type_} {rid!r} in organization {org_id!r}")
    return row


def parent_row(engine: StyleEngine, org: OrgRef, type_: str, ref: dict | None) -> Resource | None:
    """The parent named by ``ref`` ({type, id} or None). Raises Invalid naming
    ``parent`` when it is not registered in this org or the policy relates no such parent,
    or when the chain would grow past MAX_DEPTH."""
    if ref is None:
        return None
    row = Resource.named(org.id, ref["type"], ref["id"])
    if row is None:
        raise Invalid(
            f"no {ref['type']} {ref['id']!r} in organization {org.id!r}",
            {"parent": ["not a registered resource of this organization"]},
        )
    allowed = {t for t in engine.types[type_].relations.values() if t != "Organization"}
    if row.type not in allowed:
        raise Invalid(
            f"in the {engine.style} policy a {type_} does not sit in a {row.type}",
            {"parent": [f"must be one of {sorted(allowed) or 'none (top level only)'}"]},
        )
    if row.depth + 1 >= MAX_DEPTH or not fits(row.child_path, f"{row.shape}/{type_}"):
        raise Invalid(
            f"resources nest at most {MAX_DEPTH} deep, and as deep as the chain's ids and "
            f"types fit {Resource.path.max_length} characters",
            {"parent": [f"too deep: already {row.depth + 1} deep"]},
        )
    return row


def fits(path: str, shape: str) -> bool:
    """Whether a row's ``path`` and ``shape`` fit their columns."""
    return len(path) <= Resource.path.max_length and len(shape) <= Resource.shape.max_length


def as_dict(row: Resource, parent: Resource | None = None) -> dict:
    """The API form of a resource (access/shapes.py, ``ResourceOut``)."""
    if parent is None and row.parent_id:
        parent = Resource.get_by_id(row.parent_id)
    return shapes.RESOURCE.answer(Given(row, parent=parent))


def grant_dict(grant: Grant, resource: Resource) -> dict:
    """The API form of a grant (access/shapes.py, ``GrantOut``)."""
    return shapes.GRANT.answer(
        Given(grant, type=resource.type, id=resource.rid, org=resource.org_id)
    )


def held_dict(grant: Grant) -> dict:
    """A grant as a list of the grants on one resource shows it."""
    return shapes.RESOURCE_GRANT.answer(grant)


def state_of(row: Resource, parent: Resource | None = None) -> dict:
    """What the audit trail keeps of a resource: its parent by type and id (never the
    internal row ids), owner and attributes."""
    if parent is None and row.parent_id:
        parent = Resource.get_by_id(row.parent_id)
    return {
        "parent": {"type": parent.type, "id": parent.rid} if parent else None,
        "owner": row.owner,
        "attributes": row.attributes,
    }


def org_target_of(targets: TargetBuilder, org_id: str) -> Target:
    """The organization as a target. Raises NotFound."""
    target = targets.registered(org_id, "Organization", org_id)
    if target is None:
        raise NotFound(f"no organization {org_id!r}")
    return target


def seen_by(policy: PolicySet, targets: TargetBuilder, actor: str, target: Target | None) -> bool:
    """Whether a screen shows the resource to the actor: the policy lets them ``view`` it;
    on a type whose policy declares no ``view`` (a Pix4D License: use, assign, edit...),
    whether it lets them do any action on it (who may assign or use a license sees it).
    Each action asked is a decision, logged like one."""
    if target is None:
        return False
    engine = policy.engines.get(target.org.style)
    if engine is not None and "view" not in engine.permissions(target.node.type):
        return bool(allowed_actions(policy, targets, actor, target))
    return decide(policy, targets, actor, "view", target).allowed


def require_seen(
    policy: PolicySet, targets: TargetBuilder, actor: str, org_id: str, type_: str, rid: str
) -> None:
    """Raises Forbidden (the policy's reason for ``view``) unless ``seen_by``."""
    target = targets.registered(org_id, type_, rid)
    if not seen_by(policy, targets, actor, target):
        engine = policy.engines.get(target.org.style) if target else None
        if engine is not None and "view" not in engine.permissions(type_):
            raise Forbidden(
                f"{actor} may not see {type_} {rid}: the policy allows them no action on it",
                policy=True,
            )
        require(policy, targets, actor, "view", target)
