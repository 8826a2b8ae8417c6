"""models/base.py ``Fixed`` and ``create_later``: a query's SQL is built once per kind of
database and then sent with each call's own values; an INSERT's text is kept per model and
set of columns. A text that kept a call's values, or a value sent where another belongs,
would give one caller another's rows."""

import datetime

import pytest

from models import Invitation, Membership, Organization, User, base, db
from models.base import Fixed, create_later, transaction
from tests.support import org_with


@pytest.fixture
def conn(app):
    with db.connection_context():
        yield


def test_each_call_gets_the_rows_of_its_own_values(conn):
    org_with("org-a", "pix4d", {"ann": "owner", "bob": "reader"})
    org_with("org-b", "pix4d", {"bob": "owner", "cat": "owner"})
    ann = Membership.find("org-a", "ann", last_of_role=True)
    bob = Membership.find("org-a", "bob")
    assert (ann.user.email, ann.role, bool(ann.last_of_role)) == ("ann@example.test", "owner", True)
    assert (bob.user.id, bob.org_id, bob.role) == ("bob", "org-a", "reader")
    other = Membership.find("org-b", "bob", last_of_role=True)
    assert (other.role, bool(other.last_of_role)) == ("owner", False)  # cat owns it too
    assert Membership.find("org-b", "ann") is None
    assert Organization.lock("org-b").id == "org-b"
    assert User.find("cat").email == "cat@example.test" and User.find("nobody") is None


def test_the_sql_is_built_once_and_sent_with_new_values(conn):
    org_with("org-a", "pix4d", {"ann": "owner", "bob": "reader", "cat": "member"})
    built = []

    def roles(org_id: str, user_id: str):
        built.append(org_id)
        query = Membership.select(Membership.role)
        return query.where((Membership.org == org_id) & (Membership.user == user_id)).limit(1)

    fixed = Fixed(roles)
    got = [fixed.first("org-a", u).role for u in ("ann", "bob", "cat")]
    assert got == ["owner", "reader", "member"]
    assert len(built) == 1  # built once, with marks, not with a caller's values
    assert built[0] not in ("org-a",)


def test_an_int_parameter_and_all_rows(conn):
    org_with("org-a", "pix4d", {"ann": "owner", "bob": "reader"})
    bob = Membership.get(Membership.user == "bob")

    def by_id(membership_id: int):
        return Membership.select().where(Membership.id >= membership_id).order_by(Membership.id)

    rows = Fixed(by_id).all(bob.id)
    assert [r.user_id for r in rows] == ["bob"]
    assert [r.user_id for r in Fixed(by_id).all(bob.id - 1)] == ["ann", "bob"]


def test_a_parameter_its_field_changes_is_refused(conn):
    fixed = Fixed(lambda legal: Organization.select().where(Organization.legal == legal))
    with pytest.raises(TypeError, match="changed on its way"):
        fixed.first({"name": "x"})  # a JSON field's value is text made from it


def test_a_write_later_goes_with_the_unit_or_not_at_all(conn):
    org_with("org-a", "pix4d", {"ann": "owner", "bob": "reader"})
    bob = Membership.get(Membership.user == "bob")
    with pytest.raises(RuntimeError), transaction():
        Membership.set_role(bob.id, "member")
        raise RuntimeError  # rolled back: the write goes with it (sent or not)
    assert Membership.get_by_id(bob.id).role == "reader"
    with transaction():
        Membership.set_role(bob.id, "member")
    assert Membership.get_by_id(bob.id).role == "member"


def test_create_later_keeps_the_insert_text_and_sends_each_rows_values(conn):
    org_with("org-a", "pix4d", {"ann": "owner"})
    when = datetime.datetime(2030, 1, 2, 3, 4, 5)
    with transaction():
        for n in range(3):
            create_later(
                Invitation,
                id=f"inv-{n}",
                org="org-a",
                email=f"p{n}@example.test",
                email_key=f"p{n}@example.test",
                role=["member", "reader", "owner"][n],
                invited_by="ann",
                token_hash=f"hash-{n}",
                expires_at=when + datetime.timedelta(days=n),
            )
        create_later(Organization, id="org-z", name="Z", style="up42", legal={"vat": "x"})
    rows = [
        (i.id, i.email, i.role, i.expires_at) for i in Invitation.select().order_by(Invitation.id)
    ]
    assert rows == [
        (f"inv-{n}", f"p{n}@example.test", r, when + datetime.timedelta(days=n))
        for n, r in enumerate(["member", "reader", "owner"])
    ]
    assert Organization.get_by_id("org-z").legal == {"vat": "x"}
    kept = [k for k, v in base._INSERTS.items() if k[1] is Invitation and k[0] is type(db.obj)]
    assert kept and base._INSERTS[kept[0]] is not None  # the text was kept, not rebuilt
