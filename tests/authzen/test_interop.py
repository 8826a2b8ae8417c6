"""The OpenID AuthZEN Todo interop scenario against a live gunicorn: every decision vector
of the working group's files (tests/authzen/vectors, copied unmodified) is sent as it is,
with the key as a bearer token, to the demo data's todo organization (``flask demo load``),
on SQLite and, with TEST_DATABASE_URL, on PostgreSQL. An evaluation passes when its
``decision`` is the expected one; an evaluations vector when its ``evaluations`` answer is
exactly the expected value, as the scenario's runner compares them."""

import http.client
import json
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import PG_URL
from tests.serving import start_gunicorn, stop

VECTORS = Path(__file__).parent / "vectors"
FILES = ["decisions-1.0-implementers-draft.json", "decisions-1.1-preview.json"]


def _vectors():
    for name in FILES:
        data = json.loads((VECTORS / name).read_text())
        for endpoint in ("evaluation", "evaluations"):
            for i, vector in enumerate(data.get(endpoint, [])):
                tag = f"{name.removeprefix('decisions-').removesuffix('.json')}-{endpoint}-{i}"
                yield pytest.param(endpoint, vector["request"], vector["expected"], id=tag)


VECTOR_PARAMS = list(_vectors())


@pytest.fixture(scope="module", params=["sqlite"] + (["postgres"] if PG_URL else []))
def served(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"authzen-{request.param}")
    env = {"ORGAUTHZ_RATE_LIMIT": "10000000 per minute"}
    schema = admin = None
    if request.param == "postgres":
        import psycopg2

        schema = f"authzen_{uuid.uuid4().hex[:10]}"
        admin = psycopg2.connect(PG_URL)
        admin.autocommit = True
        admin.cursor().execute(f'CREATE SCHEMA "{schema}"')
        query = "&" if urlsplit(PG_URL).query else "?"
        env["DATABASE_URL"] = f"{PG_URL}{query}options=-csearch_path%3D{schema}"
    proc, port, key = start_gunicorn(folder, **env)
    try:
        yield port, key
    finally:
        stop(proc)
        if admin is not None:
            admin.cursor().execute(f'DROP SCHEMA "{schema}" CASCADE')
            admin.close()


def post(port: int, key: str, path: str, body) -> tuple:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            path,
            json.dumps(body),
            {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_the_vectors_are_all_there():
    kinds = [p.values[0] for p in VECTOR_PARAMS]
    assert kinds.count("evaluation") == 80 and kinds.count("evaluations") == 3


@pytest.mark.parametrize("endpoint,body,expected", VECTOR_PARAMS)
def test_interop_vector(served, endpoint, body, expected):
    port, key = served
    status, answer = post(port, key, f"/access/v1/{endpoint}", body)
    assert status == 200, answer
    if endpoint == "evaluation":
        assert answer["decision"] is expected, answer
    else:
        assert answer["evaluations"] == expected, answer
