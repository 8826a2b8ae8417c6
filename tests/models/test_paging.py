"""models/paging.py ``keyset``: pages by a key, never by an offset. Every row once, in key
order; the last page says so (``next`` None); a ``keep`` filter drops rows without losing
the place; ``most`` bounds the rows one page looks at and still says where to go on; rows
written between two pages neither repeat nor vanish."""

import pytest

from models import User, db
from models.paging import keyset


def _users(*ids: str) -> None:
    for uid in ids:
        User.create(id=uid, email=f"{uid}@example.test", email_key=f"{uid}@example.test")


def _ids(page) -> list:
    return [row.id for row in page.rows]


def _walk(limit: int, keep=None, most=None) -> list:
    """Every page, following ``next``: the ids of each."""
    pages, after = [], None
    while True:
        page = keyset(User.select(), User.id, limit, after, keep, most)
        pages.append(_ids(page))
        if page.next is None:
            return pages
        assert page.next != after, "a page that does not move on"
        after = page.next


@pytest.fixture
def rows(app):
    with db.connection_context():
        _users(*(f"u{i}" for i in (3, 0, 6, 1, 5, 2, 4)))  # written out of order
        yield


def test_pages_in_key_order_each_row_once(rows):
    assert _walk(3) == [["u0", "u1", "u2"], ["u3", "u4", "u5"], ["u6"]]


def test_a_last_full_page_says_it_is_the_last(rows):
    User.delete().where(User.id == "u6").execute()
    assert _walk(3) == [["u0", "u1", "u2"], ["u3", "u4", "u5"]]
    assert keyset(User.select(), User.id, 10).next is None


def test_after_starts_past_the_value_and_the_query_filters(rows):
    page = keyset(User.select().where(User.id != "u4"), User.id, 2, after="u2")
    assert _ids(page) == ["u3", "u5"] and page.next == "u5"


def test_keep_drops_rows_and_keeps_the_place(rows):
    even = {"u0", "u2", "u4", "u6"}
    pages = _walk(2, keep=lambda row: row.id in even)
    assert [uid for page in pages for uid in page] == ["u0", "u2", "u4", "u6"]
    assert all(len(page) <= 2 for page in pages)
    assert keyset(User.select(), User.id, 2, keep=lambda row: False).rows == []


def test_most_bounds_the_rows_a_page_looks_at(app):
    """Few rows kept among many: a page stops after ``most`` rows looked at, fewer than
    ``limit`` found, and ``next`` goes on from the last row looked at."""
    with db.connection_context():
        _users(*(f"r{i:03d}" for i in range(450)))
        wanted = {"r010", "r440"}
        keep = lambda row: row.id in wanted  # noqa: E731
        first = keyset(User.select(), User.id, 5, keep=keep, most=200)
        assert _ids(first) == ["r010"] and first.next is not None
        assert "r010" < first.next < "r440"
        pages = _walk(5, keep=keep, most=200)
        assert [uid for page in pages for uid in page] == ["r010", "r440"]
        assert len(pages) > 1  # bounded: one page could not look at all 450


def test_rows_written_between_pages_neither_repeat_nor_vanish(rows):
    first = keyset(User.select(), User.id, 3)
    assert _ids(first) == ["u0", "u1", "u2"]
    _users("u1a")  # before the place: the next pages do not show it (it was not there)
    _users("u3a")  # after the place: shown, in its order
    User.delete().where(User.id == "u4").execute()  # gone before its page: not shown
    second = keyset(User.select(), User.id, 3, first.next)
    third = keyset(User.select(), User.id, 3, second.next)
    assert _ids(second) == ["u3", "u3a", "u5"] and _ids(third) == ["u6"]
    assert third.next is None
