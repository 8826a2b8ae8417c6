"""SCIM 2.0 provisioning (access/scim.py): an organization's directory (its bearer token,
the user on whose authority its changes are decided, the role a provisioned user gets) and
the users it provisioned, each kept as the identity provider last sent it, and the groups
(teams) it provisioned."""

import datetime
import secrets

import peewee

from models.base import BaseModel, JSONField, utcnow
from models.keys import hash_secret
from models.orgs import Organization
from models.teams import Team, TeamMember

TOKEN_PREFIX = "oazscim_"


class ScimDirectory(BaseModel):
    """One organization's SCIM directory. Only the token's hash is stored."""

    id: "peewee.AutoField[int]"  # the automatic primary key, declared for the type checker
    org = peewee.ForeignKeyField(Organization, unique=True, on_delete="CASCADE")
    org_id: str
    token_hash = peewee.CharField(max_length=64, unique=True)
    acting_user = peewee.CharField(max_length=200)  # the policy decides as this user
    default_role = peewee.CharField(max_length=64)
    role_map = JSONField(default=dict)  # a group's displayName -> an org role (groups)
    created_at = peewee.DateTimeField(default=utcnow)
    revoked_at = peewee.DateTimeField(null=True)
    last_sync_at = peewee.DateTimeField(null=True)

    @classmethod
    def of_org(cls, org_id: str) -> "ScimDirectory | None":
        """The organization's directory (revoked or not), or None."""
        return cls.get_or_none(cls.org == org_id)

    @classmethod
    def by_token(cls, token: str) -> "ScimDirectory | None":
        """The unrevoked directory whose token is ``token``, or None."""
        row = cls.get_or_none(cls.token_hash == hash_secret(token))
        if row is None or row.revoked_at is not None:
            return None
        return row

    @classmethod
    def issue(cls, org_id: str, acting_user: str, default_role: str, now: datetime.datetime) -> str:
        """Make (or replace) the organization's directory token and return it (shown once)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        values = {
            "token_hash": hash_secret(token),
            "acting_user": acting_user,
            "default_role": default_role,
            "created_at": now,
            "revoked_at": None,
        }
        row = cls.of_org(org_id)
        if row is None:
            cls.create(org=org_id, **values)
        else:
            cls.update(**values).where(cls.id == row.id).execute()
        return token

    @classmethod
    def revoke(cls, org_id: str, now: datetime.datetime) -> bool:
        """Revoke the organization's token. Returns whether there was an active one."""
        active = (cls.org == org_id) & cls.revoked_at.is_null()
        return bool(cls.update(revoked_at=now).where(active).execute())

    @classmethod
    def synced(cls, org_id: str, now: datetime.datetime) -> None:
        """Record a change the directory made (the console's "last sync")."""
        cls.update(last_sync_at=now).where(cls.org == org_id).execute()


class ScimUser(BaseModel):
    """A user an organization's directory provisioned: the SCIM resource as last sent
    (never a password), its keys for filtering, and the orgauthz user it stands for."""

    id = peewee.CharField(primary_key=True, max_length=36)  # the SCIM id (a UUID)
    org = peewee.ForeignKeyField(Organization, on_delete="CASCADE")
    org_id: str
    user_id = peewee.CharField(max_length=200)
    user_name = peewee.CharField(max_length=320)
    user_name_key = peewee.CharField(max_length=320)  # lower-cased: userName is caseExact false
    external_id = peewee.CharField(max_length=320, null=True)
    active = peewee.BooleanField(default=True)
    resource = JSONField(default=dict)
    version = peewee.IntegerField(default=1)  # the ETag: W/"<version>"
    created_at = peewee.DateTimeField(default=utcnow)
    modified_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("org", "user_name_key"), True),
            (("org", "user_id"), True),
            (("org", "external_id"), False),
        )

    @classmethod
    def of_org(cls, org_id: str, scim_id: str) -> "ScimUser | None":
        return cls.get_or_none((cls.org == org_id) & (cls.id == scim_id))

    @classmethod
    def named(cls, org_id: str, user_name_key: str) -> "ScimUser | None":
        return cls.get_or_none((cls.org == org_id) & (cls.user_name_key == user_name_key))

    @classmethod
    def for_user(cls, org_id: str, user_id: str) -> "ScimUser | None":
        return cls.get_or_none((cls.org == org_id) & (cls.user_id == user_id))

    @classmethod
    def page(cls, org_id: str, where: dict, start: int, count: int) -> tuple[int, list]:
        """(total, rows) of the org's users matching ``where`` (``user_name_key``,
        ``external_id``, ``id``: equality), by userName, ``count`` from the 1-based ``start``."""
        clause = cls.org == org_id
        for field, value in where.items():
            clause &= getattr(cls, field) == value
        total = cls.select().where(clause).count()
        rows = []
        if count > 0:
            query = cls.select().where(clause).order_by(cls.user_name_key)
            rows = list(query.offset(start - 1).limit(count))
        return total, rows

    @classmethod
    def counts(cls, org_id: str) -> tuple[int, int]:
        """(active, inactive) users of the org's directory."""
        rows = cls.select(cls.active).where(cls.org == org_id)
        active = sum(1 for r in rows if r.active)
        return active, len(rows) - active


class ScimGroup(BaseModel):
    """A group an organization's directory provisioned: the team it is (its ``tid`` is the
    SCIM id), its displayName's key for filtering and uniqueness, and its ETag."""

    id = peewee.CharField(primary_key=True, max_length=36)  # the SCIM id, the team's tid
    org = peewee.ForeignKeyField(Organization, on_delete="CASCADE")
    org_id: str
    team = peewee.ForeignKeyField(Team, unique=True, on_delete="CASCADE")
    team_id: int
    display_name_key = peewee.CharField(max_length=200)  # lower-cased: caseExact false
    external_id = peewee.CharField(max_length=320, null=True)
    version = peewee.IntegerField(default=1)
    created_at = peewee.DateTimeField(default=utcnow)
    modified_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("org", "display_name_key"), True),
            (("org", "external_id"), False),
        )

    @classmethod
    def of_org(cls, org_id: str, scim_id: str) -> "ScimGroup | None":
        return cls.get_or_none((cls.org == org_id) & (cls.id == scim_id))

    @classmethod
    def named(cls, org_id: str, key: str) -> "ScimGroup | None":
        return cls.get_or_none((cls.org == org_id) & (cls.display_name_key == key))

    @classmethod
    def page(cls, org_id: str, where: dict, start: int, count: int) -> tuple[int, list]:
        """(total, rows) of the org's groups matching ``where`` (equalities), by
        displayName, ``count`` from the 1-based ``start``."""
        clause = cls.org == org_id
        for field, value in where.items():
            clause &= getattr(cls, field) == value
        total = cls.select().where(clause).count()
        rows = []
        if count > 0:
            query = cls.select().where(clause).order_by(cls.display_name_key)
            rows = list(query.offset(start - 1).limit(count))
        return total, rows


def team_users(team_pk: int, org_id: str, limit: int) -> list[tuple[str, str, str]]:
    """(SCIM user id, userName, user id) of the team's members the org's directory
    provisioned, by userName, at most ``limit``."""
    query = (
        ScimUser.select(ScimUser.id, ScimUser.user_name, ScimUser.user_id)
        .join(TeamMember, on=(TeamMember.user == ScimUser.user_id))
        .where((TeamMember.team == team_pk) & (ScimUser.org == org_id))
        .order_by(ScimUser.user_name_key)
        .limit(limit)
    )
    return [(r.id, r.user_name, r.user_id) for r in query]


def users_by_scim_id(org_id: str, scim_ids: list[str]) -> dict[str, ScimUser]:
    """The org's directory users of ``scim_ids``, by SCIM id."""
    rows = ScimUser.select().where((ScimUser.org == org_id) & ScimUser.id.in_(scim_ids))
    return {r.id: r for r in rows}


SCIM_MODELS = [ScimDirectory, ScimUser, ScimGroup]
