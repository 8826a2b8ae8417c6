"""The playground: every action of a resource for an actor, each allowed or denied with its
explanation (each a decision of the core, logged like one)."""

from flask import g, render_template, request
from flask.typing import ResponseReturnValue

from access import orgs, resources, users
from access.decisions import decide
from access.keys import outside
from access.targets import TargetBuilder
from authz.engine import PolicySet
from authz.view import MANAGEMENT_TYPES, OrgRef
from routes.console.base import HTML, PICK, bp, session
from routes.context import policy
from routes.openapi import doc
from routes.schemas import storable


def _org(facts: TargetBuilder, org_id: str) -> OrgRef | None:
    """The organization asked about, if it is one the session's key may see."""
    if not org_id or not storable(org_id) or len(org_id) > 64 or outside(facts.scope, org_id):
        return None
    return facts.org(org_id)


def _asked(live: PolicySet, facts: TargetBuilder, org: OrgRef, actor: str) -> dict:
    """The types of the organization's style, the resource asked about (``?type=&id=``),
    the ids registered of that type, and each action's decision (with why an id
    registered elsewhere is not this organization's)."""
    engine = live.engine(org.style)
    types = [t for t in engine.types if t not in MANAGEMENT_TYPES]
    type_ = request.args.get("type") or "Organization"
    if type_ not in types:
        type_ = "Organization"
    rid = request.args.get("id", "").strip()
    resource_ids: list = []
    if type_ == "Organization":
        rid = org.id
    else:
        resource_ids = resources.registered_ids(org.id, type_, 500)
    rows, error = [], None
    if actor and rid and storable(actor) and storable(rid):
        target = facts.target({"type": type_, "id": rid, "org": org.id})
        if target is not None and target.org.id != org.id:
            error = f"{type_} {rid} is registered in {target.org.id}, not {org.id}"
        for action in engine.permissions(type_):
            decision = decide(live, facts, actor, action, target, explain=True)
            rows.append({"action": action, "decision": decision})
    return {
        "types": types,
        "type_": type_,
        "rid": rid,
        "resources": resource_ids,
        "rows": rows,
        "error": error,
    }


@bp.get("/playground")
@doc(content_types=HTML)
def playground() -> ResponseReturnValue:
    """Every action of a resource for an actor, each allowed or denied with its explanation."""
    live = policy()
    scope = g.get("key_orgs")
    orgs_shown = orgs.directory(None, 1000, None, scope)["items"]
    org_id = request.args.get("org") or (orgs_shown[0]["id"] if orgs_shown else "")
    actor = request.args.get("actor", "").strip() or session().actor or ""
    facts = TargetBuilder()
    facts.scope = scope
    org = _org(facts, org_id)
    asked: dict = {"types": [], "type_": request.args.get("type") or "Organization"}
    asked.update(rid=request.args.get("id", "").strip(), resources=[], rows=[], error=None)
    if org is not None and org.style in live.engines:
        asked = _asked(live, facts, org, actor)
    elif org_id:
        asked["error"] = f"no organization {org_id!r}"
    return render_template(
        "console/playground.html",
        title="Playground",
        orgs=orgs_shown,
        org_id=org_id,
        actor=actor,
        people=users.directory(None, PICK, None, scope)["items"],
        version=live.version,
        **asked,
    )
