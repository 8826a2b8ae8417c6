"""An organization's Roles page: the style's roles with what each gives, the roles the
organization defined itself with the permissions they list, the form defining one
(checkboxes of what the style lets be delegated), renaming or redefining one, deleting one.

Every read and change goes through the domain core (access/custom_roles.py), which asks the
policy as the API does; a refused change (403 with the policy's reason, 409 naming where a
role is in use, 422 naming the field) comes back as the result box. A permission the acting
user may not hand out, and a role they may not redefine or delete, are shown disabled with
the policy's reason, asked as the write asks (access/console_views.py ``define_refusal``:
the preview of ``define`` on a CustomRole).
"""

from flask import request, url_for
from flask.typing import ResponseReturnValue

from access import custom_roles
from access.console_views import define_refusal
from access.context import Context
from access.errors import DomainError
from access.events import role_label
from access.targets import TargetBuilder
from authz import matrix
from authz.engine import StyleEngine
from routes.console.base import HTML, bp
from routes.console.frame import (
    Frame,
    change,
    closed_page,
    confirmed,
    form_field,
    invalid,
    open_frame,
    render,
)
from routes.context import load
from routes.openapi import doc
from routes.schemas.custom_roles import CustomRoleCreate, CustomRoleUpdate

PREFIX = "custom:"


def _gives(engine: StyleEngine) -> dict:
    """What each of the style's roles gives, as the policy answers it for a member holding
    only that role (authz/matrix.py ``compute``): ``{role: ["Type.action", ...]}``."""
    found = matrix.compute(engine)
    gives: dict = {role: [] for role in found["roles"]}
    for table in found["tables"]:
        for row in table["rows"]:
            for role, allowed in zip(found["roles"], row["allowed"], strict=True):
                if allowed:
                    gives[role].append(f"{table['label']}.{row['action']}")
    return gives


def _page(frame: Frame) -> dict:
    """The roles, each of the org's own with why it may not be changed (None: it may), and
    the delegable permissions, each with why it may not be given (None: it may)."""
    context, actor, org_id = frame.context, frame.actor, frame.org_id
    listed = custom_roles.list_roles(context, actor, org_id)
    targets = TargetBuilder()
    own = [
        {
            **item,
            "held": {f"{p['type']}.{p['permission']}" for p in item["permissions"]},
            "reason": define_refusal(context, targets, actor, org_id, item["key"]),
        }
        for item in listed["items"]
    ]
    delegable = [
        {
            "value": f"{d['type']}.{d['permission']}",
            "reason": define_refusal(context, targets, actor, org_id, permissions=[d]),
        }
        for d in listed["delegable"]
    ]
    gives = _gives(frame.engine) if frame.engine else {}
    builtin = [
        {"role": r, "label": role_label(r), "gives": gives.get(r, [])} for r in listed["builtin"]
    ]
    return {"builtin": builtin, "own": own, "delegable": delegable}


@bp.get("/orgs/<org_id>/roles")
@doc(content_types=HTML)
def roles_page(org_id: str) -> ResponseReturnValue:
    """The style's roles and the organization's own, the form defining one, and each own
    role's forms (rename or redefine, delete)."""
    frame = open_frame(org_id, "roles")
    if not isinstance(frame, Frame):
        return frame
    if frame.closed:
        return closed_page(frame)
    reason: str | None = None
    shown: dict = {"builtin": [], "own": [], "delegable": []}
    try:
        shown = _page(frame)
    except DomainError as exc:
        reason = exc.detail
    can_define = any(d["reason"] is None for d in shown["delegable"])
    return render(
        "console/roles.html",
        frame,
        reason=reason,
        can_define=can_define,
        prefix=PREFIX,
        **shown,
    )


def _permissions() -> list:
    """The checked permissions of a form (``Type.permission`` each), as the API takes them.
    Raises 422 naming ``permissions`` for one not of that form."""
    found = []
    for value in request.form.getlist("permission"):
        type_, dot, perm = value.partition(".")
        if not dot or not type_ or not perm:
            raise invalid("permissions", f"{value!r} is not Type.permission")
        found.append({"type": type_, "permission": perm})
    return found


def _back(org_id: str, anchor: str = "roles") -> str:
    return url_for("console.roles_page", org_id=org_id) + f"#{anchor}"


@bp.post("/orgs/<org_id>/roles")
@doc(status=303, content_types=HTML)
def define_role(org_id: str) -> ResponseReturnValue:
    """Define a role giving the checked permissions (its key: ``custom:`` and the name
    typed, when it does not start with it)."""
    key = form_field("key", 64)
    key = key if key.startswith(PREFIX) else PREFIX + key

    def call(context: Context, actor: str) -> dict:
        body = {"key": key, "name": form_field("name"), "permissions": _permissions()}
        body = load(CustomRoleCreate, body)
        return custom_roles.create(
            context, actor, org_id, body["key"], body["name"], body["permissions"]
        )

    return change(org_id, f"define the role {key}", call, _back(org_id))


@bp.post("/orgs/<org_id>/roles/<key>/edit")
@doc(status=303, content_types=HTML)
def redefine_role(org_id: str, key: str) -> ResponseReturnValue:
    """Rename a role and set what it gives to the checked permissions."""

    def call(context: Context, actor: str) -> dict:
        body = load(CustomRoleUpdate, {"name": form_field("name"), "permissions": _permissions()})
        return custom_roles.update(context, actor, org_id, key, body["name"], body["permissions"])

    return change(org_id, f"redefine the role {key}", call, _back(org_id, f"role-{key}"))


@bp.post("/orgs/<org_id>/roles/<key>/delete")
@doc(status=303, content_types=HTML)
def delete_role(org_id: str, key: str) -> ResponseReturnValue:
    """Delete a role nothing holds or offers, once confirmed (in use: the 409 says where)."""

    def call(context: Context, actor: str) -> None:
        confirmed()
        custom_roles.delete(context, actor, org_id, key)

    return change(org_id, f"delete the role {key}", call, _back(org_id))
