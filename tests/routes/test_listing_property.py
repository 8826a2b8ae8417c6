"""Property: the list queries agree with single decisions on every row.

A seeded generator (stdlib ``random``; hypothesis is not a dependency) builds random worlds:
trees of Folders, Sites, Datasets and Licenses (pix4d), Workspaces and Assets with owners
(up42), Spaces (respondio); random memberships (or none), random grants (some left without
a membership), resources registered and moved through the API, and teams (with or without an
org role, places and team grants, some of them lapsed; a random source of their own, so the
rest of each world is as it was). Then, for random actors, actions and types, every page
of ``/v1/authorize/resources`` must be exactly the rows for which ``decide`` allows, and
``/v1/authorize/actors`` exactly the users for whom it does.

``PROPERTY_SEED`` and ``PROPERTY_WORLDS`` in the environment change the seed and the size;
a failure prints the seed and the case.
"""

import datetime
import os
import random

import models
from access.decisions import decide
from access.targets import TargetBuilder
from models import ApiKey, Grant, Membership, Organization, Resource, User, db
from models.base import utcnow
from models.teams import Team, TeamGrant, TeamMember
from tests.support import list_actors, list_resources

SEED = int(os.environ.get("PROPERTY_SEED", "20261123"))
WORLDS = int(os.environ.get("PROPERTY_WORLDS", "12"))  # PROPERTY_WORLDS=200 for a long run
CHECKS_PER_WORLD = 12  # resource-list cases; plus 4 actor-list cases

# Which parent types each type may sit in (None: the organization itself).
TREES = {
    "pix4d": {
        "Folder": [None, "Folder"],
        "Site": [None, "Folder"],
        "Dataset": [None, "Folder", "Site"],
        "License": [None],
    },
    "up42": {"Workspace": [None], "Asset": ["Workspace"]},
    "respondio": {"Space": [None]},
}
ADMIN = "admin"


def clear():
    """Empty every table but the API keys, so each world's users are all the users."""
    with db.connection_context():
        Resource.update(parent=None).execute()
        for model in reversed(models.MODELS):
            if model is not ApiKey:
                model.delete().execute()


def build_world(api, app, rnd: random.Random, n: int) -> dict:
    """One random world; returns what the checks need."""
    style = rnd.choice(sorted(TREES))
    engine = app.extensions["orgauthz.policy"].current.engine(style)
    org = f"org{n}"
    users = [f"u{n}-{i}" for i in range(rnd.randint(3, 6))]
    roles = engine.roles("Organization")
    with db.connection_context():
        Organization.create(id=org, name=org, style=style)
        for uid in [f"{ADMIN}{n}"] + users:
            User.create(id=uid, email=f"{uid}@x.io", email_key=f"{uid}@x.io")
        Membership.create(user=f"{ADMIN}{n}", org=org, role=engine.setting("creator_role"))
        for uid in users:
            if rnd.random() < 0.75:  # half of them the lowest role, who sees by grants
                role = roles[-1] if rnd.random() < 0.5 else rnd.choice(roles)
                Membership.create(user=uid, org=org, role=role)
    tree = TREES[style]
    made = []  # (type, rid)
    for i in range(rnd.randint(4, 16)):
        type_ = rnd.choice(sorted(tree))
        parents = [p for p in tree[type_] if p is None or any(t == p for t, _ in made)]
        if not parents:
            continue
        ptype = rnd.choice(parents)
        parent = None
        if ptype:
            prid = rnd.choice([r for t, r in made if t == ptype])
            parent = {"type": ptype, "id": prid}
        body = {"parent": parent, "owner": rnd.choice(users + [None, None])}
        if type_ == "License":
            body["attributes"] = {"kind": rnd.choice(["cloud", "desktop"]), "name": f"l{i}"}
        rid = f"{type_[0].lower()}{n}-{i}"
        r = api.put(f"/v1/orgs/{org}/resources/{type_}/{rid}", body, actor=f"{ADMIN}{n}")
        assert r.status_code == 201, (r.get_json(), body)
        made.append((type_, rid))
    # random moves (some refused as cycles; that is fine)
    for _ in range(rnd.randint(0, 3)):
        if not made:  # nothing was registered (a type whose parents never came)
            break
        type_, rid = rnd.choice(made)
        ptypes = [p for p in tree[type_] if p is not None]
        if not ptypes:
            continue
        ptype = rnd.choice(ptypes)
        options = [r for t, r in made if t == ptype]
        if options:
            api.put(
                f"/v1/orgs/{org}/resources/{type_}/{rid}",
                {"parent": {"type": ptype, "id": rnd.choice(options)}},
                actor=f"{ADMIN}{n}",
            )
    with db.connection_context():
        for uid in users:
            for type_, rid in rnd.sample(made, min(len(made), rnd.randint(0, 3))):
                type_roles = engine.roles(type_)
                if type_roles:
                    row = Resource.get(type=type_, rid=rid)
                    Grant.get_or_create(
                        user=uid,
                        resource=row,
                        defaults={"org": org, "role": rnd.choice(type_roles)},
                    )
        if rnd.random() < 0.05:
            Organization.update(closed_at=Organization.created_at).where(
                Organization.id == org
            ).execute()
    return {
        "style": style,
        "engine": engine,
        "org": org,
        "users": users + [f"{ADMIN}{n}"],
        "made": made,
    }


def add_teams(world: dict, rnd: random.Random) -> None:
    """Up to three teams in the world's org: an org role or none, some of its users (members
    or not) as places, grants on its resources; a third of places and grants lapsed."""
    engine, org = world["engine"], world["org"]
    lapsed = utcnow() - datetime.timedelta(days=1)
    with db.connection_context():
        for t in range(rnd.randint(0, 3)):
            role = rnd.choice([None, None, *engine.roles("Organization")])
            team = Team.create(org=org, tid=f"t{t}", name=f"t{t}", role=role)
            for uid in rnd.sample(world["users"], rnd.randint(0, len(world["users"]))):
                expires = lapsed if rnd.random() < 0.3 else None
                TeamMember.create(team=team, user=uid, org=org, expires_at=expires)
            for type_, rid in rnd.sample(world["made"], min(len(world["made"]), 2)):
                if engine.roles(type_):
                    TeamGrant.create(
                        team=team,
                        resource=Resource.get(type=type_, rid=rid),
                        org=org,
                        role=rnd.choice(engine.roles(type_)),
                        expires_at=lapsed if rnd.random() < 0.3 else None,
                    )


def truth_resources(app, world, actor, action, type_) -> list:
    policy = app.extensions["orgauthz.policy"].current
    with db.connection_context():
        rids = sorted(
            r.rid
            for r in Resource.select().where(
                (Resource.org == world["org"]) & (Resource.type == type_)
            )
        )
        facts = TargetBuilder()
        return [
            rid
            for rid in rids
            if decide(policy, facts, actor, action, facts.find(type_, rid)).allowed
        ]


def truth_actors(app, action, ref) -> list:
    policy = app.extensions["orgauthz.policy"].current
    with db.connection_context():
        everyone = sorted(u.id for u in User.select())
        facts = TargetBuilder()
        target = facts.target(ref)
        return [u for u in everyone if decide(policy, facts, u, action, target).allowed]


def test_list_queries_agree_with_single_decisions(api, app):
    rnd = random.Random(SEED)
    cases = 0
    for n in range(WORLDS):
        clear()
        world = build_world(api, app, rnd, n)
        add_teams(world, random.Random(f"{SEED}-{n}"))
        engine = world["engine"]
        types = sorted(TREES[world["style"]])
        for _ in range(CHECKS_PER_WORLD):
            actor = rnd.choice(world["users"] + ["ghost"])
            type_ = rnd.choice(types)
            action = rnd.choice(engine.permissions(type_) + ["fly"])
            got = list_resources(
                api, actor, action, type_, world["org"], limit=rnd.choice([1, 2, 3, 50])
            )
            want = truth_resources(app, world, actor, action, type_)
            assert got == want, (
                f"seed {SEED} world {n} ({world['style']}): {actor} {action} {type_}"
            )
            cases += 1
        for _ in range(4):
            if not world["made"]:
                break
            type_, rid = rnd.choice(world["made"])
            action = rnd.choice(engine.permissions(type_))
            ref = {"type": type_, "id": rid}
            got = list_actors(api, action, ref, limit=rnd.choice([1, 2, 50]))
            want = truth_actors(app, action, ref)
            assert got == want, f"seed {SEED} world {n} ({world['style']}): {action} on {ref}"
            cases += 1
    assert cases >= WORLDS * CHECKS_PER_WORLD  # a few hundred at the default size
