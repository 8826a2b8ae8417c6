"""The decision log's lines (ops/decisionlog.py writes them): one compact JSON object per
decision, formatted on the writer thread.

``line`` is the definition: a dict of the decision's fields encoded. ``Lines`` makes the
same text faster, for every item the writer takes (a decision recorded alone, or a
request's many): what the item's lines share (the time, the request context) is formatted
once, each line is its fields' JSON joined, and what a repeated question's lines share is
made once (``Fragments``: a known answer hands the writer the same Target object every time
it is asked, so its line is its id and time joined to the text kept for it).
"""

import datetime
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from authz.view import Target

_ENCODE = json.JSONEncoder(default=str, separators=(",", ":")).encode  # made once, not per line
_ASCII = json.encoder.encode_basestring_ascii  # what _ENCODE does with a str, minus its checks
_stamp: list = [None, ""]  # the last millisecond formatted, and its text (writer thread only)
_FIELDS = frozenset(
    ("decision_id", "time", "actor", "action", "resource", "allowed", "policy_version", "reason")
)


def resource_record(target: "Target | None") -> dict | None:
    """How a decision's resource is written, enough to resolve it again on replay."""
    if target is None:
        return None
    node = target.node
    record: dict[str, Any] = {
        "type": node.type,
        "id": node.id,
        "org": target.org.id,
        "style": target.org.style,
    }
    if len(target.chain) > 1 and target.chain[-2].type != "Organization":
        above = target.chain[-2]
        record["parent"] = {"type": above.type, "id": above.id}
    if node.owner is not None:
        record["owner"] = node.owner
    if node.attributes:
        record["attributes"] = node.attributes
    return record


def stamp(when: float) -> str:
    """``when`` as ISO 8601 to the millisecond; consecutive items share one formatting."""
    ms = int(when * 1000)
    if _stamp[0] != ms:
        _stamp[0] = ms
        _stamp[1] = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).isoformat(
            timespec="milliseconds"
        )
    return _stamp[1]


def line(
    decision: Any,
    actor_id: str,
    action: str,
    target: "Target | None",
    requested: dict | None,
    asked: dict | None,
    extra: dict | None,
    when: float,
) -> str:
    """The line of one decision (``decision``: an access.decisions.Decision; ops cannot
    import access, a layer below it)."""
    fields = {
        "decision_id": decision.decision_id,
        "time": stamp(when),
        "actor": actor_id,
        "action": action,
        "resource": resource_record(target) or requested,
        "allowed": decision.allowed,
        "policy_version": decision.policy_version,
        "reason": decision.reason,
    }
    if asked:  # the check's request context: a replay asks with it
        fields["context"] = asked
    if extra:
        fields.update(extra)
    return _ENCODE(fields)


def _json(value: Any) -> str:
    return _ASCII(value) if type(value) is str else _ENCODE(value)


class Fragments:
    """A writer's line fragments (from ``"actor"`` to ``"reason"``) of decisions on resolved
    resources, by what makes them: a repeated question (a known answer: the same Target
    object) is joined, not formatted. Each kept with its Target, so its id is not reused
    while here; cleared when full. Writer thread only."""

    MOST = 8192

    def __init__(self) -> None:
        self.texts: dict[tuple, tuple] = {}

    def text(self, target: "Target", actor_id: str, action: str, decision: Any) -> str:
        allowed, reason, version = decision.allowed, decision.reason, decision.policy_version
        key = (id(target), actor_id, action, allowed, reason, version)
        found = self.texts.get(key)
        if found is None or found[0] is not target:
            if len(self.texts) >= self.MOST:
                self.texts.clear()
            found = self.texts[key] = (
                target,
                _fragment(actor_id, action, _ENCODE(resource_record(target)), decision),
            )
        return found[1]


def _fragment(actor_id: str, action: str, resource: str, decision: Any) -> str:
    allowed = decision.allowed
    return "".join(
        (
            ',"actor":',
            _json(actor_id),
            ',"action":',
            _json(action),
            ',"resource":',
            resource,
            ',"allowed":',
            "true" if allowed is True else "false" if allowed is False else _json(allowed),
            ',"policy_version":',
            _json(decision.policy_version),
            ',"reason":',
            _json(decision.reason),
        )
    )


class Lines:
    """The lines of one queued item's decisions, the same text ``line`` makes, with what
    they share (the time, the request context) formatted once."""

    def __init__(self, extra: dict | None, when: float, fragments: Fragments | None = None):
        self.extra, self.when = extra, when
        self.fragments = Fragments() if fragments is None else fragments
        self.head = ',"time":' + _ASCII(stamp(when))
        self.tail: str | None = "}"
        if extra:  # a context naming a decision's own field replaces it in place: line()
            self.tail = None if _FIELDS & extra.keys() else "," + _ENCODE(extra)[1:]

    def line(
        self,
        decision: Any,
        actor_id: str,
        action: str,
        target: "Target | None",
        requested: dict | None,
        asked: dict | None = None,
    ) -> str:
        if self.tail is None or asked:
            return line(decision, actor_id, action, target, requested, asked, self.extra, self.when)
        if target is None:
            middle = _fragment(actor_id, action, _ENCODE(requested), decision)
        else:
            middle = self.fragments.text(target, actor_id, action, decision)
        return '{"decision_id":' + _json(decision.decision_id) + self.head + middle + self.tail

    def lines(self, records: list) -> list[str]:
        """``line`` of each record, in order (a request's many): the same text, with the
        lookup of a repeated question's fragment done here, not through two calls each."""
        head, tail, texts = self.head, self.tail, self.fragments.texts
        if tail is None:
            return [self.line(*one) for one in records]
        text, out = self.fragments.text, []
        for decision, actor_id, action, target, requested, asked in records:
            if asked or target is None:
                out.append(self.line(decision, actor_id, action, target, requested, asked))
                continue
            allowed, did = decision.allowed, decision.decision_id
            key = (id(target), actor_id, action, allowed, decision.reason, decision.policy_version)
            found = texts.get(key)
            if found is None or found[0] is not target:
                middle = text(target, actor_id, action, decision)
            else:
                middle = found[1]
            out.append(
                '{"decision_id":'
                + (_ASCII(did) if type(did) is str else _ENCODE(did))
                + head
                + middle
                + tail
            )
        return out
