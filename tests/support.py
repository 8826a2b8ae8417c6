"""Small helpers shared by test modules (no fixtures here: tests/conftest.py has those)."""

from models import ApiKey, Membership, Organization, User, db


def org_with(org_id: str, style: str, members: dict) -> None:
    """Create the organization ``org_id`` of ``style`` with ``members`` ({user id: role}),
    each user created when new (email ``<id>@example.test``), straight in the database."""
    with db.connection_context():
        Organization.create(id=org_id, name=org_id, style=style)
        for user_id, role in members.items():
            email = f"{user_id}@example.test"
            User.get_or_create(id=user_id, defaults={"email": email, "email_key": email})
            Membership.create(user=user_id, org=org_id, role=role)


# ---------------------------------------------------------------- journeys over HTTP
# ``api`` is tests/conftest.py's client; a user ``uid`` has the address ``uid@example.com``.


def make_user(api, uid: str) -> None:
    """Create (or update) the user ``uid`` through the API."""
    response = api.put(f"/v1/users/{uid}", {"email": f"{uid}@example.com", "name": uid})
    assert response.status_code == 200, response.get_json()


def make_org(api, actor: str, style: str) -> str:
    """A new organization of ``style`` made by ``actor``; its id."""
    response = api.post("/v1/orgs", {"name": f"{style} co", "style": style}, actor=actor)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def invite_one(api, actor: str, org: str, uid: str, role: str) -> dict:
    """``actor`` invites ``uid`` as ``role``; the invitation (with its token)."""
    body = {"invitations": [{"email": f"{uid}@example.com", "role": role}]}
    response = api.post(f"/v1/orgs/{org}/invitations", body, actor=actor)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["items"][0]


def accept_as(api, token: str, uid: str):
    """``uid`` accepts the invitation of ``token``; the response."""
    person = {"id": uid, "email": f"{uid}@example.com", "name": uid}
    return api.post("/v1/invitations/accept", {"token": token, "user": person})


def join(api, inviter: str, org: str, uid: str, role: str) -> None:
    """``uid`` becomes a member as ``role``: invited by ``inviter``, then accepting."""
    response = accept_as(api, invite_one(api, inviter, org, uid, role)["token"], uid)
    assert response.status_code == 200, response.get_json()


def demo_app_on_postgres(url: str, schema: str, tmp_path, key_name: str, db_options=None, **config):
    """(app, API key): the app on a fresh PostgreSQL ``schema`` with the demo data of
    ``make run``, for a test that needs its own database settings (``db_options``: more
    connection parameters, e.g. ``application_name``; ``config``: the app's)."""
    import models
    from access.demo import load_demo
    from app import create_app

    models.init_db(url, options=f"-c search_path={schema}", **(db_options or {}))
    models.drop_tables()
    models.create_tables()
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "DATABASE_BOUND": True,
            "DECISION_LOG": str(tmp_path / "d.log"),
            "LAST_ACTIVE_FLUSH_SECONDS": 0,
            **config,
        }
    )
    with db.connection_context():
        load_demo(app.extensions["orgauthz.policy"].current)
        key = ApiKey.create_key(key_name)
    return app, key
