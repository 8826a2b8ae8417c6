"""access/members.py: no organization is left without its top role. The last pix4d Owner,
respond.io Organization Admin and UP42 Admin can neither be demoted nor removed (nor leave),
whoever asks; the refusal is the policy's (Forbidden, policy=True) and nothing is written."""

import pytest

from access import members
from access.errors import Forbidden, NotFound
from models import AuditEvent, Event, Membership
from tests.support import org_with

# (style, the top role, a lower role)
STYLES = [
    ("pix4d", "owner", "manager"),
    ("respondio", "org_admin", "member"),
    ("up42", "admin", "member"),
]


def _roles(org_id: str) -> dict:
    return {m.user_id: m.role for m in Membership.select().where(Membership.org == org_id)}


def _written() -> tuple:
    return AuditEvent.select().count(), Event.select().count()


@pytest.mark.parametrize("style, top, lower", STYLES)
def test_the_last_top_role_demoting_themselves_is_refused(ctx, style, top, lower):
    org_with("org-a", style, {"boss": top, "other": lower})
    before = _written()
    with pytest.raises(Forbidden) as refused:
        members.change_role(ctx, "boss", "org-a", "boss", lower)
    assert refused.value.policy is True
    assert _roles("org-a") == {"boss": top, "other": lower}
    assert _written() == before


@pytest.mark.parametrize("style, top, lower", STYLES)
def test_the_last_top_role_leaving_or_removed_is_refused(ctx, style, top, lower):
    org_with("org-a", style, {"boss": top, "other": lower})
    before = _written()
    with pytest.raises(Forbidden) as left:
        members.remove(ctx, "boss", "org-a", ["boss"])
    assert left.value.policy is True
    with pytest.raises(Forbidden):  # the other member may not remove them either
        members.remove(ctx, "other", "org-a", ["boss"])
    assert _roles("org-a") == {"boss": top, "other": lower}
    assert _written() == before


@pytest.mark.parametrize("style, top, lower", STYLES)
def test_with_a_second_top_role_the_first_may_step_down(ctx, style, top, lower):
    """The rule is about the last one: a second holder of the top role lets the first go
    down (so the refusals above are the last-of-role rule, not a blanket no)."""
    org_with("org-a", style, {"boss": top, "second": top})
    changed = members.change_role(ctx, "boss", "org-a", "boss", lower)
    assert changed["role"] == lower
    assert _roles("org-a") == {"boss": lower, "second": top}
    assert AuditEvent.get(AuditEvent.action == "member.change_role").actor == "boss"


def test_removing_both_owners_at_once_is_removing_the_last_one(ctx):
    org_with("org-a", "pix4d", {"ann": "owner", "bob": "owner", "cy": "reader"})
    with pytest.raises(Forbidden) as refused:
        members.remove(ctx, "ann", "org-a", ["ann", "bob"])
    assert "nobody was removed" in str(refused.value)
    assert _roles("org-a") == {"ann": "owner", "bob": "owner", "cy": "reader"}


def test_a_stranger_is_not_found_in_the_org(ctx):
    org_with("org-a", "pix4d", {"ann": "owner"})
    with pytest.raises(NotFound):
        members.change_role(ctx, "ann", "org-a", "nobody", "reader")
