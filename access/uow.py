"""Every write is one unit of work: lock, then decide, then write, then audit, in one
transaction.

    with UnitOfWork(ctx, org_id, lock_users=[user_id]) as uow:
        org = uow.org()                                  # 404 when it does not exist
        uow.require(actor, "change_role", target, ...)   # fresh facts, under the locks
        ...write the models...
        uow.audit(org.id, "member.change_role", ...)

Entering opens the transaction (``models.transaction``), locks the organization's row and
then the rows of ``lock_users`` (sorted, so two units never wait on each other in opposite
orders), and only then makes a fresh ``TargetBuilder``: every fact the policy is shown was
read after the locks, so a role lowered or a grant revoked while this unit waited is the
role the policy sees. A rule that spans organizations (UP42's one account per user,
respond.io's one organization per user) names the user in ``lock_users``: their row lock
serialises every unit that could add them to an organization. A unit may name the ``member``
whose membership its write is about (a role change): that row is read with the organization's
row in the lock's round trip, as a statement of its own after the lock's, so it too was read
with the lock held (``models.members.lock_with_member``).

``require`` and ``denial`` are the only way a write asks the policy; they raise
``RuntimeError`` outside an entered unit (tests/routes/test_unit_of_work.py also checks that
every write route decides only inside one).

Once committed, ``position`` is the change position the unit committed at (models/generation.py:
on SQLite read inside its transaction after its writes, on PostgreSQL in the round trip of its
``COMMIT``, just after it: ``commit_then``), and ``take_committed()`` hands the
highest one of the thread's units to whoever answers the request (routes/__init__.py turns
it into the ``X-Consistency-Token`` header).
"""

import sys
import threading
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any

from access import events, refusals
from access.context import Context
from access.decisions import require
from access.errors import Forbidden, NotFound
from access.targets import TargetBuilder, org_of
from authz.view import OrgRef, Target
from models import Membership, Organization, User, db, transaction
from models.facts import POSITION_SQL
from models.generation import current as change_position
from models.members import lock_with_member
from ops import tracing

_local = threading.local()


def current() -> "UnitOfWork | None":
    """The unit of work this thread is in, or None."""
    return getattr(_local, "uow", None)


def take_committed() -> int | None:
    """The highest change position a unit of this thread committed at since the last call
    (None: none committed), and forget it."""
    position = getattr(_local, "committed", None)
    _local.committed = None
    return position


class UnitOfWork:
    """One transaction with its locks taken first (see the module docstring)."""

    def __init__(
        self,
        ctx: Context,
        org_id: str | None = None,
        lock_users: Iterable[str | None] = (),
        member: str | None = None,
        grant_on: tuple[str, str] | None = None,
    ) -> None:
        self.ctx = ctx
        self.org_id = org_id
        self.lock_users = sorted({u for u in lock_users if u})
        # ``member``: the membership of this user, read in the org lock's round trip
        # (``models.members.lock_with_member``), is ``self.member`` (None: not a member);
        # ``grant_on``: a resource's (type, id), the member's grant on it is ``.held``.
        if member is not None and (org_id is None or self.lock_users):
            raise ValueError("a member is read with the org lock alone")
        self.member_id, self.grant_on = member, grant_on
        self.member: Membership | None = None
        self._targets: TargetBuilder | None = None
        self.org_row: Organization | None = None
        self._tx: AbstractContextManager[Any] | None = None
        self.position: int | None = None  # the change position it committed at
        self._span: object = None  # its span while entered, when tracing (ops/tracing.py)

    def __enter__(self) -> "UnitOfWork":
        if current() is not None:
            raise RuntimeError("a unit of work is already open in this thread")
        if tracing.ON:
            self._span = tracing.enter("orgauthz.unit_of_work", {"orgauthz.org": self.org_id or ""})
        try:
            self._tx = transaction()
            self._tx.__enter__()
        except BaseException as exc:
            tracing.leave(self._span, exc)
            raise
        try:
            if self.member_id is not None:
                self.org_row, self.member = lock_with_member(
                    self.org_id or "", self.member_id, self.grant_on
                )
            elif self.org_id is not None:
                self.org_row = Organization.lock(self.org_id)
            for user_id in self.lock_users:
                User.lock(user_id)
        except BaseException as exc:
            self._tx.__exit__(*sys.exc_info())  # roll back: the locks were not all taken
            tracing.leave(self._span, exc)
            raise
        self._targets = TargetBuilder()  # fresh: read after the locks
        if self.org_id is not None:  # the locked row is the org's fact: not read again
            row = self.org_row
            found = (
                org_of(row.id, row.style, row.closed_at, row.admin_ip_allowlist, row.custom_roles)
                if row
                else None
            )
            self._targets.facts.put_org(self.org_id, found)
        _local.uow = self
        return self

    def __exit__(self, *exc: Any) -> None:
        # Commits, or rolls back on an exception, which then goes on: a unit of work never
        # swallows one (so the type checker knows what holds after the block).
        _local.uow = None
        self._targets = None
        assert self._tx is not None  # entered: __enter__ set it
        with_commit = exc[0] is None and commit_then(POSITION_SQL)  # (not in a savepoint)
        position = _position() if exc[0] is None and not with_commit else None
        try:
            self._tx.__exit__(*exc)
        finally:
            if self._span is not None:
                tracing.leave(self._span, exc[1])
                self._span = None
        if with_commit:
            rows = db.obj.committed_rows()
            position = rows[0][0] if rows else None
        if position is not None:  # committed
            self.position = position
            if position > (getattr(_local, "committed", None) or -1):
                _local.committed = position

    # ------------------------------------------------------------ reads under the lock
    def _open(self) -> TargetBuilder:
        if self._targets is None or current() is not self:
            raise RuntimeError("the policy is asked about a write only inside its unit of work")
        return self._targets

    @property
    def targets(self) -> TargetBuilder:
        """The unit's TargetBuilder: facts read after its locks. Raises RuntimeError outside
        the entered unit."""
        return self._open()

    def org(self) -> OrgRef:
        """The locked organization as decisions see it. Raises NotFound."""
        org = self._open().org(self.org_id) if self.org_id else None
        if org is None:
            raise NotFound(f"no organization {self.org_id!r}")
        return org

    # ------------------------------------------------------------ asking the policy
    def require(self, actor: str, action: str, target: Target | None, what: str = "") -> None:
        """Ask the policy on facts read under the locks. Raises Forbidden with the reason
        (NotFound when there is no target)."""
        require(self.ctx.policy, self._open(), actor, action, target, what)

    def denial(self, actor: str, action: str, type_: str, attributes: dict) -> str | None:
        """Ask the policy about a management resource of the locked org: None when allowed,
        else the reason (``access.refusals.management_denial``)."""
        return refusals.management_denial(
            self.ctx.policy, self._open(), actor, action, self.org(), type_, attributes
        )

    def refusal(self, actor: str, question: refusals.Question) -> str | None:
        """Ask one question of a write's plan on facts read under the locks: None when
        allowed, else the reason."""
        asker = question.asker(actor)
        return refusals.denial(
            self.ctx.policy, self._open(), asker, question.action, question.target
        )

    def ask(self, actor: str, questions: list[refusals.Question]) -> None:
        """Ask every question of a write's plan in order; Forbidden at the first refused."""
        for q in questions:
            self.require(q.asker(actor), q.action, q.target, q.what)

    def require_management(
        self, actor: str, action: str, type_: str, attributes: dict, what: str
    ) -> None:
        """``denial``, raising Forbidden with the reason when refused."""
        reason = self.denial(actor, action, type_, attributes)
        if reason is not None:
            raise Forbidden(f"{actor} may not {what}: {reason}", policy=True)

    # ------------------------------------------------------------ the record of the change
    def audit(
        self,
        org_id: str | None,
        action: str,
        target: str,
        before: dict | None = None,
        after: dict | None = None,
        actor: str | None = None,
    ) -> None:
        """Write an audit event in this unit's transaction, and the event it makes
        (access/events.py: every audited change is an event, so none can be forgotten).
        Nothing in a unit reads them back, so on PostgreSQL they go out with its ``COMMIT``,
        in one round trip (models/base.py ``send_with_commit``), unless tracing wants the
        event's position now."""
        self._open()
        position = events.record(
            {
                "org": org_id,
                "actor": actor or self.ctx.actor,
                "action": action,
                "target": target,
                "before": before,
                "after": after,
                "request_id": self.ctx.request_id,
                "api_key": self.ctx.api_key,
                "created_at": self.ctx.now(),
            },
            with_commit=not tracing.ON,
        )
        if tracing.ON and position is not None:  # its deliveries continue this trace
            tracing.remember(position)


def commit_then(sql: str) -> bool:
    """PostgreSQL: read ``sql`` in the round trip of the unit's ``COMMIT`` (models/base.py).

    The change position is then read just after the commit instead of just before it: the
    unit's own bump is committed by then, and positions only grow in commit order, so the
    value read is at least the one the unit committed at, and any state at that position
    holds the unit's write: what a token promises (docs/consistency.md). It may also count
    changes committed in between, so a token can name a later position, never an earlier
    one. A read that fails after a successful ``COMMIT`` fails the request (a 503), as a
    lost answer to the ``COMMIT`` itself always could."""
    then = getattr(db.obj, "commit_then", None)
    return bool(then and then(sql))


def _position() -> int | None:
    """The change position, read inside the unit's transaction after its writes (its own
    bump of the counter, or the last committed one when it changed no decision fact)."""
    try:
        return change_position(db)
    except Exception:  # noqa: BLE001 -- no position is no token, never a failed write
        return None
