"""An organization's page (its members with their grants, the invitation form, the pending
invitations), one member's page (role, activity, grants, the form giving them one role on
several resources), and the changes made from them.

Each button of a management write is asked as the write asks it
(access/console_views.py: the write's preview), never on facts built here.
"""

from flask import request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from access import members, resources
from access.console_views import removal_refusal, role_change_refusal
from access.context import Context
from access.errors import DomainError, NotFound
from access.events import role_label
from access.targets import TargetBuilder
from routes.console.base import HTML, PAGE, bp, cursor, first_link, next_link, session
from routes.console.frame import (
    Frame,
    back_to,
    change,
    closed_page,
    confirmed,
    invalid,
    open_frame,
    render,
    roles_on,
)
from routes.console.invitations import invite_roles, pending
from routes.context import load
from routes.errors import flatten
from routes.openapi import doc
from routes.schemas import GrantBatchRequest, MemberListArgs, RoleRequest


def _search(search: str) -> tuple[str | None, str | None]:
    """The members search ``?q=`` as the API checks it: (the query, None) or (None, why)."""
    if not search:
        return None, None
    try:
        return load(MemberListArgs, {"q": search})["q"], None
    except ValidationError as exc:
        errors = flatten(exc.messages)
        return None, "; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items())


def _member_rows(frame: Frame, search: str) -> tuple[list, object, str | None]:
    """The active members of this page, the next page's cursor, and why the search was
    not run (None when it was)."""
    if frame.can["view_members"] is not None:
        return [], None, None
    q, note = _search(search)
    if note is not None:
        return [], None, note
    after = cursor("cursor", "pair")
    if after is not None and after[0] != "m":
        after = None
    context, actor, org_id = frame.context, frame.actor, frame.org_id
    page = members.list_page_with_grants(context, actor, org_id, PAGE, after, q=q)
    rows = [m for m in page["items"] if m["status"] == "active"]
    nxt = page["next"]
    return rows, (nxt if nxt is not None and nxt[0] == "m" else None), None


def _buttons(frame: Frame, targets: TargetBuilder, rows: list, roles: list) -> list:
    """Each member with the roles they may be given and whether they may be removed, each
    with why not (None: it may)."""
    context, actor, org_id = frame.context, frame.actor, frame.org_id
    shown = []
    for m in rows:
        uid, role = m["user_id"], m["role"]
        changes = [
            {
                "role": r,
                "label": role_label(r),
                "reason": role_change_refusal(context, targets, actor, org_id, uid, r),
            }
            for r in roles
            if r != role
        ]
        remove_reason = removal_refusal(context, targets, actor, org_id, uid)
        shown.append(
            {**m, "is_self": uid == actor, "changes": changes, "remove_reason": remove_reason}
        )
    return shown


def _leave(frame: Frame, targets: TargetBuilder) -> dict | None:
    """Leaving, for one who cannot see the members table (a Member, a Reader): their own
    membership only, posted to the same removal as the table's Leave (the core's remove,
    as DELETE of one's own membership), asked as that removal asks."""
    own_role = (frame.org or {}).get("role")
    if not own_role or frame.can["view_members"] is None:
        return None
    reason = removal_refusal(frame.context, targets, frame.actor, frame.org_id, frame.actor)
    return {"role": own_role, "reason": reason}


@bp.get("/orgs/<org_id>")
@doc(content_types=HTML)
def org(org_id: str) -> ResponseReturnValue:
    """An organization's members (paged, searchable, with their grants), the invitation
    form, the pending invitations (paged); the result of the last change (once)."""
    frame = open_frame(org_id, "members")
    if not isinstance(frame, Frame):
        return frame
    if frame.closed:
        return closed_page(frame)
    targets = TargetBuilder()
    search = request.args.get("q", "").strip()
    rows, members_next, search_note = _member_rows(frame, search)
    roles = roles_on(frame)
    shown, leave = _buttons(frame, targets, rows, roles), _leave(frame, targets)
    invitations, invitations_next = pending(frame, targets)
    inviting = invite_roles(frame, targets, roles)
    can_invite = any(r["reason"] is None for r in inviting)
    return render(
        "console/members.html",
        frame,
        search=search,
        search_note=search_note,
        members=shown,
        leave=leave,
        members_next=next_link(members_next),
        members_first=first_link(),
        invitations=invitations,
        invitations_next=next_link(invitations_next, "icursor"),
        invitations_first=first_link("icursor"),
        invite_roles=inviting,
        can_invite=can_invite,
        invite_reason=None if can_invite or not inviting else inviting[-1]["reason"],
        batch_limit=frame.engine.setting("invitation_batch_limit") if frame.engine else None,
    )


def _assign_form(frame: Frame, person: dict) -> dict:
    """The form giving the member one role on several resources: one type at a time, its
    resources by search (``?type=&q=``), each with why it may not be given (None: it may)."""
    engine, context, actor, org_id = frame.engine, frame.context, frame.actor, frame.org_id
    types = [t for t in resources.callers_types(engine) if roles_on(frame, t)] if engine else []
    type_ = request.args.get("type") or (types[0] if types else "")
    if type_ not in types:
        type_ = types[0] if types else ""
    q = request.args.get("q", "").strip()[:200]
    options: list = []
    options_next, roles = None, []
    if type_ and engine:
        found = resources.search(
            context, actor, org_id, q or None, type_, PAGE, cursor("cursor", "int")
        )
        options_next, roles = found["next"], roles_on(frame, type_)
        asks = [
            {"type": r["type"], "id": r["id"], "role": role}
            for r in found["items"]
            for role in roles
        ]
        reasons = resources.grant_reasons(context, actor, org_id, "grant", asks)
        by = {(a["id"], a["role"]): why for a, why in zip(asks, reasons, strict=True)}
        held = {(gr["type"], gr["id"]): gr["role"] for gr in person["grants"]}
        for r in found["items"]:
            refused = [by[(r["id"], role)] for role in roles if by[(r["id"], role)]]
            name = (r.get("attributes") or {}).get("name")
            reason = refused[0] if len(refused) == len(roles) else None
            options.append(
                {**r, "name": name, "held": held.get((r["type"], r["id"])), "reason": reason}
            )
    return {
        "types": types,
        "type_": type_,
        "q": q,
        "options": options,
        "options_next": next_link(options_next),
        "options_first": first_link(),
        "roles": [{"role": r, "label": role_label(r)} for r in roles],
        "limit": engine.setting("grant_batch_limit") if engine else None,
        "can_assign": any(o["reason"] is None for o in options),
    }


@bp.get("/orgs/<org_id>/members/<user_id>")
@doc(content_types=HTML)
def member(org_id: str, user_id: str) -> ResponseReturnValue:
    """One member: role, activity, grants (each revoked after a confirmation), and the form
    that gives them one role on several resources of a type at once."""
    frame = open_frame(org_id, "member")
    if not isinstance(frame, Frame):
        return frame
    if frame.closed:
        return closed_page(frame)
    context, actor = frame.context, frame.actor
    try:
        person = members.get(context, actor, org_id, user_id)
    except NotFound as exc:
        return render("console/member.html", frame, 404, person=None, gone=exc.detail)
    except DomainError as exc:
        return render("console/member.html", frame, person=None, reason=exc.detail)
    revoke = resources.grant_reasons(context, actor, org_id, "revoke", person["grants"])
    grants = [{**gr, "revoke_reason": r} for gr, r in zip(person["grants"], revoke, strict=True)]
    form = _assign_form(frame, person)
    return render("console/member.html", frame, person=person, grants=grants, **form)


@bp.post("/orgs/<org_id>/members/<user_id>/role")
@doc(status=303, content_types=HTML)
def change_role(org_id: str, user_id: str) -> ResponseReturnValue:
    """Change a member's role."""
    role = request.form.get("role", "")

    def call(context: Context, actor: str) -> dict:
        body = load(RoleRequest, {"role": role})
        return members.change_role(context, actor, org_id, user_id, body["role"])

    what = f"change the role of {user_id} to {role_label(role)}"
    return change(org_id, what, call, back_to(url_for("console.org", org_id=org_id)))


@bp.post("/orgs/<org_id>/members/<user_id>/remove")
@doc(status=303, content_types=HTML)
def remove(org_id: str, user_id: str) -> ResponseReturnValue:
    """Remove a member (or leave, for the acting user), once confirmed."""
    verb = "leave the organization" if user_id == session().actor else f"remove {user_id}"

    def call(context: Context, actor: str) -> list:
        confirmed()
        return members.remove(context, actor, org_id, [user_id])

    return change(org_id, verb, call, url_for("console.org", org_id=org_id))


@bp.post("/orgs/<org_id>/members/<user_id>/grants")
@doc(status=303, content_types=HTML)
def assign(org_id: str, user_id: str) -> ResponseReturnValue:
    """Give a member one role on several resources at once (all or nothing, up to the
    policy's ``grant_batch_limit``: respond.io's assign-up-to-10-spaces form)."""
    picked = request.form.getlist("resource")
    role = request.form.get("role", "")
    type_ = request.form.get("type", "")

    def call(context: Context, actor: str) -> list:
        body = load(
            GrantBatchRequest,
            {"grants": [{"type": type_, "id": rid, "role": role} for rid in picked]},
        )
        if not picked:
            raise invalid("resource", "tick at least one")
        return resources.grant_batch(context, actor, org_id, user_id, body["grants"])

    plural = "s" if len(picked) != 1 else ""
    what = f"give {user_id} the {role_label(role)} role on {len(picked)} {type_ or 'resource'}"
    back = url_for("console.member", org_id=org_id, user_id=user_id, type=type_ or None)
    return change(org_id, what + plural, call, back)
