"""The field shapes every request schema is built from (routes/schemas/inputs.py, and
AuthZEN's in routes/authzen.py), each defined once.

Every string a request schema takes is a ``Text`` (or ``EmailText``), every free-form
object a ``JSONObject``: none may hold a NUL character (PostgreSQL refuses it in text) or a
lone surrogate (no database can encode it), so such input is a 422 naming the field, never
a database error. Every length limit fits the column the value is stored in
(tests/routes/test_limits.py reads both).
"""

import json
import re
from typing import Any

from marshmallow import fields, validate

from access.decisions import new_decision_id as new_id
from access.mail import header_unsafe

# NUL, and the UTF-16 surrogate range: a str holds one only when it came unpaired
# (JSON's "\ud800"); a paired one was already decoded to its code point.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


UNSTORABLE = "must not contain NUL (U+0000) or an unpaired surrogate (U+D800-U+DFFF)"


def storable(text: str) -> bool:
    """Whether every database can store ``text``."""
    return _UNSTORABLE.search(text) is None


class Text(fields.String):
    """A string any database can store: no NUL, no lone surrogate (422 naming the field)."""

    default_error_messages = {"unstorable": UNSTORABLE}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not storable(text):
            raise self.make_error("unstorable")
        return text


class EmailText(Text, fields.Email):
    """An email address that is also ``Text``."""


class MailName(Text):
    """A name that may reach a mail header (an organization's, a user's): ``Text`` with no
    line break and no encoded word (``=?...?=``) that decodes to a control character (422
    naming the field; access/mail.py)."""

    default_error_messages = {
        "header_unsafe": "must not contain a line break (CR, LF) or an encoded word "
        "(=?...?=) that decodes to a control character: it is shown in mail headers"
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if header_unsafe(text):
            raise self.make_error("header_unsafe")
        return text


class JSONObject(fields.Dict):
    """A JSON object stored or shown as given (attributes, legal, billing): string keys, and
    no key or string anywhere inside holds NUL or a lone surrogate."""

    default_error_messages = {
        "unstorable": f"no key or string in it {UNSTORABLE}",
        "too_large": "at most {max_bytes} bytes as JSON",
    }
    # An object is kept with its resource and may be shown to the policy: bounded, so that
    # what callers send cannot grow a worker's caches (a decision's view keeps only the
    # attributes its policy reads; the fact cache keeps stored resources whole).
    MAX_BYTES = 4096

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(keys=fields.String(), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        obj = super()._deserialize(value, attr, data, **kwargs)
        if (
            len(json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass"))
            > self.MAX_BYTES
        ):
            raise self.make_error("too_large", max_bytes=self.MAX_BYTES)
        stack = [obj]
        while stack:  # iteratively: load() already refused bodies nested past MAX_DEPTH
            item = stack.pop()
            if isinstance(item, str):
                if not storable(item):
                    raise self.make_error("unstorable")
            elif isinstance(item, dict):
                stack.extend(item.keys())
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
        return obj


# Each limit is the length of the column the value lands in (models/): ids of users and
# resources 200, organization ids and resource types 64, roles 64, emails 320.
ID = validate.Length(min=1, max=200)


NAME = validate.Length(min=1, max=100)  # actions: never stored


ROLE = validate.Length(min=1, max=64)


TYPE = validate.Length(min=1, max=64)


ORG_ID = validate.Length(min=1, max=64)


EMAIL = validate.Length(max=320)


# X-Request-Id: kept when it fits audit_event.request_id and is visible ASCII, else replaced.
REQUEST_ID_MAX = 100


_REQUEST_ID = re.compile(f"[\x21-\x7e]{{1,{REQUEST_ID_MAX}}}")


def request_id(header: str | None) -> str:
    """The request id: the caller's ``X-Request-Id`` when it is 1 to 100 visible ASCII
    characters, else a generated one (never an error: the id is for correlating logs).
    Generated ids are a per-process random prefix and a counter (32 hex digits, as a uuid4
    was): ``os.urandom`` costs tens of microseconds per call on some VMs."""
    if header:
        header = header.strip()
        if _REQUEST_ID.fullmatch(header):
            return header
    return new_id()


def kind(**options: Any) -> Text:
    """A type name: a resource's, or an AuthZEN subject's (``TYPE``)."""
    return Text(validate=TYPE, **options)


def identifier(**options: Any) -> Text:
    """The id of a user or of a resource (``ID``)."""
    return Text(validate=ID, **options)


def action_name(**options: Any) -> Text:
    """An action's name (``NAME``; never stored)."""
    return Text(validate=NAME, **options)


def org_id(**options: Any) -> Text:
    """An organization's id (``ORG_ID``)."""
    return Text(validate=ORG_ID, **options)


def role(**options: Any) -> Text:
    """A role's name (``ROLE``)."""
    return Text(validate=ROLE, **options)
