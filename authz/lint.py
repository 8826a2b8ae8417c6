"""``flask policy check``: the mistakes a policy can carry and still load.

- a Polar parse or validation error (file, line, column);
- a test table naming an action, resource or principal the policy does not know;
- a role declared but granted nothing (no rule ever reads it);
- a permission declared on a type with roles that no rule gives to anyone.
The service's management types (no roles, decided by has_permission rules on request
facts) are checked only for the first two.
"""

import re
from pathlib import Path

from authz.engine import PolicyError, PolicySet, resource_blocks, strip_comments
from authz.tables import TableError, load_table, run_table, table_path
from authz.view import MANAGEMENT_TYPES

_ROLES_LIST = re.compile(r"\broles\s*=\s*\[[^\]]*\]", re.S)


def check(directory: Path) -> list:
    """Every problem found in the policies of ``directory``, as sentences; [] when clean."""
    try:
        policy = PolicySet(directory)
    except PolicyError as exc:
        return [f"does not load: {exc}"]
    problems = []
    for style in policy.styles:
        engine = policy.engine(style)
        text = strip_comments("\n".join(Path(f).read_text() for f in engine.files))
        blocks = resource_blocks(text)
        usage = _ROLES_LIST.sub("", text)
        for type_, decl in engine.types.items():
            if type_ in MANAGEMENT_TYPES:
                continue
            for role in decl.roles:
                if f'"{role}"' not in usage:
                    problems.append(
                        f"{style}: role {role!r} on {type_} is declared but no rule "
                        "grants it anything"
                    )
            if not decl.roles:
                continue
            body = blocks.get(type_, "")
            for perm in decl.permissions:
                shorthand = re.search(rf'"{re.escape(perm)}"\s+if\b', body)
                rule = re.search(
                    rf'has_permission\([^)]*"{re.escape(perm)}"\s*,\s*\w+\s*:\s*'
                    rf"{type_}\b",
                    text,
                )
                if not (shorthand or rule):
                    problems.append(
                        f"{style}: permission {perm!r} on {type_} is granted to no role"
                    )
        try:
            result = run_table(engine, load_table(table_path(directory, style)))
            problems += [f"table: {f}" for f in result.failures]
        except TableError as exc:
            problems.append(f"table: {exc}")
    return problems
