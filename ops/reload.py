"""Safe policy reload under gunicorn.

The gunicorn master stages the policy folder on start and on every HUP: it loads it, runs
its test tables, and only if both succeed copies the files into an immutable snapshot
(``<snapshots>/<version>/``) and points ``ORGAUTHZ_POLICY_DIR`` at it. Workers, forked after
that, load the snapshot. HUP then replaces the workers gracefully (in-flight requests
finish), so no request is dropped. A folder that fails to load or to pass its tables is not
staged: the new workers load the last good snapshot, and ``ORGAUTHZ_POLICY_RELOAD_ERROR``
tells /readyz and the log why.
"""

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


def verify(directory: Path) -> PolicySet:
    """Load ``directory`` and run its tables. Raises PolicyError saying what is wrong."""
    policy = PolicySet(directory)
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
    try:
        version = policy_version(source)
        verify(source)
    except (PolicyError, OSError) as exc:
        message = f"policy in {source} not loaded: {exc}"
        if initial:
            raise PolicyError(message) from exc
        os.environ[ERROR] = message
        log.error("%s; keeping %s", message, os.environ.get(LIVE))
        return False
    target = snapshot_root() / version
    if not target.exists():
        partial = target.with_name(version + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for path in source.iterdir():
            if path.suffix in (".polar", ".yaml"):
                shutil.copy2(path, partial / path.name)
        partial.rename(target)
    os.environ[LIVE] = str(target)
    os.environ.pop(ERROR, None)
    log.info("policy version %s staged from %s", version, source)
    return True
