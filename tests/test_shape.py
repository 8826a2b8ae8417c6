"""One shape for the service code (issue 25): every module at most 600 lines, every
function (method, nested function) at most 60 lines, so each reads on a screen or two.
Over app.py, access/, authz/, models/, ops/, routes/, deploy/ and the Python client."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICE = ["app.py", "access", "authz", "models", "ops", "routes", "deploy"]
SERVICE += ["clients/python/orgauthz_client"]
MODULE_LINES = 600
FUNCTION_LINES = 60


def service_modules() -> list[Path]:
    found = []
    for name in SERVICE:
        path = ROOT / name
        found += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return found


def long_functions(source: str) -> list[tuple[str, int, int]]:
    """(name, first line, lines) of each function longer than FUNCTION_LINES, its
    decorators included."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            lines = node.end_lineno - first + 1
            if lines > FUNCTION_LINES:
                found.append((node.name, first, lines))
    return found


def test_every_module_is_at_most_600_lines():
    found = [
        f"{p.relative_to(ROOT)} ({n} lines)"
        for p in service_modules()
        if (n := len(p.read_text().splitlines())) > MODULE_LINES
    ]
    assert not found, "longer than 600 lines:\n" + "\n".join(found)


def test_every_function_is_at_most_60_lines():
    found = [
        f"{p.relative_to(ROOT)}:{line} {name} ({lines} lines)"
        for p in service_modules()
        for name, line, lines in long_functions(p.read_text())
    ]
    assert not found, "longer than 60 lines:\n" + "\n".join(found)


def test_the_measure_sees_a_long_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(FUNCTION_LINES))
    source = f"@decorated\ndef f():\n{body}\n\ndef g():\n    return 1\n"
    assert long_functions(source) == [("f", 1, FUNCTION_LINES + 2)]
    assert len(service_modules()) > 50
