"""A change's result, kept in the session until the page it belongs to shows it.

It may carry invitation tokens, which the service otherwise never stores, so it is
encrypted (Fernet) with a key derived from the server's TOKEN_KEY and the session id
(access/derived.py), as routes/idempotency.py seals its kept answers: the row has only the
id's hash, so the database alone cannot read it. Fernet's own timestamp (the app's clock)
says how long the tokens have waited.
"""

import datetime
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from flask import url_for
from flask.typing import ResponseReturnValue

from access import derived
from routes.console.base import HTML, bp, see_other, session
from routes.console.sessions import session_id
from routes.context import now
from routes.openapi import doc

TOKENS_KEPT = datetime.timedelta(minutes=30)  # invitation tokens wait this long at most


def _fernet() -> Fernet:
    return Fernet(derived.derive("console-result", session_id() or "") + "=")


def _stamp() -> int:
    """The app's clock (naive UTC) in seconds, as Fernet stamps a token."""
    return int(now().replace(tzinfo=datetime.UTC).timestamp())


def _seal(data: dict) -> str:
    return _fernet().encrypt_at_time(json.dumps(data).encode(), _stamp()).decode()


def _unseal(sealed: str) -> tuple[dict, int] | None:
    """The result and when it was sealed (``_stamp``); None when it is not one of this
    session's."""
    fernet = _fernet()
    try:
        token = sealed.encode()
        when = fernet.extract_timestamp(token)
        data = json.loads(fernet.decrypt(token))
    except (InvalidToken, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    return data, when


def keep_result(org_id: str, result: dict) -> None:
    """Keep ``result`` for the next page of the organization ``org_id`` ("" for none)."""
    found = session()
    found.set(flash=_seal({**result, "org": org_id, "actor": found.actor}))


def take_result(org_id: str) -> dict[str, Any] | None:
    """The result waiting for this organization's page. Shown once, then forgotten; but
    invitation tokens stay (a reload shows them again, and sends nothing again) until the
    person hides them, makes another change or logs out, or TOKENS_KEPT has passed: a
    reload never loses a token that was shown only on that page."""
    found = session()
    if not found.flash:
        return None
    opened = _unseal(found.flash)
    if opened is None:
        found.set(flash=None)
        return None
    result, sealed_at = opened
    if result.get("org") != org_id or result.get("actor", found.actor) != found.actor:
        return None  # another organization's, or acting user's: it waits for that page
    if result.get("tokens"):
        if _stamp() < sealed_at + TOKENS_KEPT.total_seconds():
            return {**result, "kept": True}
        found.set(flash=None)
        return None
    found.set(flash=None)
    return result


@bp.post("/orgs/<org_id>/tokens/hide")
@doc(status=303, content_types=HTML)
def hide_tokens(org_id: str) -> ResponseReturnValue:
    """Forget the invitation tokens waiting in the session (they were sent)."""
    found = session()
    if found.flash:
        opened = _unseal(found.flash)
        if opened is None or opened[0].get("org") == org_id:
            found.set(flash=None)
    return see_other(url_for("console.org", org_id=org_id) + "#invite")
