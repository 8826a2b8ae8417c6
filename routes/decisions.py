"""The decision endpoints: authorize, batch, actions, and the list queries resources and
actors.

An authorization check sits on every request of the services that call us, so the three
decision endpoints take a lean path (bench/ measures it against a minimal Flask app):

- ``begin`` (run by the app's before-request hook for ``/v1/authorize*``) reads the JSON
  body once, settles how fresh the request's facts must be (``consistency``,
  access/cache.py), and authenticates the caller from the same facts;
- the few fields of a check are validated by hand (``_check``): a body in the canonical form
  is accepted without Marshmallow; anything else (a missing or mistyped field, an unknown
  one, a string bool...) goes to the Marshmallow schema, so errors name the same fields in
  the same words, and the schemas stay the API's definition (and the OpenAPI document's);
- answers are written as JSON text directly (ids, versions and tokens are plain ASCII);
- metrics are counted once per request, whatever the batch size.

Every answer says the change position it was decided at (``consistency_token``).
"""

import json
import logging
import re
import threading

from flask import Blueprint, current_app, g, request
from werkzeug.exceptions import HTTPException

from access import listing, previews
from access.cache import CACHE, UnknownToken
from access.context import Context
from access.decisions import Decision, allowed_actions, count, decide, decide_ref, new_decision_id
from access.errors import DomainError, FactsUnavailable, Invalid, Malformed
from access.keys import outside
from authz.engine import evaluations
from models.generation import parse_token, token
from ops import decisionlog, tracing
from ops.metrics import DECISION_ERRORS, FACT_CACHE
from routes.context import (
    MAX_DEPTH,
    authenticate,
    depth,
    load,
    policy,
    targets,
    touch_last_active,
)
from routes.errors import DATABASE_FAILURES
from routes.openapi import doc
from routes.pagination import listed, page_args
from routes.schemas import (
    CONSISTENCY_MODES,
    ActionsRequest,
    ActionsResponse,
    ActorPage,
    AuthorizeRequest,
    AuthorizeResponse,
    BatchRequest,
    BatchResponse,
    JSONObject,
    ListActorsRequest,
    ListResourcesRequest,
    ResourcePage,
)

bp = Blueprint("decisions", __name__, url_prefix="/v1/authorize")
log = logging.getLogger("orgauthz.decisions")
ACCESS = logging.getLogger("orgauthz.access")


# ---------------------------------------------------------------- before the view
def begin() -> None:
    """Before a decision request (the app's before-request hook): read the body, settle
    the freshness of its facts, authenticate from them. A bad key is a 401 before any
    complaint about the body."""
    problem = None
    try:
        body = json.loads(request.get_data())
    except HTTPException as exc:  # 413: answered after authentication, as any other
        body, problem = None, exc
    except RecursionError:
        body, problem = None, _too_deep()
    except ValueError:
        body = None
        problem = Malformed("the body is not valid JSON", {"_body": ["malformed JSON"]})
    mode, position = "minimize_latency", None
    if isinstance(body, dict) and "consistency" in body:
        try:
            mode, position = _consistency(body.pop("consistency"))
        except DomainError as exc:
            problem = problem or exc
    try:
        facts = request.environ.get("orgauthz.facts") or CACHE.view(mode, position)
    except UnknownToken:
        problem = problem or Invalid(
            "the consistency token is not one this service gave",
            {"consistency.token": ["unknown"]},
        )
        facts = CACHE.view()
    g.facts = facts
    authenticate(facts)
    if problem is not None:
        raise problem
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object", {"_body": ["not an object"]})
    g.body = body


def _consistency(value) -> tuple:
    """(mode, position or None) of a ``consistency`` object. Raises Invalid."""
    if not isinstance(value, dict):
        raise Invalid("invalid fields: consistency", {"consistency": ["not an object"]})
    unknown = sorted(set(value) - {"mode", "token"})
    if unknown:
        raise Invalid(
            f"invalid fields: {', '.join('consistency.' + k for k in unknown)}",
            {f"consistency.{k}": ["Unknown field."] for k in unknown},
        )
    mode = value.get("mode")
    if mode not in CONSISTENCY_MODES:
        raise Invalid(
            "invalid fields: consistency.mode",
            {"consistency.mode": [f"one of {list(CONSISTENCY_MODES)}"]},
        )
    if mode != "at_least_as_fresh":
        if "token" in value:
            raise Invalid(
                "invalid fields: consistency.token",
                {"consistency.token": [f"only with at_least_as_fresh, not {mode}"]},
            )
        return mode, None
    position = parse_token(value.get("token"))
    if position is None:
        raise Invalid(
            "invalid fields: consistency.token",
            {"consistency.token": ["missing" if "token" not in value else "malformed"]},
        )
    return mode, position


def _too_deep() -> DomainError:
    return Malformed(
        f"the body nests deeper than {MAX_DEPTH} levels", {"_body": ["too deeply nested"]}
    )


def _body(schema_cls):
    """The request's body loaded with ``schema_cls`` (the Marshmallow way: the fallback of
    the lean checks, and the way of the list endpoints)."""
    body = g.body
    if depth(body) > MAX_DEPTH:
        raise _too_deep()
    return load(schema_cls, data=body)


# ---------------------------------------------------------------- the lean checks
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_CHECK_KEYS = frozenset(("actor", "action", "resource", "explain"))
_RESOURCE_KEYS = frozenset(("type", "id", "org", "parent", "owner", "attributes"))


def _text(value, longest: int) -> bool:
    """A string the schema's ``Text`` with ``Length(1, longest)`` takes."""
    return (
        type(value) is str
        and 0 < len(value) <= longest
        and (value.isascii() and "\x00" not in value or _UNSTORABLE.search(value) is None)
    )


def _plain(value, level: int) -> bool:
    """A JSON value with no unstorable string anywhere, nesting at most to MAX_DEPTH."""
    if level > MAX_DEPTH:
        return False
    kind = type(value)
    if kind is str:
        return value.isascii() and "\x00" not in value or _UNSTORABLE.search(value) is None
    if kind is dict:
        return all(_plain(k, level) and _plain(v, level + 1) for k, v in value.items())
    if kind is list:
        return all(_plain(v, level + 1) for v in value)
    return True


def _too_large(obj: dict) -> bool:
    """Over the bytes ``JSONObject`` allows (then the schema names it)."""
    text = json.dumps(obj, ensure_ascii=False)
    return len(text) * 4 > JSONObject.MAX_BYTES and (
        len(text.encode("utf-8", "surrogatepass")) > JSONObject.MAX_BYTES
    )


def _resource(ref, level: int = 3):
    """A resource reference in its canonical form, as ``ResourceRef`` loads it, or None.
    ``level``: how deep its attributes sit in the request body."""
    if type(ref) is not dict or not _RESOURCE_KEYS.issuperset(ref):
        return None
    kind, rid = ref.get("type"), ref.get("id")
    if not (_text(kind, 64) and _text(rid, 200)):
        return None
    org, parent, owner = ref.get("org"), ref.get("parent"), ref.get("owner")
    attributes = ref.get("attributes", {})
    if org is not None and not _text(org, 64):
        return None
    if parent is not None and not (
        type(parent) is dict
        and len(parent) == 2
        and _text(parent.get("type"), 64)
        and _text(parent.get("id"), 200)
    ):
        return None
    if owner is not None and not _text(owner, 200):
        return None
    if type(attributes) is not dict:
        return None
    if attributes and (not _plain(attributes, level) or _too_large(attributes)):
        return None
    return {
        "type": kind,
        "id": rid,
        "org": org,
        "parent": parent,
        "owner": owner,
        "attributes": attributes,
    }


def _check(check, level: int = 1):
    """One authorize body in its canonical form, loaded as ``AuthorizeRequest`` would load
    it, or None (then the schema decides, and names what is wrong). ``level``: how deep the
    check sits in the request body (a batch's checks: 3)."""
    if type(check) is not dict or not _CHECK_KEYS.issuperset(check):
        return None
    actor, action = check.get("actor"), check.get("action")
    if type(actor) is not dict or len(actor) != 1 or not _text(actor.get("id"), 200):
        return None
    if not _text(action, 100):
        return None
    explain = check.get("explain", False)
    if explain is not True and explain is not False:
        return None
    resource = _resource(check.get("resource"), level + 2)
    if resource is None:
        return None
    return {"actor": actor, "action": action, "resource": resource, "explain": explain}


# ---------------------------------------------------------------- answers
# Set from the app's config by ``configure`` when it is built (the fast path runs outside any
# app context): REQUIRE_RESOURCE_ORG, and DECISION_BUDGET, the Polar queries a request's
# checks may run (memo hits run none; 0 is no limit).
SETTINGS = {"require_org": False, "budget": 2000}


def _within_budget() -> None:
    """A 422 naming the limit once the request has run more than its budget of Polar
    queries (counted from the start of the request, by routes/fastpath.py, so a batch the fast
    path gave up on counts its work there too): a batch stops there, whatever else it
    holds, so no request holds a thread for long."""
    limit = SETTINGS["budget"]
    if limit and evaluations() > limit:
        raise Invalid(
            f"the checks need more than {limit} policy evaluations, this service's limit "
            "per request (the setting DECISION_BUDGET): send fewer checks per batch",
            {"checks": [f"over the budget of {limit} policy evaluations (DECISION_BUDGET)"]},
        )


def configure(config) -> None:
    """Take the decision endpoints' settings from the app's config."""
    SETTINGS["require_org"] = bool(config.get("REQUIRE_RESOURCE_ORG"))
    SETTINGS["budget"] = int(config.get("DECISION_BUDGET", 2000))


def _org_named(resource: dict, field: str) -> None:
    """With REQUIRE_RESOURCE_ORG, a 422 naming ``<field>.org`` unless the resource names its
    organization (an Organization is its own)."""
    if SETTINGS["require_org"] and not resource.get("org") and resource["type"] != "Organization":
        raise Invalid(
            "this service requires the organization of every checked resource",
            {f"{field}.org": ["required: name the resource's organization"]},
        )


def _json(text: str):
    return current_app.response_class(text, mimetype="application/json")


def _answer_text(decision, explain: bool, consistency: str) -> str:
    if explain:
        return json.dumps(decision.as_json(True, consistency), default=str)
    return (
        f'{{"allowed":{"true" if decision.allowed else "false"},'
        f'"decision_id":"{decision.decision_id}","policy_version":"{decision.policy_version}",'
        f'"consistency_token":"{consistency}"}}'
    )


def _answer(
    check: dict, snapshot, tally: dict | None = None, builder=None, field: str = "resource"
):
    """The decision on one loaded check (``builder``: the request's TargetBuilder); without
    ``explain``, from the worker's known answers when this exact question was decided
    before on facts still valid (``decide_ref``). ``field``: where the check's resource
    sits in the body, named by a 422 (a resource several orgs registered, no org named)."""
    builder = builder or targets()
    resource = check["resource"]
    _org_named(resource, field)
    if previews.is_management(resource):  # what the write would do, on the write's facts
        own = tally is None
        tally = {} if own else tally
        decision = previews.preview(
            _preview_context(snapshot),
            builder,
            check["actor"]["id"],
            check["action"],
            resource,
            explain=check["explain"],
            tally=tally,
        )
        if own:
            count(tally)
        return decision
    if check["explain"]:
        return decide(
            snapshot,
            builder,
            check["actor"]["id"],
            check["action"],
            builder.target(resource, field),
            explain=True,
            tally=tally,
        )
    own = tally is None
    tally = {} if own else tally
    decision = decide_ref(
        snapshot, builder, check["actor"]["id"], check["action"], resource, tally, field
    )
    if own:
        count(tally)
    return decision


_fast = threading.local()  # the fast path's clock while it serves (no app context there)


def _preview_context(snapshot) -> Context:
    """The domain context a preview runs in: the request's policy and the app's clock."""
    clock = getattr(_fast, "clock", None) or current_app.config["CLOCK"]
    return Context(snapshot, clock)


def _position() -> str:
    """The consistency token of the request's facts."""
    return token(g.facts.position)


def _counted(facts) -> None:
    """Count where the request's facts came from (call once its facts are all read)."""
    (_HIT if facts.loads == 0 else _MISS).inc()


_HIT, _MISS = FACT_CACHE.labels("hit"), FACT_CACHE.labels("miss")


# ---------------------------------------------------------------- the three decisions
# Each is a function of the loaded body, the policy, the request's TargetBuilder and a
# ``mark`` (the last-active mark): the Flask views and the fast path below share them.


def _single(body: dict, snapshot, builder, mark) -> str | None:
    check = _check(body)
    if check is None:
        return None
    decision = _answer(check, snapshot, None, builder)
    mark((check["actor"]["id"],))
    _counted(builder.facts)
    return _answer_text(decision, check["explain"], token(builder.facts.position))


def _quick(check) -> tuple | None:
    """(actor, action, org, type, id) of a check shaped exactly ``{"actor": {"id"},
    "action", "resource": {"type", "id"[, "org"]}}`` (org None when not named), unchecked:
    only a key to look a known answer up with (a known answer's strings were checked when it
    was decided), else None."""
    if type(check) is dict and len(check) == 3:
        actor, resource = check.get("actor"), check.get("resource")
        if type(actor) is dict and type(resource) is dict and len(actor) == 1:
            size = len(resource)
            if size == 2 or (size == 3 and "org" in resource):
                return (
                    actor.get("id"),
                    check.get("action"),
                    resource.get("org"),
                    resource.get("type"),
                    resource.get("id"),
                )
    return None


def _batch_checks(body: dict) -> list | None:
    """The batch's checks, each (check, known answer or None), or None when one is not in
    the canonical form (then the schema loads the batch, or names what is wrong). Nothing
    is decided before every check is known to be valid."""
    checks = body.get("checks") if len(body) == 1 else None
    if type(checks) is not list or not 0 < len(checks) <= 1000:
        return None
    return checks


def _batch(checks: list, snapshot, builder, mark) -> str | None:
    facts, version = builder.facts, snapshot.version
    known = []
    for check in checks:
        quick = _quick(check)
        answer = None
        if quick is not None:
            answer = facts.answer(quick[0], (version, *quick[1:]))
            if answer is not None and builder.outside(answer[2]):
                answer = None  # another org's answer: the key's scope decides it below
        if answer is None:
            quick = _check(check, 3)
            if quick is None:
                return None
        known.append((quick, answer))
    tally: dict = {}
    decided, actors = [], set()
    for index, (quick, answer) in enumerate(known):
        if answer is not None:  # (actor, action, org, type, id), and what was decided then
            actor, action = quick[0], quick[1]
            allowed, reason, target, style = answer
            decision = Decision(allowed, new_decision_id(), version, reason)
            decisionlog.record(decision, actor, action, target)
            if tracing.ON:
                tracing.decision(action, target, decision, cached=True)
            if style is not None:
                tally[(style, allowed)] = tally.get((style, allowed), 0) + 1
            explain = False
        else:  # a loaded check
            actor, explain = quick["actor"]["id"], quick["explain"]
            decision = _answer(quick, snapshot, tally, builder, f"checks.{index}.resource")
        _within_budget()
        actors.add(actor)
        decided.append((decision, explain))
    # After deciding: a replica behind the cache lowers the position at the batch's first read.
    consistency = token(facts.position)
    parts = [_answer_text(decision, explain, consistency) for decision, explain in decided]
    count(tally)
    _counted(facts)
    mark(actors)
    return f'{{"results":[{",".join(parts)}],"consistency_token":"{consistency}"}}'


def _actions_refs(body: dict) -> tuple | None:
    actor_ref = body.get("actor")
    resource = _resource(body.get("resource")) if len(body) == 2 else None
    if (
        resource is None
        or type(actor_ref) is not dict
        or len(actor_ref) != 1
        or not _text(actor_ref.get("id"), 200)
    ):
        return None
    return actor_ref, resource


def _actions(actor_ref: dict, resource: dict, snapshot, builder, mark) -> dict:
    _org_named(resource, "resource")
    actor = actor_ref["id"]
    if previews.is_management(resource):
        actions = previews.allowed_actions(_preview_context(snapshot), builder, actor, resource)
    else:
        actions = allowed_actions(snapshot, builder, actor, builder.target(resource))
    mark((actor,))
    _counted(builder.facts)
    return {
        "actions": actions,
        "policy_version": snapshot.version,
        "consistency_token": token(builder.facts.position),
    }


def _touch(actors) -> None:
    for actor in actors:
        touch_last_active(actor)


@bp.post("")
@doc(request=AuthorizeRequest, response=AuthorizeResponse)
def authorize():
    """May the actor do the action on the resource? Always 200 with allowed true or false."""
    text = _single(g.body, policy(), targets(), _touch)
    if text is None:  # not in the canonical form: the schema loads it, or names what is wrong
        check = _body(AuthorizeRequest)
        decision = _answer(check, policy())
        touch_last_active(check["actor"]["id"])
        _counted(g.facts)
        text = _answer_text(decision, check["explain"], _position())
    return _json(text)


@bp.post("/batch")
@doc(request=BatchRequest, response=BatchResponse)
def authorize_batch():
    """Up to 1000 checks, in order, all against one policy version."""
    checks = _batch_checks(g.body)
    text = _batch(checks, policy(), targets(), _touch) if checks else None
    if text is None:  # a check not in the canonical form: the schema loads them all
        loaded = _body(BatchRequest)["checks"]
        for check in loaded:  # a check's own consistency is checked (422), then the batch's
            value = check.pop("consistency", None)
            if value is not None:
                _consistency(value)
        text = _batch(loaded, policy(), targets(), _touch)
    if text is None:  # never an empty answer: the schema took what the fast check did not
        raise Invalid("a check of the batch is not in a form this service decides")
    return _json(text)


@bp.post("/actions")
@doc(request=ActionsRequest, response=ActionsResponse)
def list_allowed_actions():
    """Every action the policy allows the actor on the resource."""
    refs = _actions_refs(g.body)
    if refs is None:
        body = _body(ActionsRequest)
        refs = body["actor"], body["resource"]
    return _actions(*refs, policy(), targets(), _touch)


def _page(body: dict) -> tuple:
    """(limit, cursor value) from the body, else the query string. 422 if invalid."""
    source = {k: v for k, v in request.args.items() if k in ("limit", "cursor")}
    source.update({k: body[k] for k in ("limit", "cursor") if k in body})
    return page_args("str", source)


@bp.post("/resources")
@doc(request=ListResourcesRequest, response=ResourcePage)
def list_resources():
    """The registered resources of a type in an org on which the actor may do the action,
    paginated; filtered in the database (``access.listing``). Unknown actor, org, type or
    action: an empty list, as /v1/authorize would deny. Raises 422 for an invalid body."""
    body = _body(ListResourcesRequest)
    limit, after = _page(body)
    actor = body["actor"]["id"]
    if outside(g.key_orgs, body["org"]):  # another org's: as an unknown org, nothing
        page = {"items": [], "next": None}
    else:
        page = _denied_on_error(
            listing.list_resources,
            policy(),
            targets(),
            actor,
            body["action"],
            body["type"],
            body["org"],
            limit,
            after,
        )
    touch_last_active(actor)
    return {**listed(page), "consistency_token": _position()}


@bp.post("/actors")
@doc(request=ListActorsRequest, response=ActorPage)
def list_actors():
    """The users who may do the action on the resource, paginated (``access.listing``).
    Unknown resource or action: an empty list. Raises 422 for an invalid body."""
    body = _body(ListActorsRequest)
    limit, after = _page(body)
    _org_named(body["resource"], "resource")
    target = targets().target(body["resource"])
    if targets().outside(target):  # another org's resource: as an unknown one, nobody
        target = None
    if previews.is_management(body["resource"]):  # its facts depend on who asks: nobody
        target = None
    page = _denied_on_error(
        listing.list_actors, policy(), targets(), body["action"], target, limit, after
    )
    return {**listed(page), "consistency_token": _position()}


def _denied_on_error(list_query, *args) -> dict:
    """The page of a list query; an error while deciding (not a refusal, not the database's:
    a 503) lists nothing, as ``decide`` denies: logged and counted, never an allow."""
    try:
        return list_query(*args)
    except (DomainError, FactsUnavailable, *DATABASE_FAILURES):
        raise
    except Exception:  # nothing listed, never everything
        log.exception("error while listing (%s); nothing listed", list_query.__name__)
        DECISION_ERRORS.inc()
        return {"items": [], "next": None}
