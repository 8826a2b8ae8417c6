"""The client and the service's /openapi.json agree: every typed result has the fields of the
schema it names (same names, required ones without a default, nullable ones accepting
None), and every call the client makes goes to a path, method, query parameter and body
field the document lists. Calls of contract 1.1 that the service does not serve yet are
reported as skipped until it does; then they are checked like the others."""

import copy
import dataclasses
import json
import re
import types
import typing

import httpx
import pytest
from orgauthz_client import Client
from orgauthz_client.types import MODELS, Check, Organization, ResourceRef, RolePermission

# Calls of contract 1.1 (shared/API.md) a service may not serve yet.
CONTRACT_1_1 = {
    ("get", "/v1/orgs"),
    ("get", "/v1/orgs/{}/members/{}"),
    ("get", "/v1/orgs/{}/invitations/{}"),
    ("post", "/v1/orgs/{}/invitations/{}/resend"),
    ("delete", "/v1/users/{}"),
    ("get", "/v1/orgs/{}/resources"),
    ("get", "/v1/orgs/{}/resources/{}/{}/grants"),
    ("get", "/v1/events"),
}


@pytest.fixture(scope="module")
def document(live):
    response = httpx.get(live.url + "/openapi.json", timeout=30)
    assert response.status_code == 200
    return response.json()


def _norm(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def _operations(doc: dict) -> dict:
    return {
        (method, _norm(path)): op
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
    }


def _resolve(doc: dict, schema: dict) -> dict:
    """Follow $ref, and through anyOf/oneOf/allOf to the one schema that is not null."""
    while True:
        if "$ref" in schema:
            schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        elif any(k in schema for k in ("anyOf", "oneOf", "allOf")):
            options = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
            options = [o for o in options if o.get("type") != "null"]
            assert len(options) == 1, schema
            schema = options[0]
        else:
            return schema


def schema_for(doc: dict, where: tuple) -> dict | None:
    """The schema a model's ``__openapi__`` names, or None when the operation is absent."""
    method, path, inside = where
    op = _operations(doc).get((method, _norm(path)))
    if op is None:
        return None
    if inside.startswith("<request>"):
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        inside = inside[len("<request>") :]
    else:
        schema = next(
            r["content"]["application/json"]["schema"]
            for status, r in sorted(op["responses"].items())
            if status.startswith("2") and "application/json" in r.get("content", {})
        )
    schema = _resolve(doc, schema)
    for step in filter(None, inside.split(".")):
        if step.endswith("[]"):
            schema = _resolve(doc, _resolve(doc, schema["properties"][step[:-2]])["items"])
        else:
            schema = _resolve(doc, schema["properties"][step])
    return schema


def _nullable(prop: dict) -> bool:
    kinds = prop.get("type")
    if kinds is None and not any(k in prop for k in ("$ref", "anyOf", "oneOf", "allOf")):
        return True  # {}: any value, null included
    if isinstance(kinds, list) and "null" in kinds:
        return True
    options = prop.get("anyOf") or prop.get("oneOf") or []
    return prop.get("nullable") is True or any(o.get("type") == "null" for o in options)


def _accepts_none(hint) -> bool:
    if hint is typing.Any:
        return True
    origin = typing.get_origin(hint)
    return origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)


def disagreements(model: type, schema: dict, doc: dict) -> list[str]:
    """How ``model``'s fields differ from ``schema``: [] when they agree."""
    props = schema.get("properties", {})
    required = set(schema.get("required", []))
    hints = typing.get_type_hints(model)
    fields = {f.name: f for f in dataclasses.fields(model) if f.name != "extra"}
    out = [f"the document has {n!r}, the client has not" for n in sorted(set(props) - set(fields))]
    out += [f"the client has {n!r}, the document has not" for n in sorted(set(fields) - set(props))]
    for name in sorted(set(props) & set(fields)):
        f = fields[name]
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not (
            dataclasses.MISSING
        )
        if (name in required) == has_default:
            out.append(
                f"{name!r}: required in the document is {name in required}, "
                f"the client {'has' if has_default else 'has no'} default"
            )
        if _nullable(props[name]) and not _accepts_none(hints[name]):
            out.append(f"{name!r}: nullable in the document, not in the client")
        if _accepts_none(hints[name]) and not _nullable(props[name]) and name in required:
            out.append(f"{name!r}: required and never null in the document, Optional in the client")
    return out


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_typed_results_match_the_document(document, model):
    schema = schema_for(document, model.__openapi__)
    if schema is None:
        method, path, _ = model.__openapi__
        assert (method, path) in CONTRACT_1_1, f"{model.__name__}: {method} {path} is missing"
        pytest.skip(f"{method.upper()} {path} (contract 1.1) is not served yet")
    assert disagreements(model, schema, document) == [], model.__name__


def test_a_renamed_or_dropped_field_is_caught(document):
    doc = copy.deepcopy(document)
    out = doc["components"]["schemas"]["OrganizationOut"]
    out["properties"]["display_name"] = out["properties"].pop("name")
    out["required"] = [("display_name" if r == "name" else r) for r in out["required"]]
    found = disagreements(Organization, schema_for(doc, Organization.__openapi__), doc)
    assert "the document has 'display_name', the client has not" in found
    assert "the client has 'name', the document has not" in found

    doc = copy.deepcopy(document)
    ref = doc["components"]["schemas"]["ResourceRef"]
    ref["properties"]["org"] = {"type": "string"}
    ref["required"].append("org")
    found = disagreements(ResourceRef, schema_for(doc, ResourceRef.__openapi__), doc)
    assert found == [
        "'org': required in the document is True, the client has default",
        "'org': required and never null in the document, Optional in the client",
    ]


# Every call of the client, with arguments; what it sends is compared with the document.
CALLS = {
    "authorize": lambda c: c.authorize("u", "view", ("Dataset", "d"), explain=True),
    "allowed": lambda c: c.allowed("u", "view", ResourceRef("Dataset", "d", org="o")),
    "authorize_batch": lambda c: c.authorize_batch([Check("u", "view", ResourceRef("T", "i"))]),
    "allowed_actions": lambda c: c.allowed_actions("u", ("Dataset", "d")),
    "list_resources": lambda c: list(c.list_resources("u", "view", "Dataset", "o", page_size=5)),
    "list_actors": lambda c: list(c.list_actors("view", ("Dataset", "d"), page_size=5)),
    "create_org": lambda c: c.create_org("N", "pix4d", id="o", legal={}, billing={}),
    "get_org": lambda c: c.get_org("o"),
    "update_org": lambda c: c.update_org(
        "o", name="N", legal={}, billing={}, admin_ip_allowlist=None, context={"ip": "192.0.2.1"}
    ),
    "close_org": lambda c: c.close_org("o"),
    "list_orgs": lambda c: list(c.list_orgs(page_size=5)),
    "audit": lambda c: list(c.audit("o", page_size=5)),
    "list_members": lambda c: list(c.list_members("o", role="r", q="q", page_size=5)),
    "get_member": lambda c: c.get_member("o", "u"),
    "change_role": lambda c: c.change_role("o", "u", "editor"),
    "remove_member": lambda c: c.remove_member("o", "u"),
    "remove_members": lambda c: c.remove_members("o", ["u"]),
    "invite": lambda c: c.invite("o", [("a@example.com", "reader")]),
    "list_invitations": lambda c: list(c.list_invitations("o", status="pending", page_size=5)),
    "get_invitation": lambda c: c.get_invitation("o", "i"),
    "cancel_invitation": lambda c: c.cancel_invitation("o", "i"),
    "resend_invitation": lambda c: c.resend_invitation("o", "i"),
    "change_invitation_role": lambda c: c.change_invitation_role("o", "i", "editor"),
    "accept_invitation": lambda c: c.accept_invitation("t", "u", "a@example.com", "A"),
    "put_user": lambda c: c.put_user("u", "a@example.com", "A"),
    "get_user": lambda c: c.get_user("u"),
    "set_default_org": lambda c: c.set_default_org("u", "o"),
    "user_orgs": lambda c: list(c.user_orgs("u", page_size=5)),
    "delete_user": lambda c: c.delete_user("u"),
    "put_resource": lambda c: c.put_resource(
        "o", "Dataset", "d", parent=("Folder", "f"), owner="u", attributes={}
    ),
    "get_resource": lambda c: c.get_resource("o", "Dataset", "d"),
    "delete_resource": lambda c: c.delete_resource("o", "Dataset", "d", recursive=True),
    "org_resources": lambda c: list(
        c.org_resources("o", parent=("Folder", "f"), type="Dataset", page_size=5)
    ),
    "grant": lambda c: c.grant("o", "Dataset", "d", "u", "reader"),
    "revoke": lambda c: c.revoke("o", "Dataset", "d", "u"),
    "grant_batch": lambda c: c.grant_batch("o", "u", [("Space", "s", "member")]),
    "list_grants": lambda c: list(c.list_grants("o", "Dataset", "d", page_size=5)),
    "list_teams": lambda c: list(c.list_teams("o", page_size=5)),
    "create_team": lambda c: c.create_team("o", "t", "T", role="editor"),
    "get_team": lambda c: c.get_team("o", "t"),
    "update_team": lambda c: c.update_team("o", "t", name="N", role=None),
    "delete_team": lambda c: c.delete_team("o", "t"),
    "add_team_member": lambda c: c.add_team_member(
        "o", "t", "u", expires_at="2099-01-01T00:00:00Z"
    ),
    "remove_team_member": lambda c: c.remove_team_member("o", "t", "u"),
    "grant_team": lambda c: c.grant_team("o", "t", "Folder", "f", "reader"),
    "revoke_team": lambda c: c.revoke_team("o", "t", "Folder", "f"),
    "list_roles": lambda c: c.list_roles("o"),
    "define_role": lambda c: c.define_role(
        "o", "custom:crew", "Crew", [("Dataset", "view"), RolePermission("Dataset", "upload")]
    ),
    "get_role": lambda c: c.get_role("o", "custom:crew"),
    "update_role": lambda c: c.update_role(
        "o", "custom:crew", name="N", permissions=[("Dataset", "view")]
    ),
    "delete_role": lambda c: c.delete_role("o", "custom:crew"),
    "events": lambda c: list(c.events(org="o", types=["member.role_changed"], page_size=5)),
    "events_page": lambda c: c.events_page(after="x"),
    "policies": lambda c: c.policies(),
    "matrix": lambda c: c.matrix("pix4d"),
    "health": lambda c: c.health(),
    "ready": lambda c: c.ready(),
    # verified domains and requests to join (contract 1.3)
    "add_domain": lambda c: c.add_domain("o", "example.com"),
    "list_domains": lambda c: list(c.list_domains("o", page_size=5)),
    "get_domain": lambda c: c.get_domain("o", "dom-1"),
    "verify_domain": lambda c: c.verify_domain("o", "dom-1"),
    "configure_domain": lambda c: c.configure_domain("o", "dom-1", "auto", "member"),
    "remove_domain": lambda c: c.remove_domain("o", "dom-1"),
    "suggested_orgs": lambda c: c.suggested_orgs("u"),
    "ask_to_join": lambda c: c.ask_to_join("o", role="member", message="hi"),
    "list_join_requests": lambda c: list(c.list_join_requests("o", status="pending", page_size=5)),
    "get_join_request": lambda c: c.get_join_request("o", "jr-1"),
    "approve_join_request": lambda c: c.approve_join_request("o", "jr-1", role="member"),
    "decline_join_request": lambda c: c.decline_join_request("o", "jr-1"),
}

EMPTY = {"items": [], "next_cursor": None, "results": [], "removed": []}


def test_every_public_call_is_in_the_table():
    public = {n for n in vars(Client) if not n.startswith("_")} - {"as_actor", "close"}
    assert public == set(CALLS)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_calls_match_the_document(document, name):
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=EMPTY)

    with Client("http://orgauthz.test", "k", actor="u", transport=httpx.MockTransport(answer)) as c:
        CALLS[name](c)
    assert sent
    operations = _operations(document)
    for request in sent:
        key = (request.method.lower(), _norm(_path_template(request.url.path)))
        op = operations.get(key)
        if op is None:
            assert key in CONTRACT_1_1, f"{name}: {key} is not in the document"
            pytest.skip(f"{key[0].upper()} {key[1]} (contract 1.1) is not served yet")
        query = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
        assert set(request.url.params) <= query, (name, set(request.url.params), query)
        if request.content:
            schema = _resolve(document, op["requestBody"]["content"]["application/json"]["schema"])
            body = json.loads(request.content)
            assert set(body) <= set(schema["properties"]), (name, set(body))


def _path_template(path: str) -> str:
    """The request path with the test's argument values turned back into ``{}``."""
    parts = path.split("/")
    fixed = {
        "v1",
        "orgs",
        "members",
        "remove",
        "invitations",
        "resend",
        "accept",
        "users",
        "resources",
        "grants",
        "teams",
        "roles",
        "authorize",
        "batch",
        "actions",
        "actors",
        "events",
        "policies",
        "matrix",
        "audit",
        "healthz",
        "readyz",
        "domains",
        "verify",
        "suggested-orgs",
        "join-requests",
        "approve",
        "decline",
        "",
    }
    return "/".join(p if p in fixed else "{}" for p in parts)
