"""The layers read top to bottom: no package imports a layer above it (README, Layout)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# package: what it must never import
FORBIDDEN = {
    "authz": {"flask", "peewee", "playhouse", "models", "ops", "access", "routes", "app"},
    "models": {"flask", "ops", "access", "routes", "app"},
    "ops": {"access", "routes", "app"},
    "access": {"flask", "werkzeug", "peewee", "playhouse", "psycopg2", "routes", "app"},
}


def imports(path: Path) -> set:
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_layer_reaches_up(package):
    found = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in (ROOT / package).rglob("*.py")
        for name in imports(path) & FORBIDDEN[package]
    }
    assert not found, sorted(found)
