"""Teams: ``/v1/orgs/{org_id}/teams``. HTTP only: parse, call access/teams.py, answer."""

from flask import Blueprint
from flask.typing import ResponseReturnValue

from access import teams
from access.errors import Invalid
from routes.context import acting, ctx, list_args, load
from routes.openapi import doc
from routes.pagination import decode, listed
from routes.schemas.teams import (
    TeamCreate,
    TeamDetailOut,
    TeamGrantOut,
    TeamGrantPut,
    TeamListArgs,
    TeamMemberOut,
    TeamMemberPut,
    TeamOut,
    TeamPage,
    TeamUpdate,
)

bp = Blueprint("teams", __name__, url_prefix="/v1/orgs/<org_id>/teams")


@bp.get("")
@doc(query=TeamListArgs, response=TeamPage)
def list_teams(org_id: str) -> ResponseReturnValue:
    """The org's teams by id, paginated; action ``view_members``. 404, 403, 422."""
    actor = acting()
    args = list_args(TeamListArgs)
    page = teams.list_page(ctx(actor), actor, org_id, args["limit"], decode(args["cursor"], "str"))
    return listed(page)


@bp.post("")
@doc(request=TeamCreate, response=TeamOut, status=201)
def create_team(org_id: str) -> ResponseReturnValue:
    """Create a team (``manage`` on a Team; with ``role``, ``assign_role`` too). 201 with the
    team. 422 (undeclared role), 409 (the id is taken), 404, 403 (the policy's reason)."""
    body = load(TeamCreate)
    actor = acting()
    return teams.create(ctx(actor), actor, org_id, body["id"], body["name"], body["role"]), 201


@bp.get("/<team_id>")
@doc(response=TeamDetailOut)
def get_team(org_id: str, team_id: str) -> ResponseReturnValue:
    """A team with its members and its roles on resources; action ``view_members``."""
    actor = acting()
    return teams.get(ctx(actor), actor, org_id, team_id)


@bp.patch("/<team_id>")
@doc(request=TeamUpdate, response=TeamOut)
def update_team(org_id: str, team_id: str) -> ResponseReturnValue:
    """Rename a team (``manage``) or change its org role (``assign_role``; null: none)."""
    body = load(TeamUpdate)
    if not body:
        raise Invalid("nothing to change", {"_body": ["give name or role"]})
    actor = acting()
    role = body["role"] if "role" in body else teams._UNSET
    return teams.update(ctx(actor), actor, org_id, team_id, body.get("name"), role)


@bp.delete("/<team_id>")
@doc(status=204)
def delete_team(org_id: str, team_id: str) -> ResponseReturnValue:
    """Delete a team, its memberships and its grants (``manage``). 204."""
    actor = acting()
    teams.delete(ctx(actor), actor, org_id, team_id)
    return "", 204


@bp.put("/<team_id>/members/<user_id>")
@doc(request=TeamMemberPut, response=TeamMemberOut)
def put_member(org_id: str, team_id: str, user_id: str) -> ResponseReturnValue:
    """Put a member of the org in the team, optionally until ``expires_at`` (``manage``).
    422 (not a member, an expiry in the past), 404, 403."""
    body = load(TeamMemberPut)
    actor = acting()
    return teams.add_member(ctx(actor), actor, org_id, team_id, user_id, body["expires_at"])


@bp.delete("/<team_id>/members/<user_id>")
@doc(status=204)
def delete_member(org_id: str, team_id: str, user_id: str) -> ResponseReturnValue:
    """Take a member out of the team (``manage``). 204. 404, 403."""
    actor = acting()
    teams.remove_member(ctx(actor), actor, org_id, team_id, user_id)
    return "", 204


@bp.put("/<team_id>/grants/<type_>/<rid>")
@doc(request=TeamGrantPut, response=TeamGrantOut)
def put_grant(org_id: str, team_id: str, type_: str, rid: str) -> ResponseReturnValue:
    """Give the team a role on a resource, optionally until ``expires_at`` (``grant`` on a
    Grant, as for a member). 201 when new, else 200. 422, 404, 403."""
    body = load(TeamGrantPut)
    actor = acting()
    grant, created = teams.put_grant(
        ctx(actor), actor, org_id, team_id, type_, rid, body["role"], body["expires_at"]
    )
    return grant, 201 if created else 200


@bp.delete("/<team_id>/grants/<type_>/<rid>")
@doc(status=204)
def delete_grant(org_id: str, team_id: str, type_: str, rid: str) -> ResponseReturnValue:
    """Take the team's role on a resource back (``revoke`` on the Grant). 204."""
    actor = acting()
    teams.delete_grant(ctx(actor), actor, org_id, team_id, type_, rid)
    return "", 204
