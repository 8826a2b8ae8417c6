"""What a request reads facts through: ``Facts`` (the base: nothing kept, reads on the
primary), ``PrivateFacts`` (kept for one request or one unit of work) and, in
access/cache.py, ``SharedFacts`` (the worker's cache). ``TargetBuilder`` (access/targets.py)
asks them first and stores what it read.

``MISSING`` says "not kept" (None is a kept answer: no such thing)."""

import datetime
import enum
from typing import Final, Literal

from authz.view import OrgRef, Target
from models import db
from models.facts import on_postgres
from models.facts import read as read_primary
from ops import tracing


class _Missing(enum.Enum):
    MISSING = "MISSING"


MISSING: Final = _Missing.MISSING  # "not cached" (None is a cached answer: no such thing)
Missing = Literal[_Missing.MISSING]  # its type: ``found is MISSING`` narrows it away

# What the cache keeps: an actor's (known, membership role) in an org, its roles granted on
# one resource, and an answer decided before (allowed, reason, target, style: None when the
# policy was not asked, so it is not counted again).
# An actor entry is (known, live membership role, its teams' org roles, whether it is in a
# live team, when the first of them lapses or None); a grant entry (roles on the resource,
# its own and its teams', when the first lapses or None). A reader treats an entry past its
# time as not cached.
ActorEntry = tuple[bool, str | None, tuple[str, ...], bool, datetime.datetime | None]
Roles = tuple[str, ...]
GrantEntry = tuple[Roles, datetime.datetime | None]
Answer = tuple[bool, str, Target, str | None]
TargetKey = tuple[str, str, str]  # (organization, type, rid): what names a resource


class Facts:
    """What a request reads facts through (TargetBuilder), and the position it decides at."""

    position: int = -1
    loads: int = 0  # database reads this request made for facts (TargetBuilder counts)
    source: str = "cache"  # what decided: "cache", "primary" or "replica:<host>:<port>"

    def read(self, sql: str, params: tuple | list = ()) -> list:
        """Run one read of facts (TargetBuilder, access/listing.py); its rows."""
        if tracing.ON:
            with tracing.span("orgauthz.facts.read"):
                rows = self._read(sql, params)
                source = self.source
                system = "postgresql" if source != "primary" or on_postgres(db.obj) else "sqlite"
                tracing.fact_read(source, system)
                return rows
        return self._read(sql, params)

    def _read(self, sql: str, params: tuple | list = ()) -> list:
        """One read on the primary (``read`` is it, in a span when tracing)."""
        self.source = "primary"
        return read_primary(sql, params)

    def org(self, org_id: str) -> OrgRef | None | Missing:
        return MISSING

    def put_org(self, org_id: str, org: OrgRef | None) -> None:
        pass

    def target(self, key: TargetKey) -> Target | None | Missing:
        return MISSING

    def put_target(self, key: TargetKey, target: Target | None) -> None:
        pass

    def owner_org(self, type_: str, rid: str) -> str | None | Missing:
        """The one organization known to have registered (type_, rid), None for none."""
        return MISSING

    def put_owner_org(self, type_: str, rid: str, org: str | None) -> None:
        pass

    def actor(self, user: str, org: str) -> ActorEntry | Missing:
        return MISSING

    def put_actor(self, user: str, org: str, value: ActorEntry) -> None:
        pass

    def grant(self, user: str, org: str, pk: int) -> GrantEntry | Missing:
        return MISSING

    def put_grant(self, user: str, org: str, pk: int, roles: GrantEntry) -> None:
        pass

    def key(self, digest: str) -> str | None | Missing:
        return MISSING

    def put_key(self, digest: str, name: str | None) -> None:
        pass

    def answer(self, user: str, key: tuple) -> Answer | None:
        """The answer decided before on these facts: ``key`` is (policy version, action,
        org, type, rid) of a registered resource (org None: the check named none); None when
        there is none."""
        return None

    def put_answer(self, user: str, org: str, key: tuple, answer: Answer) -> None:
        pass


class PrivateFacts(Facts):
    """Facts for one request or one unit of work only (nothing shared)."""

    def __init__(self, position: int = -1, source: str = "primary") -> None:
        self.position, self.source = position, source
        self._orgs: dict[str, OrgRef | None] = {}
        self._targets: dict[TargetKey, Target | None] = {}
        self._anyorg: dict[tuple[str, str], str | None] = {}
        self._actors: dict[tuple[str, str], ActorEntry] = {}
        self._grants: dict[tuple[str, int], GrantEntry] = {}
        self._keys: dict[str, str | None] = {}

    def org(self, org_id: str) -> OrgRef | None | Missing:
        return self._orgs.get(org_id, MISSING)

    def put_org(self, org_id: str, org: OrgRef | None) -> None:
        self._orgs[org_id] = org

    def target(self, key: TargetKey) -> Target | None | Missing:
        return self._targets.get(key, MISSING)

    def put_target(self, key: TargetKey, target: Target | None) -> None:
        self._targets[key] = target

    def owner_org(self, type_: str, rid: str) -> str | None | Missing:
        return self._anyorg.get((type_, rid), MISSING)

    def put_owner_org(self, type_: str, rid: str, org: str | None) -> None:
        self._anyorg[(type_, rid)] = org

    def actor(self, user: str, org: str) -> ActorEntry | Missing:
        return self._actors.get((user, org), MISSING)

    def put_actor(self, user: str, org: str, value: ActorEntry) -> None:
        self._actors[(user, org)] = value

    def grant(self, user: str, org: str, pk: int) -> GrantEntry | Missing:
        return self._grants.get((user, pk), MISSING)

    def put_grant(self, user: str, org: str, pk: int, roles: GrantEntry) -> None:
        self._grants[(user, pk)] = roles

    def key(self, digest: str) -> str | None | Missing:
        return self._keys.get(digest, MISSING)

    def put_key(self, digest: str, name: str | None) -> None:
        self._keys[digest] = name
