"""The effective role matrices of a style, each cell computed by asking the policy, never
read from the test tables.

``compute``: every organization role against every (resource type, action). A cell is "may
a user whose only fact is this organization role do this action on a resource of this type
sitting directly in the organization". Types whose attributes the policy shows apart
(``attribute_value``) get one table per value, e.g. cloud and desktop licenses.

``management``: the service's own management actions, whose answers depend on the request
as well as the role: every actor role against every target role for invite-as, cancel,
a pending invitation's role from -> to, change-role from -> to, remove and grant/revoke a
role on each resource type, with the self cases (one's own role, leaving) and the
last-of-role cases. The management targets are built as the service builds them
(``management_target``, ``build_view``).

``for_console(policy)``: both, for every style of a PolicySet (the console's policies page).
"""

import csv
import io
import itertools
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from authz.engine import PolicySet, StyleEngine
from authz.view import (
    MANAGEMENT_TYPES,
    ActorFacts,
    Node,
    OrgRef,
    Target,
    build_view,
    management_target,
    org_node,
)


def variants(engine: StyleEngine, type_: str) -> list:
    """Every combination of the shown attribute values of ``type_`` ({} when none)."""
    values = engine.attribute_values.get(type_, {})
    names = sorted(values)
    return [dict(zip(names, combo)) for combo in itertools.product(*(values[n] for n in names))]


def org_roles(engine: StyleEngine, custom: tuple = ()) -> list:
    """The organization roles of the matrices' columns: the style's, then those an
    organization defines itself (``custom``: OrgRef.custom_roles), if any."""
    return engine.roles("Organization") + [key for key, _ in custom]


def compute(engine: StyleEngine, version: str = "", custom: tuple = ()) -> dict:
    """The matrix as JSON-ready data: roles, and one table per (type, attribute variant).
    ``custom``: an organization's own roles (OrgRef.custom_roles), as columns too."""
    roles = org_roles(engine, custom)
    tables = []
    for type_, decl in engine.types.items():
        if type_ in MANAGEMENT_TYPES or not decl.permissions:
            continue
        for variant in variants(engine, type_):
            label = type_ + (
                " (" + ", ".join(f"{k}={v}" for k, v in variant.items()) + ")" if variant else ""
            )
            rows = []
            for action in decl.permissions:
                allowed = []
                for role in roles:
                    chain: tuple[Node, ...] = (Node("Organization", "org"),)
                    if type_ != "Organization":
                        chain += (Node(type_, "resource", None, None, variant),)
                    actor = ActorFacts(True, role, {}).holding(custom)
                    view = build_view(engine, ACTOR_ID, chain, actor)
                    allowed.append(engine.is_allowed(action, view))
                rows.append({"action": action, "allowed": allowed})
            tables.append({"type": type_, "attributes": variant, "label": label, "rows": rows})
    return {"style": engine.style, "policy_version": version, "roles": roles, "tables": tables}


def to_markdown(matrix: dict) -> str:
    """One Markdown table per resource type: actions down, roles across, ✅ or —."""
    out = [
        f"# {matrix['style']} effective role matrix",
        "",
        f"Policy version `{matrix['policy_version']}`. Computed by asking the policy.",
        "",
    ]
    for table in matrix["tables"]:
        out += [
            f"## {table['label']}",
            "",
            "| action | " + " | ".join(matrix["roles"]) + " |",
            "|---|" + "|".join(":-:" for _ in matrix["roles"]) + "|",
        ]
        for row in table["rows"]:
            cells = " | ".join("✅" if a else "—" for a in row["allowed"])
            out.append(f"| {row['action']} | {cells} |")
        out.append("")
    return "\n".join(out)


def to_csv(matrix: dict) -> str:
    """One line per (resource type, action), a column per role, 1 or 0."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["resource", "action", *matrix["roles"]])
    for table in matrix["tables"]:
        for row in table["rows"]:
            writer.writerow([table["label"], row["action"], *(int(a) for a in row["allowed"])])
    return buffer.getvalue()


# ---------------------------------------------------------------- management actions
# Each table: (id, type, action, heading). Its rows are the cases below; each cell asks the
# policy with the actor holding only that organization role. ``None`` marks a cell with no
# meaning (one's own role changed to the role one has).
MANAGEMENT_TABLES = (
    ("invite", "Invitation", "invite", "Invite as"),
    ("cancel", "Invitation", "cancel", "Cancel an invitation as"),
    ("change_invitation_role", "Invitation", "change_role", "Change a pending invitation's role"),
    ("change_role", "RoleChange", "change_role", "Change another member's role"),
    (
        "change_role_last",
        "RoleChange",
        "change_role",
        "Change the role of the last member who holds it",
    ),
    ("change_own_role", "RoleChange", "change_role", "Change one's own role"),
    (
        "change_own_role_last",
        "RoleChange",
        "change_role",
        "Change one's own role as the last who holds it",
    ),
    ("remove", "Membership", "remove", "Remove another member"),
    ("remove_last", "Membership", "remove", "Remove the last member who holds a role"),
    ("leave", "Membership", "remove", "Leave"),
    ("grant", "Grant", "grant", "Grant"),
    ("revoke", "Grant", "revoke", "Revoke"),
    ("team_manage", "Team", "manage", "Manage a team (create, rename, delete, members) holding"),
    ("team_assign", "Team", "assign_role", "Give a team the role"),
)
ACTOR_ID = "matrix-actor"  # the actor of every cell; any member id other than the target's


def _team_rows(table_id: str, roles: list) -> list:
    """The cases of a Team table: the role the team holds (``team_manage``), or the role
    a team holding none is given (``team_assign``)."""
    if table_id == "team_manage":
        return [("none", "no role", {"role": None}, None)] + [
            (r, r, {"role": r}, None) for r in roles
        ]
    return [(f"none->{b}", f"none -> {b}", {"role": None, "to_role": b}, None) for b in roles]


def _rows(engine: StyleEngine, table_id: str, roles: list) -> list:
    """The cases of one table: (key, label, attributes or a function of the actor's role,
    the resource a Grant is on), for the organization ``roles``."""
    pairs = [(a, b) for a in roles for b in roles if a != b]
    if table_id in ("invite", "cancel"):
        return [(r, r, {"role": r}, None) for r in roles]
    if table_id == "change_invitation_role":
        return [(f"{a}->{b}", f"{a} -> {b}", {"role": a, "to_role": b}, None) for a, b in pairs]
    if table_id in ("change_role", "change_role_last"):
        last = table_id.endswith("_last")
        return [
            (
                f"{a}->{b}",
                f"{a} -> {b}",
                {"from_role": a, "to_role": b, "is_self": False, "last_of_role": last},
                None,
            )
            for a, b in pairs
        ]
    if table_id in ("change_own_role", "change_own_role_last"):
        last = table_id.endswith("_last")
        return [
            (
                f"self->{b}",
                f"own role -> {b}",
                lambda own, b=b, last=last: (
                    None
                    if own == b
                    else {"from_role": own, "to_role": b, "is_self": True, "last_of_role": last}
                ),
                None,
            )
            for b in roles
        ]
    if table_id in ("remove", "remove_last"):
        last = table_id == "remove_last"
        return [(r, r, {"role": r, "is_self": False, "last_of_role": last}, None) for r in roles]
    if table_id.startswith("team_"):
        return _team_rows(table_id, roles)
    extra = roles[len(engine.roles("Organization")) :]  # the organization's own roles
    return _leave_rows(table_id) if table_id == "leave" else _grant_rows(engine, extra)


def _leave_rows(table_id: str) -> list:
    if table_id == "leave":
        return [
            (
                f"leave{'-last' if last else ''}",
                "leave, the last who holds one's role" if last else "leave",
                lambda own, last=last: {"role": own, "is_self": True, "last_of_role": last},
                None,
            )
            for last in (False, True)
        ]
    return []


def _grant_rows(engine: StyleEngine, custom: list) -> list:
    """The cases of grant and revoke: every role of every type that has roles, and each
    of the organization's own roles (``custom``), on each variant of its attributes."""
    rows = []
    for type_, decl in engine.types.items():
        if type_ in MANAGEMENT_TYPES or type_ == "Organization" or not decl.roles:
            continue
        for variant in variants(engine, type_):
            on = type_ + (
                " (" + ", ".join(f"{k}={v}" for k, v in variant.items()) + ")" if variant else ""
            )
            for r in [*decl.roles, *custom]:
                rows.append((f"{on}:{r}", f"{r} on {on}", {"role": r}, (type_, variant)))
    return rows


class Question(NamedTuple):
    """One cell of the management matrix, before it is asked: the view is that of an actor
    holding only ``role``; None where the case means nothing for that role."""

    table: tuple  # (id, type, action, heading) of MANAGEMENT_TABLES
    case: str
    label: str
    role: str
    view: tuple | None


def management_questions(engine: StyleEngine, custom: tuple = ()) -> Iterator[Question]:
    """Every cell of the management matrix of ``engine``, table by table, row by row, role
    by role, with the view the policy is asked on (built as the service builds it).
    ``custom``: an organization's own roles (OrgRef.custom_roles), as roles too."""
    org = OrgRef("org", engine.style, custom_roles=custom)
    roles = org_roles(engine, custom)
    for spec in MANAGEMENT_TABLES:
        _table_id, type_, action, _heading = spec
        if type_ not in engine.types or action not in engine.permissions(type_):
            continue
        for key, label, attrs, on in _rows(engine, spec[0], roles):
            under = None
            if on is not None:
                node = Node(on[0], "resource", None, None, on[1])
                under = Target(org, (org_node(org), node))
            for role in roles:
                facts = attrs(role) if callable(attrs) else attrs
                view = None
                if facts is not None:
                    target = management_target(org, type_, facts, under=under)
                    actor = ActorFacts(True, role, {}).holding(custom)
                    view = build_view(engine, ACTOR_ID, target.chain, actor)
                yield Question(spec, key, label, role, view)


def management(engine: StyleEngine, version: str = "", custom: tuple = ()) -> dict:
    """The management matrix as JSON-ready data: actor roles across, one table per kind of
    management action, each row a case (the target's role, from -> to, ...). A cell is
    true, false, or null where the case means nothing for that actor role. ``custom``: an
    organization's own roles (OrgRef.custom_roles), as actors and as cases."""
    tables: dict = {}
    for q in management_questions(engine, custom):
        table_id, type_, action, heading = q.table
        table = tables.setdefault(
            table_id,
            {"id": table_id, "type": type_, "action": action, "label": heading, "rows": []},
        )
        if not table["rows"] or table["rows"][-1]["case"] != q.case:
            table["rows"].append({"case": q.case, "label": q.label, "allowed": []})
        answer = None if q.view is None else engine.is_allowed(action, q.view)
        table["rows"][-1]["allowed"].append(answer)
    return {
        "style": engine.style,
        "policy_version": version,
        "roles": org_roles(engine, custom),
        "tables": [t for t in tables.values() if t["rows"]],
    }


def management_cells(m: dict) -> Iterator[tuple[tuple[str, str, str], bool, tuple[Any, Any]]]:
    """Each cell of a management matrix: ((table id, case, actor role), allowed, labels)."""
    for table in m["tables"]:
        for row in table["rows"]:
            for role, allowed in zip(m["roles"], row["allowed"]):
                if allowed is not None:
                    yield (table["id"], row["case"], role), allowed, (table, row)


def _mark(allowed: bool | None) -> str:
    return "✅" if allowed else ("·" if allowed is None else "—")


def management_markdown(m: dict) -> str:
    """One Markdown table per management action: cases down, actor roles across."""
    out = [
        f"# {m['style']} management matrix",
        "",
        f"Policy version `{m['policy_version']}`. Computed by asking the policy: the actor "
        "holds only the role of its column; · marks a case with no meaning for that role.",
        "",
    ]
    for table in m["tables"]:
        out += [
            f"## {table['label']} (`{table['action']}` on {table['type']})",
            "",
            "| case | " + " | ".join(m["roles"]) + " |",
            "|---|" + "|".join(":-:" for _ in m["roles"]) + "|",
        ]
        for row in table["rows"]:
            out.append(f"| {row['label']} | " + " | ".join(map(_mark, row["allowed"])) + " |")
        out.append("")
    return "\n".join(out)


def management_csv(m: dict) -> str:
    """One line per (management table, case), a column per actor role: 1, 0 or empty."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for table in m["tables"]:
        for row in table["rows"]:
            cells = ["" if a is None else int(a) for a in row["allowed"]]
            writer.writerow([f"{table['id']}", row["label"], *cells])
    return buffer.getvalue()


def for_console(policy: PolicySet, styles: Iterable[str] | None = None) -> list:
    """For the console's policies page: each style of ``policy`` (a PolicySet), its
    resource matrix and its management matrix, ``[{"style", "resources", "management"}]``."""
    out = []
    for style in styles or policy.styles:
        engine = policy.engine(style)
        out.append(
            {
                "style": style,
                "resources": compute(engine, policy.version),
                "management": management(engine, policy.version),
            }
        )
    return out
