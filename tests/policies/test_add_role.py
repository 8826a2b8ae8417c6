"""A product team adds a role by editing a policy and its table, and nothing else."""

import shutil
import subprocess
import sys

from app import create_app
from authz.engine import POLICY_DIR
from models import Membership, Organization, User, db
from tests.conftest import Api


def add_billing_viewer(folder):
    """The edit a product team makes: a pix4d role that sees the org and its credits."""
    polar = folder / "pix4d.polar"
    text = polar.read_text()
    text = text.replace(
        'roles = ["owner", "manager", "editor", "reader", "member"];',
        'roles = ["owner", "manager", "editor", "reader", "member", "billing_viewer"];',
    )
    text = text.replace(
        '  "view" if "member";\n',
        '  "view" if "member";\n  "view" if "billing_viewer";\n'
        '  "view_credits" if "billing_viewer";\n',
    )
    polar.write_text(text)
    table = folder / "pix4d.test.yaml"
    text = table.read_text()
    text = text.replace(
        "  outsider: {}\n", "  outsider: {}\n  billing_viewer: {role: billing_viewer}\n", 1
    )
    everyone = "[owner, manager, editor, reader, member, member_assigned, member_site_editor"
    text = text.replace(f"    view: {everyone}]", f"    view: {everyone}, billing_viewer]", 1)
    text = text.replace(
        f"    view_credits: {everyone}]", f"    view_credits: {everyone}, billing_viewer]", 1
    )
    text = text.replace(
        "    create: [owner, manager, editor, reader, member, member_assigned, member_site_editor, outsider]",
        "    create: [owner, manager, editor, reader, member, member_assigned, member_site_editor, outsider, billing_viewer]",
    )
    text = text.replace(
        "    accept: [owner, manager, editor, reader, member, member_assigned, member_site_editor, outsider]",
        "    accept: [owner, manager, editor, reader, member, member_assigned, member_site_editor, outsider, billing_viewer]",
    )
    text = text.replace(
        "  own_membership:\n    remove: [owner, manager, editor, reader, member, member_assigned, member_site_editor]",
        "  own_membership:\n    remove: [owner, manager, editor, reader, member, member_assigned, member_site_editor, billing_viewer]",
    )
    text = text.replace(
        "  own_membership_last_of_role:\n    remove: [manager, editor, reader, member, member_assigned, member_site_editor]",
        "  own_membership_last_of_role:\n    remove: [manager, editor, reader, member, member_assigned, member_site_editor, billing_viewer]",
    )
    table.write_text(text)


def test_new_role_is_usable_after_a_policy_edit_only(tmp_path, app):
    folder = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, folder)
    add_billing_viewer(folder)

    run = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "policy", "test", "--dir", str(folder)],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"},
    )
    assert run.returncode == 0, run.stdout + run.stderr

    edited = create_app({**app.config, "POLICY_DIR": str(folder)})
    engine = edited.extensions["orgauthz.policy"].current.engine("pix4d")
    assert "billing_viewer" in engine.roles()
    with db.connection_context():
        from models import ApiKey

        key = ApiKey.create_key("add-role")
        Organization.create(id="o1", name="O", style="pix4d")
        User.create(id="bv", email="bv@x.io", email_key="bv@x.io")
        Membership.create(user="bv", org="o1", role="billing_viewer")
    api = Api(edited.test_client(), key)
    org = {"type": "Organization", "id": "o1"}
    assert api.allowed("bv", "view", org) is True
    assert api.allowed("bv", "view_credits", org) is True
    assert api.allowed("bv", "edit_billing", org) is False
    assert api.allowed("bv", "view", {"type": "Folder", "id": "f", "org": "o1"}) is False
