"""Policy review: a style picked by tabs, its resource and management matrices, the diff of
the live policy against a version the server keeps (ops/snapshots.py: previous live
versions, the last refused candidate), chosen by id from a directory listing, and what
replaying the last logged decisions says of the refused candidate. No request names a
folder or sends Polar; a GET writes nothing and never touches the live policy."""

import logging
from pathlib import Path
from typing import Any

from flask import current_app, g, render_template, request
from flask.typing import ResponseReturnValue

from access.review import live_worlds, would_change
from authz import matrix as effective
from authz.diff import diff as policy_diff
from authz.engine import PolicySet
from ops.snapshots import KeptVersion, KeptVersionError, kept_versions, load_kept
from routes.console.base import HTML, bp
from routes.context import policy
from routes.openapi import doc

log = logging.getLogger("orgauthz.console")

REPLAY_LAST = 1000  # logged decisions the refused candidate is replayed on
CHANGES_SHOWN = 200  # rows of a diff or replay table shown at most
ONLY_KEPT = (
    "The console compares the live policy only with the versions the server keeps: "
    "choose one below. Compare other folders on the server with flask --app app policy diff."
)
NOT_KEPT = "That is not one of the versions the server keeps: choose one below."


class Comparison:
    """The diff asked by ``?against=`` (a kept version's id): the version chosen, the
    report, the replay of the refused candidate, or why there is none (and its status)."""

    def __init__(self) -> None:
        self.chosen: KeptVersion | None = None
        self.report: dict | None = None
        self.replay: dict | None = None
        self.error: str | None = None
        self.status = 200


def _compare(live: PolicySet, kept: list[KeptVersion]) -> Comparison:
    found = Comparison()
    against = request.args.get("against")
    if "old" in request.args or "new" in request.args:
        found.error, found.status = ONLY_KEPT, 400
        return found
    if against is None:
        return found
    found.chosen = next((k for k in kept if k.id == against), None)
    if found.chosen is None:
        found.error, found.status = NOT_KEPT, 400
        return found
    try:
        other = load_kept(found.chosen)
    except KeptVersionError as exc:
        found.error = str(exc).capitalize() + "."
        return found
    # A previous version: what changed since. The refused candidate: what it would change,
    # and on the decisions logged lately. A key bound to organizations: the matrices only
    # (the live data and the decision log are every organization's).
    old, new = (other, live) if found.chosen.kind == "previous" else (live, other)
    scoped = g.get("key_orgs") is not None
    found.report = policy_diff(old, new, None if scoped else live_worlds())
    if found.chosen.kind == "refused" and not scoped:
        found.replay = _replay(live, other)
    return found


def _pick(args: dict, name: str, choices: list, default: str) -> str:
    value = args.get(name) or default
    return value if value in choices else default


def _matrices(live: PolicySet, style: str, show: str) -> dict | None:
    """The matrix shown, of the pair for_console gives (each costs up to a second)."""
    if not style:
        return None
    engine = live.engine(style)
    return {
        "style": style,
        "resources": effective.compute(engine, live.version) if show == "resources" else None,
        "management": effective.management(engine, live.version) if show == "management" else None,
    }


@bp.get("/policies")
@doc(content_types=HTML)
def policies() -> ResponseReturnValue:
    """One style at a time (tabs: ``?style=``): its resource matrix and its management
    matrix; the diff of the live policy against a version the server keeps (a previous
    live version, or the last refused candidate), by id; for the refused candidate, what
    replaying the last logged decisions says it would change."""
    live = policy()
    styles = list(live.styles)
    style = _pick(request.args, "style", styles, styles[0] if styles else "")
    show = _pick(request.args, "show", ["resources", "management"], "resources")
    kept = kept_versions(Path(current_app.config["SNAPSHOT_DIR"]), live.version)
    found = _compare(live, kept)
    if found.report is not None and "style" not in request.args:
        changed = [c.get("style") for c in found.report["matrix"] if c.get("style") in styles]
        style = changed[0] if changed else style  # opened on the first style it touches
    page = render_template(
        "console/policies.html",
        title="Policies",
        styles=styles,
        style=style,
        show=show,
        shown=_matrices(live, style, show),
        version=live.version,
        kept=kept,
        chosen=found.chosen,
        report=_split_report(found.report, style) if found.report else None,
        replay=found.replay,
        diff_error=found.error,
        shown_max=CHANGES_SHOWN,
    )
    return page, found.status


def _split_report(report: dict, style: str) -> dict:
    """The diff report's rows of the style shown, and how many rows other styles have."""
    cells = report["matrix"]

    def of(kind: str) -> list:
        return [c for c in cells if c.get("style") == style and c.get("kind") == kind]

    return {
        **report,
        "resource_cells": of("resource"),
        "management_cells": of("management"),
        "style_cells": [c for c in cells if "kind" not in c],
        "elsewhere": sum(1 for c in cells if c.get("style") != style and "kind" in c),
    }


def _replay(live: PolicySet, candidate: PolicySet) -> dict[str, Any]:
    """``would_change`` on the last REPLAY_LAST logged decisions, or why it was not run."""
    log_path = current_app.config.get("DECISION_LOG") or ""
    if not log_path or log_path == "off":
        return {"off": True}
    try:
        result: dict[str, Any] = would_change(live, candidate, log_path, last=REPLAY_LAST)
    except OSError as exc:
        log.warning("replay of the decision log failed: %s", exc)
        return {"failed": True}
    return result
