"""The same scenario in other engines, with no database: raw oso (the project's policy, no memo),
casbin (RBAC with domains), cedarpy (entities and policies parsed once), and plain dicts (the
floor). Each engine is loaded with the facts of the benchmark org ``bench-pix4d`` (read once
from the database the project uses, so all are shown the same facts) and answers
``allow(actor, action, type, rid)``.
"""

import json

from authz.view import ACTOR, level, to_polar

# The Pix4D ladder and the actions the scenario asks about, as the policy states them.
RANK = {"member": 1, "reader": 2, "editor": 3, "manager": 4, "owner": 5}
ORG_ACTIONS = {
    "view": "member",
    "view_credits": "member",
    "invite_members": "manager",
    "edit_billing": "owner",
}
RES_ACTIONS = {
    "view": "reader",
    "annotate": "reader",
    "download_report": "reader",
    "save_annotations": "editor",
    "create": "editor",
    "edit": "editor",
    "delete": "editor",
    "upload": "editor",
}


class Facts:
    """The bench org's facts as plain values (what every engine here is loaded from)."""

    def __init__(self, org: str, roles: dict, grants: dict, resources: dict):
        self.org = org
        self.roles = roles  # user -> org role
        self.grants = grants  # (user, rid) -> role
        self.resources = resources  # rid -> (type, parent rid or None)

    @classmethod
    def load(cls, org: str):
        from models import Grant, Membership, Resource

        roles = {m.user_id: m.role for m in Membership.select().where(Membership.org == org)}
        by_pk = {r.id: r for r in Resource.select().where(Resource.org == org)}
        resources = {
            r.rid: (r.type, by_pk[r.parent_id].rid if r.parent_id else None) for r in by_pk.values()
        }
        grants = {
            (g.user_id, by_pk[g.resource_id].rid): g.role
            for g in Grant.select().where(Grant.org == org)
        }
        # What members hold through teams (bench/run.py --teams), folded into their own
        # grants: one role per (user, resource) here, the highest of the style's roles.
        from bench.data import ORG_ROLES
        from models.base import utcnow
        from models.teams import held_through_teams

        rank = ORG_ROLES["pix4d"][0]  # highest first
        for user, held in held_through_teams(org, utcnow())[1].items():
            for pk, got in held.items():
                key = (user, by_pk[pk].rid)
                both = sorted({*got, *([grants[key]] if key in grants else [])}, key=rank.index)
                grants[key] = both[0]
        return cls(org, roles, grants, resources)

    def chain(self, rid: str) -> list:
        """rids from the top-level resource down to ``rid``."""
        out = []
        while rid is not None:
            out.append(rid)
            rid = self.resources[rid][1]
        return out[::-1]


class PlainDict:
    """The floor: a few dict lookups and integer compares."""

    name = "plain dict (floor)"

    def __init__(self, f: Facts):
        self.rank = {u: RANK[r] for u, r in f.roles.items()}
        self.grants = {k: RANK[r] for k, r in f.grants.items()}
        self.chains = {rid: tuple(f.chain(rid)) for rid in f.resources}
        self.org_need = {a: RANK[r] for a, r in ORG_ACTIONS.items()}
        self.res_need = {a: RANK[r] for a, r in RES_ACTIONS.items()}

    def allow(self, user, action, type_, rid):
        rank = self.rank.get(user, 0)
        if type_ == "Organization":
            return rank >= self.org_need.get(action, 99)
        best = min(rank, 3) if rank >= 2 else 0  # reader/editor on the org flow down
        grants = self.grants
        for r in self.chains[rid]:
            g = grants.get((user, r), 0)
            if g > best:
                best = g
        return best >= self.res_need.get(action, 99)


class RawOso:
    """The project's own policy and Polar classes, shown the view built from plain values,
    with the memo bypassed: what every decision would cost without it."""

    name = "raw oso (no memo, no db)"

    def __init__(self, f: Facts, engine):
        self.f, self.engine, self.views = f, engine, {}

    def view(self, user, type_, rid):
        key = (user, type_, rid)
        if key not in self.views:
            role = self.f.roles.get(user)
            levels = [level("Organization", (role,) if role else ())]
            if type_ != "Organization":
                for r in self.f.chain(rid):
                    g = self.f.grants.get((user, r))
                    levels.append(level(self.f.resources[r][0], (g,) if g else ()))
            self.views[key] = tuple(levels)
        return self.views[key]

    def allow(self, user, action, type_, rid):
        view = self.view(user, type_, rid)  # cached: the view is input, not what is timed
        return self.engine.oso.is_allowed(ACTOR, action, to_polar(view, self.engine.classes))


CASBIN_MODEL = """
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _
g2 = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.dom == p.dom && r.act == p.act && g2(r.obj, p.obj, r.dom) && g(r.sub, p.sub, r.dom)
"""


class Casbin:
    """RBAC with domains: the org is the domain; g holds memberships, the role ladder and
    grants (as roles scoped to a resource); g2 holds the resource tree."""

    name = "casbin (RBAC with domains)"

    def __init__(self, f: Facts):
        import casbin
        from casbin.rbac.default_role_manager import DomainManager

        model = casbin.model.Model()
        model.load_model_from_text(CASBIN_MODEL)
        e = casbin.Enforcer(model)
        for ptype in ("g", "g2"):  # the tree is 12 levels deep; the default stops at 10
            rm = DomainManager(32)
            e.rm_map[ptype] = rm
            e.model["g"][ptype].rm = rm
        o = f.org
        order = ["owner", "manager", "editor", "reader", "member"]
        p, g, g2 = [], [], []
        for hi, lo in zip(order, order[1:]):
            g.append([f"role:{hi}", f"role:{lo}", o])
        for action, role in ORG_ACTIONS.items():
            p.append([f"role:{role}", o, f"org:{o}", action])
        for action, role in RES_ACTIONS.items():  # org readers/editors on every resource
            p.append([f"role:{role}", o, f"tree:{o}", action])
        for user, role in f.roles.items():
            g.append([user, f"role:{role}", o])
        for rid, (_, parent) in f.resources.items():
            g2.append([rid, parent if parent else f"tree:{o}", o])
        granted = set()
        for (user, rid), role in f.grants.items():
            g.append([user, f"grant:{rid}:{role}", o])
            if rid not in granted:
                granted.add(rid)
                g.append([f"grant:{rid}:editor", f"grant:{rid}:reader", o])
                for action, need in RES_ACTIONS.items():
                    p.append([f"grant:{rid}:{need}", o, rid, action])
        e.add_policies(p)
        e.add_named_grouping_policies("g", g)
        e.add_named_grouping_policies("g2", g2)
        self.e, self.org = e, o

    def allow(self, user, action, type_, rid):
        obj = f"org:{self.org}" if type_ == "Organization" else rid
        return self.e.enforce(user, self.org, obj, action)


CEDAR_POLICIES = """
permit(principal, action, resource is Organization)
  when { action == Action::"view" && principal in resource.member };
permit(principal, action, resource is Organization)
  when { action == Action::"view_credits" && principal in resource.member };
permit(principal, action, resource is Organization)
  when { action == Action::"invite_members" && principal in resource.manager };
permit(principal, action, resource is Organization)
  when { action == Action::"edit_billing" && principal in resource.owner };
permit(principal, action in [Action::"view", Action::"annotate", Action::"download_report"],
       resource)
  when { resource has reader && principal in resource.reader };
permit(principal,
       action in [Action::"save_annotations", Action::"create", Action::"edit",
                  Action::"delete", Action::"upload"],
       resource)
  when { resource has editor && principal in resource.editor };
"""


class Cedar:
    """cedarpy with the policies and the entity graph parsed once (``PolicySet``,
    ``Entities``). A user is in Group "<scope>/<role>"; the group of a role on a resource is
    a child of the same role's group on each resource below, so ``principal in
    resource.reader`` holds for a role held on the resource or any ancestor."""

    name = "cedar (cedarpy, parsed once)"

    def __init__(self, f: Facts):
        import cedarpy

        o = f.org
        ent = {}

        def group(name, parents=()):
            e = ent.setdefault(
                ("Group", name), {"uid": {"type": "Group", "id": name}, "attrs": {}, "parents": []}
            )
            for p in parents:
                ref = {"type": "Group", "id": p}
                if ref not in e["parents"]:
                    e["parents"].append(ref)

        order = ["owner", "manager", "editor", "reader", "member"]
        for hi, lo in zip(order, order[1:]):
            group(f"{o}/{hi}", [f"{o}/{lo}"])
        group(f"{o}/member")
        children = {}
        for rid, (_, parent) in f.resources.items():
            children.setdefault(parent, []).append(rid)
        for rid, (type_, parent) in f.resources.items():
            above = parent if parent else o
            group(f"{above}/reader", [f"{rid}/reader"])
            group(f"{above}/editor", [f"{rid}/editor"])
            group(f"{rid}/editor", [f"{rid}/reader"])
            group(f"{rid}/reader")
            ent[(type_, rid)] = {
                "uid": {"type": type_, "id": rid},
                "parents": [],
                "attrs": {
                    "reader": {"__entity": {"type": "Group", "id": f"{rid}/reader"}},
                    "editor": {"__entity": {"type": "Group", "id": f"{rid}/editor"}},
                },
            }
        ent[("Organization", o)] = {
            "uid": {"type": "Organization", "id": o},
            "parents": [],
            "attrs": {r: {"__entity": {"type": "Group", "id": f"{o}/{r}"}} for r in order},
        }
        users = set(f.roles) | {u for u, _ in f.grants}
        for user in users:
            parents = []
            if user in f.roles:
                parents.append({"type": "Group", "id": f"{o}/{f.roles[user]}"})
            for (u, rid), role in f.grants.items():
                if u == user:
                    parents.append({"type": "Group", "id": f"{rid}/{role}"})
            ent[("User", user)] = {
                "uid": {"type": "User", "id": user},
                "attrs": {},
                "parents": parents,
            }
        self.cedarpy = cedarpy
        self.entities = cedarpy.Entities.from_json_str(json.dumps(list(ent.values())))
        self.policies = cedarpy.PolicySet.from_str(CEDAR_POLICIES)
        self.types = {rid: t for rid, (t, _) in f.resources.items()}
        self.requests = {}

    def allow(self, user, action, type_, rid):
        key = (user, action, type_, rid)
        req = self.requests.get(key)
        if req is None:
            req = self.requests[key] = {
                "principal": f'User::"{user}"',
                "action": f'Action::"{action}"',
                "resource": f'{type_}::"{rid}"',
                "context": {},
            }
        return self.cedarpy.is_authorized(req, self.policies, self.entities).allowed
