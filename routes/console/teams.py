"""An organization's teams: each with its org role, members and roles on resources; making a
team, putting a member in it (until a time, when given), taking one out, deleting a team.

Every change goes through the domain core (access/teams.py), which asks the policy as the
API does; a refused change comes back as the result box with the policy's reason. Buttons
the policy refuses are shown disabled with the reason, asked as the write asks: ``manage``
or ``assign_role`` on a Team (access/console_views.py ``team_refusal``).
"""

from flask import request, url_for
from flask.typing import ResponseReturnValue

from access import teams
from access.console_views import team_refusal
from access.context import Context
from access.errors import DomainError
from access.events import role_label
from access.targets import TargetBuilder
from routes.console.base import HTML, PAGE, bp, cursor, first_link, next_link
from routes.console.frame import Frame, change, confirmed, form_field, open_frame, render, roles_on
from routes.context import load
from routes.openapi import doc
from routes.schemas.teams import TeamCreate, TeamMemberPut

NEW = "(new team)"  # no team has this id (not a TEAM_ID): the team the form would make


def _rows(frame: Frame, targets: TargetBuilder) -> tuple[list, object]:
    """The teams of this page with their members and grants, each with why it may not be
    managed (None: it may), and the next page's cursor."""
    context, actor, org_id = frame.context, frame.actor, frame.org_id
    page = teams.list_page(context, actor, org_id, PAGE, cursor("cursor", "str"))
    rows = []
    for team in page["items"]:
        detail = teams.get(context, actor, org_id, team["id"])
        reason = team_refusal(context, targets, actor, org_id, "manage", team["id"])
        rows.append({**detail, "manage_reason": reason, "role_label": role_label(team["role"])})
    return rows, page["next"]


@bp.get("/orgs/<org_id>/teams")
@doc(content_types=HTML)
def teams_page(org_id: str) -> ResponseReturnValue:
    """The teams: the form making one (its roles, each with why it may not be given), and
    each team with its members, its roles on resources and its buttons."""
    frame = open_frame(org_id, "teams")
    if not isinstance(frame, Frame):
        return frame
    if frame.closed:
        return render("console/members.html", frame)
    reason: str | None = None
    rows: list = []
    roles: list = []
    nxt: object = None
    targets = TargetBuilder()
    try:
        rows, nxt = _rows(frame, targets)
    except DomainError as exc:
        reason = exc.detail
    if reason is None and frame.engine is not None:
        for r in [None, *roles_on(frame)]:
            # the form makes a new team: creating one holding r, as the write asks it
            why = team_refusal(frame.context, targets, frame.actor, org_id, "manage", NEW, r)
            roles.append(
                {"role": r or "", "label": role_label(r) if r else "no role", "reason": why}
            )
    return render(
        "console/teams.html",
        frame,
        teams=rows,
        teams_next=next_link(nxt),
        teams_first=first_link(),
        reason=reason,
        roles=roles,
    )


def _back(org_id: str, anchor: str = "teams") -> str:
    return url_for("console.teams_page", org_id=org_id) + f"#{anchor}"


@bp.post("/orgs/<org_id>/teams")
@doc(status=303, content_types=HTML)
def create_team(org_id: str) -> ResponseReturnValue:
    """Make a team, with an org role when one is chosen."""
    tid = form_field("id", 64)

    def call(context: Context, actor: str) -> dict:
        body = {"id": tid, "name": form_field("name"), "role": request.form.get("role") or None}
        body = load(TeamCreate, body)
        return teams.create(context, actor, org_id, body["id"], body["name"], body["role"])

    return change(org_id, f"make the team {tid}", call, _back(org_id))


@bp.post("/orgs/<org_id>/teams/<team_id>/members")
@doc(status=303, content_types=HTML)
def add_member(org_id: str, team_id: str) -> ResponseReturnValue:
    """Put a member in a team, until ``expires_at`` when given."""
    user_id = form_field("user_id")

    def call(context: Context, actor: str) -> dict:
        body = load(TeamMemberPut, {"expires_at": request.form.get("expires_at") or None})
        return teams.add_member(context, actor, org_id, team_id, user_id, body["expires_at"])

    return change(org_id, f"put {user_id} in {team_id}", call, _back(org_id, f"team-{team_id}"))


@bp.post("/orgs/<org_id>/teams/<team_id>/members/<user_id>/remove")
@doc(status=303, content_types=HTML)
def remove_member(org_id: str, team_id: str, user_id: str) -> ResponseReturnValue:
    """Take a member out of a team, once confirmed."""

    def call(context: Context, actor: str) -> None:
        confirmed()
        teams.remove_member(context, actor, org_id, team_id, user_id)

    what = f"take {user_id} out of {team_id}"
    return change(org_id, what, call, _back(org_id, f"team-{team_id}"))


@bp.post("/orgs/<org_id>/teams/<team_id>/delete")
@doc(status=303, content_types=HTML)
def delete_team(org_id: str, team_id: str) -> ResponseReturnValue:
    """Delete a team with its places and roles, once confirmed."""

    def call(context: Context, actor: str) -> None:
        confirmed()
        teams.delete(context, actor, org_id, team_id)

    return change(org_id, f"delete the team {team_id}", call, _back(org_id))
