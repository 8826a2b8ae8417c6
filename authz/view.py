"""The view of an actor and a resource that the policy is shown, and nothing more.

A decision is a pure function of (style, policy version, action, view). The view is a small
immutable value, so the engine can memoize the policy's answer on it: two users with the same
role on the same kind of resource share one cache entry. It holds no ids on purpose; whatever
identity matters to a rule is normalised into a fact ("the actor owns this", "this membership is
the actor's own").

This module is the one place that turns a view into the objects Polar sees.
"""

from collections.abc import Iterable
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
    """

    type: str
    roles: tuple[str, ...] = ()
    owned: bool = False
    attributes: tuple[tuple[str, Any], ...] = ()


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
        bare = 0 < i < last and not lvl.roles and not lvl.owned and not lvl.attributes
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


class Actor:
    """The acting user as the policy sees it: only what it holds on the chain it is asked about."""

    def roles_on(self, resource: PolarObject) -> tuple[str, ...]:
        """The roles the actor holds directly on ``resource`` (membership or grant)."""
        return resource._level.roles

    def owns(self, resource: PolarObject) -> bool:
        """Whether the actor is the owner of ``resource``."""
        return resource._level.owned


ACTOR = Actor()


def to_polar(view: View, classes: dict[str, type[PolarObject]]) -> PolarObject | None:
    """Build the linked Polar objects of ``view`` and return the last one (the resource).

    Raises KeyError when a level's type is not a class of the policy; None for an empty view.
    """
    root: PolarObject | None = None
    parent: PolarObject | None = None
    for lvl in view:
        obj = classes[lvl.type]()
        obj._level = lvl
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
    """What the actor holds in one organization."""

    known: bool  # the user exists
    role: str | None  # membership role, or None
    grants: dict  # resource pk -> tuple of roles


def org_node(org: OrgRef) -> Node:
    """The organization as the first level of a chain."""
    return Node("Organization", org.id)


# The resources the service builds for its own endpoints: their attributes are computed by
# the service (the vocabulary's "Management actions"), not supplied by callers.
MANAGEMENT_TYPES = frozenset({"NewOrganization", "Invitation", "RoleChange", "Membership", "Grant"})


def management_target(
    org: OrgRef,
    type_: str,
    attributes: dict,
    under: Target | None = None,
    standalone: bool = False,
) -> Target:
    """The resource the service builds to ask about its own management actions.

    ``type_`` is one of MANAGEMENT_TYPES; ``attributes`` are those the policy files list for
    it (computed by the service, e.g. ``last_of_role``). ``under``: for a Grant, the resource
    the role is on, so the policy sees it as the grant's parent. ``standalone``: outside any
    organization (a NewOrganization; ``org`` is then ``OrgRef("", style)``).
    """
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
    """
    # The same Levels as ``level()`` builds, without its sorting and copying where there is
    # nothing to sort (no attributes, at most one role): the common case of every level,
    # and most of the cost of a decision once facts and answers are cached.
    levels: list[Level] = []
    grants = actor.grants
    for i, node in enumerate(chain):
        roles = ((actor.role,) if actor.role else ()) if i == 0 else grants.get(node.pk, ())
        owned = node.owner is not None and node.owner == actor_id and engine.reads_ownership
        if not node.attributes and len(roles) <= 1:
            levels.append(Level(node.type, tuple(roles), owned, ()))
            continue
        levels.append(
            level(node.type, roles, owned, engine.visible_attributes(node.type, node.attributes))
        )
    return collapse(levels)
