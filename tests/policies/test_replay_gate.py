"""Replay as a gate: a week of logged decisions (generated, in the log and a rotated file),
a candidate policy that widens one rule; `flask decisions replay --since 7d --policy DIR`
lists exactly the logged questions whose answer flips, allows gained first, and exits 3.
Decisions logged before the window are not replayed; a replay writes nothing to the log."""

import datetime
import itertools
import json
import shutil
import uuid

from access import review
from access.targets import TargetBuilder
from authz.engine import POLICY_DIR, PolicySet
from models import db
from ops import decisionlog

POLICY = PolicySet(POLICY_DIR)
NOW = datetime.datetime.now(datetime.UTC)
ORG = {"type": "Organization", "id": "org-pix4d", "org": "org-pix4d", "style": "pix4d"}
SURVEY = {"type": "Folder", "id": "pix4d-survey", "org": "org-pix4d", "style": "pix4d"}
RIVAL = {"type": "Organization", "id": "org-up42", "org": "org-up42", "style": "up42"}
TO_OWNER = {
    "type": "RoleChange",
    "id": "",
    "org": "org-pix4d",
    "style": "pix4d",
    "attributes": {
        "from_role": "editor",
        "to_role": "owner",
        "is_self": False,
        "last_of_role": False,
    },
}


def line(actor, action, resource, hours_ago, allowed):
    return {
        "decision_id": uuid.uuid4().hex,
        "time": (NOW - datetime.timedelta(hours=hours_ago)).isoformat(timespec="milliseconds"),
        "actor": actor,
        "action": action,
        "resource": resource,
        "allowed": allowed,
        "policy_version": POLICY.version,
        "reason": "",
        "api_key": "tests",
    }


def a_logged_week(folder):
    """decisions.log (the last three days) and decisions.log.1 (the four before, and two
    lines from nine days ago). Every pix4d demo role asks about the org and a folder."""
    roles = ["owner", "manager", "editor", "reader", "member"]
    actions = ["view", "view_members", "invite_members", "edit_details", "close"]
    lines = []
    hours = itertools.count(1, 3)
    for _ in range(4):  # each question several times over the week
        for role, action in itertools.product(roles, actions):
            lines.append(line(f"pix4d-{role}", action, ORG, next(hours) % 160, None))
        for role in roles:
            lines.append(line(f"pix4d-{role}", "upload", SURVEY, next(hours) % 160, None))
    lines.append(line("pix4d-manager", "change_role", TO_OWNER, 30, False))
    lines.append(line("up42-member", "view", RIVAL, 20, True))
    # Outside the window: a second editor ("ed2", when the test makes one) asked once.
    lines.append(line("ed2", "view_members", ORG, 24 * 9, False))
    lines.append(line("pix4d-reader", "edit_legal", ORG, 24 * 9 + 1, False))
    with db.connection_context():  # what the live policy answered
        for item in lines:
            if item["allowed"] is None:
                item["allowed"] = review.redecide(POLICY, TargetBuilder(), item).allowed
    lines.sort(key=lambda item: item["time"])
    decisionlog.flush()  # the app's own lines are written before the file is made anew
    recent = NOW - datetime.timedelta(days=3)
    log = folder / "decisions.log"
    older = [x for x in lines if x["time"] < recent.isoformat()]
    newer = [x for x in lines if x["time"] >= recent.isoformat()]
    (folder / "decisions.log.1").write_text("".join(json.dumps(x) + "\n" for x in older))
    log.write_text("".join(json.dumps(x) + "\n" for x in newer) + '{"decision_id": "cut sh')
    return log, lines


def widened(tmp_path, old, new, count=1):
    folder = tmp_path / "candidate"
    shutil.copytree(POLICY_DIR, folder)
    polar = folder / "pix4d.polar"
    text = polar.read_text()
    assert text.count(old) == count, old
    polar.write_text(text.replace(old, new))
    return folder


def test_replay_gate_lists_exactly_the_flips_and_fails(app, api, demo, tmp_path):
    # A second editor, who asked only nine days ago: the candidate would flip their answer
    # too, but the window does not hold it.
    assert api.put("/v1/users/ed2", {"email": "ed2@example.com", "name": "Ed"}).status_code == 200
    sent = api.post(
        "/v1/orgs/org-pix4d/invitations",
        {"invitations": [{"email": "ed2@example.com", "role": "editor"}]},
        actor="pix4d-owner",
    )
    token = sent.get_json()["items"][0]["token"]
    user = {"id": "ed2", "email": "ed2@example.com", "name": "Ed"}
    assert api.post("/v1/invitations/accept", {"token": token, "user": user}).status_code == 200
    log, lines = a_logged_week(tmp_path)
    # The candidate: Editors see the members list (it was Managers and up).
    candidate = widened(tmp_path, '"view_members" if "manager";', '"view_members" if "editor";')
    runner = app.test_cli_runner()
    args = ["decisions", "replay", "--since", "7d", "--policy", str(candidate), "--log", str(log)]
    result = runner.invoke(args=args)
    assert result.exit_code == 3, result.output
    assert (
        "GAINED pix4d-editor view_members on Organization org-pix4d: deny -> allow" in result.output
    )
    assert "1 would change: 1 allow gained, 0 lost" in result.output
    report = json.loads(runner.invoke(args=[*args, "--json"]).stdout)
    assert [(c["actor"], c["action"], c["change"]) for c in report["changes"]] == [
        ("pix4d-editor", "view_members", "gains")
    ]
    assert report["changes"][0]["times"] == 4
    in_window = [x for x in lines if x["time"] >= (NOW - datetime.timedelta(days=7)).isoformat()]
    assert report["lines"] == len(in_window)  # the cut line and the 9-day-old ones are not read
    assert report["distinct"] == 5 * 5 + 5 + 2

    # All of the log, nine days included: the second editor's question flips too.
    longer = runner.invoke(args=[*args[:3], "10d", *args[4:], "--json"])
    assert longer.exit_code == 3
    flips = {(c["actor"], c["action"]) for c in json.loads(longer.stdout)["changes"]}
    assert flips == {("pix4d-editor", "view_members"), ("ed2", "view_members")}

    # A candidate that only narrows (Editors lose upload): listed, and the gate passes.
    (tmp_path / "n").mkdir()
    narrow = widened(
        tmp_path / "n",
        '  "upload" if "editor";\n',
        '  "upload" if "manager" on "organization";\n',
        3,
    )
    narrowed = runner.invoke(args=[*args[:4], "--policy", str(narrow), "--log", str(log)])
    assert narrowed.exit_code == 0, narrowed.output
    assert "LOST   pix4d-editor upload on Folder pix4d-survey in org-pix4d: allow -> deny" in (
        narrowed.output
    )
    assert "1 would change: 0 allow gained, 1 lost" in narrowed.output


def test_replay_gate_sees_a_management_decision_flip(app, demo, tmp_path):
    """The rank escalation of a Pix4D Manager, on a logged change of role."""
    log, _ = a_logged_week(tmp_path)
    candidate = widened(tmp_path, 'rank("manager", 4);', 'rank("manager", 5);')
    with db.connection_context():
        report = review.replay_window(
            POLICY, PolicySet(candidate), str(log), datetime.timedelta(days=7)
        )
    assert [(c["actor"], c["action"], c["change"]) for c in report["changes"]] == [
        ("pix4d-manager", "change_role", "gains")
    ]
    assert report["gained"] == 1


def test_would_change_counts_the_last_decisions_for_the_console(app, demo, tmp_path):
    log, lines = a_logged_week(tmp_path)
    candidate = PolicySet(
        widened(tmp_path, '"view_members" if "manager";', '"view_members" if "editor";')
    )
    with db.connection_context():
        report = review.would_change(POLICY, candidate, str(log), last=1000)
        few = review.would_change(POLICY, candidate, str(log), last=3)
    assert report["lines"] == len(lines)  # all of them: the log and its rotated file
    assert report["lines_changed"] == 4 and report["lines_gained"] == 4  # the demo's editor
    assert few["lines"] == 3
    # Memory is bounded: past the budget, lines of further questions are counted, not kept.
    with db.connection_context():
        bounded = review.replay(POLICY, candidate, lines, max_bytes=2 * review.ENTRY_BYTES + 2000)
    assert bounded["distinct"] < 3 and bounded["skipped"] > 0
    assert bounded["lines"] == len(lines)


def test_a_replay_is_not_logged(app, api, demo, tmp_path):
    from ops import decisionlog

    path = app.config["DECISION_LOG"]
    api.post(
        "/v1/authorize",
        {
            "actor": {"id": "pix4d-editor"},
            "action": "view_members",
            "resource": {"type": "Organization", "id": "org-pix4d"},
        },
    )
    decisionlog.flush()
    before = open(path).read()
    with db.connection_context():
        review.replay_window(POLICY, POLICY, path, datetime.timedelta(hours=1))
    decisionlog.flush()
    assert open(path).read() == before


def test_bad_window_names_the_option(app):
    result = app.test_cli_runner().invoke(args=["decisions", "replay", "--since", "a week"])
    assert result.exit_code == 2 and "--since" in result.output
    both = app.test_cli_runner().invoke(args=["decisions", "replay", "abc", "--since", "7d"])
    assert both.exit_code == 2
