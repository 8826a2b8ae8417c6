"""`flask policy test --mutants` and `flask policy check --mutants` on a copy of the todo
style: clean as shipped; with the rows that notice a change cut from its table, the change
survives, `policy check --mutants` exits 1 naming it and `--max-survivors 1` lets it pass."""

import pytest

from tests.support import policy_folder

# The commands read policy files only: one backend (the app fixture's CLI runner on SQLite);
# on both, the file cost a minute more and tested nothing of PostgreSQL.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"])

SURVIVOR = 'drop "change.from_role = "admin""'


def todo_folder(tmp_path, cut: str | None = None):
    folder = policy_folder(tmp_path / "p", "todo")
    if cut:  # the resource and its expect entry (its line and the indented lines below)
        table = folder / "todo.test.yaml"
        out, skipping = [], False
        for line in table.read_text().splitlines(keepends=True):
            if line.startswith(f"  {cut}:"):
                skipping = True
                continue
            if skipping and line.startswith("    "):
                continue
            skipping = False
            out.append(line)
        table.write_text("".join(out))
        assert cut not in table.read_text()
    return folder


def test_policy_test_mutants_lists_no_survivor_of_the_shipped_todo_table(app, tmp_path):
    runner = app.test_cli_runner()
    args = ["policy", "test", "--dir", str(todo_folder(tmp_path)), "--mutants", "--jobs", "1"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "0 survived" in result.output and "SURVIVED" not in result.output
    assert "  equivalent todo.polar:" in result.output


def test_policy_check_mutants_fails_on_a_survivor_of_a_weakened_table(app, tmp_path):
    folder = todo_folder(tmp_path, cut="last_editor_to_viewer")
    runner = app.test_cli_runner()
    tested = runner.invoke(
        args=["policy", "test", "--dir", str(folder), "--mutants", "--jobs", "1"]
    )
    assert tested.exit_code == 1, tested.output
    assert "SURVIVED todo.polar:" in tested.output and SURVIVOR in tested.output
    checked = runner.invoke(
        args=["policy", "check", "--dir", str(folder), "--mutants", "--jobs", "1"]
    )
    assert checked.exit_code == 1, checked.output
    assert "todo: no table row notices todo.polar:" in checked.output
    assert checked.output.endswith("\n1 problem\n")
    allowed = runner.invoke(
        args=["policy", "check", "--dir", str(folder), "--max-survivors", "1", "--jobs", "1"]
    )
    assert allowed.exit_code == 0, allowed.output
    assert "policies are clean" in allowed.output
