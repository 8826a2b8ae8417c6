"""The view of an actor and a resource that the policy is shown, and nothing more.

A decision is a pure function of (style, policy version, action, view). The view is a small
immutable value, so the engine can memoize the policy's answer on it: two users with the same
role on the same kind of resource share one cache entry. It holds no ids on purpose; whatever
identity matters to a rule is normalised into a fact ("the actor owns this", "this membership is
the actor's own").

This module is the one place that turns a view into the objects Polar sees.
"""

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from authz.engine import StyleEngine


class Level(NamedTuple):
    """One resource of the chain from the organization down to the resource asked about.

    type: the resource type as the policy names it (``Organization``, ``Folder``...).
    roles: the roles the actor holds directly on it (its membership role on the organization,
        its grants on any other resource), sorted.
    owned: whether the actor is the resource's owner.
    attributes: sorted ``(name, value)`` pairs of the attributes the policy reads.
    custom: the ``(type, permission)`` pairs that roles the organization defines itself give
        the actor here: those it holds on this resource or on one it sits in, sorted
        (docs/API.md 1.3, "Custom roles"; the policy reads them with ``actor.custom_on``).
    """

    type: str
    roles: tuple[str, ...] = ()
    owned: bool = False
    attributes: tuple[tuple[str, Any], ...] = ()
    custom: tuple[tuple[str, str], ...] = ()


# A view is a tuple of Levels, the organization first and the resource asked about last.
View = tuple


def collapse(levels: list[Level]) -> View:
    """The view of a chain, with each run of identical bare levels shown as one.

    A bare level has no role of the actor, is not the actor's, and carries no attribute the
    policy reads: between the organization and the resource asked about, five such Folders
    in a row tell the policy nothing that one does not (roles flow through each the same way;
    a policy cannot tell how deep a level is except by walking it). Showing one keeps Polar's
    search short (it grows about twofold per level of nesting) and lets chains of different
    depths share memo entries. tests/policies/test_invariants.py checks that the answer on
    the collapsed view is the answer on the full one.
    """
    out: list[Level] = []
    last = len(levels) - 1
    for i, lvl in enumerate(levels):
        bare = 0 < i < last and not (lvl.roles or lvl.owned or lvl.attributes or lvl.custom)
        if bare and out and out[-1] == lvl:
            continue
        out.append(lvl)
    return tuple(out)


def freeze(value: Any) -> Any:
    """Return a hashable copy of a JSON value (lists become tuples, dicts sorted pairs)."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Turn a frozen value back into something Polar can read (tuples become lists)."""
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def level(
    type_: str,
    roles: Iterable[str] = (),
    owned: bool = False,
    attributes: dict[str, Any] | None = None,
) -> Level:
    """Build a Level from plain values, normalising roles and attributes."""
    attrs = tuple(sorted((k, freeze(v)) for k, v in (attributes or {}).items()))
    return Level(type_, tuple(sorted(set(roles))), bool(owned), attrs)


class PolarObject:
    """Base of the classes Polar sees for each resource type the policy declares.

    Attributes every object has: ``organization`` (the root of the chain), ``parent`` (the
    resource it sits in; the organization for a top-level resource, nil for the organization
    itself), plus the attributes of its Level.
    """

    _level: Level
    _classes: dict
    organization: "PolarObject | None"
    parent: "PolarObject | None"

    def __getattr__(self, name: str) -> Any:
        # An attribute the view does not carry reads as nil, so a rule about it simply does
        # not hold (a deny), instead of failing the whole query.
        if name.startswith("_"):
            raise AttributeError(name)
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._level.attributes})"

    def inside(self, type_: str) -> "PolarObject | None":
        """A resource of ``type_`` in this one, of which the actor holds nothing of its own:
        this one for its own type (what the actor holds here, or from above, on every
        resource of that type inside). Nil for a type the policy does not declare."""
        if type_ == self._level.type:
            return self
        if type_ == "Organization":  # every resource's organization is its chain's first
            return self.organization
        cls = self._classes.get(type_)
        if cls is None:
            return None
        obj = cls()
        obj._level = Level(type_, custom=self._level.custom)
        obj._classes, obj.parent = self._classes, self
        obj.organization = self.organization or self
        return obj


class Actor:
    """The acting user as the policy sees it: only what it holds on the chain it is asked
    about, and the request's context (``actor.context`` in a rule).

    Registered as the policy's ``User``, and every actor the engine passes is of exactly this
    class: Polar matches ``actor: User`` itself when the instance's class is the registered
    one, and asks Python for a subclass, once for every rule it tries (107,136 of the 172,006
    questions of the pix4d table, a third of its time, when the actor was a subclass).
    """

    def __init__(self, context: "RequestContext | None" = None) -> None:
        self.context = context if context is not None else RequestContext()

    def roles_on(self, resource: PolarObject) -> tuple[str, ...]:
        """The roles the actor holds directly on ``resource`` (membership or grant)."""
        return resource._level.roles

    def owns(self, resource: PolarObject) -> bool:
        """Whether the actor is the owner of ``resource``."""
        return resource._level.owned

    def custom_on(self, resource: PolarObject) -> list[str]:
        """The permissions on ``resource`` that roles its organization defines give the
        actor (held on it or on a resource it sits in)."""
        lvl = resource._level
        return [p for t, p in lvl.custom if t == lvl.type]


def to_polar(view: View, classes: dict[str, type[PolarObject]]) -> PolarObject | None:
    """Build the linked Polar objects of ``view`` and return the last one (the resource).

    Raises KeyError when a level's type is not a class of the policy; None for an empty view.
    """
    root: PolarObject | None = None
    parent: PolarObject | None = None
    for lvl in view:
        obj = classes[lvl.type]()
        obj._level, obj._classes = lvl, classes
        for name, value in lvl.attributes:
            setattr(obj, name, thaw(value))
        root = root or obj
        obj.organization = root
        obj.parent = parent
        parent = obj
    return parent


# ---------------------------------------------------------------- targets
# What a decision is asked about, before it becomes a view: the chain of a resource from its
# organization down, with ids. The domain core (access/targets.py) loads targets from the
# database; the test tables build them from YAML; both turn them into views with
# ``build_view`` below, the one place facts become what Polar sees.


class OrgRef(NamedTuple):
    """What a decision needs of an organization."""

    id: str
    style: str
    closed_at: object = None
    # The organization's settings a policy may read as its attributes, as sorted frozen
    # (name, value) pairs: ``admin_ip_allowlist`` (docs/API.md 1.3, "Request context").
    settings: tuple = ()
    # The roles it defines itself (docs/API.md 1.3, "Custom roles"): sorted (key,
    # ((type, permission), ...)) pairs.
    custom_roles: tuple = ()

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class Node(NamedTuple):
    """One resource of a chain, as stored (or as described inline by the caller)."""

    type: str
    id: str
    pk: int | None = None  # the stored row's primary key, when registered
    owner: str | None = None
    attributes: dict = {}


class Target(NamedTuple):
    """A resolved resource: its organization and its chain, the organization first."""

    org: OrgRef
    chain: tuple  # of Node

    @property
    def node(self) -> Node:
        return self.chain[-1]


class ActorFacts(NamedTuple):
    """What the actor holds in one organization, none of it lapsed.

    A member's effective roles are their own and their teams': the policy is shown
    ``role`` and ``team_roles`` together on the organization, and each resource's roles
    (``grants``: the member's own and their teams') together.
    """

    known: bool  # the user exists
    role: str | None  # membership role, or None
    grants: dict  # resource pk -> tuple of roles
    team_roles: tuple = ()  # the org roles the member's teams hold
    in_teams: bool = False  # in a live team (its grants may be a team's: explain asks which)
    # The roles the organization defines itself that the actor holds (in ``role``,
    # ``team_roles`` or ``grants``): key -> its sorted (type, permission) pairs.
    custom: dict = {}

    def holding(self, custom_roles: tuple) -> "ActorFacts":
        """These facts with ``custom``: those of the org's own roles (OrgRef.custom_roles)
        the actor holds, anywhere."""
        if not custom_roles:
            return self
        held = {self.role, *self.team_roles}.union(*self.grants.values())
        return self._replace(custom={k: perms for k, perms in custom_roles if k in held})

    def org_roles(self) -> tuple[str, ...]:
        """The roles the member holds on the organization, their own and their teams'."""
        if not self.team_roles:
            return (self.role,) if self.role else ()
        return tuple(sorted({self.role, *self.team_roles} - {None}))


def org_node(org: OrgRef) -> Node:
    """The organization as the first level of a chain, with the settings it has."""
    if not org.settings:
        return Node("Organization", org.id)
    return Node("Organization", org.id, attributes={k: thaw(v) for k, v in org.settings})


# The resources the service builds for its own endpoints: their attributes are computed by
# the service (the vocabulary's "Management actions"), not supplied by callers.
MANAGEMENT_TYPES = frozenset(
    {
        "NewOrganization",
        "Invitation",
        "RoleChange",
        "Membership",
        "Grant",
        "Team",
        "Domain",
        "CustomRole",
    }
)


# The management resources that hand out a role (``to_role``, else ``role``): when it is
# one the organization defined, the service shows its permissions as ``role_permissions``
# (_shared.polar: no one hands out more than they hold).
HANDING_OUT = frozenset({"Invitation", "RoleChange", "Grant", "Team", "Domain"})


def handing_out(type_: str, attributes: dict, custom_roles: tuple) -> dict:
    """``attributes`` of a management resource, with ``role_permissions`` when it hands
    out (HANDING_OUT) one of ``custom_roles`` (OrgRef.custom_roles)."""
    if type_ not in HANDING_OUT or not custom_roles or "role_permissions" in attributes:
        return attributes
    handed = attributes.get("to_role") or attributes.get("role")
    given = dict(custom_roles).get(handed) if isinstance(handed, str) else None
    if given is None:
        return attributes
    return {**attributes, "role_permissions": [list(p) for p in given]}


def management_target(
    org: OrgRef,
    type_: str,
    attributes: dict,
    under: Target | None = None,
    standalone: bool = False,
) -> Target:
    """The resource the service builds to ask about its own management actions.

    ``type_`` is one of MANAGEMENT_TYPES; ``attributes`` are those the policy files list for
    it (computed by the service, e.g. ``last_of_role``; ``role_permissions`` from the org's
    own roles, HANDING_OUT). ``under``: for a Grant, the resource
    the role is on, so the policy sees it as the grant's parent. ``standalone``: outside any
    organization (a NewOrganization; ``org`` is then ``OrgRef("", style)``).
    """
    attributes = handing_out(type_, attributes, org.custom_roles)
    if under is not None:
        chain = under.chain
    else:
        chain = () if standalone else (org_node(org),)
    return Target(org, chain + (Node(type_, "", None, None, attributes),))


def build_view(
    engine: "StyleEngine", actor_id: str | None, chain: tuple[Node, ...], actor: ActorFacts
) -> View:
    """The view of ``chain`` for the actor: the one place facts become what Polar sees.

    ``engine`` (a StyleEngine) filters caller attributes down to those its policy reads.
    Runs of bare levels are shown as one (``collapse``); a chain still longer than
    ``WALK_ABOVE`` levels is shown as the organization, its resource's parent holding the
    roles the policy derives for it, and the resource (``walk``), when the policy's text
    allows it.
    """
    # The same Levels as ``level()`` builds, without its sorting and copying where there is
    # nothing to sort (no attributes, at most one role): the common case of every level,
    # and most of the cost of a decision once facts and answers are cached.
    levels: list[Level] = []
    grants, custom = actor.grants, actor.custom
    given: tuple = ()  # what the org's own roles held so far down the chain give
    for i, node in enumerate(chain):
        roles = actor.org_roles() if i == 0 else grants.get(node.pk, ())
        owned = node.owner is not None and node.owner == actor_id and engine.reads_ownership
        if custom:
            roles, given = _custom_given(roles, custom, given)
        if not node.attributes and len(roles) <= 1 and not given:
            levels.append(Level(node.type, tuple(roles), owned, ()))
            continue
        attributes = engine.visible_attributes(node.type, node.attributes)
        levels.append(level(node.type, roles, owned, attributes)._replace(custom=given))
    view = collapse(levels)
    if len(view) > WALK_ABOVE:
        view = walk(engine, view)
    return view


def _custom_given(roles: Iterable[str], custom: dict, given: tuple) -> tuple[list, tuple]:
    """``roles`` without the organization's own roles, and ``given`` with the permissions
    those give: a role an org defines is shown as what it gives, on the resource it is held
    on and on everything inside it (docs/API.md 1.3, "Custom roles")."""
    plain, pairs = [], set(given)
    for role in roles:
        if role in custom:
            pairs.update(custom[role])
        else:
            plain.append(role)
    return plain, tuple(sorted(pairs)) if len(pairs) != len(given) else given


# ---------------------------------------------------------------- deep chains
# Polar's search on shorthand rules ("reader" if "reader" on "folder") branches at every
# level, so asking it about a long chain whose levels differ (grants here and there) costs
# about twice as much per level: seconds at 40 levels, the 30 s timeout at 100. ``walk``
# asks it about one level at a time instead.
#
# A level's roles, as the policy derives them, follow from its own facts, its organization
# and its parent's derived roles, when the policy reads a parent only through its declared
# relations and only for roles (``_walkable``). Then the roles derived at each level can be
# computed down the chain with short questions, [organization, parent, level], the parent
# shown holding the roles derived for it (with its own ownership and attributes), and the
# answer on [organization, parent of the resource, resource] is the answer on the whole
# chain. Each step is memoized on (organization, parent, level), so a chain of any depth
# costs a handful of Polar queries the first time and dict lookups after, and the answer's
# memo key does not grow with depth. tests/policies/test_invariants.py checks the answers
# on random chains against Polar on the full chain.

WALK_ABOVE = 4  # longer views are walked (Polar answers a 4-level view in about a millisecond)
_NO_WALKER = object()


def walk(engine: "StyleEngine", view: View) -> View:
    """``view`` as (organization, parent holding its derived roles, resource), or ``view``
    itself when the policy is not walkable."""
    walker = engine.__dict__.get("_walker", _NO_WALKER)
    if walker is _NO_WALKER:
        walker = engine.__dict__["_walker"] = _Walker(engine) if _walkable(engine) else None
    if walker is None:
        return view
    return walker.reduce(view)


class _Walker:
    """The derived roles of each level of a chain, one short Polar question per step."""

    MAX_BYTES = 8 * 1024 * 1024  # memoized steps per engine (their keys' text); then over

    def __init__(self, engine: "StyleEngine"):
        self.engine = engine
        self.steps: dict = {}  # (level, (organization, parent)) -> derived roles
        self.bytes = 0
        self._direct: dict = {}  # (type, role) -> whether a role held directly is seen

    def reduce(self, view: View) -> View:
        org, parent = view[0], view[1]
        steps = self.steps
        for lvl in view[2:-1]:
            key = (lvl, (org, parent))
            roles = steps.get(key)
            if roles is None:
                roles = self._derive(lvl, (org, parent))
                size = len(repr(key)) + 200
                if self.bytes + size > self.MAX_BYTES:
                    steps.clear()
                    self.bytes = 0
                steps[key] = roles
                self.bytes += size
            parent = lvl._replace(roles=roles)
        return (org, parent, view[-1])

    def _derive(self, lvl: Level, context: tuple) -> tuple:
        """The roles the policy derives on ``lvl`` under (organization, parent): one query
        per declared role, but none for a role held directly that the policy sees."""
        engine = self.engine
        obj = to_polar((*context, lvl), engine.classes)
        query = engine.oso.query_rule_once
        return tuple(
            sorted(
                r
                for r in engine.roles(lvl.type)
                if (r in lvl.roles and self._sees_direct(lvl.type, r))
                or query("has_role", ACTOR, r, obj)
            )
        )

    def _sees_direct(self, type_: str, role: str) -> bool:
        known = self._direct.get((type_, role))
        if known is None:
            probe = to_polar((Level("Organization"), Level(type_, (role,))), self.engine.classes)
            known = self._direct[(type_, role)] = bool(
                self.engine.oso.query_rule_once("has_role", ACTOR, role, probe)
            )
        return known


def _walkable(engine: "StyleEngine") -> bool:
    """Whether ``walk`` answers as the whole chain would for this policy: every rule reads a
    resource's parent only through a declared relation (``has_relation(p, "rel", x) if p =
    x.parent``, and the shorthand rules on it), a shorthand rule on a parent relation asks
    for one of the parent's roles (not a permission, which could depend on the parent's
    own parent), and each type's roles held directly are roles the policy sees on it."""
    from authz.engine import resource_blocks, strip_comments  # the engine imports this module

    try:
        text = strip_comments("\n".join(Path(f).read_text() for f in engine.files))
    except OSError:
        return False
    code = _STRING.sub('""', text)  # strings may hold anything, ";" included
    for rule in (r.strip() for r in re.split(r"[;{}]", code)):
        if not (re.search(r"\.parent\b", rule) or "has_relation" in rule):
            continue
        if _RELATION_RULE.fullmatch(rule):
            continue
        # A rule about a management resource (a Grant) may read its parent, the resource it
        # is about: one level up, where the walk shows the parent with its own facts and
        # roles. Nothing else may read a parent but a declared relation.
        typed = dict(re.findall(r"(\w+)\s*:\s*(\w+)", rule.split(" if ", 1)[0]))
        readers = set(re.findall(r"(\w+)\.parent\b", rule))
        if (
            "has_relation" not in rule
            and not re.search(r"\.parent\s*\.", rule)
            and all(typed.get(v) in MANAGEMENT_TYPES for v in readers)
        ):
            continue
        return False
    inherited = set()  # (type, role): a role a type derives from a parent that is no org
    for name, body in resource_blocks(text).items():
        decl = engine.types.get(name)
        if decl is None:
            return False
        for role, wanted, rel in _ON_RELATION.findall(body):
            target = decl.relations.get(rel)
            if target is None:
                return False
            if target != "Organization":
                if wanted not in engine.roles(target):
                    return False
                inherited.add((name, role))
    # A parent is shown holding its derived roles: the policy must see roles held directly
    # wherever a role comes down from a parent (roles from its own facts or its
    # organization are derived again on the parent as shown).
    for name, role in sorted(inherited):
        probe = to_polar((Level("Organization"), Level(name, (role,))), engine.classes)
        try:
            if not engine.oso.query_rule_once("has_role", ACTOR, role, probe):
                return False
        except Exception:  # noqa: BLE001 -- a type it cannot show: not walkable
            return False
    return True


_RELATION_RULE = re.compile(
    r"has_relation\s*\([^()]*\)\s*if\s+\w+\s*=\s*\w+\.(parent|organization)", re.S
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_ON_RELATION = re.compile(r'"(\w+)"\s+if\s+"(\w+)"\s+on\s+"(\w+)"')


# ---------------------------------------------------------------- request context
# What a check says about the request itself (docs/API.md 1.3, "Request context"): an IP
# address, a flag... A style declares the ones its rules read, per resource type and with
# their types, ``context_attribute("Organization", "ip", "ip")``; the engine shows a rule
# only those (authz/engine.py ``StyleEngine.context_of``), so a decision stays a pure
# function of (style, policy version, action, view, the context attributes the style reads
# on the resource's type), and the memo keys on those.

CONTEXT_TYPES = ("string", "boolean", "integer", "ip")


class RequestContext(PolarObject):
    """The context attributes of a check the policy reads, as ``actor.context``: each a
    plain value (an ``ip`` one in its canonical text); one the check did not send reads nil,
    so a rule that needs it does not hold (a deny)."""

    def __init__(self, items: tuple = ()) -> None:
        self._items = items
        for name, value in items:
            setattr(self, name, value)

    def ip_in(self, networks: Any) -> bool:
        """Whether the context's ``ip`` lies in one of ``networks`` (CIDR texts, or single
        addresses): False without an ``ip``, for a network that does not parse, and for
        anything but a list."""
        ip = self.__dict__.get("ip")
        if not isinstance(ip, str) or not isinstance(networks, list):
            return False
        import ipaddress

        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        for text in networks:
            try:
                if isinstance(text, str) and address in ipaddress.ip_network(text, strict=False):
                    return True
            except ValueError:
                continue
        return False

    def __repr__(self) -> str:
        return f"RequestContext({self._items})"


ACTOR = Actor()  # an actor without a request context
