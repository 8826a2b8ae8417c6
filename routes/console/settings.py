"""An organization's settings: name, legal and billing details, each its own form, and
closing the organization (its name typed to confirm)."""

import json

from flask import request, url_for
from flask.typing import ResponseReturnValue

from access import orgs
from access.context import Context
from routes.console.base import HTML, bp, see_other
from routes.console.frame import Frame, change, closed_page, invalid, open_frame, render
from routes.context import load
from routes.openapi import doc
from routes.schemas import OrganizationPatch

FIELDS = [
    ("name", "Name", "edit_details"),
    ("legal", "Legal details", "edit_legal"),
    ("billing", "Billing details", "edit_billing"),
]
EXTRA_ROWS = 2  # empty rows of a details form, for new entries


def _details_rows(value: dict | None) -> list:
    """The rows of a legal or billing form: each entry as text (JSON for one that is not a
    string, so it is kept as it was), then empty rows for new ones."""
    rows = []
    for key, item in (value or {}).items():
        text = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
        rows.append({"key": key, "value": text, "json": not isinstance(item, str)})
    return rows + [{"key": "", "value": "", "json": False}] * EXTRA_ROWS


def _details_from_form() -> dict:
    """A legal or billing object from the form's rows: an empty key is no row, an empty
    value drops the entry, a row marked JSON is read back as JSON when it still is."""
    keys, values = request.form.getlist("key"), request.form.getlist("value")
    marked = set(request.form.getlist("json"))
    found: dict = {}
    for raw_key, raw_value in zip(keys, values, strict=False):
        key, value = raw_key.strip(), raw_value.strip()
        if not key or not value:
            continue
        if key in marked:
            try:
                found[key] = json.loads(value)
                continue
            except ValueError:
                pass
        found[key] = value
    return found


def _form(frame: Frame, name: str, label: str, action: str) -> dict:
    """One field's form: its value (the name) or its rows (details; the empty rows for new
    entries only where the policy lets the acting user edit it), and why not."""
    value = (frame.org or {}).get(name)
    reason = frame.can[action]
    rows = None
    if name != "name":
        rows = _details_rows(value)
        if reason is not None:
            rows = rows[: len(value or {})]
    shown = value if name == "name" else None
    return {"field": name, "label": label, "reason": reason, "value": shown, "rows": rows}


@bp.get("/orgs/<org_id>/settings")
@doc(content_types=HTML)
def settings(org_id: str) -> ResponseReturnValue:
    """Name, legal and billing details, each its own form, shown disabled with the policy's
    reason where it refuses; closing the organization (its name typed to confirm)."""
    frame = open_frame(org_id, "settings")
    if not isinstance(frame, Frame):
        return frame
    if frame.closed:
        return closed_page(frame)
    fields = [_form(frame, name, label, action) for name, label, action in FIELDS]
    return render("console/settings.html", frame, fields=fields)


@bp.post("/orgs/<org_id>/settings/<field>")
@doc(status=303, content_types=HTML)
def update_settings(org_id: str, field: str) -> ResponseReturnValue:
    """Change one field of the organization: ``name``, ``legal`` or ``billing``."""
    labels = {f: label for f, label, _ in FIELDS}

    def call(context: Context, actor: str) -> dict:
        if field not in labels:
            raise invalid("field", "one of name, legal, billing")
        value = request.form.get("name", "").strip() if field == "name" else _details_from_form()
        body = load(OrganizationPatch, {field: value})
        return orgs.update(context, actor, org_id, body)

    what = f"change the {labels.get(field, field[:20]).lower()}"
    return change(org_id, what, call, url_for("console.settings", org_id=org_id))


@bp.post("/orgs/<org_id>/close")
@doc(status=303, content_types=HTML)
def close(org_id: str) -> ResponseReturnValue:
    """Close the organization, once its name is typed; then its audit trail (readable to
    those the policy lets ``view_closed_audit``)."""
    typed = request.form.get("confirm_name", "").strip()
    outcome = {}

    def call(context: Context, actor: str) -> dict:
        name = orgs.get(context, actor, org_id)["name"]
        if typed != name:
            raise invalid("confirm_name", "type the organization's name exactly to close it")
        outcome["closed"] = orgs.close(context, actor, org_id)
        return outcome["closed"]

    change(org_id, "close the organization", call, "")
    target = "console.audit" if outcome else "console.settings"
    return see_other(url_for(target, org_id=org_id) + ("" if outcome else "#close"))
