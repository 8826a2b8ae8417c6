"""Why the policy refused a management action, in a sentence a person can act on.

The reason is found by asking the policy again about the same request with one fact changed
(never by Python knowing a role): "it is the last owner" when the same change would be
allowed if it were not; the roles the actor may use when another role would be allowed;
otherwise what the decision's explanation says.
"""

from access.decisions import decide
from access.targets import TargetBuilder
from authz.engine import PolicySet
from authz.view import OrgRef, build_view

# The attribute of each management resource that names the role it is about; the policy is
# asked about every declared role to say which ones the actor could have used instead.
ROLE_ATTRIBUTE = {"Invitation": "role", "RoleChange": "to_role", "Membership": "role"}
VERB = {
    "invite": "invite as",
    "cancel": "cancel invitations for",
    "change_role": "give",
    "remove": "remove members with",
}


def sentence(reason: str) -> str:
    """A reason as the end of a sentence (no trailing period; the caller adds context)."""
    return reason.rstrip(". ")


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
    target = targets.management(org, type_, attributes)
    first = decide(policy, targets, actor, action, target, explain=True)
    if first.allowed:
        return None
    expl = first.explanation or {}
    if "facts_shown" not in expl:  # no policy question was asked: closed org, unknown actor
        return expl.get("reason", first.reason)
    engine = policy.engine(org.style)
    actor_role = targets.actor(actor, target).role

    def what_if(attrs: dict) -> bool:
        return would_allow(policy, targets, actor, action, org, type_, attrs)

    role = attributes.get("role") or attributes.get("from_role")
    who = f"{actor} ({actor_role or 'no role'} in {org.id})"
    if attributes.get("last_of_role") and what_if({**attributes, "last_of_role": False}):
        return (
            f"{role!r} is held by no other member of {org.id}, and the {engine.style} "
            f"policy keeps at least one; give another member the role {role!r} first"
        )
    if (
        attributes.get("is_self")
        and not what_if({**attributes, "is_self": False})
        and type_ == "Membership"
    ):
        return (
            f"the {engine.style} policy does not let {who} remove themselves; "
            f"another member allowed to remove members must do it"
        )
    if attributes.get("is_self") and type_ == "Membership":
        return f"the {engine.style} policy does not let {who} leave"
    key = ROLE_ATTRIBUTE.get(type_)
    if key and action in VERB:
        usable = [
            r
            for r in engine.roles("Organization")
            if what_if({**attributes, key: r, "last_of_role": False})
        ]
        if usable:
            return (
                f"the {engine.style} policy lets {who} {VERB[action]} only these roles: "
                f"{', '.join(usable)}"
            )
        return f"the {engine.style} policy lets {who} {VERB[action]} no role"
    return f"the {engine.style} policy does not allow it: {expl.get('reason', first.reason)}"
