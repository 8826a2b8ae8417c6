"""The browser console for reviewers and org admins: server-rendered pages under /console.

- Login with an API key, kept in the Flask session (a signed cookie: HttpOnly, SameSite=Lax,
  Secure unless TESTING). The key is checked with ``ApiKey.find_active`` on every request,
  so a revoked key logs the console out. The person then names the *acting user*, sent as
  ``X-Actor-Id`` on every management call the console makes.
- Every form posts a CSRF token kept in the session (hidden field ``csrf``); a mismatch is
  400.
- Reads of the policy (matrix, diff, playground) call the engine code directly. Member,
  invitation and audit reads and every change go through the JSON API itself, in process
  (``werkzeug.test.Client`` on this app, with the session's key and acting user), so the
  console can never do what the API would refuse, and shows the API's problem detail when
  it refuses. Buttons are asked of the policy first (``management_denial``: ``decide`` on
  the same management targets the member routes build, then the what-if reason) and shown
  disabled with that reason as their tooltip.
"""

import hmac
import re
import secrets
from pathlib import Path
from urllib.parse import quote

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from werkzeug.test import Client

from access import refusals
from access.decisions import decide
from access.review import live_worlds
from access.targets import TargetBuilder
from authz import matrix as effective
from authz.diff import diff as policy_diff
from authz.engine import PolicyError, PolicySet
from authz.view import MANAGEMENT_TYPES
from models import ApiKey, Membership, Organization, Resource
from routes.context import policy
from routes.openapi import doc

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
)

STATIC = Path(__file__).resolve().parent / "static"
OPEN_ENDPOINTS = {"console.login", "console.static"}
# The pages are listed in /openapi.json like /docs (HTML); the fuzz test calls them with no
# session: every GET then answers the login form (200), every POST 400 (no CSRF token).
HTML = ["text/html"]
AUDIT_SHOWN = 50


@bp.record_once
def _cookie_settings(state) -> None:
    """The session cookie: HttpOnly, SameSite=Lax, Secure except under TESTING (the tests
    serve plain http) unless CONSOLE_COOKIE_SECURE says otherwise."""
    config = state.app.config
    config["SESSION_COOKIE_HTTPONLY"] = True
    config["SESSION_COOKIE_SAMESITE"] = "Lax"
    config["SESSION_COOKIE_SECURE"] = bool(
        config.get("CONSOLE_COOKIE_SECURE", not config.get("TESTING"))
    )


# ---------------------------------------------------------------- session, CSRF, API calls


@bp.before_request
def guard():
    """CSRF on every POST; a valid API key in the session for every page but the login."""
    if request.endpoint == "console.static":
        return None
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    if request.method == "POST":
        sent = request.form.get("csrf", "")
        if not hmac.compare_digest(sent.encode(), session["csrf"].encode()):
            abort(400, "the form's CSRF token does not match this session; reload the page")
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    key = session.get("api_key")
    row = ApiKey.find_active(key) if key else None
    if row is None:  # the login form in place (200), back here after logging in
        session.pop("api_key", None)
        if request.method == "POST":
            return redirect(url_for("console.login"))
        return render_template("console/login.html", error=None, next=_here(), title="Log in")
    g.console_key = g.api_key = row.name  # the access log names the key
    return None


@bp.after_request
def no_store(response):
    """Pages show members, emails and once-only invitation tokens: never cached."""
    if request.endpoint != "console.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.context_processor
def _common():
    return {
        "csrf": session.get("csrf", ""),
        "acting": session.get("actor"),
        "key_name": g.get("console_key"),
    }


def api(method: str, path: str, json=None, query=None, actor: bool = True):
    """Call this service's JSON API in process as the session's key and acting user.

    Returns (status, body). A fresh app context gives the inner request its own ``g``.
    """
    app = current_app._get_current_object()
    headers = {"Authorization": f"Bearer {session['api_key']}"}
    if g.get("request_id"):
        headers["X-Request-Id"] = g.request_id
    if actor and session.get("actor"):
        headers["X-Actor-Id"] = session["actor"]
    with app.app_context():
        response = Client(app).open(
            path, method=method, json=json, headers=headers, query_string=query
        )
        body = response.get_json(silent=True)
    return response.status_code, body


def q(value: str) -> str:
    return quote(value, safe="")


def _here() -> str:
    return request.full_path.rstrip("?")


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return url_for("console.home")


# ---------------------------------------------------------------- login, acting user


@bp.get("/static/<path:filename>")
@doc(content_types=["text/css", "text/javascript"])
def static(filename):
    """The console's stylesheet and script."""
    return send_from_directory(STATIC, filename, max_age=300)


@bp.route("/login", methods=["GET", "POST"])
@doc(content_types=HTML)
def login():
    """The API key form; a valid key starts the session."""
    error = None
    if request.method == "POST":
        key = request.form.get("api_key", "").strip()
        row = ApiKey.find_active(key) if key else None
        if row is None:
            error = "That API key is unknown or revoked."
        else:
            session.clear()
            session["api_key"] = key
            session["csrf"] = secrets.token_urlsafe(32)  # a new session, a new token
            return redirect(_safe_next(request.form.get("next")))
    return render_template(
        "console/login.html", error=error, next=request.values.get("next", ""), title="Log in"
    ), (401 if error else 200)


@bp.post("/logout")
@doc(status=302, content_types=HTML)
def logout():
    """Log out (forget the session)."""
    session.clear()
    return redirect(url_for("console.login"))


@bp.post("/actor")
@doc(status=302, content_types=HTML)
def set_actor():
    """Set the acting user (sent as X-Actor-Id)."""
    actor = request.form.get("actor", "").strip()
    if actor:
        session["actor"] = actor
    else:
        session.pop("actor", None)
    return redirect(_safe_next(request.form.get("next")))


@bp.get("/")
@doc(content_types=HTML)
def home():
    """Acting user, the acting user's organizations, and links to the other pages."""
    orgs, problem = [], None
    actor = session.get("actor")
    if actor:
        status, body = api("GET", f"/v1/users/{q(actor)}/orgs", query={"limit": 500})
        if status == 200:
            orgs = body["items"]
        else:
            problem = body
    return render_template("console/home.html", orgs=orgs, problem=problem, title="Console")


@bp.get("/open")
@doc(content_types=HTML)  # the login form without a session (as every page); else a 302
def open_org():
    """Open an organization's page by id (302 to it once logged in)."""
    org_id = request.args.get("org", "").strip()
    if not org_id:
        return redirect(url_for("console.home"))
    return redirect(url_for("console.org", org_id=org_id))


# ---------------------------------------------------------------- policies


@bp.get("/policies")
@doc(content_types=HTML)
def policies():
    """Each style's effective matrix, and the diff of two policy folders on the server."""
    live = policy()
    matrices = [effective.compute(live.engine(s), live.version) for s in live.styles]
    live_dir = str(live.directory)
    old_dir = request.args.get("old", "").strip() or live_dir
    new_dir = request.args.get("new", "").strip() or live_dir
    report, diff_error = None, None
    if "diff" in request.args:
        try:
            old, new = _policy_set(old_dir), _policy_set(new_dir)
            report = policy_diff(old, new, live_worlds())
        except (PolicyError, OSError) as exc:
            diff_error = str(exc)
    return render_template(
        "console/policies.html",
        title="Policies",
        matrices=matrices,
        version=live.version,
        old_dir=old_dir,
        new_dir=new_dir,
        report=report,
        diff_error=diff_error,
    )


def _policy_set(directory: str) -> PolicySet:
    """The live set for the live folder (no reload), else the folder loaded now."""
    live = policy()
    path = Path(directory)
    if not path.is_dir():
        raise PolicyError(f"{directory} is not a folder on the server")
    if path.resolve() == live.directory:
        return live
    return PolicySet(path)


# ---------------------------------------------------------------- playground


@bp.get("/playground")
@doc(content_types=HTML)
def playground():
    """Every action of a resource for an actor, each allowed or denied with its explanation."""
    live = policy()
    orgs = list(
        Organization.select(Organization.id, Organization.name, Organization.style)
        .order_by(Organization.id)
        .limit(1000)
    )
    org_id = request.args.get("org") or (orgs[0].id if orgs else "")
    actor = request.args.get("actor", "").strip() or session.get("actor") or ""
    facts = TargetBuilder()
    org = facts.org(org_id) if org_id else None
    types, resources, rows, error = [], [], [], None
    type_ = request.args.get("type") or "Organization"
    rid = request.args.get("id", "").strip()
    if org is not None and org.style in live.engines:
        engine = live.engine(org.style)
        types = [t for t in engine.types if t not in MANAGEMENT_TYPES]
        if type_ not in types:
            type_ = "Organization"
        if type_ == "Organization":
            rid = org_id
        resources = [
            r.rid
            for r in Resource.select(Resource.rid)
            .where((Resource.org == org_id) & (Resource.type == type_))
            .order_by(Resource.rid)
            .limit(500)
        ]
        if actor and rid:
            target = facts.target({"type": type_, "id": rid, "org": org_id})
            if target is not None and target.org.id != org_id:
                error = f"{type_} {rid} is registered in {target.org.id}, not {org_id}"
            for action in engine.permissions(type_):
                decision = decide(live, facts, actor, action, target, explain=True)
                rows.append({"action": action, "decision": decision})
    elif org_id:
        error = f"no organization {org_id!r}"
    return render_template(
        "console/playground.html",
        title="Playground",
        orgs=orgs,
        org_id=org_id,
        actor=actor,
        types=types,
        type_=type_,
        rid=rid,
        resources=resources,
        rows=rows,
        error=error,
        version=live.version,
    )


# ---------------------------------------------------------------- organization


@bp.get("/orgs/<org_id>")
@doc(content_types=HTML)
def org(org_id):
    """An organization: members, invitations, audit trail."""
    return _org_page(org_id)


@bp.post("/orgs/<org_id>/invite")
@doc(content_types=HTML)
def invite(org_id):
    """Invite several emails at once through the JSON API; shows each token once."""
    emails = [e for e in re.split(r"[\s,;]+", request.form.get("emails", "")) if e]
    role = request.form.get("role", "")
    status, body = api(
        "POST",
        f"/v1/orgs/{q(org_id)}/invitations",
        json={"invitations": [{"email": e, "role": role} for e in emails]},
    )
    what = f"invite {', '.join(emails) or 'nobody'} as {role}"
    return _org_page(org_id, _result(what, status, body, 201))


@bp.post("/orgs/<org_id>/members/<user_id>/role")
@doc(content_types=HTML)
def change_role(org_id, user_id):
    """Change a member's role through the JSON API."""
    role = request.form.get("role", "")
    status, body = api("PUT", f"/v1/orgs/{q(org_id)}/members/{q(user_id)}", json={"role": role})
    return _org_page(org_id, _result(f"change the role of {user_id} to {role}", status, body))


@bp.post("/orgs/<org_id>/members/<user_id>/remove")
@doc(content_types=HTML)
def remove(org_id, user_id):
    """Remove a member (or leave) through the JSON API."""
    status, body = api("DELETE", f"/v1/orgs/{q(org_id)}/members/{q(user_id)}")
    verb = "leave" if user_id == session.get("actor") else f"remove {user_id}"
    return _org_page(org_id, _result(verb, status, body, 204))


@bp.post("/orgs/<org_id>/invitations/<invitation_id>/cancel")
@doc(content_types=HTML)
def cancel(org_id, invitation_id):
    """Cancel a pending invitation through the JSON API."""
    status, body = api("DELETE", f"/v1/orgs/{q(org_id)}/invitations/{q(invitation_id)}")
    return _org_page(org_id, _result(f"cancel the invitation {invitation_id}", status, body))


def _result(what: str, status: int, body, ok: int = 200) -> dict:
    body = body if isinstance(body, dict) else {}
    tokens = [i for i in body.get("items", []) if i.get("token")] if status == ok else []
    return {"what": what, "ok": status == ok, "status": status, "body": body, "tokens": tokens}


def _org_page(org_id: str, result: dict | None = None):
    """Members, invitations and audit trail, each read through the JSON API; every button
    asked of the policy first."""
    actor = session.get("actor")
    if not actor:
        return redirect(url_for("console.home", need_actor=1))
    facts = TargetBuilder()  # read after any change this request made
    ref = facts.org(org_id)

    def management_denial(*args):
        return refusals.management_denial(policy(), facts, *args)

    if ref is None:
        return render_template(
            "console/org.html", title=org_id, org_id=org_id, missing=True, result=result
        ), 404
    search = request.args.get("q", "").strip()
    query = {"limit": 500, **({"q": search} if search else {})}
    m_status, m_body = api("GET", f"/v1/orgs/{q(org_id)}/members", query=query)
    i_status, i_body = api(
        "GET", f"/v1/orgs/{q(org_id)}/invitations", query={"status": "pending", "limit": 500}
    )
    audit, a_problem = _audit(org_id)
    o_status, o_body = api("GET", f"/v1/orgs/{q(org_id)}")

    engine = policy().engine(ref.style) if ref.style in policy().engines else None
    roles = engine.roles("Organization") if engine else []
    members = []
    if m_status == 200:
        for m in m_body["items"]:
            if m["status"] != "active":
                continue
            uid, role = m["user_id"], m["role"]
            is_self = uid == actor
            last = Membership.is_last_of_role(org_id, uid, role)
            changes = [
                {
                    "role": r,
                    "reason": management_denial(
                        actor,
                        "change_role",
                        ref,
                        "RoleChange",
                        {"from_role": role, "to_role": r, "is_self": is_self, "last_of_role": last},
                    ),
                }
                for r in roles
                if r != role
            ]
            remove_reason = management_denial(
                actor,
                "remove",
                ref,
                "Membership",
                {"role": role, "is_self": is_self, "last_of_role": last},
            )
            members.append(
                {**m, "is_self": is_self, "changes": changes, "remove_reason": remove_reason}
            )
    invitations = []
    if i_status == 200:
        for inv in i_body["items"]:
            reason = management_denial(actor, "cancel", ref, "Invitation", {"role": inv["role"]})
            invitations.append({**inv, "cancel_reason": reason})
    invite_roles = [
        {"role": r, "reason": management_denial(actor, "invite", ref, "Invitation", {"role": r})}
        for r in roles
    ]
    return render_template(
        "console/org.html",
        title=f"Organization {org_id}",
        org_id=org_id,
        org=o_body if o_status == 200 else {"id": org_id, "style": ref.style},
        missing=False,
        search=search,
        members=members,
        members_problem=None if m_status == 200 else m_body,
        members_more=m_status == 200 and bool(m_body.get("next_cursor")),
        invitations=invitations,
        invitations_problem=None if i_status == 200 else i_body,
        invite_roles=invite_roles,
        can_invite=any(r["reason"] is None for r in invite_roles),
        invite_reason=next((r["reason"] for r in invite_roles if r["reason"]), None),
        audit=audit,
        audit_problem=a_problem,
        result=result,
    )


def _audit(org_id: str):
    """The newest AUDIT_SHOWN events, newest first (the API lists oldest first)."""
    events, cursor = [], None
    for _ in range(20):
        query = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        status, body = api("GET", f"/v1/orgs/{q(org_id)}/audit", query=query)
        if status != 200:
            return [], body
        events = (events + body["items"])[-AUDIT_SHOWN:]
        cursor = body.get("next_cursor")
        if not cursor:
            break
    return list(reversed(events)), None
