"""The console's policy diff loads Polar only from the versions the server itself keeps.

It once loaded any folder a request named (``/console/policies?diff=1&old=<folder>``): a
.polar file written anywhere ran its inline queries when a logged-in reviewer followed a
link. Now no request names a folder: the page lists the snapshots of previous live versions
and the last refused candidate (ops/reload.py keeps both) and accepts only an id from that
list. A GET writes nothing and leaves the live policy alone; errors are plain sentences.
"""

import os
import shutil
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from authz.engine import POLICY_DIR, policy_version
from ops import reload as staging
from tests.routes.console_helpers import console_table, login

pytestmark = [pytest.mark.usefixtures(console_table.__name__)]


# Every file opened and every folder listed in this process, while a test watches (an audit
# hook cannot be removed, so it is installed once and switched on and off).
WATCHED: list = []
_WATCHING = {"on": False}


def _audit(event, args):
    """Records (event, path, writes): ``writes`` whether an open may write."""
    if _WATCHING["on"] and event in ("open", "os.scandir", "os.listdir", "pathlib.Path.glob"):
        path = args[0]
        path = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else str(path)
        writes = False
        if event == "open":
            mode, flags = args[1], args[2]
            writes = bool(set(mode or "") & set("wax+")) or bool(
                (flags or 0) & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
            )
        WATCHED.append((event, path, writes))


sys.addaudithook(_audit)


@pytest.fixture
def watch():
    WATCHED.clear()
    _WATCHING["on"] = True
    yield WATCHED
    _WATCHING["on"] = False


@pytest.fixture
def snapshots(app, tmp_path, monkeypatch):
    """A snapshot root of this test's own (the app's SNAPSHOT_DIR setting), and a record of
    what was staged that ends with the test."""
    root = tmp_path / "snapshots"
    app.config["SNAPSHOT_DIR"] = str(root)
    monkeypatch.setattr(staging, "STAGED", staging.Staged())
    return root


@pytest.fixture
def reviewer(app, api, demo):
    client = app.test_client()
    login(client, api.key)
    return client


def candidate(tmp_path, name="candidate", up42_member_buys=False, comment=None, extra=None):
    """A copy of the live policies, changed."""
    folder = tmp_path / name
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(POLICY_DIR, folder)
    if up42_member_buys:
        up42 = folder / "up42.polar"
        up42.write_text(
            up42.read_text().replace('"buy_credits" if "admin";', '"buy_credits" if "member";')
        )
    if comment or extra:
        with open(folder / "pix4d.polar", "a") as f:
            f.write("\n" + (comment or extra) + "\n")
    return folder


def stage(source: Path, root: Path) -> bool:
    return staging.stage(False, source, root)


def options(page: bytes) -> list:
    import re

    return re.findall(rb'<option value="([^"]+)" data-kind="([a-z]+)"', page)


# ---------------------------------------------------------------- the exploit, refused

EXPLOIT = """
?= x = "{marker}" and x.__class__.__mro__ = y and y.__subclasses__() = z;
"""


@pytest.mark.parametrize("param", ["old", "new"])
def test_the_old_exploit_url_reads_no_folder(reviewer, tmp_path, snapshots, watch, param):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "pix4d.polar").write_text(EXPLOIT.format(marker=marker))
    live_before = reviewer.application.extensions["orgauthz.policy"].current
    watch.clear()  # from here on
    for url in (
        f"/console/policies?diff=1&{param}={quote(str(evil))}",
        f"/console/policies?against={quote(str(evil))}",
        f"/console/policies?against={quote('../' + evil.name)}",
        f"/console/policies?against={quote(str(evil / 'pix4d.polar'))}",
    ):
        answer = reviewer.get(url)
        assert answer.status_code == 400, url
        assert str(evil).encode() not in answer.data and b"evil" not in answer.data
        assert b"pix4d.polar" not in answer.data
    # Not one file of the folder was opened, nor the folder listed; nothing ran.
    assert [w for w in watch if str(evil) in w[1]] == []
    assert not marker.exists()
    assert reviewer.application.extensions["orgauthz.policy"].current is live_before


def test_a_missing_folder_and_an_existing_one_answer_alike(reviewer, tmp_path, snapshots):
    there = reviewer.get(f"/console/policies?diff=1&old={quote(str(tmp_path))}")
    not_there = reviewer.get(f"/console/policies?diff=1&old={quote(str(tmp_path / 'nope'))}")
    assert there.status_code == not_there.status_code == 400
    assert there.data.replace(str(tmp_path).encode(), b"") == not_there.data.replace(
        str(tmp_path / "nope").encode(), b""
    )
    assert b"not a folder" not in there.data and b"flask --app app policy diff" in there.data


# ---------------------------------------------------------------- the versions kept


def test_no_kept_version_nothing_to_choose(reviewer, snapshots):
    page = reviewer.get("/console/policies")
    assert page.status_code == 200 and b'id="no-kept"' in page.data
    assert options(page.data) == []
    assert b'name="old"' not in page.data and b'name="new"' not in page.data


def test_diff_against_a_previous_live_version(reviewer, tmp_path, snapshots, monkeypatch, watch):
    # A version where an UP42 member could buy credits was live before (kept as stage()
    # keeps one that goes live: a folder named by its version), then the live policies
    # were staged.
    wider = candidate(tmp_path, "wider", up42_member_buys=True)
    previous = policy_version(wider)
    shutil.copytree(wider, snapshots / previous)
    assert stage(POLICY_DIR, snapshots)
    live = reviewer.application.extensions["orgauthz.policy"].current
    assert (snapshots / live.version).is_dir()

    page = reviewer.get("/console/policies")
    # The live version's own snapshot is not offered: only the previous one.
    assert options(page.data) == [(previous.encode(), b"previous")]
    listing_before = sorted((p, p.stat().st_mtime_ns) for p in snapshots.rglob("*"))
    watch.clear()
    answer = reviewer.get(f"/console/policies?against={previous}")
    assert answer.status_code == 200
    report = answer.data[answer.data.index(b'id="diff-report"') :]
    assert b"What changed since the previous version" in report
    assert f"<code>{previous}</code> → <code>{live.version}</code>".encode() in report
    row = (
        b'<tr class="loses"><td class="change">loses</td><td>member</td><td>buy_credits</td>'
        b"<td>Organization</td><td>up42</td></tr>"
    )
    assert row in report
    assert b"<td>up42-member</td>" in report  # and on the live data, the member who loses it
    # A GET wrote nothing (no file opened to write under the snapshots or the policies; the
    # listing and its times unchanged) and left the live policy as it was.
    written = [w for w in watch if w[2] and (str(snapshots) in w[1] or str(POLICY_DIR) in w[1])]
    assert written == []
    assert sorted((p, p.stat().st_mtime_ns) for p in snapshots.rglob("*")) == listing_before
    assert reviewer.application.extensions["orgauthz.policy"].current is live


# Staging and keeping read files only, and this report has no live-data rows (the previous
# version's test reads live data on both backends): one backend.
@pytest.mark.parametrize("backend", ["sqlite"])
def test_diff_against_the_last_refused_candidate(reviewer, tmp_path, snapshots, monkeypatch):
    # A candidate that loads but fails its tables is refused, and kept.
    wider = candidate(tmp_path, "wider", up42_member_buys=True)
    assert not stage(wider, snapshots)
    assert "test table cells fail" in staging.STAGED.error
    kept = snapshots / staging.REFUSED
    assert policy_version(kept) == policy_version(wider)
    page = reviewer.get("/console/policies")
    assert options(page.data) == [(b"refused", b"refused")]
    assert policy_version(wider).encode() in page.data
    answer = reviewer.get("/console/policies?against=refused")
    assert answer.status_code == 200
    report = answer.data[answer.data.index(b'id="diff-report"') :]
    assert b"What the refused candidate would change" in report
    row = (
        b'<tr class="gains"><td class="change">gains</td><td>member</td><td>buy_credits</td>'
        b"<td>Organization</td><td>up42</td></tr>"
    )
    assert row in report
    # The next refusal replaces it; a folder that does not load is not kept.
    other = candidate(tmp_path, "other", up42_member_buys=True, comment="# another one")
    assert not stage(other, snapshots)
    assert policy_version(kept) == policy_version(other)
    assert not (snapshots / "refused.partial").exists() and not (snapshots / "refused.old").exists()
    broken = candidate(tmp_path, "broken", extra="this is not polar")
    assert not stage(broken, snapshots)
    assert policy_version(kept) == policy_version(other)


def test_kept_files_that_changed_or_do_not_load_are_said_plainly(
    reviewer, tmp_path, snapshots, monkeypatch
):
    # A snapshot whose files no longer hash to its name.
    snapshots.mkdir(parents=True)
    changed = candidate(tmp_path, "changed", comment="# one")
    name = policy_version(changed)
    changed.rename(snapshots / name)
    with open(snapshots / name / "pix4d.polar", "a") as f:
        f.write("# edited after it was kept\n")
    answer = reviewer.get(f"/console/policies?against={name}")
    assert answer.status_code == 200
    assert b"That version&#39;s files changed since it was kept." in answer.data
    assert b'id="diff-report"' not in answer.data
    # A snapshot named by its hash that does not load: no source line, no path.
    broken = candidate(tmp_path, "broken", extra="allow(x, y, z) if this is not polar;")
    name = policy_version(broken)
    broken.rename(snapshots / name)
    answer = reviewer.get(f"/console/policies?against={name}")
    assert answer.status_code == 200
    assert b"That version could not be loaded; the service log says why." in answer.data
    assert b"this is not polar" not in answer.data and str(snapshots).encode() not in answer.data
    assert b"line" not in answer.data.split(b'id="diff"')[1].split(b"</section>")[0]


def test_a_symlink_named_like_a_version_is_not_offered(reviewer, tmp_path, snapshots):
    elsewhere = candidate(tmp_path, "elsewhere", comment="# elsewhere")
    snapshots.mkdir(parents=True)
    (snapshots / policy_version(elsewhere)).symlink_to(elsewhere, target_is_directory=True)
    (snapshots / staging.REFUSED).symlink_to(elsewhere, target_is_directory=True)
    page = reviewer.get("/console/policies")
    assert options(page.data) == []
    answer = reviewer.get(f"/console/policies?against={policy_version(elsewhere)}")
    assert answer.status_code == 400
