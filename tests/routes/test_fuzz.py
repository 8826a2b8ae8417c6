"""schemathesis against /openapi.json on a live server with an API key: bounded examples per
operation, no 5xx, and every response matches the document (status code, content type,
body schema)."""

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

import models
from access.demo import load_demo
from app import create_app
from models import ApiKey, db

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
]
STATE = {}


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{folder / 'fuzz.db'}"
    models.init_db(url)
    models.create_tables()
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "DATABASE_BOUND": True,
            "DECISION_LOG": str(folder / "d.log"),
            "RATE_LIMIT": "1000000 per minute",
        }
    )
    with db.connection_context():
        load_demo(app.extensions["orgauthz.policy"].current)
        STATE["key"] = ApiKey.create_key("fuzz")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    STATE["base"] = base
    yield base
    server.shutdown()


def test_api_conforms_and_never_fails(live_server, tmp_path):
    """Every operation, a bounded number of generated requests (positive and negative)."""
    report = tmp_path / "junit.xml"
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{live_server}/openapi.json",
            "-H",
            f"Authorization: Bearer {STATE['key']}",
            "-H",
            "X-Actor-Id: pix4d-owner",
            "--checks",
            ",".join(CHECKS),
            "--max-examples",
            "6",
            "--seed",
            "7",
            "--phases",
            "examples,coverage,fuzzing",
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--continue-on-failure",
            "--no-color",
            "--report",
            "junit",
            "--report-junit-path",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
