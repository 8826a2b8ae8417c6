"""The effective role matrix of a style: every organization role against every (resource
type, action), each cell computed by asking the policy, never read from the test tables.

A cell is "may a user whose only fact is this organization role do this action on a
resource of this type sitting directly in the organization". Types whose attributes the
policy shows apart (``attribute_value``) get one table per value, e.g. cloud and desktop
licenses. The service's own management types are left out: their answers depend on the
request (which role is granted, is it the last owner), not on a role alone.
"""

import csv
import io
import itertools

from authz.engine import StyleEngine
from authz.view import MANAGEMENT_TYPES, level


def variants(engine: StyleEngine, type_: str) -> list:
    """Every combination of the shown attribute values of ``type_`` ({} when none)."""
    values = engine.attribute_values.get(type_, {})
    names = sorted(values)
    return [dict(zip(names, combo)) for combo in itertools.product(*(values[n] for n in names))]


def compute(engine: StyleEngine, version: str = "") -> dict:
    """The matrix as JSON-ready data: roles, and one table per (type, attribute variant)."""
    roles = engine.roles("Organization")
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
                    org = level("Organization", [role])
                    view = (
                        (org,)
                        if type_ == "Organization"
                        else (org, level(type_, attributes=variant))
                    )
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
