"""SCIM 2.0 provisioning: an organization's directory and what its changes do to the
organization's members.

An organization has at most one directory (``flask scim token ORG --as USER --role ROLE``
issues its bearer token, shown once; only its hash is kept). The token reaches that
organization only: ``/scim/v2`` finds the organization by the token, never by the request.

A directory is not a person, and the policy decides for persons: every membership change a
directory makes is decided as its **acting user** (the administrator who connected the
identity provider, named when the token is issued), exactly as if they made it by hand, in
one unit of work (access/uow.py):

- a user provisioned active (or reactivated) joins with the directory's **default role**:
  the acting user must be allowed to ``invite`` someone as that role, and the user to
  ``accept`` such an invitation (so a style with one organization per user still says no);
- a user deactivated (``active: false``) or deleted leaves: the acting user must be allowed
  to ``remove`` that Membership, with its ``last_of_role`` fact, so the last Owner is not
  removed and the SCIM error carries the policy's reason.

Each change is audited (``scim.user_*`` and the ``member.*`` entries of the membership), so
it is in the events feed, with the acting user as actor and ``scim:<org>`` as the API key.
"""

import datetime
from dataclasses import dataclass

from access.context import Context
from access.decisions import require
from access.errors import Forbidden, Invalid, NotFound, Unauthenticated
from access.events import target_org, target_user
from access.invitations import invite_question
from access.members import drop_memberships, removal_plan
from access.orgs import declared_role, engine_for, iso, org_target
from access.resources import create_personal
from access.targets import TargetBuilder
from access.uow import UnitOfWork
from models import Membership, Organization, ScimDirectory, ScimUser, User


@dataclass(frozen=True)
class Directory:
    """An organization's directory, as its token authenticates it."""

    org_id: str
    acting_user: str
    default_role: str

    @property
    def key_name(self) -> str:
        """What the audit trail names as the API key of the directory's changes."""
        return f"scim:{self.org_id}"


def authenticate(token: str | None) -> Directory:
    """The directory whose bearer token is ``token``. Raises Unauthenticated."""
    row = ScimDirectory.by_token(token) if token else None
    if row is None:
        raise Unauthenticated("no active SCIM token: send Authorization: Bearer <token>")
    return Directory(row.org_id, row.acting_user, row.default_role)


def issue(ctx: Context, org_id: str, acting_user: str, role: str) -> str:
    """Issue (or replace) the organization's directory token; returns it, shown once.
    ``acting_user`` must be a member (the directory's changes are decided as them) and
    ``role`` a role the org's style declares. Raises NotFound, Invalid."""
    with UnitOfWork(ctx, org_id) as uow:
        org = uow.org()
        role = declared_role(engine_for(ctx, org), role, "--role")
        if not Membership.holds(acting_user, org.id):
            raise Invalid(
                f"{acting_user!r} is not a member of {org.id}: the directory's changes are "
                "decided as its acting user",
                {"--as": ["not a member"]},
            )
        token = ScimDirectory.issue(org.id, acting_user, role, ctx.now())
        after = {"acting_user": acting_user, "default_role": role}
        uow.audit(org.id, "scim.token_issue", target_org(org.id), None, after)
    return token


def revoke(ctx: Context, org_id: str) -> bool:
    """Revoke the organization's directory token. Returns whether one was active."""
    with UnitOfWork(ctx, org_id) as uow:
        org = uow.org()
        done = ScimDirectory.revoke(org.id, ctx.now())
        if done:
            uow.audit(org.id, "scim.token_revoke", target_org(org.id), None, None)
    return done


def status(org_id: str) -> dict:
    """What the console's Directory page shows of the organization's directory: whether
    a token is active, its acting user and default role, the last change it made and how
    many users it provisioned. Raises NotFound (no organization)."""
    if Organization.find(org_id) is None:
        raise NotFound(f"no organization {org_id!r}")
    row = ScimDirectory.of_org(org_id)
    if row is None:
        return {"state": "none", "active_users": 0, "inactive_users": 0}
    active, inactive = ScimUser.counts(org_id)
    return {
        "state": "revoked" if row.revoked_at is not None else "active",
        "acting_user": row.acting_user,
        "default_role": row.default_role,
        "role_map": row.role_map or {},
        "issued_at": iso(row.created_at),
        "revoked_at": iso(row.revoked_at) if row.revoked_at else None,
        "last_sync_at": iso(row.last_sync_at) if row.last_sync_at else None,
        "active_users": active,
        "inactive_users": inactive,
    }


def synced(org_id: str, now: datetime.datetime) -> None:
    """Record that the directory changed something (inside the change's unit of work)."""
    ScimDirectory.synced(org_id, now)


# ---------------------------------------------------------------- membership
def join(ctx: Context, uow: UnitOfWork, d: Directory, user_id: str) -> str | None:
    """Make ``user_id`` a member with the directory's default role, decided as its acting
    user (``invite``) and as the user (``accept``). Returns the role given, None when they
    already are a member (their role is kept). Raises Forbidden with the policy's reason."""
    org = uow.org()
    if Membership.holds(user_id, org.id):
        return None
    engine = engine_for(ctx, org)
    role = declared_role(engine, d.default_role, "default_role")
    uow.ask(d.acting_user, [invite_question(uow.targets, org, role)])
    attrs = {
        "role": role,
        "actor_in_other_org": Membership.in_open_org_of_style(user_id, org.style, org.id),
        "email_matches": True,
    }
    reason = uow.denial(user_id, "accept", "Invitation", attrs)
    if reason is not None:
        raise Forbidden(f"{user_id} may not join {org.id} as {role}: {reason}", policy=True)
    Membership.create(user=user_id, org=org.id, role=role, created_at=ctx.now())
    User.default_to(user_id, org.id)
    after = {"role": role, "via": "scim"}
    uow.audit(org.id, "member.add", target_user(user_id), None, after, d.acting_user)
    create_personal(uow, engine, org.id, user_id)  # UP42: their Workspace
    return role


def leave(uow: UnitOfWork, d: Directory, user_id: str) -> str | None:
    """Remove ``user_id``'s membership (and their grants in the org), decided as the
    directory's acting user (``remove`` on the Membership, with ``last_of_role``). Returns
    the role they had, None when they were no member. Raises Forbidden with the reason."""
    org = uow.org()
    if not Membership.holds(user_id, org.id):
        return None
    found, questions = removal_plan(uow.targets, org, d.acting_user, [user_id])
    reason = uow.refusal(d.acting_user, questions[0])
    if reason is not None:
        raise Forbidden(
            f"{d.acting_user} (the directory's acting user) may not {questions[0].what}: {reason}",
            policy=True,
        )
    membership = found[user_id]
    dropped = drop_memberships(org.id, [membership])
    before = {"role": membership.role, "grants": dropped.get(user_id, [])}
    after = {"reason": "deprovisioned"}
    uow.audit(org.id, "member.remove", target_user(user_id), before, after, d.acting_user)
    return membership.role


def view(ctx: Context, actor: str, org_id: str) -> dict:
    """``status`` for the console's Directory page, for those the policy lets view the
    members (``view_members``: the directory provisions them). Raises NotFound, Forbidden."""
    targets = TargetBuilder()
    what = f"view the directory of {org_id}"
    require(ctx.policy, targets, actor, "view_members", org_target(targets, org_id), what)
    return status(org_id)


# ---------------------------------------------------------------- group -> role mapping
def mapped_role(org_id: str, group_name: str) -> str | None:
    """The org role the directory's mapping gives a group named ``group_name``
    (case-insensitive), or None."""
    row = ScimDirectory.of_org(org_id)
    return (row.role_map or {}).get(group_name.strip().lower()) if row else None


def set_mapping(ctx: Context, org_id: str, group_name: str, role: str | None) -> dict:
    """Map groups named ``group_name`` to the org role ``role`` (None: drop the mapping):
    a group of that name the directory creates (or renames to it) makes a team holding
    that role, when the acting user may ``assign_role`` it. Returns the mapping. Raises
    NotFound (no directory), Invalid (undeclared role)."""
    with UnitOfWork(ctx, org_id) as uow:
        org = uow.org()
        row = ScimDirectory.of_org(org.id)
        if row is None:
            raise NotFound(f"{org.id} has no directory: issue its token first")
        mapping = dict(row.role_map or {})
        before = dict(mapping)
        key = group_name.strip().lower()
        if role is None:
            mapping.pop(key, None)
        else:
            mapping[key] = declared_role(engine_for(ctx, org), role, "ROLE")
        row.role_map = mapping
        row.save()
        uow.audit(org.id, "scim.mapping", target_org(org.id), before, mapping)
    return mapping
