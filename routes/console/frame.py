"""What every page of an organization shares: its frame (the acting user, the organization,
what the policy lets them do on it, the tabs, the last change's result), and the way a
change is made (through the core, as the acting user, post/redirect/get).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import g, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from access import domains, mail, orgs, users
from access.context import Context
from access.errors import DomainError, Invalid
from access.registry import grantable
from access.targets import TargetBuilder
from authz.engine import StyleEngine
from authz.view import OrgRef
from routes.console.base import PICK, acting, safe_next, see_other
from routes.console.results import keep_result, take_result
from routes.context import ctx, policy
from routes.errors import flatten, status_of, title_of
from routes.schemas import storable

ORG_ACTIONS = [
    "view",
    "view_members",
    "view_invitations",
    "view_audit",
    "edit_details",
    "edit_legal",
    "edit_billing",
    "close",
]
TITLES = {
    "members": "Members",
    "resources": "Resources",
    "settings": "Settings",
    "audit": "Audit trail",
    "member": "Member",
    "resource": "Resource",
    "directory": "Directory",
    "teams": "Teams",
    "roles": "Roles",
    "domains": "Domains",
    "requests": "Requests to join",
}


@dataclass
class Frame:
    """What every page of an organization shows around its own content: the acting user,
    the organization (or why it may not be viewed), what the policy lets the acting user
    do on it, the tabs they may open, the organizations to switch to, and the result of
    the last change (once)."""

    actor: str
    context: Context
    org_id: str
    ref: OrgRef
    org: dict | None
    name: str
    view_reason: str | None
    can: dict
    closed: bool
    tab: str
    result: dict | None
    engine: StyleEngine | None
    tabs: list = field(default_factory=list)
    switch: list = field(default_factory=list)


def problem_of(exc: DomainError | ValidationError) -> dict:
    """A refusal of the core (or of the API's input checks) as the problem the API sends."""
    if isinstance(exc, ValidationError):
        errors = flatten(exc.messages)
        return {
            "status": 422,
            "title": "Unprocessable Content",
            "detail": f"invalid fields: {', '.join(sorted(errors))}",
            "errors": errors,
        }
    return {
        "status": status_of(exc),
        "title": title_of(exc),
        "detail": exc.detail,
        "errors": exc.errors,
    }


def invalid(name: str, message: str) -> DomainError:
    """A 422 naming the field ``name``, as the API's input checks answer."""
    return Invalid(f"invalid fields: {name}", {name: [message]})


def _tabs(org_id: str, closed: bool, can: dict) -> list:
    tabs = []
    if not closed:
        tabs.append(("members", "Members", url_for("console.org", org_id=org_id)))
        tabs.append(("resources", "Resources", url_for("console.resources_page", org_id=org_id)))
        if can["view"] is None:
            tabs.append(("settings", "Settings", url_for("console.settings", org_id=org_id)))
        if can["view_members"] is None:  # routes/console/teams.py, roles.py, directory.py
            tabs.append(("teams", "Teams", url_for("console.teams_page", org_id=org_id)))
            tabs.append(("roles", "Roles", url_for("console.roles_page", org_id=org_id)))
            tabs.append(("directory", "Directory", url_for("console.directory", org_id=org_id)))
    if closed or can["view_audit"] is None:
        tabs.append(("audit", "Audit trail", url_for("console.audit", org_id=org_id)))
    if not closed and can.get("manage_domains") is None:  # issue 28
        tabs.append(("domains", "Domains", url_for("console.domains_page", org_id=org_id)))
    if not closed and can["view_invitations"] is None:
        tabs.append(("requests", "Requests", url_for("console.requests_page", org_id=org_id)))
    return tabs


def _switch(actor: str) -> list:
    try:
        found: list = users.orgs_page(actor, PICK, None, g.get("key_orgs"))["items"]
    except DomainError:
        return []
    return found


def open_frame(org_id: str, tab: str) -> Frame | ResponseReturnValue:
    """The Frame, or the page answered instead: no acting user (303 home), no such
    organization (404)."""
    actor = acting()
    if not actor:
        return see_other(url_for("console.home", need_actor=1))
    result = take_result(org_id)
    if result and result.get("kept") and tab != "members":  # the tokens: on the members page
        result = {"waiting": True, "ok": True, "org": org_id, "mailed": result.get("mailed")}
    ref = TargetBuilder().org(org_id) if storable(org_id) and len(org_id) <= 64 else None
    if ref is None:
        page = render_template(
            "console/missing.html", title="No such organization", org_id=org_id, result=result
        )
        return page, 404
    context = ctx(actor)
    can = orgs.abilities(context, actor, org_id, ORG_ACTIONS)
    can["manage_domains"] = domains.manage_refusal(context, actor, org_id)  # issue 28
    body, view_reason = None, None
    try:
        body = orgs.get(context, actor, org_id)
    except DomainError as exc:
        view_reason = exc.detail
    return Frame(
        actor=actor,
        context=context,
        org_id=org_id,
        ref=ref,
        org=body,
        name=(body or {}).get("name") or org_id,
        view_reason=view_reason,
        can=can,
        closed=ref.is_closed,
        tab=tab,
        result=result,
        engine=policy().engines.get(ref.style),
        tabs=_tabs(org_id, ref.is_closed, can),
        switch=_switch(actor),
    )


def roles_on(frame: Frame, type_: str = "Organization") -> list:
    """The roles a picker offers on ``type_``: the style's, then the organization's own
    (access/registry.py ``grantable``); none without a loaded policy."""
    return grantable(frame.engine, type_, frame.ref) if frame.engine else []


def render(template: str, frame: Frame, status: int = 200, **extra: Any) -> ResponseReturnValue:
    """An organization's page in its frame."""
    title = f"{TITLES.get(frame.tab, '')} · {frame.name}"
    page = render_template(template, f=frame, title=title, bad_cursor=g.get("bad_cursor"), **extra)
    return page, status


def closed_page(frame: Frame) -> ResponseReturnValue:
    """A page of a closed organization but its audit trail: the frame says it is closed."""
    return render("console/members.html", frame)


Call = Callable[[Context, str], Any]


def change(
    org_id: str, what: str, call: Call, back: str, tokens: bool = False
) -> ResponseReturnValue:
    """Make a change through the core as the acting user, keep its result for the next
    page of the organization, and send the browser to ``back`` (303). ``call(ctx, actor)``
    returns what the core returns."""
    actor = acting()
    if not actor:
        return see_other(url_for("console.home", need_actor=1))
    result = {"what": what, "ok": True, "status": 200, "problem": None, "tokens": []}
    try:
        done = call(ctx(actor), actor)
    except (DomainError, ValidationError) as exc:
        problem = problem_of(exc)
        result.update(ok=False, status=problem["status"], problem=problem)
    else:
        if tokens:
            result["status"] = 201
            result["tokens"] = [
                {k: i[k] for k in ("email", "role", "expires_at", "token")} for i in done
            ]
            result["mailed"] = mail.mailing()  # the core queued each one's mail, or mails none
    keep_result(org_id, result)
    return see_other(back)


def confirmed() -> None:
    """A destructive change is sent by the button its confirmation shows. Raises 422."""
    if request.form.get("confirm") != "yes":
        raise invalid("confirm", "confirm the change first")


def form_field(name: str, limit: int = 200) -> str:
    """A form field, stripped; 422 naming it when over ``limit`` or unstorable."""
    value = request.form.get(name, "").strip()
    if len(value) > limit or not storable(value):
        raise invalid(name, f"at most {limit} characters, without NUL")
    return value


def back_to(default: str) -> str:
    """The form's ``back`` (a console page), else ``default``."""
    return safe_next(request.form.get("back")) if request.form.get("back") else default
