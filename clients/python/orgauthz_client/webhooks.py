"""Verify a webhook delivery of orgauthz as Standard Webhooks define it, with the standard
library only (``hmac``, ``base64``): no dependency beyond the client's own.

A delivery carries ``webhook-id`` (the event id: the same on every retry, so deduplicate on
it), ``webhook-timestamp`` (Unix seconds) and ``webhook-signature`` (space-separated
``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``), keyed with the bytes that the
endpoint's secret ``whsec_<base64>`` encodes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from .errors import OrgauthzError
from .types import Event


class InvalidWebhook(OrgauthzError):
    """A delivery that does not verify (a header missing, a timestamp outside the tolerance,
    no matching signature): answer it 400 and do not act on it."""


def signing_key(secret: str | bytes) -> bytes:
    """The HMAC key of a secret: the bytes after ``whsec_``, base64-decoded. Takes the
    standard alphabet (``signing_secret``, as every Standard Webhooks library does) and the
    URL-safe one without padding (an endpoint's ``secret``: the same bytes); bytes are the key
    itself. Raises ValueError for anything else."""
    if isinstance(secret, bytes):
        key = secret
    else:
        text = secret.strip().removeprefix("whsec_")
        text = text.replace("-", "+").replace("_", "/")
        try:
            key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("a webhook secret is whsec_ and base64") from exc
    if not key:
        raise ValueError("a webhook secret may not be empty")
    return key


def verify_webhook(
    secret: str | bytes,
    body: bytes | str,
    headers: Mapping[str, str],
    tolerance: float = 300,
    *,
    now: float | None = None,
) -> Event:
    """The event of a delivery whose Standard Webhooks signature verifies: ``body`` as
    received (bytes, before any JSON parsing), ``headers`` any mapping (names in any case:
    Flask's ``request.headers``, a dict). ``tolerance``: how many seconds the timestamp may
    be away from ``now`` (default: this machine's clock). Raises :class:`InvalidWebhook`."""
    data = body.encode() if isinstance(body, str) else bytes(body)
    found = {name.lower(): value for name, value in headers.items()}
    message_id = found.get("webhook-id")
    timestamp = found.get("webhook-timestamp")
    signatures = found.get("webhook-signature")
    if not (message_id and timestamp and signatures):
        raise InvalidWebhook("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise InvalidWebhook("webhook-timestamp is not Unix seconds") from None
    clock = time.time() if now is None else now
    if sent_at < clock - tolerance:
        raise InvalidWebhook("webhook-timestamp is too old")
    if sent_at > clock + tolerance:
        raise InvalidWebhook("webhook-timestamp is too new")
    signed = f"{message_id}.{timestamp}.".encode() + data
    expected = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    for entry in signatures.split():
        version, _, signature = entry.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(given, expected):
            event: Any = json.loads(data)
            return Event.from_json(event)
    raise InvalidWebhook("no webhook-signature matches")
