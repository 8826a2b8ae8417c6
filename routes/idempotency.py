"""``Idempotency-Key`` on management writes: a retry with the same key and the same request
answers the first answer again (status, body and its one-time tokens included); the same
key with another request is a 422.

A write sent with a key runs inside one outer transaction that also holds the key's row:

1. before the view: insert the key's row (unique per API key and Idempotency-Key). A second
   request with the same key waits on that insert until the first commits (PostgreSQL's
   unique index; SQLite's single writer), then finds the row and replays its answer;
2. the view runs as usual (its unit of work becomes a savepoint of the outer transaction);
3. after it: the answer is stored in the row, encrypted, and the whole commits at once,
   before the answer is sent (a failed commit answers 503 with ``Retry-After``). So a
   client that lost the answer of a committed write always gets it back, and a write whose
   answer was not stored was not committed either. A 5xx answer is not kept: it rolls back
   (on a connection already lost, the server did).

The row keeps an HMAC of the key (under the server's TOKEN_KEY), a hash of the request, and
the answer encrypted (Fernet) with a key derived from TOKEN_KEY and the Idempotency-Key,
neither of which the database holds: the tokens of an invitation answer cannot be read
from it, nor guessed keys tested against it. Rows older than ``TTL`` are purged. The row
also keeps keyed tags of the strings the request and its answer hold (``subjects``), so
erasing a user drops every answer that names them or any of their addresses.
"""

import datetime
import hashlib
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import peewee
from cryptography.fernet import Fernet, InvalidToken
from flask import Flask, Response, current_app, g, request

from access import derived
from access.errors import Conflict, Invalid
from models import IdempotentRequest, transaction
from routes.errors import DATABASE_FAILURES, database_unavailable, reset_connection

log = logging.getLogger("orgauthz.idempotency")

HEADER = "Idempotency-Key"
TTL = datetime.timedelta(hours=24)
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
KEPT_HEADERS = ("Content-Type", "Location", "Retry-After", "X-Consistency-Token")
_VALID = re.compile(r"^[\x20-\x7e]{1,255}$")


def _applies() -> bool:
    path = request.path
    return (
        request.method in WRITES
        and path.startswith("/v1/")
        and not path.startswith("/v1/authorize")
    )


def _digest(*parts: str | bytes) -> bytes:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(part.encode() if isinstance(part, str) else part)
        sha.update(b"\0")
    return sha.digest()


def _fernet(api_key: str, key: str) -> Fernet:
    # Keyed with the server's secret (TOKEN_KEY, access/derived.py) as well as the
    # Idempotency-Key: a copy of the database alone cannot test guessed keys and unseal.
    return Fernet(derived.derive("idempotency-seal", api_key, key) + "=")


def _now() -> datetime.datetime:
    return current_app.config["CLOCK"]()


def _begin() -> Response | None:
    key = request.headers.get(HEADER)
    if key is None or not _applies():
        return None
    if not _VALID.match(key):
        raise Invalid(
            f"{HEADER} must be 1 to 255 printable ASCII characters",
            {HEADER: ["1 to 255 printable ASCII characters"]},
        )
    api_key = g.api_key
    lookup = derived.derive("idempotency-lookup", api_key, key)
    fingerprint = _digest(
        request.method,
        request.full_path,
        request.headers.get("X-Actor-Id", ""),
        request.get_data(cache=True),
    ).hex()
    with transaction():  # its own short transaction: no lock held while the write runs
        IdempotentRequest.delete().where(IdempotentRequest.created_at < _now() - TTL).execute()
    outer = transaction()
    outer.__enter__()
    try:
        IdempotentRequest.insert(
            key_hash=lookup, request_hash=fingerprint, status=0, sealed="", created_at=_now()
        ).execute()
    except peewee.IntegrityError:
        outer.__exit__(peewee.IntegrityError, None, None)  # roll back: the key is taken
        return _replay(api_key, key, lookup, fingerprint)
    except BaseException as exc:
        outer.__exit__(type(exc), exc, None)
        raise
    g.idempotency = {"outer": outer, "lookup": lookup, "stored": False, "seal": (api_key, key)}
    return None


def _replay(api_key: str, key: str, lookup: str, fingerprint: str) -> Response:
    row = IdempotentRequest.get_or_none(IdempotentRequest.key_hash == lookup)
    if row is None or not row.sealed:  # rolled back meanwhile: ask again
        raise Conflict(
            f"a request with this {HEADER} did not finish; send it again", retryable=True
        )
    if row.request_hash != fingerprint:
        raise Invalid(
            f"this {HEADER} was used with another request; use a new key for a new request",
            {HEADER: ["used with another request"]},
        )
    try:
        kept = json.loads(_fernet(api_key, key).decrypt(row.sealed.encode()))
    except InvalidToken as exc:  # cannot happen with the same key; never a 500
        raise Conflict(f"the answer kept for this {HEADER} cannot be read") from exc
    response = Response(kept["body"], status=kept["status"], headers=kept["headers"])
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _store(response: Response) -> Response:
    state = g.get("idempotency")
    if state is None or response.status_code >= 500 or g.get("retryable_refusal"):
        return response  # not kept: the transaction rolls back, a retry runs again
    kept: dict[str, Any] = {
        "status": response.status_code,
        "headers": {h: response.headers[h] for h in KEPT_HEADERS if h in response.headers},
        "body": response.get_data(as_text=True),
    }
    sealed = _fernet(*state["seal"]).encrypt(json.dumps(kept).encode()).decode()
    g.pop("idempotency")  # finished here, whatever happens
    try:
        IdempotentRequest.update(
            status=response.status_code, sealed=sealed, subjects=_subjects(kept["body"])
        ).where(IdempotentRequest.key_hash == state["lookup"]).execute()
    except DATABASE_FAILURES as exc:
        _roll_back(state, exc)
        return database_unavailable(exc)
    state["stored"] = True
    try:
        # Committed here, not in the teardown: a commit that fails is answered (503, retry
        # with the key), never a 2xx for a write that is not there, nor a raw 500.
        state["outer"].__exit__(None, None, None)  # rolls back itself if the commit fails
    except DATABASE_FAILURES as exc:
        return database_unavailable(exc)
    return response


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _subjects(body: str) -> str:
    """Keyed tags of every string of the request (path segments, acting user, JSON body) and
    of its answer: an erasure drops the kept answers that name the user or any of their
    addresses (access/users.py) without unsealing them."""
    found = set(request.path.split("/"))
    found.add(request.headers.get("X-Actor-Id", ""))
    for document in (request.get_data(as_text=True), body):
        try:
            found.update(_strings(json.loads(document)))
        except (ValueError, RecursionError):  # not JSON, or nested past what is walked
            continue
    tags = {derived.subject_tag(s) for s in found if s.strip() and len(s) <= 320}
    return " " + " ".join(sorted(tags)) + " " if tags else ""


def _finish(exc: BaseException | None) -> None:
    state = g.pop("idempotency", None)  # still here: not kept (a 5xx, "try again", an error)
    if state is not None:
        _roll_back(state, exc or RuntimeError("the answer was not kept"))


def _roll_back(state: dict, error: BaseException) -> None:
    """Roll the write and its key's row back. A connection already lost (the server rolled
    back for us) is dropped, not raised: the answer is given already (teardown) or is
    the 503 that follows."""
    try:
        state["outer"].__exit__(type(error), error, None)
    except DATABASE_FAILURES as exc:
        log.warning("rolling back a keyed write failed (%s): dropping its connection", exc)
        reset_connection()


def init(app: Flask) -> None:
    """Install the hooks (after authentication, which names the API key)."""
    app.before_request(_begin)
    app.after_request(_store)
    app.teardown_request(_finish)
