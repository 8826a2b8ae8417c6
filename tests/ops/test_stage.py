"""Staging a policy for gunicorn (ops/reload.py): a reload can never take the master down,
and the snapshot made live is exactly what was checked."""

import shutil

from authz.engine import POLICY_DIR, PolicySet, policy_version
from ops import reload as staging


def test_a_file_that_is_not_utf8_is_refused_and_the_live_one_stays(tmp_path, monkeypatch):
    monkeypatch.setattr(staging, "STAGED", staging.Staged())
    source, root = tmp_path / "policies", tmp_path / "snapshots"
    shutil.copytree(POLICY_DIR, source)
    assert staging.stage(True, source, root)
    live = staging.STAGED.live
    with open(source / "pix4d.polar", "ab") as f:  # a Latin-1 comment: not UTF-8
        f.write(b"\n# caf\xe9\n")
    assert staging.stage(False, source, root) is False  # before: UnicodeDecodeError
    assert staging.STAGED.live == live and "utf-8" in staging.STAGED.error
    assert sorted(p.name for p in root.iterdir()) == [live.name]


def test_an_edit_during_the_check_does_not_reach_the_snapshot(tmp_path, monkeypatch):
    monkeypatch.setattr(staging, "STAGED", staging.Staged())
    source, root = tmp_path / "policies", tmp_path / "snapshots"
    shutil.copytree(POLICY_DIR, source)
    checked = staging.check_tables

    def edit_while_checking(policy):
        result = checked(policy)
        (source / "pix4d.polar").write_text("this is not polar\n")
        return result

    monkeypatch.setattr(staging, "check_tables", edit_while_checking)
    assert staging.stage(True, source, root)
    live = staging.STAGED.live
    assert policy_version(live) == live.name  # the snapshot is what was checked
    PolicySet(live)  # and it loads
