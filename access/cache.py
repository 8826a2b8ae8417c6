"""Facts cached across requests, per worker, and how fresh each request needs them.

**What is cached.** Per organization: the organization, the chains of its resources (a
resource is named by organization, type and id), its members' roles and their grants on
those chains; across organizations: which (organization, type, id) is no registered
resource, which one organization registered a (type, id) that a check named without its org
(dropped, with the "no such resource" answers, whenever a resource is created anywhere: a
second registration makes such a check ambiguous), and API keys. ``TargetBuilder``
(access/targets.py) reads and fills them through a ``SharedFacts`` view, one per request
(access/shared.py).

**How it stays fresh.** Every committed change moves the database's change position
(models/generation.py). On PostgreSQL the triggers also ``NOTIFY`` which organizations a
statement touched (models/migrations/m0005_change_notices.py); a listener thread per
worker (models/notices.py), on a connection of its own, applies each notice: it drops
only those organizations' facts (a user created or deleted: only that user's entries;
keys: the keys) and then advances ``position``, the change position up to which every
notice is applied. Other tenants' writes leave an organization's facts alone. On SQLite,
or while the listener is not connected, each decision request reads the position instead
(one primary-key read) and drops everything when it moved: never stale, one round trip.

**No stale fact is stored.** A request notes the cache's ``epoch`` (how many notices were
applied) before it reads the database, and stores what it read only if no notice about
that organization (or user, or "anything") was applied since: a row read just before a
change committed can never be kept past the notice of that change.

**Freshness per request** (``consistency`` of docs/API.md, ``view``):
- ``minimize_latency`` (the default): the cached facts as they are, no round trip. They
  may miss changes committed in the last instant, the time the notice takes to arrive
  (bench/: "staleness window"); never older than the worker's own writes: a worker that
  committed position P answers only once its listener has applied P. Never older than
  ``max_staleness`` seconds either (FACTS_MAX_STALENESS_SECONDS), whatever the network
  does: the listener reads the position on its own schedule (a heartbeat, every quarter of
  the bound) and the cache answers from memory only while a position read within the
  bound has been applied. A connection that hangs (a stopped backend, a half-open TCP
  connection after a partition) proves nothing: past the bound decisions read the
  position per request, as without a listener, and the listener replaces its connection
  (logged, ``orgauthz_fact_cache_listener_replaced_total``). Every wait on that connection
  is bounded on this side (non-blocking, select() with a deadline; TCP keepalives and
  ``tcp_user_timeout`` for the kernel). Notices lost while the position still answers
  (a proxy that drops LISTEN) are caught at the next heartbeat: the cache starts over.
- ``at_least_as_fresh`` with a token: never older than the token's position. The request
  waits (at most ``WAIT_SECONDS``) for the listener to apply it, else reads the database
  without the cache; a token past the database's position is a 422 (``UnknownToken``).
- ``fully_consistent``: the position read now (access/sharedread.py), then as above.
Every answer names the position it was decided at (``Facts.position``).

Memory: every store counts; past ``MAX_ENTRIES`` stores everything starts over (drops do
not give room back, so the indexes beside the maps stay bounded too).
"""

import bisect
import itertools
import logging
import os
import threading
import time

from access.facts import (
    MISSING,
    ActorEntry,
    Answer,
    Facts,
    GrantEntry,
    Missing,
    PrivateFacts,
    Roles,
    TargetKey,
)
from access.shared import SharedFacts
from access.sharedread import SharedRead
from authz.view import OrgRef, Target
from models import db
from models.facts import POSITION_SQL, on_postgres
from models.generation import current
from models.notices import Listener
from models.replicas import Replica, connect_params
from ops.metrics import FACT_CACHE_LISTENER_LOST, REPLICA_SKIPS

log = logging.getLogger("orgauthz.cache")

MAX_ENTRIES = 400_000  # stores since the cache last started over
MAX_EPOCH_KEYS = 100_000  # orgs and users remembered as "changed at"; past it: a floor
WAIT_SECONDS = 0.25  # how long a request waits for the listener before reading around it
LISTEN_PING_SECONDS = 2.0  # the listener's heartbeat: this often at most (a quarter of the bound)
MAX_STALENESS_SECONDS = 5.0  # FACTS_MAX_STALENESS_SECONDS: no position proven since: no cache
SEEN_POSITIONS = 4096  # notice arrival times kept to tell a replica's lag in seconds

__all__ = [
    "CACHE",
    "MISSING",
    "Facts",
    "FactCache",
    "PrivateFacts",
    "Roles",
    "SharedFacts",
    "UnknownToken",
]


class UnknownToken(Exception):
    """A consistency token past the database's position: not one this database gave."""


class OrgFacts:
    """The cached facts of one organization, and the answers decided on them."""

    __slots__ = ("org", "targets", "actors", "grants", "answers")

    def __init__(self) -> None:
        self.org: OrgRef | Missing = MISSING
        self.targets: dict[TargetKey, Target] = {}  # (org, type, rid) -> Target
        self.actors: dict[str, ActorEntry] = {}  # user -> (known, role)
        self.grants: dict[tuple[str, int], GrantEntry] = {}  # (user, pk) -> roles
        # user -> {(policy version, action, org, type, rid): answer}
        self.answers: dict[str, dict[tuple, Answer]] = {}


class FactCache:
    """One per worker process; thread-safe (gthread workers share it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._advanced = threading.Condition(self._lock)
        self._listener: Listener | None = None
        self._fork: int | None = None  # _FORKS[0] when the listener started
        self._plain: object = None  # a database seen without notices (SQLite): none to start
        self.replicas: list[Replica] = []  # decision reads may go there
        self.max_lag = 1.0  # seconds a replica may be behind the primary and still serve
        self.retry = 2.0  # seconds a failed replica is skipped
        self.listen_params: dict | None = None  # a direct connection for LISTEN
        self.max_staleness = MAX_STALENESS_SECONDS  # see the module docstring
        self._turn = itertools.count()
        self.now = SharedRead(lambda: current(db))  # the position, read after the call began
        # (position, monotonic time) of each notice that arrived, ascending; appended to, or
        # replaced, never shortened in place: a reader without the lock sees a whole list
        self._seen: list[tuple[int, float]] = []
        self._reset()

    def _reset(self) -> None:
        self.orgs: dict[str, OrgFacts] = {}  # org id -> OrgFacts
        # (type, rid) -> the one org that registered it (None: no org did), for checks that
        # name no org; emptied with ``absent`` by every "n" notice
        self.anyorg: dict[tuple[str, str], str | None] = {}
        self.absent: dict[tuple, bool] = {}  # (org, type, rid) or ("org", id): no such
        self.user_orgs: dict[str, set[str]] = {}  # user -> orgs holding an entry of theirs
        # user -> {(version, action, org or None, type, rid): known answer} (access/shared.py)
        self.quick: dict[str, dict[tuple, Answer]] = {}
        self.keys: dict[str, str | None] = {}  # API key digest -> name (None: unknown, revoked)
        self.entries = 0
        self.epoch = 0  # notices applied
        self.floor = 0  # stores that began before this epoch are refused
        self.org_epoch: dict[str, int] = {}  # org -> epoch of its last notice
        self.user_epoch: dict[str, int] = {}
        self.absent_epoch = self.keys_epoch = 0
        self.position = -1  # every notice up to this change position is applied
        self.own = -1  # the highest position this worker's own writes committed at

    # ------------------------------------------------------------ lifecycle
    def configure(
        self,
        replicas: list[Replica] | None = None,
        listen_url: str | None = None,
        max_lag: float = 1.0,
        retry: float = 2.0,
        max_staleness: float = MAX_STALENESS_SECONDS,
    ) -> None:
        """Where decision reads may go (``replicas``), and how the listener connects
        (``listen_url``: directly to the primary, when the pooled URL goes through
        PgBouncer in transaction mode, which does not deliver notifications)."""
        for replica in self.replicas:
            replica.close()
        self.replicas = list(replicas or ())
        self.listen_params = connect_params(listen_url) if listen_url else None
        self.max_lag, self.retry, self.max_staleness = max_lag, retry, max_staleness

    def clear(self) -> None:
        """Forget everything and stop listening (a new app may be bound to another database;
        the listener starts again, for it, on the next request)."""
        listener, self._listener = self._listener, None
        self._plain = None
        if listener is not None:
            listener.stop()
        with self._lock:
            self._reset()

    def listening(self) -> bool:
        """Whether notices keep the cache fresh (PostgreSQL, listener connected and its
        position proven within ``max_staleness``)."""
        listener = self._listener
        if listener is None or self._fork != _FORKS[0]:
            if self._plain is not None and self._plain is db.obj:
                return False
            self._start_listener()
            listener = self._listener
        return listener is not None and listener.trusted()

    def _start_listener(self) -> None:
        database = db.obj
        if database is None or not on_postgres(database):
            self._plain = database
            return
        with self._lock:
            if self._listener is not None and self._fork == _FORKS[0]:
                return
            self._fork = _FORKS[0]  # a forked worker starts its own
            self._listener = Listener(self, database, self.listen_params, _lost)
            self._listener.start()

    # ------------------------------------------------------------ freshness
    def wrote(self, position: int) -> None:
        """This worker committed a change at ``position``: its later answers include it."""
        with self._lock:  # two threads' writes: the higher stays
            if position > self.own:
                self.own = position

    def view(self, mode: str = "minimize_latency", position: int | None = None) -> "Facts":
        """The facts one request decides on, as fresh as ``mode`` asks (``position``: the
        token's, for ``at_least_as_fresh``). Raises UnknownToken."""
        if not self.listening():  # SQLite, or no notices: read the position
            now = self.now()
            if position is not None and position > now:
                raise UnknownToken(position)
            self._poll(now)
            facts = SharedFacts(self, self.epoch, now)
            if self.replicas and mode != "fully_consistent":
                facts.need = now  # only a replica that has replayed everything
            return facts
        need = self.own
        if mode == "fully_consistent":
            need = max(need, self.now())
        elif position is not None:
            need = max(need, position)
        if self.position >= need or self._wait(need):
            facts = SharedFacts(self, self.epoch, self.position)
            if self.replicas and mode != "fully_consistent":
                facts.need = need  # a replica that has replayed ``need`` may serve its reads
            return facts
        now = self.now()  # the listener is behind: read around the cache
        if position is not None and position > now:
            raise UnknownToken(position)
        if self.own > now:  # an own write that never committed (rolled back): forget it
            self.own = now
        return PrivateFacts(now, "primary")

    def fresh(self) -> "Facts | None":
        """The cached facts when notices keep them fresh and this worker's own writes are
        applied, else None: no read, no wait (a management call's key: routes/)."""
        fresh = self.listening() and self.position >= self.own
        return SharedFacts(self, self.epoch, self.position) if fresh else None

    # ------------------------------------------------------------ replicas
    def choose(self, facts: "SharedFacts") -> Replica | None:
        """The replica that serves a request's reads (its first read asks), or None for the
        primary. Replicas take turns; each is asked the position it has replayed (one
        primary-key read, on the connection the request's reads then use; not when that same
        connection already showed the cache's position: on one standby what is replayed only
        grows). One that has replayed the cache's position serves, and what is read there is
        shared; one only past what the request needs (``need``: its token, this worker's own
        writes) serves if it lags by at most ``max_lag`` seconds, deciding at its own position
        and sharing nothing. One down, or too far behind, is skipped."""
        replicas, now = self.replicas, time.monotonic()
        first = next(self._turn)
        for i in range(len(replicas)):
            replica = replicas[(first + i) % len(replicas)]
            if not replica.up(now):
                REPLICA_SKIPS.labels(replica.name, "down").inc()
                continue
            try:
                if replica.known() >= facts.position:  # this connection showed it already
                    return replica
                rows = replica.read(POSITION_SQL)
                replayed: int = rows[0][0] if rows else -1
            except Exception as exc:  # noqa: BLE001 -- any failure: the next, else the primary
                self.failed(replica, exc)
                continue
            replica.saw(replayed)
            if replayed >= facts.position:
                return replica
            lag = self.lag(replayed)
            if replayed >= (facts.need or 0) and lag <= self.max_lag:
                facts.start = -1  # older than the cache: nothing read there is shared
                facts.position = replayed
                return replica
            REPLICA_SKIPS.labels(replica.name, "lag").inc()
            if now - replica.noted > 1.0:
                replica.noted = now
                log.info(
                    "replica %s skipped: at position %s, needed %s, %.3f s behind (bound %s s)",
                    replica.name,
                    replayed,
                    facts.need,
                    lag,
                    self.max_lag,
                )
        return None

    def failed(self, replica: Replica, exc: BaseException) -> None:
        REPLICA_SKIPS.labels(replica.name, "error").inc()
        replica.failed(exc, self.retry)

    def lag(self, replayed: int) -> float:
        """How long ago (seconds) the primary committed the oldest change a database at
        ``replayed`` misses, by when its notice arrived here; 0 when it misses none."""
        if replayed >= self.position:
            return 0.0
        seen = self._seen  # one read: the listener appends or replaces, never shortens
        if not seen:
            return float("inf")
        i = bisect.bisect_right(seen, replayed, key=_position_of)
        if i == 0 and seen[0][0] > replayed + 1:  # it misses changes older than the record
            return time.monotonic() - seen[0][1] + self.max_lag
        return time.monotonic() - seen[min(i, len(seen) - 1)][1]

    def _wait(self, position: int, timeout: float = WAIT_SECONDS) -> bool:
        deadline = time.monotonic() + timeout
        with self._advanced:
            while self.position < position:
                left = deadline - time.monotonic()
                if left <= 0 or not self._listener or not self._listener.trusted():
                    return False
                self._advanced.wait(left)
        return True

    def _poll(self, now: int) -> None:
        if now != self.position:
            self.apply({"g": now, "all": True}, exact=True)

    def heartbeat(self) -> float:
        """How often the listener reads the position: a quarter of the bound, at most 2 s."""
        return min(LISTEN_PING_SECONDS, self.max_staleness / 4)

    def resync(self, position: int) -> None:
        """The listener (re)connected at ``position``: keep the facts only if they are of it."""
        with self._lock:
            if position == self.position and self.epoch > 0:
                self._advanced.notify_all()
                return
        self.apply({"g": position, "all": True}, exact=True)

    def apply(self, note: dict, exact: bool = False) -> None:
        """Apply one change notice (models/migrations/m0005_change_notices.py): drop what it
        names, then advance the position. ``exact``: set the position even if lower (the
        database was replaced)."""
        with self._lock:
            self.epoch += 1
            epoch = self.epoch
            if note.get("all"):
                self._reset_maps(epoch)
            else:
                for org in note.get("o") or ():
                    self.org_epoch[org] = epoch
                    dropped = self.orgs.pop(org, None)
                    for user in dropped.answers if dropped is not None else ():
                        self.quick.pop(user, None)
                for user in note.get("u") or ():
                    self.user_epoch[user] = epoch
                    self.quick.pop(user, None)
                    for org in self.user_orgs.pop(user, ()):
                        facts = self.orgs.get(org)
                        if facts is not None:
                            facts.actors.pop(user, None)
                            facts.answers.pop(user, None)
                if note.get("n"):
                    self.absent_epoch = epoch
                    self.absent = {}
                    self.anyorg = {}
                    self.quick = {}
                if note.get("k"):
                    self.keys_epoch = epoch
                    self.keys = {}
                if len(self.org_epoch) + len(self.user_epoch) > MAX_EPOCH_KEYS:
                    self.floor, self.org_epoch, self.user_epoch = epoch, {}, {}
            position = note.get("g")
            if isinstance(position, int) and (exact or position > self.position):
                if position < self.position or note.get("all"):
                    self._seen = []
                else:
                    if len(self._seen) >= SEEN_POSITIONS:  # a new list: readers keep theirs
                        self._seen = self._seen[SEEN_POSITIONS // 2 :]
                    self._seen.append((position, time.monotonic()))  # only ever grows
                self.position = position
            self._advanced.notify_all()

    def _reset_maps(self, epoch: int) -> None:
        position, own, ep = self.position, self.own, epoch
        self._reset()
        self.position, self.own, self.epoch, self.floor = position, own, ep, ep

    # ------------------------------------------------------------ stores (under the lock)
    def _fresh(self, start: int, org: str | None = None, user: str | None = None) -> bool:
        if start < self.floor:
            return False
        if org is not None and self.org_epoch.get(org, 0) > start:
            return False
        return user is None or self.user_epoch.get(user, 0) <= start

    def _room(self) -> None:
        self.entries += 1
        if self.entries > MAX_ENTRIES:
            self._reset_maps(self.epoch + 1)

    def _org_facts(self, org: str) -> OrgFacts:
        facts = self.orgs.get(org)
        if facts is None:
            facts = self.orgs[org] = OrgFacts()
        return facts


def _position_of(seen: tuple[int, float]) -> int:
    return seen[0]


def _lost(reason: str) -> None:
    """The listener gave its connection up (``deadline`` or ``error``): counted."""
    FACT_CACHE_LISTENER_LOST.labels(reason).inc()


# Forks of this process so far (a forked worker starts its own listener): counted at fork,
# so a request does not ask the kernel for its pid.
_FORKS = [0]
os.register_at_fork(after_in_child=lambda: _FORKS.__setitem__(0, _FORKS[0] + 1))


CACHE = FactCache()
