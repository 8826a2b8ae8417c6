"""Every limit the API accepts fits the column the value is stored in (issue 12, item 12).

The first tests read both sides: the Length validators of every string the API loads (the
request and query schemas of every operation, found through the app's own OpenAPI marks,
nested ones included) and the Peewee ``max_length`` of the column each lands in; a new
string field must be classified here, stored or not. The others are the regressions: an
``X-Request-Id`` over 100 characters made every audited write answer 503 on PostgreSQL,
and so did a grant whose audit target ("Type/rid/grants/user") is longer than its column.
"""

import re

import pytest
from marshmallow import Schema, fields, validate

import routes.authzen as authzen
import routes.domains as domains
import routes.errors
from models import (
    AuditEvent,
    Grant,
    Invitation,
    Membership,
    Organization,
    Resource,
    Team,
    TeamGrant,
    User,
    Webhook,
    db,
)
from models.domains import Domain
from models.join_requests import JoinRequest
from routes import schemas
from routes.schemas.custom_roles import CustomRoleCreate, CustomRoleUpdate, Permission
from routes.schemas.teams import TeamCreate, TeamGrantPut, TeamUpdate
from tests.support import accept, invite

NOT_STORED = None  # the value is looked up, compared or hashed, never written to a column

# (the schema class that declares the field, field name): the column it lands in.
COLUMNS = {
    (schemas.Ref, "type"): Resource.type,
    (schemas.Ref, "id"): Resource.rid,
    (schemas.ResourceRef, "org"): Organization.id,
    (schemas.ResourceRef, "owner"): Resource.owner,
    (schemas.ResourceRef, "attributes"): NOT_STORED,  # JSON text, no limit (inline only)
    (schemas.ActorRef, "id"): User.id,
    (schemas.AuthorizeRequest, "action"): NOT_STORED,  # an action name, asked of the policy
    (schemas.PageArgs, "cursor"): NOT_STORED,  # decoded and bounded by routes/pagination.py
    (schemas.NewOrganizationRequest, "id"): Organization.id,
    (schemas.NewOrganizationRequest, "name"): Organization.name,
    (schemas.NewOrganizationRequest, "style"): Organization.style,
    (schemas.NewOrganizationRequest, "legal"): NOT_STORED,  # JSON text
    (schemas.NewOrganizationRequest, "billing"): NOT_STORED,  # JSON text
    (schemas.OrganizationPatch, "name"): Organization.name,
    (schemas.OrganizationPatch, "legal"): NOT_STORED,
    (schemas.OrganizationPatch, "billing"): NOT_STORED,
    (schemas.RoleRequest, "role"): Membership.role,
    (schemas.RemoveMembersRequest, "user_ids"): User.id,
    (schemas.MemberListArgs, "role"): Membership.role,
    (schemas.MemberListArgs, "q"): NOT_STORED,  # a search filter
    (schemas.InvitationItem, "email"): Invitation.email,
    (schemas.InvitationItem, "role"): Invitation.role,
    (schemas.InvitationListArgs, "status"): Invitation.status,
    (schemas.UserRequest, "email"): User.email,
    (schemas.UserRequest, "name"): User.name,
    (schemas.AcceptingUser, "id"): User.id,
    (schemas.AcceptInvitationRequest, "token"): NOT_STORED,  # only its hash is kept
    (schemas.UserPatch, "default_org_id"): User.default_org,
    (schemas.ResourcePut, "owner"): Resource.owner,
    (schemas.ResourcePut, "attributes"): NOT_STORED,  # JSON text
    (schemas.GrantPut, "role"): Grant.role,
    (schemas.GrantItem, "role"): Grant.role,
    (schemas.ListResourcesRequest, "action"): NOT_STORED,
    (schemas.ListResourcesRequest, "type"): Resource.type,
    (schemas.ListResourcesRequest, "org"): Organization.id,
    (schemas.ListResourcesRequest, "cursor"): NOT_STORED,
    (schemas.ListActorsRequest, "action"): NOT_STORED,
    (schemas.ListActorsRequest, "cursor"): NOT_STORED,
    # 1.1: filters of the new reads, events and webhooks
    (schemas.AuditListArgs, "actor"): NOT_STORED,
    (schemas.AuditListArgs, "action"): NOT_STORED,
    (schemas.AuditListArgs, "subject"): NOT_STORED,
    (schemas.AuditListArgs, "order"): NOT_STORED,
    (schemas.ResourceListArgs, "parent_type"): NOT_STORED,
    (schemas.ResourceListArgs, "parent_id"): NOT_STORED,
    (schemas.ResourceListArgs, "type"): NOT_STORED,
    (schemas.EventListArgs, "after"): NOT_STORED,  # a cursor
    (schemas.EventListArgs, "org"): NOT_STORED,
    (schemas.EventListArgs, "types"): NOT_STORED,
    (schemas.DeliveryListArgs, "status"): NOT_STORED,
    (schemas.WebhookRequest, "url"): Webhook.url,
    (schemas.WebhookRequest, "types"): NOT_STORED,  # JSON text, each one a known type
    (schemas.Consistency, "mode"): NOT_STORED,  # how fresh a decision's facts must be
    (schemas.Consistency, "token"): NOT_STORED,  # a change position, compared
    # 1.2: invitation role changes, key scopes, webhooks of some orgs, AuthZEN
    (schemas.InvitationRolePatch, "role"): Invitation.role,
    (schemas.KeyScopeRequest, "orgs"): Organization.id,  # ApiKeyOrg.org, a foreign key
    (schemas.WebhookRequest, "orgs"): NOT_STORED,  # JSON text, each one an org of the key
    # 1.3: request context, an org's IP allow-list, teams, verified domains, requests to join
    (schemas.AuthorizeRequest, "context"): NOT_STORED,  # read by the policy, then logged
    (schemas.ActionsRequest, "context"): NOT_STORED,
    (schemas.OrganizationPatch, "context"): NOT_STORED,
    (schemas.OrganizationPatch, "admin_ip_allowlist"): NOT_STORED,  # JSON text, 50 ranges
    (TeamCreate, "id"): Team.tid,
    (TeamCreate, "name"): Team.name,
    (TeamCreate, "role"): Team.role,
    (TeamUpdate, "name"): Team.name,
    (TeamUpdate, "role"): Team.role,
    (TeamGrantPut, "role"): TeamGrant.role,
    (domains.DomainRequest, "domain"): Domain.name,
    (domains.DomainPatch, "join_mode"): Domain.join_mode,
    (domains.DomainPatch, "join_role"): Domain.join_role,
    (domains.JoinRequestCreate, "role"): JoinRequest.role,
    (domains.JoinRequestCreate, "message"): JoinRequest.message,
    (domains.JoinRequestApprove, "role"): JoinRequest.role,
    (domains.JoinRequestListArgs, "status"): NOT_STORED,
    # 1.3 custom roles: the definition is JSON text of the organization's row
    # (Organization.custom_roles: names of 200, pairs checked against the style's delegable
    # list); the key is then a role every role column holds (test below)
    (CustomRoleCreate, "key"): Membership.role,
    (CustomRoleCreate, "name"): NOT_STORED,
    (CustomRoleUpdate, "name"): NOT_STORED,
    (Permission, "type"): NOT_STORED,
    (Permission, "permission"): NOT_STORED,
    # AuthZEN requests are decisions and list queries: nothing of them is written
    **{
        (cls, name): NOT_STORED
        for cls in (
            authzen._Entity,  # Subject and Resource; their type and id are /v1's Ref's
            authzen.Action,
            authzen.EvaluationRequest,
            authzen.EvaluationsRequest,
            authzen.Options,
            authzen.Page,
            authzen._Searched,  # SearchSubject and SearchResource
            authzen.SubjectSearchRequest,
            authzen.ResourceSearchRequest,
            authzen.ActionSearchRequest,
        )
        for name, field in cls._declared_fields.items()
        if isinstance(field, (fields.String, fields.Dict))
        # declared by the class itself (an inherited field is classified where it is declared)
        and all(field is not getattr(b, "_declared_fields", {}).get(name) for b in cls.__mro__[1:])
    },
}

STRINGS = (fields.String, fields.Dict)


def _schema_class(value):
    if isinstance(value, Schema):
        return type(value)
    if isinstance(value, type) and issubclass(value, Schema):
        return value
    return None


def loaded_schemas(app) -> set:
    """Every schema class the API loads: the request and query schemas of each operation
    (as the OpenAPI document declares them), and those nested in them."""
    todo = []
    for view in app.view_functions.values():
        marks = getattr(view, "__openapi__", {})
        todo += [c for c in (_schema_class(marks.get(k)) for k in ("request", "query")) if c]
    seen = set()
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        for field in cls._declared_fields.values():
            inner = field.inner if isinstance(field, fields.List) else field
            if isinstance(inner, fields.Nested):
                nested = _schema_class(inner.nested)
                if nested:
                    todo.append(nested)
    return seen


def declaring_class(cls, name):
    """The class that declares the field ``name`` that ``cls`` has (inherited fields are
    classified once, where they are declared)."""
    field = cls._declared_fields[name]
    for base in reversed(cls.__mro__):
        if name in getattr(base, "_declared_fields", {}) and base._declared_fields[name] is field:
            return base
    return cls


def string_fields(app):
    """(declaring class, name, field) of every string or object field the API loads."""
    out = {}
    for cls in loaded_schemas(app):
        for name, field in cls._declared_fields.items():
            inner = field.inner if isinstance(field, fields.List) else field
            if isinstance(inner, STRINGS):
                out[(declaring_class(cls, name), name)] = inner
    return out


def longest(field) -> int | None:
    """The longest value the field's validators let through (None: unbounded)."""
    bounds = []
    for v in field.validators:
        if isinstance(v, validate.Length) and v.max is not None:
            bounds.append(v.max)
        elif isinstance(v, validate.OneOf):
            bounds.append(max(len(c) for c in v.choices))
    return min(bounds) if bounds else None


@pytest.fixture
def app_only(tmp_path):
    from app import create_app

    return create_app(
        {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
        | {"DECISION_LOG": str(tmp_path / "d.log")}
    )


def test_every_loaded_string_is_classified(app_only):
    found = string_fields(app_only)
    unknown = sorted(f"{c.__name__}.{n}" for c, n in set(found) - set(COLUMNS))
    assert not unknown, f"say which column these land in (or NOT_STORED): {unknown}"
    gone = sorted(f"{c.__name__}.{n}" for c, n in set(COLUMNS) - set(found))
    assert not gone, f"no longer loaded; drop them here: {gone}"


def test_every_stored_string_fits_its_column(app_only):
    too_long = []
    for (cls, name), field in string_fields(app_only).items():
        column = COLUMNS[(cls, name)]
        if column is NOT_STORED:
            continue
        limit = longest(field)
        if limit is None or limit > column.max_length:
            too_long.append(
                f"{cls.__name__}.{name} allows {limit or 'any length'}, "
                f"{column.model._meta.table_name}.{column.column_name} holds {column.max_length}"
            )
    assert not too_long, too_long


def test_headers_and_path_parameters_fit_their_columns():
    assert schemas.REQUEST_ID_MAX <= AuditEvent.request_id.max_length
    assert routes.errors.ACTOR_ID_MAX <= AuditEvent.actor.max_length
    assert routes.errors.ACTOR_ID_MAX <= Invitation.invited_by.max_length
    assert routes.errors.ACTOR_ID_MAX <= Organization.created_by.max_length
    columns = {
        "org_id": Organization.id,
        "invitation_id": Invitation.id,
        "type_": Resource.type,
        "rid": Resource.rid,
        "user_id": User.id,
    }
    assert set(routes.errors.PATH_LIMITS) == set(columns)
    for name, column in columns.items():
        assert routes.errors.PATH_LIMITS[name] <= column.max_length, name


def _max(schema_cls, name) -> int:
    return longest(schema_cls._declared_fields[name])


def audit_targets() -> dict:
    """The longest audit target each kind of change writes (access/*.py builds them)."""
    type_, rid = _max(schemas.Ref, "type"), _max(schemas.Ref, "id")
    user = routes.errors.PATH_LIMITS["user_id"]
    return {
        "user:{user_id}": len("user:") + user,
        "organization:{org_id}": len("organization:") + routes.errors.PATH_LIMITS["org_id"],
        "invitation:{id}": len("invitation:") + Invitation.id.max_length,
        "resource:{type}/{rid}": len("resource:") + type_ + 1 + rid,
        "grant:{type}/{rid}/{user_id}": len("grant:") + type_ + 1 + rid + 1 + user,
        "role:{key}": len("role:") + _max(CustomRoleCreate, "key"),
    }


def test_a_custom_role_key_fits_every_role_column():
    key = _max(CustomRoleCreate, "key")
    columns = [
        Membership.role,
        Invitation.role,
        Grant.role,
        Team.role,
        TeamGrant.role,
        Domain.join_role,
        JoinRequest.role,
    ]
    too_short = [f"{c.model.__name__}.{c.name}" for c in columns if c.max_length < key]
    assert not too_short, f"a custom role key is up to {key} characters: {too_short}"


def test_every_audit_target_fits_its_column():
    too_long = {k: n for k, n in audit_targets().items() if n > AuditEvent.target.max_length}
    assert not too_long, f"audit_event.target holds {AuditEvent.target.max_length}: {too_long}"


def test_a_chain_deeper_than_its_columns_is_refused_naming_the_parent(api, demo):
    """``shape`` (the chain's types) and ``path`` (its primary keys) are varchar(2000): a
    chain nests as deep as both fit, and the write past that is a 422 naming ``parent``,
    never a database error; so is a move that would push a subtree past it."""
    base = "/v1/orgs/org-pix4d/resources/Folder"
    # The first 250 levels straight into the table (each through the model's one place
    # that derives path and shape), the rest through the API: the limit is what is tested.
    with db.connection_context():
        row = None
        for depth in range(250):
            child = Resource(org="org-pix4d", type="Folder", rid=f"deep-{depth}")
            child.place_under(row)
            child.save(force_insert=True)
            row = child
    parent, depth = "deep-249", 250
    while True:
        body = {"parent": {"type": "Folder", "id": parent}} if parent else {}
        response = api.put(f"{base}/deep-{depth}", body, actor="pix4d-owner")
        if response.status_code != 201:
            break
        parent, depth = f"deep-{depth}", depth + 1
        assert depth < 400, "no limit was reached"
    assert response.status_code == 422, response.get_json()
    assert "parent" in response.get_json()["errors"]
    assert depth >= 200  # the depth the service promises (README)
    assert api.put(f"{base}/other", {}, actor="pix4d-owner").status_code == 201
    below = api.put(
        f"{base}/other-child", {"parent": {"type": "Folder", "id": "other"}}, actor="pix4d-owner"
    )
    assert below.status_code == 201
    moved = api.put(
        f"{base}/other", {"parent": {"type": "Folder", "id": parent}}, actor="pix4d-owner"
    )
    assert moved.status_code == 422, moved.get_json()
    assert api.allowed("pix4d-reader", "view", {"type": "Folder", "id": parent})


# ---------------------------------------------------------------- regressions


@pytest.mark.parametrize(
    "sent, kept",
    [
        ("r" * 101, False),
        ("r" * 5000, False),
        ("abc\x01def", False),
        ("  ", False),
        ("r" * 100, True),
        ("req-2026-12-01/abc:42", True),
    ],
    ids=["101", "5000", "control", "blank", "100", "usual"],
)
def test_request_id_is_kept_or_replaced_never_an_error(api, demo, sent, kept):
    response = api.put(
        "/v1/orgs/org-pix4d/resources/Folder/f-request-id",
        {},
        actor="pix4d-owner",
        headers={"X-Request-Id": sent},
    )
    assert response.status_code == 201, response.get_json()
    answered = response.headers["X-Request-Id"]
    if kept:
        assert answered == sent
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", answered), answered
    with db.connection_context():
        event = AuditEvent.select().order_by(AuditEvent.id.desc()).first()
    assert event.action == "resource.create" and event.request_id == answered


def test_a_grant_with_the_longest_ids_is_written(api, demo):
    """Two 200-character ids (the documented limit): 201, and its audit event written (the
    audit target was varchar(400): 503 on PostgreSQL)."""
    uid, rid = "u" * 200, "f" * 200
    invited = invite(api, "pix4d-owner", "org-pix4d", ("long@example.com", "member"))
    assert invited.status_code == 201, invited.get_json()
    token = invited.get_json()["items"][0]["token"]
    assert accept(api, token, uid, email="long@example.com").status_code == 200
    path = f"/v1/orgs/org-pix4d/resources/Folder/{rid}"
    assert api.put(path, {}, actor="pix4d-owner").status_code == 201
    response = api.put(f"{path}/grants/{uid}", {"role": "reader"}, actor="pix4d-owner")
    assert response.status_code == 201, response.get_json()
    with db.connection_context():
        event = AuditEvent.select().order_by(AuditEvent.id.desc()).first()
    assert event.action == "grant.create" and event.target == f"grant:Folder/{rid}/{uid}"


def test_attributes_are_bounded_in_bytes(api, demo):
    """Attributes (and legal, billing) over 4 kB are a 422 naming them: an inline attribute
    of 0.9 MB in 300 checks once grew a worker from 153 to 436 MB."""
    big = {"kind": "cloud", "note": "x" * 5000}
    check = {
        "actor": {"id": "pix4d-reader"},
        "action": "use",
        "resource": {"type": "License", "id": "l-big", "org": "org-pix4d", "attributes": big},
    }
    response = api.post("/v1/authorize", check)
    assert response.status_code == 422 and "resource.attributes" in response.get_json()["errors"]
    put = api.put(
        "/v1/orgs/org-pix4d/resources/Folder/f-big", {"attributes": big}, actor="pix4d-owner"
    )
    assert put.status_code == 422 and "attributes" in put.get_json()["errors"]
    small = {**check, "resource": {**check["resource"], "attributes": {"kind": "cloud"}}}
    assert api.post("/v1/authorize", small).status_code == 200
