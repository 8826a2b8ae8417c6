"""A batch answers, and logs, the very text its checks get alone: its answers are the single
answers' JSON joined, and its decision-log lines are the single checks' lines byte for byte
(but for the decision ids, the time and the request id), decided or known, in order."""

import json
import re
from pathlib import Path

import pytest

from models import User, db
from ops import decisionlog

DATASET = {"type": "Dataset", "id": "pix4d-bridge-scan"}
ORG_PIX4D = {"type": "Organization", "id": "org-pix4d"}
CHECKS = [
    {"actor": {"id": "pix4d-member"}, "action": "view", "resource": DATASET},
    {"actor": {"id": "pix4d-member"}, "action": "upload", "resource": DATASET},
    {"actor": {"id": "pix4d-owner"}, "action": "edit_billing", "resource": ORG_PIX4D},
    {"actor": {"id": "pix4d-owner"}, "action": "edit_billing", "resource": ORG_PIX4D},
    {"actor": {"id": "ghost"}, "action": "view", "resource": ORG_PIX4D},
    {
        "actor": {"id": "pix4d-member"},
        "action": "view",
        "resource": {**DATASET, "org": "org-pix4d"},
    },
    {
        "actor": {"id": "pix4d-reader"},
        "action": "view",
        "resource": {"type": "Dataset", "id": "no"},
    },
    {"actor": {"id": "pix4d-member"}, "action": "upload", "resource": DATASET, "explain": True},
    {"actor": {"id": "pix4d-member"}, "action": "nope", "resource": DATASET},
    {
        "actor": {"id": "pix4d-reader"},
        "action": "use",
        "resource": {"type": "License", "id": "l", "org": "org-pix4d", "attributes": {"k": 1}},
    },
    {"actor": {"id": "pix4d-reader"}, "action": "view", "resource": DATASET},
]
_ID = re.compile(r'("decision_id": ?)"[0-9a-f]{32}"')  # an explained answer: json.dumps' spaces


def _text(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)
    return _ID.sub(r'\1"-"', response.get_data(as_text=True))


@pytest.mark.parametrize("explained", [True, False])
def test_a_batch_answers_its_checks_answers_joined(api, demo, explained):
    checks = [c for c in CHECKS if explained or not c.get("explain")]
    for _ in range(2):  # decided, then from the worker's known answers
        alone = [_text(api.post("/v1/authorize", check)) for check in checks]
        token = json.loads(alone[0])["consistency_token"]
        batch = api.post("/v1/authorize/batch", {"checks": checks})
        assert _text(batch) == (
            '{"results":[' + ",".join(alone) + f'],"consistency_token":"{token}"}}'
        )
        ids = [r["decision_id"] for r in batch.get_json()["results"]]
        assert len(set(ids)) == len(ids) and all(re.fullmatch("[0-9a-f]{32}", i) for i in ids)


def test_a_batch_logs_its_checks_lines_byte_for_byte(api, app, demo):
    path = Path(app.config["DECISION_LOG"])
    varying = re.compile(r'"(decision_id|time|request_id)":"[^"]*"')

    def logged(send) -> list:
        decisionlog.flush()
        start = len(path.read_text().splitlines()) if path.exists() else 0
        send()
        decisionlog.flush()
        lines = path.read_text().splitlines()[start:]
        for line in lines:
            assert len(varying.findall(line)) == 3, line
        return [varying.sub(r'"\1":"-"', line) for line in lines]

    for _ in range(2):  # decided, then from the worker's known answers
        alone = logged(lambda: [api.post("/v1/authorize", check) for check in CHECKS])
        assert len(alone) == len(CHECKS)
        batch = logged(lambda: api.post("/v1/authorize/batch", {"checks": CHECKS}))
        assert batch == alone
    mixed = CHECKS[::-1] + [  # known answers between decided ones, one decided now
        {"actor": {"id": "pix4d-owner"}, "action": "view", "resource": DATASET}
    ]
    alone = logged(lambda: [api.post("/v1/authorize", check) for check in mixed])
    batch = logged(lambda: api.post("/v1/authorize/batch", {"checks": mixed}))
    assert batch == alone


def test_a_batch_marks_each_of_its_actors_active(api, demo, clock):
    """Each actor of a batch, of a decided or a known answer, is marked active (once)."""
    from routes.context import forget_last_active

    assert api.post("/v1/authorize/batch", {"checks": CHECKS}).status_code == 200
    for _ in range(2):  # then every answer of pix4d-owner is a known one
        clock.advance(minutes=5)
        forget_last_active()
        assert api.post("/v1/authorize/batch", {"checks": CHECKS}).status_code == 200
        with db.connection_context():
            for actor in ("pix4d-member", "pix4d-owner", "pix4d-reader"):
                assert User.get_by_id(actor).last_active_at == clock.now, actor


def test_a_batch_s_ids_never_meet_other_ids():
    """A run of known answers takes a block of 4096 ids above 2**63, where no single id
    reaches: 32 hex digits, the process's prefix first, each id once."""
    from access import decisions

    head, last = decisions.id_block()
    ids = [head + t for t in last]
    assert len(set(ids)) == 4096 and all(re.fullmatch("[0-9a-f]{32}", i) for i in ids)
    single = decisions.new_decision_id()
    assert ids[0][:16] == single[:16]
    assert int(ids[0][16:], 16) >= 1 << 63 > int(single[16:], 16)
    assert decisions.id_block()[0] not in {i[:29] for i in ids}


@pytest.mark.parametrize(
    "field, value",
    [("resource.id", [1]), ("resource.type", {}), ("actor.id", ["pix4d-owner"]), ("action", [])],
)
def test_an_unhashable_value_in_a_batch_is_a_422_naming_it(api, demo, field, value):
    """A value no key can hold (a list, an object) where a check's string goes: the field
    named, as for any value of the wrong kind (it was a 500: the known answers' lookup)."""
    check = {"actor": {"id": "pix4d-owner"}, "action": "edit_billing", "resource": ORG_PIX4D}
    assert api.post("/v1/authorize/batch", {"checks": [check]}).status_code == 200  # known
    bad = json.loads(json.dumps(check))
    *path, last = field.split(".")
    at = bad
    for name in path:
        at = at[name]
    at[last] = value
    response = api.post("/v1/authorize/batch", {"checks": [check, bad]})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert list(response.get_json()["errors"]) == [f"checks.1.{field}"]
