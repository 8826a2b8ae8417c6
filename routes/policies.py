"""The policies as reviewers see them: styles with their names, and the effective matrix."""

from flask import Blueprint, Response, render_template, request

from access.errors import ApiError
from authz import matrix as effective
from routes.context import policy
from routes.openapi import doc

bp = Blueprint("policies", __name__, url_prefix="/v1/policies", template_folder="templates")


@bp.get("")
def list_policies():
    """Each style with its roles, resource types (with their roles and actions) and settings,
    read from the policy files."""
    snapshot = policy()
    items = []
    for style in snapshot.styles:
        engine = snapshot.engine(style)
        items.append(
            {
                "style": style,
                "roles": engine.roles("Organization"),
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
def matrix(style):
    """The effective role x action matrix: JSON, an HTML page (Accept: text/html) or
    Markdown (?format=markdown). ``all`` as the style gives every style on one page.
    Raises 404 for an unknown style."""
    snapshot = policy()
    styles = snapshot.styles if style == "all" else [style]
    if any(s not in snapshot.engines for s in styles):
        raise ApiError(404, f"no style {style!r}; styles: {', '.join(snapshot.styles)}")
    matrices = [effective.compute(snapshot.engine(s), snapshot.version) for s in styles]
    fmt = request.args.get("format")
    if fmt == "markdown":
        text = "\n".join(effective.to_markdown(m) for m in matrices)
        return Response(text, content_type="text/markdown; charset=utf-8")
    if fmt == "csv":
        return Response(
            "".join(effective.to_csv(m) for m in matrices), content_type="text/csv; charset=utf-8"
        )
    if fmt == "html" or (
        fmt is None
        and request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"
    ):
        title = "Effective role matrix" + ("" if style == "all" else f": {style}")
        return render_template(
            "matrix.html", title=title, matrices=matrices, version=snapshot.version
        )
    if fmt not in (None, "json"):
        raise ApiError(422, "format is json, html, markdown or csv", {"format": ["unknown"]})
    return matrices[0] if style != "all" else {"items": matrices, "next_cursor": None}
