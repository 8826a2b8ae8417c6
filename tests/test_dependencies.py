"""The service's declared runtime (requirements.in) is what it imports: no pinned package it
never uses, no imported package it does not declare (which would work only while another
package happens to pull it in)."""

import ast
import importlib.util
import re
import sys
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICE = ["app.py", "gunicorn.conf.py", "access", "authz", "models", "ops", "routes"]
LOCAL = {"app", "access", "authz", "models", "ops", "routes"}
# Used without an import of the service's own: the server the Procfile runs, and the
# PostgreSQL driver peewee loads for a postgresql:// URL.
NOT_IMPORTED = {"gunicorn": "Procfile", "psycopg2-binary": "peewee's PostgreSQL driver"}


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def declared() -> set:
    names = set()
    for line in (ROOT / "requirements.in").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(_name(re.split(r"[=<>!~\[; ]", line, maxsplit=1)[0]))
    return names


def _owners(module: str, dists: list) -> list:
    """The distributions that provide ``module``: the one whose files hold it when several
    share its top-level namespace package (opentelemetry-api, -sdk, -exporter-...)."""
    if len(dists) < 2:
        return dists
    spec = _spec(module)
    origin = spec and spec.origin and Path(spec.origin).resolve()
    for dist in dists:
        found = distribution(dist)
        files = found.files or ()
        if origin and any(Path(str(found.locate_file(f))).resolve() == origin for f in files):
            return [dist]
    return dists


def _spec(module: str):
    """The module's spec, None when it is no module (a name a module defines)."""
    try:
        return importlib.util.find_spec(module)
    except ImportError:
        return None


def packages_of(module: str, owners: dict) -> list:
    top = module.split(".")[0]
    return _owners(module, owners.get(top, [f"<no installed package provides {top}>"]))


def imported() -> dict:
    """distribution name -> a file of the service that imports it."""
    owners = packages_distributions()
    found: dict = {}
    files = []
    for entry in SERVICE:
        path = ROOT / entry
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
                if len(packages_of(node.module, owners)) > 1:  # the submodules it names
                    subs = [f"{node.module}.{a.name}" for a in node.names]
                    modules = [m for m in subs if _spec(m)] or modules
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in LOCAL or top in sys.stdlib_module_names:
                    continue
                for dist in packages_of(module, owners):
                    found.setdefault(_name(dist), str(path.relative_to(ROOT)))
    return found


def test_every_import_is_declared_and_every_declared_package_is_used():
    uses = imported()
    wanted = set(uses) | set(NOT_IMPORTED)
    missing = {name: uses[name] for name in wanted - declared()}
    unused = declared() - wanted
    assert not missing, f"imported but not in requirements.in: {missing}"
    assert not unused, f"in requirements.in but never imported: {sorted(unused)}"
