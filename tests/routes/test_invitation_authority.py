"""An invitation carries its inviter's authority: accepting it asks the policy again whether
the inviter, as they are now, may send it (``invite`` with its role). An inviter removed or
demoted since cannot be borrowed from; one who still holds the right can; a resend by someone
who holds it gives the invitation their authority."""

import pytest

from tests.support import accept, add_user, invite_one, join, new_org


def _role(api, actor, org, uid):
    response = api.get(f"/v1/orgs/{org}/members/{uid}", actor=actor)
    return response.get_json()["role"] if response.status_code == 200 else None


# (style, top, the inviter's role, the role they invite as, the role they are demoted to)
STYLES = [
    ("pix4d", "owner", "manager", "manager", "editor"),
    ("respondio", "org_admin", "user_admin", "member", "member"),
    ("up42", "admin", "admin", "admin", "member"),
]


@pytest.mark.parametrize("change", ["removed", "demoted"])
@pytest.mark.parametrize("style, top, role, invited_as, lower", STYLES)
def test_removed_or_demoted_inviter_lends_no_authority(
    api, style, top, role, invited_as, lower, change
):
    for uid in ("boss", "mid", "kept", "late"):
        add_user(api, uid)
    org = new_org(api, "boss", style)["id"]
    join(api, "boss", org, "mid", role)
    while_they_could = invite_one(api, "mid", org, "kept", invited_as)
    # Still holding the right: accepted with the role they gave.
    assert accept(api, while_they_could["token"], "kept").status_code == 200
    assert _role(api, "boss", org, "kept") == invited_as

    pending = invite_one(api, "mid", org, "late", invited_as)
    if change == "removed":
        if style == "up42":  # [U]: an Admin is demoted to Member before being removed
            api.put(f"/v1/orgs/{org}/members/mid", {"role": lower}, actor="boss")
        changed = api.delete(f"/v1/orgs/{org}/members/mid", actor="boss")
        assert changed.status_code == 204, changed.get_json()
    else:  # the same inviter, with a role that may not send it
        changed = api.put(f"/v1/orgs/{org}/members/mid", {"role": lower}, actor="boss")
        assert changed.status_code == 200, changed.get_json()
    refused = accept(api, pending["token"], "late")
    assert refused.status_code == 403, refused.get_json()
    detail = refused.get_json()["detail"]
    assert "sent by mid, who may no longer send it" in detail, detail
    assert _role(api, "boss", org, "late") is None
    # The invitation stays pending: one who holds the right resends it, and then it counts.
    read = api.get(f"/v1/orgs/{org}/invitations/{pending['id']}", actor="boss").get_json()
    assert read["status"] == "pending" and read["invited_by"] == "mid"
    resent = api.post(f"/v1/orgs/{org}/invitations/{pending['id']}/resend", actor="boss")
    assert resent.status_code == 200, resent.get_json()
    assert resent.get_json()["invited_by"] == "boss"
    assert accept(api, resent.get_json()["token"], "late").status_code == 200
    assert _role(api, "boss", org, "late") == invited_as


def test_pix4d_manager_demoted_to_manager_from_owner_keeps_what_managers_may_send(api):
    """An Owner who invited a Manager and is then made a Manager still may send that
    invitation (Managers invite up to Manager), but not one for Owner."""
    for uid in ("boss", "olga", "mgr", "own"):
        add_user(api, uid)
    org = new_org(api, "boss", "pix4d")["id"]
    join(api, "boss", org, "olga", "owner")
    as_manager = invite_one(api, "olga", org, "mgr", "manager")
    as_owner = invite_one(api, "olga", org, "own", "owner")
    changed = api.put(f"/v1/orgs/{org}/members/olga", {"role": "manager"}, actor="boss")
    assert changed.status_code == 200, changed.get_json()
    assert accept(api, as_manager["token"], "mgr").status_code == 200
    refused = accept(api, as_owner["token"], "own")
    assert refused.status_code == 403, refused.get_json()
    assert "Manager may invite people only up to Manager" in refused.get_json()["detail"]
    assert _role(api, "boss", org, "own") is None
