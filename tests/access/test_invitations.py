"""access/invitations.py: an invitation works once, only while it lives, and only with
its inviter's authority as it is when accepted."""

import pytest

from access import invitations, members
from access.errors import Forbidden, Gone
from models import Invitation, Membership
from tests.support import org_with


def _person(uid: str) -> dict:
    return {"id": uid, "email": f"{uid}@example.test", "name": uid}


def _invite(ctx, actor: str, org_id: str, uid: str, role: str) -> dict:
    [sent] = invitations.invite(
        ctx, actor, org_id, [{"email": f"{uid}@example.test", "role": role}]
    )
    return sent


def _member(org_id: str, uid: str) -> str | None:
    row = Membership.get_or_none((Membership.org == org_id) & (Membership.user == uid))
    return row.role if row else None


@pytest.mark.parametrize(
    "style, top, role",
    [
        ("pix4d", "owner", "reader"),
        ("up42", "admin", "member"),
        ("respondio", "org_admin", "member"),
    ],
)
def test_an_expired_invitation_is_refused(ctx, clock, style, top, role):
    org_with("org-a", style, {"boss": top})
    sent = _invite(ctx, "boss", "org-a", "late", role)
    clock.advance(days=400)  # past any style's lifetime
    with pytest.raises(Gone) as gone:
        invitations.accept(ctx, sent["token"], _person("late"))
    assert "expired" in str(gone.value)
    assert _member("org-a", "late") is None
    assert Invitation.get_by_id(sent["id"]).status == "pending"  # expired by time, not written


def test_a_live_invitation_works_once(ctx):
    org_with("org-a", "pix4d", {"boss": "owner"})
    sent = _invite(ctx, "boss", "org-a", "ann", "reader")
    joined = invitations.accept(ctx, sent["token"], _person("ann"))
    assert joined["role"] == "reader" and _member("org-a", "ann") == "reader"
    with pytest.raises(Gone):
        invitations.accept(ctx, sent["token"], _person("ann"))


# (style, top, the inviter's role, the role they invite as, the role they are demoted to)
AUTHORITY = [
    ("pix4d", "owner", "manager", "manager", "editor"),
    ("respondio", "org_admin", "user_admin", "member", "member"),
    ("up42", "admin", "admin", "admin", "member"),
]


@pytest.mark.parametrize("style, top, role, invited_as, lower", AUTHORITY)
def test_the_inviters_authority_is_checked_again_at_accept(
    ctx, style, top, role, invited_as, lower
):
    org_with("org-a", style, {"boss": top, "mid": role})
    kept = _invite(ctx, "mid", "org-a", "kept", invited_as)
    pending = _invite(ctx, "mid", "org-a", "late", invited_as)
    invitations.accept(ctx, kept["token"], _person("kept"))  # while they could: accepted
    assert _member("org-a", "kept") == invited_as

    members.change_role(ctx, "boss", "org-a", "mid", lower)
    with pytest.raises(Forbidden) as refused:
        invitations.accept(ctx, pending["token"], _person("late"))
    assert refused.value.policy is True
    assert "sent by mid, who may no longer send it" in str(refused.value)
    assert _member("org-a", "late") is None
    assert Invitation.get_by_id(pending["id"]).status == "pending"
