"""Invitation mail: queued in the outbox in the invitation's transaction, sent afterwards.

``queue_invitation`` writes an ``OutboxMail`` row in the caller's unit of work: the
recipient, what the template shows (organization, inviter, role, expiry) and a nonce, never
the token. The token is derived from the deployment's key and the nonce (access/derived.py),
so the row is useless without the key, and the nonce is dropped when the mail is sent or
dropped: afterwards no column, with or without the key, yields the token.

``send_due`` is the sender (the worker thread of access/worker.py, or ``flask outbox
send``). It claims due rows with a lease (``SELECT ... FOR UPDATE SKIP LOCKED`` on
PostgreSQL; SQLite's write lock serialises claims), renders each mail, hands it to the
transport, and marks it sent. A sender that dies after the commit of the invitation and
before the mail is handed over leaves the row pending or leased; once the lease runs out
another sender takes it, and the mail goes out once. The narrow window left, between the
SMTP server's acceptance and the commit of "sent", can send a mail twice; it carries the
same Message-ID both times, so the receiving side can tell. Failures are retried with
exponential backoff up to ``MAIL_MAX_ATTEMPTS`` (a crash counts as an attempt), then the
row is ``failed``.

Before sending, the invitation is read again: a mail whose invitation was cancelled,
accepted, expired or resent (a new token) is dropped, not sent.

Transports (``MAIL_URL``): ``file:///folder`` writes one ``.eml`` per mail (the default,
``instance/mail``, for ``make run``); ``smtp://user:password@host:port`` (plain, then
STARTTLS when the server offers it), ``smtps://...`` (TLS from the start); ``off`` sends
nothing and queues nothing (the caller mails the token from the answer itself).
"""

import datetime
import email.parser
import email.policy
import email.utils
import logging
import os
import re
import smtplib
import ssl
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import jinja2

from access import derived
from access.events import role_label
from models import Invitation, OutboxMail, create_later, hash_secret, transaction

log = logging.getLogger("orgauthz.mail")
TEMPLATES = Path(__file__).resolve().parent / "templates" / "mail"


@dataclass
class Settings:
    url: str = "off"
    sender: str = "orgauthz <no-reply@localhost>"
    accept_url: str = "http://localhost:8000/invitations/accept?token={token}"
    max_attempts: int = 8
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0
    lease_seconds: float = 300.0
    timeout_seconds: float = 30.0


SETTINGS = Settings()


def configure(config: Mapping[str, Any], instance_path: str) -> Settings:
    """Read the mail settings from the app's config (defaults for what it lacks)."""
    global SETTINGS
    SETTINGS = Settings(
        url=str(config.get("MAIL_URL") or f"file://{Path(instance_path) / 'mail'}"),
        sender=str(config.get("MAIL_FROM") or Settings.sender),
        accept_url=str(config.get("INVITATION_ACCEPT_URL") or Settings.accept_url),
        max_attempts=int(config.get("MAIL_MAX_ATTEMPTS") or Settings.max_attempts),
        retry_base_seconds=float(
            config.get("MAIL_RETRY_BASE_SECONDS") or Settings.retry_base_seconds
        ),
        retry_max_seconds=float(config.get("RETRY_MAX_SECONDS") or Settings.retry_max_seconds),
        lease_seconds=float(config.get("OUTBOX_LEASE_SECONDS") or Settings.lease_seconds),
        timeout_seconds=float(config.get("MAIL_TIMEOUT_SECONDS") or Settings.timeout_seconds),
    )
    transport(SETTINGS.url)  # a URL that does not parse stops startup
    sender_address()  # nor does a MAIL_FROM that is not one address
    return SETTINGS


def mailing() -> bool:
    """Whether invitations are mailed (``MAIL_URL`` is not ``off``)."""
    return SETTINGS.url != "off"


# ---------------------------------------------------------------- queueing (in a unit of work)
def new_token(invitation_id: str) -> tuple:
    """(token, nonce) for an invitation: derived from a fresh nonce when mailing, else a
    random token and no nonce."""
    if not mailing():
        import secrets

        return secrets.token_urlsafe(32), None
    nonce = derived.nonce()
    return derived.invitation_token(invitation_id, nonce), nonce


def queue_invitation(
    inv: Invitation, nonce: str | None, data: dict, now: datetime.datetime, new: bool = False
) -> None:
    """Queue the mail of ``inv`` in the caller's transaction (nothing when not mailing).
    Earlier mails of the same invitation still waiting are dropped: their token is dead
    (``new``: an invitation created in this transaction has none; nothing to drop)."""
    if not new:
        drop_pending(inv.id, "superseded by a newer mail")
    if nonce is None:
        return
    create_later(  # with the unit's next round trip: nothing reads it back
        OutboxMail,
        invitation_id=inv.id,
        recipient=inv.email,
        template="invitation",
        style=data["style"],
        data=data,
        nonce=nonce,
        status="pending",
        next_attempt_at=now,
        created_at=now,
    )


def drop_pending(invitation_id: str, reason: str) -> None:
    """Drop the mails of an invitation that are still waiting (their nonce with them)."""
    OutboxMail.drop_pending(invitation_id, reason)


# Mails that carry no token (issue 28: a request to join approved or declined), by template:
# each renders ``<template>.txt``, ``.html`` and ``<template>_subject.txt`` of the style.
NOTICES = frozenset({"join_request_decided"})


def queue_notice(recipient: str, template: str, data: dict, now: datetime.datetime) -> None:
    """Queue a mail with no token in the caller's transaction (nothing when not mailing):
    sent by the same sender, with the same retries, as an invitation's."""
    if template not in NOTICES:
        raise ValueError(f"no notice template {template!r}")
    if not mailing():
        return
    OutboxMail.create(
        recipient=recipient,
        template=template,
        style=data["style"],
        data=data,
        status="pending",
        next_attempt_at=now,
        created_at=now,
    )


# ---------------------------------------------------------------- rendering
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


def in_words(delta: datetime.timedelta) -> str:
    """A duration as a person says it: ``15 days``, ``48 hours``, ``20 minutes``."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds >= 3 * 86400:
        n, unit = round(seconds / 86400), "day"
    elif seconds >= 2 * 3600:
        n, unit = round(seconds / 3600), "hour"
    else:
        n, unit = max(1, round(seconds / 60)), "minute"
    return f"{n} {unit}{'' if n == 1 else 's'}"


def accept_link(token: str) -> str:
    """The accept link of ``INVITATION_ACCEPT_URL``: its ``{token}`` replaced, or the token
    added as the ``token`` query parameter."""
    base = SETTINGS.accept_url
    quoted = urllib.parse.quote(token, safe="")
    if "{token}" in base:
        return base.replace("{token}", quoted)
    return f"{base}{'&' if '?' in base else '?'}token={quoted}"


def _template(style: str, name: str) -> jinja2.Template:
    try:
        return _env.get_template(f"{style}/{name}")
    except jinja2.TemplateNotFound:
        return _env.get_template(f"default/{name}")


# ---------------------------------------------------------------- headers
# A header is built from parts, never from text a caller chose: names go through
# ``header_text`` and addresses through ``Address``, and the built message is parsed back
# before it is handed over. The email package decodes encoded words (``=?utf-8?q?...?=``) in
# a header value it is given, and on Pythons without the fix for CVE-2024-6923 (before
# 3.11.10 and 3.12.5) it writes what they decode to, CR LF included, into the header
# block: an organization named ``Acme =?utf-8?q?=0D=0AReply-To:_...?=`` would add a
# Reply-To. Names holding a line break, or an encoded word that decodes to a control
# character, are refused at the API (``header_unsafe``); names stored before are
# neutralised here.
# The characters str.splitlines() breaks a line at (the email package refuses a header
# value holding one of them) and the other C0 and C1 controls; a tab is blank space.
_LINE_BREAK = re.compile("[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_DECODE_ROUNDS = 4  # encoded words within encoded words: no name needs more


def _decoded(text: str) -> str:
    """``text`` as the email package reads a header value: encoded words decoded."""
    return str(email.policy.default.header_factory("subject", text))


def header_unsafe(text: str) -> bool:
    """Whether ``text`` holds a line break, or an encoded word that decodes (at any depth)
    to a control character: a name that must not reach a mail header."""
    if _LINE_BREAK.search(text):
        return True
    seen = text
    for _ in range(_DECODE_ROUNDS):
        if "=?" not in seen:
            return False
        try:
            decoded = _decoded(seen)
        except Exception:  # noqa: BLE001 - what the email package cannot read is not shown
            return True
        if _CONTROL.search(decoded):
            return True
        if decoded == seen:
            return False
        seen = decoded
    return True


def one_line(text: str) -> str:
    """``text`` with every control character and run of blank space made one space."""
    return " ".join(_CONTROL.sub(" ", text).split())


def header_text(text: str) -> str:
    """``text`` as a header may show it: encoded words decoded, controls and line breaks
    made spaces, until reading it as a header changes nothing more."""
    for _ in range(_DECODE_ROUNDS):
        plain = one_line(text)
        if "=?" in plain:
            plain = one_line(_decoded(plain))
        if plain == text:
            return text
        text = plain
    return text.replace("=?", "= ?")  # still decoding: no encoded word is left to read


def sender_address() -> Address:
    """``MAIL_FROM`` as an address. Raises ValueError when it is not one."""
    name, addr = email.utils.parseaddr(SETTINGS.sender)
    if not addr or "@" not in addr:
        raise ValueError(f"MAIL_FROM: not an address: {SETTINGS.sender!r}")
    return Address(display_name=header_text(name), addr_spec=addr)


def _check_headers(message: EmailMessage) -> None:
    """Parse the bytes ``message`` makes and compare their headers with those it was
    built with. Raises ValueError when they differ (the mail is not sent): on a Python
    without the fix for CVE-2024-6923 this is what stands between a name and a header."""
    parsed = email.parser.BytesParser(policy=email.policy.default).parsebytes(
        bytes(message), headersonly=True
    )
    if [k.lower() for k in parsed.keys()] != [k.lower() for k in message.keys()]:
        raise ValueError(
            f"the mail's headers do not read back as built: {parsed.keys()} "
            f"instead of {message.keys()}"
        )


def render(mail: OutboxMail, token: str, now: datetime.datetime) -> EmailMessage:
    """The message of ``mail`` with ``token`` in its accept link: text and HTML parts.
    Raises ValueError when a header cannot be built safely."""
    # What a caller named (organization, inviter) shows on one line, in the body too.
    data = {k: one_line(v) if isinstance(v, str) else v for k, v in dict(mail.data).items()}
    expires_at = datetime.datetime.fromisoformat(data["expires_at"].rstrip("Z"))
    values = {
        **data,
        "role_label": role_label(data["role"]),
        "accept_url": accept_link(token),
        "expires_in": in_words(expires_at - now),
        "expires_on": expires_at.strftime("%-d %B %Y, %H:%M UTC"),
    }
    message = EmailMessage(policy=email.policy.default)
    message["Subject"] = header_text(_template(mail.style, "subject.txt").render(values))
    sender = sender_address()
    message["From"] = sender
    message["To"] = Address(addr_spec=mail.recipient)
    message["Date"] = email.utils.format_datetime(now.replace(tzinfo=datetime.UTC))
    domain = sender.domain or "localhost"
    message["Message-ID"] = f"<invitation-{mail.id}.{mail.invitation_id}@{domain}>"
    message.set_content(_template(mail.style, "invitation.txt").render(values))
    message.add_alternative(_template(mail.style, "invitation.html").render(values), subtype="html")
    _check_headers(message)
    return message


def render_notice(mail: OutboxMail) -> EmailMessage:
    """The message of a notice (``NOTICES``): text and HTML parts, no token. Raises
    ValueError when a header cannot be built safely."""
    data = {k: one_line(v) if isinstance(v, str) else v for k, v in dict(mail.data).items()}
    values = {**data, "role_label": role_label(data.get("role"))}
    message = EmailMessage(policy=email.policy.default)
    subject = _template(mail.style, f"{mail.template}_subject.txt").render(values)
    message["Subject"] = header_text(subject)
    sender = sender_address()
    message["From"] = sender
    message["To"] = Address(addr_spec=mail.recipient)
    message["Date"] = email.utils.format_datetime(mail.created_at.replace(tzinfo=datetime.UTC))
    message["Message-ID"] = f"<{mail.template}-{mail.id}@{sender.domain or 'localhost'}>"
    message.set_content(_template(mail.style, f"{mail.template}.txt").render(values))
    html = _template(mail.style, f"{mail.template}.html").render(values)
    message.add_alternative(html, subtype="html")
    _check_headers(message)
    return message


# ---------------------------------------------------------------- transports
class FileTransport:
    """Writes each mail as ``<folder>/<mail id>-<invitation id>.eml`` (the same name when
    sent again, so a retry replaces it)."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def send(self, mail: OutboxMail, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{mail.id:08d}-{mail.invitation_id or mail.template}.eml"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(bytes(message))
        os.replace(tmp, path)


class SmtpTransport:
    """``smtp://[user:password@]host[:port]`` (STARTTLS when offered) or ``smtps://``."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urllib.parse.urlsplit(url)
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.tls else 25)
        self.user = urllib.parse.unquote(parts.username) if parts.username else None
        self.password = urllib.parse.unquote(parts.password) if parts.password else None
        self.timeout = timeout

    def send(self, mail: OutboxMail, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if self.tls:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            if not self.tls:
                client.ehlo()
                if client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
            if self.user:
                client.login(self.user, self.password or "")
            client.send_message(message)


Transport = FileTransport | SmtpTransport


def transport(url: str) -> Transport | None:
    """The transport named by ``url``. Raises ValueError for a scheme it does not know."""
    scheme = urllib.parse.urlsplit(url).scheme
    if url == "off":
        return None
    if scheme == "file":
        return FileTransport(urllib.parse.unquote(urllib.parse.urlsplit(url).path))
    if scheme in ("smtp", "smtps"):
        return SmtpTransport(url, SETTINGS.timeout_seconds)
    raise ValueError(f"MAIL_URL: not file://, smtp://, smtps:// or off: {url!r}")


# ---------------------------------------------------------------- sending
def backoff(attempts: int, base: float, most: float) -> datetime.timedelta:
    """The wait before the next try after ``attempts`` tries: base, 2 base, 4 base..."""
    return datetime.timedelta(seconds=min(most, base * 2 ** max(0, attempts - 1)))


def claim(owner: str, now: datetime.datetime, limit: int = 20) -> list:
    """Lease up to ``limit`` due mails to ``owner`` (one attempt each); returns their ids."""
    if not OutboxMail.any_due(now):
        return []  # nothing to do: no write transaction
    with transaction():
        lease = now + datetime.timedelta(seconds=SETTINGS.lease_seconds)
        return OutboxMail.claim(owner, now, lease, limit)


def _finish(mail_id: int, owner: str, **fields: Any) -> None:
    with transaction():
        OutboxMail.finish(mail_id, owner, **fields)


def _why_not(mail: OutboxMail, token: str, now: datetime.datetime) -> str | None:
    """Why the mail must not go out any more, or None."""
    inv = Invitation.find(mail.invitation_id)
    if inv is None:
        return "the invitation no longer exists"
    status = inv.status_at(now)
    if status != "pending":
        return f"the invitation is {status}"
    if inv.token_hash != hash_secret(token):
        return "the invitation has a newer token (resent), or TOKEN_KEY changed"
    return None


def send_due(
    owner: str, now: datetime.datetime, sender: Transport | None = None, limit: int = 20
) -> dict:
    """Send the due mails once: claim, check, render, hand over, record. Returns counts
    ``{"sent", "dropped", "retry", "failed"}``. Never raises for one mail's failure."""
    counts = {"sent": 0, "dropped": 0, "retry": 0, "failed": 0}
    if not mailing():
        return counts
    sender = sender or transport(SETTINGS.url)
    assert sender is not None  # mailing: MAIL_URL is not off, so transport() made one
    for mail_id in claim(owner, now, limit):
        mail = OutboxMail.find(mail_id)
        if mail is None or mail.lease_owner != owner:
            continue
        if mail.template in NOTICES:
            token = None
        elif mail.nonce is None:
            continue
        else:  # an invitation's: every one names its invitation (queue_invitation sets it)
            token = derived.invitation_token(cast(str, mail.invitation_id), mail.nonce)
            reason = _why_not(mail, token, now)
            if reason is not None:
                _finish(mail_id, owner, status="dropped", nonce=None, last_error=reason)
                counts["dropped"] += 1
                continue
        try:
            message = render_notice(mail) if token is None else render(mail, token, now)
            sender.send(mail, message)
        except Exception as exc:  # noqa: BLE001 - any failure of one mail is retried
            error = f"{type(exc).__name__}: {exc}"[:500]
            if mail.attempts >= SETTINGS.max_attempts:
                _finish(mail_id, owner, status="failed", nonce=None, last_error=error)
                counts["failed"] += 1
                log.error("mail %s failed for good: %s", mail_id, error)
            else:
                wait = backoff(
                    mail.attempts, SETTINGS.retry_base_seconds, SETTINGS.retry_max_seconds
                )
                _finish(mail_id, owner, next_attempt_at=now + wait, last_error=error)
                counts["retry"] += 1
                log.warning("mail %s: %s; retry in %s", mail_id, error, wait)
            continue
        _finish(
            mail_id,
            owner,
            status="sent",
            nonce=None,
            sent_at=now,
            message_id=message["Message-ID"],
            last_error=None,
        )
        counts["sent"] += 1
    return counts
