"""Verified domains over HTTP, verified through a DNS server on 127.0.0.1 (dnslib; never the
internet): a token not published, or a wrong one, leaves the domain pending with a 409
naming ``domain``; a domain verified by one organization is refused to another, on adding
and on verifying; what a verified domain offers (suggest, auto with a role) is decided by
each style's policy; an automatic join is decided as an invitation of that role."""

import pytest

from access import domains
from models import AuditEvent, Domain, Event, Membership, db
from tests.support import DnsServer, add_user, join, new_org, problem


@pytest.fixture
def dns(app):
    """The local DNS server, and the service pointed at it (after the app read its config)."""
    with DnsServer() as server:
        domains.configure({"DNS_NAMESERVER": server.address, "DNS_TIMEOUT_SECONDS": 2})
        yield server
    domains.configure({})


@pytest.fixture
def org(api):
    add_user(api, "olivia")
    org_id = new_org(api, "olivia", "pix4d")["id"]
    join(api, "olivia", org_id, "max", "manager")
    join(api, "olivia", org_id, "erin", "editor")
    return org_id


def add(api, actor, org_id, name="acme.test"):
    return api.post(f"/v1/orgs/{org_id}/domains", {"domain": name}, actor=actor)


def verify(api, actor, org_id, domain_id):
    return api.post(f"/v1/orgs/{org_id}/domains/{domain_id}/verify", actor=actor)


def publish(dns, added):
    dns.records[added["txt_name"]] = [added["txt_value"]]


def verified(api, dns, actor, org_id, name="acme.test"):
    response = add(api, actor, org_id, name)
    assert response.status_code == 201, response.get_json()
    publish(dns, response.get_json())
    response = verify(api, actor, org_id, response.get_json()["id"])
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def configure(api, actor, org_id, domain_id, mode, role=None):
    body = {"join_mode": mode, **({"join_role": role} if role else {})}
    return api.patch(f"/v1/orgs/{org_id}/domains/{domain_id}", body, actor=actor)


def test_verification_through_the_local_dns_server(api, org, dns):
    response = add(api, "max", org, "Acme.Test.")
    assert response.status_code == 201, response.get_json()
    added = response.get_json()
    assert added["domain"] == "acme.test" and added["status"] == "pending"
    assert added["txt_name"] == "_orgauthz-challenge.acme.test"
    assert added["txt_value"].startswith("orgauthz-domain-verification=")

    # Nothing published: 409 naming the field, the domain stays pending with why.
    body = problem(verify(api, "max", org, added["id"]), 409)
    assert list(body["errors"]) == ["domain"] and "does not exist" in body["detail"]
    # A wrong token published: the same, saying so.
    dns.records[added["txt_name"]] = ["orgauthz-domain-verification=not-the-token"]
    body = problem(verify(api, "max", org, added["id"]), 409)
    assert "does not hold this domain's token" in body["detail"]
    now = api.get(f"/v1/orgs/{org}/domains/{added['id']}", actor="max").get_json()
    assert now["status"] == "pending" and "does not hold" in now["check_error"]
    assert dns.asked == ["_orgauthz-challenge.acme.test"] * 2

    # The right one among others: verified, audited, an event.
    dns.records[added["txt_name"]] = ["v=spf1 -all", added["txt_value"]]
    response = verify(api, "max", org, added["id"])
    assert response.status_code == 200, response.get_json()
    assert (
        response.get_json()["status"] == "verified" and response.get_json()["check_error"] is None
    )
    with db.connection_context():
        assert AuditEvent.select().where(AuditEvent.action == "domain.verify").count() == 1
        assert Event.select().where(Event.type == "domain.verified").count() == 1
    listed = api.get(f"/v1/orgs/{org}/domains", actor="olivia").get_json()
    assert [d["status"] for d in listed["items"]] == ["verified"]


def test_a_domain_is_verified_by_one_organization(api, org, dns):
    add_user(api, "uma")
    other = new_org(api, "uma", "pix4d", name="Other")["id"]
    # Both add it before either verifies; both publish their tokens.
    mine, theirs = add(api, "max", org).get_json(), add(api, "uma", other).get_json()
    dns.records[mine["txt_name"]] = [mine["txt_value"], theirs["txt_value"]]
    assert verify(api, "max", org, mine["id"]).status_code == 200
    body = problem(verify(api, "uma", other, theirs["id"]), 409)
    assert body["errors"] == {"domain": ["verified by another organization"]}
    # Adding it anew is refused too, and adding it twice in one organization.
    add_user(api, "vic")
    third = new_org(api, "vic", "up42", name="Third")["id"]
    assert problem(add(api, "vic", third), 409)["errors"] == {
        "domain": ["verified by another organization"]
    }
    assert problem(add(api, "max", org), 409)["errors"] == {"domain": ["added already"]}
    # Removed, it is free again.
    assert api.delete(f"/v1/orgs/{org}/domains/{mine['id']}", actor="olivia").status_code == 200
    assert verify(api, "uma", other, theirs["id"]).status_code == 200


@pytest.mark.parametrize(
    "name",
    ["localhost", "exa mple.com", "-a.example.com", "a..com", "10.0.0.1", "x" * 250 + ".com"],
)
def test_a_bad_domain_name_is_a_422_naming_it(api, org, name):
    body = problem(add(api, "max", org, name), 422)
    assert list(body["errors"]) == ["domain"]


def test_who_manages_and_configures_is_the_policy(api, org, dns):
    body = problem(add(api, "erin", org), 403)
    assert "Owners and Managers do" in body["detail"]
    d = verified(api, dns, "max", org)
    # pix4d: a Manager lets a domain's users join up to Manager, never as Owner.
    body = problem(configure(api, "max", org, d["id"], "auto", "owner"), 403)
    assert "only up to Manager" in body["detail"]
    assert configure(api, "olivia", org, d["id"], "auto", "owner").status_code == 200
    assert configure(api, "max", org, d["id"], "auto", "reader").get_json()["join_role"] == "reader"
    assert problem(configure(api, "max", org, d["id"], "auto"), 422)["errors"] == {
        "join_role": ["required"]
    }
    assert list(problem(configure(api, "max", org, d["id"], "auto", "wizard"), 422)["errors"]) == [
        "join_role"
    ]
    assert list(problem(configure(api, "max", org, d["id"], "sometimes"), 422)["errors"]) == [
        "join_mode"
    ]
    # A pending domain offers nothing yet.
    pending = add(api, "max", org, "other.test").get_json()
    body = problem(configure(api, "max", org, pending["id"], "suggest"), 409)
    assert list(body["errors"]) == ["join_mode"]


def test_a_verified_domain_suggests_and_joins(api, org, dns):
    d = verified(api, dns, "max", org)
    add_user(api, "ann", email="ann@acme.test")
    add_user(api, "bob", email="bob@elsewhere.test")
    assert api.get("/v1/users/ann/suggested-orgs").get_json() == {"items": []}  # off
    assert configure(api, "max", org, d["id"], "suggest").status_code == 200
    found = api.get("/v1/users/ann/suggested-orgs", actor="ann").get_json()["items"]
    assert found == [
        {
            "org_id": org,
            "org_name": "Acme",
            "style": "pix4d",
            "domain": "acme.test",
            "join": "request",
        }
    ]
    assert api.get("/v1/users/bob/suggested-orgs").get_json() == {"items": []}
    assert problem(api.get("/v1/users/ann/suggested-orgs", actor="bob"), 403)

    # Suggest: asking makes a pending request, via the domain.
    response = api.post(f"/v1/orgs/{org}/join-requests", {}, actor="ann")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["status"] == "pending"
    assert response.get_json()["via_domain"] == "acme.test"

    # Auto: asking joins at once with the domain's role, decided as Max's invitation.
    assert configure(api, "max", org, d["id"], "auto", "reader").status_code == 200
    add_user(api, "cy", email="cy@acme.test")
    assert api.get("/v1/users/cy/suggested-orgs").get_json()["items"][0]["join"] == "auto"
    response = api.post(f"/v1/orgs/{org}/join-requests", {}, actor="cy")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["status"] == "approved" and response.get_json()["role"] == "reader"
    with db.connection_context():
        assert Membership.get(Membership.user == "cy", Membership.org == org).role == "reader"
        assert Event.select().where(Event.type == "join_request.approved").count() == 1
    assert api.get("/v1/users/cy/suggested-orgs").get_json() == {"items": []}  # a member now


def test_an_automatic_join_carries_its_configurers_authority(api, org, dns):
    d = verified(api, dns, "max", org)
    assert configure(api, "max", org, d["id"], "auto", "manager").status_code == 200
    # Max is demoted to Editor: he may no longer invite Managers, so the domain's users
    # no longer join at once; their request waits for an admin.
    response = api.put(f"/v1/orgs/{org}/members/max", {"role": "editor"}, actor="olivia")
    assert response.status_code == 200, response.get_json()
    add_user(api, "dee", email="dee@acme.test")
    response = api.post(f"/v1/orgs/{org}/join-requests", {}, actor="dee")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["status"] == "pending" and response.get_json()["role"] == "manager"
    with db.connection_context():
        assert not Membership.select().where(Membership.user == "dee").exists()


def test_up42_one_account_holds_for_a_domain_join(api, dns):
    add_user(api, "ada")
    org_id = new_org(api, "ada", "up42", name="Sat")["id"]
    d = verified(api, dns, "ada", org_id, "sat.test")
    assert configure(api, "ada", org_id, d["id"], "auto", "member").status_code == 200
    add_user(api, "eve", email="eve@sat.test")
    new_org(api, "eve", "up42", name="Eve's")  # eve has a UP42 account already
    body = problem(api.post(f"/v1/orgs/{org_id}/join-requests", {}, actor="eve"), 403)
    assert "accounts cannot be merged" in body["detail"]
    with db.connection_context():
        assert Domain.get_by_id(d["id"]).join_mode == "auto"


def test_a_preview_of_a_domain_answers_as_its_write(api, org):
    def preview(actor, action, **attributes):
        ref = {"type": "Domain", "org": org, "id": "acme.test", "attributes": attributes}
        return api.allowed(actor, action, ref, explain=True)

    assert preview("max", "manage") and not preview("erin", "manage")
    assert preview("max", "configure", join_mode="suggest")
    assert preview("max", "configure", join_mode="auto", role="manager")
    assert not preview("max", "configure", join_mode="auto", role="owner")
    assert preview("olivia", "configure", join_mode="auto", role="owner")
    assert not preview("olivia", "configure", join_mode="auto", role="wizard")  # as the write
    assert not preview("olivia", "configure", join_mode="sometimes")
