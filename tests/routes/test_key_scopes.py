"""Keys have a scope (access/keys.py): a key bound to organizations sees and changes only
them. One test per cell of the README's table "What a key bound to organizations may see",
each against org-a (the key's) and org-b (another's), with the service-wide key beside it
where the same question must keep today's answer; and revoking a key stops its webhooks
and ends its console sessions.

The world: ann owns org-a, bob owns org-b (both pix4d), sue is a member of both, cal only
of org-a; Folder f-a is in org-a, f-b in org-b, and ``scoped`` is bound to org-a.
"""

import json

import pytest

from access import keys, webhooks
from models import ConsoleSession, Delivery, Membership, Webhook, db
from tests.conftest import Api
from tests.routes.console_helpers import login, session_cookie, set_actor

OUTSIDE = keys.OUTSIDE


def _user(api, uid):
    response = api.put(f"/v1/users/{uid}", {"email": f"{uid}@example.com", "name": uid})
    assert response.status_code == 200, response.get_json()


def _org(api, actor, org_id):
    body = {"name": org_id.upper(), "style": "pix4d", "id": org_id}
    response = api.post("/v1/orgs", body, actor=actor)
    assert response.status_code == 201, response.get_json()


def _folder(api, actor, org_id, rid):
    response = api.put(f"/v1/orgs/{org_id}/resources/Folder/{rid}", {}, actor=actor)
    assert response.status_code == 201, response.get_json()


@pytest.fixture
def walls(app, api):
    """(service-wide Api, scoped Api) over the world of the module docstring."""
    for uid in ("ann", "bob", "sue", "cal"):
        _user(api, uid)
    _org(api, "ann", "org-a")
    _org(api, "bob", "org-b")
    with db.connection_context():
        Membership.create(user="sue", org="org-a", role="reader")
        Membership.create(user="sue", org="org-b", role="reader")
        Membership.create(user="cal", org="org-a", role="reader")
        secret = keys.create("scoped", ["org-a"])
    _folder(api, "ann", "org-a", "f-a")
    _folder(api, "bob", "org-b", "f-b")
    return api, Api(app.test_client(), secret)


def check(actor, org, rid, action="view", explain=False):
    body = {"actor": {"id": actor}, "action": action, "resource": {"type": "Folder", "id": rid}}
    if org is not None:
        body["resource"]["org"] = org
    if explain:
        body["explain"] = True
    return body


def decide(client, body):
    response = client.post("/v1/authorize", body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def problem(response, status):
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


# ---------------------------------------------------------------- decisions
def test_decide_in_its_own_org_is_the_policys_answer(walls):
    wide, scoped = walls
    for _ in range(2):  # the Flask route, then the fast path (the key is known by then)
        assert decide(scoped, check("ann", "org-a", "f-a"))["allowed"] is True
        assert decide(scoped, check("bob", "org-a", "f-a"))["allowed"] is False
    explained = decide(scoped, check("ann", "org-a", "f-a", explain=True))
    assert explained["allowed"] is True and explained["explanation"]["style"] == "pix4d"


def test_decide_in_another_org_is_denied_as_outside_the_key(walls):
    wide, scoped = walls
    # The service-wide key decides first: its allow is kept as a known answer, which the
    # scoped key must not be served, on the Flask route or the fast path.
    for _ in range(2):
        assert decide(wide, check("bob", "org-b", "f-b"))["allowed"] is True
        assert decide(wide, check("bob", None, "f-b"))["allowed"] is True
    for _ in range(2):
        assert decide(scoped, check("bob", "org-b", "f-b"))["allowed"] is False
        assert decide(scoped, check("bob", None, "f-b"))["allowed"] is False
        org_itself = {
            "actor": {"id": "bob"},
            "action": "view",
            "resource": {"type": "Organization", "id": "org-b"},
        }
        assert decide(scoped, org_itself)["allowed"] is False
    explained = decide(scoped, check("bob", "org-b", "f-b", explain=True))
    assert explained["explanation"] == {"reason": OUTSIDE}
    # An id nobody registered, in an org that does not exist: the same words (no oracle).
    unknown = decide(scoped, check("bob", "org-zz", "f-zz", explain=True))
    assert unknown["explanation"] == {"reason": OUTSIDE}
    # An inline resource described in the other org is outside too.
    inline = check("bob", "org-b", "f-new", explain=True)
    assert decide(scoped, inline)["explanation"] == {"reason": OUTSIDE}
    # And the scoped key's deny was not kept for the service-wide key.
    assert decide(wide, check("bob", "org-b", "f-b"))["allowed"] is True


def test_batch_answers_other_orgs_checks_with_a_deny(walls):
    wide, scoped = walls
    checks = [check("ann", "org-a", "f-a"), check("bob", "org-b", "f-b"), check("bob", None, "f-b")]
    for client in (wide, wide):  # known answers in the cache for each check
        assert client.post("/v1/authorize/batch", {"checks": checks}).status_code == 200
    for _ in range(2):
        response = scoped.post("/v1/authorize/batch", {"checks": checks})
        assert response.status_code == 200, response.get_json()
        assert [r["allowed"] for r in response.get_json()["results"]] == [True, False, False]
    answer = wide.post("/v1/authorize/batch", {"checks": checks}).get_json()["results"]
    assert [r["allowed"] for r in answer] == [True, True, True]


def test_actions_on_another_orgs_resource_are_none(walls):
    wide, scoped = walls
    ref = {"type": "Folder", "id": "f-b", "org": "org-b"}
    body = {"actor": {"id": "bob"}, "resource": ref}
    assert "view" in wide.post("/v1/authorize/actions", body).get_json()["actions"]
    for _ in range(2):
        assert scoped.post("/v1/authorize/actions", body).get_json()["actions"] == []
    own = {"actor": {"id": "ann"}, "resource": {"type": "Folder", "id": "f-a", "org": "org-a"}}
    assert "view" in scoped.post("/v1/authorize/actions", own).get_json()["actions"]


def test_list_resources_of_another_org_is_empty(walls):
    wide, scoped = walls
    body = {"actor": {"id": "bob"}, "action": "view", "type": "Folder", "org": "org-b"}
    assert [i["id"] for i in wide.post("/v1/authorize/resources", body).get_json()["items"]] == [
        "f-b"
    ]
    assert scoped.post("/v1/authorize/resources", body).get_json()["items"] == []
    own = {"actor": {"id": "ann"}, "action": "view", "type": "Folder", "org": "org-a"}
    assert [i["id"] for i in scoped.post("/v1/authorize/resources", own).get_json()["items"]] == [
        "f-a"
    ]


def test_list_actors_of_another_orgs_resource_is_empty(walls):
    wide, scoped = walls
    body = {"action": "view", "resource": {"type": "Folder", "id": "f-b", "org": "org-b"}}
    assert "bob" in [i["id"] for i in wide.post("/v1/authorize/actors", body).get_json()["items"]]
    assert scoped.post("/v1/authorize/actors", body).get_json()["items"] == []
    own = {"action": "view", "resource": {"type": "Folder", "id": "f-a", "org": "org-a"}}
    assert "ann" in [i["id"] for i in scoped.post("/v1/authorize/actors", own).get_json()["items"]]


# ---------------------------------------------------------------- management
def test_reading_another_org_is_a_404_as_for_no_org(walls):
    wide, scoped = walls
    assert wide.get("/v1/orgs/org-b", actor="bob").status_code == 200
    other = problem(scoped.get("/v1/orgs/org-b", actor="bob"), 404)
    none = problem(scoped.get("/v1/orgs/org-zz", actor="bob"), 404)
    assert other["detail"] == "no organization 'org-b'" and none["detail"].startswith(
        "no organization"
    )
    assert scoped.get("/v1/orgs/org-a", actor="ann").status_code == 200
    # Its list of the acting user's organizations holds its own only.
    listed = scoped.get("/v1/orgs", actor="sue").get_json()["items"]
    assert [o["id"] for o in listed] == ["org-a"]
    assert {o["id"] for o in wide.get("/v1/orgs", actor="sue").get_json()["items"]} == {
        "org-a",
        "org-b",
    }
    problem(scoped.patch("/v1/orgs/org-b", {"name": "Mine"}, actor="bob"), 404)
    problem(scoped.delete("/v1/orgs/org-b", actor="bob"), 404)


def test_creating_an_org_is_refused(walls):
    wide, scoped = walls
    _user(wide, "dan")
    body = {"name": "New", "style": "pix4d", "id": "org-new"}
    refused = problem(scoped.post("/v1/orgs", body, actor="dan"), 403)
    assert "bound to organizations" in refused["detail"]
    assert wide.get("/v1/orgs/org-new", actor="dan").status_code == 404


def test_members_of_another_org_are_a_404(walls):
    wide, scoped = walls
    assert wide.get("/v1/orgs/org-b/members", actor="bob").status_code == 200
    problem(scoped.get("/v1/orgs/org-b/members", actor="bob"), 404)
    problem(scoped.get("/v1/orgs/org-b/members/sue", actor="bob"), 404)
    problem(scoped.put("/v1/orgs/org-b/members/sue", {"role": "editor"}, actor="bob"), 404)
    problem(scoped.delete("/v1/orgs/org-b/members/sue", actor="bob"), 404)
    problem(scoped.get("/v1/orgs/org-b/resources", actor="bob"), 404)
    problem(scoped.put("/v1/orgs/org-b/resources/Folder/x", {}, actor="bob"), 404)
    members = scoped.get("/v1/orgs/org-a/members", actor="ann").get_json()["items"]
    assert {m["user_id"] if "user_id" in m else m["id"] for m in members} >= {"ann", "sue"}
    with db.connection_context():
        assert Membership.get(user="sue", org="org-b").role == "reader"


def test_inviting_into_another_org_is_a_404_and_its_tokens_do_not_work(walls):
    wide, scoped = walls
    body = {"invitations": [{"email": "eve@example.com", "role": "reader"}]}
    problem(scoped.post("/v1/orgs/org-b/invitations", body, actor="bob"), 404)
    made = wide.post("/v1/orgs/org-b/invitations", body, actor="bob")
    assert made.status_code == 201, made.get_json()
    token = made.get_json()["items"][0]["token"]
    accept = {"token": token, "user": {"id": "eve", "email": "eve@example.com", "name": "Eve"}}
    problem(scoped.post("/v1/invitations/accept", accept), 404)
    assert wide.post("/v1/invitations/accept", accept).status_code == 200
    own = scoped.post("/v1/orgs/org-a/invitations", body, actor="ann")
    assert own.status_code == 201, own.get_json()


def test_audit_of_another_org_is_a_404(walls):
    wide, scoped = walls
    assert wide.get("/v1/orgs/org-b/audit", actor="bob").status_code == 200
    problem(scoped.get("/v1/orgs/org-b/audit", actor="bob"), 404)
    own = scoped.get("/v1/orgs/org-a/audit", actor="ann")
    assert own.status_code == 200 and own.get_json()["items"]


def test_users_outside_its_orgs_are_hidden_and_shared_ones_only_shown(walls):
    wide, scoped = walls
    problem(scoped.get("/v1/users/bob"), 404)
    assert scoped.get("/v1/users/sue").status_code == 200
    orgs = scoped.get("/v1/users/sue/orgs").get_json()["items"]
    assert [o["id"] for o in orgs] == ["org-a"]
    assert len(wide.get("/v1/users/sue/orgs").get_json()["items"]) == 2
    problem(scoped.put("/v1/users/bob", {"email": "x@example.com", "name": "X"}), 404)
    problem(scoped.put("/v1/users/sue", {"email": "s2@example.com", "name": "S"}), 403)
    problem(scoped.patch("/v1/users/sue", {"default_org_id": "org-b"}), 422)
    assert scoped.patch("/v1/users/sue", {"default_org_id": "org-a"}).status_code == 200
    assert (
        scoped.put("/v1/users/new-one", {"email": "n@example.com", "name": "N"}).status_code == 200
    )


# ---------------------------------------------------------------- events and webhooks
def _events(client, **query):
    items, cursor = [], None
    for _ in range(50):
        params = {"limit": 100, **query}
        if cursor:
            params["after"] = cursor
        page = client.get("/v1/events", query_string=params).get_json()
        if not page["items"]:
            return items
        items += page["items"]
        cursor = page["next_cursor"]
    raise AssertionError("no end")


def test_the_event_feed_holds_its_orgs_events_only(walls):
    wide, scoped = walls
    seen = _events(scoped)
    assert seen and {e["org"] for e in seen} == {"org-a"}
    assert _events(scoped, org="org-b") == []
    assert {e["org"] for e in _events(wide)} >= {"org-a", "org-b", None}


def test_a_webhook_for_another_org_cannot_be_registered_nor_seen(walls):
    wide, scoped = walls
    webhooks.configure({"WEBHOOK_ALLOW_PRIVATE": True})
    try:
        url = "http://127.0.0.1:9/hook"
        other = problem(scoped.post("/v1/webhooks", {"url": url, "orgs": ["org-b"]}), 422)
        none = problem(scoped.post("/v1/webhooks", {"url": url, "orgs": ["org-zz"]}), 422)
        assert other["errors"] == {"orgs": ["no organization 'org-b'"]}
        assert none["errors"] == {"orgs": ["no organization 'org-zz'"]}
        made = wide.post("/v1/webhooks", {"url": url, "orgs": ["org-b"]})
        assert made.status_code == 201 and made.get_json()["orgs"] == ["org-b"]
        hook_id = made.get_json()["id"]
        assert scoped.get("/v1/webhooks").get_json()["items"] == []
        problem(scoped.delete(f"/v1/webhooks/{hook_id}"), 404)
        problem(scoped.get(f"/v1/webhooks/{hook_id}/deliveries"), 404)
        own = scoped.post("/v1/webhooks", {"url": url, "orgs": ["org-a"]})
        assert own.status_code == 201, own.get_json()
    finally:
        webhooks.configure({})


class Posts:
    """A stand-in for the HTTP POST of deliveries: records (url, event) and answers 200."""

    def __init__(self):
        self.sent = []

    def __call__(self, url, *rest):  # (url[, addresses], body, headers, timeout)
        body = next(part for part in rest if isinstance(part, bytes))
        self.sent.append((url, json.loads(body)))
        return 200

    def orgs(self, url):
        return [event["org"] for to, event in self.sent if to == url]


def _deliver(clock, poster):
    with db.connection_context():
        webhooks.dispatch(clock())
        webhooks.deliver_due("test", clock(), poster)


@pytest.fixture
def hooks(walls):
    """Two endpoints, the service-wide key's and the scoped key's, registered now."""
    wide, scoped = walls
    webhooks.configure({"WEBHOOK_ALLOW_PRIVATE": True})
    made = {}
    for name, client in (("wide", wide), ("scoped", scoped)):
        url = f"http://127.0.0.1:9/{name}"
        response = client.post("/v1/webhooks", {"url": url})
        assert response.status_code == 201, response.get_json()
        made[name] = url
    yield made
    webhooks.configure({})


def _changes(wide):
    for org, owner in (("org-a", "ann"), ("org-b", "bob")):
        for rid in ("x1", "x2"):
            _folder(wide, owner, org, f"{org}-{rid}")
    _user(wide, "zed")  # an event of no organization


def test_a_scoped_keys_webhook_receives_only_its_orgs_events(walls, hooks, clock):
    wide, scoped = walls
    _changes(wide)
    poster = Posts()
    _deliver(clock, poster)
    assert poster.orgs(hooks["scoped"]) == ["org-a", "org-a"]
    assert sorted(poster.orgs(hooks["wide"]), key=str) == sorted(
        ["org-a", "org-a", "org-b", "org-b", None], key=str
    )
    # Narrowed later: what was queued for the org it lost is not sent.
    response = wide.put("/v1/keys/scoped/orgs", {"orgs": []})
    assert response.status_code == 200, response.get_json()
    _folder(wide, "ann", "org-a", "late")
    _deliver(clock, poster)
    assert poster.orgs(hooks["scoped"]) == ["org-a", "org-a"]


def test_queued_deliveries_outside_the_scope_are_failed_not_sent(walls, hooks, clock):
    wide, scoped = walls
    _changes(wide)
    with db.connection_context():
        webhooks.dispatch(clock())  # queued while org-a was the key's
        queued = Delivery.select().join(Webhook).where(Webhook.api_key == "scoped").count()
    assert queued == 2
    assert wide.put("/v1/keys/scoped/orgs", {"orgs": []}).status_code == 200
    poster = Posts()
    with db.connection_context():
        webhooks.deliver_due("test", clock(), poster)
        failed = [
            d.status for d in Delivery.select().join(Webhook).where(Webhook.api_key == "scoped")
        ]
    assert poster.orgs(hooks["scoped"]) == [] and failed == ["failed", "failed"]


def test_revoking_a_key_stops_its_webhooks(app, walls, hooks, clock):
    wide, scoped = walls
    _folder(wide, "ann", "org-a", "queued")
    with db.connection_context():
        webhooks.dispatch(clock())  # one delivery queued before the revoke
    result = app.test_cli_runner().invoke(args=["keys", "revoke", "scoped"])
    assert result.exit_code == 0, result.output
    assert "1 webhooks disabled" in result.output
    _changes(wide)
    poster = Posts()
    _deliver(clock, poster)
    assert poster.orgs(hooks["scoped"]) == []
    assert len(poster.orgs(hooks["wide"])) == 6
    assert scoped.get("/v1/webhooks").status_code == 401


# ---------------------------------------------------------------- erasure
def test_erasure_is_only_of_users_wholly_inside_its_orgs(walls):
    wide, scoped = walls
    problem(scoped.delete("/v1/users/bob"), 404)  # only in org-b: not seen
    refused = problem(scoped.delete("/v1/users/sue"), 403)  # also in org-b
    assert "outside this key's" in refused["detail"]
    assert wide.get("/v1/users/sue").status_code == 200
    erased = scoped.delete("/v1/users/cal")  # only in org-a
    assert erased.status_code == 200, erased.get_json()
    assert wide.get("/v1/users/cal").status_code == 404


# ---------------------------------------------------------------- the scope API and the CLI
def test_only_a_service_wide_key_manages_scopes(walls):
    wide, scoped = walls
    problem(scoped.get("/v1/keys/scoped/orgs"), 403)
    problem(scoped.put("/v1/keys/scoped/orgs", {"orgs": ["org-a", "org-b"]}), 403)
    assert wide.get("/v1/keys/scoped/orgs").get_json() == {
        "key": "scoped",
        "service_wide": False,
        "orgs": ["org-a"],
    }
    assert wide.get("/v1/keys/tests/orgs").get_json()["service_wide"] is True
    problem(wide.get("/v1/keys/nobody/orgs"), 404)
    bad = problem(wide.put("/v1/keys/scoped/orgs", {"orgs": ["org-zz"]}), 422)
    assert "orgs" in bad["errors"]
    problem(wide.put("/v1/keys/scoped/orgs", {}), 422)
    # Widened: the next request of the key sees org-b (its cached scope is dropped).
    assert decide(scoped, check("bob", "org-b", "f-b"))["allowed"] is False
    both = wide.put("/v1/keys/scoped/orgs", {"orgs": ["org-b", "org-a"]})
    assert both.get_json()["orgs"] == ["org-a", "org-b"]
    assert decide(scoped, check("bob", "org-b", "f-b"))["allowed"] is True
    assert scoped.get("/v1/orgs/org-b", actor="bob").status_code == 200
    # Bound to none: it sees nothing, not everything.
    assert wide.put("/v1/keys/scoped/orgs", {"orgs": []}).status_code == 200
    assert decide(scoped, check("ann", "org-a", "f-a"))["allowed"] is False
    problem(scoped.get("/v1/orgs/org-a", actor="ann"), 404)
    # Made service-wide.
    assert wide.put("/v1/keys/scoped/orgs", {"orgs": None}).get_json()["service_wide"] is True
    assert scoped.get("/v1/keys/scoped/orgs").status_code == 200


def test_cli_creates_scoped_keys_and_lists_scopes(app, walls):
    runner = app.test_cli_runner()
    made = runner.invoke(args=["keys", "create", "two", "--org", "org-a", "--org", "org-b"])
    assert made.exit_code == 0, made.output
    assert made.output.strip().startswith("oaz_")
    unknown = runner.invoke(args=["keys", "create", "three", "--org", "org-zz"])
    assert unknown.exit_code != 0 and "org-zz" in unknown.output
    listed = runner.invoke(args=["keys", "list"]).output
    lines = {line.split()[0]: line for line in listed.splitlines()}
    assert lines["two"].endswith("orgs: org-a, org-b")
    assert lines["scoped"].endswith("orgs: org-a")
    assert lines["tests"].endswith("service-wide")
    assert "three" not in lines
    again = runner.invoke(args=["keys", "create", "two"])
    assert again.exit_code != 0 and "exists" in again.output


# ---------------------------------------------------------------- the console
def test_a_scoped_console_session_sees_only_its_orgs(app, walls):
    wide, scoped = walls
    browser = app.test_client()
    login(browser, scoped.key)
    set_actor(browser, "sue")
    home = browser.get("/console/")
    assert (
        b"org-a" in home.data and b"org-b" not in home.data and b"bob@example.com" not in home.data
    )
    assert browser.get("/console/orgs/org-a").status_code == 200
    assert browser.get("/console/orgs/org-b").status_code == 404
    assert browser.get("/console/orgs/org-b/audit").status_code == 404
    playground = browser.get("/console/playground?org=org-b&actor=bob&type=Folder&id=f-b")
    assert b"no organization &#39;org-b&#39;" in playground.data
    assert b'value="org-b"' not in playground.data and b'value="org-a"' in playground.data
    wide_browser = app.test_client()
    login(wide_browser, wide.key)
    assert wide_browser.get("/console/orgs/org-b").status_code in (200, 303)


def test_revoking_a_key_ends_its_console_sessions(app, walls):
    wide, scoped = walls
    browser = app.test_client()
    login(browser, scoped.key)
    assert session_cookie(browser)
    with db.connection_context():
        assert ConsoleSession.select().count() == 1
    result = app.test_cli_runner().invoke(args=["keys", "revoke", "scoped"])
    assert result.exit_code == 0 and "1 console sessions ended" in result.output
    with db.connection_context():
        assert ConsoleSession.select().count() == 0
    page = browser.get("/console/")
    assert page.status_code == 200 and b'name="api_key"' in page.data


# ---------------------------------------------------------------- the migration
def test_m0009_adds_the_scope_to_a_database_without_it(app, api):
    """A database from before m0009 (api_key without ``scoped``, webhook without ``orgs``,
    no api_key_org) is upgraded in place: its keys stay service-wide."""
    from models.migrate import TABLE, upgrade

    with db.connection_context():
        db.execute_sql('DROP TABLE "api_key_org"')
        db.execute_sql('ALTER TABLE "api_key" DROP COLUMN scoped')
        db.execute_sql('ALTER TABLE "webhook" DROP COLUMN orgs')
        db.execute_sql(f'DELETE FROM "{TABLE}" WHERE version = 9')
    assert upgrade(db.obj) == ["0009_key_scopes"]
    with db.connection_context():
        assert {"scoped"} <= {c.name for c in db.get_columns("api_key")}
        assert {"orgs"} <= {c.name for c in db.get_columns("webhook")}
    assert api.get("/v1/keys/tests/orgs").get_json()["service_wide"] is True
    _user(api, "ann")
    _org(api, "ann", "org-a")
    assert api.put("/v1/keys/tests/orgs", {"orgs": ["org-a"]}).status_code == 200
    problem(api.get("/v1/keys/tests/orgs"), 403)  # now bound: the scope API is refused
