"""``flask policy check``: the mistakes a policy can carry and still load, and
``flask policy test --coverage``: what the test tables exercise.

``check`` finds:
- a Polar parse or validation error (file, line, column);
- a test table naming an action, resource or principal the policy does not know, and
  failing cells;
- a role declared but granted nothing (no rule ever reads it);
- a permission declared on a type with roles that no rule gives to anyone;
- an Organization role with no place in the order the management rules read (no
  ``rank(role, n)``): no rule could ever give it;
- once every table passes (coverage is measured against their answers):
  a role no principal of the table exercises (holds, directly or through a rule, in some
  cell), and a permission no principal of the table is allowed anywhere (unless the table
  says so with an empty list, ``grant: []``), and a rule no cell exercises: removing it
  changes no answer of the table;
- a refused management question (a cell of ``authz.matrix.management``) for which no
  ``reason`` rule of the policy says why.
The service's management types (no roles, decided by has_permission rules on request
facts) are left out of the role and permission checks that need roles.

Coverage of a rule is found by taking it out: a copy of the policy without that one rule is
loaded and the table's cells are decided again; the rule is exercised when some answer
changes (the cells most likely to change are tried first, and the first change ends it). A
rule whose removal does not load (the policy needs it) counts as exercised. Declarations
(``setting``, ``attribute``, ``attribute_value``, ``role_label``, ``reason``) and the
shared file's defaults (``... if false``) are not rules here. A rule of the shared file is
exercised when any style's table exercises it.
"""

import contextlib
import io
import re
import tempfile
from collections import defaultdict
from collections.abc import Set
from pathlib import Path
from typing import NamedTuple

from authz import matrix as effective
from authz.engine import (
    PolicyError,
    PolicySet,
    StyleEngine,
    asking,
    resource_blocks,
    strip_comments,
)
from authz.tables import Cell, TableError, cells, load_table, run_table, table_path
from authz.view import MANAGEMENT_TYPES, build_view

_ROLES_LIST = re.compile(r"\broles\s*=\s*\[[^\]]*\]", re.S)
_BLOCK_HEAD = re.compile(r"(resource|actor)\s+([A-Za-z_]\w*)\s*$")
_HEAD = re.compile(r"([A-Za-z_]\w*)\s*\(")
_STUB = re.compile(r"\bif\s+false\s*;\s*$")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_IF = re.compile(r"\s\bif\b\s")
# Facts that say what the policy is shown or how it speaks, not what it allows.
DECLARATIONS = frozenset({"setting", "attribute", "attribute_value", "role_label", "reason"})


class Statement(NamedTuple):
    """One rule of a policy file: where it is, and its text."""

    path: str
    line: int
    start: int
    end: int
    block: str | None  # the resource block it sits in, for a shorthand rule
    text: str

    def __str__(self) -> str:
        first = " ".join(self.text.split())
        first = first if len(first) <= 100 else first[:97] + "..."
        where = f" (in resource {self.block})" if self.block else ""
        return f"{Path(self.path).name}:{self.line}{where}: {first}"


def statements(path: str, code: str) -> list:
    """The rules of comment-free Polar ``code``: top-level rules and the shorthand rules of
    resource blocks (``"view" if "member";``), declarations left out."""
    out = []
    i, n = 0, len(code)
    depth, start, block, block_depth = 0, None, None, None
    while i < n:
        c = code[i]
        if c == '"':
            start = i if start is None else start
            i += 1
            while i < n and code[i] != '"':
                i += 2 if code[i] == "\\" else 1
            i += 1
            continue
        if c.isspace():
            i += 1
            continue
        if start is None:
            start = i
        if c == "{" and depth == 0:
            head = _BLOCK_HEAD.search(code[start:i])
            if head:
                block, block_depth, depth, start = head.group(2), 1, 1, None
                i += 1
                continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if block is not None and depth == 0:
                block, block_depth, start = None, None, None
                i += 1
                continue
        elif c == ";" and depth == (block_depth or 0):
            text = code[start : i + 1]
            line = code.count("\n", 0, start) + 1
            if block is not None:
                if text.startswith('"'):
                    out.append(Statement(path, line, start, i + 1, block, text))
            else:
                head = _HEAD.match(text)
                if head and head.group(1) not in DECLARATIONS and not _STUB.search(text):
                    out.append(Statement(path, line, start, i + 1, None, text))
            start = None
        i += 1
    return out


def _without(code: str, st: Statement) -> str:
    """``code`` with the statement blanked out (its newlines kept, so lines still match)."""
    blank = "".join("\n" if ch == "\n" else " " for ch in code[st.start : st.end])
    return code[: st.start] + blank + code[st.end :]


class Coverage(NamedTuple):
    """What one style's table exercises."""

    style: str
    rules: list  # of (Statement, exercised: bool)
    pairs: dict  # type -> {(role, action): "allow" | "deny"} exercised by a principal of the role
    missing_pairs: dict  # type -> [(role, action)] no principal of the role is asked
    roles: dict  # type -> set of roles some cell's actor holds there
    allowed_actions: dict  # type -> set of actions some principal is allowed
    listed_actions: dict  # type -> set of actions the table names (even as [])


class _Scorer:
    """How likely taking ``st`` out changes a cell: it is about the cell's type (or is
    called by a rule about it), it names the cell's action or one of its facts, and the cell
    is allowed (taking a rule out mostly takes an allow away). The statement's quoted strings
    and the types its text names are read once, not once per cell (half a million cells per
    ``policy check`` of the shipped policies)."""

    def __init__(self, st: Statement, callers: Set[str]) -> None:
        self.st, self.callers = st, callers
        self.quoted = set(_QUOTED.findall(st.text))
        self.named: dict[str, bool] = {}

    def __call__(self, cell: Cell, allowed: bool) -> int:
        st, quoted = self.st, self.quoted
        score = 0
        if st.block and any(n.type == st.block for n in cell.chain):
            score += 4 if cell.type == st.block else 2
        if cell.type not in self.named:
            self.named[cell.type] = bool(re.search(rf"\b{re.escape(cell.type)}\b", st.text))
        if self.named[cell.type]:
            score += 3
        elif cell.type in self.callers:
            score += 1
        if cell.action in quoted:
            score += 2
        if quoted & {str(v) for v in (cell.chain[-1].attributes or {}).values()}:
            score += 2
        if st.block and cell.actor.grants and any(cell.actor.grants.values()):
            score += 1  # a resource's own roles come from grants
        return score + (1 if allowed else 0)


def _callers(st: Statement, all_statements: list, types: dict) -> set:
    """The types of the rules that call the rule ``st`` defines (one level up)."""
    head = _HEAD.match(st.text)
    if st.block or not head:
        return set()
    call = re.compile(rf"\b{re.escape(head.group(1))}\s*\(")
    found: set = set()
    for other in all_statements:
        parts = _IF.split(other.text, 1)
        body = parts[1] if len(parts) > 1 else ""
        if other is not st and call.search(body):
            found |= _about(other, types)
    return found


def _about(st: Statement, types: dict) -> set:
    """The resource types a rule can apply to: its block's, or those its head specializes
    on (``license: License``). Empty: any (a fact, or an unspecialized rule). A rule about
    a type applies only to objects of it, which a view has only when its chain holds one."""
    if st.block:
        return {st.block}
    head = _IF.split(st.text, 1)[0]
    return {t for t in re.findall(r":\s*([A-Za-z_]\w*)", head) if t in types}


def _exercised(
    style: str,
    files: list,
    st: Statement,
    code: str,
    table_cells: list,
    base: list,
    types: dict,
    callers: Set[str] = frozenset(),
) -> bool:
    """Whether removing ``st`` from its file changes an answer of ``table_cells``."""
    about = _about(st, types)
    relevant = [
        k
        for k in range(len(table_cells))
        if not about or any(n.type in about for n in table_cells[k].chain)
    ]
    if not relevant:
        return False
    with tempfile.TemporaryDirectory(prefix="polar-coverage-") as tmp:
        paths = []
        for f in files:
            if f == st.path:
                mutated = Path(tmp) / Path(f).name
                mutated.write_text(_without(code, st))
                paths.append(str(mutated))
            else:
                paths.append(f)
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # Oso's load warnings
                engine = StyleEngine(style, paths)
        except PolicyError:
            return True  # the policy does not load without it
    # Likeliest to change first, and short chains (cheap questions) before deep ones.
    score = _Scorer(st, callers)
    order = sorted(
        relevant, key=lambda k: (-score(table_cells[k], base[k]), len(table_cells[k].chain))
    )
    views: dict = {}
    for k in order:
        cell = table_cells[k]
        key = (cell.principal, cell.resource)
        try:
            if key not in views:
                views[key] = build_view(engine, cell.principal, cell.chain, cell.actor)
            with asking(dict(cell.context)):
                if engine.is_allowed(cell.action, views[key]) != base[k]:
                    return True
        except Exception:  # noqa: BLE001 -- an error without the rule: the rule mattered
            return True
    return False


def coverage(directory: Path, policy: PolicySet | None = None) -> list:
    """What the tables of ``directory`` exercise, per style (``Coverage``). Raises
    PolicyError or TableError when the policy or a table cannot be read."""
    policy = policy or PolicySet(directory)
    results = []
    codes: dict = {}
    for style in policy.styles:
        engine = policy.engine(style)
        table = load_table(table_path(directory, style))
        table_cells = list(cells(engine, table, str(table_path(directory, style))))
        views: dict = {}
        base = []
        pairs: dict = defaultdict(dict)
        roles: dict = defaultdict(set)
        allowed_actions: dict = defaultdict(set)
        listed_actions: dict = defaultdict(set)
        for cell in table_cells:
            key = (cell.principal, cell.resource)
            if key not in views:
                views[key] = build_view(engine, cell.principal, cell.chain, cell.actor)
                for role in engine.effective_roles(views[key]):
                    roles[cell.type].add(role)
            with asking(dict(cell.context)):
                answer = engine.is_allowed(cell.action, views[key])
            base.append(answer)
            if cell.actor.role:
                seen = pairs[cell.type].get((cell.actor.role, cell.action))
                pairs[cell.type][(cell.actor.role, cell.action)] = (
                    "allow" if answer or seen == "allow" else "deny"
                )
            if cell.expected:
                allowed_actions[cell.type].add(cell.action)
            if cell.listed:
                listed_actions[cell.type].add(cell.action)
        missing = {}
        for type_ in engine.types:
            gaps = [
                (role, action)
                for role in engine.roles("Organization")
                for action in engine.permissions(type_)
                if (role, action) not in pairs.get(type_, {})
            ]
            if gaps:
                missing[type_] = gaps
        rules = []
        found = []
        for path in engine.files:
            code = codes.setdefault(path, strip_comments(Path(path).read_text()))
            found += [(st, code) for st in statements(path, code)]
        every = [st for st, _ in found]
        for st, code in found:
            callers = _callers(st, every, engine.types)
            hit = _exercised(
                style, engine.files, st, code, table_cells, base, engine.types, callers
            )
            rules.append((st, hit))
        results.append(
            Coverage(style, rules, dict(pairs), missing, roles, allowed_actions, listed_actions)
        )
    return results


def shared_rules(results: list) -> dict:
    """Rules of the shared file(s): (file, line) -> (Statement, exercised by any style)."""
    shared: dict = {}
    for result in results:
        for st, hit in result.rules:
            if Path(st.path).name.startswith("_"):
                key = (Path(st.path).name, st.line)
                before = shared.get(key, (st, False))[1]
                shared[key] = (st, before or hit)
    return shared


def unexplained_refusals(engine: StyleEngine) -> list:
    """Refused cells of the management matrix for which no reason rule holds."""
    missing = []
    for q in effective.management_questions(engine):
        action = q.table[2]
        if q.view is None or engine.is_allowed(action, q.view):
            continue
        if not engine.reasons(action, q.view):
            missing.append(f"{q.table[3]}: {q.label} (as {q.role})")
    return missing


def check(directory: Path) -> list:
    """Every problem found in the policies of ``directory``, as sentences; [] when clean.
    The coverage (which rules and roles the tables exercise) is measured once every table
    loads and passes: it asks whether removing a rule changes an answer of the tables, and
    those answers must hold first (it is also most of the check's time: 25 s for pix4d)."""
    try:
        policy = PolicySet(directory)
    except PolicyError as exc:
        return [f"does not load: {exc}"]
    problems = []
    tables_ok = True
    for style in policy.styles:
        engine = policy.engine(style)
        problems += _declaration_problems(style, engine)
        try:
            result = run_table(engine, load_table(table_path(directory, style)))
            problems += [f"table: {f}" for f in result.failures]
            tables_ok = tables_ok and not result.failures
        except TableError as exc:
            problems.append(f"table: {exc}")
            tables_ok = False
        for missing in unexplained_refusals(engine):
            problems.append(f"{style}: no reason(...) rule says why this is refused: {missing}")
    if not tables_ok:
        return problems
    try:
        results = coverage(directory, policy)
    except (PolicyError, TableError) as exc:
        return problems + [f"coverage: {exc}"]
    for result in results:
        problems += _coverage_problems(policy.engine(result.style), result)
    for st, hit in shared_rules(results).values():
        if not hit:
            problems.append(f"shared: no cell of any table exercises the rule {st}")
    return problems


def _declaration_problems(style: str, engine: StyleEngine) -> list:
    """Roles granted nothing, permissions granted to no role, roles with no rank."""
    problems = []
    text = strip_comments("\n".join(Path(f).read_text() for f in engine.files))
    blocks = resource_blocks(text)
    usage = _ROLES_LIST.sub("", text)
    for type_, decl in engine.types.items():
        if type_ in MANAGEMENT_TYPES:
            continue
        for role in decl.roles:
            if f'"{role}"' not in usage:
                problems.append(
                    f"{style}: role {role!r} on {type_} is declared but no rule grants it anything"
                )
        if not decl.roles:
            continue
        body = blocks.get(type_, "")
        for perm in decl.permissions:
            shorthand = re.search(rf'"{re.escape(perm)}"\s+if\b', body)
            rule = re.search(
                rf'has_permission\([^)]*"{re.escape(perm)}"\s*,\s*\w+\s*:\s*{type_}\b', text
            )
            if not (shorthand or rule):
                problems.append(f"{style}: permission {perm!r} on {type_} is granted to no role")
    for role in engine.unranked_roles():
        problems.append(
            f"{style}: role {role!r} has no place in the role order the management rules "
            f'read: add rank("{role}", N) beside the other rank lines of {style}.polar, '
            "or no one may invite as it or give it"
        )
    return problems


def _coverage_problems(engine: StyleEngine, result: Coverage) -> list:
    """Roles and permissions no principal of the table exercises, rules no cell does."""
    problems = []
    style = result.style
    for type_, decl in engine.types.items():
        for role in decl.roles:
            if role not in result.roles.get(type_, set()):
                problems.append(
                    f"{style}: role {role!r} on {type_} is exercised by no principal of "
                    f"{style}.test.yaml: add a principal who holds it and the cells it is allowed"
                )
        for action in decl.permissions:
            if action not in result.allowed_actions.get(
                type_, set()
            ) and action not in result.listed_actions.get(type_, set()):
                problems.append(
                    f"{style}: permission {action!r} on {type_} is allowed to no principal of "
                    f"{style}.test.yaml (list who may, or [] for nobody)"
                )
    for st, hit in result.rules:
        if not hit and not Path(st.path).name.startswith("_"):
            problems.append(
                f"{style}: no cell of {style}.test.yaml exercises the rule {st}: removing it "
                "changes no answer"
            )
    return problems


def coverage_text(directory: Path, policy: PolicySet | None = None) -> str:
    """``policy test --coverage``: per style, each rule exercised (+) or not (-), and per
    type the (organization role, action) cells its table asks: A (allowed to some principal
    of that role), d (asked, always denied), . (no principal of that role asks it)."""
    policy = policy or PolicySet(directory)
    results = coverage(directory, policy)
    out = [
        "coverage: a rule is exercised when taking it out changes an answer of the table; "
        "a (role, action) cell when a principal of that role is asked it"
    ]
    for result in results:
        engine = policy.engine(result.style)
        own = [(st, hit) for st, hit in result.rules if not Path(st.path).name.startswith("_")]
        hits = sum(1 for _, hit in own if hit)
        asked = sum(len(p) for p in result.pairs.values())
        possible = sum(
            len(engine.roles("Organization")) * len(engine.permissions(t)) for t in engine.types
        )
        out += [
            "",
            f"{result.style}: rules {hits} of {len(own)} exercised; (role, action) cells "
            f"{asked} of {possible} asked",
        ]
        out += [f"  {'+' if hit else '-'} {st}" for st, hit in own]
        roles = engine.roles("Organization")
        for type_ in engine.types:
            actions = engine.permissions(type_)
            if not actions:
                continue
            pairs = result.pairs.get(type_, {})
            left = max(len(type_) + 1, *(len(a) for a in actions))
            out.append(f"  {type_ + ':':<{left}}  " + "  ".join(roles))
            for action in actions:
                marks = [
                    f"{ {'allow': 'A', 'deny': 'd'}.get(pairs.get((r, action)), '.'):^{len(r)}}"
                    for r in roles
                ]
                out.append(f"  {action:<{left}}  " + "  ".join(marks))
    shared = shared_rules(results)
    if shared:
        hits = sum(1 for _, hit in shared.values() if hit)
        out += ["", f"shared: rules {hits} of {len(shared)} exercised (by any style's table)"]
        out += [f"  {'+' if hit else '-'} {st}" for st, hit in shared.values()]
    return "\n".join(out)
