"""Bad input is a 4xx naming what is wrong, never a 5xx.

A NUL character (PostgreSQL refuses it in text) or a lone surrogate (no database can encode
it) in any string of a body, the query string, a path parameter or X-Actor-Id; a cursor
that decodes to something no list ever gave: each is a 422 naming the field, on both
databases, the decision endpoints included.
"""

import base64
import json

import pytest

NUL, SURROGATE = "a\x00b", "a\ud800b"
PIX = "/v1/orgs/org-pix4d"
RES = {"type": "Organization", "id": "org-pix4d"}
ACTOR = "pix4d-owner"


def cursor_of(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def named(response, field: str, status: int = 422) -> dict:
    body = response.get_json()
    assert response.status_code == status, (response.status_code, body)
    assert response.content_type == "application/problem+json"
    assert field in (body.get("errors") or {}), body
    return body


def check(bad):
    return {"actor": {"id": ACTOR}, "action": "view", "resource": dict(RES), **bad}


# (method, path, body with the bad string as BAD, field named in the 422)
BODIES = [
    ("POST", "/v1/authorize", lambda b: check({"actor": {"id": b}}), "actor.id"),
    ("POST", "/v1/authorize", lambda b: check({"action": b}), "action"),
    (
        "POST",
        "/v1/authorize",
        lambda b: check({"resource": {"type": b, "id": "x"}}),
        "resource.type",
    ),
    (
        "POST",
        "/v1/authorize",
        lambda b: check({"resource": {"type": "Dataset", "id": b}}),
        "resource.id",
    ),
    (
        "POST",
        "/v1/authorize",
        lambda b: check({"resource": {"type": "Dataset", "id": "x", "org": b}}),
        "resource.org",
    ),
    (
        "POST",
        "/v1/authorize",
        lambda b: check({"resource": {"type": "License", "id": "x", "attributes": {"kind": b}}}),
        "resource.attributes",
    ),
    (
        "POST",
        "/v1/authorize/batch",
        lambda b: {"checks": [check({}), check({"actor": {"id": b}})]},
        "checks.1.actor.id",
    ),
    (
        "POST",
        "/v1/authorize/actions",
        lambda b: {"actor": {"id": ACTOR}, "resource": {"type": "Folder", "id": b}},
        "resource.id",
    ),
    (
        "POST",
        "/v1/authorize/resources",
        lambda b: {"actor": {"id": ACTOR}, "action": "view", "type": "Folder", "org": b},
        "org",
    ),
    (
        "POST",
        "/v1/authorize/actors",
        lambda b: {"action": "view", "resource": {"type": "Folder", "id": b}},
        "resource.id",
    ),
    ("POST", "/v1/orgs", lambda b: {"id": "o-1", "name": b, "style": "pix4d"}, "name"),
    ("POST", "/v1/orgs", lambda b: {"name": "n", "style": b}, "style"),
    ("POST", "/v1/orgs", lambda b: {"name": "n", "style": "pix4d", "legal": {b: 1}}, "legal"),
    ("PATCH", PIX, lambda b: {"name": b}, "name"),
    ("PATCH", PIX, lambda b: {"billing": {"vat": [b]}}, "billing"),
    ("PUT", f"{PIX}/members/pix4d-member", lambda b: {"role": b}, "role"),
    ("POST", f"{PIX}/members/remove", lambda b: {"user_ids": ["pix4d-member", b]}, "user_ids.1"),
    (
        "POST",
        f"{PIX}/invitations",
        lambda b: {"invitations": [{"email": f"{b}@example.com", "role": "reader"}]},
        "invitations.0.email",
    ),
    (
        "POST",
        f"{PIX}/invitations",
        lambda b: {"invitations": [{"email": "z@example.com", "role": b}]},
        "invitations.0.role",
    ),
    (
        "POST",
        "/v1/invitations/accept",
        lambda b: {"token": b, "user": {"id": "u-new", "email": "n@example.com"}},
        "token",
    ),
    (
        "POST",
        "/v1/invitations/accept",
        lambda b: {"token": "t", "user": {"id": b, "email": "n@example.com"}},
        "user.id",
    ),
    ("PUT", "/v1/users/pix4d-owner", lambda b: {"email": "o@example.com", "name": b}, "name"),
    ("PUT", "/v1/users/pix4d-owner", lambda b: {"email": f"o{b}@example.com"}, "email"),
    ("PATCH", "/v1/users/pix4d-owner", lambda b: {"default_org_id": b}, "default_org_id"),
    ("PUT", f"{PIX}/resources/Folder/f-new", lambda b: {"owner": b}, "owner"),
    (
        "PUT",
        f"{PIX}/resources/Folder/f-new",
        lambda b: {"parent": {"type": "Folder", "id": b}},
        "parent.id",
    ),
    (
        "PUT",
        f"{PIX}/resources/Folder/f-new",
        lambda b: {"attributes": {"k": {"deep": b}}},
        "attributes",
    ),
    (
        "PUT",
        f"{PIX}/resources/Folder/pix4d-survey/grants/pix4d-member",
        lambda b: {"role": b},
        "role",
    ),
    (
        "POST",
        f"{PIX}/members/pix4d-member/grants",
        lambda b: {"grants": [{"type": "Folder", "id": b, "role": "reader"}]},
        "grants.0.id",
    ),
]


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])
@pytest.mark.parametrize(
    "method, path, body, field", BODIES, ids=[f"{m} {p} {f}" for m, p, _, f in BODIES]
)
def test_nul_or_lone_surrogate_in_a_body_string_is_422_naming_it(
    api, demo, bad, method, path, body, field
):
    named(api.call(method, path, json=body(bad), actor=ACTOR), field)


QUERIES = [
    (f"{PIX}/members?q=a%00b", "q"),
    (f"{PIX}/members?role=a%00b", "role"),
    (f"{PIX}/invitations?status=a%00b", "status"),
    (f"{PIX}/audit?cursor=a%00b", "cursor"),
    (f"{PIX}/members?cursor=a%00b", "cursor"),
]


@pytest.mark.parametrize("path, field", QUERIES)
def test_nul_in_the_query_string_is_422_naming_it(api, demo, path, field):
    named(api.get(path, actor=ACTOR), field)


PATHS = [
    ("GET", "/v1/orgs/org%00x", "org_id"),
    ("PATCH", "/v1/orgs/org%00x", "org_id"),
    ("GET", "/v1/orgs/org%00x/members", "org_id"),
    ("PUT", f"{PIX}/members/u%00x", "user_id"),
    ("DELETE", f"{PIX}/invitations/i%00x", "invitation_id"),
    ("GET", "/v1/users/u%00x", "user_id"),
    ("PUT", "/v1/users/u%00x", "user_id"),
    ("GET", "/v1/users/u%00x/orgs", "user_id"),
    ("PUT", f"{PIX}/resources/Fol%00der/f-1", "type_"),
    ("PUT", f"{PIX}/resources/Folder/f%00-1", "rid"),
    ("GET", f"{PIX}/resources/Folder/f%00-1", "rid"),
    ("PUT", f"{PIX}/resources/Folder/pix4d-survey/grants/u%00x", "user_id"),
    # Longer than the column the parameter is stored in.
    ("PUT", "/v1/users/" + "u" * 201, "user_id"),
    ("PUT", f"{PIX}/resources/Folder/" + "f" * 201, "rid"),
    ("PUT", f"{PIX}/resources/" + "F" * 65 + "/f-1", "type_"),
]


@pytest.mark.parametrize("method, path, field", PATHS)
def test_nul_or_overlong_path_parameter_is_422_naming_it(api, demo, method, path, field):
    body = None
    if path.startswith("/v1/users/") and method == "PUT":
        body = {"email": "p@example.com"}
    elif method == "PUT" and ("/members/" in path or "/grants/" in path):
        body = {"role": "reader"}
    elif method == "PUT" or method == "PATCH":
        body = {"name": "n"} if method == "PATCH" else {}
    # /v1/users/* act for the user in the path: X-Actor-Id is optional there.
    actor = None if path.startswith("/v1/users/") else ACTOR
    named(api.call(method, path, json=body, actor=actor), field)


@pytest.mark.parametrize("actor", ["pix4d\x00owner", "u" * 201], ids=["nul", "overlong"])
@pytest.mark.parametrize(
    "method, path, body",
    [
        ("GET", f"{PIX}/members", None),
        ("PATCH", PIX, {"name": "Renamed"}),
        ("POST", f"{PIX}/invitations", {"invitations": [{"email": "z@x.com", "role": "reader"}]}),
    ],
)
def test_bad_acting_user_header_is_422_naming_it(api, demo, actor, method, path, body):
    named(api.call(method, path, json=body, headers={"X-Actor-Id": actor}), "X-Actor-Id")


BAD_CURSORS = {
    "object": {"a": 1},
    "list": ["m"],
    "number": 7,
    "float": 1.5,
    "true": True,
    "huge": 2**70,
    "negative-huge": -(2**64),
    "null": None,
    "nul-string": "a\x00b",
    "surrogate-string": "a\ud800b",
    "overlong-string": "x" * 1001,
    "not-json": "%%%",
}
LISTS = {  # (method, path, body, the cursor's shape)
    "audit": ("GET", f"{PIX}/audit?cursor={{}}", None, "int"),
    "members": ("GET", f"{PIX}/members?cursor={{}}", None, "pair"),
    "invitations": ("GET", f"{PIX}/invitations?cursor={{}}", None, "str"),
    "user-orgs": ("GET", "/v1/users/pix4d-owner/orgs?cursor={}", None, "str"),
    "resources-query": (
        "POST",
        "/v1/authorize/resources?cursor={}",
        {"actor": {"id": ACTOR}, "action": "view", "type": "Folder", "org": "org-pix4d"},
        "str",
    ),
    "resources-body": (
        "POST",
        "/v1/authorize/resources",
        {"actor": {"id": ACTOR}, "action": "view", "type": "Folder", "org": "org-pix4d"},
        "str",
    ),
    "actors-body": (
        "POST",
        "/v1/authorize/actors",
        {"action": "view", "resource": {"type": "Folder", "id": "pix4d-survey"}},
        "str",
    ),
}


CURSOR_CASES = [
    (which, shape)
    for which in LISTS
    for shape in BAD_CURSORS
    if not (LISTS[which][3] == "int" and shape == "number")  # the audit trail's own shape
]


@pytest.mark.parametrize("which, shape", CURSOR_CASES)
def test_a_cursor_no_list_gave_is_422(api, demo, which, shape):
    method, path, body, _ = LISTS[which]
    value = BAD_CURSORS[shape]
    cursor = "%%%" if shape == "not-json" else cursor_of(value)
    if body is not None and "?" not in path:
        body = {**body, "cursor": cursor}
    path = path.format(cursor)
    actor = "pix4d-owner"
    body_out = named(api.call(method, path, json=body, actor=actor), "cursor")
    assert body_out["errors"]["cursor"] == ["invalid"]
    if body is not None and path.startswith("/v1/authorize"):
        assert "allowed" not in body_out  # a 422 is about the request, not a deny


@pytest.mark.parametrize(
    "cursor",
    [["m", 1], ["x", "a"], ["m", "a", "b"], ["i", "a\x00"], "pix4d-owner"],
    ids=["id-not-str", "bad-kind", "three", "nul", "bare-str"],
)
def test_members_cursor_must_be_a_kind_and_an_id(api, demo, cursor):
    response = api.get(f"{PIX}/members?cursor={cursor_of(cursor)}", actor=ACTOR)
    assert named(response, "cursor")["errors"]["cursor"] == ["invalid"]


def test_good_cursors_still_page(api, demo):
    """The strict decoder takes every cursor the lists give."""
    for path in (
        f"{PIX}/members",
        f"{PIX}/audit",
        f"{PIX}/invitations",
        "/v1/users/pix4d-owner/orgs",
    ):
        seen, url = [], f"{path}?limit=1"
        for _ in range(100):
            page = api.get(url, actor=ACTOR)
            assert page.status_code == 200, page.get_json()
            seen += page.get_json()["items"]
            nxt = page.get_json()["next_cursor"]
            if not nxt:
                break
            url = f"{path}?limit=1&cursor={nxt}"
        assert len(seen) == len({json.dumps(i, sort_keys=True) for i in seen})
    body = {"actor": {"id": ACTOR}, "action": "view", "type": "Folder", "org": "org-pix4d"}
    page = api.post("/v1/authorize/resources", {**body, "limit": 1})
    assert page.status_code == 200
    nxt = page.get_json()["next_cursor"]
    assert nxt and api.post("/v1/authorize/resources", {**body, "cursor": nxt}).status_code == 200


def test_good_unicode_still_passes(api, demo):
    """Only NUL and lone surrogates are refused: other text, emoji included, is stored."""
    name = "Zoë 😀 \t tab"
    response = api.put("/v1/users/u-uni", {"email": "zoe@example.com", "name": name})
    assert response.status_code in (200, 201), response.get_json()
    assert api.get("/v1/users/u-uni", actor="u-uni").get_json()["name"] == name


# A name that reaches a mail header (an organization's, a user's): no line break, and no
# encoded word that decodes to one (access/mail.py; the mail side is tests/outbox/test_mail.py).
MAIL_NAMES = [
    ("POST", "/v1/orgs", lambda b: {"name": b, "style": "pix4d"}, "name"),
    ("PATCH", PIX, lambda b: {"name": b}, "name"),
    ("PUT", "/v1/users/pix4d-owner", lambda b: {"email": "o@example.com", "name": b}, "name"),
    (
        "POST",
        "/v1/invitations/accept",
        lambda b: {"token": "t", "user": {"id": "u-new", "email": "n@example.com", "name": b}},
        "user.name",
    ),
]
HEADER_BREAKERS = [
    "Acme =?utf-8?q?=0D=0AReply-To:_attacker@evil.example=0D=0A=0D=0Aevil?=",
    "Acme =?UTF-8?Q?=0AReply-To:_a@evil.example?=",
    "Acme=?utf-8?b?DQpCY2M6IGFAZXZpbC5leGFtcGxl?=",
    "Acme\r\nBcc: a@evil.example",
    "Acme\nBcc: a@evil.example",
    "Acme\u2028Bcc: a@evil.example",
]


@pytest.mark.parametrize("bad", HEADER_BREAKERS)
@pytest.mark.parametrize(
    "method, path, body, field", MAIL_NAMES, ids=[f"{m} {p} {f}" for m, p, _, f in MAIL_NAMES]
)
def test_a_name_that_would_break_a_mail_header_is_422_naming_it(
    api, demo, bad, method, path, body, field
):
    problem = named(api.call(method, path, json=body(bad), actor=ACTOR), field)
    assert "mail headers" in problem["errors"][field][0]
