"""The decision endpoints: authorize, batch, actions."""

from flask import Blueprint

from authz.decisions import decide
from routes.context import facts, load, policy, touch_last_active
from routes.schemas import ActionsRequest, AuthorizeRequest, BatchRequest

bp = Blueprint("decisions", __name__, url_prefix="/v1/authorize")


def _answer(check: dict, snapshot) -> dict:
    target = facts().target(check["resource"])
    actor = check["actor"]["id"]
    decision = decide(snapshot, facts(), actor, check["action"], target, explain=check["explain"])
    return decision.as_json(check["explain"])


@bp.post("")
def authorize():
    """May the actor do the action on the resource? Always 200 with allowed true or false."""
    check = load(AuthorizeRequest)
    body = _answer(check, policy())
    touch_last_active(check["actor"]["id"])
    return body


@bp.post("/batch")
def authorize_batch():
    """Up to 1000 checks, in order, all against one policy version."""
    request_body = load(BatchRequest)
    snapshot = policy()
    results = [_answer(check, snapshot) for check in request_body["checks"]]
    for actor in {c["actor"]["id"] for c in request_body["checks"]}:
        touch_last_active(actor)
    return {"results": results}


@bp.post("/actions")
def allowed_actions():
    """Every action the policy allows the actor on the resource."""
    body = load(ActionsRequest)
    snapshot = policy()
    target = facts().target(body["resource"])
    actor = body["actor"]["id"]
    actions = []
    if target is not None:
        try:
            engine = snapshot.engine(target.org.style)
        except KeyError:
            engine = None
        for action in engine.permissions(target.node.type) if engine else []:
            if decide(snapshot, facts(), actor, action, target).allowed:
                actions.append(action)
    touch_last_active(actor)
    return {"actions": actions, "policy_version": snapshot.version}
