"""Demo data for ``make run``: one organization per style, a user of every role of it (named
for the role, or the style's given users), and a few resources and grants. Roles come from
the policies."""

from authz.engine import PolicySet
from models import Grant, Membership, Organization, Resource, User, db

# Resources of each demo organization: (type, id, parent id, owner role, attributes).
DEMO_RESOURCES: dict[str, list[tuple[str, str, str | None, str | None, dict]]] = {
    "pix4d": [
        ("Folder", "pix4d-survey", None, None, {}),
        ("Folder", "pix4d-survey-2026", "pix4d-survey", None, {}),
        ("Dataset", "pix4d-bridge-scan", "pix4d-survey-2026", None, {}),
        ("Site", "pix4d-quarry", None, None, {}),
        ("Dataset", "pix4d-quarry-march", "pix4d-quarry", None, {}),
        ("License", "pix4d-cloud-1", None, None, {"kind": "cloud"}),
        ("License", "pix4d-desktop-1", None, None, {"kind": "desktop"}),
    ],
    "up42": [
        ("Workspace", "up42-ws-admin", None, "admin", {}),
        ("Workspace", "up42-ws-member", None, "member", {}),
        ("Asset", "up42-asset-1", "up42-ws-admin", "admin", {}),
    ],
    "respondio": [
        ("Space", "respondio-my-workspace", None, None, {}),
        ("Space", "respondio-support", None, None, {}),
    ],
}
# Styles whose demo users are given rather than one per role named for it: (id, email, name,
# role). The todo style's are the five users of the OpenID AuthZEN Todo interop scenario,
# with the ids and roles its "Payload Spec" gives (repository openid/authzen,
# interop/authzen-interop-website/docs/scenarios/todo-1.1/index.md); Rick's second role,
# evil_genius, is part of admin in policies/todo.polar.
DEMO_USERS: dict[str, list[tuple[str, str, str, str]]] = {
    "todo": [
        (
            "CiRmZDA2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
            "rick@the-citadel.com",
            "Rick Sanchez",
            "admin",
        ),
        (
            "CiRmZDE2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
            "morty@the-citadel.com",
            "Morty Smith",
            "editor",
        ),
        (
            "CiRmZDI2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
            "summer@the-smiths.com",
            "Summer Smith",
            "editor",
        ),
        (
            "CiRmZDM2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
            "beth@the-smiths.com",
            "Beth Smith",
            "viewer",
        ),
        (
            "CiRmZDQ2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs",
            "jerry@the-smiths.com",
            "Jerry Smith",
            "viewer",
        ),
    ],
}
# Grants: (style, role of the user, resource id, role on it).
DEMO_GRANTS = [
    ("pix4d", "member", "pix4d-survey", "reader"),
    ("pix4d", "member", "pix4d-desktop-1", "assignee"),
    ("respondio", "member", "respondio-support", "member"),
]


def demo_user_id(style: str, role: str) -> str:
    return f"{style}-{role}".replace("_", "-")


def load_demo(policy: PolicySet) -> list:
    """Create what is missing of the demo data; returns lines describing it."""
    lines = []
    with db.atomic():
        for style in policy.styles:
            engine = policy.engine(style)
            org_id = f"org-{style}"
            users = DEMO_USERS.get(style) or [
                (
                    demo_user_id(style, role),
                    f"{role}@{style}.example",
                    f"{style} {role.replace('_', ' ')}",
                    role,
                )
                for role in engine.roles("Organization")
            ]
            creator = next(u[0] for u in users if u[3] == engine.setting("creator_role"))
            org, created = Organization.get_or_create(
                id=org_id, defaults={"name": f"Demo {style}", "style": style, "created_by": creator}
            )
            lines.append(f"org {org_id} ({style})" + ("" if created else ", already there"))
            for uid, email, name, role in users:
                User.get_or_create(
                    id=uid,
                    defaults={"email": email, "email_key": User.email_key_of(email), "name": name},
                )
                Membership.get_or_create(user=uid, org=org_id, defaults={"role": role})
                lines.append(f"  user {uid}: {role}")
            rows: dict[str | None, Resource] = {}
            for type_, rid, parent, owner_role, attrs in DEMO_RESOURCES.get(style, []):
                parent_row = rows.get(parent)
                row, _ = Resource.get_or_create(
                    type=type_,
                    rid=rid,
                    defaults={
                        "org": org_id,
                        "parent": parent_row,
                        "owner": demo_user_id(style, owner_role) if owner_role else None,
                        "attributes": attrs,
                    },
                )
                rows[rid] = row
                lines.append(f"  {type_} {rid}" + (f" in {parent}" if parent else ""))
            for g_style, role, rid, grant_role in DEMO_GRANTS:
                if g_style == style and rid in rows:
                    Grant.get_or_create(
                        user=demo_user_id(style, role),
                        resource=rows[rid],
                        defaults={"org": org_id, "role": grant_role},
                    )
                    lines.append(f"  grant {grant_role} on {rid} to {demo_user_id(style, role)}")
    return lines
