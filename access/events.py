"""Events: every change the audit trail records is also an event, in the same transaction.

``UnitOfWork.audit`` calls ``record`` with the audit row it wrote, so no write path can
forget one: the event's type comes from the audit action (``TYPES``), its subject from the
audit target, its before and after from the audit's.

Targets have one format, ``<kind>:<id>``: ``organization:org-1``, ``user:u-1``,
``invitation:inv-1``, ``resource:<Type>/<id>`` and ``grant:<Type>/<id>/<user id>``. Ids are
written as they are (the longest grant target, 472 characters, fits the column), so a
``/`` inside a resource or user id makes a grant target ambiguous to read back; the event's
subject never is: the ``target_*`` helpers hand ``record`` the structure itself.

Ordering: each event takes the next ``position`` from ``EventCounter`` with an UPDATE, whose
row lock is held until the transaction ends. A transaction that took position *n* commits
(or rolls back, giving *n* back) before any other can take *n + 1*, so positions are gapless
and in commit order, and ``page`` reads only up to the counter it saw committed: a reader
following positions never skips an event that commits later. The lock is taken after the
change's own writes (the audit comes last), like the change counter's triggers.
"""

import logging
from collections.abc import Callable

from marshmallow import fields

from access.shapes import Given, Shape, Time
from models import Event

log = logging.getLogger("orgauthz.events")

# audit action -> event type (dotted lowercase, past tense).
TYPES = {
    "org.create": "org.created",
    "org.update": "org.updated",
    "org.close": "org.closed",
    "member.add": "member.added",
    "member.change_role": "member.role_changed",
    "member.remove": "member.removed",
    "member.leave": "member.left",
    "invitation.create": "invitation.created",
    "invitation.resend": "invitation.resent",
    "invitation.change_role": "invitation.role_changed",
    "invitation.accept": "invitation.accepted",
    "invitation.cancel": "invitation.cancelled",
    "invitation.expire": "invitation.expired",
    "resource.create": "resource.created",
    "resource.update": "resource.updated",
    "resource.move": "resource.moved",
    "resource.delete": "resource.deleted",
    "grant.create": "grant.given",
    "grant.update": "grant.changed",
    "grant.delete": "grant.revoked",
    "member.expire": "member.expired",
    "grant.expire": "grant.expired",
    "team.create": "team.created",
    "team.update": "team.updated",
    "team.delete": "team.deleted",
    "team.member_add": "team.member_added",
    "team.member_update": "team.member_changed",
    "team.member_remove": "team.member_removed",
    "team.member_expire": "team.member_expired",
    "team.grant": "team.grant_given",
    "team.grant_update": "team.grant_changed",
    "team.revoke": "team.grant_revoked",
    "team.grant_expire": "team.grant_expired",
    "role.create": "role.defined",
    "role.update": "role.redefined",
    "role.delete": "role.deleted",
    "user.create": "user.created",
    "user.update": "user.updated",
    "user.default_org": "user.default_org_changed",
    "user.erase": "user.erased",
    # SCIM provisioning (access/scim.py, access/scim_users.py)
    "scim.token_issue": "scim.token_issued",
    "scim.token_revoke": "scim.token_revoked",
    "scim.user_create": "scim.user_provisioned",
    "scim.user_update": "scim.user_updated",
    "scim.user_delete": "scim.user_deprovisioned",
    "scim.group_create": "scim.group_provisioned",
    "scim.group_update": "scim.group_updated",
    "scim.group_delete": "scim.group_deprovisioned",
    "scim.mapping": "scim.mapping_changed",
    # verified domains and requests to join (issue 28: access/domains.py, join_requests.py)
    "domain.add": "domain.added",
    "domain.verify": "domain.verified",
    "domain.configure": "domain.configured",
    "domain.remove": "domain.removed",
    "join_request.create": "join_request.created",
    "join_request.approve": "join_request.approved",
    "join_request.decline": "join_request.declined",
    "join_request.expire": "join_request.expired",
}
EVENT_TYPES = sorted(set(TYPES.values()))


def event_type(action: str) -> str:
    """The event type of an audit action (an unmapped action is its own type, logged)."""
    found = TYPES.get(action)
    if found is None:
        log.warning("audit action %r has no event type; using it as is", action)
        return action
    return found


# ---------------------------------------------------------------- targets
class Target(str):
    """An audit target (the string stored) that carries its structured subject."""

    subject: dict

    def __new__(cls, text: str, subject: dict) -> "Target":
        made = super().__new__(cls, text)
        made.subject = subject
        return made


def target_org(org_id: str) -> Target:
    return Target(f"organization:{org_id}", {"kind": "organization", "id": org_id})


def target_user(user_id: str) -> Target:
    return Target(f"user:{user_id}", {"kind": "user", "id": user_id})


def target_invitation(invitation_id: str) -> Target:
    return Target(f"invitation:{invitation_id}", {"kind": "invitation", "id": invitation_id})


def target_resource(type_: str, rid: str) -> Target:
    return Target(f"resource:{type_}/{rid}", {"kind": "resource", "type": type_, "id": rid})


def target_grant(type_: str, rid: str, user_id: str) -> Target:
    return Target(
        f"grant:{type_}/{rid}/{user_id}",
        {"kind": "grant", "resource": {"type": type_, "id": rid}, "user": user_id},
    )


def target_team(tid: str) -> Target:
    return Target(f"team:{tid}", {"kind": "team", "id": tid})


def target_role(key: str) -> Target:
    return Target(f"role:{key}", {"kind": "role", "id": key})


def target_domain(domain_id: str) -> Target:
    return Target(f"domain:{domain_id}", {"kind": "domain", "id": domain_id})


def target_join_request(request_id: str) -> Target:
    return Target(f"join_request:{request_id}", {"kind": "join_request", "id": request_id})


KINDS = (
    "organization",
    "user",
    "invitation",
    "resource",
    "grant",
    "team",
    "domain",
    "join_request",
)


def subject_of(target: str | None) -> dict | None:
    """The structured subject of a target: ``{"kind", "id"}``; a resource ``{"kind",
    "type", "id"}``; a grant ``{"kind", "resource": {"type", "id"}, "user"}`` (read back
    from the text: a ``/`` in a grant's user id is taken as part of the resource id).
    Targets written before the one format (``Folder/f-1``, ``Folder/f-1/grants/u-1``) read
    too."""
    if not target:
        return None
    if isinstance(target, Target):
        return target.subject
    kind, sep, rest = target.partition(":")
    if sep and kind in ("organization", "user", "invitation", "team", "domain", "join_request"):
        return {"kind": kind, "id": rest}
    type_, slash, tail = rest.partition("/")
    if sep and kind == "resource" and slash:
        return {"kind": "resource", "type": type_, "id": tail}
    if sep and kind == "grant" and "/" in tail:
        rid, _, user = tail.rpartition("/")
        return {"kind": "grant", "resource": {"type": type_, "id": rid}, "user": user}
    if "/grants/" in target:  # the formats before this one
        resource, _, user = target.rpartition("/grants/")
        type_, _, rid = resource.partition("/")
        return {"kind": "grant", "resource": {"type": type_, "id": rid}, "user": user}
    if "/" in target and not sep:
        type_, _, rid = target.partition("/")
        return {"kind": "resource", "type": type_, "id": rid}
    return {"kind": "other", "id": target}


def parse_subject_filter(text: str) -> str | None:
    """A ``?subject=`` filter (a target) in the one format, or None when it is not one."""
    kind, sep, rest = text.partition(":")
    if not sep or kind not in KINDS or not rest:
        return None
    if kind in ("resource", "grant") and "/" not in rest:
        return None
    return text


# ---------------------------------------------------------------- writing
def record(audit: dict, with_commit: bool = False) -> int | None:
    """Write the audit row of ``audit`` (``AuditEvent``'s fields) and its event, in the
    caller's transaction (one statement on PostgreSQL); the event's position, or None when
    ``with_commit`` sent it with the transaction's ``COMMIT`` (``Event.audited``)."""
    return Event.audited(
        audit,
        {
            "type": event_type(audit["action"]),
            "time": audit["created_at"],
            "org": audit["org"],
            "actor": audit["actor"],
            "subject": subject_of(audit["target"]),  # the Target's own structure when it is one
            "before": audit["before"],
            "after": audit["after"],
            "request_id": audit["request_id"],
        },
        with_commit,
    )


# ---------------------------------------------------------------- reading
def head() -> int:
    """The position of the last committed event."""
    return Event.head()


def event_id(position: int) -> str:
    """The public id of an event: ``evt_`` and its position, zero-padded so ids sort."""
    return f"evt_{position:012d}"


class EventOut(Shape):
    """The API (and webhook) form of an event; ``Given(row, id=event_id(...))``."""

    GIVEN = frozenset({"id"})
    id = fields.String(required=True, metadata={"description": "evt_<position>, in commit order"})
    type = fields.String(required=True, metadata={"description": ", ".join(EVENT_TYPES)})
    time = Time(required=True)
    org = fields.String(required=True, allow_none=True)
    actor = fields.String(required=True, allow_none=True)
    subject = fields.Dict(required=True, allow_none=True)
    before = fields.Raw(required=True, allow_none=True)
    after = fields.Raw(required=True, allow_none=True)


EVENT = EventOut()


def as_dict(event: Event) -> dict:
    """The API (and webhook) form of an event."""
    return EVENT.answer(Given(event, id=event_id(event.position)))


def page(
    after: int | None,
    org: str | None,
    types: list | None,
    limit: int,
    orgs: frozenset[str] | None = None,
) -> dict:
    """Events after the position ``after``, in commit order, at most ``limit``, optionally
    of one org and of some types, and only of ``orgs`` when given (an API key's scope:
    then events of no organization, a user's own, are not shown): ``{"items", "next"}``.
    ``next`` is never None: it is the position to ask after next time (the last event
    returned, or when fewer than ``limit`` matched, the newest committed position looked
    at), so a follower polls with it."""
    after = after or 0
    top = head()  # read first: every event up to it is committed, and none above it shows
    found = Event.page(after, top, limit, org, orgs, types)
    nxt = found.next if found.next is not None else max(top, after)
    return {"items": [as_dict(r) for r in found.rows], "next": nxt}


# ---------------------------------------------------------------- words
def role_label(role: str | None) -> str:
    """A role id as a person reads it: ``org_admin`` -> ``Org Admin`` (an organization's
    own ``custom:field_crew`` -> ``Field Crew``)."""
    return str(role).removeprefix("custom:").replace("_", " ").title() if role else "no role"


def _who(user_id: str | None) -> str:
    return user_id or "the service"


def _res(ref: dict | None) -> str:
    if not ref:
        return "the top level"
    return f"{ref.get('type')} {ref.get('id')}"


def summary(
    action: str, actor: str | None, target: str | None, before: dict | None, after: dict | None
) -> str:
    """One sentence a person can read: who did what to whom."""
    who = _who(actor)
    subject = subject_of(target) or {}
    b, a = before or {}, after or {}
    family = action.partition(".")[0]
    words = _FAMILIES.get(family)
    text = words(action, who, actor, subject, b, a) if words else None
    return text if text is not None else f"{who} did {action} on {target}"


def _member_words(
    action: str, who: str, actor: str | None, subject: dict, b: dict, a: dict
) -> str | None:
    sid = subject.get("id")
    if action == "member.change_role":
        return (
            f"{who} changed {sid}'s role from {role_label(b.get('role'))} "
            f"to {role_label(a.get('role'))}"
        )
    if action in ("member.remove", "member.leave"):
        if action == "member.leave":
            text = f"{who} left the organization (was {role_label(b.get('role'))})"
        else:
            text = f"{who} removed {sid} (was {role_label(b.get('role'))})"
        if a.get("reason") == "erased":
            text += " when the user was erased"
        grants = b.get("grants") or []
        if grants:
            dropped = ", ".join(f"{role_label(g['role'])} on {_res(g)}" for g in grants)
            text += f"; grants dropped: {dropped}"
        return text
    if action == "member.expire":
        return f"{sid}'s membership expired (was {role_label(b.get('role'))})"
    if action == "member.add":
        if actor == sid:
            return f"{who} joined as {role_label(a.get('role'))}"
        return f"{who} added {sid} as {role_label(a.get('role'))}"
    return None


def _invitation_words(
    action: str, who: str, actor: str | None, subject: dict, b: dict, a: dict
) -> str:
    email = a.get("email") or b.get("email") or subject.get("id")
    role = role_label(a.get("role") or b.get("role"))
    verbs = {
        "invitation.create": f"{who} invited {email} as {role}, until {a.get('expires_at')}",
        "invitation.resend": f"{who} resent the invitation of {email} ({role}) with a new "
        f"token, until {a.get('expires_at')}",
        "invitation.accept": f"{who} accepted the invitation sent to {email} ({role})",
        "invitation.cancel": f"{who} cancelled the invitation of {email} ({role})",
        "invitation.expire": f"the invitation of {email} ({role}) expired",
    }
    return verbs.get(action, f"{who} did {action} on the invitation of {email}")


def _grant_words(
    action: str, who: str, actor: str | None, subject: dict, b: dict, a: dict
) -> str | None:
    user = subject.get("user")
    res = _res(subject.get("resource"))
    if action == "grant.create":
        return f"{who} gave {user} the {role_label(a.get('role'))} role on {res}"
    if action == "grant.update":
        return (
            f"{who} changed {user}'s role on {res} from {role_label(b.get('role'))} "
            f"to {role_label(a.get('role'))}"
        )
    if action == "grant.delete":
        return f"{who} revoked {user}'s {role_label(b.get('role'))} role on {res}"
    if action == "grant.expire":
        return f"{user}'s {role_label(b.get('role'))} role on {res} expired"
    return None


def _resource_words(
    action: str, who: str, actor: str | None, subject: dict, b: dict, a: dict
) -> str | None:
    res = _res(subject)
    if action == "resource.create":
        where = f" in {_res(a.get('parent'))}" if a.get("parent") else " at the top level"
        return f"{who} created {res}{where}"
    if action == "resource.move":
        return f"{who} moved {res} from {_res(b.get('parent'))} to {_res(a.get('parent'))}"
    if action == "resource.update":
        return f"{who} updated {res}"
    if action == "resource.delete":
        below = a.get("deleted_below") or 0
        return f"{who} deleted {res}" + (f" and {below} resources below it" if below else "")
    return None


def _org_words(
    action: str, who: str, actor: str | None, subject: dict, b: dict, a: dict
) -> str | None:
    if action == "org.create":
        return f"{who} created the organization {a.get('name') or subject.get('id')}"
    if action == "org.update":
        changed = ", ".join(
            f"the {field} from {b.get(field)!r} to {a.get(field)!r}" for field in sorted(a)
        )
        return f"{who} changed {changed}"
    if action == "org.close":
        return f"{who} closed the organization"
    return None


def _user_words(
    action: str, who: str, actor: str | None, subject: dict, b: dict, a: dict
) -> str | None:
    if action == "user.create":
        return f"{who} was registered with the email {a.get('email')}"
    if action == "user.update":
        return f"{who} changed their email or name"
    if action == "user.default_org":
        return f"{who} set their default organization to {a.get('default_org_id') or 'none'}"
    if action == "user.erase":
        sid = subject.get("id")
        return f"{sid} was erased; their memberships, grants and invitations were removed"
    return None


def _team_words(
    action: str, who: str, actor: str | None, subject: dict, b: dict, a: dict
) -> str | None:
    team = f"team {subject.get('id')}"
    user = a.get("user") or b.get("user")
    res = _res(a.get("resource") or b.get("resource"))
    until = f" until {a.get('expires_at')}" if a.get("expires_at") else ""
    verbs = {
        "team.create": f"{who} created {team} ({role_label(a.get('role'))})",
        "team.update": f"{who} changed {team}: "
        + ", ".join(f"{k} {b.get(k)!r} to {a.get(k)!r}" for k in sorted(a)),
        "team.delete": f"{who} deleted {team} ({len(b.get('members') or [])} members)",
        "team.member_add": f"{who} added {user} to {team}{until}",
        "team.member_update": f"{who} changed when {user}'s place in {team} ends{until}",
        "team.member_remove": f"{who} took {user} out of {team}",
        "team.member_expire": f"{user}'s place in {team} expired",
        "team.grant": f"{who} gave {team} the {role_label(a.get('role'))} role on {res}{until}",
        "team.grant_update": f"{who} changed {team}'s role on {res} to "
        f"{role_label(a.get('role'))}{until}",
        "team.revoke": f"{who} revoked {team}'s {role_label(b.get('role'))} role on {res}",
        "team.grant_expire": f"{team}'s {role_label(b.get('role'))} role on {res} expired",
    }
    return verbs.get(action)


def _domain_words(
    action: str, who: str, actor: str | None, subject: dict, b: dict, a: dict
) -> str | None:
    name = a.get("domain") or b.get("domain") or subject.get("id")
    if action == "domain.configure":
        mode = a.get("join_mode")
        offer = (
            f"its users join as {role_label(a.get('join_role'))}"
            if mode == "auto"
            else "its users may ask to join"
            if mode == "suggest"
            else "nothing"
        )
        return f"{who} set what the domain {name} offers: {offer}"
    verbs = {"domain.add": "added", "domain.verify": "verified", "domain.remove": "removed"}
    verb = verbs.get(action)
    return f"{who} {verb} the domain {name}" if verb else None


def _join_request_words(
    action: str, who: str, actor: str | None, subject: dict, b: dict, a: dict
) -> str | None:
    user = a.get("user_id") or b.get("user_id") or subject.get("id")
    role = role_label(a.get("role") or b.get("role"))
    verbs = {
        "join_request.create": f"{who} asked to join as {role}",
        "join_request.approve": f"{who} approved {user}'s request to join, as {role}",
        "join_request.decline": f"{who} declined {user}'s request to join ({role})",
        "join_request.expire": f"{user}'s request to join ({role}) expired",
    }
    return verbs.get(action)


# The first word of an audit action -> what says its sentence (None: the general one).
_FAMILIES: dict[str, Callable[[str, str, str | None, dict, dict, dict], str | None]] = {
    "member": _member_words,
    "invitation": _invitation_words,
    "grant": _grant_words,
    "resource": _resource_words,
    "org": _org_words,
    "user": _user_words,
    "team": _team_words,
    "domain": _domain_words,
    "join_request": _join_request_words,
}
