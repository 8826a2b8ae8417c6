"""Why the policy refused, in a sentence that names the limit: "pix4d: a Manager may change
roles only up to Manager, and this member is an Owner".

The policy says why. Each style writes, beside the rules that allow, one
``reason(actor, action, resource, text)`` rule per limit of them (see policies/_shared.polar);
a refusal shows the first that holds on the same view the decision was asked about, with the
request's roles filled in. Where no reason rule holds (most resource actions, whose rules are
"action if role"), the sentence is made from what the policy answers: the roles that carry
the action on that type, and the roles the actor holds there. No role name is in Python.
"""

import re
from typing import NamedTuple, cast

from access.decisions import Decision, decide
from access.targets import TargetBuilder
from authz.engine import PolicySet, StyleEngine
from authz.view import ActorFacts, OrgRef, Target, View, build_view

# {role}, {a role}, {an actor_role}: a request fact, with "a"/"an" before it when asked.
_PLACEHOLDER = re.compile(r"\{(?:(a|an) )?(\w+)\}")
# The facts that are roles (named by their label) among those a reason may show.
ROLE_FACTS = ("role", "from_role", "to_role", "actor_role")
NO_ROLE = "someone with no role here"


def article(text: str) -> str:
    """``text`` with "a" or "an" before it ("a User Admin", "an Owner")."""
    low = text.lower()
    vowel = low[:1] in "aeio" or (low[:1] == "u" and not re.match(r"u[^aeiou][aeiou]", low))
    return ("an " if vowel else "a ") + text


def and_list(items: list, word: str = "and") -> str:
    """ "A", "A and B", "A, B and C" (or with ``word``)."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def fill(engine: StyleEngine, text: str, facts: dict) -> str:
    """The reason ``text`` with its placeholders filled from ``facts`` (roles by label)."""

    def one(match: re.Match[str]) -> str:
        art, name = match.group(1), match.group(2)
        value = facts.get(name)
        if name in ROLE_FACTS:
            if not value:
                return NO_ROLE if art else "no role"
            value = engine.role_label(str(value))
        elif value is None:
            return match.group(0)
        value = str(value)
        return article(value) if art else value

    return _PLACEHOLDER.sub(one, text)


def request_facts(target: Target, actor: ActorFacts) -> dict:
    """What a reason's placeholders may show: the request's roles, the actor's role in the
    organization, and the type of the resource a Grant is on."""
    node = target.node
    facts: dict[str, str | None] = {
        k: v for k, v in (node.attributes or {}).items() if isinstance(v, str)
    }
    facts["actor_role"] = actor.role
    if len(target.chain) > 1:
        facts["type"] = target.chain[-2].type
    return facts


def policy_reason(
    engine: StyleEngine, action: str, view: View, target: Target, actor: ActorFacts
) -> str | None:
    """The first ``reason`` rule of the policy that holds, filled in; None when none does."""
    texts = engine.reasons(action, view)
    if not texts:
        return None
    return fill(engine, texts[0], request_facts(target, actor))


def role_sentence(
    engine: StyleEngine, action: str, view: View, target: Target, actor: ActorFacts
) -> str | None:
    """For an action the policy gives by role: which roles carry it on the type, and which
    the actor holds there. None when no role carries it alone (a rule on request facts)."""
    type_ = target.node.type
    carriers = engine.granting_roles(action, view, engine.roles(type_))
    held = engine.effective_roles(view)
    if not actor.role and not held and target.org.id:
        there = "" if type_ == "Organization" else f" and holds no role on this {type_}"
        return f"this user is not a member of {target.org.id}{there}"
    if not carriers or set(carriers) & set(held):
        return None
    labels = and_list([engine.role_label(r) for r in carriers], "or")
    if type_ == "Organization":
        where = "this organization"
        # A member: a user without an organization role returned above, unless the policy
        # itself gave them roles here (then role_label fails and ``why`` falls back).
        holds = f"this user is {article(engine.role_label(cast(str, actor.role)))}"
    else:
        where = f"this {type_}"
        roles = and_list([engine.role_label(r) for r in held])
        holds = f"this user holds {roles} there" if held else "this user holds no role there"
    return f"{action!r} on {where} needs the role {labels}, and {holds}"


def refusal(engine: StyleEngine, action: str, view: View, target: Target, actor: ActorFacts) -> str:
    """Why ``action`` is refused on ``view``, as "<style>: <sentence>"."""
    reason = policy_reason(engine, action, view, target, actor)
    if reason is None:
        reason = role_sentence(engine, action, view, target, actor)
    if reason is None:
        where = "this organization" if target.node.type == "Organization" else target.node.type
        reason = f"no rule allows {action!r} on {where} for this user on these facts"
    return f"{engine.style}: {reason}"


def why(
    policy: PolicySet,
    targets: TargetBuilder,
    actor_id: str,
    action: str,
    target: Target | None,
    decision: Decision,
) -> str:
    """The reason of a refused ``decision`` (from ``decide(..., explain=True)``) on
    ``target``: the policy's own reason when it was asked, else what stopped the question
    (a closed organization, an unknown actor or action)."""
    expl = decision.explanation or {}
    if target is None or "facts_shown" not in expl:
        return expl.get("reason", decision.reason)
    engine = policy.engines.get(target.org.style)
    if engine is None:
        return expl.get("reason", decision.reason)
    try:
        actor = targets.actor(actor_id, target)
        view = build_view(engine, actor_id, target.chain, actor)
        return refusal(engine, action, view, target, actor)
    except Exception:  # noqa: BLE001 -- the deny stands; only its wording falls back
        return expl.get("reason", decision.reason)


def would_allow(
    policy: PolicySet,
    targets: TargetBuilder,
    actor: str,
    action: str,
    org: OrgRef,
    type_: str,
    attributes: dict,
) -> bool:
    """A what-if question about a management resource, to explain a refusal: the policy's
    answer on the actor's view, asked of the engine directly (not a decision: not logged)."""
    engine = policy.engine(org.style)
    target = targets.management(org, type_, attributes)
    actor_facts = targets.actor(actor, target)
    return engine.is_allowed(action, build_view(engine, actor, target.chain, actor_facts))


def management_denial(
    policy: PolicySet,
    targets: TargetBuilder,
    actor: str,
    action: str,
    org: OrgRef,
    type_: str,
    attributes: dict,
) -> str | None:
    """Ask the policy about a management resource; None if allowed, else the reason."""
    return denial(policy, targets, actor, action, targets.management(org, type_, attributes))


def denial(
    policy: PolicySet, targets: TargetBuilder, actor: str, action: str, target: Target | None
) -> str | None:
    """Ask the policy (a decision, logged); None if allowed, else the reason."""
    decision = decide(policy, targets, actor, action, target, explain=True)
    if decision.allowed:
        return None
    return why(policy, targets, actor, action, target, decision)


class Question(NamedTuple):
    """One question a management write asks the policy: ``action`` on ``target`` (built by
    the write's plan from the facts it read, access/previews.py), and the refused act as a
    verb phrase for its 403 (``what``). ``of``: the user it is asked of when not the acting
    one (an invitation's inviter, whose authority it carries; "" for none)."""

    action: str
    target: Target
    what: str
    of: str | None = None

    def asker(self, actor: str) -> str:
        """The user the question is asked of, ``actor`` acting."""
        return actor if self.of is None else self.of
