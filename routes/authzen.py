"""The OpenID AuthZEN Authorization API 1.0 over orgauthz's own decisions (docs/authzen.md).

``POST /access/v1/evaluation`` and ``/evaluations``, the three search endpoints and the
PDP metadata at ``GET /.well-known/authzen-configuration``. Nothing is decided here: a
request is mapped onto the check ``/v1/authorize`` takes and decided by the same core
(routes/core.py ``answer``: known answers, ``access.decisions.decide``, the decision log,
the metrics); the searches are the list queries of ``access.listing`` and
``access.decisions.allowed_actions``. Requests are authenticated and rate limited as
``/v1`` ones (``begin``, run by the app's before-request hook); the metadata is public.

The mapping: subject ``{"type": "user", "id"}`` -> the actor; action ``name`` -> the
action; resource ``type`` and ``id`` -> the resource, its ``properties`` -> inline
attributes, ``properties.org`` -> its organization (else the one org that registered it,
else the subject's one organization), the property the style names in
``setting("authzen_owner_property", ...)`` (default ``owner``) -> its owner, a user's id or
email. ``context``: the attributes a style declares (``context_attribute``, docs/API.md
1.3) are read, of their kind (else a 400 naming ``context.<name>``); any other key is
ignored, as the specification lets a PEP send more. The answer's ``context`` carries the
decision id and the reason. Errors are problem documents with the specification's status codes:
400 for a malformed request (``errors`` naming the field), 401 without a valid key.
"""

from typing import Any

from flask import Blueprint, Response, current_app, g, request
from flask.typing import ResponseReturnValue
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from access import listing, previews
from access.decisions import Decision, allowed_actions, count, new_decision_id
from access.errors import DomainError, Invalid, Malformed
from access.targets import TargetBuilder
from authz.engine import asking
from models import Membership, User, db
from ops import decisionlog
from routes import core, decisions
from routes.context import policy, targets, touch_last_active
from routes.errors import flatten, status_of
from routes.openapi import doc
from routes.pagination import decode, encode
from routes.schemas import JSONObject, Ref, Text, action_name, identifier, load_context

bp = Blueprint("authzen", __name__)

PREFIX = "/access/v1/"
SEMANTICS = ("execute_all", "deny_on_first_deny", "permit_on_first_permit")
MAX_EVALUATIONS = 1000  # as /v1/authorize/batch
PAGE_DEFAULT, PAGE_MAX = 50, 500


# ---------------------------------------------------------------- schemas
class _Lenient(Schema):
    """Keys the specification does not define are ignored (it lets a PEP send more)."""

    class Meta:
        unknown = EXCLUDE


class _Entity(_Lenient, Ref):
    """A subject or a resource: ``type`` and ``id`` of the shapes /v1's ``Ref`` takes, and
    ``properties``."""

    properties = JSONObject()


class Subject(_Entity):
    pass


class Resource(_Entity):
    pass


class _Searched(_Entity):
    id = identifier()  # what is searched for: ignored


class SearchSubject(_Searched):
    pass


class SearchResource(_Searched):
    pass


class Action(_Lenient):
    name = action_name(required=True)
    properties = fields.Dict(keys=fields.String())


class EvaluationRequest(_Lenient):
    """Access Evaluation request: subject, action and resource required, context optional."""

    subject = fields.Nested(Subject, required=True)
    action = fields.Nested(Action, required=True)
    resource = fields.Nested(Resource, required=True)
    context = fields.Dict(keys=fields.String())


class Decided(Schema):
    decision = fields.Boolean(required=True)
    context = fields.Dict()


class Options(_Lenient):
    evaluations_semantic = fields.String(validate=validate.OneOf(SEMANTICS))


class EvaluationsRequest(_Lenient):
    """Access Evaluations request: ``evaluations`` (each an evaluation request, with the
    top-level subject, action, resource and context as defaults), ``options``."""

    subject = fields.Dict()
    action = fields.Dict()
    resource = fields.Dict()
    context = fields.Dict()
    evaluations = fields.Raw(metadata={"description": "a list of evaluation requests"})
    options = fields.Nested(Options)


class EvaluationsAnswer(Schema):
    # a list in the order asked (1.0), or keyed as asked when the request keyed its
    # evaluations by name (the interop scenario's older draft shape)
    evaluations = fields.Raw(
        metadata={
            "oneOf": [
                {"type": "array", "items": {"$ref": "#/components/schemas/Decided"}},
                {
                    "type": "object",
                    "additionalProperties": {"$ref": "#/components/schemas/Decided"},
                },
            ]
        }
    )


class Page(_Lenient):
    token = Text(validate=validate.Length(max=1000))
    next_token = Text(validate=validate.Length(max=1000))  # the drafts' name of ``token``
    limit = fields.Integer(validate=validate.Range(min=1, max=PAGE_MAX))


class SubjectSearchRequest(_Lenient):
    subject = fields.Nested(SearchSubject, required=True)
    action = fields.Nested(Action, required=True)
    resource = fields.Nested(Resource, required=True)
    context = fields.Dict(keys=fields.String())
    page = fields.Nested(Page)


class ResourceSearchRequest(_Lenient):
    subject = fields.Nested(Subject, required=True)
    action = fields.Nested(Action, required=True)
    resource = fields.Nested(SearchResource, required=True)
    context = fields.Dict(keys=fields.String())
    page = fields.Nested(Page)


class ActionSearchRequest(_Lenient):
    subject = fields.Nested(Subject, required=True)
    resource = fields.Nested(Resource, required=True)
    context = fields.Dict(keys=fields.String())
    page = fields.Nested(Page)


class PageAnswer(Schema):
    next_token = fields.String()
    count = fields.Integer()


class SearchAnswer(Schema):
    results = fields.List(fields.Dict())
    page = fields.Nested(PageAnswer)


class Metadata(Schema):
    policy_decision_point = fields.String()
    access_evaluation_endpoint = fields.String()
    access_evaluations_endpoint = fields.String()
    search_subject_endpoint = fields.String()
    search_resource_endpoint = fields.String()
    search_action_endpoint = fields.String()


_SCHEMAS: dict = {}


def _load(schema_cls: type[Schema], data: Any, prefix: str = "") -> Any:
    """``data`` loaded with ``schema_cls``; a 400 naming each field (under ``prefix``)."""
    schema = _SCHEMAS.get(schema_cls)
    if schema is None:
        schema = _SCHEMAS[schema_cls] = schema_cls()
    if not isinstance(data, dict):
        raise Malformed("the request must be a JSON object", {prefix or "_body": ["not an object"]})
    try:
        return schema.load(data)
    except ValidationError as exc:
        errors = flatten(exc.messages, prefix)
        raise Malformed(f"invalid fields: {', '.join(sorted(errors))}", errors) from exc


def _context(loaded: dict, prefix: str = "") -> dict:
    """An evaluation's ``context`` as the policy reads it, in place: the attributes some
    style declares, loaded to their kind (a 400 naming ``context.<name>``); other keys are
    the PEP's own and ignored."""
    given = loaded.get("context") or {}
    kinds = policy().context_kinds
    read = {k: v for k, v in given.items() if k in kinds}
    try:
        loaded["context"] = load_context(kinds, read)
    except ValidationError as exc:
        errors = flatten(exc.messages, f"{prefix}.context" if prefix else "context")
        raise Malformed(f"invalid fields: {', '.join(sorted(errors))}", errors) from exc
    return loaded


# ---------------------------------------------------------------- before the view
def begin() -> None:
    """Before an AuthZEN request (the app's before-request hook): what ``/v1/authorize``
    does first (the body, its facts, the API key: a bad key is a 401 before any complaint
    about the body), with the specification's status for a body that is not an object: 400."""
    try:
        decisions.begin()
    except Invalid as exc:
        raise Malformed(exc.detail, exc.errors) from exc


@bp.after_request
def challenge(response: Response) -> Response:
    """A 401 names the scheme it wants (the specification's "Sender Authentication Failure")."""
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="orgauthz"'
    return response


# ---------------------------------------------------------------- the mapping
def _subject_orgs(builder: TargetBuilder, subject_id: str) -> list:
    """The organizations ``subject_id`` is a member of, within the calling key's scope."""
    sql = f'SELECT org_id FROM "{Membership._meta.table_name}" WHERE user_id = {db.param}'
    orgs = sorted({row[0] for row in builder.facts.read(sql, (subject_id,))})
    scope = builder.scope
    return [o for o in orgs if scope is None or o in scope]


def _org(builder: TargetBuilder, subject_id: str | None, resource: dict, field: str) -> str | None:
    """The organization a resource of a request is decided in (docs/authzen.md): its
    ``properties.org``; else the one org that registered it; else the subject's one
    organization. None: no such resource (a deny). Raises Malformed when it must be named."""
    props = resource.get("properties") or {}
    named = props.get("org")
    where = f"{field}.properties.org"
    if named is not None:
        if not isinstance(named, str) or not 0 < len(named) <= 64:
            raise Malformed(f"invalid fields: {where}", {where: ["an organization id"]})
        return named
    if resource["type"] == "Organization":
        return resource["id"]
    if core.SETTINGS["require_org"]:
        raise Malformed(
            "this service requires the organization of every checked resource",
            {where: ["required: name the resource's organization"]},
        )
    try:
        found = builder.find(resource["type"], resource["id"], where)
    except Invalid as exc:
        raise Malformed(exc.detail, exc.errors) from exc
    if found is not None:
        return found.org.id
    if subject_id is None:
        return None
    orgs = _subject_orgs(builder, subject_id)
    if len(orgs) > 1:
        raise Malformed(
            "no organization registered this resource and the subject belongs to several: "
            "name the organization",
            {where: ["required: the subject belongs to more than one organization"]},
        )
    return orgs[0] if orgs else None


def _owner(builder: TargetBuilder, org_id: str, props: dict) -> str | None:
    """The owner the style's ``authzen_owner_property`` names: a user's id, or the id of the
    user with that email (the interop scenario sends the owner's email)."""
    org = builder.org(org_id)
    engine = policy().engines.get(org.style) if org is not None else None
    name = engine.setting("authzen_owner_property", "owner") if engine else "owner"
    value = props.get(name)
    if not isinstance(value, str) or not value:
        return None
    table = User._meta.table_name
    sql = f'SELECT id FROM "{table}" WHERE id = {db.param} OR email_key = {db.param}'
    ids = [row[0] for row in builder.facts.read(sql, (value, User.email_key_of(value)))]
    if value in ids or not ids:
        return value
    return ids[0]


def _ref(builder: TargetBuilder, subject_id: str | None, resource: dict, field: str) -> dict:
    """A resource of a request as the reference ``/v1/authorize`` takes."""
    org = _org(builder, subject_id, resource, field)
    props = dict(resource.get("properties") or {})
    props.pop("org", None)
    return {
        "type": resource["type"],
        "id": resource["id"],
        "org": org,
        "parent": None,
        "owner": _owner(builder, org, props) if org else None,
        "attributes": props,
    }


def _not_a_user(subject: dict, action: str, version: str) -> Decision:
    """The deny of a subject that is no user (logged as every decision)."""
    reason = f"orgauthz decides for subjects of type 'user', not {subject['type']!r}"
    decision = Decision(False, new_decision_id(), version, reason)
    decisionlog.record(decision, subject["id"], action, None)
    return decision


def _decide(loaded: dict, builder: TargetBuilder, tally: dict, field: str = "resource") -> Decision:
    """The decision on one loaded evaluation request, by the /v1 core."""
    subject, action = loaded["subject"], loaded["action"]["name"]
    snapshot = policy()
    if subject["type"] != "user":
        return _not_a_user(subject, action, snapshot.version)
    check = {
        "actor": {"id": subject["id"]},
        "action": action,
        "resource": _ref(builder, subject["id"], loaded["resource"], field),
        "explain": False,
        "context": loaded.get("context") or {},
    }
    try:
        decision = core.answer(check, decisions.call(), tally, f"{field}.properties")
    except Invalid as exc:  # a resource several orgs registered, named by a 422 in /v1
        raise Malformed(exc.detail, exc.errors) from exc
    touch_last_active(subject["id"])
    return decision


def _answer(decision: Decision) -> dict:
    return {
        "decision": decision.allowed,
        "context": {
            "id": decision.decision_id,
            "reason_admin": {"en": decision.reason},
            "policy_version": decision.policy_version,
        },
    }


# ---------------------------------------------------------------- evaluation(s)
@bp.post("/access/v1/evaluation")
@doc(request=EvaluationRequest, response=Decided)
def evaluation() -> ResponseReturnValue:
    """AuthZEN Access Evaluation: may the subject do the action on the resource?"""
    loaded = _context(_load(EvaluationRequest, g.body))
    builder, tally = targets(), {}  # type: TargetBuilder, dict
    decision = _decide(loaded, builder, tally)
    count(tally)
    core.counted(builder.facts)
    return _answer(decision)


@bp.post("/access/v1/evaluations")
@doc(request=EvaluationsRequest, response=EvaluationsAnswer)
def evaluations() -> ResponseReturnValue:
    """AuthZEN Access Evaluations: several evaluations, in order, with defaults and
    short-circuiting options."""
    body = g.body
    top = _load(EvaluationsRequest, body)
    items = body.get("evaluations")
    if items is None or items == []:  # "behaves ... with the (single) Access Evaluation"
        return evaluation()
    keyed = isinstance(items, dict)  # the interop's 1.1-preview draft: an object of requests
    if not keyed and not isinstance(items, list):
        raise Malformed("invalid fields: evaluations", {"evaluations": ["not a list"]})
    if len(items) > MAX_EVALUATIONS:
        raise Malformed(
            "invalid fields: evaluations",
            {"evaluations": [f"at most {MAX_EVALUATIONS} evaluations"]},
        )
    semantic = (top.get("options") or {}).get("evaluations_semantic", "execute_all")
    defaults = {k: body[k] for k in ("subject", "action", "resource", "context") if k in body}
    pairs = list(items.items()) if keyed else list(enumerate(items))
    loaded = []  # every evaluation is valid before any is decided
    for key, item in pairs:
        where = f"evaluations.{key}"
        if not isinstance(item, dict):
            raise Malformed(f"invalid fields: {where}", {where: ["not an object"]})
        loaded.append((key, _context(_load(EvaluationRequest, {**defaults, **item}, where), where)))
    builder, tally = targets(), {}  # type: TargetBuilder, dict
    answers = []
    with decisionlog.request():  # the evaluations' decisions: one queued log item
        for key, request_ in loaded:
            try:
                decision = _decide(request_, builder, tally, f"evaluations.{key}.resource")
                answer = _answer(decision)
            except DomainError as exc:
                if status_of(exc) >= 500:
                    raise
                # An error of one evaluation is its deny, with the error in its context.
                answer = {
                    "decision": False,
                    "context": {"error": {"status": status_of(exc), "message": exc.detail}},
                }
            answers.append((key, answer))
            stop = (semantic == "deny_on_first_deny" and not answer["decision"]) or (
                semantic == "permit_on_first_permit" and answer["decision"]
            )
            if stop:
                answer["context"].update({"code": "200", "reason": semantic})
                break
    count(tally)
    core.counted(builder.facts)
    if keyed:  # answered in the draft's own shape: the same keys, decisions only
        return {"evaluations": {str(k): {"decision": a["decision"]} for k, a in answers}}
    return {"evaluations": [a for _, a in answers]}


# ---------------------------------------------------------------- searches
def _page_of(loaded: dict) -> tuple:
    """(limit, the sort key to start after) of a search's ``page``. 400 naming it."""
    page = loaded.get("page") or {}
    token = page.get("token", page.get("next_token"))
    try:
        after = decode(token, "str")
    except DomainError as exc:
        field = "page.token" if "token" in page else "page.next_token"
        raise Malformed(
            f"invalid fields: {field}", {field: ["not a token this service gave"]}
        ) from exc
    return page.get("limit", PAGE_DEFAULT), after


def _results(results: list, page: dict) -> dict:
    after = page["next"]
    return {
        "results": results,
        "page": {"next_token": "" if after is None else encode(after), "count": len(results)},
    }


@bp.post("/access/v1/search/subject")
@doc(request=SubjectSearchRequest, response=SearchAnswer)
def search_subject() -> ResponseReturnValue:
    """AuthZEN Subject Search: the users who may do the action on the resource."""
    loaded = _load(SubjectSearchRequest, g.body)
    limit, after = _page_of(loaded)
    builder = targets()
    ref = _ref(builder, None, loaded["resource"], "resource")
    target = builder.target(ref) if ref["org"] else None
    if (
        builder.outside(target)
        or previews.is_management(ref)
        or loaded["subject"]["type"] != "user"
    ):
        target = None
    page = listing.list_actors(policy(), builder, loaded["action"]["name"], target, limit, after)
    return _results([{"type": "user", "id": item["id"]} for item in page["items"]], page)


@bp.post("/access/v1/search/resource")
@doc(request=ResourceSearchRequest, response=SearchAnswer)
def search_resource() -> ResponseReturnValue:
    """AuthZEN Resource Search: the registered resources of the type on which the subject
    may do the action, each with its organization in ``properties.org``."""
    loaded = _load(ResourceSearchRequest, g.body)
    limit, after = _page_of(loaded)
    builder, subject = targets(), loaded["subject"]
    resource = loaded["resource"]
    named = (resource.get("properties") or {}).get("org")
    if named is not None and not (isinstance(named, str) and named):
        raise Malformed(
            "invalid fields: resource.properties.org",
            {"resource.properties.org": ["an organization id"]},
        )
    org = named
    if org is None and subject["type"] == "user":
        orgs = _subject_orgs(builder, subject["id"])
        if len(orgs) > 1:
            raise Malformed(
                "the subject belongs to several organizations: name one",
                {"resource.properties.org": ["required: the subject belongs to more than one"]},
            )
        org = orgs[0] if orgs else None
    if (
        org is None
        or subject["type"] != "user"
        or (builder.scope is not None and org not in builder.scope)
    ):
        page: dict = {"items": [], "next": None}
    else:
        page = listing.list_resources(
            policy(),
            builder,
            subject["id"],
            loaded["action"]["name"],
            resource["type"],
            org,
            limit,
            after,
        )
        touch_last_active(subject["id"])
    results = [
        {"type": item["type"], "id": item["id"], "properties": {"org": item["org"]}}
        for item in page["items"]
    ]
    return _results(results, page)


@bp.post("/access/v1/search/action")
@doc(request=ActionSearchRequest, response=SearchAnswer)
def search_action() -> ResponseReturnValue:
    """AuthZEN Action Search: every action the policy allows the subject on the resource."""
    loaded = _context(_load(ActionSearchRequest, g.body))
    _page_of(loaded)  # one page holds every action: a token is checked, and there is no next
    builder, subject = targets(), loaded["subject"]
    if subject["type"] != "user":
        return _results([], {"next": None})
    ref = _ref(builder, subject["id"], loaded["resource"], "resource")
    snapshot = policy()
    with asking(loaded["context"]):  # the declared request context, as for an evaluation
        if previews.is_management(ref):
            actions = previews.allowed_actions(
                core.preview_context(decisions.call()), builder, subject["id"], ref
            )
        else:
            target = builder.target(ref, "resource.properties") if ref["org"] else None
            actions = allowed_actions(snapshot, builder, subject["id"], target)
    touch_last_active(subject["id"])
    core.counted(builder.facts)
    return _results([{"name": a} for a in actions], {"next": None})


# ---------------------------------------------------------------- metadata
@bp.get("/.well-known/authzen-configuration")
@doc(response=Metadata)
def configuration() -> ResponseReturnValue:
    """AuthZEN Policy Decision Point metadata (public)."""
    base = request.host_url.rstrip("/")  # as asked (behind a proxy: its forwarded host)
    body = {
        "policy_decision_point": base,
        "access_evaluation_endpoint": f"{base}/access/v1/evaluation",
        "access_evaluations_endpoint": f"{base}/access/v1/evaluations",
        "search_subject_endpoint": f"{base}/access/v1/search/subject",
        "search_resource_endpoint": f"{base}/access/v1/search/resource",
        "search_action_endpoint": f"{base}/access/v1/search/action",
    }
    response = current_app.json.response(body)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
