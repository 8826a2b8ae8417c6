"""The client sends a check's request context (docs/API.md 1.3, "Request context") on every
check call, and a bad one comes back as ``Invalid`` naming the field (fail closed for
``allowed``)."""

import pytest
from orgauthz_client import AsyncClient, Check, Invalid, ResourceRef

ORG = ("Organization", "org-pix4d")
OFFICE = {"ip": "203.0.113.7"}


def test_every_check_call_takes_a_context(client):
    assert client.authorize("pix4d-owner", "edit_details", ORG, context=OFFICE).allowed is True
    assert client.allowed("pix4d-owner", "edit_details", ORG, context=OFFICE) is True
    assert "edit_details" in client.allowed_actions("pix4d-owner", ORG, context=OFFICE).actions
    result = client.authorize_batch(
        [
            ("pix4d-owner", "edit_details", ORG, OFFICE),
            Check("pix4d-manager", "edit_details", ResourceRef(*ORG), context=OFFICE),
            {"actor": "pix4d-owner", "action": "view", "resource": ORG, "context": OFFICE},
        ]
    )
    assert [d.allowed for d in result.results] == [True, False, True]


def test_a_bad_context_is_invalid_naming_the_field(client):
    with pytest.raises(Invalid) as raised:
        client.authorize("pix4d-owner", "edit_details", ORG, context={"ip": "nowhere"})
    assert raised.value.errors == {"context.ip": ["an IPv4 or IPv6 address"]}
    with pytest.raises(Invalid) as raised:
        client.allowed_actions("pix4d-owner", ORG, context={"time": "now"})
    assert raised.value.errors == {"context.time": ["Unknown field."]}
    with pytest.raises(Invalid) as raised:
        client.authorize_batch(
            [("pix4d-owner", "view", ORG), ("pix4d-owner", "view", ORG, {"ip": 1})]
        )
    assert raised.value.errors == {"checks.1.context.ip": ["an IPv4 or IPv6 address"]}
    assert client.allowed("pix4d-owner", "view", ORG, context={"ip": "nowhere"}) is False


def test_the_async_client_sends_it_too(live):
    import asyncio

    async def run():
        async with AsyncClient(live.url, live.key, timeout=10) as c:
            return (await c.authorize("pix4d-owner", "edit_details", ORG, context=OFFICE)).allowed

    assert asyncio.run(run()) is True
