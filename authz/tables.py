"""Policy test tables: ``policies/<style>.test.yaml``, read by reviewers, run by the service.

A table has ``principals`` (a membership role, grants on named resources), ``resources``
(a type, a parent, an owner, attributes; ``user: self`` makes a Membership or RoleChange the
principal's own, ``owner: self`` makes the principal the owner, ``standalone: true`` puts a
resource outside any organization) and ``expect``: for each resource, for each action,
the principals that are allowed. Every other cell is expected to be a deny: every declared
action of the resource's type, for every principal not listed.

The cells are decided through the same ``build_view`` and engine as live requests; only the
facts come from the table instead of the database.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import yaml

from authz.engine import PolicySet, StyleEngine
from authz.view import ActorFacts, Node, build_view


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


class Result(NamedTuple):
    style: str
    cells: int
    failures: list


def table_path(directory: Path, style: str) -> Path:
    return Path(directory) / f"{style}.test.yaml"


def load_table(path: Path) -> dict:
    """Read a table. Raises TableError when it is missing or malformed."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as exc:
        raise TableError(f"no test table {path}") from exc
    except yaml.YAMLError as exc:
        raise TableError(f"{path}: {exc}") from exc
    for key in ("principals", "resources", "expect"):
        if not isinstance(data, dict) or not isinstance(data.get(key), dict):
            raise TableError(f"{path}: needs a mapping {key!r}")
    return data


def _chain(
    name: str, resources: dict, principal: str, role: str | None, pks: dict
) -> tuple[Node, ...]:
    spec = resources[name]
    chain: tuple[Node, ...] = ()
    if spec.get("parent"):
        chain = _chain(spec["parent"], resources, principal, role, pks)
    elif spec["type"] != "Organization" and not spec.get("standalone"):
        chain = (Node("Organization", "org"),)
    attrs = dict(spec.get("attributes") or {})
    if "user" in spec:  # a Membership or RoleChange of the principal itself, or of another
        attrs["is_self"] = spec["user"] == "self"
        if spec["user"] == "self":
            attrs.setdefault("role", role)
            attrs.setdefault("from_role", role)
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


def check_table(engine: StyleEngine, table: dict, source: str = "") -> None:
    """Raises TableError when ``table`` names what ``engine`` does not declare."""
    principals, resources, expect = table["principals"], table["resources"], table["expect"]
    for name, spec in resources.items():
        if not isinstance(spec, dict) or spec.get("type") not in engine.types:
            raise TableError(f"{source}: resource {name!r} has no type the policy declares")
        if spec.get("parent") and spec["parent"] not in resources:
            raise TableError(f"{source}: resource {name!r} has unknown parent {spec['parent']!r}")
    for pname, p in principals.items():
        for rname in (p or {}).get("grants", {}) or {}:
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


def cells(engine: StyleEngine, table: dict, source: str = "") -> Iterator["Cell"]:
    """Every cell of ``table``: each principal, each resource, each action the policy
    declares on its type. Raises TableError for a bad table."""
    check_table(engine, table, source)
    principals, resources, expect = table["principals"], table["resources"], table["expect"]
    pks = {name: i + 1 for i, name in enumerate(resources)}
    for pname, p in principals.items():
        p = p or {}
        role = p.get("role")
        grants = {
            pks[r]: (g,) if isinstance(g, str) else tuple(g)
            for r, g in (p.get("grants") or {}).items()
        }
        actor = ActorFacts(True, role, grants)
        for rname, spec in resources.items():
            if spec.get("user") == "self" and role is None:
                continue  # "the principal's own membership" means nothing without one
            chain = _chain(rname, resources, pname, role, pks)
            listed = expect.get(rname) or {}
            for action in engine.permissions(spec["type"]):
                expected = pname in (listed.get(action) or [])
                yield Cell(
                    pname, rname, spec["type"], action, chain, actor, expected, action in listed
                )


def run_table(engine: StyleEngine, table: dict, source: str = "") -> Result:
    """Decide every cell of ``table`` with ``engine``. Raises TableError for a bad table."""
    failures, count, views = [], 0, {}
    for cell in cells(engine, table, source):
        key = (cell.principal, cell.resource)
        if key not in views:
            views[key] = build_view(engine, cell.principal, cell.chain, cell.actor)
        got = engine.is_allowed(cell.action, views[key])
        count += 1
        if got != cell.expected:
            failures.append(
                Failure(
                    engine.style, cell.principal, cell.resource, cell.action, cell.expected, got
                )
            )
    return Result(engine.style, count, failures)


def run_tables(policy: PolicySet) -> list:
    """Run the table of every style of ``policy``. Raises TableError for a missing/bad table."""
    results = []
    for style in policy.styles:
        path = table_path(policy.directory, style)
        results.append(run_table(policy.engine(style), load_table(path), str(path)))
    return results
