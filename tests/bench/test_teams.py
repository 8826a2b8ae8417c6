"""bench/teams.py: the breadth organizations with teams and expiring access present (the
actor ``team`` sees its folder through a team only), and the rows it adds to the table, each
a median [min–max] over the rounds, timed in turn."""

import datetime

from access import listing
from access.targets import TargetBuilder
from authz.engine import POLICY_DIR, PolicySet
from bench import breadth, data, ratios, teams
from models import Grant, TeamGrant, TeamMember, db


def test_teams_give_the_team_actor_its_folder_and_some_access_expires(tmp_path):
    policy = PolicySet(POLICY_DIR)
    url = f"sqlite:///{tmp_path}/b.db"
    seen = {}
    for n in (0, 20):
        ds = breadth.build(url, 2_000, log=lambda *a: None, teams=n)
        try:
            with db.connection_context():
                page = listing.list_resources(
                    policy, TargetBuilder(), "team", "view", "Dataset", breadth.ORG, 1000, None
                )
                seen[n] = len(page["items"])
                future = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
                expiring = [
                    m.select().where(m.expires_at > future).count()
                    for m in (TeamGrant, TeamMember, Grant)
                ]
        finally:
            data.drop(ds)
    assert seen[0] == 0  # plain: a member with no grant sees nothing
    assert seen[20] > 0  # with teams: the second folder under A, through a team
    assert all(expiring), expiring  # team grants, places and own grants that lapse later


def test_the_rows_are_ratios_over_the_rounds_and_join_the_table(tmp_path):
    got = teams.run(
        f"sqlite:///{tmp_path}/b.db",
        PolicySet(POLICY_DIR),
        sizes=(600, 1_200),
        rounds=2,
        runs=1,
        log=lambda *a: None,
    )
    assert len(got["rows"]) == 5
    for row in got["rows"].values():
        assert len(row["ratio"]["rounds"]) == 2
        assert row["ratio"]["min"] <= row["ratio"]["median"] <= row["ratio"]["max"]
    size_row = next(r for r in got["rows"].values() if r["goal"])
    assert size_row["a"] == [1_200, data.TEAMS] and size_row["b"] == [600, data.TEAMS]
    listed = ratios.rows_of({"teams": got})
    assert [w for w, *_ in listed] == list(got["rows"])
    doc = {"when": "now", "backend": "sqlite", "cpus": 2, "teams": got}
    text = teams.splice(f"a\n{teams.START}\nold\n{teams.END}\nb\n", teams.markdown(doc))
    assert "old" not in text and "| team |" in text and text.endswith(f"{teams.END}\nb\n")


def test_the_bench_org_with_teams_lets_a_team_member_view_through_its_team(tmp_path):
    from access.decisions import decide

    policy = PolicySet(POLICY_DIR)
    seen = {}
    for n in (0, 30):
        ds = data.build(f"sqlite:///{tmp_path}/d{n}.db", "small", log=lambda *a: None, teams=n)
        try:
            with db.connection_context():
                facts = TargetBuilder()
                deep = facts.find("Dataset", "bench-deep")
                # a member of team-0000 with no grant of its own: the team's on the chain
                seen[n] = decide(policy, facts, "bench-pix4d-t0-1", "view", deep).allowed
        finally:
            data.drop(ds)
    assert seen == {0: False, 30: True}
