"""Safe policy reload under gunicorn.

The gunicorn master stages the policy folder on start and on every HUP: it loads it, runs
its test tables, and only if both succeed copies the files into an immutable snapshot
(``<snapshots>/<version>/``) and points ``ORGAUTHZ_POLICY_DIR`` at it. Workers, forked after
that, load the snapshot. HUP then replaces the workers gracefully (in-flight requests
finish), so no request is dropped. A folder that fails to load or to pass its tables is not
staged: the new workers load the last good snapshot, and ``ORGAUTHZ_POLICY_RELOAD_ERROR``
tells /readyz and the log why.

A refused folder that still loads (its tables fail) is kept too, as ``<snapshots>/refused/``
with ``refused.json`` (its version and when it was refused): the last one only, replaced
by the next. The console offers it, beside the snapshots of the previous live versions, as
a version to compare the live one with; nothing else reads it.
"""

import datetime
import json
import logging
import os
import shutil
from pathlib import Path

from authz.engine import POLICY_DIR, PolicyError, PolicySet, policy_version
from authz.tables import TableError, run_tables

log = logging.getLogger("orgauthz.reload")

SOURCE = "ORGAUTHZ_POLICY_SOURCE"
LIVE = "ORGAUTHZ_POLICY_DIR"
ERROR = "ORGAUTHZ_POLICY_RELOAD_ERROR"
REFUSED = "refused"  # the folder under the snapshot root keeping the last refused candidate
REFUSED_RECORD = "refused.json"


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


def snapshot_root() -> Path:
    root = os.environ.get("ORGAUTHZ_SNAPSHOT_DIR")
    return (
        Path(root)
        if root
        else Path(__file__).resolve().parent.parent / "instance" / "policy-snapshots"
    )


def stage(initial: bool) -> bool:
    """Verify the source folder and make it the live snapshot. Returns whether it did.

    ``initial``: at master start there is nothing to fall back on, so a failure raises
    PolicyError (gunicorn does not start). On reload a failure keeps the live snapshot.
    """
    source = Path(os.environ.setdefault(SOURCE, os.environ.get(LIVE, str(POLICY_DIR))))
    loaded = None
    try:
        version = policy_version(source)
        loaded = PolicySet(source)
        check_tables(loaded)
    except (PolicyError, OSError) as exc:
        message = f"policy in {source} not loaded: {exc}"
        if initial:
            raise PolicyError(message) from exc
        os.environ[ERROR] = message
        log.error("%s; keeping %s", message, os.environ.get(LIVE))
        if loaded is not None:  # it loads, its tables fail: kept for review
            keep_refused(source, version)
        return False
    target = snapshot_root() / version
    if not target.exists():
        partial = _copy_policy(source, target.with_name(version + ".partial"))
        partial.rename(target)
    os.environ[LIVE] = str(target)
    os.environ.pop(ERROR, None)
    log.info("policy version %s staged from %s", version, source)
    return True


def _copy_policy(source: Path, folder: Path) -> Path:
    """A fresh ``folder`` holding the policy and table files of ``source``."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for path in source.iterdir():
        if path.suffix in (".polar", ".yaml"):
            shutil.copy2(path, folder / path.name)
    return folder


def keep_refused(source: Path, version: str) -> None:
    """Copy a refused candidate that loads to ``<snapshots>/refused/`` (replacing the one
    before), with ``refused.json``. A failure to keep it is logged, never raised: the
    reload's answer does not depend on it."""
    root = snapshot_root()
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
