"""The worker's fact cache (access/cache.py) as one request sees it: ``SharedFacts``.

Reads are lock-free dict lookups; stores take the cache's lock and keep only what no notice
applied since the request's ``start`` could have changed (``FactCache._fresh``).

**Known answers, quickly.** A known answer is found through the maps it was decided on
(which org registered the resource, that org's facts, the actor's answers there), five
lookups that miss the processor's caches on a worker's large maps. ``FactCache.quick`` keeps
what that search found, by the actor and the question exactly as asked (policy version,
action, org or None, type, id), so a repeated question is two lookups. It holds only what
the search finds at the moment it is kept (checked again under the lock), and is dropped
wherever what the search reads is: an organization's facts (its actors' entries), a user's
entries, a registration anywhere (a check naming no org), the whole cache. Each entry counts
as a store towards the cache's bound (``MAX_ENTRIES``), as every other does.
"""

import enum
from typing import TYPE_CHECKING, Final, Literal

from access.facts import (
    MISSING,
    ActorEntry,
    Answer,
    GrantEntry,
    Missing,
    PrivateFacts,
    TargetKey,
)
from authz.view import OrgRef, Target
from models.replicas import Replica

if TYPE_CHECKING:
    from access.cache import FactCache


class _Unchosen(enum.Enum):
    UNCHOSEN = "UNCHOSEN"


_UNCHOSEN: Final = _Unchosen.UNCHOSEN  # no replica chosen for the request yet


class SharedFacts(PrivateFacts):
    """The worker's cache as one request sees it: reads are lock-free dict lookups; stores
    take the lock and keep only what no notice applied since ``start`` could have changed.
    What is not stored is still kept for this request (its private maps)."""

    need: int | None = None  # set when a replica may serve: the position it must have replayed
    replica: Replica | None | Literal[_Unchosen.UNCHOSEN] = _UNCHOSEN

    def __init__(self, cache: "FactCache", start: int, position: int) -> None:
        super().__init__(position, "cache")
        self.cache, self.start = cache, start

    def _read(self, sql: str, params: tuple | list = ()) -> list:
        """A read on the replica the cache chose for this request (at its first read), else
        the primary; a replica that fails is skipped from then on and the read retried on
        the primary (reads only, so nothing is done twice)."""
        if self.need is not None:
            replica = self.replica
            if replica is _UNCHOSEN:
                replica = self.replica = self.cache.choose(self)
            if replica is not None:
                try:
                    rows = replica.read(sql, params)
                except Exception as exc:  # noqa: BLE001 -- the primary answers instead
                    self.cache.failed(replica, exc)
                    self.replica = None
                else:
                    self.source = replica.label
                    return rows
        return super()._read(sql, params)

    def org(self, org_id: str) -> OrgRef | None | Missing:
        cache = self.cache
        if ("org", org_id) in cache.absent:
            return None
        facts = cache.orgs.get(org_id)
        if facts is not None and facts.org is not MISSING:
            return facts.org
        return super().org(org_id)

    def put_org(self, org_id: str, org: OrgRef | None) -> None:
        super().put_org(org_id, org)
        cache = self.cache
        with cache._lock:
            if org is None:
                if cache._fresh(self.start) and self.start >= cache.absent_epoch:
                    cache.absent[("org", org_id)] = True
                    cache._room()
            elif cache._fresh(self.start, org_id):
                facts = cache._org_facts(org_id)
                if facts.org is MISSING:
                    cache._room()
                facts.org = org

    def target(self, key: TargetKey) -> Target | None | Missing:
        cache = self.cache
        facts = cache.orgs.get(key[0])
        if facts is not None:
            found = facts.targets.get(key, MISSING)
            if found is not MISSING:
                return found
        if key in cache.absent:
            return None
        return super().target(key)

    def put_target(self, key: TargetKey, target: Target | None) -> None:
        super().put_target(key, target)
        cache = self.cache
        with cache._lock:
            if target is None:
                if cache._fresh(self.start) and self.start >= cache.absent_epoch:
                    cache.absent[key] = True
                    cache._room()
                return
            org = target.org.id
            if org == key[0] and cache._fresh(self.start, org):
                facts = cache._org_facts(org)
                if key not in facts.targets:
                    cache._room()
                facts.targets[key] = target

    def owner_org(self, type_: str, rid: str) -> str | None | Missing:
        found = self.cache.anyorg.get((type_, rid), MISSING)
        return found if found is not MISSING else super().owner_org(type_, rid)

    def put_owner_org(self, type_: str, rid: str, org: str | None) -> None:
        super().put_owner_org(type_, rid, org)
        cache = self.cache
        with cache._lock:  # a registration anywhere since the read ("n") may make it two
            if cache._fresh(self.start) and self.start >= cache.absent_epoch:
                if (type_, rid) not in cache.anyorg:
                    cache._room()
                elif cache.anyorg[(type_, rid)] != org:  # what quick found by it is not
                    cache.quick = {}
                cache.anyorg[(type_, rid)] = org

    def actor(self, user: str, org: str) -> ActorEntry | Missing:
        facts = self.cache.orgs.get(org)
        if facts is not None:
            found = facts.actors.get(user, MISSING)
            if found is not MISSING:
                return found
        return super().actor(user, org)

    def put_actor(self, user: str, org: str, value: ActorEntry) -> None:
        super().put_actor(user, org, value)
        cache = self.cache
        with cache._lock:
            if cache._fresh(self.start, org, user):
                facts = cache._org_facts(org)
                if user not in facts.actors:
                    cache._room()
                facts.actors[user] = value
                cache.user_orgs.setdefault(user, set()).add(org)

    def grant(self, user: str, org: str, pk: int) -> GrantEntry | Missing:
        facts = self.cache.orgs.get(org)
        if facts is not None:
            found = facts.grants.get((user, pk), MISSING)
            if found is not MISSING:
                return found
        return super().grant(user, org, pk)

    def put_grant(self, user: str, org: str, pk: int, roles: GrantEntry) -> None:
        super().put_grant(user, org, pk, roles)
        cache = self.cache
        with cache._lock:
            if cache._fresh(self.start, org, user):
                facts = cache._org_facts(org)
                if (user, pk) not in facts.grants:
                    cache._room()
                facts.grants[(user, pk)] = roles

    def key(self, digest: str) -> str | None | Missing:
        found = self.cache.keys.get(digest, MISSING)
        return found if found is not MISSING else super().key(digest)

    def answer(self, user: str, key: tuple) -> Answer | None:
        mine = self.cache.quick.get(user)
        if mine is not None:
            found = mine.get(key)
            if found is not None:
                return found
        found = self._search(user, key)
        if found is not None:
            self._keep_quick(user, key, found)
        return found

    def _search(self, user: str, key: tuple) -> Answer | None:
        """The known answer to ``key`` through the maps it was decided on."""
        cache = self.cache
        version, action, org, type_, rid = key
        if org is None:  # named none: the one that registered it (an Organization is its own)
            org = rid if type_ == "Organization" else cache.anyorg.get((type_, rid))
            if org is None:
                return None
        facts = cache.orgs.get(org)
        if facts is None or (org, type_, rid) not in facts.targets:
            return None
        mine = facts.answers.get(user)
        return mine.get((version, action, type_, rid)) if mine is not None else None

    def _keep_quick(self, user: str, key: tuple, found: Answer) -> None:
        """Keep ``found`` in ``quick`` if the search still finds it, under the lock the
        drops take: what a notice dropped meanwhile is not kept."""
        cache = self.cache
        with cache._lock:
            if self._search(user, key) is found:
                cache.quick.setdefault(user, {})[key] = found
                cache._room()  # a store as any other: the cache's bound covers it

    def put_answer(self, user: str, org: str, key: tuple, answer: Answer) -> None:
        cache = self.cache
        version, action, _named, type_, rid = key
        with cache._lock:
            facts = cache.orgs.get(org)
            if (
                facts is not None
                and (org, type_, rid) in facts.targets
                and cache._fresh(self.start, org, user)
            ):
                mine = facts.answers.setdefault(user, {})
                if (version, action, type_, rid) in mine:  # replaced: not the one quick holds
                    cache.quick.pop(user, None)
                mine[(version, action, type_, rid)] = answer
                cache.user_orgs.setdefault(user, set()).add(org)
                cache._room()

    def put_key(self, digest: str, name: str | None) -> None:
        super().put_key(digest, name)
        if name is None:  # only keys that work are shared: made-up ones would fill the cache
            return
        cache = self.cache
        with cache._lock:
            if cache._fresh(self.start) and self.start >= cache.keys_epoch:
                if digest not in cache.keys:
                    cache._room()
                cache.keys[digest] = name
