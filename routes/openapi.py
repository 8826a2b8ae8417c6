"""The OpenAPI 3.1 document, generated from the Marshmallow schemas and the routes, and the
interactive docs at /docs (Swagger UI from the openapi-ui-bundles package: nothing is
fetched from the internet).

A view declares what it takes and gives with ``@doc(request=..., response=...)``; every
route of the app appears, with its path parameters, the problem responses every operation
can give, and bearer authentication on /v1.
"""

import copy
import re
from collections.abc import Callable
from typing import Any, TypeVar

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, Response, current_app, send_from_directory
from flask.typing import ResponseReturnValue
from marshmallow import Schema, fields
from openapi_ui_bundles import swagger_ui
from werkzeug.routing import Rule

bp = Blueprint("openapi", __name__)
F = TypeVar("F", bound=Callable[..., Any])

ERRORS = {
    "400": "Malformed JSON",
    "401": "No valid API key",
    "403": "Forbidden by the policy",
    "404": "Unknown id",
    "409": "Conflicts with the current state",
    "410": "Gone",
    "413": "Body over the limit",
    "422": "Invalid fields",
    "429": "Rate limited",
    "503": "Database unavailable (a deny)",
}


class Problem(Schema):
    """RFC 9457 problem details."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    allowed = fields.Boolean(metadata={"description": "false, on decision endpoints"})


def doc(
    request: Any = None,
    response: Any = None,
    status: int = 200,
    query: Any = None,
    content_types: list[str] | None = None,
) -> Callable[[F], F]:
    """Declare a view's request and response schemas (classes or instances) for OpenAPI."""

    def mark(view: F) -> F:
        view.__openapi__ = {  # type: ignore[attr-defined]
            "request": request,
            "response": response,
            "status": status,
            "query": query,
            "content_types": content_types,
        }
        return view

    return mark


def _path(rule: str) -> tuple:
    params = re.findall(r"<(?:[^:<>]+:)?([^<>]+)>", rule)
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule), params


def build_spec(app: Flask) -> dict:
    """The whole OpenAPI document of ``app``."""
    spec = APISpec(
        title="orgauthz",
        version="1",
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Policy-as-code authorization: may this actor do this "
            "action on this resource?"
        },
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Problem", schema=Problem)
    errors = {
        code: {
            "description": text,
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
        for code, text in ERRORS.items()
    }
    paths: dict = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith("/docs/"):
            continue
        path, params = _path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op = _operation(app, rule, method, path, params, errors)
            paths.setdefault(path, {})[method.lower()] = op
    for path, ops in sorted(paths.items()):
        spec.path(path=path, operations=ops)
    holder = app.extensions.get("orgauthz.policy")
    kinds = holder.current.context_kinds if holder is not None else {}
    return _request_context(_consistency_tokens(spec.to_dict()), kinds)


def _operation(app: Flask, rule: Rule, method: str, path: str, params: list, errors: dict) -> dict:
    """One operation of the document: a rule's view with one method."""
    view = app.view_functions[rule.endpoint]
    meta = getattr(view, "__openapi__", {})
    summary = (view.__doc__ or rule.endpoint).strip().splitlines()[0]
    op: dict[str, Any] = {
        "summary": summary,
        "operationId": f"{rule.endpoint}.{method.lower()}",
        "tags": [rule.endpoint.split(".")[0]],
    }
    parameters: list[dict] = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for p in params
    ]
    if meta.get("query"):
        parameters.append({"in": "query", "schema": meta["query"]})
    if path.startswith("/v1/") and not path.startswith("/v1/invitations/accept"):
        parameters.append(
            {"name": "X-Actor-Id", "in": "header", "required": False, "schema": {"type": "string"}}
        )
    if parameters:
        op["parameters"] = parameters
    if meta.get("request") is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": meta["request"]}},
        }
    body_schema = meta.get("response") or {"type": "object"}
    ok = {
        "description": "OK",
        "content": {
            ct: {"schema": body_schema if ct == "application/json" else {"type": "string"}}
            for ct in (meta.get("content_types") or ["application/json"])
        },
    }
    op["responses"] = {str(meta.get("status") or 200): ok, **errors}
    if method == "PUT" and (meta.get("status") or 200) == 200:  # creates (201) or replaces
        op["responses"]["201"] = {**ok, "description": "Created"}
    if method == "DELETE" and not meta:
        op["responses"]["204"] = {"description": "Done"}
    if path.startswith("/v1/"):
        op["security"] = [{"bearer": []}]
    return op


WRITES = ("post", "put", "patch", "delete")
TOKEN = {"type": "string", "description": "the change position the write committed at"}


def _consistency_tokens(document: dict) -> dict:
    """Every successful management write answers ``X-Consistency-Token`` and, in a JSON
    object body, ``consistency_token`` (docs/API.md, version 1.1; routes/__init__.py)."""
    schemas = document.get("components", {}).get("schemas", {})
    for path, ops in document["paths"].items():
        if not path.startswith("/v1/") or path.startswith("/v1/authorize"):
            continue
        for method, op in ops.items():
            if method not in WRITES:
                continue
            for status, answer in op["responses"].items():
                if not status.startswith("2"):
                    continue
                answer.setdefault("headers", {})["X-Consistency-Token"] = {"schema": TOKEN}
                content = answer.get("content", {}).get("application/json")
                ref = (content or {}).get("schema", {}).get("$ref", "").rsplit("/", 1)[-1]
                if ref in schemas and "properties" in schemas[ref]:
                    # A copy, so reads of the same object do not document the token.
                    written = copy.deepcopy(schemas[ref])
                    written["properties"]["consistency_token"] = TOKEN
                    content["schema"] = written
    return document


# A check's ``context`` (docs/API.md 1.3, "Request context"): the attributes the live
# policy declares, each of its kind (routes/schemas/context.py loads them so).
CONTEXT_KINDS: dict[str, dict[str, Any]] = {
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer"},
    "string": {"type": "string", "minLength": 1, "maxLength": 200},
    "ip": {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]},
}
CONTEXT_SCHEMAS = ("AuthorizeRequest", "ActionsRequest")


def _request_context(document: dict, kinds: dict) -> dict:
    """The ``context`` of a check described as the live policy's declarations allow it:
    the schema ``RequestContext`` (no other property), referenced by the checks' bodies."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["RequestContext"] = {
        "type": "object",
        "description": "version 1.3: the request context the policy may read; each property "
        "a context attribute some style declares (context_attribute(Type, name, kind)); "
        "an unknown or ill-typed one is a 422 naming context.<name>",
        "properties": {name: dict(CONTEXT_KINDS[kind]) for name, kind in sorted(kinds.items())},
        "additionalProperties": False,
    }
    for name in CONTEXT_SCHEMAS:
        props = schemas.get(name, {}).get("properties", {})
        if "context" in props:
            props["context"] = {"$ref": "#/components/schemas/RequestContext"}
    return document


@bp.get("/openapi.json")
def openapi_json() -> ResponseReturnValue:
    """The OpenAPI 3.1 document (built again when the policy version changes: what a
    check's ``context`` may hold is the policy's)."""
    holder = current_app.extensions.get("orgauthz.policy")
    version = holder.current.version if holder is not None else ""
    cached = current_app.extensions.get("openapi")
    if cached is None or cached[0] != version:
        cached = current_app.extensions["openapi"] = (version, build_spec(current_app))
    return cached[1]


DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>orgauthz API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>"""

DOCS_INIT = """window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui",
  deepLinking: true, persistAuthorization: true});"""


@bp.get("/docs")
@doc(content_types=["text/html"])
def docs() -> ResponseReturnValue:
    """Interactive API docs (Swagger UI, served from a PyPI package)."""
    return Response(DOCS_PAGE, content_type="text/html; charset=utf-8")


@bp.get("/docs/init.js")
def docs_init() -> ResponseReturnValue:
    """Starts Swagger UI on /openapi.json (a file, so the page needs no inline script)."""
    return Response(DOCS_INIT, content_type="text/javascript; charset=utf-8")


@bp.get("/docs/static/<path:name>")
def docs_static(name: str) -> ResponseReturnValue:
    """Swagger UI's files, from the openapi-ui-bundles package."""
    return send_from_directory(swagger_ui.static_path, name, max_age=3600)
