"""Secrets derived from the deployment's key instead of stored: invitation tokens (from a
nonce kept only until the mail is sent), webhook signing secrets, and the pseudonyms of
erased users.

The key is ``TOKEN_KEY`` (``ORGAUTHZ_TOKEN_KEY``); without one, the first process makes a
random key in ``instance/token.key`` (mode 0600) and every later one reads it. A copy of the
database alone therefore holds no working token and no webhook secret. Changing the key
changes every webhook's secret (register them again) and leaves mails still waiting with a
token that no longer matches their invitation (they are dropped: resend the invitation).
"""

import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

_KEY: bytes | None = None


def configure(key: str | None, instance_path: str) -> None:
    """Set the key: ``key`` when given, else the one in ``instance/token.key`` (made once)."""
    global _KEY
    if key:
        _KEY = hashlib.sha256(key.encode()).digest()
        return
    path = Path(instance_path) / "token.key"
    deadline = time.monotonic() + 5
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            text = path.read_text().strip()
            if text or time.monotonic() > deadline:  # another process is writing it
                break
            time.sleep(0.05)
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        text = path.read_text().strip()
        break
    if not text:
        raise RuntimeError(f"{path} is empty: delete it or set ORGAUTHZ_TOKEN_KEY")
    _KEY = hashlib.sha256(text.encode()).digest()


def key() -> bytes:
    if _KEY is None:
        raise RuntimeError("access.derived.configure was not called (create_app does it)")
    return _KEY


def derive(purpose: str, *parts: str) -> str:
    """An unguessable URL-safe string for ``purpose`` and ``parts`` (HMAC-SHA256 of the key),
    43 characters."""
    message = "\x00".join((purpose, *parts)).encode()
    digest = hmac.new(key(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def nonce() -> str:
    """A fresh random nonce (stored; alone it reveals nothing)."""
    return secrets.token_hex(16)


def invitation_token(invitation_id: str, nonce_: str) -> str:
    return derive("invitation-token", invitation_id, nonce_)


def webhook_secret(webhook_id: str, nonce_: str) -> str:
    return "whsec_" + derive("webhook-secret", webhook_id, nonce_)


def pseudonym(user_id: str) -> str:
    """The same stable pseudonym for a user id wherever it is replaced; without the key it
    cannot be traced back by hashing candidate ids."""
    return "erased-" + hashlib.sha256(derive("pseudonym", user_id).encode()).hexdigest()[:16]


def subject_tag(value: str) -> str:
    """A keyed tag of a string (case-insensitive) that a kept answer names: an erasure finds
    the answers naming a user by their tags without unsealing them, and the tags alone
    cannot be traced back by hashing candidate ids or addresses (32 hex characters)."""
    message = b"subject\x00" + value.strip().lower().encode()
    return hmac.new(key(), message, hashlib.sha256).hexdigest()[:32]
