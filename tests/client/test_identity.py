"""What the client says of itself: a User-Agent with its version (the caller's own wins), and
one version, written once (pyproject.toml reads the package's ``__version__``)."""

import asyncio
import tomllib
from importlib.metadata import version
from pathlib import Path

import httpx
import orgauthz_client
from orgauthz_client import AsyncClient, Client

PYPROJECT = Path(__file__).resolve().parents[2] / "clients" / "python" / "pyproject.toml"
ANSWER = {"allowed": True, "decision_id": "d", "policy_version": "v", "consistency_token": "t"}


def recorder():
    seen = []

    def handler(request):
        seen.append(request.headers.get("user-agent"))
        return httpx.Response(200, json=ANSWER)

    return httpx.MockTransport(handler), seen


def test_every_call_names_the_client_and_its_version():
    transport, seen = recorder()
    with Client("http://orgauthz.test", "k", transport=transport) as c:
        assert c.allowed("u", "view", ("Dataset", "d"))
    assert seen == [f"orgauthz-client/{orgauthz_client.__version__} httpx/{httpx.__version__}"]


def test_the_callers_user_agent_wins_and_async_sends_one_too():
    transport, seen = recorder()
    mine = {"user-agent": "billing-service/3"}
    with Client("http://orgauthz.test", "k", headers=mine, transport=transport) as c:
        c.allowed("u", "view", ("Dataset", "d"))
    assert seen == ["billing-service/3"]

    async def once():
        async_transport = httpx.MockTransport(lambda r: httpx.Response(200, json=ANSWER))
        async with AsyncClient("http://orgauthz.test", "k", transport=async_transport) as c:
            return c._http.headers["user-agent"]

    assert asyncio.run(once()).startswith(f"orgauthz-client/{orgauthz_client.__version__}")


def test_the_version_is_written_once():
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert version("orgauthz-client") == orgauthz_client.__version__


def test_the_package_states_its_licence():
    from importlib.metadata import metadata

    assert metadata("orgauthz-client")["License-Expression"] == "LicenseRef-Proprietary"
