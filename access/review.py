"""What the review tools need from the database and the decision log.

- ``live_worlds``: the live data a policy diff compares (authz/diff.py is pure and is
  handed it here).
- Replay: the decisions the service logged (ops/decisionlog.py, rotated files included),
  decided again on today's data under a candidate policy and under the running one: which
  answers a policy change would flip on real traffic. ``replay_window`` is the gate of
  ``flask decisions replay --since``; ``would_change`` what the console shows ("how many of
  the last N decisions would change"); ``replay_one`` a single logged decision, then and now.

A replay is not a decision: it is not written to the decision log (the next replay would
read it back as traffic) and needs no actor to be present.
"""

import datetime
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple, cast

from access.decisions import Decision, _decide
from access.targets import AmbiguousResource, TargetBuilder, custom_permissions, node_of
from authz.diff import Member, World
from authz.engine import PolicySet, asking
from authz.view import MANAGEMENT_TYPES, Node, OrgRef, Target, management_target
from models.facts import open_orgs
from ops import decisionlog

REPLAY_BYTES = 64 * 1024 * 1024  # distinct decisions kept while replaying (estimated size)
ENTRY_BYTES = 1000  # a kept decision's dict, list and strings, beyond its key's text
TAIL_BLOCK = 64 * 1024


def live_worlds() -> Iterator[World]:
    """Every open organization with its members, their grants and every registered chain,
    one organization at a time."""
    for org, memberships, stored_grants, resources, team_roles, team_grants in open_orgs():
        grants: dict = {}
        for g in stored_grants:
            held = grants.setdefault(g.user_id, {})
            held[g.resource_id] = held.get(g.resource_id, ()) + (g.role,)
        for user, on in team_grants.items():  # a member holds its teams' grants as its own
            held = grants.setdefault(user, {})
            for pk, roles in on.items():
                held[pk] = tuple(sorted({*held.get(pk, ()), *roles}))
        members = [
            Member(
                m.user_id,
                m.role,
                grants.get(m.user_id, {}),
                tuple(sorted(team_roles.get(m.user_id, ()))),
            )
            for m in memberships
        ]
        rows = {r.id: r for r in resources}
        root = Node("Organization", org.id)
        chains: list[tuple[Node, ...]] = [(root,)]
        for r in rows.values():
            chains.append(
                (root, *(node_of(rows[pk]) for pk in r.ancestor_ids if pk in rows), node_of(r))
            )
        custom = custom_permissions(org.custom_roles)  # the org's own roles, as decisions see them
        yield World(OrgRef(org.id, org.style, org.closed_at, custom_roles=custom), members, chains)


# ---------------------------------------------------------------- reading the log

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> datetime.timedelta:
    """``90s``, ``30m``, ``24h``, ``7d``, ``2w``. Raises ValueError naming the accepted forms."""
    match = _DURATION.match(text or "")
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration: a number and s, m, h, d or w (e.g. 7d)")
    return datetime.timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


def _log_files(path: str) -> list:
    """The log and its rotated files, newest first (the decision log's own listing)."""
    listing = getattr(decisionlog, "files", None)
    return list(listing(path)) if listing else [Path(path)]


def _parse(text: str) -> dict | None:
    try:
        line = json.loads(text)
    except ValueError:  # a line cut short
        return None
    return line if isinstance(line, dict) and "decision_id" in line else None


def _time(line: dict) -> datetime.datetime | None:
    try:
        when = datetime.datetime.fromisoformat(str(line.get("time")))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=datetime.UTC)


def lines_since(path: str, since: datetime.datetime) -> Iterator[dict]:
    """Every logged decision at or after ``since`` (aware), in the log and its rotated files;
    a rotated file last written before ``since`` is not opened."""
    for name in _log_files(path):
        try:
            modified = datetime.datetime.fromtimestamp(os.stat(name).st_mtime, datetime.UTC)
            if modified < since:
                continue
            with open(name, encoding="utf-8", errors="replace") as f:
                for text in f:
                    line = _parse(text)
                    # _parse gives None or a dict with a decision_id: never an empty one.
                    when = cast(datetime.datetime | None, line and _time(line))
                    if when is not None and when >= since:
                        assert line is not None  # a time was read from it
                        yield line
        except FileNotFoundError:  # rotated away meanwhile
            continue


def _reversed_lines(name: str | Path) -> Iterator[str]:
    """The lines of a file, last first, read in blocks from its end."""
    with open(name, "rb") as f:
        f.seek(0, os.SEEK_END)
        position, rest = f.tell(), b""
        while position > 0:
            step = min(TAIL_BLOCK, position)
            position -= step
            f.seek(position)
            chunk = f.read(step) + rest
            parts = chunk.split(b"\n")
            rest = parts[0]
            for part in reversed(parts[1:]):
                if part.strip():
                    yield part.decode("utf-8", "replace")
        if rest.strip():
            yield rest.decode("utf-8", "replace")


def last_lines(path: str, count: int) -> list:
    """The last ``count`` logged decisions (newest first), across rotated files."""
    out: list = []
    for name in _log_files(path):
        try:
            for text in _reversed_lines(name):
                line = _parse(text)
                if line is not None:
                    out.append(line)
                    if len(out) >= count:
                        return out
        except FileNotFoundError:
            continue
    return out


# ---------------------------------------------------------------- deciding again


def target_of(facts: TargetBuilder, ref: dict | None) -> Target | None:
    """The target a logged resource record names, resolved on today's data: a registered
    resource from the database, a management resource or an inline one as logged."""
    if not ref:
        return None
    if ref.get("type") in MANAGEMENT_TYPES:
        org = facts.org(ref.get("org") or "") or OrgRef("", ref.get("style", ""))
        parent = ref.get("parent")
        under = facts.registered(org.id, parent["type"], parent["id"]) if parent else None
        return management_target(
            org, ref["type"], ref.get("attributes") or {}, under, standalone=not ref.get("org")
        )
    try:
        return facts.target({"parent": None, **ref})
    except AmbiguousResource:  # a record with no org, of an id several orgs now register
        return None


def redecide(
    policy: PolicySet, facts: TargetBuilder, line: dict[str, Any], explain: bool = False
) -> Decision:
    """The logged question of ``line`` decided again under ``policy`` on today's data, not
    logged. Raises FactsUnavailable when the database cannot be read."""
    target = target_of(facts, line.get("resource"))
    # As logged (ops/decisionlog.py writes both); a line without them is asked as is, and
    # whatever cannot be decided is denied.
    actor, action = cast(str, line.get("actor")), cast(str, line.get("action"))
    context = line.get("context")  # the check's request context, as logged
    with asking(context if isinstance(context, dict) else None):
        return _decide(policy, facts, actor, action, target, explain=explain)


def replay_one(policy: PolicySet, line: dict) -> Decision:
    """One logged decision decided again under ``policy`` and today's data (explained)."""
    return redecide(policy, TargetBuilder(), line, explain=True)


class Change(NamedTuple):
    """A distinct logged question whose answer the candidate policy changes."""

    actor: str
    action: str
    resource: dict | None
    times: int  # how often the window logged it
    last_time: str
    decision_id: str  # the newest logged decision of it
    logged: bool  # the newest logged answer
    before: bool  # the baseline policy, today's data
    after: bool  # the candidate policy, today's data

    @property
    def change(self) -> str:
        return "gains" if self.after else "loses"

    def as_json(self) -> dict:
        return {**self._asdict(), "change": self.change}


def _key(line: dict) -> str:
    return json.dumps(
        [line.get("actor"), line.get("action"), line.get("resource"), line.get("context")],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )


def _distinct(lines: Iterable, max_bytes: int) -> tuple[dict, int, int]:
    """The distinct questions of ``lines`` ({key: [its latest line, times asked]}) up to
    ``max_bytes``, how many lines were read, and how many were skipped past the bound."""
    seen: dict = {}
    used = total = skipped = 0
    for line in lines:
        total += 1
        key = _key(line)
        entry = seen.get(key)
        if entry is None:
            size = 4 * len(key) + ENTRY_BYTES  # the key, the line's copy of it, overheads
            if used + size > max_bytes:
                skipped += 1
                continue
            used += size
            seen[key] = [line, 1]
        else:
            entry[1] += 1
            if str(line.get("time", "")) >= str(entry[0].get("time", "")):
                entry[0] = line
    return seen, total, skipped


def replay(
    baseline: PolicySet, candidate: PolicySet, lines: Iterable, max_bytes: int = REPLAY_BYTES
) -> dict:
    """Decide every distinct question of ``lines`` again on today's data under both
    policies; the report lists those whose answer differs, allows gained first.

    ``lines``: logged decisions, any order. Distinct questions are kept up to ``max_bytes``
    (an estimate of what each costs in memory); lines of further new questions are counted
    as ``skipped`` and not replayed.
    """
    seen, total, skipped = _distinct(lines, max_bytes)
    facts = TargetBuilder()
    changes = []
    for line, times in seen.values():
        before = redecide(baseline, facts, line).allowed
        after = redecide(candidate, facts, line).allowed
        if before != after:
            changes.append(
                Change(
                    line.get("actor"),
                    line.get("action"),
                    line.get("resource"),
                    times,
                    str(line.get("time", "")),
                    str(line.get("decision_id", "")),
                    bool(line.get("allowed")),
                    before,
                    after,
                )
            )
    changes.sort(key=lambda c: (not c.after, -c.times, c.actor or "", c.action or ""))
    gained = [c for c in changes if c.after]
    return {
        "baseline_version": baseline.version,
        "candidate_version": candidate.version,
        "lines": total,
        "distinct": len(seen),
        "skipped": skipped,
        "changed": len(changes),
        "gained": len(gained),
        "lost": len(changes) - len(gained),
        "lines_changed": sum(c.times for c in changes),
        "lines_gained": sum(c.times for c in gained),
        "changes": [c.as_json() for c in changes],
    }


def replay_window(
    baseline: PolicySet,
    candidate: PolicySet,
    log_path: str,
    window: datetime.timedelta,
    now: datetime.datetime | None = None,
) -> dict:
    """``replay`` of every decision logged in the last ``window`` (the gate of ``flask
    decisions replay --since``): it fails when ``report["gained"]`` is not 0."""
    now = now or datetime.datetime.now(datetime.UTC)
    report = replay(baseline, candidate, lines_since(log_path, now - window))
    report["since"] = (now - window).isoformat(timespec="seconds")
    return report


def would_change(live: PolicySet, candidate: PolicySet, log_path: str, last: int = 1000) -> dict:
    """For the console: how many of the last ``last`` logged decisions would change under
    ``candidate`` (against the ``live`` policy, both on today's data). ``lines_changed`` of
    ``lines`` is the answer; ``changes`` says which, allows gained first."""
    return replay(live, candidate, last_lines(log_path, max(0, int(last))))


def to_text(report: dict) -> str:
    """A person's reading of a replay report."""
    word = {True: "allow", False: "deny"}
    window = f" logged since {report['since']}" if report.get("since") else ""
    out = [
        f"replayed {report['lines']} logged decisions{window} ({report['distinct']} distinct) "
        f"on today's data: policy {report['candidate_version']} against "
        f"{report['baseline_version']}",
        f"{report['changed']} would change: {report['gained']} allow gained, {report['lost']} lost",
    ]
    if report.get("skipped"):
        out.append(f"  ({report['skipped']} lines of further questions not replayed: memory bound)")
    for c in report["changes"]:
        ref = c["resource"] or {}
        where = f"{ref.get('type')} {ref.get('id')}" + (
            f" in {ref['org']}" if ref.get("org") and ref.get("org") != ref.get("id") else ""
        )
        times = "once" if c["times"] == 1 else f"{c['times']} times"
        out.append(
            f"  {'GAINED' if c['after'] else 'LOST  '} {c['actor']} {c['action']} on {where}: "
            f"{word[c['before']]} -> {word[c['after']]} (logged {times}, last "
            f"{c['last_time']} as {word[c['logged']]}, decision {c['decision_id']})"
        )
    return "\n".join(out)
