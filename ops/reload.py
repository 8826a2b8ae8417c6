"""Safe policy reload under gunicorn, without a stall.

The gunicorn master stages the policy folder (the setting POLICY_DIR) on start and on every
HUP: it loads it, runs its test tables, and only if both succeed copies the files into an
immutable snapshot (``<SNAPSHOT_DIR>/<version>/``) and records it in ``STAGED``. Workers are
forked after that and inherit ``STAGED``: create_app loads the snapshot it names.

A HUP no longer replaces the workers (the old ones stopped accepting before the new ones had
loaded a policy: seconds of near-zero throughput). The master stages the folder once and
records the outcome in ``<SNAPSHOT_DIR>/live.json`` (``publish``); a thread in each worker
(``watch``) sees the record change, loads the snapshot it names beside the running policy and
swaps it in with one assignment (``PolicyHolder.adopt``): requests in progress finish on the
policy they started with, the next ones get the new one, and the worker accepts throughout.
A folder that fails to load or to pass its tables is not staged: no worker loads anything,
and ``STAGED.error`` (in the record, so every worker's /readyz) says why. Nothing passes
through the environment.

A refused folder that still loads (its tables fail) is kept too, as ``<snapshots>/refused/``
with ``refused.json`` (its version and when it was refused): the last one only, replaced
by the next. The console offers it, beside the snapshots of the previous live versions, as
a version to compare the live one with; nothing else reads it.
"""

import datetime
import hashlib
import json
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from authz.engine import PolicyError, PolicyHolder, PolicySet, policy_version
from authz.tables import TableError, run_tables
from ops.metrics import POLICY_RELOADS

log = logging.getLogger("orgauthz.reload")

REFUSED = "refused"  # the folder under the snapshot root keeping the last refused candidate
REFUSED_RECORD = "refused.json"
LIVE_RECORD = "live.json"  # under the snapshot root: what the master staged last
WATCH_SECONDS = 0.2  # how often a worker looks at the record


def check_tables(policy: PolicySet) -> PolicySet:
    """Run a loaded policy's tables. Raises PolicyError naming the failing cells."""
    try:
        results = run_tables(policy)
    except TableError as exc:
        raise PolicyError(str(exc)) from exc
    failures = [str(f) for r in results for f in r.failures]
    if failures:
        raise PolicyError(f"{len(failures)} test table cells fail: " + "; ".join(failures[:5]))
    return policy


@dataclass
class Staged:
    """What the gunicorn master staged last: the live snapshot and why a reload was refused.
    Set in the master; every worker, forked after, reads its own copy."""

    live: Path | None = None
    error: str | None = None


STAGED = Staged()


def stage(initial: bool, source: Path, root: Path) -> bool:
    """Verify ``source`` and make it the live snapshot under ``root``. Returns whether it did.

    The files are copied first, and the copy is what is loaded, tested and made live: an
    edit to ``source`` during the check cannot slip unchecked files into the snapshot.
    ``initial``: at master start there is nothing to fall back on, so a failure raises
    PolicyError (gunicorn does not start). On reload any failure (a file that does not
    parse, fails its tables, or is not even UTF-8) keeps the live snapshot: gunicorn's
    master must never die of a policy.
    """
    source, root = Path(source), Path(root)
    loaded, version, partial = None, None, None
    try:
        root.mkdir(parents=True, exist_ok=True)
        partial = _copy_policy(source, root / f".staging-{os.getpid()}")
        version = policy_version(partial)
        loaded = PolicySet(partial)
        if not _passed(root / version):
            check_tables(loaded)
    except Exception as exc:  # noqa: BLE001: whatever the files hold, the master lives
        message = f"policy in {source} not loaded: {exc}"
        if partial is not None:
            shutil.rmtree(partial, ignore_errors=True)
        if initial:
            raise PolicyError(message) from exc
        STAGED.error = message
        log.error("%s; keeping %s", message, STAGED.live)
        if loaded is not None and version is not None:  # it loads, its tables fail: kept
            keep_refused(source, version, root)
        return False
    target = root / version
    if target.exists():
        shutil.rmtree(partial, ignore_errors=True)
    else:
        partial.rename(target)
    _mark_passed(target)
    STAGED.live, STAGED.error = target, None
    log.info("policy version %s staged from %s", version, source)
    return True


# A snapshot whose tables passed keeps a mark saying under which engine: the tables ran in
# seconds of Polar (5,795 questions, 9.5 s here) at every master start, and a restart with
# the same files and the same engine gives the same answers. The mark names the engine's
# code (authz/) and oso's version; any other engine runs the tables again. Only the master
# writes the mark, after the tables passed, in the snapshot root it owns.
PASSED = ".tables-passed"


def _engine_key() -> str:
    from importlib.metadata import version

    digest = hashlib.sha256(version("oso").encode())
    for path in sorted((Path(__file__).resolve().parent.parent / "authz").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


ENGINE_KEY = _engine_key()


def _passed(snapshot: Path) -> bool:
    """Whether ``snapshot``'s tables passed under this engine (its mark)."""
    try:
        return (snapshot / PASSED).read_text() == ENGINE_KEY
    except OSError:
        return False


def _mark_passed(snapshot: Path) -> None:
    """Mark ``snapshot``'s tables as passed under this engine (written whole, then renamed)."""
    partial = snapshot / f"{PASSED}.{os.getpid()}"
    try:
        partial.write_text(ENGINE_KEY)
        os.replace(partial, snapshot / PASSED)
    except OSError as exc:  # the next start runs the tables again
        log.warning("could not mark %s as checked: %s", snapshot, exc)


def _copy_policy(source: Path, folder: Path) -> Path:
    """A fresh ``folder`` holding the policy and table files of ``source``."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in source.iterdir():
        if path.suffix in (".polar", ".yaml"):
            shutil.copy2(path, folder / path.name)
    return folder


def keep_refused(source: Path, version: str, root: Path) -> None:
    """Copy a refused candidate that loads to ``<snapshots>/refused/`` (replacing the one
    before), with ``refused.json``. A failure to keep it is logged, never raised: the
    reload's answer does not depend on it."""
    target, old = root / REFUSED, root / (REFUSED + ".old")
    try:
        partial = _copy_policy(source, root / (REFUSED + ".partial"))
        if policy_version(partial) != version:  # changed while being copied: keep nothing
            shutil.rmtree(partial, ignore_errors=True)
            return
        record = {
            "version": version,
            "refused_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
        (partial / REFUSED_RECORD).write_text(json.dumps(record))
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        partial.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        log.warning("the refused policy %s was not kept for review: %s", version, exc)


def publish(root: Path) -> None:
    """Record ``STAGED`` (the live snapshot, why the last reload was refused) in
    ``<root>/live.json`` for the workers' watchers: written whole to a temporary file, then
    renamed over the record, so a worker never reads half of one. A failure is logged: the
    workers then keep what they run."""
    root = Path(root)
    record = {"live": str(STAGED.live) if STAGED.live else None, "error": STAGED.error}
    partial = root / f".{LIVE_RECORD}.{os.getpid()}"
    try:
        partial.write_text(json.dumps(record))
        os.replace(partial, root / LIVE_RECORD)
    except OSError as exc:
        log.error("the staged policy was not published to the workers: %s", exc)


def watch(holder: PolicyHolder, root: Path, interval: float = WATCH_SECONDS) -> threading.Thread:
    """Start a thread that keeps ``holder`` on what the master publishes in
    ``<root>/live.json``: its refusal message (``holder.error``, shown by /readyz) and, when
    the record names another snapshot, that policy, loaded beside the running one and swapped
    in (``PolicyHolder.adopt``). The master loaded it and ran its tables; a worker that still
    fails to load it keeps its policy and says so."""
    record = Path(root) / LIVE_RECORD

    def run() -> None:
        seen = None
        while True:
            try:
                stat = os.stat(record)
                mark = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
                if mark != seen:
                    seen = mark
                    _follow(holder, json.loads(record.read_text()))
            except FileNotFoundError:
                pass
            except Exception:  # noqa: BLE001 -- a watcher that dies would stop all reloads
                log.exception("reading the staged policy record %s", record)
            time.sleep(interval)

    thread = threading.Thread(target=run, name="policy-watch", daemon=True)
    thread.start()
    return thread


def _follow(holder: PolicyHolder, record: dict) -> None:
    live = record.get("live")
    if live and Path(live) != holder.directory:
        try:
            holder.adopt(Path(live))
        except Exception as exc:  # noqa: BLE001 -- keep the running policy, say why
            POLICY_RELOADS.labels("failed").inc()
            holder.error = f"policy in {live} not loaded by this worker: {exc}"
            log.error("%s; keeping version %s", holder.error, holder.current.version)
            return
        POLICY_RELOADS.labels("swapped").inc()
        log.info("policy version %s live in this worker", holder.current.version)
    holder.error = record.get("error")
