"""Every refusal names the rule that refused, in a sentence: the policy's own reason (its
``reason(...)`` rules), or, for an action given by role, the roles that carry it. Each case
is asked over HTTP on the demo data (one organization per style, a user of every role).

``REFUSALS`` is also the README's table of refusal reasons: `python -m
tests.policies.test_refusals` prints it."""

import pytest

PIX, UP42, RIO = "/v1/orgs/org-pix4d", "/v1/orgs/org-up42", "/v1/orgs/org-respondio"


def invite_as(role, email="new@example.com"):
    return {"invitations": [{"email": email, "role": role}]}


# (style, what is tried, actor, method, path, body, the reason the answer gives)
REFUSALS = [
    (
        "pix4d",
        "a Manager changes the Owner's role",
        "pix4d-manager",
        "PUT",
        f"{PIX}/members/pix4d-owner",
        {"role": "manager"},
        "pix4d: a Manager may change roles only up to Manager, and this member is an Owner",
    ),
    (
        "pix4d",
        "a Manager makes an Editor Owner",
        "pix4d-manager",
        "PUT",
        f"{PIX}/members/pix4d-editor",
        {"role": "owner"},
        "pix4d: a Manager may change roles only up to Manager, not to Owner",
    ),
    (
        "pix4d",
        "an Editor changes a role",
        "pix4d-editor",
        "PUT",
        f"{PIX}/members/pix4d-member",
        {"role": "reader"},
        "pix4d: an Editor may not change roles; Owners and Managers do",
    ),
    (
        "pix4d",
        "the only Owner makes themselves Manager",
        "pix4d-owner",
        "PUT",
        f"{PIX}/members/pix4d-owner",
        {"role": "manager"},
        "pix4d: an organization keeps at least one Owner, and this member is the last one; "
        "make another member Owner first",
    ),
    (
        "pix4d",
        "a Manager invites an Owner",
        "pix4d-manager",
        "POST",
        f"{PIX}/invitations",
        invite_as("owner"),
        "pix4d: a Manager may invite people only up to Manager, and this invitation is for an "
        "Owner",
    ),
    (
        "pix4d",
        "a Reader invites",
        "pix4d-reader",
        "POST",
        f"{PIX}/invitations",
        invite_as("member"),
        "pix4d: a Reader may not invite people; Owners and Managers do",
    ),
    (
        "pix4d",
        "a Manager cancels an invitation for an Owner",
        "pix4d-manager",
        "DELETE",
        f"{PIX}/invitations/{{owner_invitation}}",
        None,
        "pix4d: a Manager may cancel invitations only up to Manager, and this one is for an Owner",
    ),
    (
        "pix4d",
        "a Manager removes the Owner",
        "pix4d-manager",
        "DELETE",
        f"{PIX}/members/pix4d-owner",
        None,
        "pix4d: a Manager may remove members only up to Manager, and this member is an Owner",
    ),
    (
        "pix4d",
        "an Editor removes a Member",
        "pix4d-editor",
        "DELETE",
        f"{PIX}/members/pix4d-member",
        None,
        "pix4d: an Editor may not remove members; Owners and Managers do",
    ),
    (
        "pix4d",
        "the only Owner leaves",
        "pix4d-owner",
        "DELETE",
        f"{PIX}/members/pix4d-owner",
        None,
        "pix4d: an organization keeps at least one Owner, and this member is the last one; "
        "make another member Owner first",
    ),
    (
        "pix4d",
        "an Editor gives a Reader a role on a folder",
        "pix4d-editor",
        "PUT",
        f"{PIX}/resources/Folder/pix4d-survey/grants/pix4d-reader",
        {"role": "editor"},
        "pix4d: an Editor may not give members roles on a Folder; Owners and Managers do",
    ),
    (
        "pix4d",
        "a Reader closes the organization",
        "pix4d-reader",
        "DELETE",
        PIX,
        None,
        "pix4d: 'close' on this organization needs the role Owner, and this user is a Reader",
    ),
    (
        "pix4d",
        "a Reader renames the organization",
        "pix4d-reader",
        "PATCH",
        PIX,
        {"name": "Renamed"},
        "pix4d: 'edit_details' on this organization needs the role Owner, and this user is a "
        "Reader",
    ),
    (
        "pix4d",
        "a Reader creates a folder",
        "pix4d-reader",
        "PUT",
        f"{PIX}/resources/Folder/new-folder",
        {},
        "pix4d: 'create' on this Folder needs the role Editor, and this user holds Reader there",
    ),
    (
        "pix4d",
        "a UP42 admin reads the Pix4D organization",
        "up42-admin",
        "GET",
        PIX,
        None,
        "pix4d: this user is not a member of org-pix4d",
    ),
    (
        "up42",
        "a user of an account creates a second one",
        "up42-member",
        "POST",
        "/v1/orgs",
        {"name": "Second", "style": "up42"},
        "up42: a user belongs to one UP42 account at most (merging accounts isn't supported), "
        "and this user already belongs to one",
    ),
    (
        "up42",
        "an Admin leaves",
        "up42-admin",
        "DELETE",
        f"{UP42}/members/up42-admin",
        None,
        "up42: to remove a user, their role must be Member, and this user is an Admin: admins "
        "must first be demoted to Member",
    ),
    (
        "up42",
        "a Member leaves",
        "up42-member",
        "DELETE",
        f"{UP42}/members/up42-member",
        None,
        "up42: a Member may not remove users, themselves included; an Admin removes them",
    ),
    (
        "up42",
        "a Member invites",
        "up42-member",
        "POST",
        f"{UP42}/invitations",
        invite_as("member"),
        "up42: a Member may not invite users; Admins do",
    ),
    (
        "up42",
        "a Member changes a role",
        "up42-member",
        "PUT",
        f"{UP42}/members/up42-admin",
        {"role": "member"},
        "up42: a Member may not change roles; Admins do",
    ),
    (
        "up42",
        "the only Admin makes themselves Member",
        "up42-admin",
        "PUT",
        f"{UP42}/members/up42-admin",
        {"role": "member"},
        "up42: an account keeps at least one Admin, and this member is the last one; make "
        "another user Admin first",
    ),
    (
        "up42",
        "a Member closes the account",
        "up42-member",
        "DELETE",
        UP42,
        None,
        "up42: 'close' on this organization needs the role Admin, and this user is a Member",
    ),
    (
        "respondio",
        "a user who created an organization creates another",
        "respondio-org-admin",
        "POST",
        "/v1/orgs",
        {"name": "Second", "style": "respondio"},
        "respondio: a user may create one respond.io organization only, and this user already "
        "created one (more need respond.io's support)",
    ),
    (
        "respondio",
        "a User Admin invites a Billing Admin",
        "respondio-user-admin",
        "POST",
        f"{RIO}/invitations",
        invite_as("billing_admin"),
        "respondio: a User Admin may invite only Members, and this invitation is for a Billing "
        "Admin",
    ),
    (
        "respondio",
        "a Billing Admin invites",
        "respondio-billing-admin",
        "POST",
        f"{RIO}/invitations",
        invite_as("member"),
        "respondio: a Billing Admin may not invite users; Organization Admins and User Admins do",
    ),
    (
        "respondio",
        "a User Admin changes a role",
        "respondio-user-admin",
        "PUT",
        f"{RIO}/members/respondio-member",
        {"role": "user_admin"},
        "respondio: a User Admin may not change roles; only Organization Admins do",
    ),
    (
        "respondio",
        "the only Organization Admin makes themselves Member",
        "respondio-org-admin",
        "PUT",
        f"{RIO}/members/respondio-org-admin",
        {"role": "member"},
        "respondio: an organization keeps at least one Organization Admin, and this member is "
        "the last one; make another member Organization Admin first",
    ),
    (
        "respondio",
        "a Member leaves",
        "respondio-member",
        "DELETE",
        f"{RIO}/members/respondio-member",
        None,
        "respondio: a user cannot remove themselves: another authorised user must do it",
    ),
    (
        "respondio",
        "a User Admin removes the Billing Admin",
        "respondio-user-admin",
        "DELETE",
        f"{RIO}/members/respondio-billing-admin",
        None,
        "respondio: a User Admin may remove only Members, and this member is a Billing Admin",
    ),
    (
        "respondio",
        "a Billing Admin assigns a member to a space",
        "respondio-billing-admin",
        "PUT",
        f"{RIO}/resources/Space/respondio-support/grants/respondio-user-admin",
        {"role": "member"},
        "respondio: a Billing Admin may not assign users to spaces; Organization Admins and "
        "User Admins do",
    ),
]


@pytest.mark.parametrize(
    "style, tried, actor, method, path, body, reason",
    REFUSALS,
    ids=[f"{r[0]}: {r[1]}" for r in REFUSALS],
)
def test_refusal_names_the_limit(api, demo, style, tried, actor, method, path, body, reason):
    if "{owner_invitation}" in path:
        sent = api.post(
            f"{PIX}/invitations", invite_as("owner", "boss@example.com"), actor="pix4d-owner"
        )
        assert sent.status_code == 201, sent.get_json()
        path = path.format(owner_invitation=sent.get_json()["items"][0]["id"])
    response = api.call(method, path, json=body, actor=actor)
    assert response.status_code == 403, response.get_json()
    problem = response.get_json()
    errors = problem.get("errors") or {}
    if "invitations.0.role" in errors:
        assert errors["invitations.0.role"] == [reason]
    else:
        assert problem["detail"].endswith(": " + reason), problem["detail"]
        assert problem["detail"].startswith(f"{actor} may not ")


def test_no_refusal_repeats_a_word_or_miscounts():
    """The wording mistakes once found ("may not create create", "close close", "1 cells")."""
    for _style, _tried, _actor, _m, _p, _b, reason in REFUSALS:
        words = reason.replace(",", " ").split()
        assert not any(a == b and a.isalpha() for a, b in zip(words, words[1:])), reason


def readme_table() -> str:
    """The README's table of the refusal reasons these tests check, per style."""
    out = ["| style | tried | the refusal says |", "|---|---|---|"]
    for style, tried, _actor, _m, _p, _b, reason in REFUSALS:
        out.append(f"| {style} | {tried} | {reason.split(': ', 1)[1]} |")
    return "\n".join(out)


if __name__ == "__main__":
    print(readme_table())
