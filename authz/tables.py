"""Policy test tables: ``policies/<style>.test.yaml``, read by reviewers, run by the service.

A table has ``principals`` (a membership role, grants on named resources), ``resources``
(a type, a parent, an owner, attributes; ``user: self`` makes a Membership or RoleChange the
principal's own, ``owner: self`` makes the principal the owner, ``standalone: true`` puts a
resource outside any organization) and ``expect``: for each resource, for each action,
the principals that are allowed. Every other cell is expected to be a deny: every declared
action of the resource's type, for every principal not listed.

The cells are decided through the same ``build_view`` and engine as live requests; only the
facts come from the table instead of the database.

``reasons`` (optional in the file, required in effect) pins why a refused cell is refused:
for a resource, an action and a principal, the text of the first ``reason(...)`` rule that
holds, as the policy writes it (``{placeholders}`` unfilled: what a refusal shows once the
request's roles fill them), or null for "no reason rule holds" (the sentence then comes from
the roles). A row on a cell the table expects allowed is an error. Every reason text the
policy declares must be asserted by at least one row, so that a reason rule whose text or
condition changes fails its table (``reason_failures``).

``settings`` (optional) pins the values the policy states with ``setting(name, value)``
(an invitation lifetime, a batch limit, the creator's role), each beside the sentence of
the page it comes from. ``equivalent`` (optional) lists the policy changes no row can
notice, with the reason (``authz.mutants``, ``policy test --mutants``).
"""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import yaml

from authz.engine import PolicySet, StyleEngine, asking, context_value
from authz.view import ActorFacts, Node, build_view, handing_out

# libyaml's safe loader where PyYAML was built with it (its wheels are): the same documents as
# yaml.safe_load, parsed in C; the pure-Python loader spent 0.38 s on the shipped tables at
# every gunicorn start.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class TableError(Exception):
    """A table that is not well formed (an unknown principal, resource or action)."""


class Failure(NamedTuple):
    style: str
    principal: str
    resource: str
    action: str
    expected: bool
    got: bool

    def __str__(self) -> str:
        want = "allow" if self.expected else "deny"
        got = "allow" if self.got else "deny"
        return (
            f"{self.style}: {self.principal} {self.action} on {self.resource}: "
            f"expected {want}, got {got}"
        )


class ReasonFailure(NamedTuple):
    style: str
    principal: str
    resource: str
    action: str
    expected: str | None
    got: str | None

    def __str__(self) -> str:
        return (
            f"{self.style}: {self.principal} {self.action} on {self.resource}: expected the "
            f"reason {self.expected!r}, got {self.got!r}"
        )


class UnassertedReason(NamedTuple):
    style: str
    action: str
    text: str

    def __str__(self) -> str:
        return (
            f"{self.style}: no row of the table's reasons asserts the {self.action!r} reason "
            f"{self.text!r}: add one for a cell it explains"
        )


class SettingFailure(NamedTuple):
    style: str
    name: str
    expected: object
    got: object

    def __str__(self) -> str:
        return (
            f"{self.style}: the setting {self.name} is {self.got!r}, the table says "
            f"{self.expected!r}"
        )


class Result(NamedTuple):
    style: str
    cells: int
    failures: list


def table_path(directory: Path, style: str) -> Path:
    return Path(directory) / f"{style}.test.yaml"


def load_table(path: Path) -> dict:
    """Read a table. Raises TableError when it is missing or malformed."""
    try:
        data = yaml.load(Path(path).read_text(), Loader=SAFE_LOADER)
    except FileNotFoundError as exc:
        raise TableError(f"no test table {path}") from exc
    except yaml.YAMLError as exc:
        raise TableError(f"{path}: {exc}") from exc
    for key in ("principals", "resources", "expect"):
        if not isinstance(data, dict) or not isinstance(data.get(key), dict):
            raise TableError(f"{path}: needs a mapping {key!r}")
    for key in ("reasons", "settings"):
        if not isinstance(data.get(key) or {}, dict):
            raise TableError(f"{path}: {key!r} must be a mapping")
    return data


def custom_roles(table: dict) -> tuple:
    """The table's ``custom_roles`` (key: ["Type.permission", ...]), the roles its
    organization defines, as OrgRef.custom_roles holds them. Raises TableError."""
    out = []
    for key, listed in (table.get("custom_roles") or {}).items():
        out.append((str(key), _pairs(listed, f"custom_roles.{key}")))
    return tuple(sorted(out))


def _pairs(listed: object, where: str) -> tuple:
    if not isinstance(listed, list) or not all(isinstance(x, str) and "." in x for x in listed):
        raise TableError(f"{where}: a list of Type.permission")
    return tuple(sorted(tuple(x.split(".", 1)) for x in listed))


def _chain(
    name: str, resources: dict, principal: str, role: str | None, pks: dict, custom: tuple = ()
) -> tuple[Node, ...]:
    spec = resources[name]
    chain: tuple[Node, ...] = ()
    if spec.get("parent"):
        chain = _chain(spec["parent"], resources, principal, role, pks, custom)
    elif spec["type"] != "Organization" and not spec.get("standalone"):
        chain = (Node("Organization", "org"),)
    attrs = dict(spec.get("attributes") or {})
    if "user" in spec:  # a Membership or RoleChange of the principal itself, or of another
        attrs["is_self"] = spec["user"] == "self"
        if spec["user"] == "self":
            attrs.setdefault("role", role)
            attrs.setdefault("from_role", role)
    if "role_permissions" in attrs:  # a CustomRole's: as its definition lists them
        attrs["role_permissions"] = [list(p) for p in _pairs(attrs["role_permissions"], name)]
    attrs = handing_out(spec["type"], attrs, custom)
    owner = spec.get("owner")
    owner = principal if owner == "self" else owner
    return chain + (Node(spec["type"], name, pks[name], owner, attrs),)


class Cell(NamedTuple):
    """One question of a table: may ``principal`` do ``action`` on ``resource``?"""

    principal: str
    resource: str
    type: str
    action: str
    chain: tuple  # of Node, as build_view takes it
    actor: ActorFacts
    expected: bool
    listed: bool  # the table names this action for this resource (even as [])
    context: tuple = ()  # the resource's ``context``: the request context it is asked with


def expectations(table: dict) -> dict:
    """The table's ``expect`` with each ``like: other`` resolved: the other resource's
    rows, then this one's (``org_outside_allowlist: {like: org, edit_details: []}``)."""
    expect = table["expect"]
    out = {}
    for name, rows in expect.items():
        rows = dict(rows or {})
        seen = {name}
        while "like" in rows:
            other = rows.pop("like")
            if other in seen or other not in expect:
                raise TableError(f"expect: {name}: like names {other!r}, no other resource's rows")
            seen.add(other)
            rows = {**(expect[other] or {}), **rows}
        out[name] = rows
    return out


def context_of(engine: StyleEngine, spec: dict, source: str, name: str) -> tuple:
    """A resource's ``context`` (name: value), checked as the API checks a check's: each a
    context attribute the policy declares, of its kind. Raises TableError."""
    given = spec.get("context") or {}
    kinds = engine.context_kinds()
    if not isinstance(given, dict):
        raise TableError(f"{source}: resource {name!r}: context must be a mapping")
    out = []
    for key, value in given.items():
        if key not in kinds:
            raise TableError(f"{source}: resource {name!r}: the policy declares no context {key!r}")
        try:
            out.append((key, context_value(kinds[key], value)))
        except ValueError as exc:
            raise TableError(f"{source}: resource {name!r}: context.{key}: {exc}") from exc
    return tuple(sorted(out))


def check_table(engine: StyleEngine, table: dict, source: str = "") -> None:
    """Raises TableError when ``table`` names what ``engine`` does not declare."""
    principals, resources = table["principals"], table["resources"]
    try:
        expect = expectations(table)
    except TableError as exc:
        raise TableError(f"{source}: {exc}") from exc
    for name, spec in resources.items():
        if not isinstance(spec, dict) or spec.get("type") not in engine.types:
            raise TableError(f"{source}: resource {name!r} has no type the policy declares")
        context_of(engine, spec, source, name)
        if spec.get("parent") and spec["parent"] not in resources:
            raise TableError(f"{source}: resource {name!r} has unknown parent {spec['parent']!r}")
    for pname, p in principals.items():
        for rname in {**((p or {}).get("grants") or {}), **((p or {}).get("team_grants") or {})}:
            if rname not in resources:
                raise TableError(f"{source}: principal {pname!r} has a grant on unknown {rname!r}")
    for rname, actions in expect.items():
        if rname not in resources:
            raise TableError(f"{source}: expect names unknown resource {rname!r}")
        declared = engine.permissions(resources[rname]["type"])
        for action, allowed in (actions or {}).items():
            if action not in declared:
                raise TableError(
                    f"{source}: {rname}: the policy declares no action {action!r} "
                    f"on {resources[rname]['type']}"
                )
            for pname in allowed or []:
                if pname not in principals:
                    raise TableError(f"{source}: {rname}.{action}: unknown principal {pname!r}")


def _actor(p: dict, role: str | None, pks: dict, custom: tuple = ()) -> ActorFacts:
    """A principal's facts: its membership ``role``, its ``grants`` (resource: role or
    roles), and those of its teams: ``team_roles`` (org roles) and ``team_grants``, which
    it holds as its own when it is a member (``role``), as the service reads them."""
    grants: dict = {}
    teams = role is not None
    for key, held in (("grants", True), ("team_grants", teams)):
        for r, g in (p.get(key) or {}).items():
            if held:
                grants[pks[r]] = tuple(sorted({*grants.get(pks[r], ()), *_roles(g)}))
    team_roles = tuple(sorted(set(p.get("team_roles") or ()))) if teams else ()
    return ActorFacts(True, role, grants, team_roles).holding(custom)


def _roles(g: str | list) -> tuple:
    return (g,) if isinstance(g, str) else tuple(g)


def cells(engine: StyleEngine, table: dict, source: str = "") -> Iterator["Cell"]:
    """Every cell of ``table``: each principal, each resource, each action the policy
    declares on its type. Raises TableError for a bad table."""
    check_table(engine, table, source)
    principals, resources, expect = table["principals"], table["resources"], expectations(table)
    pks = {name: i + 1 for i, name in enumerate(resources)}
    contexts = {name: context_of(engine, spec, source, name) for name, spec in resources.items()}
    custom = custom_roles(table)
    for pname, p in principals.items():
        p = p or {}
        role = p.get("role")
        actor = _actor(p, role, pks, custom)
        for rname, spec in resources.items():
            if spec.get("user") == "self" and role is None:
                continue  # "the principal's own membership" means nothing without one
            chain = _chain(rname, resources, pname, role, pks, custom)
            listed = expect.get(rname) or {}
            for action in engine.permissions(spec["type"]):
                expected = pname in (listed.get(action) or [])
                yield Cell(
                    pname,
                    rname,
                    spec["type"],
                    action,
                    chain,
                    actor,
                    expected,
                    action in listed,
                    contexts[rname],
                )


def run_table(engine: StyleEngine, table: dict, source: str = "") -> Result:
    """Decide every cell of ``table`` with ``engine``, and check its reasons
    (``reason_failures``). Raises TableError for a bad table."""
    failures: list = []
    count, views = 0, {}
    found = {}
    for cell in cells(engine, table, source):
        key = (cell.principal, cell.resource)
        if key not in views:
            views[key] = build_view(engine, cell.principal, cell.chain, cell.actor)
        found[(cell.resource, cell.action, cell.principal)] = cell
        with asking(dict(cell.context)):
            got = engine.is_allowed(cell.action, views[key])
        count += 1
        if got != cell.expected:
            failures.append(
                Failure(
                    engine.style, cell.principal, cell.resource, cell.action, cell.expected, got
                )
            )
    failures += reason_failures(engine, table, found, views, source)
    failures += setting_failures(engine, table)
    return Result(engine.style, count, failures)


def setting_failures(engine: StyleEngine, table: dict) -> list:
    """The table's ``settings`` (name: value, as the vendor's pages state it) the policy
    does not state with that value: a lifetime or a limit changed by mistake fails."""
    return [
        SettingFailure(engine.style, name, value, engine.setting(name))
        for name, value in (table.get("settings") or {}).items()
        if engine.setting(name) != value
    ]


# ---------------------------------------------------------------- reasons
def _strip_comments(text: str) -> str:
    """Polar source without its comments (``#`` to the end of the line, outside strings)."""
    out, in_string, i = [], False, 0
    while i < len(text):
        ch = text[i]
        if in_string:
            out.append(ch)
            if ch == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif ch == "#":
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _arguments(text: str, start: int) -> list[str]:
    """The arguments of the call whose "(" is at ``start``, split at top-level commas."""
    args, current, depth, in_string, i = [], [], 0, False, start + 1
    while i < len(text):
        ch = text[i]
        if in_string:
            if ch == "\\" and i + 1 < len(text):
                current.append(ch + text[i + 1])
                i += 2
                continue
            in_string = ch != '"'
        elif ch == '"':
            in_string = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            if depth == 0:
                args.append("".join(current).strip())
                return args
            depth -= 1
        elif ch == "," and depth == 0:
            args.append("".join(current).strip())
            current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    raise TableError("a reason rule's head does not close")


_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_REASON_HEAD = re.compile(r"(?<![\w.])reason\s*\(")


def declared_reasons(engine: StyleEngine) -> list[tuple[str, str]]:
    """(action, text) of each ``reason(actor, "action", resource, "text")`` rule in the
    style's files, in order. Raises TableError for a reason rule whose action or text is
    not a string (the runner could not tell whether a row asserts it)."""
    found: list[tuple[str, str]] = []
    for path in engine.files:
        text = _strip_comments(Path(path).read_text())
        for head in _REASON_HEAD.finditer(text):
            args = _arguments(text, head.end() - 1)
            if not any('"' in a for a in args):
                continue  # the declaration in _shared.polar: reason(_actor, ...) if false
            strings = [_STRING.fullmatch(a) for a in args]
            action, said = (strings[1], strings[3]) if len(args) == 4 else (None, None)
            if action is None or said is None:
                raise TableError(
                    f"{engine.style}: {path}: a reason rule whose action and text are not "
                    f"both strings: reason({', '.join(args)})"
                )
            pair = (action.group(1), said.group(1).replace('\\"', '"'))
            if pair not in found:
                found.append(pair)
    return found


def reason_failures(
    engine: StyleEngine,
    table: dict,
    found: dict | None = None,
    views: dict | None = None,
    source: str = "",
) -> list:
    """The rows of ``table``'s ``reasons`` whose reason is not the one the policy gives
    first (``ReasonFailure``), and every reason text of the policy no row asserts
    (``UnassertedReason``). ``found`` and ``views``: the cells and views of ``run_table``.
    Raises TableError for a row naming no cell, or a cell the table expects allowed."""
    if found is None:
        found = {(c.resource, c.action, c.principal): c for c in cells(engine, table, source)}
    views = {} if views is None else views
    failures: list = []
    asserted = set()
    for rname, actions in (table.get("reasons") or {}).items():
        for action, rows in (actions or {}).items():
            for pname, expected in (rows or {}).items():
                cell = found.get((rname, action, pname))
                if cell is None:
                    raise TableError(
                        f"{source}: reasons: {rname}.{action}.{pname} is no cell of the table"
                    )
                if cell.expected:
                    raise TableError(
                        f"{source}: reasons: {rname}.{action}.{pname} is a cell the table "
                        "expects allowed: only a refusal has a reason"
                    )
                key = (pname, rname)
                if key not in views:
                    views[key] = build_view(engine, pname, cell.chain, cell.actor)
                with asking(dict(cell.context)):
                    texts = engine.reasons(action, views[key])
                got = texts[0] if texts else None
                if got != expected:
                    failures.append(
                        ReasonFailure(engine.style, pname, rname, action, expected, got)
                    )
                elif expected is not None:
                    asserted.add((action, expected))
    for action, text in declared_reasons(engine):
        if (action, text) not in asserted:
            failures.append(UnassertedReason(engine.style, action, text))
    return failures


def run_tables(policy: PolicySet) -> list:
    """Run the table of every style of ``policy``. Raises TableError for a missing/bad table."""
    results = []
    for style in policy.styles:
        path = table_path(policy.directory, style)
        results.append(run_table(policy.engine(style), load_table(path), str(path)))
    return results
