"""A request's decisions reach the decision log as one queued item (issue 24): one time and
one request context for all of them, the writer woken once, and still one line per decision,
the same text as a decision recorded alone."""

import gc
import json
import time
import types
import uuid
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from authz.view import Node, OrgRef, Target
from ops import decisionlines, decisionlog
from routes.context import decision_context

DATASET = {"type": "Dataset", "id": "pix4d-bridge-scan"}
ORG_PIX4D = {"type": "Organization", "id": "org-pix4d"}
ORG = OrgRef("org-x", "pix4d")
TARGETS = [
    None,
    Target(ORG, (Node("Organization", "org-x"),)),
    Target(ORG, (Node("Organization", "org-x"), Node("Folder", "f", 1), Node("Dataset", "d", 2))),
    Target(
        ORG, (Node("Organization", "org-x"), Node("Dataset", "é", 3, "o", {"k": [1, "\u2603"]}))
    ),
    Target(ORG, (Node("Organization", "org-x"), Node("Dataset", "e", 4))),
]


def decision(allowed=False, reason="test"):
    return types.SimpleNamespace(
        decision_id=uuid.uuid4().hex, allowed=allowed, policy_version="v", reason=reason
    )


def dropped_total() -> float:
    return REGISTRY.get_sample_value("orgauthz_decision_log_dropped_total") or 0.0


class Name(str):
    """A str subclass, as an API key's name is (models.keys.KeyName)."""


EXTRAS = [
    None,
    {},
    {"api_key": "k", "request_id": "r"},
    {"api_key": Name("k\u2603\n"), "request_id": "r"},
    {"api_key": None},
    {"reason": "theirs"},
    {"api_key": "k", "n": 1.5, "when": object()},
    {1: "one", "api_key": "k"},
]


@pytest.mark.parametrize("extra", EXTRAS)
def test_a_request_s_lines_are_the_lines_of_its_decisions_alone(extra):
    when = time.time()
    lines = decisionlines.Lines(extra, when)
    fragments = decisionlines.Fragments()
    records, made_each = [], []
    for allowed in (True, False, None):
        for reason in ("ok", None, 'é"\n\t\u2603'):
            for requested in (None, {"type": "X", "id": "y", "n": 1.5, "o": object()}):
                for asked in (None, {"ip": "203.0.113.7"}):
                    for target in TARGETS * 2:  # the second time, the resource's text is kept
                        record = (
                            decision(allowed, reason),
                            "actor\u2603",
                            "view",
                            target,
                            requested,
                        )
                        made = decisionlines.line(*record, asked, extra, when)
                        assert lines.line(*record, asked) == made
                        # recorded alone (a single check): the same text
                        alone = decisionlines.alone(fragments, (*record, asked, extra, when))
                        assert alone == made
                        assert ('"context":' in made) == bool(asked)
                        records.append((*record, asked))
                        made_each.append(made)
    # a request's many at once: the same lines, with fragments kept or not
    assert lines.lines(records) == made_each
    assert decisionlines.Lines(extra, when).lines(records) == made_each


def test_a_repeated_question_s_text_is_kept_by_what_makes_it_and_bounded(monkeypatch):
    monkeypatch.setattr(decisionlines.Fragments, "MOST", 3)
    fragments = decisionlines.Fragments()
    one, two, three, four = TARGETS[1:]
    yes, no = decision(True, "ok"), decision(False, "no")
    asked = [(one, "a", "view", yes), (two, "a", "view", yes), (one, "b", "view", yes)]
    asked += [(one, "a", "edit", yes), (one, "a", "view", no), (three, "a", "view", yes)]
    asked += [(four, "a", "view", yes), (Target(ORG, one.chain), "a", "view", yes)]
    for target, actor, action, made in asked * 2:
        text = fragments.text(target, actor, action, made)
        fields = json.loads('{"decision_id":""' + text + "}")
        assert (fields["actor"], fields["action"], fields["allowed"]) == (
            actor,
            action,
            made.allowed,
        )
        assert fields["resource"] == decisionlines.resource_record(target)
        assert fields["reason"] == made.reason
        assert len(fragments.texts) <= 3


ANSWERS = [  # known answers as the worker keeps them: (allowed, reason, target, style)
    (True, "ok", TARGETS[1], "pix4d"),
    (False, 'é"\n\t\u2603', TARGETS[2], None),
    (None, None, TARGETS[3], "pix4d"),
    (True, "ok", TARGETS[4], None),
]
ANSWERS.append(tuple(ANSWERS[0]))  # equal to the first, another object


def known_run(version: str, context: dict | None = None, times: int = 2) -> decisionlines.Known:
    """A run of known answers as access.decisions.known_many keeps it: the same answer
    objects (each run) asked by several actors for two actions (once each: by one)."""
    asked = []
    for n, found in enumerate(ANSWERS * times):
        asked += [f"actor{n % 3}\u2603", ("view", "edit")[n % 2], found]
    ids = [uuid.uuid4().hex for _ in range(len(asked) // 3)]
    return decisionlines.Known(ids, asked, context, version)


@pytest.mark.parametrize("context", [None, {"ip": "203.0.113.7"}])
@pytest.mark.parametrize("extra", EXTRAS)
def test_a_run_of_known_answers_logs_the_lines_of_its_decisions_alone(extra, context):
    """A batch's known answers go to the writer as one ``Known`` record (no tuple per
    decision): their lines are the ones ``line`` makes of each, in order among the
    request's other records, whether each answer's fragment is kept or made, whatever
    asked it (another actor, action or policy version: not the kept text)."""
    when = time.time()
    fragments = decisionlines.Fragments()
    first, second = known_run("v1", context), known_run("v2", context)
    alone = (decision(True, "ok"), "other", "view", TARGETS[2], None, None)
    records = [first, alone, second, first, known_run("v1", context, 1)]
    records.append(known_run("v2", context, 1))  # the same questions, another policy
    expected = [decisionlines.line(*one, extra, when) for one in decisionlines.each(records)]
    ids = [i for run in records for i in (run.ids if run is not alone else [alone[0].decision_id])]
    assert [json.loads(text)["decision_id"] for text in expected] == ids
    assert [json.loads(text)["policy_version"] for text in expected[-10:]] == ["v1"] * 5 + [
        "v2"
    ] * 5
    for _ in range(2):  # made, then kept
        assert decisionlines.Lines(extra, when, fragments).lines(records) == expected


def test_an_answer_gone_is_not_taken_for_another_made_where_it_was():
    """The writer keeps a known answer's text by the answer's identity, with the answer: a
    new answer at the address of one the worker dropped (as CPython reuses memory) gets its
    own text, not the one kept for the old."""
    fragments = decisionlines.Fragments()
    lines = decisionlines.Lines(None, time.time(), fragments)
    gone, new = (True, "ok", TARGETS[1], None), (False, "no", TARGETS[2], None)
    fragments.answers[id(new)] = (gone, "actor", "view", "v", ',"actor":"not this one"')
    run = decisionlines.Known(["id"], ["actor", "view", new], None, "v")
    made = types.SimpleNamespace(decision_id="id", allowed=False, policy_version="v", reason="no")
    expected = decisionlines.line(made, "actor", "view", TARGETS[2], None, None, None, lines.when)
    assert lines.lines([run]) == [expected]
    assert fragments.answers[id(new)][0] is new


def test_one_answer_asked_by_two_actors_or_for_two_actions_logs_each_as_asked():
    fragments = decisionlines.Fragments()
    lines = decisionlines.Lines(None, time.time(), fragments)
    found = ANSWERS[0]
    asked = ["a", "view", found, "b", "view", found, "b", "edit", found, "b", "edit", found]
    run = decisionlines.Known(["1", "2", "3", "4"], asked, None, "v")
    logged = [json.loads(text) for text in lines.lines([run])]
    assert [(one["actor"], one["action"]) for one in logged] == [
        ("a", "view"),
        ("b", "view"),
        ("b", "edit"),
        ("b", "edit"),
    ]
    assert logged[0]["resource"] == decisionlines.resource_record(found[2])


def test_a_known_answer_s_fragment_is_kept_with_the_answer_and_bounded(monkeypatch):
    monkeypatch.setattr(decisionlines.Fragments, "MOST", 3)
    fragments = decisionlines.Fragments()
    lines = decisionlines.Lines(None, time.time(), fragments)
    run = known_run("v")
    expected = [decisionlines.line(*one, None, lines.when) for one in run.records()]
    for _ in range(3):
        assert lines.lines([run]) == expected
        assert 0 < len(fragments.answers) <= 3


def test_a_batch_of_known_answers_leaves_the_writer_no_object_per_check_to_collect(
    api, demo, tmp_path, monkeypatch
):
    """What waits for the writer is what the collector walks every time it runs: a batch's
    known answers leave it their ids and a list of what the worker already holds, not a
    tracked tuple per check (which made a worker collect its whole heap every few hundred
    batches)."""
    path = tmp_path / "decisions.log"
    decisionlog.install(str(path), 1.0, decision_context)
    try:
        writer = decisionlog._sink[0]
        queued: list = []
        monkeypatch.setattr(writer, "put", queued.append)
        pairs = [("pix4d-reader", "view"), ("pix4d-member", "upload"), ("pix4d-owner", "delete")]
        checks = [{"actor": {"id": a}, "action": b, "resource": DATASET} for a, b in pairs] * 34
        body = {"checks": checks}
        assert api.post("/v1/authorize/batch", body).status_code == 200  # decided: known
        held = gc.get_objects()  # alive until the end: their ids are not reused meanwhile
        before = {id(one) for one in held}
        response = api.post("/v1/authorize/batch", body)
        assert response.status_code == 200
        assert len(response.get_json()["results"]) == len(checks) == queued[-1].n
        made, todo = set(), [queued[-1]]
        while todo:  # the tracked objects the batch made that its queued item holds
            for one in gc.get_referents(todo.pop()):
                if gc.is_tracked(one) and id(one) not in before and id(one) not in made:
                    made.add(id(one))
                    todo.append(one)
        assert len(made) < 10, f"{len(made)} tracked objects wait for the writer"
        del held
    finally:
        decisionlog.close(str(path))


def test_a_batch_is_one_queued_item_and_one_line_per_check(api, tmp_path, monkeypatch):
    path = tmp_path / "decisions.log"
    decisionlog.install(str(path), 1.0, decision_context)
    try:
        writer = decisionlog._sink[0]
        queued = []
        put = writer.put
        monkeypatch.setattr(writer, "put", lambda item: (queued.append(item), put(item)))
        actions = ["view", "upload", "delete", "view", "share"]
        checks = [
            {"actor": {"id": "pix4d-reader"}, "action": a, "resource": DATASET} for a in actions
        ]
        response = api.post("/v1/authorize/batch", {"checks": checks})
        assert response.status_code == 200, response.get_json()
        ids = [r["decision_id"] for r in response.get_json()["results"]]
        assert len(queued) == 1 and queued[0].n == len(checks)
        writer.flush()
        lines = [json.loads(t) for t in path.read_text().splitlines()]
        assert [line["decision_id"] for line in lines] == ids
        assert [line["action"] for line in lines] == actions
        assert len({line["time"] for line in lines}) == 1
        assert len({line["request_id"] for line in lines}) == 1
        assert lines[0]["request_id"] and "api_key" in lines[0]
    finally:
        decisionlog.close(str(path))


def test_a_batch_logs_the_lines_its_checks_log_alone(api, app, demo):
    """Decided or known answers, alone or in a batch: the same line but for the ids and
    the time (a known answer's resource text is kept by the writer)."""
    checks = [
        {"actor": {"id": "pix4d-member"}, "action": "view", "resource": DATASET},
        {"actor": {"id": "pix4d-member"}, "action": "upload", "resource": DATASET},
        {"actor": {"id": "pix4d-owner"}, "action": "edit_billing", "resource": ORG_PIX4D},
        {"actor": {"id": "ghost"}, "action": "view", "resource": ORG_PIX4D},
        {
            "actor": {"id": "pix4d-reader"},
            "action": "view",
            "resource": {"type": "Dataset", "id": "no"},
        },
        {
            "actor": {"id": "pix4d-reader"},
            "action": "use",
            "resource": {"type": "License", "id": "l", "org": "org-pix4d", "attributes": {"k": 1}},
        },
    ]
    path = Path(app.config["DECISION_LOG"])

    def logged(send) -> list:
        decisionlog.flush()
        start = len(path.read_text().splitlines()) if path.exists() else 0
        send()
        decisionlog.flush()
        lines = [json.loads(t) for t in path.read_text().splitlines()[start:]]
        for line in lines:
            for field in ("decision_id", "time", "request_id"):
                assert line.pop(field)
        return lines

    for _ in range(2):  # decided, then from the worker's known answers
        alone = logged(lambda: [api.post("/v1/authorize", check) for check in checks])
        assert len(alone) == len(checks)
        batch = logged(lambda: api.post("/v1/authorize/batch", {"checks": checks}))
        assert batch == alone


@pytest.fixture
def short_queue(tmp_path):
    """A decision log whose queue holds 10 records: (its path, its writer), closed after."""
    path = tmp_path / "decisions.log"
    decisionlog.install(str(path), 1.0, None, max_queue=10)
    try:
        yield path, decisionlog._sink[0]
    finally:
        decisionlog.close(str(path))


def test_a_request_that_does_not_fit_is_dropped_whole_and_counted(short_queue):
    path, writer = short_queue
    before = dropped_total()
    held = [decision() for _ in range(11)]
    with decisionlog.request():
        for one in held:
            decisionlog.record(one, "a", "view", None, {"type": "X"})
    assert dropped_total() - before == 11 and writer.dropped == 11
    kept = [decision() for _ in range(10)]
    with decisionlog.request():
        for one in kept:
            decisionlog.record(one, "a", "view", None, {"type": "X"})
    writer.flush()
    seen = [json.loads(t)["decision_id"] for t in path.read_text().splitlines()]
    assert seen == [one.decision_id for one in kept]


def test_a_run_of_known_answers_counts_as_its_decisions_against_the_queue(short_queue):
    path, writer = short_queue
    before = dropped_total()
    run = known_run("v")  # 10 decisions
    with decisionlog.request():
        decisionlog.kept()[0].append(run)
        decisionlog.record(decision(), "a", "view", None, {"type": "X"})
    assert dropped_total() - before == 11 and writer.dropped == 11
    for _ in range(2):  # written, the queue empty again: the next run fits too
        with decisionlog.request():
            decisionlog.kept()[0].append(run)
        writer.flush()
    seen = [json.loads(t)["decision_id"] for t in path.read_text().splitlines()]
    assert seen == run.ids * 2 and writer.dropped == 11


@pytest.fixture
def context_log(tmp_path):
    """A decision log with a request context: (its path, its writer), closed after."""
    path = tmp_path / "decisions.log"
    decisionlog.install(str(path), 1.0, lambda: {"api_key": "k", "request_id": "r"})
    try:
        yield path, decisionlog._sink[0]
    finally:
        decisionlog.close(str(path))


def circular() -> dict:
    """A resource the encoder refuses."""
    resource: dict = {"type": "X"}
    resource["self"] = resource
    return resource


def test_what_cannot_be_formatted_in_a_request_is_dropped_and_counted_alone(context_log):
    """A request's item with a run of known answers, a record the encoder refuses (a
    circular resource) and a run that cannot be read: the first and the records after them
    are written, the others dropped and counted, and the writer goes on."""
    path, writer = context_log
    before = dropped_total()
    run, broken, last = (
        known_run("v"),
        decisionlines.Known(["x", "y"], ["a", "view"], None, "v"),
        decision(),
    )
    with decisionlog.request():
        records = decisionlog.kept()[0]
        records.append(run)
        decisionlog.record(decision(), "a", "view", None, circular())
        records.append(broken)
        decisionlog.record(last, "a", "view", None, {"type": "X"})
    writer.flush()
    seen = [json.loads(t)["decision_id"] for t in path.read_text().splitlines()]
    assert seen == run.ids + [last.decision_id]
    assert dropped_total() - before == 3 and writer.dropped == 3 and writer.is_alive()


def test_what_was_decided_before_an_error_is_logged(tmp_path):
    path = tmp_path / "decisions.log"
    decisionlog.install(str(path), 1.0, None)
    try:
        first = decision()
        with pytest.raises(RuntimeError), decisionlog.request():
            decisionlog.record(first, "a", "view", None, {"type": "X"})
            with decisionlog.request():  # nested: the outer block hands it over
                decisionlog.record(decision(), "a", "view", None, {"type": "X"})
            raise RuntimeError("while deciding the next check")
        decisionlog._sink[0].flush()
        lines = path.read_text().splitlines()
        assert len(lines) == 2 and json.loads(lines[0])["decision_id"] == first.decision_id
        assert decisionlog._local.records is None
    finally:
        decisionlog.close(str(path))


def test_a_record_alone_that_cannot_be_formatted_is_dropped_and_counted(context_log):
    """A single check's line is made without a request's ``Lines``: one whose fields the
    encoder refuses (a circular resource) is dropped and counted, and the records queued
    around it are written."""
    path, writer = context_log
    before = dropped_total()
    first, bad, last = decision(), decision(), decision()
    decisionlog.record(first, "a", "view", TARGETS[2])
    decisionlog.record(bad, "a", "view", None, circular())
    decisionlog.record(last, "a", "view", None, {"type": "X"})
    writer.flush()
    lines = [json.loads(t) for t in path.read_text().splitlines()]
    assert [line["decision_id"] for line in lines] == [first.decision_id, last.decision_id]
    assert lines[0]["api_key"] == "k" and lines[0]["resource"]["org"] == "org-x"
    assert dropped_total() - before == 1 and writer.dropped == 1
