"""access/uow.py: a unit of work is one transaction. An exception inside rolls everything
back (no membership, no audit row, no event) and goes on; a clean exit commits all of it
and records the position it committed at."""

import pytest

from access import uow
from access.errors import NotFound
from access.uow import UnitOfWork
from models import AuditEvent, Event, Grant, Membership, Resource, User
from tests.support import org_with


class Boom(Exception):
    pass


def _counts() -> tuple:
    return Membership.select().count(), AuditEvent.select().count(), Event.select().count()


def _add_member(unit: UnitOfWork, uid: str) -> None:
    User.create(id=uid, email=f"{uid}@example.test", email_key=f"{uid}@example.test")
    Membership.create(user=uid, org="org-a", role="reader")
    unit.audit("org-a", "member.add", f"user:{uid}", None, {"role": "reader"}, "boss")


def test_an_exception_rolls_back_every_write_and_goes_on(ctx):
    org_with("org-a", "pix4d", {"boss": "owner"})
    before = _counts()
    with pytest.raises(Boom):
        with UnitOfWork(ctx, "org-a", lock_users=["ann"]) as unit:
            _add_member(unit, "ann")
            assert _counts() != before  # written inside the transaction
            raise Boom
    assert _counts() == before
    assert User.get_or_none(User.id == "ann") is None
    assert unit.position is None and uow.current() is None


def test_a_clean_exit_commits_the_writes_the_audit_and_the_event(ctx):
    org_with("org-a", "pix4d", {"boss": "owner"})
    members_, audits, events = _counts()
    uow.take_committed()
    with UnitOfWork(ctx, "org-a") as unit:
        _add_member(unit, "ann")
    assert _counts() == (members_ + 1, audits + 1, events + 1)
    assert unit.position is not None and uow.take_committed() == unit.position
    assert AuditEvent.get(AuditEvent.target == "user:ann").request_id == "core-test"


def test_a_missing_org_is_not_found_and_writes_nothing(ctx):
    before = _counts()
    with pytest.raises(NotFound):
        with UnitOfWork(ctx, "org-none") as unit:
            unit.org()
    assert _counts() == before


def test_the_policy_is_asked_only_inside_the_unit(ctx):
    org_with("org-a", "pix4d", {"boss": "owner"})
    unit = UnitOfWork(ctx, "org-a")
    with pytest.raises(RuntimeError):
        unit.targets  # noqa: B018 -- the property raises outside the unit
    with unit:
        assert unit.org().id == "org-a"
    with pytest.raises(RuntimeError):
        unit.require("boss", "view", None)


def test_units_do_not_nest(ctx):
    org_with("org-a", "pix4d", {"boss": "owner"})
    with UnitOfWork(ctx, "org-a"):
        with pytest.raises(RuntimeError):
            with UnitOfWork(ctx, "org-a"):
                pass


def test_a_member_is_read_with_the_org_lock(ctx):
    org_with("org-a", "pix4d", {"boss": "owner", "ann": "reader"})
    with UnitOfWork(ctx, "org-a", member="boss") as unit:
        assert unit.org().id == "org-a"
        assert (unit.member.user.id, unit.member.role) == ("boss", "owner")
        assert unit.member.last_of_role  # the only owner
    with UnitOfWork(ctx, "org-a", member="cat") as unit:
        assert unit.member is None and unit.org().id == "org-a"
    with UnitOfWork(ctx, "org-b", member="boss") as unit:
        assert unit.member is None
        with pytest.raises(NotFound):
            unit.org()
    with pytest.raises(ValueError):  # a user lock would come after the member read
        UnitOfWork(ctx, "org-a", lock_users=["ann"], member="boss")


def test_a_member_and_its_grant_are_read_with_the_org_lock(ctx):
    org_with("org-a", "pix4d", {"boss": "owner", "ann": "reader"})
    org_with("org-b", "pix4d", {"ann": "owner"})
    folders = {o: Resource.create(org=o, type="Folder", rid="f1") for o in ("org-a", "org-b")}
    Grant.create(user="ann", resource=folders["org-b"], org="org-b", role="editor")
    with UnitOfWork(ctx, "org-a", member="ann", grant_on=("Folder", "f1")) as unit:
        assert unit.member.role == "reader" and unit.member.held is None  # org-b's is not it
    Grant.create(user="ann", resource=folders["org-a"], org="org-a", role="viewer")
    with UnitOfWork(ctx, "org-a", member="ann", grant_on=("Folder", "f1")) as unit:
        assert (unit.member.held.role, unit.member.held.resource_id) == (
            "viewer",
            folders["org-a"].id,
        )
    with UnitOfWork(ctx, "org-a", member="boss", grant_on=("Folder", "f1")) as unit:
        assert unit.member.role == "owner" and unit.member.held is None
