"""Roles an organization defines itself (docs/API.md 1.3, "Custom roles"): define, read,
redefine, delete.

A custom role is a key ``custom:<name>``, a name for people, and a list of permissions,
each a (resource type, permission) pair that the organization's style declares delegable
(``delegable`` in its policy; ``StyleEngine.delegable``). It is held as a built-in role is:
a membership's role, a team's role, an invitation's, a verified domain's automatic-join
role, or a grant on a resource. The policy is shown what it gives (authz/view.py
``build_view``), never its key, so two organizations' roles that list the same permissions
share memo entries.

Defining, redefining and deleting one is ``define`` on a CustomRole whose
``role_permissions`` are what the role gives (for a redefinition: what it gave and what it
will give), so the style's rules decide who may, and the shared rule of _shared.polar
refuses one who does not hold all of it. A role still held or offered anywhere in the
organization cannot be deleted: a 409 names where (``uses``), and nothing changes.

The definitions live on the organization's row (``Organization.custom_roles``), read with
the organization by every decision in the same round trip (models/facts.py) and locked with
it by every unit of work: a change to one is a change to the organization's row, so the
change notices of the fact cache carry it. At most ``MAX_ROLES`` roles of at most
``MAX_PERMISSIONS`` permissions each, so what a decision reads stays bounded.
"""

import re

from access.context import Context
from access.decisions import require
from access.errors import Conflict, Invalid, NotFound
from access.events import target_role
from access.orgs import engine_for, org_target
from access.refusals import Question
from access.shapes import iso
from access.targets import TargetBuilder
from access.uow import UnitOfWork
from authz.engine import StyleEngine
from authz.view import OrgRef
from models import Organization
from models.custom_roles import uses

KEY = re.compile(r"\Acustom:[a-z][a-z0-9_]{0,56}\Z")  # fits every role column (64)
MAX_ROLES = 50
MAX_PERMISSIONS = 100


def _shown(key: str, role: dict) -> dict:
    """A custom role as the API shows it (access/shapes.py ``CustomRoleOut``)."""
    return {
        "key": key,
        "name": role["name"],
        "permissions": [{"type": t, "permission": p} for t, p in role["permissions"]],
        "created_at": role.get("created_at"),
        "updated_at": role.get("updated_at"),
        "created_by": role.get("created_by"),
    }


def delegable_list(engine: StyleEngine) -> list[dict]:
    """What the style lets an organization's roles list, as the API shows it."""
    return [{"type": t, "permission": p} for t, perms in engine.delegable.items() for p in perms]


def checked(engine: StyleEngine, permissions: object, field: str = "permissions") -> list:
    """``permissions`` ({type, permission} each) as sorted [type, permission] pairs, each
    once. Raises Invalid naming ``<field>.<i>`` for one the style does not declare
    delegable, and ``field`` for an empty or too long list."""
    if not isinstance(permissions, list) or not permissions or len(permissions) > MAX_PERMISSIONS:
        raise Invalid(
            f"a role lists 1 to {MAX_PERMISSIONS} permissions",
            {field: [f"1 to {MAX_PERMISSIONS} permissions"]},
        )
    errors, pairs = {}, set()
    allowed = engine.delegable
    for i, item in enumerate(permissions):
        type_, perm = (
            (item.get("type"), item.get("permission")) if isinstance(item, dict) else ("", "")
        )
        if not isinstance(type_, str) or perm not in allowed.get(type_, ()):
            errors[f"{field}.{i}"] = [
                f"the {engine.style} policy does not let {type_}.{perm} be delegated: one of "
                + ", ".join(f"{t}.{p}" for t, ps in allowed.items() for p in ps)
            ]
        pairs.add((type_, perm))
    if errors:
        raise Invalid(f"invalid fields: {', '.join(errors)}; no role was defined", errors)
    return [list(p) for p in sorted(pairs)]


def giving(before: object, after: list) -> list:
    """What a (re)definition gives, as ``define`` is asked it: what the role gave and what it
    will give, each (type, permission) once, sorted."""
    return [list(p) for p in sorted({tuple(p) for p in [*before, *after]})]  # type: ignore[misc]


def _stored(org_id: str) -> dict:
    """The organization's custom roles as stored (read under the unit's lock)."""
    row = Organization.find(org_id)
    return dict((row.custom_roles if row else None) or {})


def _role(roles: dict, org_id: str, key: str) -> dict:
    role = roles.get(key)
    if role is None:
        raise NotFound(f"no role {key!r} in organization {org_id!r}")
    return role


def _save(org_id: str, roles: dict) -> None:
    Organization.update(custom_roles=roles or None).where(Organization.id == org_id).execute()


# ---------------------------------------------------------------- reading
def _viewer(ctx: Context, actor: str, org_id: str) -> StyleEngine:
    targets = TargetBuilder()
    target = org_target(targets, org_id)
    what = f"view the roles of {org_id}"
    require(ctx.policy, targets, actor, "view_members", target, what=what)
    return engine_for(ctx, target.org)


def list_roles(ctx: Context, actor: str, org_id: str) -> dict:
    """The org's built-in roles, its own roles by key, and what its style lets them list;
    action ``view_members``. Raises NotFound, Forbidden."""
    engine = _viewer(ctx, actor, org_id)
    roles = _stored(org_id)
    return {
        "builtin": engine.roles("Organization"),
        "items": [_shown(k, roles[k]) for k in sorted(roles)],
        "delegable": delegable_list(engine),
    }


def get(ctx: Context, actor: str, org_id: str, key: str) -> dict:
    """One of the org's roles with where it is held (``uses``); action ``view_members``."""
    _viewer(ctx, actor, org_id)
    return {**_shown(key, _role(_stored(org_id), org_id, key)), "uses": uses(org_id, key)}


def define_plan(ctx: Context, targets: TargetBuilder, org: OrgRef, key: str, attrs: dict) -> list:
    """What defining, redefining or deleting the role ``key`` asks the policy, on the facts
    read now (a preview on /v1/authorize, access/previews.py): ``define`` on a CustomRole
    giving what the role gives now (stored) and ``attributes.permissions`` (what it would
    give), as the writes below ask it. Raises Invalid (a new role that lists nothing, a
    permission not delegable)."""
    stored = dict(org.custom_roles).get(key, ())
    given = attrs.get("permissions")
    if not stored and not given:
        raise Invalid(
            f"organization {org.id!r} defines no role {key!r}: a new one lists its permissions",
            {"attributes.permissions": ["required for a new role"]},
        )
    pairs = checked(engine_for(ctx, org), given, "attributes.permissions") if given else []
    target = targets.management(org, "CustomRole", {"role_permissions": giving(stored, pairs)})
    return [Question("define", target, f"define the role {key}")]


# ---------------------------------------------------------------- writing
def create(
    ctx: Context, actor: str, org_id: str, key: str, name: str, permissions: list[dict]
) -> dict:
    """Define a role (``define`` on a CustomRole giving ``permissions``). Raises Invalid
    (a permission not delegable), Conflict (the key is taken, or too many roles),
    NotFound, Forbidden."""
    with UnitOfWork(ctx, org_id) as uow:
        engine = engine_for(ctx, uow.org())
        pairs = checked(engine, permissions)
        roles = _stored(org_id)
        if key in roles:
            raise Conflict(f"the role {key!r} already exists", {"key": ["already taken"]})
        if len(roles) >= MAX_ROLES:
            raise Conflict(
                f"an organization defines at most {MAX_ROLES} roles", {"key": ["too many roles"]}
            )
        attrs = {"role_permissions": pairs}
        uow.require_management(actor, "define", "CustomRole", attrs, f"define the role {key}")
        now = iso(ctx.now())
        roles[key] = {
            "name": name,
            "permissions": pairs,
            "created_at": now,
            "updated_at": now,
            "created_by": actor,
        }
        _save(org_id, roles)
        after = {"name": name, "permissions": pairs}
        uow.audit(org_id, "role.create", target_role(key), None, after, actor)
    return _shown(key, roles[key])


def update(
    ctx: Context,
    actor: str,
    org_id: str,
    key: str,
    name: str | None,
    permissions: list[dict] | None,
) -> dict:
    """Rename a role or change what it gives (``define`` on a CustomRole giving what it
    gave and what it will give: its holders gain or lose them at once). Raises Invalid,
    NotFound, Forbidden."""
    with UnitOfWork(ctx, org_id) as uow:
        engine = engine_for(ctx, uow.org())
        roles = _stored(org_id)
        role = dict(_role(roles, org_id, key))
        pairs = role["permissions"] if permissions is None else checked(engine, permissions)
        attrs = {"role_permissions": giving(role["permissions"], pairs)}
        uow.require_management(actor, "define", "CustomRole", attrs, f"redefine the role {key}")
        before = {"name": role["name"], "permissions": role["permissions"]}
        after = {"name": name or role["name"], "permissions": pairs}
        if after != before:
            role.update(after, updated_at=iso(ctx.now()))
            roles[key] = role
            _save(org_id, roles)
            uow.audit(org_id, "role.update", target_role(key), before, after, actor)
    return _shown(key, role)


def delete(ctx: Context, actor: str, org_id: str, key: str) -> None:
    """Delete a role no one holds and nothing offers (``define`` on a CustomRole giving
    what it gives). Raises Conflict (in use: where), NotFound, Forbidden."""
    with UnitOfWork(ctx, org_id) as uow:
        uow.org()
        roles = _stored(org_id)
        role = _role(roles, org_id, key)
        attrs = {"role_permissions": role["permissions"]}
        uow.require_management(actor, "define", "CustomRole", attrs, f"delete the role {key}")
        held = {where: n for where, n in uses(org_id, key).items() if n}
        if held:
            said = ", ".join(f"{n} {where}" for where, n in held.items())
            raise Conflict(
                f"the role {key!r} is in use ({said}): give those another role first",
                {"key": [f"in use: {said}"]},
            )
        del roles[key]
        _save(org_id, roles)
        before = {"name": role["name"], "permissions": role["permissions"]}
        uow.audit(org_id, "role.delete", target_role(key), before, None, actor)
