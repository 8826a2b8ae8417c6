"""scim2-tester, an independent SCIM conformance checker (it reads the service's
ServiceProviderConfig, ResourceTypes and Schemas, then creates, reads, lists, filters the
returned attributes, replaces, patches every attribute and deletes Users and Groups against
them),
run against a live gunicorn (tests/serving.py: the Procfile's settings, SQLite, the demo
data) with a directory token of org-pix4d issued by ``flask scim token``.

Every check must pass, except those listed in SKIPPED with the reason."""

from collections import Counter

import pytest
from scim2_tester import Status, check_server

from models import Membership, ScimGroup, ScimUser, Team, db, init_db
from tests.scim.conftest import scim_checker_client
from tests.serving import flask, gunicorn_env, start_gunicorn, stop

# check title -> why it is skipped (scim2-tester reports it SKIPPED, not ERROR)
SKIPPED = {
    "search_with_attributes": "POST /.search across every resource type is answered 501 "
    "(RFC 7644 3.4.3 lets a service decline it); POST /Users/.search is served. Reported "
    "once for Users and once for Groups",
}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scim-gunicorn")
    proc, port, _key = start_gunicorn(folder)
    try:
        env = gunicorn_env(folder)
        token = flask(
            "scim", "token", "org-pix4d", "--as", "pix4d-owner", "--role", "member", env=env
        )
        yield f"http://127.0.0.1:{port}/scim/v2", token, folder
    finally:
        stop(proc)


def test_scim2_tester_passes(served):
    url, token, folder = served
    results = check_server(scim_checker_client(url, token))
    counts = Counter(r.status.name for r in results)
    failed = [f"{r.title}: {r.reason}" for r in results if r.status == Status.ERROR]
    assert not failed, "\n".join(failed)
    skipped = {r.title: r.reason for r in results if r.status == Status.SKIPPED}
    assert set(skipped) == set(SKIPPED), skipped
    assert counts["SUCCESS"] >= 100, counts  # 107 with scim2-tester 0.5.2
    # what it created it deleted: no directory user is left, and no member it added
    init_db(f"sqlite:///{folder / 'g.db'}")
    with db.connection_context():
        assert ScimUser.select().count() == 0 and ScimGroup.select().count() == 0
        assert Team.select().count() == 0
        ids = {m.user_id for m in Membership.select().where(Membership.org == "org-pix4d")}
        assert all(i.startswith("pix4d-") for i in ids), ids


def test_a_wrong_token_is_a_scim_401(served):
    url, _token, _ = served
    client = scim_checker_client(url, "oazscim_wrong")
    response = client.client.get("/Users")
    assert response.status_code == 401
    assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
