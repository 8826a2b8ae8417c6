"""API keys and their scope: a key is service-wide (every organization: a product's backend)
or bound to a set of organizations (``flask keys create NAME --org ORG ...``, ``PUT
/v1/keys/{name}/orgs``).

A scoped key sees and changes only its organizations: the routes ask ``outside`` with the
organization of what a request names (another organization is a 404, as if it did not
exist); a decision on a resource of another organization is a deny (access/decisions.py,
``OUTSIDE``); its events, audit, webhooks and console sessions stay inside its organizations.
Users are not in one organization: a scoped key sees a user who is a member of one of its
organizations (or of none), and changes or erases only one who belongs to nothing outside
them (``user_orgs``).

Revoking a key disables its webhooks (nothing more is delivered to them) and ends its
console sessions, in the same transaction.
"""

import datetime

from access import shapes
from access.errors import Conflict, Forbidden, Invalid, NotFound
from access.shapes import Given
from models import ApiKey, ApiKeyOrg, KeyName, Organization, transaction
from models.base import IntegrityError
from models.members import user_orgs as _user_orgs

Scope = frozenset[str] | None  # None: service-wide

# The reason of a decision on a resource whose organization is not the key's (also when
# it is no resource at all: a scoped key cannot tell another organization's ids from none).
OUTSIDE = "unknown resource, or outside this key's organizations"


def outside(scope: Scope, org_id: str | None) -> bool:
    """Whether ``org_id`` is outside ``scope`` (never, for a service-wide key)."""
    return scope is not None and org_id not in scope


def authenticated(row: ApiKey) -> KeyName:
    """The name of an active key's row with its scope (read now)."""
    return KeyName(row.name, row.orgs())


def _row(name: str) -> ApiKey:
    row = ApiKey.active(name)
    if row is None:
        raise NotFound(f"no active API key named {name!r}")
    return row


def _known_orgs(orgs: list[str], field: str = "orgs") -> list[str]:
    wanted = sorted(set(orgs))
    found = Organization.existing(wanted)
    missing = [o for o in wanted if o not in found]
    if missing:
        raise Invalid(
            f"no organization {', '.join(repr(o) for o in missing)}",
            {field: [f"no organization {o!r}" for o in missing]},
        )
    return wanted


def as_dict(row: ApiKey, orgs: Scope) -> dict:
    """A key's scope (access/shapes.py, ``KeyScopeOut``)."""
    return shapes.KEY_SCOPE.answer(Given(row, service_wide=orgs is None, orgs=sorted(orgs or ())))


def scope_of(name: str) -> dict:
    """``{"key", "service_wide", "orgs"}`` of the active key ``name``. Raises NotFound."""
    row = _row(name)
    return as_dict(row, row.orgs())


def set_scope(name: str, orgs: list[str] | None) -> dict:
    """Bind the active key ``name`` to ``orgs`` (each must exist; an empty list: to none),
    or make it service-wide (None). Raises NotFound (no such key), Invalid (an org)."""
    with transaction():
        row = _row(name)
        wanted = None if orgs is None else _known_orgs(orgs)
        row.bind_orgs(wanted)
    return as_dict(row, None if wanted is None else frozenset(wanted))


def create(name: str, orgs: list[str] | None) -> str:
    """Make a key (``flask keys create``), bound to ``orgs`` when given. Returns the key.
    Raises Conflict (name taken), Invalid (an org)."""
    with transaction():
        wanted = None if orgs is None else _known_orgs(orgs, "--org")
        try:
            with transaction():
                return ApiKey.create_key(name, wanted)
        except IntegrityError:
            raise Conflict(f"a key named {name!r} exists; revoke it or pick another") from None


def revoke(name: str, now: datetime.datetime) -> dict:
    """Revoke the active key ``name``: it answers 401 from now on, its webhooks are
    disabled and its console sessions end. Returns counts. Raises NotFound."""
    with transaction():
        row = _row(name)
        return row.revoke(now)


def listing() -> list[dict]:
    """Every key, by name: created, revoked, scope."""
    bound = ApiKeyOrg.bound()
    return [
        {
            "name": r.name,
            "created_at": r.created_at,
            "revoked_at": r.revoked_at,
            "orgs": bound.get(r.id, []) if r.scoped else None,
        }
        for r in ApiKey.by_name()
    ]


def webhook_scope(api_key: str) -> Scope:
    """The organizations the webhooks of the key named ``api_key`` may hear of now
    (None: every one). A revoked or unknown key's: none."""
    row = ApiKey.named(api_key)
    if row is None or row.revoked_at is not None:
        return frozenset()
    return row.orgs()


# ---------------------------------------------------------------- users
def user_orgs(user_id: str) -> set[str]:
    """The organizations ``user_id`` belongs to or holds a grant in."""
    return _user_orgs(user_id)


def may_see_user(scope: Scope, user_id: str) -> bool:
    """A scoped key sees a user in one of its organizations, or in none."""
    if scope is None:
        return True
    orgs = user_orgs(user_id)
    return not orgs or bool(orgs & scope)


def may_change_user(scope: Scope, user_id: str) -> bool:
    """A scoped key changes (or erases) only a user who belongs to nothing outside it."""
    return scope is None or user_orgs(user_id) <= scope


def require_user(scope: Scope, user_id: str, change: bool = False) -> None:
    """Raises NotFound for a user the scope does not see, Forbidden for one it sees but may
    not change (``change``) because they belong to organizations outside it."""
    if scope is None:
        return
    if not may_see_user(scope, user_id):
        raise NotFound(f"no user {user_id!r}")
    if change and not may_change_user(scope, user_id):
        raise Forbidden(
            f"{user_id} belongs to organizations outside this key's: only a service-wide key "
            "may change or erase them",
        )
