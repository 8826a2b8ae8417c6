"""The decision log survives a failing disk, stays bounded, says so, and rotates by size.

Before the fix the writer thread died on the first write error (the folder read-only, the
disk full): decisions kept answering but every later record queued in memory without limit,
nothing was written after the disk came back, and nothing (no log line, no metric, not
/readyz) said so.
"""

import contextlib
import json
import logging
import os
import subprocess
import time
import types
import uuid
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from ops import decisionlog
from routes.context import decision_context
from tests.support import poll, wait_until

DATASET = {"type": "Dataset", "id": "pix4d-bridge-scan"}


def dropped_total() -> float:
    return REGISTRY.get_sample_value("orgauthz_decision_log_dropped_total") or 0.0


def fake_decision():
    return types.SimpleNamespace(
        decision_id=uuid.uuid4().hex, allowed=False, policy_version="v", reason="test"
    )


def record_many(n: int) -> None:
    for _ in range(n):
        decisionlog.record(fake_decision(), "someone", "view", None, {"type": "X", "id": "y"})


@contextlib.contextmanager
def read_only(folder):
    """Make ``folder`` read-only for this process: chmod, and for root (whom modes do not
    stop) the immutable attribute; skip when neither holds."""
    os.chmod(folder, 0o555)
    immutable = False
    probe = folder / ".probe"
    try:
        probe.touch()
    except OSError:
        pass
    else:  # root: modes do not apply
        probe.unlink()
        immutable = (
            subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
        )
        if not immutable:
            os.chmod(folder, 0o755)
            pytest.skip("cannot make a folder read-only here (root on a filesystem without chattr)")
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        os.chmod(folder, 0o755)


@contextlib.contextmanager
def disk_full(path):
    """The log's path names /dev/full: every write fails with ENOSPC, as on a full disk."""
    if path.exists():
        path.unlink()
    path.symlink_to("/dev/full")
    try:
        yield
    finally:
        path.unlink()


def wait_for(check, seconds: float = 15.0) -> bool:
    return bool(poll(check, timeout=seconds, every=0.05))


@pytest.mark.parametrize("fault", ["read-only folder", "disk full"])
def test_a_failing_log_is_bounded_reported_and_resumes(
    api, demo, app, tmp_path, monkeypatch, caplog, backend, fault
):
    if backend != "sqlite":
        pytest.skip("the decision log does not depend on the database")
    monkeypatch.setattr(decisionlog, "MAX_QUEUE", 500, raising=False)
    monkeypatch.setattr(decisionlog, "RETRY_SECONDS", (0.05, 0.2), raising=False)
    folder = tmp_path / "logs"
    folder.mkdir()
    path = folder / "decisions.log"
    caplog.set_level(logging.WARNING, logger="orgauthz.decisionlog")
    fail = read_only(folder) if fault == "read-only folder" else disk_full(path)
    try:
        with fail:
            decisionlog.install(str(path), 1.0, decision_context)
            # Decisions still answer while the log cannot be written.
            ids = []
            for _ in range(20):
                response = api.post(
                    "/v1/authorize",
                    {"actor": {"id": "pix4d-reader"}, "action": "view", "resource": DATASET},
                )
                assert response.status_code == 200
                assert response.get_json()["allowed"] is True
                ids.append(response.get_json()["decision_id"])
            # Memory is bounded: the queue stops at its cap, the rest is dropped and counted
            # (before the fix: 5,020 queued, and on without limit).
            before = dropped_total()
            record_many(5_000)
            writer = decisionlog._sink[0]
            assert len(writer.queue) <= 500
            assert dropped_total() - before >= 3_000
            # /readyz says why (and stays 200: decisions work).
            assert wait_for(lambda: "decision_log_error" in api.get("/readyz").get_json())
            ready = api.get("/readyz")
            assert ready.status_code == 200
            error = ready.get_json()["decision_log_error"]
            assert "decisions.log" in error, error
            # One JSON error line when failing starts, not one per record or retry.
            failing = [r for r in caplog.records if r.levelno == logging.ERROR]
            assert len(failing) == 1, [r.getMessage() for r in failing]
            assert failing[0].msg["event"] == "decision_log_failing"
        # Writable again: what was queued is written, and /readyz no longer complains.
        assert wait_for(lambda: "decision_log_error" not in api.get("/readyz").get_json())
        decisionlog.flush()
        for decision_id in ids:
            assert decisionlog.find(str(path), decision_id) is not None
        response = api.post(
            "/v1/authorize",
            {"actor": {"id": "pix4d-reader"}, "action": "view", "resource": DATASET},
        )
        decisionlog.flush()
        assert decisionlog.find(str(path), response.get_json()["decision_id"]) is not None
        for text in path.read_text().splitlines():  # whole lines only
            assert not text or json.loads(text)["decision_id"]
    finally:
        if hasattr(decisionlog, "close"):
            decisionlog.close(str(path))


def test_the_log_rotates_by_size_and_replay_reads_rotated_files(tmp_path, monkeypatch):
    path = tmp_path / "decisions.log"
    decisionlog.install(str(path), 1.0, None, max_bytes=20_000, backups=2)
    try:
        written = []
        for _ in range(40):  # about 100 kB in batches of 10 lines
            batch = [fake_decision() for _ in range(10)]
            for decision in batch:
                decisionlog.record(decision, "someone", "view", None, {"type": "X", "id": "y"})
            decisionlog._sink[0].flush()  # this log's writer only
            written += batch
        names = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("decisions.log"))
        assert names == [
            "decisions.log",
            "decisions.log.1",
            "decisions.log.2",
            "decisions.log.lock",
        ]
        for name in names[:-1]:
            size = (tmp_path / name).stat().st_size
            assert 0 < size <= 20_000
        assert decisionlog.find(str(path), written[-1].decision_id) is not None
        kept = [d for d in written if decisionlog.find(str(path), d.decision_id) is not None]
        assert written[0] not in kept  # the oldest went with the third rotation
        assert kept == written[-len(kept) :]  # and every newer one is there
        line = (tmp_path / "decisions.log.1").read_text().splitlines()[0]
        assert ", " not in line and '": ' not in line  # compact lines
    finally:
        if hasattr(decisionlog, "close"):
            decisionlog.close(str(path))


def test_two_workers_rotating_one_file_lose_nothing(tmp_path):
    """Two writers (as two gunicorn workers) append to one file and rotate it: every line is
    in exactly one file, and no worker rotates the other's fresh file away."""
    path = str(tmp_path / "decisions.log")
    writers = [decisionlog._Writer(path, 100_000, 30_000, 50) for _ in range(2)]
    for w in writers:
        w.start()
    try:
        sent = []
        for _ in range(100):
            for w in writers:
                for _ in range(5):
                    decision = fake_decision()
                    w.put((decision, "a", "view", None, {"type": "X"}, None, None, time.time()))
                    sent.append(decision.decision_id)
            if len(sent) % 100 == 0:  # small batches: a file passes its cap by one at most
                for w in writers:
                    w.flush()
        for w in writers:
            w.flush()
        seen = []
        for name in decisionlog.files(path):
            for text in name.read_text().splitlines():
                if text:
                    seen.append(json.loads(text)["decision_id"])
        assert sorted(seen) == sorted(sent)
        for name in decisionlog.files(path):
            assert name.stat().st_size <= 30_000 + 50 * 400  # two workers racing: one batch over
    finally:
        for w in writers:
            w.close()


FSIZE_SCRIPT = r"""
import json, resource, signal, sys, time, types, uuid

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead

import models
from app import create_app
from authz.engine import POLICY_DIR
from ops import decisionlog

decisionlog.RETRY_SECONDS = (0.05, 0.2)
folder, = sys.argv[1:]
models.init_db(f"sqlite:///{folder}/test.db")
models.create_tables()
path = f"{folder}/decisions.log"
app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{folder}/test.db",
                  "DATABASE_BOUND": True, "DECISION_LOG": path, "POLICY_DIR": str(POLICY_DIR)})
client = app.test_client()

def record(n):
    ids = []
    for _ in range(n):
        d = types.SimpleNamespace(decision_id=uuid.uuid4().hex, allowed=True,
                                  policy_version="v", reason="r" * 200)
        decisionlog.record(d, "someone", "view", None, {"type": "X", "id": "y"})
        ids.append(d.decision_id)
    return ids

def wait(check):
    deadline = time.monotonic() + 15
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)

def ready_error():
    return client.get("/readyz").get_json().get("decision_log_error")

sent = record(50)
decisionlog.flush()
size = len(open(path, "rb").read())
# Room for a few more records, not for the next 100: a write stops short in a record.
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 3000, resource.RLIM_INFINITY))
sent += record(100)
wait(lambda: ready_error() is not None)
failing = {"error": ready_error(), "text": open(path, "rb").read().decode()}
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
wait(lambda: ready_error() is None)
sent += record(20)
decisionlog.flush()
print(json.dumps({"failing": failing, "sent": sent, "text": open(path, "rb").read().decode()}))
"""


def test_a_short_write_leaves_whole_records_only(tmp_path):
    """A file size limit (RLIMIT_FSIZE, as a disk that fills mid-write) stops a batch in the
    middle of a record: the file is cut back to its last whole record, /readyz says why, and
    once writes fit again every record is in the file, every line parseable (before: the
    half-written record stayed and the writer split it with its own newline, two bad lines)."""
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        [sys.executable, "-c", FSIZE_SCRIPT, str(tmp_path)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert "short write" in result["failing"]["error"] or "too large" in result["failing"]["error"]
    during = result["failing"]["text"]
    assert during.endswith("\n")
    for text in during.splitlines():  # while failing: whole records only
        json.loads(text)
    lines = result["text"].splitlines()
    ids = [json.loads(text)["decision_id"] for text in lines]  # every line parses
    assert sorted(ids) == sorted(result["sent"])  # each record once, none lost


def test_readyz_says_how_the_log_fails_now_and_clears_on_recovery(
    api, app, tmp_path, monkeypatch, backend
):
    """/readyz reports the writer's current state: a full disk, then a folder gone, then
    writable again (before: it showed the first error until the log wrote again)."""
    if backend != "sqlite":
        pytest.skip("the decision log does not depend on the database")
    monkeypatch.setattr(decisionlog, "RETRY_SECONDS", (0.05, 0.1))
    path = tmp_path / "logs" / "decisions.log"
    path.parent.mkdir()
    decisionlog.install(str(path), 1.0, None)
    try:

        def error():
            return api.get("/readyz").get_json().get("decision_log_error") or ""

        with disk_full(path):
            record_many(5)
            assert wait_for(lambda: "No space left" in error()), error()
        path.symlink_to(tmp_path / "gone" / "decisions.log")  # a folder removed
        assert wait_for(lambda: "No such file" in error()), error()
        path.unlink()
        assert wait_for(lambda: error() == ""), error()
        decisionlog._sink[0].flush()
        assert len(path.read_text().splitlines()) == 5
    finally:
        decisionlog.close(str(path))


def test_an_idle_writer_sleeps_until_a_put_wakes_it(tmp_path):
    """With nothing to write the writer waits with no timeout (a leaked or quiet writer costs
    no CPU: polling every 50 ms in every test's app once loaded the machine hundreds deep);
    the next put wakes it."""
    path = str(tmp_path / "decisions.log")
    w = decisionlog._Writer(path)
    w.start()
    try:
        wait_until(lambda: w._idle, what="the writer to go idle")
        cpu = time.thread_time()
        decision = fake_decision()
        w.put((decision, "a", "view", None, {"type": "X"}, None, None, time.time()))
        wait_until(lambda: Path(path).exists() and decision.decision_id in Path(path).read_text())
        assert time.thread_time() - cpu < 1.0
    finally:
        w.close()
