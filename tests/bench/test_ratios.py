"""The issue's table (bench/ratios.py): each target's two runs back to back in every round,
A B then B A; a write against the mean of a bare commit timed just before and just after it;
median [min–max] over the rounds; the README's part between the markers replaced."""

import pytest

from bench import guard, ratios


def fake(order: list, commits: list):
    """A wrk that records the runs it was given (by url) and answers rates and latencies
    growing with each call; a commit answering the next of ``commits``."""
    calls = {"n": 0}

    def wrk(url, arg, seconds, conns, script):
        calls["n"] += 1
        order.append(url)
        n = calls["n"]
        return {"rps": 100.0 * n, "p50_ms": 1.0 * n, "p99_ms": 2.0 * n}

    it = iter(commits)
    return wrk, lambda: next(it)


def test_each_target_alternates_and_writes_use_the_commit_around_them():
    order: list = []
    only = {
        ratios.SINGLE: ("A", "x", 8, "wrk.lua"),
        ratios.FLASK_SINGLE: ("B", "x", 8, "wrk.lua"),
        "orgauthz invite one user, 1 connection": ("W", "x", 1, "wrk_calls.lua"),
    }
    wrk, commit = fake(order, [1.0, 3.0, 2.0, 2.0, 4.0, 4.0])
    got = ratios.run(only, wrk, commit, 1, 3, log=lambda *a: None)
    assert set(got["targets"]) == {  # only the targets whose two runs exist
        "same single check / minimal Flask + dict, req/s (p99 beside)",
        "invite one user / bare INSERT ... COMMIT, p50, 1 connection",
    }
    # rounds: A B W | B A W | A B W (the write between its two commits)
    assert order == ["A", "B", "W", "B", "A", "W", "A", "B", "W"]
    single = got["targets"]["same single check / minimal Flask + dict, req/s (p99 beside)"]
    assert single["ratio"]["rounds"] == [100 / 200, 500 / 400, 700 / 800]
    assert single["ratio"]["median"] == 0.875 and single["ratio"]["min"] == 0.5
    invite = got["targets"]["invite one user / bare INSERT ... COMMIT, p50, 1 connection"]
    assert invite["ratio"]["rounds"] == [3 / 2.0, 6 / 2.0, 9 / 4.0]
    assert invite["met"] is False and single["met"] is False


def test_the_readme_table_is_replaced_between_its_markers():
    text = f"intro\n{ratios.START}\nold table\n{ratios.END}\nafter\n"
    assert (
        ratios.splice(text, "| new |\n") == f"intro\n{ratios.START}\n| new |\n{ratios.END}\nafter\n"
    )
    with pytest.raises(ValueError):
        ratios.splice("no markers", "x")


def test_a_pair_fails_above_its_own_tolerance():
    base = {guard.WRITE_PAIR: 100.0, "healthz / minimal Flask healthz": 1.0}
    rows, failures = guard.check(
        {guard.WRITE_PAIR: {"ratio": 190.0}, "healthz / minimal Flask healthz": {"ratio": 1.7}},
        base,
    )
    assert [f.split(":")[0] for f in failures] == ["healthz / minimal Flask healthz"]
    _, failures = guard.check({guard.WRITE_PAIR: {"ratio": 210.0}}, {guard.WRITE_PAIR: 100.0})
    assert failures
