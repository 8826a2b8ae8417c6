"""What a policy change does, before it ships.

(a) The effective matrix of each style, old against new: every cell that flips, and roles,
    types or actions that appear or disappear.
(b) The live data, as it is handed in (``World``s: the domain core loads them, see
    access/review.py): every member of every open organization, on the organization and
    on every registered resource of it, for every action either version declares: who
    gains and who loses which permission where. Each (action, view) is decided once per
    version (the memo), so the cost grows with the number of distinct views, not with
    users x resources.

This module is pure: it reads no database and no files beyond the policies it is given.
"""

from collections import Counter
from typing import NamedTuple

from authz import matrix as effective
from authz.engine import PolicySet
from authz.view import ActorFacts, OrgRef, build_view


class Member(NamedTuple):
    """A member of an organization and what they hold."""

    user_id: str
    role: str
    grants: dict  # resource pk -> tuple of roles


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
        cells = {}
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
                        "resource": label,
                        "action": action,
                        "role": role,
                        "old": before,
                        "new": after,
                        "change": "gains" if after else "loses",
                    }
                )
    return changes


def data_changes(old: PolicySet, new: PolicySet, worlds) -> list:
    """Each (user, org, resource, action) of ``worlds`` whose answer differs between the two
    versions."""
    changes = []
    for world in worlds:
        org = world.org
        if org.style not in old.engines and org.style not in new.engines:
            continue
        engines = {side: p.engines.get(org.style) for side, p in (("old", old), ("new", new))}
        for m in world.members:
            actor = ActorFacts(True, m.role, m.grants)
            for chain in world.chains:
                node = chain[-1]
                answers = {}
                for side, engine in engines.items():
                    if engine is None or node.type not in engine.types:
                        answers[side] = {}
                        continue
                    view = build_view(engine, m.user_id, chain, actor)
                    answers[side] = {
                        a: engine.is_allowed(a, view) for a in engine.permissions(node.type)
                    }
                for action in sorted(set(answers["old"]) | set(answers["new"])):
                    before = answers["old"].get(action, False)
                    after = answers["new"].get(action, False)
                    if before != after:
                        changes.append(
                            {
                                "user": m.user_id,
                                "role": m.role,
                                "org": org.id,
                                "style": org.style,
                                "resource_type": node.type,
                                "resource_id": node.id,
                                "action": action,
                                "change": "gains" if after else "loses",
                            }
                        )
    return changes


def diff(old: PolicySet, new: PolicySet, worlds=None) -> dict:
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
    out = [
        f"policy {report['old_version']} -> {report['new_version']}",
        "",
        f"Effective matrix: {report['summary']['matrix_cells_gained']} cells gained, "
        f"{report['summary']['matrix_cells_lost']} lost",
    ]
    for c in report["matrix"]:
        if "action" in c:
            out.append(
                f"  {c['style']}: {c['role']} {c['change']} {c['action']} on {c['resource']}"
            )
        else:
            out.append(f"  {c['style']}: {c['change']}")
    s = report["summary"]
    out += ["", f"Live data: {s['users_gaining']} users gain, {s['users_losing']} users lose"]
    for row in s["by_action"]:
        out.append(f"  {row['style']}: {row['count']} x {row['change']} {row['action']}")
    for c in report["data"]:
        out.append(
            f"    {c['user']} ({c['role']}) {c['change']} {c['action']} on "
            f"{c['resource_type']} {c['resource_id']} in {c['org']}"
        )
    return "\n".join(out)


__all__ = ["Member", "World", "diff", "to_text", "widens"]
