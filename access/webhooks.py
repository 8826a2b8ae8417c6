"""Webhooks: endpoints an API key registers to get events pushed, signed, retried.

Registering answers the endpoint's signing secret once; it is derived from the deployment's
key and a nonce (access/derived.py), so no column holds it. A new endpoint gets the events
committed after it was registered.

The worker (access/worker.py) does two steps:

- ``dispatch`` turns the events after each endpoint's ``cursor`` into ``Delivery`` rows (only
  events up to the committed head, in position order; see access/events.py), and moves the
  cursor: nothing is skipped, and a unique (endpoint, event) index makes a second worker's
  dispatch harmless.
- ``deliver_due`` sends each endpoint its deliveries **in event order**, one endpoint held by
  one worker at a time (a lease on the endpoint): the oldest undelivered one goes first, and
  until it gets a 2xx (or runs out of tries and is ``failed``) the later ones wait. A failure
  is retried after 10 s, 20 s, 40 s... (``WEBHOOK_RETRY_BASE_SECONDS``, at most
  ``RETRY_MAX_SECONDS``), up to ``WEBHOOK_MAX_ATTEMPTS`` tries. ``replay`` (``flask webhooks
  replay``) sends a delivery again.

A delivery is ``POST <url>`` of one event as JSON, signed as Standard Webhooks define it:
``webhook-id`` (the event id: the same on every retry and replay, so a receiver deduplicates
on it), ``webhook-timestamp`` (Unix seconds) and ``webhook-signature: v1,<base64 HMAC-SHA256
of "<id>.<timestamp>.<body>">`` keyed with the 32 bytes that the endpoint's
``signing_secret`` (``whsec_<base64>``) encodes. Registering answers it beside ``secret``:
the same 32 bytes in URL-safe base64 without padding, whose UTF-8 text (``whsec_`` included)
keys the deprecated ``X-Orgauthz-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>">``,
still sent, with ``X-Orgauthz-Event-Id``, ``-Event-Type``, ``-Delivery-Id`` and
``-Timestamp``, for a deprecation period. Redirects are not followed. A receiver checks the
signature and that the timestamp is recent (five minutes).

A webhook hears of the organizations of its API key (access/keys.py: every one for a
service-wide key, the key's own for a scoped one), narrowed to its ``orgs`` when it names
some; events of no organization (a user's own) reach service-wide keys' webhooks only. The
key's scope is read again at each dispatch and before each delivery, so a scope narrowed
later, or a revoked key, stops what was queued (a delivery outside it is ``failed``).

URLs must be http(s). Unless ``WEBHOOK_ALLOW_PRIVATE`` is set, the host must resolve to
globally routable addresses only (``ipaddress``'s ``is_global``, and not multicast), every one
it resolves to; an IPv6 address that carries an IPv4 one (IPv4-mapped, 6to4, Teredo, NAT64's
64:ff9b::/96) is refused when the IPv4 one is not global, and the local-use NAT64 prefix and
IPv4-compatible addresses always. It is checked when registering and again at every
delivery, and a delivery connects only to the addresses that check resolved (``post``: no
second lookup, so a name re-pointed in between, DNS rebinding, cannot reach inside either),
never through a proxy; a refused delivery is logged and recorded as a failed attempt, and no
connection is made.
"""

import base64
import datetime
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from access import derived, events, keys, shapes
from access.errors import Invalid, NotFound
from access.mail import backoff
from access.shapes import Given
from models import Delivery, Event, Organization, Webhook, transaction
from ops import tracing

log = logging.getLogger("orgauthz.webhooks")
LOG_KEPT = 10  # attempts kept in each delivery's log
# What sends one delivery: (url, addresses checked, body, headers, timeout) -> HTTP status
# (``post``).
Poster = Callable[[str, list, bytes, dict, float], int]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass
class Settings:
    allow_private: bool = False
    max_attempts: int = 8
    retry_base_seconds: float = 10.0
    retry_max_seconds: float = 3600.0
    timeout_seconds: float = 10.0
    lease_seconds: float = 300.0


SETTINGS = Settings()


def configure(config: Mapping[str, Any]) -> Settings:
    global SETTINGS
    allow = config.get("WEBHOOK_ALLOW_PRIVATE")
    if isinstance(allow, str):
        allow = allow.strip().lower() in ("1", "true", "yes", "on")
    SETTINGS = Settings(
        allow_private=bool(allow),
        max_attempts=int(config.get("WEBHOOK_MAX_ATTEMPTS") or Settings.max_attempts),
        retry_base_seconds=float(
            config.get("WEBHOOK_RETRY_BASE_SECONDS") or Settings.retry_base_seconds
        ),
        retry_max_seconds=float(config.get("RETRY_MAX_SECONDS") or Settings.retry_max_seconds),
        timeout_seconds=float(config.get("WEBHOOK_TIMEOUT_SECONDS") or Settings.timeout_seconds),
        lease_seconds=float(config.get("OUTBOX_LEASE_SECONDS") or Settings.lease_seconds),
    )
    return SETTINGS


# ---------------------------------------------------------------- URLs
def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` resolves to for TCP, each once, in the resolver's order (the
    tests put a stub here). Raises OSError when it does not resolve."""
    found: list[IPAddress] = []
    for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP):
        # An IPv4 or IPv6 address (TCP): the socket address starts with its text.
        address = ipaddress.ip_address(cast(str, info[4][0]).split("%")[0])
        if address not in found:
            found.append(address)
    return found


# NAT64's well-known prefix carries an IPv4 address in its last 32 bits (RFC 6052); the
# local-use prefix (RFC 8215) and the deprecated IPv4-compatible form (::a.b.c.d) are
# refused whatever they carry.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NEVER = (ipaddress.IPv6Network("64:ff9b:1::/48"), ipaddress.IPv6Network("::/96"))


def embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (IPv4-mapped, 6to4, Teredo's server and
    client, NAT64); [] for an IPv4 address or one that carries none."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def not_global(address: IPAddress) -> str | None:
    """Why a webhook may not reach ``address``; None when it is globally routable."""
    if (
        not address.is_global
        or address.is_multicast
        or (isinstance(address, ipaddress.IPv6Address) and any(address in n for n in _NEVER))
    ):
        return f"{address}, which is not a globally routable address"
    for inner in embedded_ipv4(address):
        if not inner.is_global or inner.is_multicast:
            return f"{address}, which carries {inner}, not a globally routable address"
    return None


def vetted(host: str, port: int) -> tuple[list[IPAddress], str | None]:
    """(the addresses ``host`` resolves to, why it must not be called or None): every
    address must be globally routable unless ``WEBHOOK_ALLOW_PRIVATE`` is set."""
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError, ValueError) as exc:
        return [], f"does not resolve: {exc}"
    if not addresses:
        return [], "does not resolve"
    if not SETTINGS.allow_private:
        for address in addresses:
            why = not_global(address)
            if why:
                return addresses, f"resolves to {why}"
    return addresses, None


def check_url(url: str) -> None:
    """Raises Invalid naming ``url`` unless it is one a delivery may go to."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("the url must be http:// or https:// with a host", {"url": ["invalid"]})
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise Invalid(f"the url's port: {exc}", {"url": ["invalid port"]}) from exc
    if not SETTINGS.allow_private:
        _, reason = vetted(parts.hostname, port)
        if reason:
            raise Invalid(
                f"the url's host {reason} (set WEBHOOK_ALLOW_PRIVATE for local receivers)",
                {"url": [reason]},
            )


# ---------------------------------------------------------------- the API
def as_dict(hook: Webhook) -> dict:
    """An endpoint (access/shapes.py, ``WebhookOut``)."""
    return shapes.WEBHOOK.answer(hook)


def delivery_id(row: Delivery) -> str:
    return f"dlv_{row.id}"


def delivery_dict(row: Delivery) -> dict:
    """A delivery (access/shapes.py, ``DeliveryOut``)."""
    return shapes.DELIVERY.answer(
        Given(
            row,
            id=delivery_id(row),
            event_id=events.event_id(row.event),
            next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
        )
    )


def create(
    api_key: str,
    url: str,
    types: list,
    now: datetime.datetime,
    orgs: list | None = None,
    scope: keys.Scope = None,
) -> dict:
    """Register an endpoint for ``api_key`` (whose organizations are ``scope``; None:
    every one), for the events of ``orgs`` (empty: all it may see); answers it with its
    ``secret`` (only now). Raises Invalid (url, types, orgs: an org that does not
    exist or is outside the key's scope, in the same words)."""
    unknown = [t for t in types if t not in events.EVENT_TYPES]
    if unknown:
        raise Invalid(
            f"no event types {', '.join(unknown)}",
            {"types": [f"one of: {', '.join(events.EVENT_TYPES)}"]},
        )
    orgs = sorted(set(orgs or ()))
    found = Organization.existing(orgs)
    missing = [o for o in orgs if o not in found or keys.outside(scope, o)]
    if missing:
        raise Invalid(
            f"no organization {', '.join(repr(o) for o in missing)}",
            {"orgs": [f"no organization {o!r}" for o in missing]},
        )
    check_url(url)
    nonce = derived.nonce()
    hook_id = f"wh_{uuid.uuid4().hex[:20]}"
    with transaction():
        hook = Webhook.create(
            id=hook_id,
            api_key=api_key,
            url=url,
            types=sorted(set(types)),
            orgs=orgs,
            nonce=nonce,
            cursor=events.head(),
            created_at=now,
        )
    log.info("webhook %s registered by %s", hook_id, api_key)
    secret = derived.webhook_secret(hook_id, nonce)
    return shapes.WEBHOOK_CREATED.answer(
        Given(hook, secret=secret, signing_secret=signing_secret(secret))
    )


def _own(api_key: str, hook_id: str) -> Webhook:
    hook = Webhook.owned(api_key, hook_id)
    if hook is None:
        raise NotFound(f"no webhook {hook_id!r} for this API key")
    return hook


def list_page(api_key: str, limit: int, after: str | None) -> dict:
    """The endpoints of ``api_key``, by id."""
    found = Webhook.page_of(api_key, limit, after)
    return {"items": [as_dict(r) for r in found.rows], "next": found.next}


def delete(api_key: str, hook_id: str, now: datetime.datetime) -> None:
    """Stop an endpoint: nothing more is sent to it. Raises NotFound."""
    with transaction():
        hook = _own(api_key, hook_id)
        Webhook.stop(hook.id, now)


def deliveries_page(
    api_key: str, hook_id: str, limit: int, after: int | None, status: str | None
) -> dict:
    """An endpoint's delivery log, newest first, after the delivery ``after``."""
    hook = _own(api_key, hook_id)
    found = Delivery.page_of(hook.id, status, limit, after)
    return {"items": [delivery_dict(r) for r in found.rows], "next": found.next}


# ---------------------------------------------------------------- the worker's steps
def hears(hook: Webhook, scopes: dict | None = None) -> keys.Scope:
    """The organizations whose events ``hook`` gets now (None: every event): its key's
    scope (read now; ``scopes`` remembers it per key for one pass), narrowed to its
    ``orgs``."""
    scopes = {} if scopes is None else scopes
    if hook.api_key not in scopes:
        scopes[hook.api_key] = keys.webhook_scope(hook.api_key)
    scope = scopes[hook.api_key]
    if hook.orgs:
        return frozenset(hook.orgs) if scope is None else frozenset(hook.orgs) & scope
    return scope


def dispatch(now: datetime.datetime, batch: int = 500) -> int:
    """Turn the events after each live endpoint's cursor into deliveries (those of the
    organizations it hears of, ``hears``). Returns how many deliveries were made."""
    top = events.head()
    made = 0
    scopes: dict = {}
    for hook in Webhook.behind(top):
        orgs = hears(hook, scopes)
        with transaction():
            rows = Event.between(hook.cursor, top, batch)
            if not rows:
                continue
            wanted = set(hook.types or [])
            new = [
                {
                    "webhook": hook.id,
                    "event": r.position,
                    "event_type": r.type,
                    "status": "pending",
                    "next_attempt_at": now,
                    "created_at": now,
                    "log": [],
                }
                for r in rows
                if (not wanted or r.type in wanted) and (orgs is None or r.org in orgs)
            ]
            if new:
                Delivery.add(new)
                made += len(new)
            Webhook.advance(hook.id, rows[-1].position if len(rows) == batch else top)
    return made


def _lease(hook_id: str, owner: str, now: datetime.datetime) -> bool:
    """Hold the endpoint for ``owner`` (one worker sends to it at a time)."""
    until = now + datetime.timedelta(seconds=SETTINGS.lease_seconds)
    with transaction():
        return Webhook.lease(hook_id, owner, now, until)


def _release(hook_id: str, owner: str) -> None:
    with transaction():
        Webhook.release(hook_id, owner)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`` keyed with the text of ``secret``
    (``X-Orgauthz-Signature``, deprecated)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def signing_key(secret: str) -> bytes:
    """The 32 bytes an endpoint's ``secret`` (``whsec_`` and URL-safe base64 without
    padding, access/derived.py) encodes: the Standard Webhooks key."""
    text = secret.removeprefix("whsec_")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signing_secret(secret: str) -> str:
    """``secret`` as Standard Webhooks write a secret: ``whsec_`` and the standard base64 of
    its key, which their libraries decode (they do not read URL-safe base64)."""
    return "whsec_" + base64.b64encode(signing_key(secret)).decode()


def sign_standard(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    """Standard Webhooks' ``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`` keyed with
    ``signing_key(secret)`` (``webhook-signature``)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    mac = hmac.new(signing_key(secret), signed, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def open_connection(addresses: list[IPAddress], port: int, timeout: float) -> socket.socket:
    """A TCP connection to the first of ``addresses`` that answers. Raises OSError."""
    last: OSError = OSError("no address to connect to")
    for address in addresses:
        try:
            return socket.create_connection((str(address), port), timeout)
        except OSError as exc:
            last = exc
    raise last


class _Pinned(http.client.HTTPConnection):
    """HTTP(S) to ``host`` over a connection to one of ``addresses`` (those checked), not to
    what the name resolves to now; TLS checks the certificate against ``host``."""

    def __init__(
        self, host: str, port: int, timeout: float, addresses: list[IPAddress], tls: bool
    ) -> None:
        super().__init__(host, port, timeout=timeout)
        self.addresses, self.tls = addresses, tls
        self.default_port = 443 if tls else 80  # the Host header names other ports

    def connect(self) -> None:
        sock = open_connection(self.addresses, self.port, cast(float, self.timeout))
        if self.tls:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        self.sock = sock


def post(url: str, addresses: list[IPAddress], body: bytes, headers: dict, timeout: float) -> int:
    """POST ``body`` to ``url`` over a connection to one of ``addresses``, and return the
    status (an error's or a redirect's too: a redirect is never followed). No proxy, no
    second lookup. Raises OSError on a failed connection."""
    parts = urllib.parse.urlsplit(url)
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = _Pinned(parts.hostname or "", port, timeout, addresses, tls)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(65536)
        return response.status
    except http.client.HTTPException as exc:
        raise OSError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        connection.close()


OUT_OF_SCOPE = "not sent: the event is outside the organizations this webhook hears of"


def _attempt(
    hook: Webhook, row: Delivery, now: datetime.datetime, poster: Poster, orgs: keys.Scope = None
) -> tuple:
    """Send one delivery: (status or None, error or None). ``orgs``: what the endpoint
    hears of now (``hears``); an event outside it is not sent (``OUT_OF_SCOPE``)."""
    event = Event.at(row.event)
    if event is None:
        return None, "the event no longer exists"
    if orgs is not None and event.org not in orgs:
        return None, OUT_OF_SCOPE
    # Resolved and checked now, and sent only to what this check saw (DNS rebinding).
    parts = urllib.parse.urlsplit(hook.url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses, reason = vetted(parts.hostname or "", port)
    if reason:
        log.warning("webhook %s: %s not sent: the host %s", hook.id, delivery_id(row), reason)
        return None, f"refused: the host {reason}"
    body = json.dumps(events.as_dict(event), sort_keys=True, separators=(",", ":")).encode()
    timestamp = str(int(now.replace(tzinfo=datetime.UTC).timestamp()))
    secret = derived.webhook_secret(hook.id, hook.nonce)
    event_id = events.event_id(event.position)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "orgauthz-webhooks/1",
        # Standard Webhooks: the id is the event's, the same on every retry and replay.
        "webhook-id": event_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": sign_standard(secret, event_id, timestamp, body),
        "X-Orgauthz-Event-Id": event_id,
        "X-Orgauthz-Event-Type": event.type,
        "X-Orgauthz-Delivery-Id": delivery_id(row),
        "X-Orgauthz-Timestamp": timestamp,
        "X-Orgauthz-Signature": sign(secret, timestamp, body),  # deprecated
    }
    try:  # a span when tracing, its traceparent in the headers (ops/tracing.py)
        with tracing.delivery(event.position, headers, event.request_id) as span:
            status = poster(hook.url, addresses, body, headers, SETTINGS.timeout_seconds)
            span.set_attribute("http.response.status_code", status)
            return status, None
    except (OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]


def _record(
    row: Delivery, now: datetime.datetime, status: int | None, error: str | None, millis: int
) -> bool:
    """Write an attempt's outcome. Returns whether it was delivered."""
    ok = status is not None and 200 <= status < 300
    attempts = row.attempts + 1
    entry = {"at": shapes.iso(now), "status": status, "error": error, "ms": millis}
    fields = {
        "attempts": attempts,
        "last_status": status,
        "last_error": error if not ok else None,
        "log": ((row.log or []) + [entry])[-LOG_KEPT:],
    }
    if ok:
        fields.update(status="delivered", delivered_at=now)
    elif attempts >= SETTINGS.max_attempts:
        fields.update(status="failed")
    else:
        fields.update(
            next_attempt_at=now
            + backoff(attempts, SETTINGS.retry_base_seconds, SETTINGS.retry_max_seconds)
        )
    with transaction():
        Delivery.change(row.id, **fields)
    return ok


def deliver_due(
    owner: str, now: datetime.datetime, poster: Poster | None = None, per_endpoint: int = 50
) -> dict:
    """Send each endpoint its due deliveries in event order (see the module docstring).
    Returns counts ``{"delivered", "retry", "failed"}``."""
    poster = poster or post
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    for hook_id in Delivery.due_endpoints(now):
        if not _lease(hook_id, owner, now):
            continue
        try:
            _deliver_to(Webhook.get_by_id(hook_id), now, poster, per_endpoint, counts)
        finally:
            _release(hook_id, owner)
    return counts


def _deliver_to(
    hook: Webhook, now: datetime.datetime, poster: Poster, per_endpoint: int, counts: dict
) -> None:
    """Send the leased endpoint its due deliveries in event order, adding to ``counts``."""
    orgs = hears(hook)
    for _ in range(per_endpoint):
        head = Delivery.oldest_pending(hook.id)
        if head is None or head.next_attempt_at > now:
            break  # the oldest waits for its retry, and the later ones behind it
        started = time.monotonic()
        status, error = _attempt(hook, head, now, poster, orgs)
        if error == OUT_OF_SCOPE:  # never sent, never retried: the next may go
            with transaction():
                Delivery.change(head.id, status="failed", last_error=error)
            counts["failed"] += 1
            continue
        millis = int((time.monotonic() - started) * 1000)
        if _record(head, now, status, error, millis):
            counts["delivered"] += 1
            continue
        if head.attempts + 1 >= SETTINGS.max_attempts:
            counts["failed"] += 1
            log.error("webhook %s: delivery %s failed for good", hook.id, head.id)
            continue  # given up: the next one may go
        counts["retry"] += 1
        break


def replay(delivery: str, now: datetime.datetime) -> dict:
    """Send a delivery again (``dlv_12`` or ``12``): pending, due now, tries counted anew.
    It goes before the endpoint's later deliveries. Raises NotFound."""
    text = delivery.removeprefix("dlv_")
    row = Delivery.find(int(text)) if text.isdigit() else None
    if row is None:
        raise NotFound(f"no delivery {delivery!r}")
    with transaction():
        Delivery.change(
            row.id, status="pending", attempts=0, next_attempt_at=now, delivered_at=None
        )
    return delivery_dict(Delivery.get_by_id(row.id))
