"""The policies as reviewers see them: styles with their names, and the effective matrix."""

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue

from access.errors import Invalid, NotFound
from authz import matrix as effective
from routes.context import policy
from routes.openapi import doc

bp = Blueprint("policies", __name__, url_prefix="/v1/policies", template_folder="templates")


@bp.get("")
def list_policies() -> ResponseReturnValue:
    """Each style with its roles (and their order for the management rules), resource types
    (with their roles and actions) and settings, read from the policy files."""
    snapshot = policy()
    items = []
    for style in snapshot.styles:
        engine = snapshot.engine(style)
        items.append(
            {
                "style": style,
                "roles": engine.roles("Organization"),
                # The order the management rules read (rank), highest first.
                "role_order": engine.role_order,
                "resource_types": [
                    {
                        "type": t.name,
                        "roles": t.roles,
                        "actions": t.permissions,
                        "relations": t.relations,
                    }
                    for t in engine.types.values()
                ],
                "settings": engine.settings,
                "files": [f.rsplit("/", 1)[-1] for f in engine.files],
            }
        )
    return {"items": items, "policy_version": snapshot.version, "next_cursor": None}


@bp.get("/<style>/matrix")
@doc(content_types=["application/json", "text/html", "text/markdown", "text/csv"])
def matrix(style: str) -> ResponseReturnValue:
    """The effective matrices of a style, computed by asking the policy: roles x actions on
    each resource type (``tables``), and the management actions (``management``: actor role
    x target role for invite-as, cancel, change-role from -> to, remove, leave and grant or
    revoke a role on each type, with the self and last-of-role cases). JSON, an HTML page
    (Accept: text/html), Markdown (?format=markdown) or CSV (?format=csv). ``all`` as the
    style gives every style. Raises 404 for an unknown style."""
    snapshot = policy()
    styles = snapshot.styles if style == "all" else [style]
    if any(s not in snapshot.engines for s in styles):
        raise NotFound(f"no style {style!r}; styles: {', '.join(snapshot.styles)}")
    fmt = request.args.get("format")
    if fmt not in (None, "json", "html", "markdown", "csv"):
        raise Invalid("format is json, html, markdown or csv", {"format": ["unknown"]})
    matrices = []
    for s in styles:
        engine = snapshot.engine(s)
        m = effective.compute(engine, snapshot.version)
        m["management"] = effective.management(engine, snapshot.version)
        matrices.append(m)
    if fmt == "markdown":
        text = "\n".join(
            effective.to_markdown(m) + "\n" + effective.management_markdown(m["management"])
            for m in matrices
        )
        return Response(text, content_type="text/markdown; charset=utf-8")
    if fmt == "csv":
        return Response(
            "".join(
                effective.to_csv(m) + effective.management_csv(m["management"]) for m in matrices
            ),
            content_type="text/csv; charset=utf-8",
        )
    if fmt == "html" or (
        fmt is None
        and request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"
    ):
        title = "Effective role matrix" + ("" if style == "all" else f": {style}")
        return render_template(
            "matrix.html", title=title, matrices=matrices, version=snapshot.version
        )
    return matrices[0] if style != "all" else {"items": matrices, "next_cursor": None}
