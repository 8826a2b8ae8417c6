"""Every decision of the service goes through ``decide``: load facts, build the view, ask.

The answer is always the policy's, except where there is nothing to ask about (unknown
actor, resource, type or action, or a closed organization), which is a deny with a reason.
Any error while deciding is a deny, logged and counted, never an allow.
"""

import logging
import uuid
from typing import NamedTuple

import peewee

from access.errors import FORBIDDEN, ApiError, FactsUnavailable
from access.targets import TargetBuilder
from authz.engine import PolicySet
from authz.view import ActorFacts, Node, Target, build_view
from ops import decisionlog
from ops.metrics import DECISION_ERRORS, DECISIONS

log = logging.getLogger("orgauthz.decisions")


class Decision(NamedTuple):
    """The answer to one question, with what the API returns about it."""

    allowed: bool
    decision_id: str
    policy_version: str
    reason: str
    explanation: dict | None = None

    def as_json(self, explain: bool = False) -> dict:
        body = {
            "allowed": self.allowed,
            "decision_id": self.decision_id,
            "policy_version": self.policy_version,
        }
        if explain:
            body["explanation"] = self.explanation or {"reason": self.reason}
        return body


def new_decision_id() -> str:
    return uuid.uuid4().hex


def decide(
    policy: PolicySet,
    facts: TargetBuilder,
    actor_id: str,
    action: str,
    target: Target | None,
    *,
    explain: bool = False,
) -> Decision:
    """Ask the policy whether ``actor_id`` may do ``action`` on ``target``. Never raises.

    Every decision, the management endpoints' too, goes to the decision log.
    """
    decision = _decide(policy, facts, actor_id, action, target, explain=explain)
    decisionlog.record(decision, actor_id, action, target)
    return decision


def _decide(
    policy: PolicySet,
    facts: TargetBuilder,
    actor_id: str,
    action: str,
    target: Target | None,
    *,
    explain: bool = False,
) -> Decision:
    decision_id = new_decision_id()

    def deny(reason: str, **extra) -> Decision:
        expl = {"reason": reason, **extra} if explain else None
        return Decision(False, decision_id, policy.version, reason, expl)

    try:
        engine, problem, actor = _prepare(policy, facts, actor_id, target)
        if problem is None and action not in engine.permissions(target.node.type):
            problem = (
                f"the {engine.style} policy declares no action {action!r} on {target.node.type}",
                {"declared_actions": engine.permissions(target.node.type)},
            )
        if problem is not None:
            return deny(problem[0], **problem[1])
        view = build_view(engine, actor_id, target.chain, actor)
        allowed = engine.is_allowed(action, view)
        DECISIONS.labels(engine.style, "allow" if allowed else "deny").inc()
        reason = "allowed by the policy" if allowed else "no rule of the policy allows it"
        expl = (
            explanation(engine, action, view, target, actor, allowed, actor_id) if explain else None
        )
        return Decision(allowed, decision_id, policy.version, reason, expl)
    except peewee.DatabaseError as exc:
        log.error("database error while deciding %s: %s; denied", action, exc)
        DECISION_ERRORS.inc()
        raise FactsUnavailable(str(exc)) from exc
    except Exception:  # a deny, never an allow; the log has the trace
        log.exception("error while deciding %s on %s; denied", action, target and target.node)
        DECISION_ERRORS.inc()
        return deny("error while deciding; denied (see the service log)")


def _prepare(policy: PolicySet, facts: TargetBuilder, actor_id: str, target: Target | None):
    """What every decision on ``target`` checks first: (engine, problem, actor facts).

    ``problem`` is None, or (reason, extra explanation) when there is nothing to ask the
    policy about: unknown resource, type or actor, a closed organization, a style with no
    policy. Raises peewee.DatabaseError when the facts cannot be read.
    """
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
) -> list:
    """Every declared action the policy allows ``actor_id`` on ``target``, with the view built
    once. Each action asked is a decision, logged and counted like one. Raises only
    FactsUnavailable (the database could not be read)."""
    try:
        engine, problem, actor = _prepare(policy, facts, actor_id, target)
        if problem is not None:
            return []
        view = build_view(engine, actor_id, target.chain, actor)
        allowed = []
        for action in engine.permissions(target.node.type):
            ok = engine.is_allowed(action, view)
            DECISIONS.labels(engine.style, "allow" if ok else "deny").inc()
            reason = "allowed by the policy" if ok else "no rule of the policy allows it"
            decisionlog.record(
                Decision(ok, new_decision_id(), policy.version, reason), actor_id, action, target
            )
            if ok:
                allowed.append(action)
        return allowed
    except peewee.DatabaseError as exc:
        DECISION_ERRORS.inc()
        raise FactsUnavailable(str(exc)) from exc
    except Exception:  # a deny of every action, never an allow
        log.exception("error while listing actions on %s; none allowed", target and target.node)
        DECISION_ERRORS.inc()
        return []


def explanation(
    engine, action, view, target, actor: ActorFacts, allowed: bool, actor_id: str = ""
) -> dict:
    """What the actor holds, what the policy derives from it, and which role carried it."""
    node: Node = target.node
    held = []
    if actor.role:
        held.append(
            {
                "type": "Organization",
                "id": target.org.id,
                "role": actor.role,
                "source": "membership",
            }
        )
    for n in target.chain[1:]:
        for role in actor.grants.get(n.pk, ()):
            held.append({"type": n.type, "id": n.id, "role": role, "source": "grant"})
        if n.owner is not None and n.owner == actor_id:
            held.append({"type": n.type, "id": n.id, "role": None, "source": "owner"})
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


def require(
    policy: PolicySet,
    targets: TargetBuilder,
    actor_id: str,
    action: str,
    target: Target | None,
    what: str = "",
) -> None:
    """Ask the policy; raise ApiError 403 with the reason when it says no (404 for no target).
    ``what`` is the refused act as a verb phrase ("close org-1"); by default the action and
    the resource.

    Reads call it with their own builder; writes call ``UnitOfWork.require``, which calls it
    with the facts read under the unit's locks.
    """
    if target is None:
        raise ApiError(404, "no such resource")
    decision = decide(policy, targets, actor_id, action, target, explain=True)
    if not decision.allowed:
        from access.refusals import why  # refusals asks decide(): imported here, not above

        reason = why(policy, targets, actor_id, action, target, decision)
        what = what or f"{action} {target.node.type} {target.node.id}".strip()
        raise ApiError(403, f"{actor_id} may not {what}: {reason}", title=FORBIDDEN)
