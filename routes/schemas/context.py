"""A check's ``context`` (docs/API.md 1.3, "Request context"): the attributes of the request
the policy reads, each of the kind a style declares with ``context_attribute(Type, name,
kind)``. The request schemas take ``context`` as a bounded JSON object
(``AuthorizeRequest``, ``ActionsRequest``); this schema, built from the live policy's
declarations, then loads it: a name no style declares is "Unknown field.", a value of
another kind names the kind it must be (a 422 naming ``context.<name>``)."""

import functools
from typing import Any

from marshmallow import Schema, ValidationError, fields

from authz.engine import context_value


class ContextValue(fields.Field):
    """One context attribute of ``kind`` (string, boolean, integer, ip), as a rule sees it
    (an ip in its canonical text)."""

    def __init__(self, kind: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kind = kind

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        try:
            return context_value(self.kind, value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


@functools.lru_cache(maxsize=16)
def _schema(kinds: tuple[tuple[str, str], ...]) -> Schema:
    shape: dict = {name: ContextValue(kind) for name, kind in kinds}
    return Schema.from_dict(shape, name="RequestContext")()


def context_errors(exc: ValidationError, field: str) -> dict[str, list]:
    """``load_context``'s refusal as errors naming ``<field>.<name>`` (the names are
    storable text: ``JSONObject`` refused any other before)."""
    messages = exc.messages if isinstance(exc.messages, dict) else {"_": exc.messages}
    return {f"{field}.{name}": list(texts) for name, texts in messages.items()}


def load_context(kinds: dict[str, str], value: dict) -> dict:
    """``value`` (a check's ``context``) loaded against ``kinds`` (name -> kind, every
    style's declarations: ``PolicySet.context_kinds``). Raises ValidationError, its
    messages by attribute name."""
    if not value:
        return {}
    return _schema(tuple(sorted(kinds.items()))).load(value)
