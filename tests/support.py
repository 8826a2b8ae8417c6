"""Small helpers shared by test modules (no fixtures here: tests/conftest.py has those)."""

from models import Membership, Organization, User, db


def org_with(org_id: str, style: str, members: dict) -> None:
    """Create the organization ``org_id`` of ``style`` with ``members`` ({user id: role}),
    each user created when new (email ``<id>@example.test``), straight in the database."""
    with db.connection_context():
        Organization.create(id=org_id, name=org_id, style=style)
        for user_id, role in members.items():
            email = f"{user_id}@example.test"
            User.get_or_create(id=user_id, defaults={"email": email, "email_key": email})
            Membership.create(user=user_id, org=org_id, role=role)
