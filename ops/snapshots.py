"""The policy versions the server keeps, read back for review (the console's diff and replay).

ops/reload.py writes them under the snapshot root: a folder per live version it staged
(``<root>/<version>/``) and the last refused candidate that still loads (``<root>/refused/``
with ``refused.json``). This module only lists and loads them: a directory listing, no name
taken from a request, and a kept version is loaded only after its files are checked to
still hash to the version they were kept as.
"""

import datetime
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from authz.engine import PolicyError, PolicySet, policy_version
from ops.reload import REFUSED, REFUSED_RECORD

log = logging.getLogger("orgauthz.snapshots")

VERSION_NAME = re.compile(r"[0-9a-f]{16}")
KEPT_SHOWN = 20  # the newest previous versions offered
RECORD_MAX = 4096  # bytes of refused.json read at most


@dataclass(frozen=True)
class KeptVersion:
    """One kept version: ``id`` names it in a request (its version, or ``refused``);
    ``kind`` is ``previous`` (a former live version) or ``refused`` (the last refused
    candidate); ``when`` when it was kept (ISO 8601)."""

    id: str
    kind: str
    version: str
    when: str
    folder: Path


class KeptVersionError(Exception):
    """A kept version could not be compared (said plainly; the log has the detail)."""


def kept_versions(root: Path, live_version: str) -> list[KeptVersion]:
    """The versions kept under ``root``, other than the live one, newest first: the last
    refused candidate, then the newest KEPT_SHOWN previous live versions."""
    found = sorted(_previous(root, live_version), key=lambda k: k.when, reverse=True)
    refused = _refused(root, live_version)
    return ([refused] if refused else []) + found[:KEPT_SHOWN]


def _previous(root: Path, live_version: str) -> list[KeptVersion]:
    try:
        entries = list(os.scandir(root))
    except OSError:
        return []
    found = []
    for entry in entries:
        if not VERSION_NAME.fullmatch(entry.name) or entry.name == live_version:
            continue
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue
            stamp = entry.stat().st_mtime
        except OSError:
            continue
        when = datetime.datetime.fromtimestamp(stamp, datetime.UTC).isoformat(timespec="seconds")
        found.append(KeptVersion(entry.name, "previous", entry.name, when, Path(entry.path)))
    return found


def _refused(root: Path, live_version: str) -> KeptVersion | None:
    folder = root / REFUSED
    try:
        if folder.is_symlink() or not folder.is_dir():
            return None
        with open(folder / REFUSED_RECORD, "rb") as f:
            record = json.loads(f.read(RECORD_MAX))
        version, when = record["version"], str(record.get("refused_at", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(version, str) or not VERSION_NAME.fullmatch(version):
        return None
    if version == live_version:
        return None
    return KeptVersion(REFUSED, "refused", version, when[:40], folder)


def load_kept(kept: KeptVersion) -> PolicySet:
    """Load a kept version from its folder, after checking its files still hash to the
    version they were kept as. Raises KeptVersionError."""
    try:
        if policy_version(kept.folder) != kept.version:
            raise KeptVersionError("that version's files changed since it was kept")
        return PolicySet(kept.folder)
    except (PolicyError, OSError) as exc:
        log.warning("kept policy version %s could not be loaded: %s", kept.version, exc)
        raise KeptVersionError(
            "that version could not be loaded; the service log says why"
        ) from exc
