"""docs/VOCABULARY.md and docs/API.md cannot drift from what the service declares and serves.

- Every role, resource type, action and attribute named in a "Roles", "Resource types",
  "Actions on", "Attributes of" or "Values of" item of docs/VOCABULARY.md is declared by
  the policy of that section's style (a section whose heading names no style holds for
  every style). Names are read from backticks, as the page writes them.
- Every `/v1` endpoint docs/API.md names in backticks (`METHOD /v1/...`) is in the app's
  /openapi.json with that method, unless listed in NOT_YET_SERVED.
"""

import re
from pathlib import Path

import pytest

from authz.engine import POLICY_DIR, PolicySet

DOCS = Path(__file__).resolve().parents[2] / "docs"
POLICY = PolicySet(POLICY_DIR)

# Endpoints docs/API.md promises ("Version 1.1 additions") that the service does not serve
# yet. Remove an entry when its route lands: test_not_yet_served_is_documented_and_unserved
# fails on an entry the service serves, so this list only ever shrinks.
NOT_YET_SERVED: set = set()

TICKED = re.compile(r"`([^`]+)`")
# The head of a vocabulary item ("Actions on `Folder`, `Site`") and its body: the names up
# to the first full stop outside backticks; the sentences after it are prose.
ITEM = re.compile(r"-\s+(?P<head>[^:]+):(?P<body>(?:`[^`]*`|[^`.])*)")
KINDS = {
    "roles": re.compile(r"Roles$"),
    "types": re.compile(r"Resource types$"),
    "actions": re.compile(r"Actions on (.+)$"),
    "attributes": re.compile(r"Attributes of (.+)$"),
    "values": re.compile(r"Values of `([^`]+)` on (.+)$"),
}


def _items(text: str):
    """Yield (section heading, list item text) for each top-level ``- `` item of ``text``,
    its indented continuation lines joined to it."""
    heading, item = None, None
    for line in text.splitlines() + [""]:
        if item is not None and line.startswith("  ") and line.strip():
            item += " " + line.strip()
            continue
        if item is not None:
            yield heading, item
            item = None
        if line.startswith("## "):
            heading = line[3:]
        elif line.startswith("- "):
            item = line


def vocabulary() -> list:
    """The claims of docs/VOCABULARY.md: (style, kind, subject, names), where subject is the
    resource type (and attribute) the names belong to, or None."""
    claims = []
    for heading, item in _items((DOCS / "VOCABULARY.md").read_text()):
        match = ITEM.match(item)
        if not match or heading is None:
            continue
        head, names = match["head"].strip(), TICKED.findall(match["body"])
        section = TICKED.findall(heading)
        styles = section[:1] or POLICY.styles
        for kind, pattern in KINDS.items():
            found = pattern.match(head)
            if not found:
                continue
            if kind in ("actions", "attributes"):
                subjects = [(t,) for t in TICKED.findall(found[1])]
            elif kind == "values":
                subjects = [(t, found[1]) for t in TICKED.findall(found[2])]
            else:
                subjects = [()]
            for style in styles:
                for subject in subjects:
                    claims.append((style, kind, subject, names))
    return claims


CLAIMS = vocabulary()


def test_vocabulary_has_a_section_per_style_and_is_parsed():
    # A reformatted page that the parser no longer reads must fail here, not pass silently.
    sections = {c[0] for c in CLAIMS}
    assert sections == set(POLICY.styles)
    for style in POLICY.styles:
        kinds = {kind for s, kind, _, names in CLAIMS if s == style and names}
        assert {"roles", "types", "actions"} <= kinds, style
    assert all(names for *_, names in CLAIMS), [c for c in CLAIMS if not c[3]]


def _undeclared(engine, kind, subject, names) -> list:
    if kind == "roles":
        declared = engine.roles("Organization")
    elif kind == "types":
        declared = engine.types
    elif kind == "actions":
        declared = engine.permissions(subject[0])
    elif kind == "attributes":
        declared = engine.attributes.get(subject[0], set())
    else:
        type_, attribute = subject
        declared = engine.attribute_values.get(type_, {}).get(attribute, [])
    return [name for name in names if name not in declared]


@pytest.mark.parametrize("style", POLICY.styles)
def test_every_vocabulary_name_is_declared_by_the_policy(style):
    engine = POLICY.engine(style)
    missing = []
    for claim_style, kind, subject, names in CLAIMS:
        if claim_style != style:
            continue
        for name in _undeclared(engine, kind, subject, names):
            missing.append(f"{kind} {'/'.join(subject)}: {name}".replace(" :", ":"))
    assert missing == [], f"docs/VOCABULARY.md names what policies/{style}.polar does not declare"


ENDPOINT = re.compile(r"(?:(GET|POST|PUT|PATCH|DELETE)\s+)?(/v1/[^\s?]*)(?:\?\S*)?")


def _shape(path: str) -> str:
    """A path with its parameters unnamed: /v1/orgs/{org_id} -> /v1/orgs/{}."""
    return re.sub(r"\{[^}]*\}", "{}", path.rstrip("/"))


def documented_endpoints() -> set:
    """(METHOD or None, path shape) of every backticked /v1 endpoint in docs/API.md."""
    text = (DOCS / "API.md").read_text()
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)  # code blocks are examples
    found = set()
    for span in TICKED.findall(text):
        match = ENDPOINT.fullmatch(" ".join(span.split()))
        if match:
            found.add((match[1], _shape(match[2])))
    return found


ENDPOINTS = documented_endpoints()


@pytest.fixture
def served(app) -> dict:
    """{path shape: {METHOD, ...}} of the app's /openapi.json."""
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    shapes = {}
    for path, operations in response.get_json()["paths"].items():
        shapes.setdefault(_shape(path), set()).update(m.upper() for m in operations)
    return shapes


def test_api_md_is_parsed():
    assert len(ENDPOINTS) >= 30
    assert ("POST", "/v1/authorize") in ENDPOINTS


def test_every_documented_endpoint_is_in_openapi(served):
    missing = [
        f"{method or '(any)'} {path}"
        for method, path in sorted(ENDPOINTS, key=str)
        if (method, path) not in NOT_YET_SERVED
        and (path not in served or (method and method not in served[path]))
    ]
    assert missing == [], "docs/API.md names endpoints /openapi.json does not list"


def test_not_yet_served_is_documented_and_unserved(served):
    assert NOT_YET_SERVED <= ENDPOINTS, NOT_YET_SERVED - ENDPOINTS
    now_served = [
        f"{method} {path}"
        for method, path in sorted(NOT_YET_SERVED)
        if method in served.get(path, ())
    ]
    assert now_served == [], "served now: remove from NOT_YET_SERVED"
