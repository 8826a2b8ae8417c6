"""A product team adds a role by following the README's "adding a role" section literally:
two edits of the policy, one of its table, `policy test` and `policy check`; then the role
is usable through the HTTP API alone (invite as it, accept, authorize), no row inserted by
hand. And when the rank line is left out, `policy check` says so, naming it."""

import os
import subprocess
import sys

from app import create_app
from models import ApiKey, db
from tests.conftest import Api
from tests.support import policy_folder

# The README's steps, as written there.
STEP_1_ROLES = 'roles = ["owner", "manager", "editor", "reader", "member", "billing_viewer"];'
STEP_1_RULES = '  "view" if "billing_viewer";\n  "view_credits" if "billing_viewer";\n'
STEP_2_RANK = 'rank("billing_viewer", 1);\n'
STEP_3_PRINCIPAL = "  billing_viewer: {role: billing_viewer}\n"
STEP_3_RESOURCE = (
    "  invite_billing_viewer: {type: Invitation, attributes: {role: billing_viewer}}\n"
)
STEP_3_CELLS = (
    "  invite_billing_viewer:\n    invite: [owner, manager, team_manager]\n"
    "    cancel: [owner, manager, team_manager]\n"
)
# Step 3 also lists the new principal in the cells every member has: resource -> actions.
EVERY_MEMBER = {
    "org": ("view", "view_credits"),
    "new_org": ("create",),
    "invitation_to_me": ("accept",),
    "own_membership": ("remove",),
    "own_membership_last_of_role": ("remove",),
}


def follow_the_readme(folder, rank: bool = True):
    """Steps 1 to 3 of the README on the copy of the policies in ``folder``."""
    polar = folder / "pix4d.polar"
    text = polar.read_text()
    text = text.replace(
        'roles = ["owner", "manager", "editor", "reader", "member"];', STEP_1_ROLES, 1
    )
    text = text.replace(
        '  "view_credits" if "member";\n', '  "view_credits" if "member";\n' + STEP_1_RULES, 1
    )
    if rank:
        text = text.replace('rank("owner", 5);\n', 'rank("owner", 5);\n' + STEP_2_RANK, 1)
    polar.write_text(text)

    table = folder / "pix4d.test.yaml"
    lines = table.read_text().splitlines(keepends=True)
    out, section, resource = [], None, None
    for line in lines:
        if not line.startswith(" ") and line.rstrip().endswith(":"):
            section = line.rstrip()[:-1]
        if section == "expect" and line.startswith("  ") and not line.startswith("    "):
            resource = line.strip()[:-1]
        action = line.strip().split(":", 1)[0]
        if (
            section == "expect"
            and line.startswith("    ")
            and action in EVERY_MEMBER.get(resource, ())
        ):
            line = line.replace("]", ", billing_viewer]", 1)
        out.append(line)
        if section == "principals" and line.startswith("  outsider:"):
            out.append(STEP_3_PRINCIPAL)
        if section == "resources" and line.startswith("  invite_member:"):
            out.append(STEP_3_RESOURCE)
    table.write_text("".join(out) + STEP_3_CELLS)


def flask(folder, tmp_path, *args):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    command = [sys.executable, "-m", "flask", "--app", "app", "policy", *args, "--dir", str(folder)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


def test_new_role_is_usable_through_the_api_after_the_readme_steps(tmp_path, app):
    folder = policy_folder(tmp_path / "policies", "pix4d")  # the style the steps edit
    follow_the_readme(folder)

    # Step 4: the tables pass and the lint is clean (no database: once, on the SQLite run).
    if app.config["DATABASE_URL"].startswith("sqlite"):
        tested = flask(folder, tmp_path, "test")
        assert tested.returncode == 0, tested.stdout + tested.stderr
        checked = flask(folder, tmp_path, "check")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "policies are clean" in checked.stdout

    edited = create_app({**app.config, "POLICY_DIR": str(folder)})
    engine = edited.extensions["orgauthz.policy"].current.engine("pix4d")
    assert "billing_viewer" in engine.role_order
    with db.connection_context():
        key = ApiKey.create_key("add-role")
    api = Api(edited.test_client(), key)

    # An owner creates an organization, invites someone as billing_viewer; they accept.
    for uid in ("olivia", "mia"):
        assert (
            api.put(f"/v1/users/{uid}", {"email": f"{uid}@example.com", "name": uid}).status_code
            == 200
        )
    org = api.post("/v1/orgs", {"name": "Survey Co", "style": "pix4d"}, actor="olivia")
    assert org.status_code == 201, org.get_json()
    org_id = org.get_json()["id"]
    sent = api.post(
        f"/v1/orgs/{org_id}/invitations",
        {"invitations": [{"email": "bv@example.com", "role": "billing_viewer"}]},
        actor="olivia",
    )
    assert sent.status_code == 201, sent.get_json()
    token = sent.get_json()["items"][0]["token"]
    joined = api.post(
        "/v1/invitations/accept",
        {"token": token, "user": {"id": "bv", "email": "bv@example.com", "name": "Bea"}},
    )
    assert joined.status_code == 200, joined.get_json()
    assert joined.get_json()["role"] == "billing_viewer"

    # They are authorized by the new rules, and nothing more.
    here = {"type": "Organization", "id": org_id}
    assert api.allowed("bv", "view", here) is True
    assert api.allowed("bv", "view_credits", here) is True
    assert api.allowed("bv", "edit_billing", here) is False
    assert api.allowed("bv", "view_members", here) is False
    assert api.allowed("bv", "view", {"type": "Folder", "id": "f", "org": org_id}) is False

    # A member can be changed to the role too, by an Owner and (rank 1 is below Manager) a
    # Manager; and the new role may not invite anyone.
    invited = api.post(
        f"/v1/orgs/{org_id}/invitations",
        {"invitations": [{"email": "mia@example.com", "role": "manager"}]},
        actor="olivia",
    )
    mia_token = invited.get_json()["items"][0]["token"]
    accepted = api.post(
        "/v1/invitations/accept",
        {"token": mia_token, "user": {"id": "mia", "email": "mia@example.com", "name": "Mia"}},
    )
    assert accepted.status_code == 200, accepted.get_json()
    changed = api.put(f"/v1/orgs/{org_id}/members/bv", {"role": "member"}, actor="mia")
    assert changed.status_code == 200, changed.get_json()
    back = api.put(f"/v1/orgs/{org_id}/members/bv", {"role": "billing_viewer"}, actor="mia")
    assert back.status_code == 200 and back.get_json()["role"] == "billing_viewer"
    refused = api.post(
        f"/v1/orgs/{org_id}/invitations",
        {"invitations": [{"email": "x@example.com", "role": "member"}]},
        actor="bv",
    )
    assert refused.status_code == 403
    assert refused.get_json()["errors"]["invitations.0.role"] == [
        "pix4d: a Billing Viewer may not invite people; Owners and Managers do"
    ]


def test_without_the_rank_line_policy_check_fails_naming_it(tmp_path):
    folder = policy_folder(tmp_path / "policies", "pix4d")  # the style the steps edit
    follow_the_readme(folder, rank=False)
    checked = flask(folder, tmp_path, "check")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert (
        "pix4d: role 'billing_viewer' has no place in the role order the management rules "
        'read: add rank("billing_viewer", N)' in checked.stdout
    )
    # The table's invitation cell fails too: no one may invite as a role without a rank.
    tested = flask(folder, tmp_path, "test")
    assert tested.returncode == 1
    assert "owner invite on invite_billing_viewer: expected allow, got deny" in tested.stdout
