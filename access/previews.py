"""Previews: ``/v1/authorize`` (batch, actions) on an Invitation, a RoleChange, a Membership
or a Grant answers what the management write would.

The caller names the change: whose role to which role, whom to remove, which role to
invite as, which grant on which resource. Everything else the policy is shown is read from
the database by the very functions the write calls under its unit's locks (its *plan*):
``members.change_plan`` (the member's current role, ``is_self``, ``last_of_role``),
``members.removal_plan``, ``invitations.invite_question`` and ``taken``, the stored
invitation's role and its inviter (``stored_question``, ``role_change_plan``,
``accept_facts``, ``inviter_question``), ``resources.grant_plan`` and ``revoke_plan`` (the
role a grant holds). Attributes a caller sends for those facts are ignored: only the names
below are read.

    RoleChange  change_role  attributes.member, attributes.to_role
    Membership  remove       attributes.user
    Invitation  invite       attributes.role (and attributes.email, when given): a new one;
                             or ``id`` naming a stored invitation of ``org``: a resend
                cancel       ``id`` naming a stored invitation of ``org``
                change_role  ``id`` (stored), attributes.to_role
                accept       ``id`` (stored), the actor as the invited user, with the
                             email stored for them; its inviter's authority asked too
    Grant       grant        parent (the registered resource), attributes.user, .role
                revoke       parent, attributes.user
    Team        manage       ``id`` naming a stored team of ``org`` (its role read), or
                             one it has not: creating it, holding attributes.role (or none)
                assign_role  ``id`` (stored), attributes.to_role (absent: none)

The answer is allowed only when every check of the write passes (the member exists, the
role is declared, the invitation is pending, the email is free...) and the policy allows
every question it asks (a grant that replaces another role asks ``revoke`` first; a role
changed to the one held asks ``view_members``, as the write does). Otherwise a deny with
the reason: the write's own words for a failed check. Each question asked is a decision,
logged and counted. Any error while previewing is a deny, never an allow (a database error
is FactsUnavailable, a 503).

A preview answers on what is committed now; the write decides again under its locks.
``/v1/authorize/actors`` lists nobody for a management resource: its facts depend on who
asks (``is_self``).
"""

import logging

from access import custom_roles, domains, invitations, members, resources, teams
from access.context import Context
from access.decisions import Decision, Tally, count, decide, new_decision_id
from access.errors import Conflict, DomainError, FactsUnavailable, Invalid, NotFound
from access.orgs import declared_role, engine_for
from access.refusals import Question
from access.targets import TargetBuilder
from authz.view import MANAGEMENT_TYPES, OrgRef, Target, org_node
from models import Invitation, Membership, User
from models.errors import DatabaseError
from ops import decisionlog
from ops.metrics import DECISION_ERRORS

log = logging.getLogger("orgauthz.previews")

ERROR = "error while previewing; denied (see the service log)"

# The actions a preview answers, by management type.
ACTIONS = {
    "RoleChange": ("change_role",),
    "Membership": ("remove",),
    "Invitation": ("invite", "cancel", "change_role", "accept"),
    "Grant": ("grant", "revoke"),
    "Team": ("manage", "assign_role"),
    "Domain": ("manage", "configure"),  # issue 28: access/domains.py
    "CustomRole": ("define",),  # issue 27: access/custom_roles.py
}


def is_management(ref: dict) -> bool:
    """Whether ``ref`` (a resource reference of the API) is one of the service's own
    management resources, answered by ``preview``."""
    return ref.get("type") in MANAGEMENT_TYPES


def attrs_of(ref: dict) -> dict:
    """The caller's ``attributes`` (an object, or none)."""
    found = ref.get("attributes")
    return found if isinstance(found, dict) else {}


def _named(ref: dict, name: str) -> str:
    """The caller's ``attributes.<name>``: a non-empty string. Raises Invalid."""
    value = (ref.get("attributes") or {}).get(name)
    if not isinstance(value, str) or not value:
        raise Invalid(f"a {ref['type']} names its {name} in attributes.{name}")
    return value


def plan(ctx: Context, targets: TargetBuilder, actor: str, action: str, ref: dict) -> list:
    """The questions the write that ``action`` on ``ref`` names would ask, after the checks
    it makes, on the facts read now. Raises DomainError where the write would fail before
    asking (or beside the policy), with its words."""
    type_ = ref["type"]
    if action not in ACTIONS.get(type_, ()):
        raise Invalid(f"no management write does {action!r} on a {type_}")
    org = targets.org(ref.get("org") or "")
    if org is None:
        raise NotFound("a management resource names its organization in org")
    level = Target(org, (org_node(org),))
    if targets.outside(level):  # the calling key's scope: read nothing, decide() denies
        return [Question(action, level, "")]
    if type_ == "RoleChange":
        member, role = _named(ref, "member"), _named(ref, "to_role")
        return members.change_plan(ctx, targets, org, actor, member, role)[1]
    if type_ == "Membership":
        return members.removal_plan(targets, org, actor, [_named(ref, "user")])[1]
    if type_ == "Team":
        return teams.team_plan(ctx, targets, org, action, ref.get("id") or "", attrs_of(ref))
    if type_ == "Grant":
        on = ref.get("parent")
        if not on:
            raise Invalid("a Grant names the resource it is on in parent")
        user = _named(ref, "user")
        if action == "revoke":
            return resources.revoke_plan(targets, org, on["type"], on["id"], user)[2]
        role = _named(ref, "role")
        return resources.grant_plan(ctx, targets, org, on["type"], on["id"], user, role)[2]
    if type_ == "Domain":
        return domains.preview_plan(ctx, targets, org, action, ref.get("attributes") or {})
    if type_ == "CustomRole":
        return custom_roles.define_plan(ctx, targets, org, ref.get("id") or "", attrs_of(ref))
    return _invitation(ctx, targets, org, actor, action, ref)


def _invitation(
    ctx: Context, targets: TargetBuilder, org: OrgRef, actor: str, action: str, ref: dict
) -> list:
    now = ctx.now()
    known = Invitation.get_or_none(id=ref["id"], org=org.id)
    if action == "invite" and known is None:  # a new invitation
        role = declared_role(engine_for(ctx, org), _named(ref, "role"), org=org)
        email = (ref.get("attributes") or {}).get("email")
        if isinstance(email, str) and email:
            problem = invitations.taken(org.id, [User.email_key_of(email)], now)
            if problem:
                raise Conflict(f"{email}: {next(iter(problem.values()))}")
        return [invitations.invite_question(targets, org, role)]
    inv = invitations.stored(org.id, ref["id"])
    if action == "invite":
        invitations.resendable(org.id, inv, now)
        return [invitations.stored_question(targets, org, "invite", inv)]
    if action == "cancel":
        invitations.cancellable(inv, now)
        return [invitations.stored_question(targets, org, "cancel", inv)]
    if action == "change_role":
        role = _named(ref, "to_role")
        inv, questions = invitations.role_change_plan(ctx, targets, org, inv.id, role)
        invitations.role_changeable(inv, now)
        return questions
    invitations.usable(inv, now)  # accept: as the invited user, on their stored email
    user = User.get_or_none(id=actor)
    if user is None:
        raise NotFound(f"unknown actor {actor!r}")
    if Membership.get_or_none(org=org.id, user=actor):
        raise Conflict(f"{actor} is already a member of {org.id}")
    attrs = invitations.accept_facts(org, inv, actor, user.email_key, user.email_key)
    target = targets.management(org, "Invitation", attrs)
    accepting = Question("accept", target, "accept this invitation")
    return [accepting, invitations.inviter_question(targets, org, inv)]


def preview(
    ctx: Context,
    targets: TargetBuilder,
    actor: str,
    action: str,
    ref: dict,
    *,
    explain: bool = False,
    tally: Tally | None = None,
) -> Decision:
    """The decision on ``action`` on the management resource ``ref``: allowed when the write
    would be (see the module docstring). Never raises but FactsUnavailable."""
    policy = ctx.policy
    try:
        questions = plan(ctx, targets, actor, action, ref)
        if not questions:  # every write asks something: nothing asked is no allow
            raise RuntimeError(f"no question for {action} on {ref.get('type')}")
        decision = None
        for q in questions:
            asker = q.asker(actor)  # an inviter's authority is asked of the inviter
            decision = decide(
                policy, targets, asker, q.action, q.target, explain=explain, tally=tally
            )
            if not decision.allowed:
                break
        assert decision is not None
        return decision
    except FactsUnavailable:
        raise
    except DomainError as exc:
        return _deny(policy.version, actor, action, exc.detail, explain, ref)
    except DatabaseError as exc:
        log.error("database error while previewing %s: %s; denied", action, exc)
        DECISION_ERRORS.inc()
        raise FactsUnavailable(str(exc)) from exc
    except Exception:  # a deny, never an allow; the log has the trace
        log.exception("error while previewing %s on %s; denied", action, ref.get("type"))
        DECISION_ERRORS.inc()
        return _deny(policy.version, actor, action, ERROR, explain, ref)


def _deny(version: str, actor: str, action: str, reason: str, explain: bool, ref: dict) -> Decision:
    decision = Decision(
        False, new_decision_id(), version, reason, {"reason": reason} if explain else None
    )
    decisionlog.record(decision, actor, action, None, ref)
    return decision


def allowed_actions(ctx: Context, targets: TargetBuilder, actor: str, ref: dict) -> list[str]:
    """The management actions on ``ref`` whose ``preview`` allows (a tally counted at
    once). Raises only FactsUnavailable."""
    tally: Tally = {}
    found = [
        a
        for a in ACTIONS.get(ref.get("type", ""), ())
        if preview(ctx, targets, actor, a, ref, tally=tally).allowed
    ]
    count(tally)
    return found
