"""Staging a policy for gunicorn (ops/reload.py): a reload can never take the master down,
and the snapshot made live is exactly what was checked.

Each test stages a folder of the shared file and one small style (``todo``: 401 cells, a
third of a second), not the shipped four: staging runs every table of the folder, and the
shipped ones are seconds of Polar each time; what is tested here is the staging, not them.
"""

from authz.engine import PolicySet, policy_version
from ops import reload as staging
from tests.support import policy_folder


def test_a_file_that_is_not_utf8_is_refused_and_the_live_one_stays(tmp_path, monkeypatch):
    monkeypatch.setattr(staging, "STAGED", staging.Staged())
    source, root = policy_folder(tmp_path / "policies", "todo"), tmp_path / "snapshots"
    assert staging.stage(True, source, root)
    live = staging.STAGED.live
    with open(source / "todo.polar", "ab") as f:  # a Latin-1 comment: not UTF-8
        f.write(b"\n# caf\xe9\n")
    assert staging.stage(False, source, root) is False  # before: UnicodeDecodeError
    assert staging.STAGED.live == live and "utf-8" in staging.STAGED.error
    assert sorted(p.name for p in root.iterdir()) == [live.name]


def test_an_edit_during_the_check_does_not_reach_the_snapshot(tmp_path, monkeypatch):
    monkeypatch.setattr(staging, "STAGED", staging.Staged())
    source, root = policy_folder(tmp_path / "policies", "todo"), tmp_path / "snapshots"
    checked = staging.check_tables

    def edit_while_checking(policy):
        result = checked(policy)
        (source / "todo.polar").write_text("this is not polar\n")
        return result

    monkeypatch.setattr(staging, "check_tables", edit_while_checking)
    assert staging.stage(True, source, root)
    live = staging.STAGED.live
    assert policy_version(live) == live.name  # the snapshot is what was checked
    PolicySet(live)  # and it loads


def _counting(monkeypatch) -> list:
    runs: list = []
    checked = staging.check_tables

    def counted(policy):
        runs.append(policy.directory)
        return checked(policy)

    monkeypatch.setattr(staging, "check_tables", counted)
    return runs


def test_the_same_files_under_the_same_engine_run_their_tables_once(tmp_path, monkeypatch):
    monkeypatch.setattr(staging, "STAGED", staging.Staged())
    source, root = policy_folder(tmp_path / "policies", "todo"), tmp_path / "snapshots"
    runs = _counting(monkeypatch)
    assert staging.stage(True, source, root)
    assert staging.stage(True, source, root)  # a restart: the mark says they passed
    assert len(runs) == 1
    monkeypatch.setattr(staging, "ENGINE_KEY", "another engine")
    assert staging.stage(True, source, root)  # another engine's answers may differ
    assert len(runs) == 2
    with open(source / "todo.polar", "a") as f:  # other files: a version of their own
        f.write("\n# a comment\n")
    assert staging.stage(False, source, root)
    assert len(runs) == 3


def test_a_policy_failing_its_tables_is_refused_at_every_stage(tmp_path, monkeypatch):
    monkeypatch.setattr(staging, "STAGED", staging.Staged())
    source, root = policy_folder(tmp_path / "policies", "todo"), tmp_path / "snapshots"
    assert staging.stage(True, source, root)
    live = staging.STAGED.live
    table = source / "todo.test.yaml"  # a setting the policy does not state: a failing table
    text = table.read_text()
    assert "invitation_lifetime_hours: 168" in text
    table.write_text(
        text.replace("invitation_lifetime_hours: 168", "invitation_lifetime_hours: 169")
    )
    runs = _counting(monkeypatch)
    for _ in range(2):  # never marked: refused again, its tables run again
        assert staging.stage(False, source, root) is False
        assert staging.STAGED.live == live
    assert len(runs) == 2
