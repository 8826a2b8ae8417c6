"""A batch whose check carries its own consistency (found by schemathesis: an empty 200)."""


def test_a_checks_own_consistency_is_checked_never_an_empty_answer(api, demo):
    check = {
        "action": "view",
        "resource": {"type": "Folder", "id": "pix4d-survey"},
        "actor": {"id": "pix4d-reader"},
    }
    missing = {**check, "consistency": {"mode": "at_least_as_fresh"}}
    r = api.post("/v1/authorize/batch", {"checks": [missing]})
    assert r.status_code == 422 and "consistency.token" in r.get_json()["errors"]
    latency = {**check, "consistency": {"mode": "minimize_latency"}}
    r = api.post("/v1/authorize/batch", {"checks": [latency]})
    assert r.status_code == 200 and r.get_json()["results"][0]["allowed"] is True
