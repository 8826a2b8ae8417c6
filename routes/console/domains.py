"""An organization's Domains page (adding a domain, the TXT record to publish, verifying it,
what a verified one offers its users, removing it) and its Requests list (requests to join,
by status, approved with a role or declined). Both call the core as the API does
(access/domains.py, access/join_requests.py); buttons the policy refuses are disabled with
its reason, asked as the write asks; the core decides again on submit."""

from flask import request, url_for
from flask.typing import ResponseReturnValue

from access import domains, join_requests
from access.context import Context
from access.errors import DomainError
from access.events import role_label
from access.targets import TargetBuilder
from models.join_requests import JOIN_REQUEST_STATUSES
from routes.console.base import HTML, PAGE, bp, cursor, first_link, next_link
from routes.console.frame import Frame, change, closed_page, confirmed, open_frame, render, roles_on
from routes.context import load
from routes.domains import DomainPatch, DomainRequest, JoinRequestApprove
from routes.openapi import doc


@bp.get("/orgs/<org_id>/domains")
@doc(content_types=HTML)
def domains_page(org_id: str) -> ResponseReturnValue:
    """The organization's domains, each with the TXT record to publish, its state, and what
    it offers its users; the form to add one."""
    frame = open_frame(org_id, "domains")
    if not isinstance(frame, Frame):
        return frame
    if frame.closed:
        return closed_page(frame)
    targets, roles = TargetBuilder(), roles_on(frame)
    can = domains.screen_refusals(frame.context, targets, frame.actor, org_id, roles)
    items, nxt, reason = [], None, can["manage"]
    if reason is None:
        try:
            page = domains.list_page(
                frame.context, frame.actor, org_id, PAGE, cursor("cursor", "str")
            )
            items, nxt = page["items"], page["next"]
        except DomainError as exc:
            reason = exc.detail
    auto_roles = [{"role": r, "label": role_label(r), "reason": can["auto"][r]} for r in roles]
    return render(
        "console/domains.html",
        frame,
        domains=items,
        reason=reason,
        can=can,
        auto_roles=auto_roles,
        domains_next=next_link(nxt),
        domains_first=first_link(),
    )


def _back(org_id: str, anchor: str = "domains") -> str:
    return url_for("console.domains_page", org_id=org_id) + f"#{anchor}"


@bp.post("/orgs/<org_id>/domains")
@doc(status=303, content_types=HTML)
def add_domain(org_id: str) -> ResponseReturnValue:
    """Add a domain; the page then shows the TXT record to publish."""
    name = request.form.get("domain", "")

    def call(context: Context, actor: str) -> dict:
        body = load(DomainRequest, {"domain": name})
        return domains.add(context, actor, org_id, body["domain"])

    return change(org_id, f"add the domain {name or '(none)'}", call, _back(org_id))


@bp.post("/orgs/<org_id>/domains/<domain_id>/verify")
@doc(status=303, content_types=HTML)
def verify_domain(org_id: str, domain_id: str) -> ResponseReturnValue:
    """Look the domain's TXT token up and verify it."""

    def call(context: Context, actor: str) -> dict:
        return domains.verify(context, actor, org_id, domain_id)

    return change(org_id, f"verify the domain {domain_id}", call, _back(org_id))


@bp.post("/orgs/<org_id>/domains/<domain_id>/configure")
@doc(status=303, content_types=HTML)
def configure_domain(org_id: str, domain_id: str) -> ResponseReturnValue:
    """Set what a verified domain offers its users (nothing, a suggestion, joining with a
    role)."""
    mode, role = request.form.get("join_mode", ""), request.form.get("join_role") or None

    def call(context: Context, actor: str) -> dict:
        body = load(DomainPatch, {"join_mode": mode, "join_role": role})
        return domains.configure_join(
            context, actor, org_id, domain_id, body["join_mode"], body["join_role"]
        )

    what = f"set what the domain {domain_id} offers: {mode or '(none)'}"
    return change(
        org_id,
        what + (f" as {role_label(role)}" if role and mode == "auto" else ""),
        call,
        _back(org_id),
    )


@bp.post("/orgs/<org_id>/domains/<domain_id>/remove")
@doc(status=303, content_types=HTML)
def remove_domain(org_id: str, domain_id: str) -> ResponseReturnValue:
    """Remove a domain, once confirmed."""

    def call(context: Context, actor: str) -> dict:
        confirmed()
        return domains.remove(context, actor, org_id, domain_id)

    return change(org_id, f"remove the domain {domain_id}", call, _back(org_id))


# ---------------------------------------------------------------- requests to join
@bp.get("/orgs/<org_id>/requests")
@doc(content_types=HTML)
def requests_page(org_id: str) -> ResponseReturnValue:
    """Requests to join, by status (pending first shown), each pending one with approve (a
    role) and decline, disabled with the policy's reason where it refuses."""
    frame = open_frame(org_id, "requests")
    if not isinstance(frame, Frame):
        return frame
    if frame.closed:
        return closed_page(frame)
    status = request.args.get("status", "pending")
    status = status if status in JOIN_REQUEST_STATUSES or status == "all" else "pending"
    items, nxt, reason = [], None, None
    try:
        page = join_requests.list_page(
            frame.context,
            frame.actor,
            org_id,
            None if status == "all" else status,
            PAGE,
            cursor("cursor", "str"),
        )
        items, nxt = page["items"], page["next"]
    except DomainError as exc:
        reason = exc.detail
    targets, roles = TargetBuilder(), roles_on(frame)
    rows = []
    for jr in items:
        if jr["status"] == "pending":
            can = join_requests.screen_refusals(
                frame.context, targets, frame.actor, org_id, jr, roles
            )
            approve = [
                {"role": r, "label": role_label(r), "reason": can["approve"][r]} for r in roles
            ]
            jr = {**jr, "approve": approve, "decline_reason": can["decline"]}
        rows.append(jr)
    return render(
        "console/join_requests.html",
        frame,
        requests=rows,
        reason=reason,
        shown=status,
        statuses=("pending", "approved", "declined", "expired", "all"),
        requests_next=next_link(nxt),
        requests_first=first_link(),
    )


@bp.post("/orgs/<org_id>/requests/<request_id>/approve")
@doc(status=303, content_types=HTML)
def approve_request(org_id: str, request_id: str) -> ResponseReturnValue:
    """Approve a pending request with the role chosen."""
    role = request.form.get("role") or None

    def call(context: Context, actor: str) -> dict:
        body = load(JoinRequestApprove, {"role": role})
        return join_requests.approve(context, actor, org_id, request_id, body["role"])

    back = url_for("console.requests_page", org_id=org_id) + "#requests"
    return change(org_id, f"approve the request {request_id} as {role_label(role)}", call, back)


@bp.post("/orgs/<org_id>/requests/<request_id>/decline")
@doc(status=303, content_types=HTML)
def decline_request(org_id: str, request_id: str) -> ResponseReturnValue:
    """Decline a pending request, once confirmed."""

    def call(context: Context, actor: str) -> dict:
        confirmed()
        return join_requests.decline(context, actor, org_id, request_id)

    back = url_for("console.requests_page", org_id=org_id) + "#requests"
    return change(org_id, f"decline the request {request_id}", call, back)
