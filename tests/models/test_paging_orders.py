"""The one keyset paginator over real rows: forwards, newest first, and by a key of a joined
model (a member's organizations are paged by organization id, not by membership id)."""

import pytest

from models import AuditEvent, Membership, Organization, User, db
from models.paging import keyset
from tests.conftest import bind_database


@pytest.fixture
def rows(backend, tmp_path, pg_schema):
    bind_database(backend, tmp_path, pg_schema)
    with db.connection_context():
        User.create(id="u-1", email="u1@example.com", email_key="u1@example.com")
        # Created in the reverse of their ids' order: membership ids run against org ids.
        for org_id in ("org-e", "org-d", "org-c", "org-b", "org-a"):
            Organization.create(id=org_id, name=org_id, style="pix4d")
            Membership.create(user="u-1", org=org_id, role="member")
        for i in range(5):
            AuditEvent.create(org="org-a", action=f"a{i}", target="organization:org-a")
        yield
    if hasattr(db.obj, "close_all"):
        db.obj.close_all()


def _walk(page_of) -> list:
    seen, after = [], None
    while True:
        found = page_of(after)
        seen.append(found.rows)
        if found.next is None:
            return seen
        after = found.next


def test_newest_first_pages_go_down_without_repeats(rows):
    with db.connection_context():
        pages = _walk(
            lambda after: keyset(AuditEvent.select(), AuditEvent.id, 2, after, descending=True)
        )
    actions = [[r.action for r in page] for page in pages]
    assert actions == [["a4", "a3"], ["a2", "a1"], ["a0"]]


def test_a_joined_key_pages_by_that_key(rows):
    with db.connection_context():
        pages = _walk(lambda after: Membership.of_user_page("u-1", 2, after, None))
    orgs = [[m.org.id for m in page] for page in pages]
    assert orgs == [["org-a", "org-b"], ["org-c", "org-d"], ["org-e"]]


def test_the_audit_filter_pages_both_ways(rows):
    with db.connection_context():
        up = AuditEvent.page("org-a", {"action": "a3"}, 10, None)
        down = AuditEvent.page("org-a", {}, 3, None, order="desc")
    assert [r.action for r in up.rows] == ["a3"] and up.next is None
    assert [r.action for r in down.rows] == ["a4", "a3", "a2"]
    assert down.next == down.rows[-1].id
