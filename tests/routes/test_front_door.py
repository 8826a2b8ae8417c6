"""What a newcomer meets first: ``GET /`` points somewhere, one status has one title in
every problem document, and the default worker count is the CPUs a container allows."""

import pytest

from ops.config import usable_cpus


def test_the_root_points_to_the_console_docs_and_health(app):
    client = app.test_client()
    listed = client.get("/", headers={"Accept": "application/json"})
    assert listed.status_code == 200
    body = listed.get_json()
    assert body["console"] == "/console/" and body["docs"] == "/docs"
    for path in body.values():
        if path.startswith("/") and path != "/console/":
            assert client.get(path).status_code in (200, 503), path  # readyz may be 503
    browser = client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.status_code == 302 and browser.headers["Location"].endswith("/console/")


def test_every_422_and_413_has_the_rfc_9110_title(api, app):
    # a schema's refusal, the core's refusal, and Werkzeug's
    schema = api.post("/v1/orgs", {"name": "X", "style": "nope"}, actor="u-ann")
    core = api.post("/v1/orgs", {"name": "X", "style": "pix4d"})  # no X-Actor-Id
    big = api.post("/v1/authorize", data=b"{" + b" " * (2 * 1024 * 1024) + b"}")
    for response, status, title in (
        (schema, 422, "Unprocessable Content"),
        (core, 422, "Unprocessable Content"),
        (big, 413, "Content Too Large"),
    ):
        assert response.status_code == status, response.get_json()
        assert response.content_type == "application/problem+json"
        assert response.get_json()["title"] == title


@pytest.mark.parametrize(
    "files, limit",
    [
        ({"cpu.max": "150000 100000\n"}, 2),  # 1.5 CPUs: rounded up
        ({"cpu.max": "100000 100000\n"}, 1),
        ({"cpu.max": "20000 100000\n"}, 1),  # a fraction is still one worker
        ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3),
    ],
)
def test_the_default_workers_follow_a_containers_cpu_limit(tmp_path, files, limit):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    unlimited = usable_cpus(tmp_path / "none")
    assert usable_cpus(tmp_path) == min(limit, unlimited)


def test_no_cpu_limit_is_the_affinity(tmp_path):
    import os

    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert usable_cpus(tmp_path) == len(os.sched_getaffinity(0))
