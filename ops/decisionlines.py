"""The decision log's lines (ops/decisionlog.py writes them): one compact JSON object per
decision, formatted on the writer thread.

``line`` is the definition: a dict of the decision's fields encoded. ``Lines`` makes the
same text faster: ``alone`` for a decision recorded alone (a single check), ``Lines`` for a
request's many, whose lines share the time and the request context, formatted once. Each
line is its fields' JSON joined, and what a repeated question's lines share is made once
(``Fragments``: a known answer hands the writer the same Target object every time it is
asked, so its line is its id, time and request context joined to the text kept for it). A
batch's known answers come as one ``Known`` run, their text kept per answer object.
"""

import datetime
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from authz.view import Target

_ENCODE = json.JSONEncoder(default=str, separators=(",", ":")).encode  # made once, not per line
_ASCII = json.encoder.encode_basestring_ascii  # what _ENCODE does with a str, minus its checks
_stamp: list = [None, "", ""]  # the last millisecond formatted, its text, its time field
# (writer thread only)
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
        text = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).isoformat(
            timespec="milliseconds"
        )
        _stamp[0], _stamp[1], _stamp[2] = ms, text, ',"time":' + _ASCII(text)
    return _stamp[1]


def time_field(when: float) -> str:
    """``,"time":"<stamp>"``, the text of a line's time field (made once a millisecond)."""
    if _stamp[0] != int(when * 1000):
        stamp(when)
    return _stamp[2]


def extra_tail(extra: dict | None) -> str | None:
    """A line's end from the request context's first field: ``line``'s text of them and the
    closing brace; None when the context names a decision's own field (``line`` then
    replaces that field in place). Strings and None are written here, anything else by the
    encoder."""
    if not extra:
        return "}"
    parts = [""]
    for key, value in extra.items():
        if key in _FIELDS:
            return None
        text = _ASCII(value) if isinstance(value, str) else "null" if value is None else None
        if text is None or type(key) is not str:
            return "," + _ENCODE(extra)[1:]
        parts.append(_ASCII(key) + ":" + text)
    return ",".join(parts) + "}"


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


def alone(fragments: "Fragments", record: tuple) -> str:
    """``line`` of a decision recorded alone, the record as ``decisionlog.record`` queues it
    (decision, actor, action, target, requested, asked, extra, time): the same text, without
    the ``Lines`` a request's many share (building one per single check cost more than its
    line)."""
    return _made(fragments, time_field(record[7]), extra_tail(record[6]), *record)


def _made(
    fragments: "Fragments",
    head: str,
    tail: str | None,
    decision: Any,
    actor_id: str,
    action: str,
    target: "Target | None",
    requested: dict | None,
    asked: dict | None,
    extra: dict | None,
    when: float,
) -> str:
    """``line``'s text from the parts lines share: ``head``, the time field, and ``tail``,
    ``extra_tail``; by ``line`` itself when the tail is not shared or the check brought its
    own context."""
    if tail is None or asked:
        return line(decision, actor_id, action, target, requested, asked, extra, when)
    if target is None:
        middle = _fragment(actor_id, action, _ENCODE(requested), decision)
    else:
        middle = fragments.text(target, actor_id, action, decision)
    return '{"decision_id":' + _json(decision.decision_id) + head + middle + tail


class Fragments:
    """A writer's line fragments (from ``"actor"`` to ``"reason"``) of decisions on resolved
    resources, by what makes them: a repeated question (a known answer: the same Target
    object) is joined, not formatted. Each kept with its Target, so its id is not reused
    while here; cleared when full. ``answers``: the same text by the known answer that a
    ``Known`` run repeats (the answer kept too, and checked with who asked what, under
    which policy). Writer thread only."""

    MOST = 8192

    def __init__(self) -> None:
        self.texts: dict[tuple, tuple] = {}
        # a known answer's: id(answer) -> (answer, actor, action, version, fragment)
        self.answers: dict[int, tuple] = {}

    def keep_answer(self, found: tuple, actor_id: str, action: str, version: str) -> tuple:
        """Make and keep the entry of a known answer ``found`` (allowed, reason, target,
        style) asked by ``actor_id`` for ``action`` under policy ``version`` (``Lines.known``
        checks a kept one)."""
        if len(self.answers) >= self.MOST:
            self.answers.clear()
        decided = _Decided(found[0], "", version, found[1])
        text = self.text(found[2], actor_id, action, decided)
        entry = self.answers[id(found)] = (found, actor_id, action, version, text)
        return entry

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


class Known:
    """A run of a request's known answers, kept for the log as one record: their decision
    ids, the policy version, and ``asked``, their (actor, action, answer) flattened into one
    list, ``[actor, action, answer, actor, ...]``, of objects that exist anyway. None of it
    waits for the writer as a tuple per decision: such tuples are what the collector tracks
    and moves up its generations (a batch's 100 made it collect every few batches, and the
    whole heap, the worker's facts, every few hundred)."""

    __slots__ = ("ids", "asked", "context", "version")

    def __init__(self, ids: list, asked: list, context: dict | None, version: str):
        self.ids, self.asked, self.context, self.version = ids, asked, context, version

    def records(self) -> list[tuple]:
        """(decision, actor, action, target, requested, asked) of each, as ``record``'s."""
        flat, context, version = iter(self.asked), self.context, self.version
        return [
            (_Decided(found[0], did, version, found[1]), actor_id, action, found[2], None, context)
            for did, actor_id, action, found in zip(self.ids, flat, flat, flat, strict=True)
        ]


class _Decided(NamedTuple):
    """What a line reads of a known answer's decision."""

    allowed: Any
    decision_id: str
    policy_version: str
    reason: str | None


def each(records: list) -> Iterator[tuple]:
    """A request's records, a ``Known`` run's one by one."""
    for record in records:
        if type(record) is Known:
            yield from record.records()
        else:
            yield record


class Lines:
    """The lines of one queued item's decisions, the same text ``line`` makes, with what
    they share (the time, the request context) formatted once."""

    def __init__(self, extra: dict | None, when: float, fragments: Fragments | None = None):
        self.extra, self.when = extra, when
        self.fragments = Fragments() if fragments is None else fragments
        self.head = time_field(when)
        self.tail = extra_tail(extra)  # None: the context names a decision's field (line())

    def line(
        self,
        decision: Any,
        actor_id: str,
        action: str,
        target: "Target | None",
        requested: dict | None,
        asked: dict | None = None,
    ) -> str:
        return _made(
            self.fragments,
            self.head,
            self.tail,
            decision,
            actor_id,
            action,
            target,
            requested,
            asked,
            self.extra,
            self.when,
        )

    def known(self, run: Known) -> list[str]:
        """``line`` of each decision of a ``Known`` run: its id joined to the fragment kept
        with the answer it repeats."""
        head, tail = self.head, self.tail
        if tail is None or run.context:
            return [self.line(*one) for one in run.records()]
        answers, keep, version = self.fragments.answers, self.fragments.keep_answer, run.version
        out, flat = [], iter(run.asked)
        for did, actor_id, action, found in zip(run.ids, flat, flat, flat, strict=True):
            entry = answers.get(id(found))
            if (
                entry is None
                or entry[0] is not found
                or entry[1] != actor_id
                or entry[2] != action
                or entry[3] != version
            ):
                entry = keep(found, actor_id, action, version)
            out.append(f'{{"decision_id":{_ASCII(did)}{head}{entry[4]}{tail}')
        return out

    def lines(self, records: list) -> list[str]:
        """``line`` of each record, in order (a request's many): the same text, with the
        lookup of a repeated question's fragment done here, not through two calls each."""
        head, tail, texts = self.head, self.tail, self.fragments.texts
        if tail is None:
            return [self.line(*one) for one in each(records)]
        text, out = self.fragments.text, []
        for record in records:
            if type(record) is Known:
                out += self.known(record)
                continue
            decision, actor_id, action, target, requested, asked = record
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
