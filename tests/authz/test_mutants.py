"""The mutation check of the policy tables (authz/mutants.py), on the engine alone: a
change a row notices is killed, the same change with those rows gone survives, and the
shipped todo policy has no survivor its table does not explain (the full run over every
style is `make policy-test`)."""

import shutil
import time
from pathlib import Path

import pytest

from authz import mutants
from authz.engine import POLICY_DIR, PolicySet

LAST_EDITOR = "last_editor_to_viewer"
CHANGE = 'drop "change.from_role = "admin""'  # the last of any role kept, not only the admin


def todo_folder(tmp_path: Path) -> Path:
    """A policy folder with the todo style alone (and the shared rules)."""
    folder = tmp_path / "p"
    folder.mkdir()
    for name in ("_shared.polar", "todo.polar", "todo.test.yaml"):
        shutil.copy(POLICY_DIR / name, folder / name)
    return folder


def without_rows(table: Path, resource: str) -> None:
    """The table with every line naming ``resource`` (its resource and its expect rows) cut."""
    lines = table.read_text().splitlines(keepends=True)
    out, skipping = [], False
    for line in lines:
        if line.startswith(f"  {resource}:"):
            skipping = True  # the expect entry: its own line and the indented ones below
            continue
        if skipping and line.startswith("    "):
            continue
        skipping = False
        if f"  {resource}: {{" not in line:
            out.append(line)
    table.write_text("".join(out))


def outcome(reports: list, change: str, rule_part: str) -> mutants.Outcome:
    found = [
        o
        for r in reports
        for o in r.outcomes
        if o.mutant.change == change and rule_part in o.mutant.rule
    ]
    assert len(found) == 1, [str(o.mutant) for o in found]
    return found[0]


def test_a_change_a_row_notices_is_killed_and_without_the_row_survives(tmp_path):
    folder = todo_folder(tmp_path)
    killed = outcome(mutants.run(folder, jobs=1), CHANGE, '"change_role", change: RoleChange')
    assert killed.status == "killed"
    assert killed.detail == f"admin change_role on {LAST_EDITOR} (expected allow)"

    without_rows(folder / "todo.test.yaml", LAST_EDITOR)
    assert LAST_EDITOR not in (folder / "todo.test.yaml").read_text()
    reports = mutants.run(folder, jobs=1)
    survivor = outcome(reports, CHANGE, '"change_role", change: RoleChange')
    assert survivor.status == "survived"
    assert mutants.problems(reports) == [f"todo: no table row notices {survivor.mutant}"]
    assert mutants.problems(reports, max_survivors=1) == []
    assert f"SURVIVED {survivor.mutant}" in mutants.report_text(reports)


def test_a_setting_is_pinned_by_the_table(tmp_path):
    folder = todo_folder(tmp_path)
    plan = mutants.plan(PolicySet(folder), "todo")
    lifetime = [
        m
        for m in mutants.mutants(PolicySet(folder).engine("todo"))
        if m.change == "168 -> 169" and "invitation_lifetime_hours" in m.rule
    ]
    assert len(lifetime) == 1
    status, detail = mutants.run_mutant(plan, lifetime[0])
    assert (status, detail) == (
        "killed",
        "settings: todo: the setting invitation_lifetime_hours is 169, the table says 168",
    )
    plan.table.pop("settings")
    assert mutants.run_mutant(plan, lifetime[0]) == ("survived", "")


def test_an_equivalence_that_a_row_kills_or_that_matches_nothing_is_stale(tmp_path):
    folder = todo_folder(tmp_path)
    table = folder / "todo.test.yaml"
    rows = (
        "equivalent:\n"
        + "  - rule: 'has_permission(actor: User, \"change_role\", change: RoleChange)'\n"
        + f"    change: '{CHANGE}'\n"
        + "    why: 'wrongly declared'\n"
        + "  - rule: 'rank(\"nobody\", 1)'\n"
        + "    change: '1 -> 2'\n"
        + "    why: 'no such rule'\n"
    )
    text = table.read_text()
    assert text.count("\nequivalent:\n") == 1
    table.write_text(text.replace("\nequivalent:\n", "\n" + rows, 1))
    reports = mutants.run(folder, jobs=1)
    stale = reports[0].stale
    assert len(stale) == 2, stale
    assert stale[0].startswith("todo: declared equivalent, but killed: todo.polar:")
    assert stale[1] == "todo: no mutant matches the equivalent 'rank(\"nobody\", 1)': 1 -> 2"
    assert mutants.problems(reports) == stale


def test_the_changes_made_to_one_rule():
    engine = PolicySet(POLICY_DIR).engine("pix4d")
    made = {(m.line, m.change): m for m in mutants.mutants(engine)}
    by_change = {c: m for (_, c), m in made.items()}
    # a clause inside not (...) is dropped; a negated clause is un-negated
    assert 'drop "change.last_of_role = true"' in by_change
    assert 'negate "not (change.from_role = "owner" and change.last_of_role = true)"' in by_change
    # a role is swapped for its neighbours in rank order, a rank moved by one, <= made <
    ranks = [c for (_, c), m in made.items() if m.rule == 'rank("manager", 4);']
    assert sorted(ranks) == sorted(
        ['"manager" -> "owner"', '"manager" -> "editor"', "4 -> 3", "4 -> 5"]
    )
    assert "<= -> <" in by_change
    # a one-clause rule becomes a fact; a variable it no longer reads is renamed _name
    fact = by_change['drop "invitation.email_matches = true"']
    assert 'has_permission(_actor: User, "accept", _invitation: Invitation);' in fact.code
    # never a rule that implies itself (Oso would loop until its query timeout)
    assert not any(
        '"editor" if "editor";' in " ".join(m.code.split()) for m in mutants.mutants(engine)
    )


def test_the_shipped_todo_policy_has_no_unexplained_survivor():
    started = time.monotonic()
    reports = mutants.run(POLICY_DIR, ["todo"], jobs=1)
    assert mutants.problems(reports) == []
    report = reports[0]
    assert len(report.of("killed")) > 60 and report.of("equivalent")
    assert time.monotonic() - started < 60


def test_an_unknown_style_is_refused():
    with pytest.raises(mutants.PolicyError):
        mutants.run(POLICY_DIR, ["nope"], jobs=1)
