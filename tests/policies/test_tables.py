"""The policy test tables beside the policies: every style's cells pass, and the runner
really catches a policy that drifts from its table."""

import shutil
import subprocess
import sys

import pytest

from authz.engine import POLICY_DIR, PolicyError, PolicySet
from authz.tables import TableError, load_table, run_table, table_path

POLICY = PolicySet(POLICY_DIR)


@pytest.mark.parametrize("style", POLICY.styles)
def test_table_of_style_passes(style):
    result = run_table(POLICY.engine(style), load_table(table_path(POLICY_DIR, style)))
    assert result.cells > 100
    assert [str(f) for f in result.failures] == []


def test_every_style_has_its_vocabulary_roles():
    # docs/VOCABULARY.md fixes these names; a style may add, never rename or drop.
    assert POLICY.engine("pix4d").roles() == ["owner", "manager", "editor", "reader", "member"]
    assert POLICY.engine("up42").roles() == ["admin", "member"]
    assert POLICY.engine("respondio").roles() == [
        "org_admin",
        "billing_admin",
        "user_admin",
        "member",
    ]


def copy_policies(tmp_path):
    target = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, target)
    return target


def test_a_policy_that_drifts_from_its_table_fails_it(tmp_path):
    folder = copy_policies(tmp_path)
    path = folder / "pix4d.polar"
    text = path.read_text()
    # Editors lose "upload" on folders: the table says they have it.
    changed = text.replace("resource Folder {", "resource Folder {\n  # changed", 1)
    changed = changed.replace('"upload" if "editor";', "", 1)
    assert changed != text
    path.write_text(changed)
    policy = PolicySet(folder)
    result = run_table(policy.engine("pix4d"), load_table(table_path(folder, "pix4d")))
    failed = {(f.principal, f.resource, f.action) for f in result.failures}
    assert ("editor", "folder", "upload") in failed
    assert all(f.expected and not f.got for f in result.failures)


def test_a_table_naming_an_undeclared_action_is_an_error(tmp_path):
    folder = copy_policies(tmp_path)
    path = table_path(folder, "pix4d")
    text = path.read_text()
    path.write_text(text.replace("    close: [owner]", "    fly: [owner]\n    close: [owner]", 1))
    with pytest.raises(TableError, match="no action 'fly'"):
        run_table(PolicySet(folder).engine("pix4d"), load_table(path))


def test_a_policy_that_does_not_parse_names_file_line_and_column(tmp_path):
    folder = copy_policies(tmp_path)
    path = folder / "respondio.polar"
    lines = path.read_text().splitlines()
    number = next(i for i, line in enumerate(lines) if '"view" if "billing_admin";' in line)
    lines[number] = lines[number].replace(" if ", " if if ")  # a syntax error
    path.write_text("\n".join(lines))
    with pytest.raises(PolicyError) as info:
        PolicySet(folder)
    message = str(info.value)
    assert "respondio.polar" in message
    assert f"line {number + 1}, column" in message


def test_policy_test_command_reports_failures_and_exit_code(tmp_path):
    folder = copy_policies(tmp_path)
    ok = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "policy", "test", "--dir", str(folder)],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
    )
    assert ok.returncode == 0, ok.stderr
    assert "pix4d:" in ok.stdout and "FAIL" not in ok.stdout

    path = folder / "up42.polar"
    path.write_text(
        path.read_text().replace('"buy_credits" if "admin";', '"buy_credits" if "member";')
    )
    bad = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "policy", "test", "--dir", str(folder)],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
    )
    assert bad.returncode == 1
    assert "FAIL up42: member buy_credits on org: expected deny, got allow" in bad.stdout


def _env(tmp_path):
    import os

    return {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
