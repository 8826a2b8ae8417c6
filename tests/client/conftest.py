"""The client's tests run against a real gunicorn on 127.0.0.1 (tests/serving.py: the
Procfile's settings, 2 workers, SQLite, the demo data), one for the whole session; the
fail-closed tests start and stop their own."""

from dataclasses import dataclass

import pytest
from orgauthz_client import Client

from tests.serving import start_gunicorn, stop


@dataclass
class Live:
    url: str
    key: str


@pytest.fixture(scope="session")
def live(tmp_path_factory):
    folder = tmp_path_factory.mktemp("client-gunicorn")
    proc, port, key = start_gunicorn(folder, ORGAUTHZ_DECISION_LOG=str(folder / "decisions.log"))
    try:
        yield Live(f"http://127.0.0.1:{port}", key)
    finally:
        stop(proc)


@pytest.fixture
def client(live):
    with Client(live.url, live.key, timeout=10) as c:
        yield c
