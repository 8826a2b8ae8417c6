"""An organization's resources: the tree one level at a time (or a search of it), one
resource's page, and the changes made from them (create, rename, move, delete, grant,
revoke)."""

from typing import Any

from flask import request, url_for
from flask.typing import ResponseReturnValue

from access import members, resources
from access.context import Context
from access.errors import Conflict, DomainError, Invalid, NotFound
from access.events import role_label
from routes.console.base import HTML, PAGE, PICK, bp, cursor, first_link, next_link
from routes.console.frame import (
    Frame,
    back_to,
    change,
    closed_page,
    confirmed,
    form_field,
    invalid,
    open_frame,
    render,
)
from routes.context import load
from routes.errors import status_of
from routes.openapi import doc
from routes.schemas import GrantPut, ResourcePut, storable


def ref_args(prefix: str = "") -> dict | None:
    """``{type, id}`` from ``?<prefix>type=&<prefix>id=`` (both or neither), checked as the
    API checks ids; None for neither. Raises Invalid."""
    type_ = request.values.get(f"{prefix}type", "").strip()
    rid = request.values.get(f"{prefix}id", "").strip()
    if not type_ and not rid:
        return None
    if not type_ or not rid:
        raise invalid(f"{prefix}id", "a type and an id together")
    if len(type_) > 64 or len(rid) > 200 or not storable(type_ + rid):
        raise invalid(f"{prefix}id", "not a resource id")
    return {"type": type_, "id": rid}


def _level(frame: Frame, parent: dict | None, search: tuple[str, str]) -> dict:
    """The rows of the tree's page: a search (``q``, ``type``) of the whole tree, else the
    level under ``parent``; a level the acting user may not see is replaced by what they
    may view, wherever it sits, and ``level_reason`` says why."""
    context, actor, org_id = frame.context, frame.actor, frame.org_id
    after = cursor("cursor", "int")
    q, type_ = search
    level_reason = None
    if q or type_:
        found = resources.search(context, actor, org_id, q or None, type_ or None, PAGE, after)
    else:
        try:
            found = resources.level(context, actor, org_id, parent, PAGE, after)
        except DomainError as exc:
            level_reason = exc.detail
            found = resources.search(context, actor, org_id, None, None, PAGE, after)
    rows = found["items"]
    for r in rows:
        r["name"] = (r.get("attributes") or {}).get("name")
        r["holders"] = [{**gr, "label": role_label(gr["role"])} for gr in (r.get("grants") or [])]
    return {"rows": rows, "rows_next": next_link(found["next"]), "level_reason": level_reason}


def _creatable(frame: Frame, parent: dict | None, types: list) -> dict:
    """The types that may be created here, containers first, each with why not."""
    create = resources.creatable(frame.context, frame.actor, frame.org_id, parent)
    engine = frame.engine
    containers = (
        {rel for t in types for rel in engine.types[t].relations.values() if rel != "Organization"}
        if engine
        else set()
    )
    create.sort(key=lambda c: (c["type"] not in containers, c["type"]))
    can_create = any(c["reason"] is None for c in create)
    return {"create": create, "can_create": can_create, "containers": containers}


@bp.get("/orgs/<org_id>/resources")
@doc(content_types=HTML)
def resources_page(org_id: str) -> ResponseReturnValue:
    """The organization's tree, one level at a time (``?parent_type=&parent_id=``; neither:
    the top level), paged, each resource with its grants; or a search of the whole tree
    (``?q=``, ``?type=``); the form that creates a resource here."""
    frame = open_frame(org_id, "resources")
    if not isinstance(frame, Frame):
        return frame
    if frame.closed:
        return closed_page(frame)
    note, here = None, None
    try:
        parent = ref_args("parent_")
        if parent is not None:
            here = resources.detail(
                frame.context, frame.actor, org_id, parent["type"], parent["id"]
            )
    except DomainError as exc:
        parent, note = None, exc.detail
    q = request.args.get("q", "").strip()[:200]
    type_ = request.args.get("type", "").strip()[:64]
    types = resources.callers_types(frame.engine) if frame.engine else []
    if type_ not in types:
        type_ = ""
    return render(
        "console/resources.html",
        frame,
        parent=parent,
        here=here,
        rows_first=first_link(),
        searching=bool(q or type_),
        q=q,
        type_=type_,
        types=types,
        note=note,
        **_level(frame, parent, (q, type_)),
        **_creatable(frame, parent, types),
    )


def _holders(frame: Frame, type_: str, rid: str) -> tuple[list, str | None]:
    """The grants on the resource, or why they may not be seen."""
    try:
        page = resources.grants_on(frame.context, frame.actor, frame.org_id, type_, rid, PICK, None)
    except DomainError as exc:
        return [], exc.detail
    found: list = page["items"]
    return found, None


def _pickers(frame: Frame, item: dict, can: dict, grants_reason: str | None) -> dict:
    """The parent picker (the top level and every resource of a type it may sit in) and
    the members a role may be granted to (or why they may not be listed)."""
    context, actor, org_id = frame.context, frame.actor, frame.org_id
    parents = []
    if can["edit"] is None:
        for parent_type in can["parents"]:
            found = resources.search(context, actor, org_id, None, parent_type, PICK, None)
            parents += [
                p for p in found["items"] if (p["type"], p["id"]) != (item["type"], item["id"])
            ]
    members_pick, members_reason = [], None
    if grants_reason is None:
        try:
            page = members.list_page(context, actor, org_id, PICK, None)
            members_pick = [m for m in page["items"] if m["status"] == "active"]
        except DomainError as exc:
            members_reason = exc.detail
    return {"parents": parents, "members": members_pick, "members_reason": members_reason}


@bp.get("/orgs/<org_id>/resource")
@doc(content_types=HTML)
def resource(org_id: str) -> ResponseReturnValue:
    """One resource (``?type=&id=``): where it sits, rename, move (a parent picker),
    delete (confirmed), its grants with revoke (confirmed) and the form that grants a
    member a role on it."""
    frame = open_frame(org_id, "resource")
    if not isinstance(frame, Frame):
        return frame
    if frame.closed:
        return closed_page(frame)
    context, actor = frame.context, frame.actor
    try:
        ref = ref_args()
        if ref is None:
            raise invalid("id", "name a resource by type and id")
        item = resources.detail(context, actor, org_id, ref["type"], ref["id"])
    except DomainError as exc:
        status = status_of(exc) if isinstance(exc, NotFound | Invalid) else 200
        return render("console/resource.html", frame, status, item=None, reason=exc.detail)
    grants, grants_reason = _holders(frame, item["type"], item["id"])
    held = [gr["role"] for gr in grants]
    can = resources.abilities(context, actor, org_id, item["type"], item["id"], held)
    for gr in grants:
        gr["label"] = role_label(gr["role"])
        gr["revoke_reason"] = can["revoke"].get(gr["role"])
    grant_roles = [
        {"role": r, "label": role_label(r), "reason": why} for r, why in can["grant"].items()
    ]
    return render(
        "console/resource.html",
        frame,
        item=item,
        name=(item.get("attributes") or {}).get("name") or "",
        can=can,
        grants=grants,
        grants_reason=grants_reason,
        grant_roles=grant_roles,
        can_grant=any(r["reason"] is None for r in grant_roles),
        **_pickers(frame, item, can, grants_reason),
    )


def _named() -> str:
    """The resource a form names, as a sentence says it."""
    return f"{request.form.get('type', '')} {request.form.get('id', '')}"[:300]


def _resource_change(
    org_id: str, what: str, call: Any, back_to_tree: bool = False
) -> ResponseReturnValue:
    """A change of one resource (the form's ``type`` and ``id``); back to its page (or to
    the form's ``back``: the tree level it sat in, the member's page). ``call(ctx, actor,
    ref)`` makes it."""
    type_, rid = request.form.get("type", ""), request.form.get("id", "")
    if back_to_tree or request.form.get("back"):
        back = back_to(url_for("console.resources_page", org_id=org_id))
    else:
        back = url_for("console.resource", org_id=org_id, type=type_, id=rid)

    def checked(context: Context, actor: str) -> Any:
        ref = ref_args()
        if ref is None:
            raise invalid("id", "name a resource by type and id")
        return call(context, actor, ref)

    return change(org_id, what, checked, back)


def _attributes(type_: str) -> dict:
    """A new resource's attributes from the form: its name, and the attributes the policy
    shows apart (``attr_<type>.<name>``), of its type only."""
    name = form_field("name")
    attributes = {"name": name} if name else {}
    shown = f"attr_{type_}."
    for key, value in request.form.items():
        if key.startswith(shown) and value:
            attributes[key[len(shown) :]] = value
    return attributes


@bp.post("/orgs/<org_id>/resources")
@doc(status=303, content_types=HTML)
def create_resource(org_id: str) -> ResponseReturnValue:
    """Create a resource (type, id, name, the policy's shown attributes such as a License's
    kind) at the top level or in ``parent_type``/``parent_id``; back to that level."""
    type_ = request.form.get("type", "")
    rid = request.form.get("id", "").strip()
    parent_args: dict[str, Any] = {
        "parent_type": request.form.get("parent_type") or None,
        "parent_id": request.form.get("parent_id") or None,
    }
    back = url_for("console.resources_page", org_id=org_id, **parent_args)

    def call(context: Context, actor: str) -> dict:
        parent = ref_args("parent_")
        body = load(ResourcePut, {"parent": parent, "attributes": _attributes(type_)})
        if not rid:
            raise invalid("id", "an id is needed")
        if len(rid) > 200 or len(type_) > 64 or not storable(rid + type_):
            raise invalid("id", "at most 200 characters")
        made, created = resources.put(context, actor, org_id, type_, rid, body)
        if not created:
            raise Conflict(f"{type_} {rid!r} already exists here", {"id": ["taken"]})
        return made

    return change(org_id, f"create {type_} {rid}", call, back)


@bp.post("/orgs/<org_id>/resources/rename")
@doc(status=303, content_types=HTML)
def rename_resource(org_id: str) -> ResponseReturnValue:
    """Rename a resource (its ``name`` attribute; the id names it for good)."""
    name = request.form.get("name", "").strip()

    def call(context: Context, actor: str, ref: dict) -> Any:
        new = form_field("name")
        current = resources.get(context, actor, org_id, ref["type"], ref["id"])
        attributes = {**(current.get("attributes") or {}), "name": new}
        if not new:
            attributes.pop("name")
        body = load(ResourcePut, {"attributes": attributes})
        return resources.put(context, actor, org_id, ref["type"], ref["id"], body)

    return _resource_change(org_id, f"rename {_named()} to {name[:200]!r}", call)


@bp.post("/orgs/<org_id>/resources/move")
@doc(status=303, content_types=HTML)
def move_resource(org_id: str) -> ResponseReturnValue:
    """Move a resource (and everything in it) to the parent picked (``parent``:
    ``Type/id``, or empty for the top level)."""
    picked = request.form.get("parent", "")

    def call(context: Context, actor: str, ref: dict) -> Any:
        parent = None
        if picked:
            ptype, sep, pid = picked.partition("/")
            if not sep:
                raise invalid("parent", "pick a parent from the list")
            parent = {"type": ptype, "id": pid}
        body = load(ResourcePut, {"parent": parent})
        return resources.put(context, actor, org_id, ref["type"], ref["id"], body)

    where = picked[:300].replace("/", " ", 1) if picked else "the top level"
    return _resource_change(org_id, f"move {_named()} to {where}", call)


@bp.post("/orgs/<org_id>/resources/delete")
@doc(status=303, content_types=HTML)
def delete_resource(org_id: str) -> ResponseReturnValue:
    """Delete a resource and its grants (with ``recursive``, everything in it), once
    confirmed; back to the level it sat in."""
    recursive = request.form.get("recursive") == "yes"

    def call(context: Context, actor: str, ref: dict) -> Any:
        confirmed()
        return resources.delete(context, actor, org_id, ref["type"], ref["id"], recursive)

    return _resource_change(org_id, f"delete {_named()}", call, back_to_tree=True)


@bp.post("/orgs/<org_id>/resources/grant")
@doc(status=303, content_types=HTML)
def grant(org_id: str) -> ResponseReturnValue:
    """Give a member a role on the resource."""
    user_id = request.form.get("user_id", "")
    role = request.form.get("role", "")

    def call(context: Context, actor: str, ref: dict) -> Any:
        body = load(GrantPut, {"role": role})
        if not user_id or len(user_id) > 200 or not storable(user_id):
            raise invalid("user_id", "pick a member")
        return resources.put_grant(
            context, actor, org_id, ref["type"], ref["id"], user_id, body["role"]
        )

    what = f"give {user_id[:200]} the {role_label(role[:64])} role on {_named()}"
    return _resource_change(org_id, what, call)


@bp.post("/orgs/<org_id>/resources/revoke")
@doc(status=303, content_types=HTML)
def revoke(org_id: str) -> ResponseReturnValue:
    """Take a member's role on the resource back, once confirmed."""
    user_id = request.form.get("user_id", "")

    def call(context: Context, actor: str, ref: dict) -> Any:
        confirmed()
        return resources.delete_grant(context, actor, org_id, ref["type"], ref["id"], user_id)

    return _resource_change(org_id, f"revoke the role of {user_id[:200]} on {_named()}", call)
