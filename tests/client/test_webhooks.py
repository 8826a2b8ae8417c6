"""The client's verify_webhook against the standardwebhooks library, both ways: what the
library signs it accepts, and on every case (tampered, late, early, another key, another
version, several signatures) it decides as the library does."""

import base64
import datetime
import hashlib
import hmac
import json

import pytest
from orgauthz_client import Event, InvalidWebhook, verify_webhook
from orgauthz_client.webhooks import signing_key
from standardwebhooks import Webhook, WebhookVerificationError

KEY = bytes(range(224, 256))  # its base64 has "+" and "/", its URL-safe one "-" and "_"
SIGNING_SECRET = "whsec_" + base64.b64encode(KEY).decode()  # the form registration answers
OLD_SECRET = "whsec_" + base64.urlsafe_b64encode(KEY).decode().rstrip("=")  # ``secret``
EVENT = {
    "id": "evt_00000000000000000042",
    "type": "member.removed",
    "time": "2026-11-23T12:00:00Z",
    "org": "org-a",
    "actor": "olga",
    "subject": {"kind": "user", "id": "pete"},
    "before": {"role": "reader"},
    "after": None,
}
BODY = json.dumps(EVENT, separators=(",", ":")).encode()


def signed(at: datetime.datetime, key: str = SIGNING_SECRET, body: bytes = BODY) -> dict:
    """The headers the library makes for ``body`` sent at ``at``."""
    signature = Webhook(key).sign(EVENT["id"], at, body.decode())
    return {
        "webhook-id": EVENT["id"],
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def library_accepts(body: bytes, headers: dict) -> bool:
    try:
        Webhook(SIGNING_SECRET).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


def client_accepts(body: bytes, headers: dict) -> bool:
    try:
        verify_webhook(SIGNING_SECRET, body, headers)
    except InvalidWebhook:
        return False
    return True


def cases() -> list:
    """(name, body, headers, whether a receiver must accept it)."""
    good = signed(now())
    other = signed(now(), key="whsec_" + base64.b64encode(b"x" * 32).decode())
    valid, other_sig = good["webhook-signature"], other["webhook-signature"]
    later = str(int(good["webhook-timestamp"]) + 1)
    minutes = datetime.timedelta(minutes=10)

    def without(name):
        return {k: v for k, v in good.items() if k != name}

    return [
        ("as signed", BODY, good, True),
        ("header names in another case", BODY, {k.title(): v for k, v in good.items()}, True),
        ("two signatures", BODY, {**good, "webhook-signature": f"{other_sig} {valid}"}, True),
        ("a body changed", BODY.replace(b"reader", b"owner"), good, False),
        ("another webhook-id", BODY, {**good, "webhook-id": "evt_1"}, False),
        ("another version first", BODY, {**good, "webhook-signature": f"v2,x {valid}"}, True),
        ("another timestamp", BODY, {**good, "webhook-timestamp": later}, False),
        ("another key", BODY, other, False),
        ("ten minutes old", BODY, signed(now() - minutes), False),
        ("ten minutes early", BODY, signed(now() + minutes), False),
        ("another version", BODY, {**good, "webhook-signature": "v2," + valid[3:]}, False),
        ("no signature", BODY, without("webhook-signature"), False),
        ("no id", BODY, without("webhook-id"), False),
    ]


@pytest.mark.parametrize("index", range(len(cases())), ids=[c[0] for c in cases()])
def test_verify_webhook_decides_as_the_standardwebhooks_library(index):
    name, body, headers, accept = cases()[index]
    assert library_accepts(body, headers) is accept, name
    assert client_accepts(body, headers) is accept, name


def test_it_returns_the_event_and_takes_either_form_of_an_endpoints_secret():
    headers = signed(now())
    for secret in (SIGNING_SECRET, OLD_SECRET, KEY):
        event = verify_webhook(secret, BODY, headers)
        assert isinstance(event, Event) and event.id == EVENT["id"]
        assert event.subject == {"kind": "user", "id": "pete"}
    assert verify_webhook(SIGNING_SECRET, BODY.decode(), headers).type == "member.removed"


def test_the_library_accepts_a_signature_made_as_the_client_checks_it():
    """The other way: a signature computed per the spec with the key the client derives from
    the old-form secret verifies with the library given the signing_secret."""
    at = str(int(now().timestamp()))
    mac = hmac.new(signing_key(OLD_SECRET), f"{EVENT['id']}.{at}.".encode() + BODY, hashlib.sha256)
    headers = {
        "webhook-id": EVENT["id"],
        "webhook-timestamp": at,
        "webhook-signature": "v1," + base64.b64encode(mac.digest()).decode(),
    }
    assert Webhook(SIGNING_SECRET).verify(BODY, headers) == EVENT
    assert verify_webhook(SIGNING_SECRET, BODY, headers).id == EVENT["id"]


def test_the_tolerance_and_a_bad_secret():
    late = signed(now() - datetime.timedelta(minutes=10))
    with pytest.raises(InvalidWebhook, match="too old"):
        verify_webhook(SIGNING_SECRET, BODY, late)
    assert verify_webhook(SIGNING_SECRET, BODY, late, tolerance=3600).id == EVENT["id"]
    fixed = int(late["webhook-timestamp"]) + 5
    assert verify_webhook(SIGNING_SECRET, BODY, late, now=fixed).id == EVENT["id"]
    for bad in ("whsec_", "whsec_not base64!", ""):
        with pytest.raises(ValueError):
            verify_webhook(bad, BODY, signed(now()))
