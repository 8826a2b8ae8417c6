"""``flask policy test --mutants``: how strong a style's test table is.

Each rule of a style's policy file is changed a little, one change at a time (a *mutant*):

- a clause of a rule's body dropped (``a and b`` -> ``b``, also inside ``not (...)``; a
  one-clause body dropped makes the rule a fact; ``"x" if "r" on "rel"`` -> ``"x" if "r"``);
- a role swapped for its neighbour in the style's roles (the Organization's in the order of
  ``rank``, ties in declaration order; another type's in its ``roles`` list);
- a number one up and one down (a ``rank``, a setting such as an invitation lifetime), a
  comparison made strict or not (``<=`` -> ``<``);
- a clause of a rule's body negated (``c`` -> ``not (c)``, ``not c`` -> ``c``).

Each mutant is loaded into a fresh Oso and the style's table is run against it: its cells,
its ``reasons`` and its ``settings`` (the values the table pins). A mutant a row notices is
*killed*; one that does not load is *killed by loading*; one no row notices *survives*,
unless the table's ``equivalent`` section declares it equivalent (no question can tell it
from the policy), each with its reason. An error while deciding a cell counts as a deny, as
it does in the service. Declarations (``attribute``, ``role_label``, ``reason``, the shared
file's defaults) are not mutated: they decide nothing (the ``reasons`` rows pin the reasons).
"""

import contextlib
import io
import os
import re
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

from authz.engine import PolicyError, PolicySet, StyleEngine, asking, strip_comments
from authz.lint import Statement, _about, _callers, _Scorer, statements
from authz.tables import (
    Cell,
    TableError,
    cells,
    load_table,
    reason_failures,
    setting_failures,
    table_path,
)
from authz.view import build_view

_SETTING = re.compile(r"(?m)^setting\s*\(.*?\)\s*;")
_NUMBER = re.compile(r"(?<![\w.])\d+(?![\w.])")
_COMPARE = {"<=": "<", "<": "<=", ">=": ">", ">": ">="}
_COMPARISON = re.compile(r"<=|>=|<(?!=)|>(?!=)")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_AND = re.compile(r"\band\b")
_IF = re.compile(r"\bif\b")
# "r" if "r": a rule that implies itself adds nothing, and Oso loops on it until its query
# times out (30 s), so no change makes one (taking the rule out is ``policy check``'s).
_LOOP = re.compile(r'\s*"([^"]*)"\s+if\s+"\1"\s*;')
_WORD = re.compile(r"(?<![\w.:])(?<!: )([A-Za-z_]\w*)\b(?!\s*\()")
_KEYWORDS = frozenset({"if", "and", "or", "not", "in", "matches", "on", "true", "false", "nil"})


class Mutant(NamedTuple):
    """One small change to one rule of a policy file."""

    style: str
    path: str  # the policy file changed
    line: int
    rule: str  # the rule as written, whitespace collapsed
    change: str  # what changed, e.g. 'drop "membership.is_self = false"'
    code: str  # the whole file, changed (comments left out)
    statement: Statement

    def __str__(self) -> str:
        rule = self.rule if len(self.rule) <= 90 else self.rule[:87] + "..."
        return f"{Path(self.path).name}:{self.line}: {self.change}  in  {rule}"


class Outcome(NamedTuple):
    mutant: Mutant
    status: str  # killed | loading | survived | equivalent
    detail: str  # the row that noticed, the load error, or the equivalence's reason


class Report(NamedTuple):
    """The mutants of one style and what became of each."""

    style: str
    outcomes: list
    stale: list  # equivalence declarations that match no mutant, or a killed one

    def of(self, status: str) -> list:
        return [o for o in self.outcomes if o.status == status]


# ---------------------------------------------------------------- making mutants
def ladders(engine: StyleEngine) -> list:
    """The role lists a role is swapped along: the Organization's in rank order, then each
    other type's declared roles."""
    out = [engine.role_order or engine.roles("Organization")]
    out += [d.roles for t, d in engine.types.items() if t != "Organization" and d.roles]
    return [lst for lst in out if len(lst) > 1]


def _neighbours(role: str, lists: list) -> list:
    found: list = []
    for lst in lists:
        if role in lst:
            i = lst.index(role)
            found += [lst[j] for j in (i - 1, i + 1) if 0 <= j < len(lst)]
    return [r for r in dict.fromkeys(found) if r != role]


def _blank_strings(text: str) -> str:
    """``text`` with the inside of its string literals blanked (same length)."""
    return _STRING.sub(lambda m: '"' + " " * (len(m.group()) - 2) + '"', text)


def _groups(body: str) -> list:
    """The conjunctions of a rule body: for the body and each parenthesised group in it,
    the (start, end) spans of its ``and``-separated clauses, when it has two or more."""
    plain = _blank_strings(body)
    stack: list[tuple[int, list[int]]] = [(0, [])]
    spans = []
    for i, ch in enumerate(plain):
        if ch == "(":
            stack.append((i + 1, []))
        elif ch == ")" and len(stack) > 1:
            spans.append(_clauses(*stack.pop(), i))
        elif ch == "a" and _AND.match(plain, i) and (i == 0 or not plain[i - 1].isalnum()):
            stack[-1][1].append(i)
    spans.append(_clauses(*stack.pop(), len(plain)))
    return [s for s in spans if len(s) > 1]


def _clauses(start: int, ands: list, end: int) -> list:
    """The (start, end) of each clause between ``start`` and ``end``, cut at ``ands``."""
    bounds = [start] + [a + 3 for a in ands]
    return list(zip(bounds, ands + [end]))


def _trimmed(text: str, start: int, end: int) -> tuple:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _drops(head: str, body: str) -> list:
    """(change, new rule text) for each clause of ``body`` dropped."""
    out = []
    groups = _groups(body)
    for spans in groups:
        for k, (s, e) in enumerate(spans):
            cs, ce = _trimmed(body, s, e)
            cut = (s, spans[k + 1][0]) if k + 1 < len(spans) else (spans[k - 1][1], e)
            out.append((f'drop "{body[cs:ce]}"', f"{head}if{body[: cut[0]]}{body[cut[1] :]};"))
    top = _trimmed(body, 0, len(body))
    if not any(spans[0][0] == 0 for spans in groups):  # one clause: the rule becomes a fact
        out.append((f'drop "{body[slice(*top)]}"', head.rstrip() + ";"))
    return out


def _negations(head: str, body: str) -> list:
    """(change, new rule text) for each top-level clause of ``body`` negated."""
    groups = [g for g in _groups(body) if g[0][0] == 0]
    spans = groups[0] if groups else [(0, len(body))]
    out = []
    for s, e in spans:
        cs, ce = _trimmed(body, s, e)
        clause = body[cs:ce]
        new = clause[4:].lstrip() if clause.startswith("not ") else f"not ({clause})"
        change = f'negate "{clause}"'
        out.append((change, f"{head}if{body[:cs]}{new}{body[ce:]};"))
    return out


def _shorthand(text: str) -> list:
    """``"x" if "r" on "rel";`` -> ``"x" if "r";`` (the relation dropped)."""
    found = re.search(r'\s+on\s+"[^"]*"(?=\s*;)', text)
    if not found:
        return []
    new = text[: found.start()] + text[found.end() :]
    return [] if _LOOP.fullmatch(new) else [(f'drop "{found.group().strip()}"', new)]


def _swaps(text: str, lists: list) -> list:
    """(change, new text) for each role literal swapped for a neighbour, each number one up
    and one down, each comparison made strict or not."""
    out = []
    for m in _STRING.finditer(text):
        for other in _neighbours(m.group()[1:-1], lists):
            new = text[: m.start()] + f'"{other}"' + text[m.end() :]
            if not _LOOP.fullmatch(new):
                out.append((f'{m.group()} -> "{other}"', new))
    plain = _blank_strings(text)
    for m in _NUMBER.finditer(plain):
        n = int(m.group())
        for other in (n - 1, n + 1):
            out.append((f"{n} -> {other}", text[: m.start()] + str(other) + text[m.end() :]))
    for m in _COMPARISON.finditer(plain):
        other = _COMPARE[m.group()]
        out.append((f"{m.group()} -> {other}", text[: m.start()] + other + text[m.end() :]))
    return out


def _unsingled(text: str) -> str:
    """A changed rule with each variable it now names once renamed ``_name`` (Polar refuses
    a rule with an unused variable, and the change, not the variable, is what is tested)."""
    plain = _blank_strings(text)
    words = [m for m in _WORD.finditer(plain) if m.group(1) not in _KEYWORDS]
    counts: dict = {}
    for m in words:
        counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    for m in reversed(words):
        name = m.group(1)
        if counts[name] == 1 and not name.startswith("_") and not name[0].isupper():
            text = text[: m.start(1)] + "_" + text[m.start(1) :]
    return text


def changes(st: Statement, lists: list) -> list:
    """Every (change, new text) of one rule."""
    text = st.text
    found = list(_swaps(text, lists))
    if st.block:
        return _shorthand(text) + found
    plain = _blank_strings(text)
    m = _IF.search(plain)
    if not m:
        return found
    head, body = text[: m.start()], text[m.end() : len(text.rstrip()) - 1]
    cut = [(change, _unsingled(new)) for change, new in _drops(head, body)]
    return cut + _negations(head, body) + found


def _settings(path: str, code: str) -> list:
    out = []
    for m in _SETTING.finditer(code):
        line = code.count("\n", 0, m.start()) + 1
        out.append(Statement(path, line, m.start(), m.end(), None, m.group()))
    return out


def mutants(engine: StyleEngine) -> list:
    """Every mutant of the style's own policy file (the shared files are left alone)."""
    lists = ladders(engine)
    out, seen = [], set()
    for path in engine.files:
        if Path(path).name.startswith("_"):
            continue
        code = strip_comments(Path(path).read_text())
        for st in statements(path, code) + _settings(path, code):
            rule = " ".join(st.text.split())
            rule = f"resource {st.block} {{ {rule} }}" if st.block else rule
            for change, new in changes(st, lists):
                key = (st.start, new)
                if new != st.text and key not in seen:
                    seen.add(key)
                    mutated = code[: st.start] + new + code[st.end :]
                    out.append(Mutant(engine.style, path, st.line, rule, change, mutated, st))
    return sorted(out, key=lambda m: (m.path, m.line))


# ---------------------------------------------------------------- running them
class _Plan(NamedTuple):
    """What a style's mutants are run against: its table and its cells."""

    style: str
    files: list
    table: dict
    cells: list
    statements: list  # every rule of the style's files, for the order of the cells
    types: dict


def plan(policy: PolicySet, style: str, directory: Path | None = None) -> _Plan:
    """A style's table, read once for all its mutants. Raises TableError."""
    engine = policy.engine(style)
    path = table_path(directory or policy.directory, style)
    table = load_table(path)
    every = []
    for f in engine.files:
        every += statements(f, strip_comments(Path(f).read_text()))
    table_cells = list(cells(engine, table, str(path)))
    return _Plan(style, engine.files, table, table_cells, every, engine.types)


def _load(plan_: _Plan, mutant: Mutant, tmp: str) -> StyleEngine:
    """The mutant in a fresh Oso, its file written in ``tmp``. Raises PolicyError."""
    paths = []
    for f in plan_.files:
        if f == mutant.path:
            changed = Path(tmp) / Path(f).name
            changed.write_text(mutant.code)
            f = str(changed)
        paths.append(f)
    with contextlib.redirect_stdout(io.StringIO()):  # Oso's load warnings
        return StyleEngine(plan_.style, paths)


def _answer(engine: StyleEngine, cell: Cell, views: dict) -> bool:
    """The mutant's answer on a cell; an error is a deny, as in the service."""
    key = (cell.principal, cell.resource)
    try:
        if key not in views:
            views[key] = build_view(engine, cell.principal, cell.chain, cell.actor)
        with asking(dict(cell.context)):
            return bool(engine.is_allowed(cell.action, views[key]))
    except Exception:  # noqa: BLE001 -- any error while deciding is a deny
        return False


_ENTRIES = frozenset({"allow", "has_permission", "has_role", "has_relation"})


def reach(st: Statement, every: list, types: dict, seen: frozenset = frozenset()) -> set:
    """The resource types whose cells a change to ``st`` can reach; empty: any. A rule Oso
    asks itself (``allow``, ``has_permission``, ``has_role``, ``has_relation``, a block's
    shorthand) reaches the types it is about; any other reaches what its callers reach."""
    head = re.match(r"\s*([A-Za-z_]\w*)\s*\(", st.text)
    if st.block or not head or head.group(1) in _ENTRIES:
        return _about(st, types)
    name = head.group(1)
    call = re.compile(rf"\b{re.escape(name)}\s*\(")
    callers = [o for o in every if o is not st and call.search(_IF.split(o.text, 1)[-1])]
    found: set = set()
    for other in callers:
        if other.start in seen:
            continue
        more = reach(other, every, types, seen | {st.start})
        if not more:
            return set()
        found |= more
    return found if callers else set()


def _noticed_by_cells(plan_: _Plan, mutant: Mutant, engine: StyleEngine, views: dict) -> str:
    """The first cell whose answer the mutant changes ("" when none), the likeliest first."""
    st = mutant.statement
    about = reach(st, plan_.statements, plan_.types)
    callers = _callers(st, plan_.statements, plan_.types)
    relevant = [c for c in plan_.cells if not about or any(n.type in about for n in c.chain)]
    score = _Scorer(st, callers)
    relevant.sort(key=lambda c: (-score(c, c.expected), len(c.chain)))
    for cell in relevant:
        if _answer(engine, cell, views) != cell.expected:
            want = "allow" if cell.expected else "deny"
            return f"{cell.principal} {cell.action} on {cell.resource} (expected {want})"
    return ""


def _noticed_by_settings(plan_: _Plan, engine: StyleEngine) -> str:
    failures = setting_failures(engine, plan_.table)
    return f"settings: {failures[0]}" if failures else ""


def run_mutant(plan_: _Plan, mutant: Mutant) -> tuple:
    """(status, detail) of one mutant against its style's table."""
    with tempfile.TemporaryDirectory(prefix="polar-mutant-") as tmp:
        try:
            engine = _load(plan_, mutant, tmp)
        except PolicyError as exc:
            return "loading", str(exc).splitlines()[0][:200]
        found = _noticed_by_settings(plan_, engine)
        if found or mutant.statement.text.startswith("setting"):
            return ("killed", found) if found else ("survived", "")  # a setting decides no cell
        found = _noticed_by_cells(plan_, mutant, engine, {})
        if not found:
            try:
                failures = reason_failures(engine, plan_.table)
            except TableError as exc:
                failures = [exc]
            found = f"reasons: {failures[0]}" if failures else ""
    return ("killed", found) if found else ("survived", "")


_WORK: dict = {}  # the plans a forked worker reads (set before the pool forks)


def _run_one(job: tuple) -> tuple:
    style, mutant = job
    return run_mutant(_WORK[style], mutant)


def _declared(table: dict, source: str) -> list:
    """The table's ``equivalent`` section: [{rule, change, why}]. Raises TableError."""
    rows = table.get("equivalent") or []
    if not isinstance(rows, list):
        raise TableError(f"{source}: 'equivalent' must be a list")
    for row in rows:
        if not isinstance(row, dict) or not all(
            isinstance(row.get(k), str) and row[k] for k in ("rule", "change", "why")
        ):
            raise TableError(f"{source}: each equivalent mutant needs a rule, a change and a why")
    return rows


def _matches(row: dict, mutant: Mutant) -> bool:
    return row["change"] == mutant.change and " ".join(row["rule"].split()) in mutant.rule


def _judge(style: str, rows: list, results: list) -> Report:
    """Sort the (mutant, status, detail) of a style by the table's equivalence rows."""
    outcomes, used = [], set()
    stale = []
    for mutant, status, detail in results:
        row = next((k for k, r in enumerate(rows) if _matches(r, mutant)), None)
        if row is not None:
            used.add(row)
            if status == "survived":
                status, detail = "equivalent", rows[row]["why"]
            else:
                stale.append(f"{style}: declared equivalent, but {status}: {mutant} ({detail})")
        outcomes.append(Outcome(mutant, status, detail))
    for k, r in enumerate(rows):
        if k not in used:
            stale.append(f"{style}: no mutant matches the equivalent {r['rule']!r}: {r['change']}")
    return Report(style, outcomes, stale)


def run(directory: Path, styles: list | None = None, jobs: int | None = None) -> list:
    """The ``Report`` of each style of ``directory`` (all by default). ``jobs``: worker
    processes (default: the CPUs). Raises PolicyError or TableError when the policy or a
    table cannot be read."""
    policy = PolicySet(directory)
    chosen = styles or policy.styles
    for style in chosen:
        if style not in policy.engines:
            raise PolicyError(f"no style {style!r}; styles: {', '.join(policy.styles)}")
    plans = {s: plan(policy, s, Path(directory)) for s in chosen}
    rows = {s: _declared(p.table, s) for s, p in plans.items()}
    jobs_ = [(s, m) for s in chosen for m in mutants(policy.engine(s))]
    workers = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    _WORK.clear()
    _WORK.update(plans)
    answers: Any
    if workers == 1:
        answers = map(_run_one, jobs_)
    else:
        import multiprocessing

        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
        with pool:
            answers = list(pool.map(_run_one, jobs_, chunksize=4))
    by_style: dict = {s: [] for s in chosen}
    for (style, mutant), (status, detail) in zip(jobs_, answers):
        by_style[style].append((mutant, status, detail))
    return [_judge(s, rows[s], by_style[s]) for s in chosen]


def problems(reports: list, max_survivors: int = 0) -> list:
    """What ``policy check --mutants`` fails on: survivors no equivalence explains (beyond
    ``max_survivors``) and stale equivalence rows."""
    out = []
    survivors = [o for r in reports for o in r.of("survived")]
    if len(survivors) > max_survivors:
        out += [f"{o.mutant.style}: no table row notices {o.mutant}" for o in survivors]
    for r in reports:
        out += r.stale
    return out


def report_text(reports: list) -> str:
    """``policy test --mutants``: per style the counts, then each survivor, each mutant that
    did not load and each equivalent one with its reason."""
    out = []
    for r in reports:
        counts = ", ".join(
            f"{len(r.of(s))} {label}"
            for s, label in (
                ("killed", "killed"),
                ("loading", "killed by loading"),
                ("equivalent", "equivalent"),
                ("survived", "survived"),
            )
        )
        out.append(f"{r.style}: {len(r.outcomes)} mutants: {counts}")
        for status, label in (("survived", "SURVIVED"), ("loading", "does not load")):
            out += [f"  {label} {o.mutant}" for o in r.of(status)]
        out += [f"  equivalent {o.mutant}: {o.detail}" for o in r.of("equivalent")]
        out += [f"  STALE {s}" for s in r.stale]
    return "\n".join(out)
