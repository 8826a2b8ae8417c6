"""The suite keeps itself honest: a test module imports no other test module (shared
helpers live in tests/support.py, tests/serving.py and tests/pgcluster.py; fixtures in the
conftest files), and no test waits a fixed time for something to happen (it waits on the
condition with a deadline: tests/support.py ``wait_until`` or ``poll``)."""

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

# The modules of tests/ that others may import.
SHARED = {
    "tests.support",
    "tests.serving",
    "tests.pgcluster",
    "tests.conftest",
    "tests.outbox.conftest",
    "tests.scim.conftest",  # the SCIM tests' client, bodies and directory token
    "tests.routes.console_helpers",  # the console tests' page helpers (not a test module)
}

# Sleeps that are the behaviour under test, not a wait for something: (file, function).
SLEEPS = {
    ("tests/support.py", "poll"): "the one polling loop: the pause between two looks",
    (
        "tests/ops/test_slow_clients.py",
        "test_slow_clients_do_not_starve_authorize_behind_nginx",
    ): "slow clients: their stalled requests must sit on the server a while (behind nginx"
    " and against gunicorn itself) before the fast calls go; nothing outside shows it",
    (
        "tests/deploy/test_nodes.py",
        "churn",
    ): "the pace of a timed churn of writes while the load runs (a rate, not a wait)",
    (
        "tests/routes/test_replicas.py",
        "test_a_replica_past_the_lag_bound_is_skipped",
    ): "the lag bound is wall time: the replica's missed revoke must grow older than it",
}


def python_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "node_modules" not in p.parts)


def module_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def imported(source: str, module: str) -> set[str]:
    """The modules the code ``source`` of ``module`` imports anywhere in it (relative
    imports resolved), each also with the names it takes from them."""
    names = set()
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            origin = ".".join(filter(None, [base, node.module or ""]))
            names |= {origin} | {f"{origin}.{a.name}" for a in node.names}
    return names


def strays(names: set[str]) -> set[str]:
    """The modules of tests/ among ``names`` that are not SHARED (nor names in them)."""
    return {
        name
        for name in names
        if name.startswith("tests.") and name not in SHARED and name.rsplit(".", 1)[0] not in SHARED
    }


def test_no_test_module_imports_another():
    found = sorted(
        f"{path.relative_to(ROOT)} imports {name}"
        for path in python_files()
        for name in strays(imported(path.read_text(), module_of(path)))
    )
    assert not found, found


def sleeps(source: str) -> list[tuple[str, int]]:
    """(innermost enclosing function, line) of each ``time.sleep(...)`` or bare
    ``sleep(...)`` in the code ``source``."""
    found = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = function
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = child.name
            if isinstance(child, ast.Call):
                f = child.func
                if (isinstance(f, ast.Attribute) and f.attr == "sleep") or (
                    isinstance(f, ast.Name) and f.id == "sleep"
                ):
                    found.append((name, child.lineno))
            visit(child, name)

    visit(ast.parse(source), "<module>")
    return found


def test_no_fixed_sleeps_outside_the_allow_list():
    found, used = [], set()
    for path in python_files():
        rel = str(path.relative_to(ROOT))
        for function, line in sleeps(path.read_text()):
            if (rel, function) in SLEEPS:
                used.add((rel, function))
            else:
                found.append(f"{rel}:{line} sleeps in {function}: wait on a condition")
    assert not found, found
    assert used == set(SLEEPS), f"allowed sleeps no longer there: {set(SLEEPS) - used}"


def test_the_checks_catch_what_they_look_for():
    """A cross-module import (absolute or relative) and a sleep are seen (so the two
    checks above can fail); the shared modules are not."""
    source = (
        "import time\n"
        "from tests.routes.test_orgs import add_user\n"
        "from .test_listing import add_asset\n"
        "from tests.support import poll\n"
        "from tests import serving\n\n"
        "def test_a():\n"
        "    def inner():\n"
        "        time.sleep(1)\n"
    )
    assert strays(imported(source, "tests.routes.test_x")) == {
        "tests.routes.test_orgs",
        "tests.routes.test_orgs.add_user",
        "tests.routes.test_listing",
        "tests.routes.test_listing.add_asset",
    }
    assert sleeps(source) == [("inner", 9)]
