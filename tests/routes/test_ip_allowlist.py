"""An organization's IP allow-list for its settings, over HTTP on both databases: set with
PATCH /v1/orgs/{id} (asked as edit_details, from inside the list once there is one), read
by each style's rule with a check's context.ip, and cleared the same way."""

from tests.support import problem

ORG = "/v1/orgs/org-pix4d"
EDIT = {"type": "Organization", "id": "org-pix4d"}


def check(api, ip=None):
    body = {"actor": {"id": "pix4d-owner"}, "action": "edit_details", "resource": EDIT}
    if ip:
        body["context"] = {"ip": ip}
    response = api.post("/v1/authorize", body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["allowed"]


def test_an_allow_list_limits_where_settings_change_from(api, demo):
    assert check(api) and check(api, "198.51.100.9")  # no list: anywhere
    body = {"admin_ip_allowlist": ["203.0.113.0/24", "2001:db8::/32"]}
    answer = api.patch(ORG, body, actor="pix4d-owner")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["admin_ip_allowlist"] == ["203.0.113.0/24", "2001:db8::/32"]
    assert check(api, "203.0.113.7") and check(api, "2001:db8::1")
    assert not check(api, "198.51.100.9") and not check(api)
    # a change of a setting now needs the end user's ip, inside the list
    refused = api.patch(ORG, {"name": "Elsewhere"}, actor="pix4d-owner")
    assert "context names no ip" in problem(refused, 403)["detail"]
    outside = {"name": "Elsewhere", "context": {"ip": "198.51.100.9"}}
    assert "is not in it" in problem(api.patch(ORG, outside, actor="pix4d-owner"), 403)["detail"]
    inside = {"name": "Inside", "context": {"ip": "203.0.113.7"}}
    assert api.patch(ORG, inside, actor="pix4d-owner").status_code == 200
    cleared = api.patch(
        ORG, {"admin_ip_allowlist": None, "context": {"ip": "203.0.113.7"}}, actor="pix4d-owner"
    )
    assert cleared.status_code == 200 and cleared.get_json()["admin_ip_allowlist"] is None
    assert check(api, "198.51.100.9")


def test_bad_lists_and_contexts_name_the_field(api, demo):
    bad = api.patch(ORG, {"admin_ip_allowlist": ["not-a-range"]}, actor="pix4d-owner")
    assert "admin_ip_allowlist.0" in problem(bad, 422)["errors"]
    bad = api.patch(ORG, {"name": "X", "context": {"ip": "nope"}}, actor="pix4d-owner")
    assert "context.ip" in problem(bad, 422)["errors"]
    bad = api.patch(ORG, {"context": {"ip": "203.0.113.7"}}, actor="pix4d-owner")
    assert "_body" in problem(bad, 422)["errors"]
    # only those who may edit the details set it
    refused = api.patch(ORG, {"admin_ip_allowlist": ["10.0.0.0/8"]}, actor="pix4d-manager")
    assert problem(refused, 403)


def test_the_console_asks_from_the_browsers_address(app, api, demo):
    from tests.routes.console_helpers import login, set_actor

    body = {"admin_ip_allowlist": ["203.0.113.0/24"]}
    assert api.patch(ORG, body, actor="pix4d-owner").status_code == 200
    outside = app.test_client()
    login(outside, api.key)
    token = set_actor(outside, "pix4d-owner")
    page = outside.get("/console/orgs/org-pix4d/settings")  # the test client is 127.0.0.1
    assert "is not in it" in page.text
    inside = app.test_client()
    inside.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    login(inside, api.key)
    token = set_actor(inside, "pix4d-owner")
    changed = inside.post(
        "/console/orgs/org-pix4d/settings/name", data={"csrf": token, "name": "From inside"}
    )
    assert changed.status_code == 303
    assert api.get(ORG, actor="pix4d-owner").get_json()["name"] == "From inside"


def test_a_check_s_context_is_logged_and_replayed_with_it(app, api, demo):
    from ops import decisionlog

    body = {"admin_ip_allowlist": ["203.0.113.0/24"]}
    assert api.patch(ORG, body, actor="pix4d-owner").status_code == 200
    asked = {"actor": {"id": "pix4d-owner"}, "action": "edit_details", "resource": EDIT}
    inside = api.post("/v1/authorize", {**asked, "context": {"ip": "203.0.113.7"}}).get_json()
    assert inside["allowed"]
    decisionlog.flush()
    line = decisionlog.find(app.config["DECISION_LOG"], inside["decision_id"])
    assert line["context"] == {"ip": "203.0.113.7"}
    # replayed with its context, the answer stands (without it, it would be a deny)
    result = app.test_cli_runner().invoke(args=["decisions", "replay", inside["decision_id"]])
    assert "now:  allow" in result.output and result.exit_code == 0, result.output
