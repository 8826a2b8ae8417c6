"""An organization's audit trail: newest first, in words, paged, filtered by actor, action,
subject and time. A closed organization's stays readable to those the policy allows."""

from flask import request
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from access import orgs
from access.errors import DomainError
from access.events import TYPES as AUDIT_ACTIONS
from access.events import parse_subject_filter
from routes.console.base import HTML, PAGE, bp, cursor, first_link, next_link
from routes.console.frame import Frame, invalid, open_frame, render
from routes.context import load
from routes.errors import flatten
from routes.openapi import doc
from routes.schemas import AuditListArgs

# The filter offers the actions an organization's trail records, each beside the event type
# it is published as (access/events.py: what /v1/events and webhooks say); it takes either
# name. The user.* actions are recorded with no organization (access/users.py), so no
# organization's trail holds them.
TRAIL_ACTIONS = [(a, t) for a, t in sorted(AUDIT_ACTIONS.items()) if not a.startswith("user.")]
ACTION_OF_EVENT = {t: a for a, t in AUDIT_ACTIONS.items()}
FILTERS = ("actor", "action", "subject", "since", "until")


def _filters(asked: dict) -> tuple[dict, str | None]:
    """The filters asked, checked as the API checks them: (filters, None) or ({}, why)."""
    try:
        loaded = load(AuditListArgs, {k: v for k, v in asked.items() if v})
        filters = {k: loaded[k] for k in FILTERS}
        if filters["subject"] and parse_subject_filter(filters["subject"]) is None:
            raise invalid("subject", "organization:<id>, user:<id>, resource:<Type>/<id>, ...")
    except ValidationError as exc:
        errors = flatten(exc.messages)
        return {}, "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(errors.items()))
    except DomainError as exc:
        return {}, "; ".join(f"{k}: {', '.join(v)}" for k, v in (exc.errors or {}).items())
    return filters, None


def _entries(frame: Frame, filters: dict) -> tuple[list, object, str | None]:
    """The page of entries, the next page's cursor, and why the trail may not be read."""
    context, actor, org_id = frame.context, frame.actor, frame.org_id
    after = cursor("cursor", "int")
    try:
        if frame.closed:
            page = orgs.closed_audit_page(
                context, actor, org_id, PAGE, after, order="desc", filters=filters
            )
            frame.org = page["org"]
            frame.name = page["org"]["name"]
        else:
            page = orgs.audit_page(
                context, actor, org_id, PAGE, after, order="desc", filters=filters
            )
    except DomainError as exc:
        return [], None, exc.detail
    return page["items"], page["next"], None


@bp.get("/orgs/<org_id>/audit")
@doc(content_types=HTML)
def audit(org_id: str) -> ResponseReturnValue:
    """The audit trail, newest first, in words, paged; filtered by actor, action, subject
    and time. A closed organization's stays readable to those the policy allows."""
    frame = open_frame(org_id, "audit")
    if not isinstance(frame, Frame):
        return frame
    raw = {k: request.args.get(k, "").strip() for k in FILTERS}
    asked = {**raw, "action": ACTION_OF_EVENT.get(raw["action"], raw["action"])}
    filters, filter_note = _filters(asked)
    entries, nxt, reason = _entries(frame, filters)
    return render(
        "console/audit.html",
        frame,
        entries=entries,
        entries_next=next_link(nxt),
        entries_first=first_link(),
        reason=reason,
        raw=raw,
        filter_note=filter_note,
        filtered=any(raw.values()),
        actions=TRAIL_ACTIONS,
        action=asked["action"],
    )
