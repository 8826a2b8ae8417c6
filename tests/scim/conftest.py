"""Fixtures of the SCIM tests: the demo data, and a directory token of org-pix4d whose
changes are decided as its Owner, new users joining as members."""

import pytest

from access import scim
from access.context import Context
from models import db

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Scim:
    """A test client sending the directory token and SCIM JSON."""

    def __init__(self, client, token):
        self.client, self.token = client, token

    def call(self, method, path, json=None, headers=None):
        h = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        return self.client.open("/scim/v2" + path, method=method, json=json, headers=h)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.call("POST", path, json, **kw)

    def put(self, path, json=None, **kw):
        return self.call("PUT", path, json, **kw)

    def patch(self, path, json=None, **kw):
        return self.call("PATCH", path, json, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


def user_body(name, email=None, active=True, external_id=None):
    body = {
        "schemas": [USER],
        "userName": name,
        "name": {"givenName": name.split("@")[0], "familyName": "Test"},
        "emails": [{"value": email or name, "primary": True, "type": "work"}],
        "active": active,
    }
    if external_id:
        body["externalId"] = external_id
    return body


def patch_body(*operations):
    return {"schemas": [PATCH], "Operations": list(operations)}


def issue(app, org="org-pix4d", acting="pix4d-owner", role="member"):
    ctx = Context(app.extensions["orgauthz.policy"].current, app.config["CLOCK"])
    with db.connection_context():
        return scim.issue(ctx, org, acting, role)


@pytest.fixture
def directory(app, demo):
    return Scim(app.test_client(), issue(app))


def scim_checker_client(base_url, token):
    """scim2-tester's client over httpx (the suite's HTTP client; scim2-client's own
    engine needs httpx2, which nothing else here uses)."""
    import httpx
    from scim2_client import BaseSyncSCIMClient
    from scim2_client.errors import RequestNetworkException

    class HttpxSCIMClient(BaseSyncSCIMClient):
        def __init__(self, client, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.client = client

        def _stays_under_base_url(self, endpoint):
            base = self.client.base_url
            url = self.client.build_request("GET", endpoint).url
            return (
                url.host == base.host
                and url.port == base.port
                and url.raw_path.startswith(base.raw_path)
            )

        def _parse_json(self, response):
            return response.json()

        def request(self, method, url, **kwargs):
            try:
                return self.client.request(method, url, **kwargs)
            except httpx.RequestError as exc:
                raise RequestNetworkException() from exc

    http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return HttpxSCIMClient(http)


GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def group_body(name, *member_ids, external_id=None):
    body = {"schemas": [GROUP], "displayName": name}
    if member_ids:
        body["members"] = [{"value": m} for m in member_ids]
    if external_id:
        body["externalId"] = external_id
    return body


def map_group(app, group, role, org="org-pix4d"):
    ctx = Context(app.extensions["orgauthz.policy"].current, app.config["CLOCK"])
    with db.connection_context():
        return scim.set_mapping(ctx, org, group, role)
