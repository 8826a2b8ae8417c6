"""What a policy change does, before it ships.

(a) The effective matrices of each style, old against new: every cell that flips, of the
    resource matrix and of the management matrix (who may invite as, change from -> to,
    remove, cancel, grant which role; authz.matrix.management), and roles, types or actions
    that appear or disappear.
(b) The live data, as it is handed in (``World``s: the domain core loads them, see
    access/review.py): every member of every open organization, on the organization and
    on every registered resource of it, for every action either version declares: who
    gains and who loses which permission where; and each changed management cell a member
    could meet there (a member of that role to act on, a resource of that type). Each
    (action, view) is decided once per version (the memo), so the cost grows with the
    number of distinct views, not with users x resources.

This module is pure: it reads no database and no files beyond the policies it is given.
"""

from collections import Counter
from collections.abc import Iterable
from typing import NamedTuple

from authz import matrix as effective
from authz.engine import PolicySet, StyleEngine
from authz.view import ActorFacts, OrgRef, build_view


class Member(NamedTuple):
    """A member of an organization and what they hold."""

    user_id: str
    role: str
    grants: dict  # resource pk -> tuple of roles, its own and its teams'
    team_roles: tuple = ()  # the org roles its teams hold


class World(NamedTuple):
    """One open organization as the diff sees it: its members and every chain in it."""

    org: OrgRef
    members: list  # of Member
    chains: list  # of tuples of Node, the organization's own chain first


def matrix_changes(old: PolicySet, new: PolicySet) -> list:
    """Cells of the effective matrices that differ, and styles/roles/actions added or gone."""
    changes = []
    for style in sorted(set(old.styles) | set(new.styles)):
        if style not in new.engines or style not in old.engines:
            changes.append(
                {
                    "style": style,
                    "change": "style added" if style in new.engines else "style removed",
                }
            )
            continue
        cells: dict = {}
        for side, policy in (("old", old), ("new", new)):
            m = effective.compute(policy.engine(style))
            for table in m["tables"]:
                for row in table["rows"]:
                    for role, allowed in zip(m["roles"], row["allowed"]):
                        cells.setdefault((table["label"], row["action"], role), {})[side] = allowed
        for (label, action, role), sides in sorted(cells.items()):
            before, after = sides.get("old", False), sides.get("new", False)
            if before != after:
                changes.append(
                    {
                        "style": style,
                        "kind": "resource",
                        "resource": label,
                        "action": action,
                        "role": role,
                        "old": before,
                        "new": after,
                        "change": "gains" if after else "loses",
                    }
                )
        changes += management_changes(old.engine(style), new.engine(style))
    return changes


def management_changes(
    old_engine: StyleEngine, new_engine: StyleEngine, custom: tuple = ()
) -> list:
    """The cells of the management matrices (authz.matrix.management) that differ: who may
    invite as, change from -> to, remove, cancel, grant what, in the old and new policy;
    with ``custom`` (OrgRef.custom_roles), an organization's own roles too."""
    cells: dict = {}
    for side, engine in (("old", old_engine), ("new", new_engine)):
        matrix = effective.management(engine, custom=custom)
        for key, allowed, (table, row) in effective.management_cells(matrix):
            entry = cells.setdefault(key, {"table": table, "row": row})
            entry[side] = allowed
    changes = []
    for (table_id, case, role), entry in cells.items():
        before, after = entry.get("old", False), entry.get("new", False)
        if before != after:
            table, row = entry["table"], entry["row"]
            changes.append(
                {
                    "style": new_engine.style,
                    "kind": "management",
                    "resource": table["type"],
                    "action": table["action"],
                    "table": table_id,
                    "case": case,
                    "label": f"{table['label']}: {row['label']}",
                    "role": role,
                    "old": before,
                    "new": after,
                    "change": "gains" if after else "loses",
                }
            )
    return changes


def plural(n: int, word: str, many: str = "") -> str:
    """ "1 cell", "2 cells"."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _applies(cell: dict, actor: Member, world: World, held: Counter) -> bool:
    """Whether a management cell that changed is a question ``actor`` can meet in ``world``:
    a member to act on with that role (the last of it or not), a resource of that type."""
    table, case = cell["table"], cell["case"]
    if table in ("invite", "cancel", "change_invitation_role"):
        return True
    if table in ("change_own_role", "change_own_role_last", "leave"):
        last = held[actor.role] == 1
        if table == "leave":
            return last == case.endswith("-last")
        return last == table.endswith("_last")
    role = case.split("->")[0] if table.startswith("change_role") else case
    if table in ("change_role", "change_role_last", "remove", "remove_last"):
        others = held[role] - (1 if actor.role == role else 0)
        if others < 1:
            return False
        return (held[role] == 1) == table.endswith("_last")
    if table in ("team_manage", "team_assign"):
        return True  # any member may be put in a team, or a team made
    if table in ("grant", "revoke"):
        on = case.rsplit(":", 1)[0]
        type_ = on.split(" (")[0]
        return any(chain[-1].type == type_ for chain in world.chains)
    return False


def data_changes(old: PolicySet, new: PolicySet, worlds: Iterable[World]) -> list:
    """Each (user, org, resource, action) of ``worlds`` whose answer differs between the two
    versions, and each management question a member could meet there (a member of that
    role to change or remove, a resource to grant on) whose answer differs."""
    changes: list = []
    management: dict = {}  # style -> the management cells that differ
    for world in worlds:
        style = world.org.style
        if style not in old.engines and style not in new.engines:
            continue
        if style in old.engines and style in new.engines:
            # per style, and per set of roles an org defines itself (most orgs: none)
            key = (style, world.org.custom_roles)
            if key not in management:
                management[key] = management_changes(
                    old.engine(style), new.engine(style), world.org.custom_roles
                )
            changes += _management_changes(world, management[key])
        engines = {side: p.engines.get(style) for side, p in (("old", old), ("new", new))}
        changes += _answer_changes(world, engines)
    return changes


def _change(world: World, member: Member, type_: str, id_: str, action: str, change: str) -> dict:
    return {
        "user": member.user_id,
        "role": member.role,
        "org": world.org.id,
        "style": world.org.style,
        "resource_type": type_,
        "resource_id": id_,
        "action": action,
        "change": change,
    }


def _management_changes(world: World, cells: list) -> list:
    """The management cells that differ which a member of ``world`` could meet there."""
    held = Counter(m.role for m in world.members)
    return [
        _change(world, m, cell["resource"], cell["label"], cell["action"], cell["change"])
        for m in world.members
        for cell in cells
        if cell["role"] == m.role and _applies(cell, m, world, held)
    ]


def _answer_changes(world: World, engines: dict) -> list:
    """Each (member, resource, action) of ``world`` whose answer differs between the
    ``old`` and ``new`` engines (None: the style is not in that version)."""
    changes = []
    for m in world.members:
        actor = ActorFacts(True, m.role, m.grants, m.team_roles).holding(world.org.custom_roles)
        for chain in world.chains:
            node = chain[-1]
            answers: dict = {}
            for side, engine in engines.items():
                if engine is None or node.type not in engine.types:
                    answers[side] = {}
                    continue
                view = build_view(engine, m.user_id, chain, actor)
                actions = engine.permissions(node.type)
                answers[side] = {a: engine.is_allowed(a, view) for a in actions}
            for action in sorted(set(answers["old"]) | set(answers["new"])):
                after = answers["new"].get(action, False)
                if answers["old"].get(action, False) != after:
                    change = "gains" if after else "loses"
                    changes.append(_change(world, m, node.type, node.id, action, change))
    return changes


def diff(old: PolicySet, new: PolicySet, worlds: Iterable[World] | None = None) -> dict:
    """The whole report: matrix changes, data changes over ``worlds`` (None: the matrices
    only) and their counts."""
    cells = matrix_changes(old, new)
    data = data_changes(old, new, worlds) if worlds is not None else []
    counts = Counter((c["style"], c["action"], c["change"]) for c in data)
    return {
        "old_version": old.version,
        "new_version": new.version,
        "matrix": cells,
        "data": data,
        "summary": {
            "matrix_cells_gained": sum(1 for c in cells if c.get("change") == "gains"),
            "matrix_cells_lost": sum(1 for c in cells if c.get("change") == "loses"),
            "management_cells_gained": sum(
                1 for c in cells if c.get("kind") == "management" and c["change"] == "gains"
            ),
            "management_cells_lost": sum(
                1 for c in cells if c.get("kind") == "management" and c["change"] == "loses"
            ),
            "users_gaining": len({c["user"] for c in data if c["change"] == "gains"}),
            "users_losing": len({c["user"] for c in data if c["change"] == "loses"}),
            "by_action": [
                {"style": s, "action": a, "change": ch, "count": n}
                for (s, a, ch), n in sorted(counts.items())
            ],
        },
    }


def widens(report: dict) -> bool:
    """Whether the change gives anyone anything they did not have."""
    s = report["summary"]
    added = any(c.get("change") == "style added" for c in report["matrix"])
    return bool(s["matrix_cells_gained"] or s["users_gaining"] or added)


def to_text(report: dict) -> str:
    """A person's reading of the report."""
    s = report["summary"]
    out = [
        f"policy {report['old_version']} -> {report['new_version']}",
        "",
        f"Effective matrix: {plural(s['matrix_cells_gained'], 'cell')} gained, "
        f"{s['matrix_cells_lost']} lost (management actions: "
        f"{s.get('management_cells_gained', 0)} gained, {s.get('management_cells_lost', 0)} lost)",
    ]
    # Gains first: they are what a reviewer must look at.
    for c in sorted(report["matrix"], key=lambda c: c.get("change") != "gains"):
        if c.get("kind") == "management":
            out.append(f"  {c['style']}: {c['role']} {c['change']} {c['action']}: {c['label']}")
        elif "action" in c:
            out.append(
                f"  {c['style']}: {c['role']} {c['change']} {c['action']} on {c['resource']}"
            )
        else:
            out.append(f"  {c['style']}: {c['change']}")
    out += [
        "",
        f"Live data: {plural(s['users_gaining'], 'user')} gain, "
        f"{plural(s['users_losing'], 'user')} lose",
    ]
    for row in s["by_action"]:
        out.append(f"  {row['style']}: {row['count']} x {row['change']} {row['action']}")
    for c in report["data"]:
        out.append(
            f"    {c['user']} ({c['role']}) {c['change']} {c['action']} on "
            f"{c['resource_type']} {c['resource_id']} in {c['org']}"
        )
    return "\n".join(out)


__all__ = ["Member", "World", "diff", "management_changes", "to_text", "widens"]
