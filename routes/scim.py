"""SCIM 2.0 service provider (RFC 7643/7644) of one organization: ``/scim/v2``. HTTP only:
authenticate the directory's token, parse the query, call access/scim_users.py, answer
``application/scim+json``.

The bearer token is a directory token (``flask scim token ORG --as USER``), not an API key:
it names the organization, so no path or body does. Every error is a SCIM Error (RFC 7644
section 3.12): ``{"schemas": [...Error], "status": "409", "scimType": "uniqueness",
"detail": ...}``; a change the policy refuses is a 403 whose detail is the policy's reason.
"""

import json
from typing import Any

import click
from flask import Blueprint, Response, current_app, g, request, url_for
from flask.typing import ResponseReturnValue
from pydantic import ValidationError
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    ETag,
    Filter,
    InvalidSyntaxException,
    InvalidValueException,
    Patch,
    ResourceType,
    ResponseParameters,
    SCIMException,
    SearchRequest,
    ServiceProviderConfig,
    Sort,
)
from scim2_models import Context as ScimContext
from werkzeug.exceptions import HTTPException

from access import scim, scim_groups, scim_users
from access.context import Context
from access.errors import DomainError, Unauthenticated
from models import db
from routes.context import MAX_DEPTH, depth, policy
from routes.errors import status_of

SCIM_JSON = "application/scim+json"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"

bp = Blueprint("scim", __name__, url_prefix="/scim/v2")

CONFIG = ServiceProviderConfig(
    documentation_uri=None,
    patch=Patch(supported=True),
    bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
    filter=Filter(supported=True, max_results=scim_users.MAX_COUNT),
    change_password=ChangePassword(supported=False),
    sort=Sort(supported=False),
    etag=ETag(supported=True),
    authentication_schemes=[
        AuthenticationScheme(
            type=AuthenticationScheme.Type.oauthbearertoken,
            name="Directory token",
            description="Authorization: Bearer <the organization's directory token>",
            primary=True,
        )
    ],
)
TYPES = {  # resource type name -> (its ResourceType, its Schema)
    "User": (ResourceType.from_resource(scim_users.DirectoryUser), scim_users.SCHEMA),
    "Group": (ResourceType.from_resource(scim_groups.DirectoryGroup), scim_groups.SCHEMA),
}
SCHEMAS = {str(schema.id): schema for _, schema in TYPES.values()}


def _answer(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    response = Response(json.dumps(body), status=status, content_type=SCIM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def scim_error(status: int, detail: str, scim_type: str | None = None) -> Response:
    """A SCIM Error document (RFC 7644 section 3.12)."""
    body = {"schemas": [ERROR], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    headers = {"WWW-Authenticate": 'Bearer realm="scim"'} if status == 401 else None
    return _answer(body, status, headers)


@bp.errorhandler(SCIMException)
def _scim_exception(exc: SCIMException) -> Response:
    return scim_error(exc.status, exc.detail, exc.scim_type or None)


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError) -> Response:
    status = status_of(exc)
    if status == 422:  # the core's Invalid: a value SCIM calls invalidValue
        return scim_error(400, exc.detail, "invalidValue")
    scim_type = "uniqueness" if status == 409 else None
    return scim_error(status, exc.detail, scim_type)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    return scim_error(exc.code or 500, exc.description or exc.name)


@bp.before_request
def _authenticate() -> None:
    if request.endpoint == "scim.not_found" and not request.headers.get("Authorization"):
        return  # an unknown path is a 404 for anyone
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthenticated("send Authorization: Bearer <the directory token>")
    g.directory = scim.authenticate(token.strip())
    g.api_key = g.directory.key_name


def _directory() -> scim.Directory:
    return g.directory


def _ctx() -> Context:
    d = _directory()
    return Context(
        policy=policy(),
        clock=current_app.config["CLOCK"],
        actor=d.acting_user,
        request_id=g.get("request_id"),
        api_key=d.key_name,
        orgs=frozenset([d.org_id]),
    )


def _body() -> Any:
    try:
        data = json.loads(request.get_data(cache=False) or b"null")
    except (ValueError, RecursionError):
        raise InvalidSyntaxException(detail="the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidSyntaxException(detail="the body must be a JSON object")
    if depth(data) > MAX_DEPTH:
        raise InvalidSyntaxException(detail=f"the body nests deeper than {MAX_DEPTH} levels")
    return data


def _location(scim_id: str) -> str:
    return url_for("scim.user", scim_id=scim_id, _external=True)


def _params(attributes: Any, excluded: Any) -> ResponseParameters | None:
    if not attributes and not excluded:
        return None
    try:
        return ResponseParameters[scim_users.DirectoryUser].model_validate(
            {"attributes": attributes or None, "excludedAttributes": excluded or None}
        )
    except ValidationError as exc:
        raise InvalidValueException(detail=f"attributes: {exc.errors()[0]['msg']}") from None


def _int(name: str, default: int) -> int:
    text = request.args.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise InvalidValueException(detail=f"{name}: not an integer: {text!r}") from None


def _user_answer(body: dict, status: int = 200) -> Response:
    headers = {"ETag": body["meta"]["version"]} if "meta" in body else {}
    if status == 201:
        headers["Location"] = body["meta"]["location"]
    return _answer(body, status, headers)


# ---------------------------------------------------------------- discovery
def _only_get() -> None:
    if request.method != "GET":
        raise _MethodNotAllowed()


class _MethodNotAllowed(SCIMException):
    status = 405
    _default_detail = "this endpoint only answers GET"


@bp.route("/ServiceProviderConfig", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def service_provider_config() -> ResponseReturnValue:
    """What this service supports: PATCH, filters, ETags; no bulk, sort or password."""
    _only_get()
    body = CONFIG.model_dump(scim_ctx=ScimContext.RESOURCE_QUERY_RESPONSE)
    body["meta"] = {"resourceType": "ServiceProviderConfig", "location": request.base_url}
    return _answer(body)


def _resource_type(name: str) -> dict:
    body = TYPES[name][0].model_dump(scim_ctx=ScimContext.RESOURCE_QUERY_RESPONSE)
    location = url_for("scim.resource_type", name=name, _external=True)
    body["meta"] = {"resourceType": "ResourceType", "location": location}
    return body


def _schema(schema_id: str) -> dict:
    body = SCHEMAS[schema_id].model_dump(scim_ctx=ScimContext.RESOURCE_QUERY_RESPONSE)
    location = url_for("scim.schema", schema_id=schema_id, _external=True)
    body["meta"] = {"resourceType": "Schema", "location": location}
    return body


def _list(items: list) -> Response:
    return _answer(
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": len(items),
            "startIndex": 1,
            "itemsPerPage": len(items),
            "Resources": items,
        }
    )


@bp.route("/ResourceTypes", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def resource_types() -> ResponseReturnValue:
    """The resource types served: User, Group."""
    _only_get()
    return _list([_resource_type(name) for name in TYPES])


@bp.get("/ResourceTypes/<name>")
def resource_type(name: str) -> ResponseReturnValue:
    """One resource type by name."""
    if name not in TYPES:
        return scim_error(404, f"no resource type {name!r}")
    return _answer(_resource_type(name))


@bp.route("/Schemas", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def schemas() -> ResponseReturnValue:
    """The schemas of the resources served: the core User (``emails`` required) and Group
    (its members' ``display`` read only, and not kept)."""
    _only_get()
    return _list([_schema(schema_id) for schema_id in SCHEMAS])


@bp.get("/Schemas/<schema_id>")
def schema(schema_id: str) -> ResponseReturnValue:
    """One schema by its URN."""
    if schema_id not in SCHEMAS:
        return scim_error(404, f"no schema {schema_id!r}")
    return _answer(_schema(schema_id))


# ---------------------------------------------------------------- users
@bp.get("/Users")
def users() -> ResponseReturnValue:
    """The directory's users: ``filter`` (``userName``, ``externalId``, ``id`` ``eq``,
    joined by ``and``), ``startIndex`` (1-based), ``count`` (at most 200),
    ``attributes`` / ``excludedAttributes``."""
    params = _params(request.args.get("attributes"), request.args.get("excludedAttributes"))
    found = scim_users.search(
        _directory(),
        request.args.get("filter"),
        _int("startIndex", 1),
        _int("count", 100),
        _location,
        params,
    )
    return _answer(found)


@bp.post("/Users/.search")
def users_search() -> ResponseReturnValue:
    """``GET /Users`` with its parameters in a SearchRequest body."""
    try:
        search: SearchRequest = SearchRequest.model_validate(
            _body(), scim_ctx=ScimContext.SEARCH_REQUEST
        )
    except ValidationError as exc:
        raise InvalidValueException(detail=str(exc.errors()[0]["msg"])) from None
    attributes = [str(p) for p in search.attributes or []]
    excluded = [str(p) for p in search.excluded_attributes or []]
    found = scim_users.search(
        _directory(),
        str(search.filter) if search.filter else None,
        search.start_index or 1,
        100 if search.count is None else search.count,
        _location,
        _params(attributes, excluded),
    )
    return _answer(found)


@bp.post("/Users")
def create_user() -> ResponseReturnValue:
    """Provision a user: 201 with the resource; the user joins the organization with the
    directory's default role when active (403 with the policy's reason if refused)."""
    body = scim_users.create(_ctx(), _directory(), _body(), _location)
    return _user_answer(body, 201)


@bp.get("/Users/<scim_id>")
def user(scim_id: str) -> ResponseReturnValue:
    """One user (``attributes`` / ``excludedAttributes``); 304 for a matching
    If-None-Match."""
    d = _directory()
    row = scim_users.found(d, scim_id)
    if request.headers.get("If-None-Match") in (scim_users.etag(row), "*"):
        return Response(status=304, headers={"ETag": scim_users.etag(row)})
    params = _params(request.args.get("attributes"), request.args.get("excludedAttributes"))
    return _user_answer(scim_users.as_dict(row, _location(scim_id), params))


@bp.put("/Users/<scim_id>")
def replace_user(scim_id: str) -> ResponseReturnValue:
    """Replace a user (If-Match honoured); ``active: false`` removes the membership."""
    if_match = request.headers.get("If-Match")
    return _user_answer(
        scim_users.replace(_ctx(), _directory(), scim_id, _body(), if_match, _location)
    )


@bp.patch("/Users/<scim_id>")
def patch_user(scim_id: str) -> ResponseReturnValue:
    """Patch a user (RFC 7644 section 3.5.2; If-Match honoured)."""
    if_match = request.headers.get("If-Match")
    return _user_answer(
        scim_users.patch(_ctx(), _directory(), scim_id, _body(), if_match, _location)
    )


@bp.delete("/Users/<scim_id>")
def delete_user(scim_id: str) -> ResponseReturnValue:
    """Deprovision a user: the membership is removed (the policy decides), then the record."""
    scim_users.delete(_ctx(), _directory(), scim_id, request.headers.get("If-Match"))
    return Response(status=204)


# ---------------------------------------------------------------- groups (teams)
def _group_location(scim_id: str) -> str:
    return url_for("scim.group", scim_id=scim_id, _external=True)


GROUP_LOCATIONS = (_group_location, _location)


@bp.get("/Groups")
def groups() -> ResponseReturnValue:
    """The directory's groups: ``filter`` (``displayName``, ``externalId``, ``id`` ``eq``,
    joined by ``and``), ``startIndex``, ``count`` (at most 200), ``attributes`` /
    ``excludedAttributes``."""
    params = _group_params(request.args.get("attributes"), request.args.get("excludedAttributes"))
    return _answer(
        scim_groups.search(
            _directory(),
            request.args.get("filter"),
            _int("startIndex", 1),
            _int("count", 100),
            GROUP_LOCATIONS,
            params,
        )
    )


def _group_params(attributes: Any, excluded: Any) -> ResponseParameters | None:
    if not attributes and not excluded:
        return None
    try:
        return ResponseParameters[scim_groups.DirectoryGroup].model_validate(
            {"attributes": attributes or None, "excludedAttributes": excluded or None}
        )
    except ValidationError as exc:
        raise InvalidValueException(detail=f"attributes: {exc.errors()[0]['msg']}") from None


@bp.post("/Groups")
def create_group() -> ResponseReturnValue:
    """Provision a group: a new team of the organization with the members named (Users of
    this directory); 403 with the policy's reason if refused."""
    body = scim_groups.create(_ctx(), _directory(), _body(), GROUP_LOCATIONS)
    return _user_answer(body, 201)


@bp.get("/Groups/<scim_id>")
def group(scim_id: str) -> ResponseReturnValue:
    """One group with its members."""
    row = scim_groups.found(_directory(), scim_id)
    if request.headers.get("If-None-Match") in (scim_users.etag(row), "*"):
        return Response(status=304, headers={"ETag": scim_users.etag(row)})
    params = _group_params(request.args.get("attributes"), request.args.get("excludedAttributes"))
    return _user_answer(scim_groups.as_dict(row, *GROUP_LOCATIONS, params))


@bp.put("/Groups/<scim_id>")
def replace_group(scim_id: str) -> ResponseReturnValue:
    """Replace a group: its name and exactly the members named."""
    if_match = request.headers.get("If-Match")
    return _user_answer(
        scim_groups.replace(_ctx(), _directory(), scim_id, _body(), if_match, GROUP_LOCATIONS)
    )


@bp.patch("/Groups/<scim_id>")
def patch_group(scim_id: str) -> ResponseReturnValue:
    """Patch a group (members add and remove, displayName)."""
    if_match = request.headers.get("If-Match")
    return _user_answer(
        scim_groups.patch(_ctx(), _directory(), scim_id, _body(), if_match, GROUP_LOCATIONS)
    )


@bp.delete("/Groups/<scim_id>")
def delete_group(scim_id: str) -> ResponseReturnValue:
    """Deprovision a group: its team is deleted (the policy decides)."""
    scim_groups.delete(_ctx(), _directory(), scim_id, request.headers.get("If-Match"))
    return Response(status=204)


@bp.route("/.search", methods=["POST"])
def search_everything() -> ResponseReturnValue:
    """Searching every resource type at once is not supported (501)."""
    return scim_error(501, "search each resource type at its endpoint: POST /Users/.search")


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def not_found(rest: str) -> ResponseReturnValue:
    """Anything else under /scim/v2: a SCIM 404."""
    return scim_error(404, f"no SCIM endpoint /{rest}")


# ---------------------------------------------------------------- flask scim ...
def _cli_ctx() -> Context:
    return Context(policy(), current_app.config["CLOCK"], api_key="cli")


@bp.cli.command(
    "token",
    help="Issue the organization's directory token (printed once; it replaces any earlier "
    "one). --as USER: the member whose authority the directory's changes carry (the policy "
    "decides them as that user); --role ROLE: the role a provisioned user joins with.",
)
@click.argument("org")
@click.option("--as", "acting_user", required=True)
@click.option("--role", required=True)
def token_command(org: str, acting_user: str, role: str) -> None:
    with db.connection_context():
        try:
            token = scim.issue(_cli_ctx(), org, acting_user, role)
        except DomainError as exc:
            raise click.ClickException(exc.detail) from None
    click.echo(token)


@bp.cli.command(
    "map",
    help="Map the identity provider's groups named GROUP to the org role ROLE ('-' drops the "
    "mapping): a group of that name the directory creates, or renames to it, is a team "
    "holding that role, when the acting user may give it.",
)
@click.argument("org")
@click.argument("group")
@click.argument("role")
def map_command(org: str, group: str, role: str) -> None:
    with db.connection_context():
        try:
            mapping = scim.set_mapping(_cli_ctx(), org, group, None if role == "-" else role)
        except DomainError as exc:
            raise click.ClickException(exc.detail) from None
    click.echo(json.dumps(mapping, sort_keys=True))


@bp.cli.command("revoke", help="Revoke the organization's directory token.")
@click.argument("org")
def revoke_command(org: str) -> None:
    with db.connection_context():
        try:
            done = scim.revoke(_cli_ctx(), org)
        except DomainError as exc:
            raise click.ClickException(exc.detail) from None
    click.echo("revoked" if done else "no active directory token")
