"""Review tooling: the matrix agrees with the reviewers' tables, the diff names who is
affected, the lint catches what loads but is wrong, the decision log replays."""

import json
import shutil
import subprocess
import sys

import pytest

from access.review import live_worlds
from authz import matrix as effective
from authz.diff import diff, widens
from authz.engine import POLICY_DIR, PolicySet
from authz.lint import check
from authz.tables import custom_roles, load_table, table_path
from models import db
from tests.support import policy_folder

POLICY = PolicySet(POLICY_DIR)


@pytest.mark.parametrize("style", POLICY.styles)
def test_matrix_equals_the_cells_of_the_table(style):
    """Every cell of the table about a plain role on a resource directly in the org (or the
    org itself) is the matrix's cell; the matrix is computed from the policy alone."""
    data = load_table(table_path(POLICY_DIR, style))
    m = effective.compute(POLICY.engine(style), custom=custom_roles(data))  # its org's own too
    by_cell = {}
    for table in m["tables"]:
        for row in table["rows"]:
            for role, allowed in zip(m["roles"], row["allowed"]):
                by_cell[
                    (
                        table["type"],
                        json.dumps(table["attributes"], sort_keys=True),
                        row["action"],
                        role,
                    )
                ] = allowed
    plain = {name: p["role"] for name, p in data["principals"].items() if p and set(p) == {"role"}}
    compared = 0
    for rname, spec in data["resources"].items():
        if set(spec) - {"type", "attributes"} or spec["type"] not in {
            t["type"] for t in m["tables"]
        }:
            continue
        attrs = json.dumps(spec.get("attributes") or {}, sort_keys=True)
        for action in POLICY.engine(style).permissions(spec["type"]):
            allowed = (data["expect"].get(rname) or {}).get(action) or []
            for pname, role in plain.items():
                assert by_cell[(spec["type"], attrs, action, role)] == (pname in allowed), (
                    style,
                    rname,
                    action,
                    role,
                )
                compared += 1
    assert compared > 20


def test_up42_matrix_is_the_vendor_table():
    # UP42 "User management" permission table: Member / Admin.
    vendor = {
        "create_catalog_order": (True, True),
        "create_tasking_order": (True, True),
        "accept_tasking_quotation": (False, True),
        "create_processing_job": (True, True),
        "buy_credits": (False, True),
        "view_transactions": (False, True),
        "edit_details": (False, True),
        "invite_members": (False, True),
        "change_roles": (False, True),
        "remove_members": (False, True),
        "close": (False, True),
    }
    m = effective.compute(POLICY.engine("up42"))
    org = next(t for t in m["tables"] if t["type"] == "Organization")
    rows = {r["action"]: dict(zip(m["roles"], r["allowed"])) for r in org["rows"]}
    for action, (member, admin) in vendor.items():
        assert (rows[action]["member"], rows[action]["admin"]) == (member, admin), action
    assets = next(t for t in m["tables"] if t["type"] == "Asset")
    # "See storage assets of other account users": Member yes.
    assert dict(zip(m["roles"], assets["rows"][0]["allowed"])) == {"admin": True, "member": True}


def test_matrix_formats(app, api):
    md = api.get("/v1/policies/pix4d/matrix?format=markdown")
    assert (
        md.status_code == 200
        and "| action | owner | manager | editor | reader | member |" in md.text
    )
    assert "## License (kind=desktop)" in md.text
    html = api.get("/v1/policies/respondio/matrix", headers={"Accept": "text/html"})
    assert html.status_code == 200 and html.content_type.startswith("text/html")
    assert html.text.count('<table class="matrix"') == 2  # Organization and Space
    assert '<table class="management" data-style="respondio" data-table="invite">' in html.text
    body = api.get("/v1/policies/up42/matrix").get_json()
    assert body["roles"] == ["admin", "member"]
    assert api.get("/v1/policies/nope/matrix").status_code == 404
    listing = api.get("/v1/policies").get_json()
    pix4d = next(i for i in listing["items"] if i["style"] == "pix4d")
    assert pix4d["settings"]["invitation_lifetime_hours"] == 360
    assert pix4d["role_order"] == ["owner", "manager", "editor", "reader", "member"]
    assert {"type": "License", "roles": ["assignee"]}.items() <= next(
        t for t in pix4d["resource_types"] if t["type"] == "License"
    ).items()


def editor_loses_upload(tmp_path):
    folder = tmp_path / "new"
    shutil.copytree(POLICY_DIR, folder)
    polar = folder / "pix4d.polar"
    text = polar.read_text()
    changed = text.replace(
        '  "upload" if "editor";\n', '  "upload" if "manager" on "organization";\n'
    )
    assert changed.count('"upload" if "manager" on "organization"') == 3
    polar.write_text(changed)
    return folder


def test_diff_lists_exactly_the_demo_users_who_lose(app, demo, tmp_path):
    new = PolicySet(editor_loses_upload(tmp_path))
    with db.connection_context():
        report = diff(POLICY, new, live_worlds())
    assert {(c["role"], c["action"], c["resource"]) for c in report["matrix"]} == {
        ("editor", "upload", "Folder"),
        ("editor", "upload", "Site"),
        ("editor", "upload", "Dataset"),
    }
    losers = {(c["user"], c["action"]) for c in report["data"]}
    assert losers == {("pix4d-editor", "upload")}
    assert {c["resource_id"] for c in report["data"]} == {
        "pix4d-survey",
        "pix4d-survey-2026",
        "pix4d-bridge-scan",
        "pix4d-quarry",
        "pix4d-quarry-march",
    }
    assert not widens(report)
    with db.connection_context():
        reverse = diff(new, POLICY, live_worlds())
    assert widens(reverse) and reverse["summary"]["users_gaining"] == 1


def test_diff_counts_what_members_hold_through_teams(app, api, demo, tmp_path):
    org = "org-pix4d"
    api.post(
        f"/v1/orgs/{org}/teams", {"id": "eds", "name": "Eds", "role": "editor"}, actor="pix4d-owner"
    )
    api.put(f"/v1/orgs/{org}/teams/eds/members/pix4d-reader", {}, actor="pix4d-owner")
    api.post(f"/v1/orgs/{org}/teams", {"id": "site", "name": "Site"}, actor="pix4d-owner")
    api.put(f"/v1/orgs/{org}/teams/site/members/pix4d-member", {}, actor="pix4d-owner")
    body = {"role": "editor"}
    api.put(f"/v1/orgs/{org}/teams/site/grants/Site/pix4d-quarry", body, actor="pix4d-owner")
    new = PolicySet(editor_loses_upload(tmp_path))
    with db.connection_context():
        report = diff(POLICY, new, live_worlds())
    losers = {c["user"] for c in report["data"]}
    # the Reader is an Editor through its team; the Member edits a Site through its team
    assert losers == {"pix4d-editor", "pix4d-reader", "pix4d-member"}
    site = {c["resource_id"] for c in report["data"] if c["user"] == "pix4d-member"}
    assert site == {"pix4d-quarry", "pix4d-quarry-march"}


def test_diff_command_gates_a_widening_change(app, demo, tmp_path):
    import os

    new = editor_loses_upload(tmp_path)
    env = {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"]}
    if "search_path" in str(getattr(db.obj, "connect_params", {})):
        pytest.skip("the CLI opens the database by URL; the PostgreSQL schema is per test")

    def run(*args):
        command = [sys.executable, "-m", "flask", "--app", "app", "policy", "diff", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env)

    narrowing = run(str(POLICY_DIR), str(new), "--fail-on-widen")
    assert narrowing.returncode == 0, narrowing.stderr
    assert (
        "pix4d-editor (editor) loses upload on Folder pix4d-survey in org-pix4d" in narrowing.stdout
    )
    widening = run(str(new), str(POLICY_DIR), "--fail-on-widen", "--json")
    assert widening.returncode == 3
    assert json.loads(widening.stdout)["summary"]["users_gaining"] == 1


def test_lint_is_clean_on_the_shipped_policies_and_catches_mistakes(tmp_path):
    assert check(POLICY_DIR) == []
    folder = policy_folder(tmp_path / "p", "respondio")
    polar = folder / "respondio.polar"
    text = polar.read_text()
    text = text.replace(
        'roles = ["org_admin", "billing_admin", "user_admin", "member"];',
        'roles = ["org_admin", "billing_admin", "user_admin", "member", "auditor"];',
    )
    text = text.replace('"assign_spaces", "close"', '"assign_spaces", "export_data", "close"', 1)
    polar.write_text(text)
    problems = check(folder)
    assert (
        "respondio: role 'auditor' on Organization is declared but no rule grants it anything"
        in problems
    )
    assert "respondio: permission 'export_data' on Organization is granted to no role" in problems
    # The role has no rank, no principal of the table holds it, no principal may export.
    assert any(
        p.startswith("respondio: role 'auditor' has no place in the role order") for p in problems
    )
    assert any(
        p.startswith("respondio: role 'auditor' on Organization is exercised by no principal")
        for p in problems
    )
    assert any(
        p.startswith("respondio: permission 'export_data' on Organization is allowed to no")
        for p in problems
    )


def test_lint_names_a_rule_no_cell_exercises(tmp_path):
    """A rule the tables would not notice losing: an Organization Admin may view a Space
    (which it already may, as a member of every space)."""
    folder = policy_folder(tmp_path / "p", "respondio")
    polar = folder / "respondio.polar"
    anchor = '  "use" if "member";\n'
    text = polar.read_text()
    assert text.count(anchor) == 1
    text = text.replace(anchor, anchor + '  "view" if "org_admin" on "organization";\n')
    polar.write_text(text)
    line = text[: text.index('"view" if "org_admin" on')].count("\n") + 1
    problems = check(folder)
    assert [p for p in problems if "exercises the rule" in p] == [
        f"respondio: no cell of respondio.test.yaml exercises the rule respondio.polar:{line} "
        '(in resource Space): "view" if "org_admin" on "organization";: '
        "removing it changes no answer"
    ], problems


def test_every_decision_is_logged_and_replays(app, api, demo, tmp_path):
    from access.decisions import decide
    from access.targets import TargetBuilder
    from models import Membership
    from ops import decisionlog

    body = api.post(
        "/v1/authorize",
        {
            "actor": {"id": "pix4d-editor"},
            "action": "upload",
            "resource": {"type": "Dataset", "id": "pix4d-bridge-scan"},
        },
        headers={"X-Request-Id": "req-42"},
    ).get_json()
    decisionlog.flush()
    line = decisionlog.find(app.config["DECISION_LOG"], body["decision_id"])
    assert line["allowed"] is True and line["actor"] == "pix4d-editor"
    assert line["resource"]["type"] == "Dataset" and line["resource"]["org"] == "org-pix4d"
    assert line["api_key"] == "tests" and line["request_id"] == "req-42"
    assert line["policy_version"] == body["policy_version"]

    # The editor becomes a reader: replaying says the answer would change.
    with db.connection_context():
        Membership.update(role="reader").where(Membership.user == "pix4d-editor").execute()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["decisions", "replay", body["decision_id"]])
    assert "then: allow" in result.output and "now:  deny" in result.output
    assert "CHANGED" in result.output
    assert result.exit_code == 3  # a gate: a changed answer fails it
    assert decide  # the replay goes through the same decide()
    assert TargetBuilder


def test_lint_names_a_refusal_no_reason_explains(tmp_path):
    """Without its reason rule, a refusal would read as no sentence of the policy's."""
    from authz.lint import unexplained_refusals

    folder = tmp_path / "p"
    shutil.copytree(POLICY_DIR, folder)
    polar = folder / "up42.polar"
    text = polar.read_text()
    rule = (
        'reason(actor: User, "invite", invitation: Invitation,\n'
        '       "{a actor_role} may not invite users; Admins do") if\n'
        '    not has_permission(actor, "invite_members", invitation.organization);\n'
    )
    assert text.count(rule) == 1
    polar.write_text(text.replace(rule, ""))
    assert unexplained_refusals(PolicySet(folder).engine("up42")) == [
        "Invite as: admin (as member)",
        "Invite as: member (as member)",
    ]
    assert unexplained_refusals(POLICY.engine("up42")) == []
