"""The console's Domains page and Requests list (routes/console/domains.py): adding a domain
shows the TXT record to publish, verifying goes through the DNS server on 127.0.0.1, what a
verified domain offers is a form whose refused roles carry the policy's reason; requests
are approved with a role (roles the policy refuses disabled with why) or declined once
confirmed. Through Flask's test client on both databases, and in Chromium with axe-core
(no serious or critical violation) at both widths."""

import re

import pytest

from access import domains
from models import Domain, Membership, db
from tests.routes.console_helpers import (
    browser,
    chromium,
    console_table,
    csrf_of,
    live,
    login,
    set_actor,
)
from tests.serving import needs_chromium
from tests.support import DnsServer, add_user

FIXTURES = (browser, chromium, live)  # used by name by the tests below

pytestmark = [pytest.mark.usefixtures(console_table.__name__)]


@pytest.fixture
def dns(app):
    with DnsServer() as server:
        domains.configure({"DNS_NAMESERVER": server.address, "DNS_TIMEOUT_SECONDS": 2})
        yield server
    domains.configure({})


def result_of(page) -> bytes:
    found = re.search(rb'<section class="result[^>]*>(.*?)</section>', page.data, re.S)
    assert found, page.data[:800]
    return found.group(1)


def test_domains_page_adds_verifies_and_configures(app, api, demo, dns):
    client = app.test_client()
    login(client, api.key)
    csrf = set_actor(client, "pix4d-manager")
    page = client.get("/console/orgs/org-pix4d/domains")
    assert page.status_code == 200 and b'id="add-domain-form"' in page.data
    assert b'data-tab="domains"' in page.data and b'data-tab="requests"' in page.data
    sent = client.post(
        "/console/orgs/org-pix4d/domains", data={"domain": "Acme.test", "csrf": csrf}
    )
    assert sent.status_code == 303
    page = client.get("/console/orgs/org-pix4d/domains")
    assert b"Done:" in result_of(page)
    with db.connection_context():
        d = Domain.get(Domain.name == "acme.test")
    assert f"orgauthz-domain-verification={d.token}".encode() in page.data
    # Not published yet: refused, saying which field and what to publish.
    client.post(f"/console/orgs/org-pix4d/domains/{d.id}/verify", data={"csrf": csrf})
    page = client.get("/console/orgs/org-pix4d/domains")
    assert b"409" in result_of(page) and b"<code>domain</code>" in result_of(page)
    assert b'data-check-error="' + d.id.encode() in page.data
    dns.records[f"_orgauthz-challenge.{d.name}"] = [f"orgauthz-domain-verification={d.token}"]
    client.post(f"/console/orgs/org-pix4d/domains/{d.id}/verify", data={"csrf": csrf})
    page = client.get("/console/orgs/org-pix4d/domains")
    assert b"Done:" in result_of(page) and b'data-status="verified"' in page.data
    # A Manager may not let the domain's people join as Owner: the option says why.
    assert re.search(
        rb'<option value="owner"[^>]* disabled>Owner \(refused: [^)]*Manager', page.data
    )
    data = {"join_mode": "auto", "join_role": "owner", "csrf": csrf}
    client.post(f"/console/orgs/org-pix4d/domains/{d.id}/configure", data=data)
    assert b"403" in result_of(client.get("/console/orgs/org-pix4d/domains"))
    data["join_role"] = "reader"
    client.post(f"/console/orgs/org-pix4d/domains/{d.id}/configure", data=data)
    assert b"Done:" in result_of(client.get("/console/orgs/org-pix4d/domains"))
    with db.connection_context():
        assert Domain.get_by_id(d.id).join_role == "reader"
    # A member sees one line saying why, no form.
    set_actor(client, "pix4d-member")
    page = client.get("/console/orgs/org-pix4d/domains")
    assert b'data-refused="manage_domains"' in page.data and b"add-domain-form" not in page.data


def test_requests_list_approves_with_a_role_and_declines(app, api, demo):
    add_user(api, "ann")
    add_user(api, "bob")
    for user in ("ann", "bob"):
        answer = api.post("/v1/orgs/org-pix4d/join-requests", {}, actor=user)
        assert answer.status_code == 201, answer.get_json()
    listed = api.get("/v1/orgs/org-pix4d/join-requests", actor="pix4d-owner").get_json()
    by_user = {r["user_id"]: r for r in listed["items"]}  # ids are random: not in asking order
    ann, bob = by_user["ann"], by_user["bob"]
    client = app.test_client()
    login(client, api.key)
    csrf = set_actor(client, "pix4d-manager")
    page = client.get("/console/orgs/org-pix4d/requests")
    assert page.data.count(b'data-status="pending"') == 2
    assert re.search(rb'<option value="owner"[^>]* disabled>Owner \(refused:', page.data)
    client.post(
        f"/console/orgs/org-pix4d/requests/{ann['id']}/approve",
        data={"role": "editor", "csrf": csrf},
    )
    page = client.get("/console/orgs/org-pix4d/requests")
    assert b"Done:" in result_of(page)
    with db.connection_context():
        assert Membership.get(Membership.user == ann["user_id"]).role == "editor"
    # Declining needs its confirmation.
    url = f"/console/orgs/org-pix4d/requests/{bob['id']}/decline"
    client.post(url, data={"csrf": csrf})
    assert b"<code>confirm</code>" in result_of(client.get("/console/orgs/org-pix4d/requests"))
    client.post(url, data={"csrf": csrf, "confirm": "yes"})
    page = client.get("/console/orgs/org-pix4d/requests?status=declined")
    assert b"Done:" in result_of(page) and b'data-user="bob"' in page.data
    # An editor may not see them: one line saying why.
    set_actor(client, "pix4d-editor")
    page = client.get("/console/orgs/org-pix4d/requests")
    assert b'data-refused="view_invitations"' in page.data
    assert csrf_of(page)


@needs_chromium
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_both_pages_in_a_browser_with_axe(browser, live, api, dns):
    add_user(api, "ann")
    assert api.post("/v1/orgs/org-pix4d/join-requests", {}, actor="ann").status_code == 201
    _base, key = live
    browser.login(key, actor="pix4d-owner")
    browser.goto("/console/orgs/org-pix4d/domains")
    browser.page.fill("#add-domain-form input[name=domain]", "acme.test")
    browser.submit("#add-domain-form button[type=submit]")
    browser.shot("domains-pending", axe=True)
    with db.connection_context():
        d = Domain.get(Domain.name == "acme.test")
    dns.records[f"_orgauthz-challenge.{d.name}"] = [f"orgauthz-domain-verification={d.token}"]
    browser.submit("button[data-action=verify]")
    browser.no_error_box()
    browser.shot("domains-verified", axe=True)
    browser.goto("/console/orgs/org-pix4d/requests")
    browser.shot("requests", axe=True)
    browser.submit("button[data-action=approve]")
    browser.no_error_box()
    browser.shot("requests-approved", axe=True)
