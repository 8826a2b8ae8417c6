"""The home page (the acting user, picked from the users by name, and their organizations),
opening an organization by id, and creating one."""

from flask import g, render_template, request, url_for
from flask.typing import ResponseReturnValue

from access import orgs, users
from access.context import Context
from access.errors import DomainError
from routes.console.base import HTML, PICK, acting, bp, safe_next, see_other, session
from routes.console.frame import change
from routes.console.results import keep_result, take_result
from routes.context import load, policy
from routes.openapi import doc
from routes.schemas import NewOrganizationRequest, storable

ACTOR_MAX = 200  # a user id's column


@bp.post("/actor")
@doc(status=303, content_types=HTML)
def set_actor() -> ResponseReturnValue:
    """Set the acting user (the user every management call is made as)."""
    actor = request.form.get("actor", "").strip()
    if len(actor) > ACTOR_MAX or not storable(actor):
        problem = {
            "status": 422,
            "title": "Unprocessable Content",
            "detail": f"a user id is at most {ACTOR_MAX} characters, without NUL or an "
            "unpaired surrogate",
            "errors": {"actor": ["not a user id"]},
        }
        return _home(actor_problem=problem), 422
    session().set(actor=actor or None)
    return see_other(safe_next(request.form.get("next")))


@bp.get("/")
@doc(content_types=HTML)
def home() -> ResponseReturnValue:
    """The acting user (picked from the users by name), the acting user's organizations,
    and links to the other pages."""
    return _home()


def _home(actor_problem: dict | None = None) -> str:
    actor = acting()
    who = request.args.get("who", "").strip()[:200]
    scope = g.get("key_orgs")
    people = users.directory(who or None, PICK, None, scope) if storable(who) else {"items": []}
    listed = people["items"]
    if actor and all(p["id"] != actor for p in listed):
        listed = [{"id": actor, "name": "", "email": ""}] + listed
    orgs_of, note = [], None
    if actor:
        try:
            orgs_of = users.orgs_page(actor, PICK, None, scope)["items"]
        except DomainError as exc:
            note = exc.detail  # not a registered user: said in one line
    return render_template(
        "console/home.html",
        people=listed,
        people_more=people.get("next") is not None,
        who=who,
        orgs=orgs_of,
        orgs_note=note,
        actor_problem=actor_problem,
        title="Console",
    )


@bp.get("/open")
@doc(content_types=HTML)  # the login form without a session (as every page); else a 303
def open_org() -> ResponseReturnValue:
    """Open an organization's page by id (303 to it once logged in): the pickers' target."""
    org_id = request.args.get("org", "").strip()
    if not org_id:
        return see_other(url_for("console.home"))
    return see_other(url_for("console.org", org_id=org_id))


@bp.route("/orgs/new", methods=["GET", "POST"])
@doc(content_types=HTML)
def new_org() -> ResponseReturnValue:
    """Create an organization as the acting user (who gets the style's creator role)."""
    if not acting():
        return see_other(url_for("console.home", need_actor=1))
    if request.method == "POST":
        made: dict = {}

        def call(context: Context, actor: str) -> dict:
            body = load(
                NewOrganizationRequest,
                {
                    "id": request.form.get("id", "").strip() or None,
                    "name": request.form.get("name", "").strip(),
                    "style": request.form.get("style", ""),
                },
            )
            made.update(orgs.create(context, actor, body))
            return made

        name = request.form.get("name", "").strip()[:200]
        change("", f"create the organization {name!r}", call, "")
        if made:  # its result moves to the new organization's page
            keep_result(made["id"], take_result("") or {})
            return see_other(url_for("console.org", org_id=made["id"]))
        return see_other(url_for("console.new_org"))
    return render_template(
        "console/new_org.html",
        title="New organization",
        styles=policy().styles,
        result=take_result(""),
    )
