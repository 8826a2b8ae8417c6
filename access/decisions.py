"""Every decision of the service goes through ``decide``: load facts, build the view, ask.

The answer is always the policy's, except where there is nothing to ask about (unknown
actor, resource, type or action, or a closed organization), which is a deny with a reason.
Any error while deciding is a deny, logged and counted, never an allow.
"""

import itertools
import logging
import os
import secrets
from typing import NamedTuple

from prometheus_client import Counter

from access.errors import FactsUnavailable, Forbidden, NotFound
from access.facts import Answer
from access.keys import OUTSIDE
from access.targets import TargetBuilder
from authz.engine import PolicySet, StyleEngine
from authz.view import ActorFacts, Node, Target, View, build_view
from models.errors import DatabaseError
from models.teams import Provenance, provenance
from ops import decisionlog, tracing
from ops.decisionlines import Known
from ops.metrics import DECISION_ERRORS, DECISIONS, TALLY

log = logging.getLogger("orgauthz.decisions")

# A request's decisions by (style, allowed): how many of each (``count`` adds them up).
Tally = dict[tuple[str, bool], int]


class Decision(NamedTuple):
    """The answer to one question, with what the API returns about it."""

    allowed: bool
    decision_id: str
    policy_version: str
    reason: str
    explanation: dict | None = None

    def as_json(self, explain: bool = False, consistency_token: str | None = None) -> dict:
        body = {
            "allowed": self.allowed,
            "decision_id": self.decision_id,
            "policy_version": self.policy_version,
        }
        if consistency_token is not None:
            body["consistency_token"] = consistency_token
        if explain:
            body["explanation"] = self.explanation or {"reason": self.reason}
        return body


# Decision ids: a random prefix per process and a counter. Unique across workers and
# restarts (64 random bits per process), and no os.urandom per decision: uuid4 was a third
# of a batch's wall time (each call releases the GIL and waits to get it back).
# A batch's run of known answers takes a block of 4096 ids at once, above 2**63 (no single
# id reaches there): its ids are one text and the last three hex digits from a table.
_ids = itertools.count(1)
_prefix = secrets.token_hex(8)
_blocks = itertools.count(1 << 51)
_LAST = [f"{i:03x}" for i in range(4096)]


def _new_prefix() -> None:
    global _prefix, _ids, _blocks
    _prefix, _ids, _blocks = secrets.token_hex(8), itertools.count(1), itertools.count(1 << 51)


def id_block() -> tuple[str, list[str]]:
    """Up to 4096 new decision ids: each one the text plus an item of the list (in order)."""
    return f"{_prefix}{next(_blocks):013x}", _LAST


os.register_at_fork(after_in_child=_new_prefix)


def new_decision_id() -> str:
    return f"{_prefix}{next(_ids):016x}"  # 32 hex digits, as uuid4().hex was


# Decisions by (style, allowed): the counters' children looked up once, not per decision.
_counters: dict[tuple[str, bool], Counter] = {}


def count(tally: Tally) -> None:
    """Add a request's decisions, ``{(style, allowed): n}``, to the metrics."""
    for (style, allowed), n in tally.items():
        child = _counters.get((style, allowed))
        if child is None:
            child = _counters[(style, allowed)] = DECISIONS.labels(
                style, "allow" if allowed else "deny"
            )
        TALLY.inc(child, n)  # per worker, added to the metrics once a second (ops/metrics.py)


def decide(
    policy: PolicySet,
    facts: TargetBuilder,
    actor_id: str,
    action: str,
    target: Target | None,
    *,
    explain: bool = False,
    tally: Tally | None = None,
) -> Decision:
    """Ask the policy whether ``actor_id`` may do ``action`` on ``target``. Never raises.

    Every decision, the management endpoints' too, goes to the decision log. ``tally``: a
    dict the caller counts its decisions in (``count`` adds it to the metrics once per
    request); without one each decision is counted at once.
    """
    if tracing.ON:  # the same, in a span (ops/tracing.py); one global read when off
        with tracing.span("orgauthz.decision") as span:
            decision = _logged(policy, facts, actor_id, action, target, explain, tally)
            tracing.decided(span, action, target, decision)
            return decision
    return _logged(policy, facts, actor_id, action, target, explain, tally)


def _logged(
    policy: PolicySet,
    facts: TargetBuilder,
    actor_id: str,
    action: str,
    target: Target | None,
    explain: bool,
    tally: Tally | None,
) -> Decision:
    """``decide``'s steps: decided, logged, counted (at once when the caller keeps no tally)."""
    own = tally is None
    if own:
        tally = {}
    decision = _decide(policy, facts, actor_id, action, target, explain=explain, tally=tally)
    decisionlog.record(decision, actor_id, action, target)
    if own and tally:
        count(tally)
    return decision


def decide_ref(
    policy: PolicySet,
    builder: TargetBuilder,
    actor_id: str,
    action: str,
    ref: dict,
    tally: Tally,
    field: str = "resource",
) -> Decision:
    """``decide`` on a resource reference of the API (explain off), answered from the
    worker's answers when this exact question (policy version, actor, action, registered
    resource of the named org, or of the one org that registered it when none is named) was
    decided before on facts still valid (access/cache.py keeps them with the
    organization's facts, dropped with them). A repeated check costs a few dict lookups; it
    is logged and counted as any decision."""
    facts = builder.facts
    key = (policy.version, action, ref.get("org"), ref["type"], ref["id"])
    found = facts.answer(actor_id, key)
    if found is not None and not builder.outside(found[2]):  # another org's: decided below
        return known(policy.version, actor_id, action, found, tally)
    target = builder.target(ref, field)  # AmbiguousResource (a 422) when it needs the org
    before = sum(tally.values())
    builder.last_until = None
    decision = decide(policy, builder, actor_id, action, target, tally=tally)
    registered = target is not None and (target.node.pk is not None or len(target.chain) == 1)
    # An answer on facts that lapse is not kept: asked again, the facts are read again (an
    # answer would outlive an expiry: access/targets.py).
    lapses = builder.last_until is not None
    if (
        registered
        and target is not None
        and not lapses
        and decision.reason
        not in (
            _ERROR,
            OUTSIDE,
        )
    ):
        asked = sum(tally.values()) != before  # the policy was asked (counted), or not
        answer = (decision.allowed, decision.reason, target, target.org.style if asked else None)
        facts.put_answer(actor_id, target.org.id, key, answer)
    return decision


_ERROR = "error while deciding; denied (see the service log)"
_tuple = tuple.__new__  # a Decision made without its Python-level __new__ (its defaults)


def known(version: str, actor_id: str, action: str, found: Answer, tally: Tally) -> Decision:
    """The decision of a known answer ``found`` (allowed, reason, target, style: what
    ``decide_ref`` keeps), logged, traced and counted as every decision."""
    allowed, reason, decided_on, style = found
    decision = _tuple(Decision, (allowed, new_decision_id(), version, reason, None))
    decisionlog.record(decision, actor_id, action, decided_on)
    if tracing.ON:
        tracing.decision(action, decided_on, decision, cached=True)
    if style is not None:
        tally[(style, allowed)] = tally.get((style, allowed), 0) + 1
    return decision


def known_many(version: str, asked: list, tally: Tally) -> list[Decision]:
    """``known`` of each (actor, action, found) of ``asked``, in order (a batch's known
    answers): the same decisions, log records and counts, with what they share (the id
    source, the request's log records, the request context) read once, not per answer; the
    log keeps the run as one ``Known`` record."""
    kept = decisionlog.kept()
    if tracing.ON or (kept is None and decisionlog.on()):  # traced, or a sampled log
        return [known(version, actor, action, found, tally) for actor, action, found in asked]
    made: list[Decision] = []
    append = made.append
    for start in range(0, len(asked), 4096):
        prefix, last = id_block()
        for i, (_actor, _action, found) in enumerate(asked[start : start + 4096]):
            allowed, reason, _decided_on, style = found
            append(_tuple(Decision, (allowed, prefix + last[i], version, reason, None)))
            if style is not None:
                tally[(style, allowed)] = tally.get((style, allowed), 0) + 1
    if kept is not None:  # what decisionlog.record keeps of each, as one record
        ids = [decision.decision_id for decision in made]
        kept[0].append(Known(ids, list(itertools.chain.from_iterable(asked)), kept[1], version))
    return made


def _decide(
    policy: PolicySet,
    facts: TargetBuilder,
    actor_id: str,
    action: str,
    target: Target | None,
    *,
    explain: bool = False,
    tally: Tally | None = None,
) -> Decision:
    if tally is None:  # a caller of its own (a replay): counted at once, as decide() does
        tally = {}
        decision = _decide(policy, facts, actor_id, action, target, explain=explain, tally=tally)
        count(tally)
        return decision
    decision_id = new_decision_id()

    def deny(reason: str, **extra: object) -> Decision:
        expl = {"reason": reason, **extra} if explain else None
        return Decision(False, decision_id, policy.version, reason, expl)

    try:
        engine, problem, actor = _prepare(policy, facts, actor_id, target)
        if problem is not None:
            return deny(problem[0], **problem[1])
        assert engine is not None and actor is not None and target is not None  # no problem
        if action not in engine.types[target.node.type].permissions:
            return deny(
                f"the {engine.style} policy declares no action {action!r} on {target.node.type}",
                declared_actions=engine.permissions(target.node.type),
            )
        view = build_view(engine, actor_id, target.chain, actor)
        allowed = engine.is_allowed(action, view)
        key = (engine.style, allowed)
        tally[key] = tally.get(key, 0) + 1
        reason = "allowed by the policy" if allowed else "no rule of the policy allows it"
        expl = (
            explanation(engine, action, view, target, actor, allowed, actor_id) if explain else None
        )
        return Decision(allowed, decision_id, policy.version, reason, expl)
    except DatabaseError as exc:
        log.error("database error while deciding %s: %s; denied", action, exc)
        DECISION_ERRORS.inc()
        raise FactsUnavailable(str(exc)) from exc
    except Exception:  # a deny, never an allow; the log has the trace
        log.exception("error while deciding %s on %s; denied", action, target and target.node)
        DECISION_ERRORS.inc()
        return deny(_ERROR)


def _prepare(
    policy: PolicySet, facts: TargetBuilder, actor_id: str, target: Target | None
) -> tuple[StyleEngine | None, tuple[str, dict] | None, ActorFacts | None]:
    """What every decision on ``target`` checks first: (engine, problem, actor facts).

    ``problem`` is None, or (reason, extra explanation) when there is nothing to ask the
    policy about: unknown resource, type or actor, a closed organization, a style with no
    policy. Raises DatabaseError when the facts cannot be read.
    """
    if facts.outside(target):  # the calling key's scope: another org is as none at all
        return None, (OUTSIDE, {}), None
    if target is None:
        return None, ("unknown resource", {}), None
    if target.org.is_closed:
        return None, (f"organization {target.org.id} is closed", {}), None
    engine = policy.engines.get(target.org.style)
    if engine is None:
        return None, (f"organization style {target.org.style!r} has no policy", {}), None
    if target.node.type not in engine.types:
        reason = f"the {engine.style} policy declares no resource type {target.node.type!r}"
        return engine, (reason, {}), None
    actor = facts.actor(actor_id, target)
    if not actor.known:
        return engine, (f"unknown actor {actor_id!r}", {}), actor
    return engine, None, actor


def allowed_actions(
    policy: PolicySet, facts: TargetBuilder, actor_id: str, target: Target | None
) -> list[str]:
    """Every declared action the policy allows ``actor_id`` on ``target``, with the view built
    once. Each action asked is a decision, logged and counted like one. Raises only
    FactsUnavailable (the database could not be read)."""
    try:
        engine, problem, actor = _prepare(policy, facts, actor_id, target)
        if problem is not None:
            return []
        assert engine is not None and actor is not None and target is not None  # no problem
        view = build_view(engine, actor_id, target.chain, actor)
        allowed = []
        tally: Tally = {}
        for action in engine.permissions(target.node.type):
            ok = engine.is_allowed(action, view)
            tally[(engine.style, ok)] = tally.get((engine.style, ok), 0) + 1
            reason = "allowed by the policy" if ok else "no rule of the policy allows it"
            decision = Decision(ok, new_decision_id(), policy.version, reason)
            decisionlog.record(decision, actor_id, action, target)
            if tracing.ON:
                tracing.decision(action, target, decision, cached=False)
            if ok:
                allowed.append(action)
        count(tally)
        return allowed
    except DatabaseError as exc:
        DECISION_ERRORS.inc()
        raise FactsUnavailable(str(exc)) from exc
    except Exception:  # a deny of every action, never an allow
        log.exception("error while listing actions on %s; none allowed", target and target.node)
        DECISION_ERRORS.inc()
        return []


def explanation(
    engine: StyleEngine,
    action: str,
    view: View,
    target: Target,
    actor: ActorFacts,
    allowed: bool,
    actor_id: str = "",
) -> dict:
    """What the actor holds, what the policy derives from it, and which role carried it."""
    node: Node = target.node
    held = _held(target, actor, actor_id)
    effective = engine.effective_roles(view)
    granting = engine.granting_roles(action, view, effective) if allowed else []
    if allowed and granting:
        rule = f'"{action}" if "{granting[0]}" on {node.type}'
        reason = (
            f"the actor is {granting[0]!r} on {node.type} {node.id}"
            f" and the {engine.style} policy gives {granting[0]!r} {action!r}"
        )
    elif allowed:
        rule = f"has_permission(actor, {action!r}, {node.type}) in the {engine.style} policy"
        reason = f"a has_permission rule for {node.type} allows it on the facts shown"
    else:
        rule = None
        reason = (
            "the actor holds no role in this organization and no grant on the resource"
            if not held
            else f"none of the actor's roles on {node.type} ({', '.join(effective) or 'none'})"
            f" carries {action!r}"
        )
    return {
        "style": engine.style,
        "reason": reason,
        "rule": rule,
        "held": held,
        "effective_roles": effective,
        "resource_chain": [{"type": n.type, "id": n.id} for n in target.chain],
        "facts_shown": [lvl._asdict() for lvl in view],
    }


def _held(target: Target, actor: ActorFacts, actor_id: str) -> list[dict[str, str | None]]:
    """What the actor holds on the chain and where it comes from: its membership, its
    grants, its teams (naming the team), its ownership."""
    held: list[dict[str, str | None]] = []
    org = {"type": "Organization", "id": target.org.id}
    if actor.role:
        held.append({**org, "role": actor.role, "source": "membership"})
    teams = _teams(actor, actor_id, target)
    for tid, role in teams.team_roles:
        held.append({**org, "role": role, "source": "team", "team": tid})
    for n in target.chain[1:]:
        at = {"type": n.type, "id": n.id}
        for role in actor.grants.get(n.pk, ()):
            if teams is _NO_TEAMS or role in teams.grants.get(n.pk, ()):
                held.append({**at, "role": role, "source": "grant"})
        for tid, pk, role in teams.team_grants:
            if pk == n.pk:
                held.append({**at, "role": role, "source": "team", "team": tid})
        if n.owner is not None and n.owner == actor_id:
            held.append({**at, "role": None, "source": "owner"})
    return held


_NO_TEAMS = Provenance({}, [], [])


def _teams(actor: ActorFacts, actor_id: str, target: Target) -> Provenance:
    """Which of the actor's roles its teams gave (an explanation names the team); nothing
    read when the actor has no live membership (then it holds nothing)."""
    if not actor.in_teams or not actor.org_roles() or not actor_id:
        return _NO_TEAMS  # in no team: every role and grant it holds is its own
    pks = [n.pk for n in target.chain if n.pk is not None]
    return provenance(target.org.id, actor_id, pks, TargetBuilder.clock())


def require(
    policy: PolicySet,
    targets: TargetBuilder,
    actor_id: str,
    action: str,
    target: Target | None,
    what: str = "",
) -> None:
    """Ask the policy; raise Forbidden with the reason when it says no (NotFound for no target).
    ``what`` is the refused act as a verb phrase ("close org-1"); by default the action and
    the resource.

    Reads call it with their own builder; writes call ``UnitOfWork.require``, which calls it
    with the facts read under the unit's locks.
    """
    if target is None:
        raise NotFound("no such resource")
    decision = decide(policy, targets, actor_id, action, target, explain=True)
    if not decision.allowed:
        from access.refusals import why  # refusals asks decide(): imported here, not above

        reason = why(policy, targets, actor_id, action, target, decision)
        what = what or f"{action} {target.node.type} {target.node.id}".strip()
        raise Forbidden(f"{actor_id} may not {what}: {reason}", policy=True)
