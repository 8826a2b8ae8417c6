"""The management matrix (invite-as, cancel, change-role from -> to, remove, leave, grant and
revoke, with the self and last-of-role cases) is asked of the policy, agrees with the
reviewers' tables, and is part of the diff: a rank escalation is a widening that gates."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from access.review import live_worlds
from authz import matrix as effective
from authz.diff import diff, to_text, widens
from authz.engine import POLICY_DIR, PolicySet
from authz.tables import custom_roles, load_table, table_path
from models import db

POLICY = PolicySet(POLICY_DIR)


def cell(m, table_id, case, role):
    table = next(t for t in m["tables"] if t["id"] == table_id)
    row = next(r for r in table["rows"] if r["case"] == case)
    return row["allowed"][m["roles"].index(role)]


def test_pix4d_management_cells():
    m = effective.management(POLICY.engine("pix4d"))
    assert m["roles"] == ["owner", "manager", "editor", "reader", "member"]
    # [P1] Manager: "Invite, remove, and assign roles up to Manager."
    assert cell(m, "invite", "manager", "manager") is True
    assert cell(m, "invite", "owner", "manager") is False
    assert cell(m, "invite", "owner", "owner") is True
    assert cell(m, "invite", "member", "editor") is False
    assert cell(m, "change_role", "editor->manager", "manager") is True
    assert cell(m, "change_role", "editor->owner", "manager") is False
    assert cell(m, "change_role", "owner->manager", "manager") is False
    assert cell(m, "remove", "owner", "manager") is False
    # [P1] "Requires at least one Owner."
    assert cell(m, "change_role_last", "owner->manager", "owner") is False
    assert cell(m, "remove_last", "owner", "owner") is False
    assert cell(m, "leave", "leave-last", "owner") is False
    assert cell(m, "leave", "leave-last", "manager") is True
    # One's own role: no meaning to change it to itself.
    assert cell(m, "change_own_role", "self->owner", "owner") is None
    assert cell(m, "change_own_role", "self->member", "manager") is True
    assert cell(m, "grant", "License (kind=desktop):assignee", "manager") is True
    # [P0] "The role can be changed by a Manager or an Owner after the invitation is sent."
    assert cell(m, "change_invitation_role", "reader->manager", "manager") is True
    assert cell(m, "change_invitation_role", "reader->owner", "manager") is False
    assert cell(m, "change_invitation_role", "owner->reader", "manager") is False
    assert cell(m, "change_invitation_role", "owner->reader", "owner") is True
    assert cell(m, "change_invitation_role", "reader->editor", "editor") is False
    assert cell(m, "grant", "Folder:editor", "editor") is False


def test_up42_and_respondio_management_cells():
    up42 = effective.management(POLICY.engine("up42"))
    # UP42 "User management": "To remove a user, their role must be Member."
    assert cell(up42, "remove", "admin", "admin") is False
    assert cell(up42, "remove", "member", "admin") is True
    assert cell(up42, "leave", "leave", "admin") is False
    assert cell(up42, "change_role_last", "admin->member", "admin") is False
    grants = next(t for t in up42["tables"] if t["id"] == "grant")  # no roles to grant
    assert {a for row in grants["rows"] for a in row["allowed"]} == {False}
    rio = effective.management(POLICY.engine("respondio"))
    # respond.io "Organization Users": "User Admins can only add users with Member access"
    assert cell(rio, "invite", "member", "user_admin") is True
    assert cell(rio, "invite", "billing_admin", "user_admin") is False
    assert cell(rio, "invite", "billing_admin", "org_admin") is True
    assert cell(rio, "leave", "leave", "org_admin") is False  # another user must do it
    assert cell(rio, "grant", "Space:member", "user_admin") is True


@pytest.mark.parametrize("style", POLICY.styles)
def test_management_matrix_equals_the_management_cells_of_the_table(style):
    """Each table cell about a plain role and a management resource the matrix has a case
    for is the matrix's cell; the matrix is computed from the policy alone."""
    engine = POLICY.engine(style)
    data = load_table(table_path(POLICY_DIR, style))
    m = effective.management(engine, custom=custom_roles(data))  # its org's own roles too
    plain = {n: p["role"] for n, p in data["principals"].items() if p and set(p) == {"role"}}
    resources = data["resources"]
    compared = 0
    for rname, spec in resources.items():
        attrs = spec.get("attributes") or {}
        cases = []
        if spec["type"] == "Invitation" and set(attrs) == {"role"}:
            cases = [("invite", attrs["role"], "invite"), ("cancel", attrs["role"], "cancel")]
        elif spec["type"] == "Invitation" and set(attrs) == {"role", "to_role"}:
            if not {attrs["role"], attrs["to_role"]} <= set(m["roles"]) or (
                attrs["role"] == attrs["to_role"]
            ):
                continue  # no row: a role the style lacks, or no change
            case = f"{attrs['role']}->{attrs['to_role']}"
            cases = [("change_invitation_role", case, "change_role")]
        elif spec["type"] == "RoleChange" and spec.get("user") is None:
            table_id = "change_role_last" if attrs["last_of_role"] else "change_role"
            cases = [(table_id, f"{attrs['from_role']}->{attrs['to_role']}", "change_role")]
        elif spec["type"] == "Membership" and spec.get("user") == "other":
            table_id = "remove_last" if attrs["last_of_role"] else "remove"
            cases = [(table_id, attrs["role"], "remove")]
        elif spec["type"] == "Grant":
            parent = resources[spec["parent"]]
            if parent.get("parent") or parent.get("owner"):
                continue
            if attrs["role"] not in engine.roles(parent["type"]):
                continue  # a role the type lacks (respond.io's grant of org_admin on a Space)
            variant = parent.get("attributes") or {}
            on = parent["type"] + (
                " (" + ", ".join(f"{k}={v}" for k, v in variant.items()) + ")" if variant else ""
            )
            cases = [(a, f"{on}:{attrs['role']}", a) for a in ("grant", "revoke")]
        for table_id, case, action in cases:
            if (
                attrs.get("role", attrs.get("to_role")) not in m["roles"]
                and spec["type"] != "Grant"
            ):
                continue  # a role the style does not have: the matrix has no row for it
            if spec["type"] == "RoleChange" and attrs["from_role"] not in m["roles"]:
                continue
            allowed = (data["expect"].get(rname) or {}).get(action) or []
            for pname, role in plain.items():
                assert cell(m, table_id, case, role) == (pname in allowed), (rname, pname, action)
                compared += 1
    assert compared >= 10


def escalated(tmp_path):
    """A copy of the policies where a Pix4D Manager ranks with the Owner."""
    folder = tmp_path / "escalated"
    shutil.copytree(POLICY_DIR, folder)
    polar = folder / "pix4d.polar"
    text = polar.read_text()
    assert text.count('rank("manager", 4);') == 1
    polar.write_text(text.replace('rank("manager", 4);', 'rank("manager", 5);'))
    return folder


GAINED = {
    ("invite", "owner"),
    ("cancel", "owner"),
    ("change_invitation_role", "reader->owner"),
    ("change_role", "owner->manager"),
    ("change_role", "editor->owner"),
    ("change_role", "manager->owner"),
    ("remove", "owner"),
    ("change_own_role", "self->owner"),
}


def test_rank_escalation_is_a_widening(app, demo, tmp_path):
    new = PolicySet(escalated(tmp_path))
    with db.connection_context():
        report = diff(POLICY, new, live_worlds())
    gained = {(c["table"], c["case"]) for c in report["matrix"] if c["change"] == "gains"}
    assert GAINED <= gained
    assert {c["role"] for c in report["matrix"]} == {"manager"}
    assert all(c["change"] == "gains" for c in report["matrix"])
    assert report["summary"]["management_cells_gained"] == len(report["matrix"]) > 0
    assert widens(report)
    # In the live data: the demo's Manager may now invite Owners and make members Owner;
    # not remove the demo's Owner, who is the last one.
    live = {(c["user"], c["action"], c["resource_id"]) for c in report["data"]}
    assert ("pix4d-manager", "invite", "Invite as: owner") in live
    last_editor = "Change the role of the last member who holds it: editor -> owner"
    assert ("pix4d-manager", "change_role", last_editor) in live  # the demo's only editor
    assert not any(action == "remove" for _, action, _ in live)
    assert report["summary"]["users_gaining"] == 1
    text = to_text(report)
    assert "pix4d: manager gains change_role: Change another member's role: editor -> owner" in text
    assert "Live data: 1 user gain, 0 users lose" in text


def test_policy_diff_fails_on_the_rank_escalation(app, demo, tmp_path):
    if "search_path" in str(getattr(db.obj, "connect_params", {})):
        pytest.skip("the CLI opens the database by URL; the PostgreSQL schema is per test")
    env = {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"]}
    command = [sys.executable, "-m", "flask", "--app", "app", "policy", "diff"]
    folder = escalated(tmp_path)
    run = subprocess.run(
        [*command, str(POLICY_DIR), str(folder), "--fail-on-widen"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 3, run.stdout + run.stderr
    assert "pix4d: manager gains invite: Invite as: owner" in run.stdout
    assert (
        "pix4d: manager gains change_role: Change another member's role: editor -> owner"
        in run.stdout
    )
    assert "pix4d-manager (manager) gains change_role" in run.stdout
    assert "0 cells gained" not in run.stdout
    as_json = subprocess.run(
        [*command, str(POLICY_DIR), str(folder), "--json", "--no-data"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert as_json.returncode == 0  # no --fail-on-widen: a report only
    report = json.loads(as_json.stdout)
    assert report["summary"]["management_cells_gained"] >= len(GAINED)


def test_matrix_endpoint_serves_the_management_matrix(api):
    body = api.get("/v1/policies/pix4d/matrix").get_json()
    m = body["management"]
    assert m["roles"] == body["roles"]
    assert cell(m, "invite", "owner", "manager") is False
    md = api.get("/v1/policies/pix4d/matrix?format=markdown").text
    assert "# pix4d management matrix" in md
    assert "## Change another member's role (`change_role` on RoleChange)" in md
    assert "| editor -> owner | ✅ | — | — | — | — |" in md
    csv = api.get("/v1/policies/up42/matrix?format=csv").text
    assert "remove,admin,0,0" in csv and "remove,member,1,0" in csv
    everything = api.get("/v1/policies/all/matrix").get_json()
    assert [i["management"]["style"] for i in everything["items"]] == POLICY.styles


def test_for_console_gives_both_matrices_of_each_style():
    pages = effective.for_console(POLICY)
    assert [p["style"] for p in pages] == POLICY.styles
    assert all(p["resources"]["tables"] and p["management"]["tables"] for p in pages)
