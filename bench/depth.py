"""Depth: a cold decision at every depth the service accepts, as a ratio of one at depth 1.

In the benchmark org (Pix4D), for each depth D: a chain of D folders with a dataset at the
bottom; a member holds a ``reader`` grant on every other folder and owns the others (so
no two neighbouring levels look alike). A *cold* decision clears the policy's memo and the
walk's step memo and reads every fact from the database (a fresh TargetBuilder): what the
first check of a new view costs after a policy load (whether the policy is walkable at all,
read from its text once per load, is not redone). The answer is checked at each depth.

Run by bench/run.py (``make bench``, ``make bench-small``).
"""

import statistics
import time

from access.decisions import decide
from access.targets import MAX_DEPTH, TargetBuilder
from models import Grant, Membership, Resource, User, db, transaction

ORG = "bench-pix4d"
ACTOR = "depth-member"
DEPTHS = (1, 2, 5, 10, 25, 50, 100, 200, MAX_DEPTH - 1)


def build(depths=DEPTHS) -> dict:
    """The chains (one per depth) in the benchmark org; returns {depth: dataset rid}."""
    out = {}
    with db.connection_context(), transaction():
        if User.get_or_none(User.id == ACTOR) is None:
            User.create(id=ACTOR, email="depth@b.io", email_key="depth@b.io")
            Membership.create(user=ACTOR, org=ORG, role="member")
        for depth in depths:
            parent = None
            for level in range(depth):
                row = Resource(
                    org=ORG,
                    type="Folder",
                    rid=f"depth{depth}-f{level}",
                    owner=ACTOR if level % 2 else None,
                )
                row.place_under(parent)
                row.save()
                if level % 2 == 0:
                    Grant.create(user=ACTOR, resource=row, org=ORG, role="reader")
                parent = row
            dataset = Resource(org=ORG, type="Dataset", rid=f"depth{depth}-data")
            dataset.place_under(parent)
            dataset.save()
            out[depth] = dataset.rid
    return out


def cold(policy, rid: str, action: str = "view", clock=time.perf_counter) -> tuple:
    """(seconds, allowed) of one decision with every memo empty and no fact cached, timed
    by ``clock`` (the CI guard passes the process's CPU time)."""
    engine = policy.engine("pix4d")
    engine.is_allowed.clear()
    walker = engine.__dict__.get("_walker")
    if walker:  # its answers go (whether the policy is walkable, and sees roles held
        walker.steps.clear()  # directly, is read from its text once per load)
        walker.bytes = 0
    started = clock()
    with db.connection_context():
        facts = TargetBuilder()
        allowed = decide(policy, facts, ACTOR, action, facts.find("Dataset", rid)).allowed
    return clock() - started, allowed


def run(policy, runs: int = 5, log=print, depths=DEPTHS) -> dict:
    """Median cold decision per depth, and each as a multiple of depth 1."""
    chains = build(depths)
    rows = []
    for depth, rid in chains.items():
        times, answers = [], set()
        for _ in range(runs):
            seconds, allowed = cold(policy, rid)
            times.append(seconds)
            answers.add(allowed)
        upload = cold(policy, rid, "upload")[1]
        rows.append(
            {
                "depth": depth,
                "ms": statistics.median(times) * 1000,
                "allowed_view": answers == {True},
                "denied_upload": upload is False,
            }
        )
    base = rows[0]["ms"]
    for r in rows:
        r["x_depth1"] = r["ms"] / base
        log(
            f"    depth {r['depth']:4}: cold decision {r['ms']:7.2f} ms (x{r['x_depth1']:.2f} "
            f"depth 1); view allowed {r['allowed_view']}, upload denied {r['denied_upload']}"
        )
    return {"rows": rows, "max_depth": MAX_DEPTH}
