"""The client against the real service (gunicorn on 127.0.0.1 with the demo data): each
family of calls, its typed results, the service's problems as typed exceptions, the async
client, and one kept-alive connection for many calls."""

import asyncio
import uuid

import pytest
from orgauthz_client import (
    AsyncClient,
    Client,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    Member,
    NotFound,
    Organization,
    ResourceRef,
    RolePermission,
    Unauthorized,
)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_decisions_and_lists_agree(client):
    decision = client.authorize("pix4d-member", "view", ("Dataset", "pix4d-bridge-scan"))
    assert decision.allowed and decision.policy_version and decision.explanation is None
    denied = client.authorize(
        "pix4d-member", "upload", {"type": "Dataset", "id": "pix4d-bridge-scan"}, explain=True
    )
    assert not denied.allowed and denied.reason
    # an inline resource of the caller's own
    inline = ResourceRef("Dataset", "my-own", org="org-pix4d", parent=None, owner="pix4d-member")
    assert isinstance(client.authorize("pix4d-member", "view", inline).allowed, bool)

    # a resource named with its organization (type, id, org): decided on that org's facts
    named = ("Dataset", "pix4d-bridge-scan", "org-pix4d")
    assert client.allowed("pix4d-member", "view", named)
    assert not client.allowed("pix4d-member", "view", ("Dataset", "pix4d-bridge-scan", "org-up42"))

    actions = client.allowed_actions("up42-member", ("Organization", "org-up42"))
    assert "view" in actions.actions and actions.policy_version == decision.policy_version

    # every page, one item per page, agrees with /v1/authorize row for row
    datasets = list(
        client.list_resources("pix4d-owner", "view", "Dataset", "org-pix4d", page_size=1)
    )
    assert len(datasets) >= 2
    assert all(client.allowed("pix4d-owner", "view", (d.type, d.id)) for d in datasets)
    actors = [
        a.id for a in client.list_actors("view", ("Dataset", "pix4d-bridge-scan"), page_size=2)
    ]
    assert actors == sorted(actors) and "pix4d-member" in actors and len(actors) > 2
    checks = [(a, "view", ("Dataset", "pix4d-bridge-scan")) for a in actors]
    assert all(client.authorize_batch(checks))


def test_a_long_batch_is_split_under_one_policy_version(client):
    checks = [
        ("pix4d-member", "view" if i % 2 else "upload", ("Dataset", "pix4d-bridge-scan"))
        for i in range(2100)
    ]
    result = client.authorize_batch(checks)
    assert result.calls == 3 and len(result) == 2100 and result.one_policy_version
    assert [r.allowed for r in result.results[:4]] == [False, True, False, True]


def test_members_invitations_and_their_refusals(client):
    owner = client.as_actor("pix4d-owner")
    members = list(owner.list_members("org-pix4d", page_size=2))
    assert all(isinstance(m, Member) for m in members)
    assert {"pix4d-owner", "pix4d-member"} <= {m.user_id for m in members}

    email = f"{unique('ivy')}@example.com"
    [invitation] = owner.invite("org-pix4d", [(email, "reader")])
    assert invitation.token and invitation.status == "pending" and invitation.email == email
    pending = list(owner.list_invitations("org-pix4d", status="pending"))
    assert invitation.id in {i.id for i in pending} and all(i.token is None for i in pending)

    with pytest.raises(Forbidden) as refused:  # a manager may not invite an owner
        client.invite("org-pix4d", [(f"{unique('x')}@example.com", "owner")], actor="pix4d-manager")
    assert "owner" in refused.value.errors["invitations.0.role"][0].lower()  # the reason
    with pytest.raises(Conflict):  # already invited
        owner.invite("org-pix4d", [(email, "reader")])
    with pytest.raises(Invalid) as invalid:
        owner.invite("org-pix4d", [(email, "no-such-role")])
    assert "invitations.0.role" in invalid.value.errors

    user = unique("ivy")
    accepted = client.accept_invitation(invitation.token, user, email, "Ivy")
    assert accepted.role == "reader" and accepted.user_id == user
    with pytest.raises(Gone):  # a token works once
        client.accept_invitation(invitation.token, user, email, "Ivy")
    assert owner.change_role("org-pix4d", user, "editor").role == "editor"
    assert client.get_user(user).email == email
    assert [o.id for o in client.user_orgs(user)] == ["org-pix4d"]
    assert client.set_default_org(user, "org-pix4d").default_org_id == "org-pix4d"
    owner.remove_member("org-pix4d", user)
    assert user not in {m.user_id for m in owner.list_members("org-pix4d")}

    # the last owner cannot be demoted: the policy's reason comes back
    with pytest.raises(Forbidden) as last:
        owner.change_role("org-pix4d", "pix4d-owner", "member")
    assert last.value.reason
    # cancel
    [other] = owner.invite("org-pix4d", [(f"{unique('jo')}@example.com", "member")])
    assert owner.cancel_invitation("org-pix4d", other.id).status == "cancelled"
    assert any(e.action for e in owner.audit("org-pix4d", page_size=3))


def test_orgs_users_resources_and_grants(client):
    founder = unique("founder")
    client.put_user(founder, f"{founder}@example.com", "Founder")
    org = client.create_org("Acme", "pix4d", actor=founder)
    assert isinstance(org, Organization) and org.role and org.created_by == founder
    me = client.as_actor(founder)
    assert me.update_org(org.id, name="Acme 2").name == "Acme 2"
    assert me.get_org(org.id).name == "Acme 2"

    folder = me.put_resource(org.id, "Folder", unique("f"))
    dataset = me.put_resource(
        org.id, "Dataset", unique("d"), parent=("Folder", folder.id), attributes={}
    )
    assert dataset.parent.id == folder.id and dataset.org == org.id
    assert me.get_resource(org.id, "Dataset", dataset.id).parent.type == "Folder"

    with pytest.raises(Conflict):  # something below it
        me.delete_resource(org.id, "Folder", folder.id)
    member = unique("m")
    client.put_user(member, f"{member}@example.com")
    [inv] = me.invite(org.id, [(f"{member}@example.com", "member")])
    client.accept_invitation(inv.token, member, f"{member}@example.com")
    assert not client.allowed(member, "view", ("Dataset", dataset.id))
    grant = me.grant(org.id, "Folder", folder.id, member, "reader")
    assert grant.role == "reader" and grant.user_id == member
    assert client.allowed(member, "view", ("Dataset", dataset.id))
    me.revoke(org.id, "Folder", folder.id, member)
    assert not client.allowed(member, "view", ("Dataset", dataset.id))
    me.delete_resource(org.id, "Folder", folder.id, recursive=True)
    with pytest.raises(NotFound):
        me.get_resource(org.id, "Dataset", dataset.id)
    assert me.close_org(org.id).closed_at


def test_a_wrong_key_is_unauthorized(live):
    with Client(live.url, "not-a-key") as c, pytest.raises(Unauthorized):
        c.authorize("pix4d-member", "view", ("Dataset", "pix4d-bridge-scan"))


def test_an_unknown_org_is_not_found(client):
    with pytest.raises(NotFound):
        client.get_org("org-nope", actor="pix4d-owner")


def test_async_client_against_the_server(live):
    async def main():
        async with AsyncClient(live.url, live.key, actor="pix4d-owner") as c:
            decisions = await asyncio.gather(
                *[
                    c.authorize("pix4d-member", "view", ("Dataset", "pix4d-bridge-scan"))
                    for _ in range(20)
                ]
            )
            members = [m.user_id async for m in c.list_members("org-pix4d", page_size=2)]
            allowed = await c.allowed("pix4d-member", "upload", ("Dataset", "pix4d-bridge-scan"))
            return decisions, members, allowed

    decisions, members, allowed = asyncio.run(main())
    assert all(d.allowed for d in decisions) and "pix4d-member" in members and not allowed


def test_one_connection_is_kept_alive_for_many_calls(live):
    with Client(live.url, live.key) as c:
        for _ in range(30):
            c.authorize("pix4d-member", "view", ("Dataset", "pix4d-bridge-scan"))
        connections = c._http._transport._pool.connections  # httpcore's pool
        assert len(connections) == 1
    with Client(live.url, live.key, keepalive=False) as c:
        for _ in range(5):
            c.authorize("pix4d-member", "view", ("Dataset", "pix4d-bridge-scan"))
        assert len(c._http._transport._pool.connections) == 0


def test_the_contract_1_1_reads_events_and_erasure(client):
    founder = unique("founder")
    client.put_user(founder, f"{founder}@example.com", "Founder")
    me = client.as_actor(founder)
    org = me.create_org("Beta", "pix4d")
    assert org.id in {o.id for o in me.list_orgs()}
    folder = me.put_resource(org.id, "Folder", unique("f"))
    member = unique("m")
    [inv] = me.invite(org.id, [(f"{member}@example.com", "member")])
    assert me.get_invitation(org.id, inv.id).status == "pending"
    resent = me.resend_invitation(org.id, inv.id)
    assert resent.token and resent.token != inv.token
    client.accept_invitation(resent.token, member, f"{member}@example.com")
    me.grant(org.id, "Folder", folder.id, member, "reader")
    detail = me.get_member(org.id, member)
    assert detail.role == "member" and detail.grants
    assert [g.user_id for g in me.list_grants(org.id, "Folder", folder.id)] == [member]
    assert folder.id in {r.id for r in me.org_resources(org.id)}

    events = list(client.events(org=org.id))
    assert events and all(e.org == org.id for e in events)
    assert [e.id for e in events] == sorted(e.id for e in events) or len(events) == 1
    page = client.events_page(org=org.id, page_size=1)
    assert len(page.items) == 1 and page.next_cursor

    erased = client.delete_user(member)
    assert org.id in erased.orgs_left
    with pytest.raises(NotFound):
        client.get_user(member)


def test_a_write_sent_again_with_its_key_gets_the_first_answer(client):
    owner = client.as_actor("pix4d-owner")
    key = uuid.uuid4().hex
    email = f"{unique('kay')}@example.com"
    [first] = owner.invite("org-pix4d", [(email, "reader")], idempotency_key=key)
    [again] = owner.invite("org-pix4d", [(email, "reader")], idempotency_key=key)
    assert (again.id, again.token) == (first.id, first.token)
    with pytest.raises(Conflict):  # a new key is a new invitation: already invited
        owner.invite("org-pix4d", [(email, "reader")])
    owner.cancel_invitation("org-pix4d", first.id)


def founded(client, name: str):
    """A new pix4d organization: (its founder, it, the client acting as the founder, a
    Folder in it, a Member who accepted an invitation)."""
    founder = unique("founder")
    client.put_user(founder, f"{founder}@example.com", "Founder")
    org = client.create_org(name, "pix4d", actor=founder)
    me = client.as_actor(founder)
    folder = me.put_resource(org.id, "Folder", unique("f"))
    member = unique("m")
    client.put_user(member, f"{member}@example.com")
    [inv] = me.invite(org.id, [(f"{member}@example.com", "member")])
    client.accept_invitation(inv.token, member, f"{member}@example.com")
    return founder, org, me, folder, member


def test_teams_and_expiring_grants_through_the_client(client):
    _founder, org, me, folder, member = founded(client, "Teams")

    team = me.create_team(org.id, "crew", "Crew", role="editor")
    assert (team.id, team.role) == ("crew", "editor")
    placed = me.add_team_member(org.id, "crew", member, expires_at="2099-01-01T00:00:00Z")
    assert placed.user_id == member and placed.expires_at.startswith("2099-01-01")
    assert client.allowed(member, "upload", ("Folder", folder.id, org.id))
    assert me.update_team(org.id, "crew", role=None).role is None
    assert not client.allowed(member, "upload", ("Folder", folder.id, org.id))
    given = me.grant_team(org.id, "crew", "Folder", folder.id, "reader")
    assert given.role == "reader" and client.allowed(member, "view", ("Folder", folder.id, org.id))
    detail = me.get_team(org.id, "crew")
    assert [m.user_id for m in detail.members] == [member] and detail.grants[0].id == folder.id
    assert [t.id for t in me.list_teams(org.id)] == ["crew"]
    with pytest.raises(Forbidden):
        client.as_actor(member).create_team(org.id, "mine", "Mine")
    me.revoke_team(org.id, "crew", "Folder", folder.id)
    me.remove_team_member(org.id, "crew", member)
    me.delete_team(org.id, "crew")
    grant = me.grant(
        org.id, "Folder", folder.id, member, "reader", expires_at="2099-01-01T00:00:00Z"
    )
    assert grant.expires_at.startswith("2099-01-01")


def test_custom_roles_through_the_client(client):
    founder, org, me, folder, member = founded(client, "Roles")

    listed = me.list_roles(org.id)
    assert "owner" in listed.builtin and listed.items == []
    assert RolePermission("Folder", "upload") in listed.delegable
    role = me.define_role(org.id, "custom:crew", "Crew", [("Folder", "view"), ("Folder", "upload")])
    assert role.key == "custom:crew" and role.created_by == founder
    assert [(p.type, p.permission) for p in role.permissions] == [
        ("Folder", "upload"),
        ("Folder", "view"),
    ]
    me.change_role(org.id, member, "custom:crew")
    assert client.allowed(member, "upload", ("Folder", folder.id, org.id))
    renamed = me.update_role(org.id, "custom:crew", name="Crew B", permissions=[("Folder", "view")])
    assert renamed.name == "Crew B" and not client.allowed(
        member, "upload", ("Folder", folder.id, org.id)
    )
    detail = me.get_role(org.id, "custom:crew")
    assert detail.uses.memberships == 1 and detail.permissions[0].permission == "view"
    with pytest.raises(Conflict) as in_use:
        me.delete_role(org.id, "custom:crew")
    assert "1 memberships" in str(in_use.value)
    with pytest.raises(Invalid) as bad:
        me.define_role(org.id, "custom:x", "X", [("Organization", "close")])
    assert "permissions.0" in bad.value.errors
    with pytest.raises(Forbidden):
        client.as_actor(member).define_role(org.id, "custom:mine", "Mine", [("Folder", "view")])
    me.change_role(org.id, member, "member")
    me.delete_role(org.id, "custom:crew")
    assert me.list_roles(org.id).items == []
