"""The policy test tables beside the policies: every style's cells pass, and the runner
really catches a policy that drifts from its table."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from authz.engine import POLICY_DIR, PolicyError, PolicySet
from authz.tables import TableError, load_table, run_table, table_path
from tests.support import policy_folder

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
    folder = policy_folder(tmp_path / "policies", "up42")  # the style edited below
    ok = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "policy", "test", "--dir", str(folder)],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
    )
    assert ok.returncode == 0, ok.stderr
    assert "up42:" in ok.stdout and "FAIL" not in ok.stdout

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


# ---------------------------------------------------------------- every clause pinned
def run_copy(tmp_path, style, *edits) -> list:
    """Run ``style``'s table against a copy of the policies with ``edits`` (file name, old,
    new) made; the failures, as text."""
    folder = copy_policies(tmp_path)
    for name, old, new in edits:
        path = folder / name
        text = path.read_text()
        assert text.count(old) == 1, old
        path.write_text(text.replace(old, new))
    result = run_table(PolicySet(folder).engine(style), load_table(table_path(folder, style)))
    return [str(f) for f in result.failures]


RESPONDIO_GRANT = (
    "respondio.polar",
    'space_assigner(actor, grant.parent) and grant.role = "member";',
    "space_assigner(actor, grant.parent);",
)


def test_respondio_grants_give_the_member_role_only(tmp_path):
    """Deleting `and grant.role = "member"` from respond.io's grant rule fails the rows of
    grants of every other role (a Space has no other)."""
    failed = run_copy(tmp_path, "respondio", RESPONDIO_GRANT)
    for resource in (
        "space_a_grant_of_org_admin",
        "space_a_grant_of_user_admin",
        "space_a_grant_of_billing_admin",
        "space_b_grant_of_owner",
    ):
        for principal in ("org_admin", "user_admin", "user_admin_assigned"):
            assert (
                f"respondio: {principal} grant on {resource}: expected deny, got allow" in failed
            ), failed


@pytest.mark.parametrize(
    "old, new",
    [
        # the text inverted
        (
            '"a Reader may not use desktop licenses, even one assigned to them"',
            '"a Reader may use desktop licenses, even one assigned to them"',
        ),
        # the condition inverted: the sentence shown to Readers of cloud licenses instead
        (
            'license.kind = "desktop" and\n    has_role(actor, "reader"',
            'license.kind = "cloud" and\n    has_role(actor, "reader"',
        ),
        # the Reader's condition dropped: a Member would be told the Reader's sentence
        (
            'license.kind = "desktop" and\n    has_role(actor, "reader", license.organization) and',
            'license.kind = "desktop" and',
        ),
    ],
    ids=["text inverted", "condition inverted", "reader condition dropped"],
)
def test_the_reader_desktop_license_refusal_is_pinned(tmp_path, old, new):
    failed = run_copy(tmp_path, "pix4d", ("pix4d.polar", old, new))
    assert any("reader use on desktop_license" in f or "member use on" in f for f in failed), failed
    assert all("expected the reason" in f or "no row of the table" in f for f in failed), failed


def test_a_reason_no_row_asserts_fails_the_table(tmp_path):
    rule = (
        'reason(_actor: User, "accept", invitation: Invitation,\n'
        '       "this invitation was sent to another email address") if'
    )
    failed = run_copy(
        tmp_path,
        "up42",
        (
            "up42.polar",
            rule,
            'reason(_actor: User, "accept", _invitation: Invitation,\n'
            '       "a sentence no row asserts (\\"quoted\\")") if false;\n' + rule,
        ),
    )
    assert failed == [
        "up42: no row of the table's reasons asserts the 'accept' reason "
        "'a sentence no row asserts (\"quoted\")': add one for a cell it explains"
    ]


def test_every_reason_the_policies_declare_is_read(tmp_path):
    from authz.tables import declared_reasons

    for style in POLICY.styles:
        engine = POLICY.engine(style)
        heads = sum(
            1
            for path in engine.files
            for line in Path(path).read_text().splitlines()
            if line.startswith("reason(")
        )
        assert len(declared_reasons(engine)) > 10
        assert heads >= len(declared_reasons(engine))


def test_a_reason_row_on_an_allowed_cell_is_an_error(tmp_path):
    folder = copy_policies(tmp_path)
    path = table_path(folder, "pix4d")
    path.write_text(
        path.read_text().replace(
            '      editor: "{a actor_role} may not invite people; Owners and Managers do"',
            '      owner: "{a actor_role} may not invite people; Owners and Managers do"',
            1,
        )
    )
    with pytest.raises(TableError, match="expects allowed"):
        run_table(PolicySet(folder).engine("pix4d"), load_table(path))
