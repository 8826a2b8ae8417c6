"""API key scopes: ``/v1/keys/{name}/orgs``. HTTP only: parse, call access/keys.py, dump.

Only a service-wide key manages scopes (a key bound to organizations gets a 403); no
``X-Actor-Id`` is needed. Keys themselves are made and revoked with ``flask keys``.
"""

from flask import Blueprint
from flask.typing import ResponseReturnValue

from access import keys
from routes.context import load, service_wide
from routes.openapi import doc
from routes.schemas import KeyScopeOut, KeyScopeRequest

bp = Blueprint("keys", __name__, url_prefix="/v1/keys")


@bp.get("/<name>/orgs")
@doc(response=KeyScopeOut)
def get_scope(name: str) -> ResponseReturnValue:
    """The organizations the active key ``name`` is bound to (``service_wide``: every
    one). 403 (a scoped caller), 404 (no active key of that name)."""
    service_wide("read key scopes")
    return keys.scope_of(name)


@bp.put("/<name>/orgs")
@doc(request=KeyScopeRequest, response=KeyScopeOut)
def put_scope(name: str) -> ResponseReturnValue:
    """Bind the active key ``name`` to ``orgs`` (each must exist; ``[]``: to none), or make
    it service-wide (``null``). Its next request uses the new scope. 403 (a scoped caller),
    404, 422 (an unknown org)."""
    service_wide("change key scopes")
    body = load(KeyScopeRequest)
    return keys.set_scope(name, body["orgs"])
