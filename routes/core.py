"""The decision endpoints' one core: parse, decide, answer. No Flask in it: both transports
call it, the lean WSGI one (routes/fastpath.py) and the Flask routes (routes/decisions.py
for ``/v1/authorize*``, routes/authzen.py for AuthZEN's evaluations).

- **parse**: the body's freshness (``freshness``, ``facts_at``); the few fields of a check
  are checked by hand (``_check``): a body in the canonical form is taken without
  Marshmallow, anything else (a missing or mistyped field, an unknown one, a string
  bool...) is loaded by the Marshmallow schema, which names what is wrong in the same words
  (the schemas stay the API's definition, and the OpenAPI document's);
- **decide**: ``answer`` (known answers, ``access.decisions.decide``, previews of management
  actions), within the request's budget of policy queries;
- **answer**: JSON text written directly (ids, versions and tokens are plain ASCII), with the
  change position it was decided at (``consistency_token``); metrics counted once per
  request, whatever the batch size.

``single``, ``batch`` and ``actions`` take the body (its ``consistency`` already popped by
``freshness``) and a ``Call``, and answer the text or raise a refusal (``Invalid`` and
``Malformed``, Marshmallow's ``ValidationError``) for the transport to render.
"""

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from access import previews
from access.cache import CACHE, Facts, UnknownToken
from access.context import Context
from access.decisions import (
    Decision,
    allowed_actions,
    count,
    decide,
    decide_ref,
    known_many,
)
from access.errors import Invalid
from access.targets import TargetBuilder
from authz.engine import PolicySet, asking, evaluations
from authz.view import build_view
from models.generation import parse_token, token
from ops import decisionlog
from ops.activity import ACTIVITY
from ops.metrics import FACT_CACHE, TALLY
from routes.context import MAX_DEPTH, depth, load, too_deep
from routes.schemas import (
    CONSISTENCY_MODES,
    ActionsRequest,
    AuthorizeRequest,
    BatchRequest,
    JSONObject,
    ValidationError,
    context_errors,
    load_context,
)

Clock = Callable[[], Any]

# Set from the app's config by ``configure`` when it is built (the lean transport runs
# outside any app context): REQUIRE_RESOURCE_ORG; DECISION_BUDGET, the Polar queries a
# request's checks may run (memo hits run none; 0 is no limit); LAST_ACTIVE_FLUSH_SECONDS.
SETTINGS: dict[str, Any] = {"require_org": False, "budget": 2000, "flush": 60.0}


def configure(config: Any) -> None:
    """Take the decision endpoints' settings from the app's config."""
    SETTINGS["require_org"] = bool(config.get("REQUIRE_RESOURCE_ORG"))
    SETTINGS["budget"] = int(config.get("DECISION_BUDGET", 2000))
    SETTINGS["flush"] = float(config.get("LAST_ACTIVE_FLUSH_SECONDS", 60))


class Call:
    """What one decision request decides with: the policy version live for the request, its
    TargetBuilder (its facts, the calling key's scope) and the app's clock."""

    __slots__ = ("snapshot", "builder", "clock")

    def __init__(self, snapshot: PolicySet, builder: TargetBuilder, clock: Clock) -> None:
        self.snapshot = snapshot
        self.builder = builder
        self.clock = clock

    def mark(self, actors: Iterable[str]) -> None:
        """Record the actors as active (written in the background: ops/activity.py)."""
        ACTIVITY.mark_all(actors, self.clock, SETTINGS["flush"])


# ---------------------------------------------------------------- parse: freshness
def freshness(body: dict) -> tuple[str, int | None]:
    """(mode, position or None) the body's ``consistency`` asks for, popped from the body
    (the schemas never see it). Raises Invalid."""
    if "consistency" in body:
        return consistency(body.pop("consistency"))
    return "minimize_latency", None


def facts_at(mode: str, position: int | None) -> Facts:
    """The worker's facts as fresh as asked (access/cache.py). Raises Invalid for a token
    this service did not give."""
    try:
        return CACHE.view(mode, position)
    except UnknownToken as exc:
        raise Invalid(
            "the consistency token is not one this service gave",
            {"consistency.token": ["unknown"]},
        ) from exc


def consistency(value: Any) -> tuple[str, int | None]:
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


def loaded(schema_cls: type, body: dict) -> Any:
    """``body`` loaded with ``schema_cls`` (the Marshmallow way: the fallback of the lean
    checks, and the way of the list endpoints)."""
    if depth(body) > MAX_DEPTH:
        raise too_deep()
    return load(schema_cls, data=body)


# ---------------------------------------------------------------- parse: the lean checks
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_CHECK_KEYS = frozenset(("actor", "action", "resource", "explain", "context"))
_RESOURCE_KEYS = frozenset(("type", "id", "org", "parent", "owner", "attributes"))


def _text(value: Any, longest: int) -> bool:
    """A string the schema's ``Text`` with ``Length(1, longest)`` takes."""
    return (
        type(value) is str
        and 0 < len(value) <= longest
        and (value.isascii() and "\x00" not in value or _UNSTORABLE.search(value) is None)
    )


def _plain(value: Any, level: int) -> bool:
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


def _parent(parent: Any) -> bool:
    return (
        type(parent) is dict
        and len(parent) == 2
        and _text(parent.get("type"), 64)
        and _text(parent.get("id"), 200)
    )


def _resource(ref: Any, level: int = 3) -> dict | None:
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
    if parent is not None and not _parent(parent):
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


def _actor(actor: Any) -> bool:
    return type(actor) is dict and len(actor) == 1 and _text(actor.get("id"), 200)


def _check(check: Any, level: int = 1) -> dict | None:
    """One authorize body in its canonical form, loaded as ``AuthorizeRequest`` would load
    it, or None (then the schema decides, and names what is wrong). ``level``: how deep the
    check sits in the request body (a batch's checks: 3)."""
    if type(check) is not dict or not _CHECK_KEYS.issuperset(check):
        return None
    actor, action = check.get("actor"), check.get("action")
    if not _actor(actor) or not _text(action, 100):
        return None
    explain = check.get("explain", False)
    if explain is not True and explain is not False:
        return None
    resource = _resource(check.get("resource"), level + 2)
    if resource is None:
        return None
    context = check.get("context", {})
    if type(context) is not dict or (
        context and (not _plain(context, level + 1) or _too_large(context))
    ):
        return None
    return {
        "actor": actor,
        "action": action,
        "resource": resource,
        "explain": explain,
        "context": context,
    }


def checked_context(check: dict, call: Call, field: str = "context") -> dict:
    """The check's ``context`` loaded against the context attributes the live policy
    declares (routes/schemas/context.py), in place; a 422 naming ``<field>.<name>`` for
    one no style declares or of another kind."""
    try:
        check["context"] = load_context(call.snapshot.context_kinds, check.get("context") or {})
    except ValidationError as exc:
        errors = context_errors(exc, field)
        raise Invalid(f"invalid fields: {', '.join(sorted(errors))}", errors) from exc
    return check["context"]


# ---------------------------------------------------------------- decide
def _within_budget() -> None:
    """A 422 naming the limit once the request has run more than its budget of Polar
    queries (counted from the start of the request, ``authz.engine.begin_work``, so a batch
    the lean transport handed over counts its work there too): a batch stops there,
    whatever else it holds, so no request holds a thread for long."""
    limit = SETTINGS["budget"]
    if limit and evaluations() > limit:
        raise Invalid(
            f"the checks need more than {limit} policy evaluations, this service's limit "
            "per request (the setting DECISION_BUDGET): send fewer checks per batch",
            {"checks": [f"over the budget of {limit} policy evaluations (DECISION_BUDGET)"]},
        )


def org_named(resource: dict, field: str) -> None:
    """With REQUIRE_RESOURCE_ORG, a 422 naming ``<field>.org`` unless the resource names its
    organization (an Organization is its own)."""
    if SETTINGS["require_org"] and not resource.get("org") and resource["type"] != "Organization":
        raise Invalid(
            "this service requires the organization of every checked resource",
            {f"{field}.org": ["required: name the resource's organization"]},
        )


def answer(check: dict, call: Call, tally: dict | None = None, field: str = "resource") -> Decision:
    """The decision on one loaded check; without ``explain``, from the worker's known
    answers when this exact question was decided before on facts still valid
    (``decide_ref``). ``tally``: the request's decision counts (None: counted here).
    ``field``: where the check's resource sits in the body, named by a 422 (a resource
    several orgs registered, no org named)."""
    context = check.get("context")
    if context:  # the request context the policy reads: never a known answer (those lack it)
        with asking(context):
            return _answer(check, call, tally, field, bool(context))
    return _answer(check, call, tally, field, False)


def _answer(check: dict, call: Call, tally: dict | None, field: str, context: bool) -> Decision:
    builder, resource = call.builder, check["resource"]
    actor, action = check["actor"]["id"], check["action"]
    org_named(resource, field)
    management = previews.is_management(resource)
    if (check["explain"] or context) and not management:
        target = builder.target(resource, field)
        decision = decide(
            call.snapshot, builder, actor, action, target, explain=check["explain"], tally=tally
        )
        return _with_policy_reason(decision, call, actor, action, target)
    own = tally is None
    tally = {} if tally is None else tally
    if management:  # what the write would do, on the write's facts
        decision = previews.preview(
            preview_context(call),
            builder,
            actor,
            action,
            resource,
            explain=check["explain"],
            tally=tally,
        )
    else:
        decision = decide_ref(call.snapshot, builder, actor, action, resource, tally, field)
    if own:
        count(tally)
    return decision


def _with_policy_reason(
    decision: Decision, call: Call, actor: str, action: str, target: Any
) -> Decision:
    """An explained deny on a type whose rules read request context, with the policy's
    first ``reason(...)`` that holds (a missing or refused context attribute says so)."""
    expl = decision.explanation
    if decision.allowed or expl is None or target is None or call.builder.outside(target):
        return decision
    engine = call.snapshot.engines.get(target.org.style)
    if engine is None or not engine.context_attributes.get(target.node.type):
        return decision
    facts = call.builder.actor(actor, target)
    if not facts.known:
        return decision
    texts = engine.reasons(action, build_view(engine, actor, target.chain, facts))
    if not texts:
        return decision
    reason = f"{engine.style}: {texts[0]}"
    return decision._replace(reason=reason, explanation={**expl, "reason": reason})


def preview_context(call: Call) -> Context:
    """The domain context a preview runs in: the request's policy and the app's clock."""
    return Context(call.snapshot, call.clock)


def counted(facts: Facts) -> None:
    """Count where the request's facts came from (call once its facts are all read)."""
    TALLY.inc(_HIT if facts.loads == 0 else _MISS)


_HIT, _MISS = FACT_CACHE.labels("hit"), FACT_CACHE.labels("miss")


# ---------------------------------------------------------------- answer
def _answer_text(
    decision: Decision, explain: bool, consistency_token: str, tail: str | None = None
) -> str:
    """One answer's JSON; ``tail`` is ``_tail`` of its policy version and token when the
    caller made it once for many answers."""
    if explain:
        return json.dumps(decision.as_json(True, consistency_token), default=str)
    if tail is None:
        tail = _tail(decision.policy_version, consistency_token)
    return _OPEN[decision.allowed] + decision.decision_id + tail


_OPEN = {True: '{"allowed":true,"decision_id":"', False: '{"allowed":false,"decision_id":"'}


def _tail(version: str, consistency_token: str) -> str:
    return f'","policy_version":"{version}","consistency_token":"{consistency_token}"}}'


def single(body: dict, call: Call) -> str:
    """``POST /v1/authorize``: may the actor do the action on the resource?"""
    check = _check(body)
    if check is None:  # not in the canonical form: the schema loads it, or names what is wrong
        check = loaded(AuthorizeRequest, body)
    checked_context(check, call)
    decision = answer(check, call)
    call.mark((check["actor"]["id"],))
    facts = call.builder.facts
    counted(facts)
    return _answer_text(decision, check["explain"], token(facts.position))


def batch(body: dict, call: Call) -> str:
    """``POST /v1/authorize/batch``: up to 1000 checks, in order, against one policy."""
    checks = body.get("checks") if len(body) == 1 else None
    text = None
    if type(checks) is list and 0 < len(checks) <= 1000:
        text = _batch(checks, call)
    if text is None:  # a check not in the canonical form: the schema loads them all
        checks = loaded(BatchRequest, body)["checks"]
        for check in checks:  # a check's own consistency is checked (422), then the batch's
            value = check.pop("consistency", None)
            if value is not None:
                consistency(value)
        text = _batch(checks, call)
    if text is None:  # never an empty answer: the schema took what the lean check did not
        raise Invalid("a check of the batch is not in a form this service decides")
    return text


def _known(checks: list, call: Call) -> list | None:
    """Each check as (actor, action, known answer) when a worker's known answer fits its
    quick key, else as (loaded check, None, None); None when one is not in the canonical
    form. Nothing is decided before every check is known to be valid.

    The quick key of a check shaped exactly ``{"actor": {"id"}, "action", "resource":
    {"type", "id"[, "org"]}}`` is (version, action, org or None, type, id), its values
    unchecked: only a key to look a known answer up with (a known answer's strings were
    checked when it was decided; an unhashable one is no key)."""
    facts, version, builder = call.builder.facts, call.snapshot.version, call.builder
    answer, scoped = facts.answer, builder.scope is not None
    known: list = []
    add = known.append
    for index, check in enumerate(checks):
        if type(check) is dict and len(check) == 3:
            actor, resource = check.get("actor"), check.get("resource")
            if type(actor) is dict and type(resource) is dict and len(actor) == 1:
                size = len(resource)
                try:
                    if size == 2 or (size == 3 and "org" in resource):
                        org, kind, rid = resource.get("org"), resource["type"], resource["id"]
                        actor, action = actor["id"], check["action"]
                        found = answer(actor, (version, action, org, kind, rid))
                        # another org's answer: the key's scope decides it below
                        if found is not None and not (scoped and builder.outside(found[2])):
                            add((actor, action, found))
                            continue
                except (KeyError, TypeError):  # not the canonical form, or unhashable
                    pass
        loaded = _check(check, 3)
        if loaded is None:
            return None
        checked_context(loaded, call, f"checks.{index}.context")
        add((loaded, None, None))
    return known


def _batch(checks: list, call: Call) -> str | None:
    valid = _known(checks, call)
    if valid is None:
        return None
    tally: dict = {}
    decided: list[Decision] = []
    plain, version = True, call.snapshot.version  # plain: each answer is _OPEN + id + tail
    with decisionlog.request():  # the batch's decisions: one queued log item, one time
        start = 0  # the known answers from here are made together (known_many), in order
        for index, (check, _, found) in enumerate(valid):
            if found is not None:
                continue
            if start < index:
                decided += known_many(version, valid[start:index], tally)
            start = index + 1
            decision = answer(check, call, tally, f"checks.{index}.resource")
            decided.append(decision)
            plain = plain and not check["explain"] and decision.policy_version == version
            _within_budget()
        if start < len(valid):  # a known answer asks no policy query: within the budget
            decided += known_many(version, valid[start:] if start else valid, tally)
    # After deciding: a replica behind the cache lowers the position at the batch's first read.
    facts = call.builder.facts
    position = token(facts.position)
    count(tally)
    counted(facts)
    call.mark({c["actor"]["id"] if f is None else c for c, _, f in valid})
    tail = _tail(version, position)
    if plain:  # every answer the same but for allowed and its id: joined, not formatted
        results = (tail + ",").join([_OPEN[d.allowed] + d.decision_id for d in decided]) + tail
    else:
        results = _results(decided, valid, tail, version, position)
    return f'{{"results":[{results}],"consistency_token":"{position}"}}'


def _results(decided: list, valid: list, tail: str, version: str, position: str) -> str:
    """The batch's answers, comma-joined: ``_answer_text`` of each, with what they share
    (the policy version, the token) written once."""
    return ",".join(
        _answer_text(
            decision,
            found is None and check["explain"],
            position,
            tail if decision.policy_version == version else None,
        )
        for decision, (check, _, found) in zip(decided, valid, strict=True)
    )


def actions(body: dict, call: Call) -> str:
    """``POST /v1/authorize/actions``: every action the policy allows the actor on the
    resource."""
    actor_ref: Any = body.get("actor")
    resource = _resource(body.get("resource")) if len(body) == 2 else None
    context: dict = {}
    if resource is None or not _actor(actor_ref):
        body = loaded(ActionsRequest, body)
        actor_ref, resource = body["actor"], body["resource"]
        context = checked_context(body, call)
    org_named(resource, "resource")
    actor, builder = actor_ref["id"], call.builder
    with decisionlog.request(), asking(context):  # each action asked: one queued log item
        if previews.is_management(resource):
            found = previews.allowed_actions(preview_context(call), builder, actor, resource)
        else:
            found = allowed_actions(call.snapshot, builder, actor, builder.target(resource))
    call.mark((actor,))
    counted(builder.facts)
    return json.dumps(
        {
            "actions": found,
            "policy_version": call.snapshot.version,
            "consistency_token": token(builder.facts.position),
        }
    )


DECIDE: dict[str, Callable[[dict, Call], str]] = {
    "single": single,
    "batch": batch,
    "actions": actions,
}
