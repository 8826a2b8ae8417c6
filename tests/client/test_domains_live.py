"""The client's verified-domain and join-request calls against a real gunicorn (the demo
data, SQLite) whose DNS_NAMESERVER is a dnslib server on 127.0.0.1: a wrong token is a
Conflict naming ``domain``, the right one verifies; a suggested user asks and a Manager
approves."""

import pytest
from orgauthz_client import Client, Conflict, Forbidden

from tests.serving import start_gunicorn, stop
from tests.support import DnsServer


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("domains-gunicorn")
    with DnsServer() as dns:
        proc, port, key = start_gunicorn(
            folder,
            ORGAUTHZ_DECISION_LOG=str(folder / "decisions.log"),
            ORGAUTHZ_DNS_NAMESERVER=dns.address,
            ORGAUTHZ_DNS_TIMEOUT_SECONDS="3",
        )
        try:
            yield dns, f"http://127.0.0.1:{port}", key
        finally:
            stop(proc)


def test_verify_suggest_ask_and_approve_through_the_client(served):
    dns, url, key = served
    with Client(url, key, timeout=10) as c:
        owner = c.as_actor("pix4d-owner")
        d = owner.add_domain("org-pix4d", "survey.test")
        assert (d.status, d.txt_name) == ("pending", "_orgauthz-challenge.survey.test")
        dns.records[d.txt_name] = ["orgauthz-domain-verification=wrong"]
        with pytest.raises(Conflict) as refused:
            owner.verify_domain("org-pix4d", d.id)
        assert list(refused.value.errors) == ["domain"]
        dns.records[d.txt_name] = [d.txt_value]
        assert owner.verify_domain("org-pix4d", d.id).status == "verified"
        assert [x.domain for x in owner.list_domains("org-pix4d")] == ["survey.test"]
        with pytest.raises(Forbidden):
            c.as_actor("pix4d-manager").configure_domain("org-pix4d", d.id, "auto", "owner")
        owner.configure_domain("org-pix4d", d.id, "suggest")

        c.put_user("ann", "ann@survey.test", "Ann")
        assert [s.org_id for s in c.suggested_orgs("ann")] == ["org-pix4d"]
        jr = c.as_actor("ann").ask_to_join("org-pix4d", message="survey team")
        assert (jr.status, jr.via_domain, jr.role) == ("pending", "survey.test", "member")
        manager = c.as_actor("pix4d-manager")
        assert [r.id for r in manager.list_join_requests("org-pix4d", status="pending")] == [jr.id]
        done = manager.approve_join_request("org-pix4d", jr.id, role="reader")
        assert (done.status, done.role, done.decided_by) == ("approved", "reader", "pix4d-manager")
        assert c.suggested_orgs("ann") == []
        assert owner.get_member("org-pix4d", "ann").role == "reader"
