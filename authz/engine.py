"""The one module that owns Oso.

Each vendor style is a policy file under ``policies/`` loaded, with the shared rules, into its
own Oso instance. A ``PolicySet`` holds the engines of every style, the version (a hash of the
files) and, per engine, a bounded memo of answers keyed on the view (see ``authz.view``). A new
PolicySet is built whole and swapped in, so a reload never mixes two versions and the memo of
the old version is dropped with it.

What a style has (resource types, roles, permissions, relations, settings such as invitation
lifetimes) is read from its policy, never listed in Python.
"""

import functools
import hashlib
import ipaddress
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from oso import Oso
from polar import Variable
from polar.exceptions import OsoError
from polar.query import Query

from authz.view import (
    ACTOR,
    CONTEXT_TYPES,
    MANAGEMENT_TYPES,
    Actor,
    Level,
    PolarObject,
    RequestContext,
    View,
    level,
    to_polar,
)

log = logging.getLogger("orgauthz.engine")

POLICY_DIR = Path(__file__).resolve().parent.parent / "policies"
SHARED_PREFIX = "_"  # files like _shared.polar are loaded into every style
MEMO_BYTES = 64 * 1024 * 1024  # per style engine: the memo of answers, bounded in bytes
T = TypeVar("T")


# A policy may read only the view it is shown: the attributes of the PolarObjects of a chain
# and the Actor's methods. Oso's host looks attributes up with getattr on whatever a rule
# names, so without this a rule could walk from any object to its class, a module, a
# function's globals and the builtins (``r.__class__.__mro__`` ...). Every external
# attribute lookup passes here; anything else is an application error (a deny). Of a
# string, a rule may ask only ``startswith`` (``custom_role`` in _shared.polar).
_host_lookup = Query.handle_external_call
_STRING_METHODS = frozenset({"startswith"})


def _view_only_lookup(self: Query, data: dict[str, Any]) -> None:
    name = data["attribute"]
    instance = self.host.to_python(data["instance"])
    readable = isinstance(instance, (PolarObject, Actor)) or (
        isinstance(instance, str) and name in _STRING_METHODS
    )
    if name.startswith("_") or not readable:
        self.ffi_query.application_error(
            f"a policy may read only the view: no {name!r} on {type(instance).__name__}"
        )
        self.ffi_query.call_result(data["call_id"], None)
        return
    _host_lookup(self, data)


Query.handle_external_call = _view_only_lookup  # type: ignore[method-assign]


# Polar queries run by each thread (a memo hit runs none): what a request's work budget
# counts (routes/decisions.py, the setting DECISION_BUDGET).
_work = threading.local()


def evaluations() -> int:
    """How many Polar queries this thread has run since ``begin_work``."""
    return getattr(_work, "n", 0)


def begin_work() -> None:
    """Count this thread's Polar queries from zero (at the start of each request)."""
    _work.n = 0


def _spend(n: int = 1) -> None:
    _work.n = getattr(_work, "n", 0) + n


# The request context of the checks being decided on this thread (docs/API.md 1.3): set by
# the decision endpoints around a check (``asking``), read by each engine's memo, which keeps
# only the attributes its style declares for the resource's type (``StyleEngine.context_of``).
_CONTEXT: ContextVar[dict | None] = ContextVar("orgauthz_request_context", default=None)


def asked() -> dict | None:
    """The request context the checks of this thread are decided with (None: none)."""
    return _CONTEXT.get()


@contextmanager
def asking(context: dict | None) -> Iterator[None]:
    """Decide with ``context`` (name -> checked value) as the request's context."""
    token = _CONTEXT.set(context or None)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def context_value(kind: str, value: Any) -> Any:
    """``value`` as a context attribute of ``kind`` shows it to a rule (an ip in its
    canonical text). Raises ValueError naming what it should be. The API's schema
    (routes/schemas/context.py) and the test tables load context with it."""
    if kind == "boolean" and type(value) is bool:
        return value
    if kind == "integer" and type(value) is int and abs(value) < 2**53:
        return value
    if kind == "string" and type(value) is str and 0 < len(value) <= CONTEXT_TEXT_MAX:
        return value
    if kind == "ip" and type(value) is str and len(value) <= 64:
        try:
            return ipaddress.ip_address(value).compressed
        except ValueError:
            pass
    raise ValueError(_CONTEXT_KIND_TEXT[kind])


CONTEXT_TEXT_MAX = 200
_CONTEXT_KIND_TEXT = {
    "boolean": "a boolean",
    "integer": "an integer",
    "string": f"a string of 1 to {CONTEXT_TEXT_MAX} characters",
    "ip": "an IPv4 or IPv6 address",
}


class Memo(Generic[T]):
    """The answers of one engine, keyed on (action, view), least recently used first out,
    bounded in bytes (by the size of each key's text), whatever the views callers send.

    With ``context`` (the engine's ``context_of``), the key also holds the request context's
    attributes the style reads on the view's resource (none: the key is (action, view) as
    without), and ``compute`` is given them."""

    def __init__(
        self,
        compute: Callable[..., T],
        max_bytes: int = MEMO_BYTES,
        context: Callable[[View], tuple] | None = None,
    ):
        self._compute = compute
        self._context = context
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.max_bytes = max_bytes
        self.bytes = 0

    def __call__(self, action: str, view: View) -> T:
        read = self._context(view) if self._context is not None else ()
        key = (action, view, read) if read else (action, view)
        try:
            with self._lock:
                answer = self._entries[key][0]
                self._entries.move_to_end(key)
            return answer
        except KeyError:
            pass
        answer = self._compute(action, view, read) if read else self._compute(action, view)
        size = len(repr(key)) + 200  # the key's text, and the entry's own overhead
        with self._lock:
            if key not in self._entries:
                self._entries[key] = (answer, size)
                self.bytes += size
                while self.bytes > self.max_bytes and self._entries:
                    _, (_, dropped) = self._entries.popitem(last=False)
                    self.bytes -= dropped
        return answer

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every answer (the benchmarks measure cold decisions)."""
        with self._lock:
            self._entries.clear()
            self.bytes = 0


class PolicyError(Exception):
    """A policy that cannot be used: a parse or validation error, or failing test tables."""


@dataclass
class TypeDecl:
    """What a ``resource`` block declares."""

    name: str
    roles: list = field(default_factory=list)
    permissions: list = field(default_factory=list)
    relations: dict = field(default_factory=dict)


_COMMENT = re.compile(r'("(?:[^"\\]|\\.)*")|#[^\n]*')
_BLOCK = re.compile(r"\bresource\s+([A-Za-z_]\w*)\s*\{")
_STRINGS = re.compile(r'"((?:[^"\\]|\\.)*)"')
_INLINE_QUERY = re.compile(r"\?=")


def strip_comments(text: str) -> str:
    """Polar source without its comments (strings kept)."""
    return _COMMENT.sub(lambda m: m.group(1) or "", text)


def resource_blocks(text: str) -> dict:
    """The body of each ``resource`` block of comment-free Polar source, by type name: the
    one brace walker of the project (declarations here, the lint in authz/lint.py)."""
    out = {}
    for match in _BLOCK.finditer(text):
        depth, i = 1, match.end()
        while depth and i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        out[match.group(1)] = text[match.end() : i - 1]
    return out


def parse_declarations(text: str) -> dict:
    """Read the ``resource`` blocks of Polar source: their roles, permissions and relations.

    Oso validates the blocks when it loads them; this only reads the names for the API
    (``GET /v1/policies``), the matrix and the checks that need the list of types.
    """
    decls = {}
    for name, body in resource_blocks(strip_comments(text)).items():
        decl = TypeDecl(name)
        for key in ("roles", "permissions"):
            found = re.search(rf"\b{key}\s*=\s*\[(.*?)\]", body, re.S)
            if found:
                setattr(decl, key, _STRINGS.findall(found.group(1)))
        found = re.search(r"\brelations\s*=\s*\{(.*?)\}", body, re.S)
        if found:
            for rel, target in re.findall(r"(\w+)\s*:\s*(\w+)", found.group(1)):
                decl.relations[rel] = target
        decls[name] = decl
    return decls


def inline_queries(text: str) -> list:
    """The line numbers of inline queries (``?= ...``) in Polar source. They run when the
    file loads, so the service refuses any policy that has one."""
    code = _STRINGS.sub('""', strip_comments(text))
    return [code.count("\n", 0, m.start()) + 1 for m in _INLINE_QUERY.finditer(code)]


class StyleEngine:
    """One style's policy loaded into its own Oso instance, with a memo of its answers."""

    def __init__(self, style: str, files: list):
        """Load ``files`` (absolute paths) into a new Oso. Raises PolicyError."""
        self.style = style
        self.files = [str(Path(f).resolve()) for f in files]
        for path in self.files:
            lines = inline_queries(Path(path).read_text())
            if lines:
                raise PolicyError(
                    f"{style}: {path} has an inline query (?=) at line {lines[0]}: policies "
                    "may not run queries when they load"
                )
        source = "\n".join(Path(f).read_text() for f in self.files)
        self.types = parse_declarations(source)
        self.oso = Oso()
        # Polar reserves the name Actor, so the acting user is the class User in policies.
        self.oso.register_class(Actor, name="User")
        self.classes = {}
        for name in self.types:
            cls = type(name, (PolarObject,), {})
            self.classes[name] = cls
            self.oso.register_class(cls, name=name)
        try:
            self.oso.load_files(self.files)  # type: ignore[arg-type]  # list is invariant
        except OsoError as exc:
            raise PolicyError(f"{style}: {exc}") from exc
        self.settings = {
            r["bindings"]["name"]: r["bindings"]["value"]
            for r in self.oso.query_rule("setting", Variable("name"), Variable("value"))
        }
        self.attributes: dict[str, set[str]] = {}
        for type_, name in self._declared("attribute", 2):
            self.attributes.setdefault(type_, set()).add(name)
        self.attribute_values: dict[str, dict[str, list[Any]]] = {}
        for type_, name, value in self._declared("attribute_value", 3):
            self.attribute_values.setdefault(type_, {}).setdefault(name, []).append(value)
        # Whether any rule can see ownership: only ``actor.owns(...)`` shows it. When none
        # can, views leave ownership out (fewer memo keys; long chains collapse) and list
        # queries need not split rows on it.
        self.reads_ownership = bool(re.search(r"\.owns\s*\(", strip_comments(source)))
        # rank(role, n): each organization role's place in the order the management rules
        # read ("up to their own rank"), asked per declared role (a rule may rank the roles
        # an org defines by their key: it needs the role bound).
        self.role_ranks: dict[str, int | float] = {}
        for role in self.roles("Organization"):
            ranks = [r["bindings"]["n"] for r in self.oso.query_rule("rank", role, Variable("n"))]
            if ranks and isinstance(ranks[0], (int, float)):
                self.role_ranks[role] = ranks[0]
        # role_label(role, label): how a role is named in sentences (default: "Org Admin").
        labels = reversed(self._declared("role_label", 2))  # the first one wins: written last
        self.role_labels: dict[str, str] = {str(r): str(label) for r, label in labels}
        self.context_attributes = self._context_declarations()
        self.is_allowed = Memo(self._is_allowed, context=self.context_of)
        # What an explanation shows (the roles held, those carrying the action), memoized
        # like the answers (per view, and so per policy version: a reload builds new
        # engines): asked per role, they cost an explained check 5 to 10 Polar queries
        # where the answer costs a memo lookup.
        self._effective = Memo(self._effective_roles, MEMO_BYTES // 4)
        self._granting = Memo(self._granting_roles, MEMO_BYTES // 4, context=self.context_of)

    def _context_declarations(self) -> dict[str, dict[str, str]]:
        """``context_attribute(Type, name, kind)``: the request context the rules read on
        each type (docs/API.md 1.3), type -> name -> kind (one of CONTEXT_TYPES). Raises
        PolicyError for an unknown kind or a name declared with two."""
        found: dict[str, dict[str, str]] = {}
        for b in self._declared("context_attribute", 3):
            type_, name, kind = (str(v) for v in b)
            if kind not in CONTEXT_TYPES:
                raise PolicyError(
                    f"{self.style}: context_attribute({type_!r}, {name!r}, {kind!r}): the kind "
                    f"is one of {', '.join(CONTEXT_TYPES)}"
                )
            if any(names.get(name, kind) != kind for names in found.values()):
                raise PolicyError(f"{self.style}: the context attribute {name!r} has two kinds")
            found.setdefault(type_, {})[name] = kind
        return found

    def _declared(self, name: str, arity: int) -> list:
        """The facts ``name(a, b, ...)`` the policy states, as tuples; [] when it defines no
        rule of that name (a folder written before the declaration existed)."""
        names = [Variable(f"v{i}") for i in range(arity)]
        try:
            return [
                tuple(r["bindings"][f"v{i}"] for i in range(arity))
                for r in self.oso.query_rule(name, *names)
            ]
        except OsoError as exc:
            if "undefined rule" in str(exc):
                return []
            raise PolicyError(f"{self.style}: {exc}") from exc

    def _is_allowed(self, action: str, view: View, context: tuple = ()) -> bool:
        _spend()
        actor = Actor(RequestContext(context)) if context else ACTOR
        return self.oso.is_allowed(actor, action, to_polar(view, self.classes))

    def context_kinds(self) -> dict[str, str]:
        """Every context attribute the style declares, name -> kind, whatever the type."""
        return {n: k for names in self.context_attributes.values() for n, k in names.items()}

    def context_of(self, view: View) -> tuple:
        """The request context's attributes (``asking``) the style reads on the view's
        resource type, as sorted (name, value) pairs: what a rule sees as ``actor.context``
        and what the memo keys on. () without a context, or when the type reads none."""
        context = _CONTEXT.get()
        if not context or not view:
            return ()
        wanted = self.context_attributes.get(view[-1].type)
        if not wanted:
            return ()
        return tuple(sorted((n, context[n]) for n in wanted if n in context))

    def roles(self, type_: str = "Organization") -> list:
        """The roles the policy declares on ``type_``, in declaration order."""
        decl = self.types.get(type_)
        return list(decl.roles) if decl else []

    @functools.cached_property
    def delegable(self) -> dict[str, list]:
        """What an organization's own roles may list (``delegable`` in the policy), type ->
        permissions in declaration order: each type's permissions asked of the policy on a
        resource of that type in an organization."""
        found: dict[str, list] = {}
        query = self.oso.query_rule_once
        for type_ in (t for t in self.types if t not in MANAGEMENT_TYPES):
            levels = (Level("Organization"), Level(type_))[: 1 if type_ == "Organization" else 2]
            obj = to_polar(levels, self.classes)
            if allowed := [p for p in self.permissions(type_) if query("delegable", obj, p)]:
                found[type_] = allowed
        return found

    def permissions(self, type_: str) -> list:
        """The actions the policy declares on ``type_``."""
        decl = self.types.get(type_)
        return list(decl.permissions) if decl else []

    @property
    def role_order(self) -> list:
        """The organization roles in the order the management rules read (``rank``), highest
        first (ties in declaration order). A declared role missing here has no rank: no
        rule that reads the order can hand it out (``policy check`` names it)."""
        declared = self.roles("Organization")
        ranked = [r for r in declared if r in self.role_ranks]
        return sorted(ranked, key=lambda r: -self.role_ranks[r])

    def unranked_roles(self) -> list:
        """Declared organization roles with no ``rank``."""
        return [r for r in self.roles("Organization") if r not in self.role_ranks]

    def role_label(self, role: str) -> str:
        """A role as sentences name it: ``role_label(role, label)``, else "Org Admin" (an
        organization's own ``custom:field_crew``: "Field Crew")."""
        found = self.role_labels.get(role)
        return found or role.removeprefix("custom:").replace("_", " ").title()

    def reasons(self, action: str, view: View) -> list:
        """The texts of the policy's ``reason(actor, action, resource, text)`` rules that hold
        on the view, in the order the policy lists them: why the action is refused. Not a
        decision (not memoized, not logged); an error is no reason."""
        try:
            obj = to_polar(view, self.classes)
            _spend()
            texts = []
            read = self.context_of(view)
            actor = Actor(RequestContext(read)) if read else ACTOR
            for r in self.oso.query_rule("reason", actor, action, obj, Variable("text")):
                text = r["bindings"]["text"]
                if isinstance(text, str) and text not in texts:
                    texts.append(text)
            return texts
        except Exception as exc:  # noqa: BLE001 -- a reason is an aid; the deny stands
            if "undefined rule" not in str(exc):
                log.exception("error asking the %s policy why %s was refused", self.style, action)
            return []

    def setting(self, name: str, default: Any = None) -> Any:
        """A value the policy states with ``setting(name, value)``, e.g. an invitation lifetime."""
        return self.settings.get(name, default)

    def visible_attributes(self, type_: str, attributes: dict) -> dict:
        """Keep only the attributes the policy declares it reads with ``attribute(type, name)``.

        The policy sees nothing else, which keeps the memo keys few: a dataset's name or
        description never splits the cache.
        """
        wanted = self.attributes.get(type_, ())
        return {k: v for k, v in (attributes or {}).items() if k in wanted}

    def allowed_actions(self, view: View) -> list:
        """Every declared action on the view's resource that the policy allows."""
        return [a for a in self.permissions(view[-1].type) if self.is_allowed(a, view)]

    def effective_roles(self, view: View) -> list:
        """The declared roles the policy says the actor has on the view's resource."""
        return list(self._effective("", view))

    def _effective_roles(self, _: str, view: View) -> tuple:
        obj = to_polar(view, self.classes)
        _spend(len(self.roles(view[-1].type)))
        return tuple(
            r
            for r in self.roles(view[-1].type)
            if self.oso.query_rule_once("has_role", ACTOR, r, obj)
        )

    def granting_roles(self, action: str, view: View, roles: list) -> list:
        """Which of ``roles``, held alone and directly on the resource, carry ``action``."""
        return list(self._granting("\0".join((action, *roles)), view))

    def _granting_roles(self, key: str, view: View, _context: tuple = ()) -> tuple:
        action, *roles = key.split("\0")
        bare = tuple(lvl._replace(roles=()) for lvl in view[:-1])
        return tuple(
            r for r in roles if self.is_allowed(action, bare + (view[-1]._replace(roles=(r,)),))
        )


def policy_files(directory: Path) -> tuple:
    """The shared files and the style files (style name -> path) of a policy folder."""
    directory = Path(directory)
    polar = sorted(directory.glob("*.polar"))
    shared = [p for p in polar if p.name.startswith(SHARED_PREFIX)]
    styles = {p.stem: p for p in polar if not p.name.startswith(SHARED_PREFIX)}
    return shared, styles


def policy_version(directory: Path) -> str:
    """A short hash of every policy and test table file in the folder."""
    digest = hashlib.sha256()
    for path in sorted(Path(directory).glob("*")):
        if path.suffix in (".polar", ".yaml"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


class PolicySet:
    """The engines of every style of one policy folder, at one version."""

    def __init__(self, directory: Path = POLICY_DIR):
        """Load every style of ``directory``. Raises PolicyError naming file, line and column."""
        self.directory = Path(directory).resolve()
        shared, styles = policy_files(self.directory)
        if not styles:
            raise PolicyError(f"no policy files in {self.directory}")
        self.version = policy_version(self.directory)
        self.engines = {name: StyleEngine(name, shared + [path]) for name, path in styles.items()}
        # Every context attribute a style declares, name -> kind: what a check's ``context``
        # may hold (routes/schemas/context.py); a name is one kind in every style.
        self.context_kinds: dict[str, str] = {}
        for engine in self.engines.values():
            for name, kind in sorted(engine.context_kinds().items()):
                if self.context_kinds.setdefault(name, kind) != kind:
                    raise PolicyError(
                        f"{engine.style}: the context attribute {name!r} is {kind!r} here and "
                        f"{self.context_kinds[name]!r} in another style: one kind per name"
                    )

    @property
    def styles(self) -> list:
        """The style names, sorted."""
        return sorted(self.engines)

    def engine(self, style: str) -> StyleEngine:
        """The engine of ``style``. Raises KeyError for an unknown style."""
        return self.engines[style]


__all__ = ["Level", "PolicyError", "PolicySet", "StyleEngine", "level", "parse_declarations"]


# Policy sets that loaded and passed their tables, by (folder, version): immutable, so
# every app built in one process (the tests build many) shares them and their memo.
_VERIFIED: dict = {}


class PolicyHolder:
    """The live PolicySet of a process, swapped whole on reload.

    A new set must load and pass its own test tables before it replaces the running one; if
    it does not, the running one stays and ``error`` says why (shown by /readyz and the log).
    """

    def __init__(self, directory: Path = POLICY_DIR):
        """Load ``directory``; raises PolicyError (startup stops) if it does not load.

        At startup there is no running policy to keep, and every style's tables run in
        ``make test`` and ``policy test``; a reload (``reload``) must also pass them.
        """
        self.directory = Path(directory)
        self.error: str | None = None
        self.current = PolicySet(self.directory)

    def _build(self) -> PolicySet:
        from authz.tables import TableError, run_tables  # tables import this module

        key = (str(self.directory.resolve()), policy_version(self.directory))
        if key in _VERIFIED:  # the same files already loaded and passed in this process
            return _VERIFIED[key]
        candidate = PolicySet(self.directory)
        try:
            results = run_tables(candidate)
        except TableError as exc:
            raise PolicyError(str(exc)) from exc
        failures = [f for r in results for f in r.failures]
        if failures:
            shown = "; ".join(str(f) for f in failures[:5])
            raise PolicyError(f"{len(failures)} test table cells fail: {shown}")
        _VERIFIED[key] = candidate
        return candidate

    def adopt(self, directory: Path) -> None:
        """Make the policy of ``directory`` live: a snapshot the gunicorn master staged (it
        loaded it and ran its tables). It is loaded whole beside the running one, then swapped
        in with one assignment: a request holds the set it started with to its end. Raises
        PolicyError (the running one stays)."""
        candidate = PolicySet(directory)
        self.directory, self.current = Path(directory), candidate

    def reload(self) -> bool:
        """Load the folder again; swap only if it loads and passes. Returns whether it did."""
        try:
            self.current = self._build()
        except PolicyError as exc:
            self.error = str(exc)
            log.error("policy reload refused, keeping version %s: %s", self.current.version, exc)
            return False
        self.error = None
        log.info("policy version %s loaded from %s", self.current.version, self.directory)
        return True
