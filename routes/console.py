"""The browser console for org admins and reviewers: server-rendered pages under /console.

- **Sessions are kept on the server** (``models.console.ConsoleSession``). Logging in with
  an API key starts one: the browser's cookie holds only a random session id (HttpOnly,
  SameSite=Lax, Path=/console, Secure unless TESTING), the table only its hash and the
  key's row, never the key. Every page looks the session up, so logging out (the row is
  deleted), a revoked key (its sessions are deleted) or an expired or idle session ends it
  at once, and a copied cookie is then worth nothing. The person then picks the *acting
  user* the console acts as, from the users by name.
- **CSRF**: every form posts a token: the session's own once logged in, else the login
  form's (a random value the login cookie also carries). A mismatch is 400.
- **Every read and change calls the domain core** (``access/``) with a Context like the
  API's (the live policy, the clock, this request's id, the session's key name for the
  audit trail), after the same input checks as the API (its marshmallow schemas): the
  console can do nothing the API would not. No SQL here: what a page needs that the API
  did not read is a function of ``access/`` like the others.
- **Only what the acting user may see**: each section is asked of the policy first; one it
  refuses is absent, or one line saying why in the policy's words, never an error box.
  Buttons and fields the policy refuses are shown disabled with the reason (their tooltip,
  or a line beside a field); the core decides again on submit.
- **Post/redirect/get**: a change answers 303 to the page it belongs to; its result (and
  the invitation tokens, shown once) waits in the session, sealed with a key derived from
  the session id that only the browser holds, and is shown by the next page of that
  organization, then forgotten. Reloading does not send the change again. Destructive
  changes confirm first (a disclosure holding the real button; closing an organization
  asks for its name typed, checked here).
- **Policy review**: a style picked by tabs, its resource and management matrices, the
  diff of the live policy against versions the server itself keeps (previous live
  versions, the last refused candidate), chosen by id from a directory listing, and what
  replaying the last logged decisions says of the candidate. No request names a folder or
  sends Polar; a GET writes nothing and never touches the live policy.
- Server-rendered, no build step, no inline script (the CSP allows none): one static
  script adds conveniences (copy buttons, selects that reload their form, a counter of
  boxes ticked); every page works without it.
"""

import base64
import datetime
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from marshmallow import ValidationError

from access import invitations, mail, members, orgs, refusals, resources, users
from access.decisions import decide
from access.errors import Conflict, DomainError, Invalid, NotFound
from access.events import TYPES as AUDIT_ACTIONS
from access.events import parse_subject_filter, role_label
from access.keys import outside
from access.review import live_worlds, would_change
from access.targets import TargetBuilder
from authz import matrix as effective
from authz.diff import diff as policy_diff
from authz.engine import PolicyError, PolicySet, policy_version
from authz.view import MANAGEMENT_TYPES
from models import ApiKey, transaction
from models.console import ConsoleSession
from ops import reload as staging
from routes.context import ctx, load, now, policy, touch_last_active
from routes.errors import flatten, status_of, title_of
from routes.openapi import doc
from routes.pagination import decode, encode
from routes.schemas import (
    AuditListArgs,
    GrantBatchRequest,
    GrantPut,
    InvitationBatchRequest,
    MemberListArgs,
    NewOrganizationRequest,
    OrganizationPatch,
    ResourcePut,
    RoleRequest,
    storable,
)

log = logging.getLogger("orgauthz.console")

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
PAGE = 50  # rows of a list page (members, invitations, resources, audit entries)
PICK = 200  # options of a picker (users, members, parents); a search narrows
SESSION_COOKIE = "orgauthz_console"
LOGIN_COOKIE = "orgauthz_console_login"  # the login form's CSRF token, before a session
COOKIE_MAX = 100  # longer cookie values are not ours: no lookup
SEEN_EVERY = datetime.timedelta(minutes=1)  # last_seen_at is written at most this often
ACTOR_MAX = 200  # a user id's column
KEY_MAX = 200


def _setting(name: str):
    """A console setting: CONSOLE_COOKIE_SECURE (default: not TESTING, the tests serve plain
    http), CONSOLE_SESSION_HOURS (12: a session's longest life) and CONSOLE_IDLE_MINUTES
    (120: it ends after that long without a page view); ORGAUTHZ_-prefixed in the
    environment."""
    config = current_app.config
    value = config.get(name)
    if name == "CONSOLE_COOKIE_SECURE":
        return not config.get("TESTING") if value is None else _flag(value)
    return float(DEFAULTS[name] if value is None else value)


DEFAULTS = {"CONSOLE_SESSION_HOURS": 12, "CONSOLE_IDLE_MINUTES": 120}


def _flag(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


# ---------------------------------------------------------------- session, CSRF


def _session_id() -> str | None:
    value = request.cookies.get(SESSION_COOKIE, "")
    return value if 0 < len(value) <= COOKIE_MAX else None


def _find_session():
    """The live session of this request's cookie, or None (and the cookie is dropped)."""
    session_id = _session_id()
    if session_id is None:
        return None
    idle = datetime.timedelta(minutes=_setting("CONSOLE_IDLE_MINUTES"))
    row = ConsoleSession.find(session_id, now(), idle)
    if row is None:
        g.cookies = {**g.get("cookies", {}), SESSION_COOKIE: None}
        return None
    row.seen(now(), SEEN_EVERY)
    return row


def _login_token() -> str:
    """The login form's CSRF token: the login cookie's, or a new one it will carry."""
    token = request.cookies.get(LOGIN_COOKIE, "")
    if not (20 <= len(token) <= COOKIE_MAX):
        token = g.get("login_csrf") or secrets.token_urlsafe(32)
        g.cookies = {**g.get("cookies", {}), LOGIN_COOKIE: token}
    g.login_csrf = token
    return token


def _same(sent: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


@bp.before_request
def guard():
    """CSRF on every POST; a live session for every page but the login."""
    if request.endpoint == "console.static":
        return None
    g.console = _find_session()
    if g.console is not None:
        g.console_key = g.api_key = g.console.key.name  # the access log names the key
        g.key_orgs = g.console.key.orgs()  # a key bound to organizations: those only
    if request.method == "POST":
        sent = request.form.get("csrf", "")
        if request.endpoint == "console.login":
            expected = request.cookies.get(LOGIN_COOKIE, "")
        else:
            expected = g.console.csrf if g.console is not None else ""
        if not _same(sent, expected):
            abort(400, "the form's CSRF token does not match this session; reload the page")
    if g.console is not None:
        org_id = (request.view_args or {}).get("org_id")
        if org_id is not None and outside(g.key_orgs, org_id):  # as no such organization
            page = render_template(
                "console/missing.html", title="No such organization", org_id=org_id, result=None
            )
            return page, 404
    if request.endpoint in OPEN_ENDPOINTS or g.console is not None:
        return None
    # No session: the login form in place (200), back here after logging in.
    _login_token()
    return render_template("console/login.html", error=None, next=_here(), title="Log in")


@bp.after_request
def finish(response):
    """Pages show members, emails and once-only invitation tokens: never cached. Sets or
    drops the cookies this request decided on."""
    if request.endpoint != "console.static":
        response.headers["Cache-Control"] = "no-store"
    secure = _setting("CONSOLE_COOKIE_SECURE")
    for name, value in g.get("cookies", {}).items():
        if value is None:
            response.delete_cookie(
                name, path="/console", secure=secure, httponly=True, samesite="Lax"
            )
        else:
            response.set_cookie(
                name, value, path="/console", secure=secure, httponly=True, samesite="Lax"
            )
    return response


@bp.context_processor
def _common():
    session = g.get("console")
    return {
        "csrf": session.csrf if session is not None else "",
        "login_csrf": g.get("login_csrf", ""),
        "acting": session.actor if session is not None else None,
        "key_name": g.get("console_key"),
    }


def _here() -> str:
    return request.full_path.rstrip("?")


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return url_for("console.home")


def _see_other(target: str):
    """Post/redirect/get: a 303 makes the browser GET the page."""
    return redirect(target, 303)


# ---------------------------------------------------------------- results shown once
#
# A change's result waits in the session row until the page shows it. It may carry
# invitation tokens, which the service otherwise never stores, so it is sealed with keys
# derived from the session id, which only the browser holds (the row has its hash):
# SHAKE-256 of (key, random nonce) as the keystream, then HMAC-SHA-256 over nonce and
# ciphertext. The database alone cannot read it.


def _keys(session_id: str) -> tuple:
    secret = session_id.encode()
    return (
        hmac.new(secret, b"console result: encrypt", hashlib.sha256).digest(),
        hmac.new(secret, b"console result: authenticate", hashlib.sha256).digest(),
    )


def _seal(session_id: str, data: dict) -> str:
    encrypt, authenticate = _keys(session_id)
    plain = json.dumps(data).encode()
    nonce = secrets.token_bytes(16)
    stream = hashlib.shake_256(encrypt + nonce).digest(len(plain))
    body = nonce + bytes(a ^ b for a, b in zip(plain, stream, strict=True))
    tag = hmac.new(authenticate, body, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(body + tag).decode()


def _unseal(session_id: str, sealed: str) -> dict | None:
    encrypt, authenticate = _keys(session_id)
    try:
        raw = base64.urlsafe_b64decode(sealed.encode())
    except ValueError:
        return None
    body, tag = raw[:-32], raw[-32:]
    if len(body) < 16 or not hmac.compare_digest(
        tag, hmac.new(authenticate, body, hashlib.sha256).digest()
    ):
        return None
    nonce, cipher = body[:16], body[16:]
    stream = hashlib.shake_256(encrypt + nonce).digest(len(cipher))
    try:
        return json.loads(bytes(a ^ b for a, b in zip(cipher, stream, strict=True)))
    except ValueError:
        return None


TOKENS_KEPT = datetime.timedelta(minutes=30)  # invitation tokens wait this long at most


def _keep_result(org_id: str, result: dict) -> None:
    kept = {**result, "org": org_id, "actor": g.console.actor}
    if result.get("tokens"):
        kept["until"] = (now() + TOKENS_KEPT).isoformat()
    g.console.set(flash=_seal(_session_id(), kept))


def _take_result(org_id: str) -> dict | None:
    """The result waiting for this organization's page. Shown once, then forgotten; but
    invitation tokens stay (a reload shows them again, and sends nothing again) until the
    person hides them, makes another change or logs out, or TOKENS_KEPT has passed: a
    reload never loses a token that was shown only on that page."""
    session = g.console
    if not session.flash:
        return None
    result = _unseal(_session_id(), session.flash)
    if result is not None and (
        result.get("org") != org_id or result.get("actor", g.console.actor) != g.console.actor
    ):
        return None  # another organization's, or acting user's: it waits for that page
    if result is not None and result.get("tokens"):
        try:
            until = datetime.datetime.fromisoformat(result.get("until", ""))
        except ValueError:
            until = now()
        if now() < until:
            result["kept"] = True
            return result
    session.set(flash=None)
    return None if result is not None and result.get("tokens") else result


@bp.post("/orgs/<org_id>/tokens/hide")
@doc(status=303, content_types=HTML)
def hide_tokens(org_id):
    """Forget the invitation tokens waiting in the session (they were sent)."""
    if g.console.flash:
        result = _unseal(_session_id(), g.console.flash)
        if result is None or result.get("org") == org_id:
            g.console.set(flash=None)
    return _see_other(url_for("console.org", org_id=org_id) + "#invite")


# ---------------------------------------------------------------- the core's answers


def _problem(exc: DomainError | ValidationError) -> dict:
    """A refusal of the core (or of the API's input checks) as the problem the API sends."""
    if isinstance(exc, ValidationError):
        errors = flatten(exc.messages)
        return {
            "status": 422,
            "title": "Unprocessable Content",
            "detail": f"invalid fields: {', '.join(sorted(errors))}",
            "errors": errors,
        }
    return {
        "status": status_of(exc),
        "title": title_of(exc),
        "detail": exc.detail,
        "errors": exc.errors,
    }


def _acting() -> str | None:
    """The session's acting user, marked active (as the API marks X-Actor-Id)."""
    actor = g.console.actor
    if actor:
        touch_last_active(actor)
    return actor


def _invalid(field: str, message: str) -> DomainError:
    """A 422 naming ``field``, as the API's input checks answer."""
    return Invalid(f"invalid fields: {field}", {field: [message]})


def _cursor(name: str, kind: str):
    """The sort key of the ``?<name>=`` cursor of a list, or None (also when it is not one
    this service gave: the list then starts at its first page, and ``g.bad_cursor`` says
    so on the page)."""
    try:
        return decode(request.args.get(name) or None, kind)
    except DomainError:
        g.bad_cursor = True
        return None


def _next_link(value, name: str = "cursor", **args) -> str | None:
    """The URL of the next page of this page's list (its other arguments kept)."""
    if value is None:
        return None
    query = {k: v for k, v in request.args.items() if k != name and v != ""}
    query.update({k: v for k, v in args.items() if v is not None})
    query[name] = encode(value)
    return url_for(request.endpoint, **request.view_args, **query)


def _first_link(name: str = "cursor") -> str | None:
    """The URL of the first page of this page's list, when this is a later page."""
    if not request.args.get(name):
        return None
    query = {k: v for k, v in request.args.items() if k != name and v != ""}
    return url_for(request.endpoint, **request.view_args, **query)


# ---------------------------------------------------------------- login, acting user


@bp.get("/static/<path:filename>")
@doc(content_types=["text/css", "text/javascript"])
def static(filename):
    """The console's stylesheet and script."""
    return send_from_directory(STATIC, filename, max_age=300)


@bp.route("/login", methods=["GET", "POST"])
@doc(content_types=HTML)
def login():
    """The API key form; a valid key starts a session (303 to the page asked for)."""
    error = None
    if request.method == "POST":
        key = request.form.get("api_key", "").strip()
        row = ApiKey.find_active(key) if 0 < len(key) <= KEY_MAX and storable(key) else None
        if row is None:
            error = "That API key is unknown or revoked."
        else:
            lifetime = datetime.timedelta(hours=_setting("CONSOLE_SESSION_HOURS"))
            with transaction():
                old = _session_id()
                if old is not None:  # a new login never keeps an old session id
                    ConsoleSession.end(old)
                session_id, _row = ConsoleSession.start(row, now(), lifetime)
            g.cookies = {SESSION_COOKIE: session_id, LOGIN_COOKIE: None}
            return _see_other(_safe_next(request.form.get("next")))
    _login_token()
    return render_template(
        "console/login.html", error=error, next=request.values.get("next", ""), title="Log in"
    ), (401 if error else 200)


@bp.post("/logout")
@doc(status=303, content_types=HTML)
def logout():
    """Log out: the session ends on the server, and its cookie is dropped."""
    ConsoleSession.end(_session_id())
    g.cookies = {SESSION_COOKIE: None}
    return _see_other(url_for("console.login"))


@bp.post("/actor")
@doc(status=303, content_types=HTML)
def set_actor():
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
    g.console.set(actor=actor or None)
    return _see_other(_safe_next(request.form.get("next")))


@bp.get("/")
@doc(content_types=HTML)
def home():
    """The acting user (picked from the users by name), the acting user's organizations,
    and links to the other pages."""
    return _home()


def _home(actor_problem: dict | None = None):
    actor = _acting()
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
def open_org():
    """Open an organization's page by id (303 to it once logged in): the pickers' target."""
    org_id = request.args.get("org", "").strip()
    if not org_id:
        return _see_other(url_for("console.home"))
    return _see_other(url_for("console.org", org_id=org_id))


# ---------------------------------------------------------------- organizations: the frame

ORG_ACTIONS = [
    "view",
    "view_members",
    "view_invitations",
    "view_audit",
    "edit_details",
    "edit_legal",
    "edit_billing",
    "close",
]


class Frame(dict):
    """What every page of an organization shows around its own content: the acting user,
    the organization (or why it may not be viewed), what the policy lets the acting user
    do on it, the tabs they may open, the organizations to switch to, and the result of
    the last change (once)."""

    __getattr__ = dict.get


def _frame(org_id: str, tab: str):
    """(Frame, None), or (None, a response): no acting user (303 home), no such
    organization (404)."""
    actor = _acting()
    if not actor:
        return None, _see_other(url_for("console.home", need_actor=1))
    result = _take_result(org_id)
    if result and result.get("kept") and tab != "members":  # the tokens: on the members page
        result = {"waiting": True, "ok": True, "org": org_id, "mailed": result.get("mailed")}
    ref = TargetBuilder().org(org_id) if storable(org_id) and len(org_id) <= 64 else None
    if ref is None:
        page = render_template(
            "console/missing.html", title="No such organization", org_id=org_id, result=result
        )
        return None, (page, 404)
    context = ctx(actor)
    can = orgs.abilities(context, actor, org_id, ORG_ACTIONS)
    body, view_reason = None, None
    try:
        body = orgs.get(context, actor, org_id)
    except DomainError as exc:
        view_reason = exc.detail
    closed = ref.is_closed
    tabs = []
    if not closed:
        tabs.append(("members", "Members", url_for("console.org", org_id=org_id)))
        tabs.append(("resources", "Resources", url_for("console.resources_page", org_id=org_id)))
        if can["view"] is None:
            tabs.append(("settings", "Settings", url_for("console.settings", org_id=org_id)))
    if closed or can["view_audit"] is None:
        tabs.append(("audit", "Audit trail", url_for("console.audit", org_id=org_id)))
    switch = []
    try:
        switch = users.orgs_page(actor, PICK, None, g.get("key_orgs"))["items"]
    except DomainError:
        pass
    frame = Frame(
        actor=actor,
        context=context,
        org_id=org_id,
        ref=ref,
        org=body,
        name=(body or {}).get("name") or org_id,
        view_reason=view_reason,
        can=can,
        closed=closed,
        tabs=tabs,
        tab=tab,
        switch=switch,
        result=result,
        engine=policy().engines.get(ref.style),
    )
    return frame, None


def _render(template: str, frame: Frame, status: int = 200, **extra):
    title = {
        "members": "Members",
        "resources": "Resources",
        "settings": "Settings",
        "audit": "Audit trail",
        "member": "Member",
        "resource": "Resource",
    }.get(frame.tab, "")
    return render_template(
        template, f=frame, title=f"{title} · {frame.name}", bad_cursor=g.get("bad_cursor"), **extra
    ), status


# ---------------------------------------------------------------- changes (post/redirect/get)


def _change(org_id: str, what: str, call, back: str, tokens: bool = False):
    """Make a change through the core as the acting user, keep its result for the next
    page of the organization, and send the browser to ``back`` (303). ``call(ctx, actor)``
    returns what the core returns."""
    actor = _acting()
    if not actor:
        return _see_other(url_for("console.home", need_actor=1))
    result = {"what": what, "ok": True, "status": 200, "problem": None, "tokens": []}
    try:
        done = call(ctx(actor), actor)
    except (DomainError, ValidationError) as exc:
        problem = _problem(exc)
        result.update(ok=False, status=problem["status"], problem=problem)
    else:
        if tokens:
            result["status"] = 201
            result["tokens"] = [
                {k: i[k] for k in ("email", "role", "expires_at", "token")} for i in done
            ]
            result["mailed"] = mail.mailing()  # the core queued each one's mail, or mails none
    _keep_result(org_id, result)
    return _see_other(back)


def _confirmed() -> None:
    """A destructive change is sent by the button its confirmation shows. Raises 422."""
    if request.form.get("confirm") != "yes":
        raise _invalid("confirm", "confirm the change first")


def _field(name: str, limit: int = 200) -> str:
    """A form field, stripped; 422 naming it when over ``limit`` or unstorable."""
    value = request.form.get(name, "").strip()
    if len(value) > limit or not storable(value):
        raise _invalid(name, f"at most {limit} characters, without NUL")
    return value


def _back(default: str) -> str:
    return _safe_next(request.form.get("back")) if request.form.get("back") else default


@bp.post("/orgs/<org_id>/invite")
@doc(status=303, content_types=HTML)
def invite(org_id):
    """Invite several emails at once; the members page then shows each token once."""
    emails = [e for e in re.split(r"[\s,;]+", request.form.get("emails", "")) if e]
    role = request.form.get("role", "")

    def call(context, actor):
        body = load(
            InvitationBatchRequest, {"invitations": [{"email": e, "role": role} for e in emails]}
        )
        return invitations.invite(context, actor, org_id, body["invitations"])

    what = f"invite {', '.join(emails) or 'nobody'} as {role_label(role)}"
    back = url_for("console.org", org_id=org_id) + "#invite"
    return _change(org_id, what, call, back, tokens=True)


@bp.post("/orgs/<org_id>/members/<user_id>/role")
@doc(status=303, content_types=HTML)
def change_role(org_id, user_id):
    """Change a member's role."""
    role = request.form.get("role", "")

    def call(context, actor):
        body = load(RoleRequest, {"role": role})
        return members.change_role(context, actor, org_id, user_id, body["role"])

    what = f"change the role of {user_id} to {role_label(role)}"
    return _change(org_id, what, call, _back(url_for("console.org", org_id=org_id)))


@bp.post("/orgs/<org_id>/members/<user_id>/remove")
@doc(status=303, content_types=HTML)
def remove(org_id, user_id):
    """Remove a member (or leave, for the acting user), once confirmed."""
    verb = "leave the organization" if user_id == g.console.actor else f"remove {user_id}"

    def call(context, actor):
        _confirmed()
        return members.remove(context, actor, org_id, [user_id])

    return _change(org_id, verb, call, url_for("console.org", org_id=org_id))


@bp.post("/orgs/<org_id>/invitations/<invitation_id>/cancel")
@doc(status=303, content_types=HTML)
def cancel(org_id, invitation_id):
    """Cancel a pending invitation, once confirmed."""

    def call(context, actor):
        _confirmed()
        return invitations.cancel(context, actor, org_id, invitation_id)

    back = url_for("console.org", org_id=org_id) + "#invitations"
    return _change(org_id, f"cancel the invitation {invitation_id}", call, back)


@bp.post("/orgs/<org_id>/invitations/<invitation_id>/resend")
@doc(status=303, content_types=HTML)
def resend(org_id, invitation_id):
    """Send a pending invitation again (the core's resend: the policy's ``invite`` on it, a
    new token, a new mail; the old token stops working); the new token is shown as after
    inviting."""

    def call(context, actor):
        return [invitations.resend(context, actor, org_id, invitation_id)]

    back = url_for("console.org", org_id=org_id) + "#invitations"
    return _change(org_id, f"resend the invitation {invitation_id}", call, back, tokens=True)


@bp.post("/orgs/<org_id>/members/<user_id>/grants")
@doc(status=303, content_types=HTML)
def assign(org_id, user_id):
    """Give a member one role on several resources at once (all or nothing, up to the
    policy's ``grant_batch_limit``: respond.io's assign-up-to-10-spaces form)."""
    picked = request.form.getlist("resource")
    role = request.form.get("role", "")
    type_ = request.form.get("type", "")

    def call(context, actor):
        body = load(
            GrantBatchRequest,
            {"grants": [{"type": type_, "id": rid, "role": role} for rid in picked]},
        )
        if not picked:
            raise _invalid("resource", "tick at least one")
        return resources.grant_batch(context, actor, org_id, user_id, body["grants"])

    what = f"give {user_id} the {role_label(role)} role on {len(picked)} {type_ or 'resource'}" + (
        "s" if len(picked) != 1 else ""
    )
    back = url_for("console.member", org_id=org_id, user_id=user_id, type=type_ or None)
    return _change(org_id, what, call, back)


# ---------------------------------------------------------------- members


@bp.get("/orgs/<org_id>")
@doc(content_types=HTML)
def org(org_id):
    """An organization's members (paged, searchable, with their grants), the invitation
    form, the pending invitations (paged); the result of the last change (once)."""
    frame, early = _frame(org_id, "members")
    if early:
        return early
    if frame.closed:
        return _render("console/members.html", frame)
    actor, context, ref = frame.actor, frame.context, frame.ref
    live, facts = context.policy, TargetBuilder()

    def management_denial(*args):
        return refusals.management_denial(live, facts, actor, *args)

    search = request.args.get("q", "").strip()
    member_rows, members_next, search_note = [], None, None
    if frame.can["view_members"] is None:
        q = None
        if search:
            try:
                q = load(MemberListArgs, {"q": search})["q"]
            except ValidationError as exc:
                search_note = "; ".join(
                    f"{k}: {', '.join(v)}" for k, v in flatten(exc.messages).items()
                )
        if search_note is None:
            after = _cursor("cursor", "pair")
            if after is not None and after[0] != "m":
                after = None
            page = members.list_page_with_grants(context, actor, org_id, PAGE, after, q=q)
            member_rows = [m for m in page["items"] if m["status"] == "active"]
            nxt = page["next"]
            members_next = nxt if nxt is not None and nxt[0] == "m" else None
    roles = frame.engine.roles("Organization") if frame.engine else []
    last = members.last_of_role(org_id, member_rows)
    shown = []
    for m in member_rows:
        uid, role = m["user_id"], m["role"]
        is_self = uid == actor
        facts_of = {"is_self": is_self, "last_of_role": last[uid]}
        changes = [
            {
                "role": r,
                "label": role_label(r),
                "reason": management_denial(
                    "change_role",
                    ref,
                    "RoleChange",
                    {"from_role": role, "to_role": r, **facts_of},
                ),
            }
            for r in roles
            if r != role
        ]
        remove_reason = management_denial("remove", ref, "Membership", {"role": role, **facts_of})
        shown.append({**m, "is_self": is_self, "changes": changes, "remove_reason": remove_reason})

    # Leaving, for one who cannot see the members table (a Member, a Reader): their own
    # membership only, posted to the same removal as the table's Leave (the core's remove,
    # as DELETE of one's own membership), asked of the policy as that removal asks it.
    leave, own_role = None, (frame.org or {}).get("role")
    if own_role and frame.can["view_members"] is not None:
        alone = members.last_of_role(org_id, [{"user_id": actor, "role": own_role}])[actor]
        facts_of = {"is_self": True, "last_of_role": alone}
        own = {"role": own_role, **facts_of}
        leave = {"role": own_role, "reason": management_denial("remove", ref, "Membership", own)}

    pending, pending_next = [], None
    if frame.can["view_invitations"] is None:
        after = _cursor("icursor", "str")
        page = invitations.list_page(context, actor, org_id, "pending", PAGE, after)
        for inv in page["items"]:
            reason = management_denial("cancel", ref, "Invitation", {"role": inv["role"]})
            again = management_denial("invite", ref, "Invitation", {"role": inv["role"]})
            pending.append({**inv, "cancel_reason": reason, "resend_reason": again})
        pending_next = page["next"]

    invite_roles = [
        {
            "role": r,
            "label": role_label(r),
            "reason": management_denial("invite", ref, "Invitation", {"role": r}),
        }
        for r in roles
    ]
    can_invite = any(r["reason"] is None for r in invite_roles)
    return _render(
        "console/members.html",
        frame,
        search=search,
        search_note=search_note,
        members=shown,
        leave=leave,
        members_next=_next_link(members_next),
        members_first=_first_link(),
        invitations=pending,
        invitations_next=_next_link(pending_next, "icursor"),
        invitations_first=_first_link("icursor"),
        invite_roles=invite_roles,
        can_invite=can_invite,
        invite_reason=None
        if can_invite
        else (invite_roles[-1]["reason"] if invite_roles else None),
        batch_limit=frame.engine.setting("invitation_batch_limit") if frame.engine else None,
    )


@bp.get("/orgs/<org_id>/members/<user_id>")
@doc(content_types=HTML)
def member(org_id, user_id):
    """One member: role, activity, grants (each revoked after a confirmation), and the form
    that gives them one role on several resources of a type at once."""
    frame, early = _frame(org_id, "member")
    if early:
        return early
    if frame.closed:
        return _render("console/members.html", frame)
    actor, context = frame.actor, frame.context
    person, reason = None, None
    try:
        person = members.get(context, actor, org_id, user_id)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            return _render("console/member.html", frame, 404, person=None, gone=exc.detail)
        reason = exc.detail
    if person is None:
        return _render("console/member.html", frame, person=None, reason=reason)
    revoke = resources.grant_reasons(context, actor, org_id, "revoke", person["grants"])
    grants = [{**gr, "revoke_reason": r} for gr, r in zip(person["grants"], revoke, strict=True)]
    # The assign form: one type at a time, its resources by search.
    engine = frame.engine
    types = [t for t in resources.callers_types(engine) if engine.roles(t)] if engine else []
    type_ = request.args.get("type") or (types[0] if types else "")
    if type_ not in types:
        type_ = types[0] if types else ""
    q = request.args.get("q", "").strip()[:200]
    options, options_next, roles = [], None, []
    if type_:
        after = _cursor("cursor", "int")
        found = resources.search(context, actor, org_id, q or None, type_, PAGE, after)
        options_next = found["next"]
        roles = engine.roles(type_)
        asks = [
            {"type": r["type"], "id": r["id"], "role": role}
            for r in found["items"]
            for role in roles
        ]
        reasons = resources.grant_reasons(context, actor, org_id, "grant", asks)
        by = {(a["id"], a["role"]): why for a, why in zip(asks, reasons, strict=True)}
        held = {(gr["type"], gr["id"]): gr["role"] for gr in person["grants"]}
        for r in found["items"]:
            per_role = {role: by[(r["id"], role)] for role in roles}
            refused = [why for why in per_role.values() if why]
            options.append(
                {
                    **r,
                    "name": (r.get("attributes") or {}).get("name"),
                    "held": held.get((r["type"], r["id"])),
                    "reason": refused[0] if len(refused) == len(roles) else None,
                }
            )
    limit = engine.setting("grant_batch_limit") if engine else None
    return _render(
        "console/member.html",
        frame,
        person=person,
        grants=grants,
        types=types,
        type_=type_,
        q=q,
        options=options,
        options_next=_next_link(options_next),
        options_first=_first_link(),
        roles=[{"role": r, "label": role_label(r)} for r in roles],
        limit=limit,
        can_assign=any(o["reason"] is None for o in options),
    )


# ---------------------------------------------------------------- resources


def _ref_args(prefix: str = "") -> dict | None:
    """``{type, id}`` from ``?<prefix>type=&<prefix>id=`` (both or neither), checked as the
    API checks ids; None for neither. Raises Invalid."""
    type_ = request.values.get(f"{prefix}type", "").strip()
    rid = request.values.get(f"{prefix}id", "").strip()
    if not type_ and not rid:
        return None
    if not type_ or not rid:
        raise _invalid(f"{prefix}id", "a type and an id together")
    if len(type_) > 64 or len(rid) > 200 or not storable(type_ + rid):
        raise _invalid(f"{prefix}id", "not a resource id")
    return {"type": type_, "id": rid}


def _resource_url(org_id: str, type_: str, rid: str, **extra) -> str:
    return url_for("console.resource", org_id=org_id, type=type_, id=rid, **extra)


@bp.get("/orgs/<org_id>/resources")
@doc(content_types=HTML)
def resources_page(org_id):
    """The organization's tree, one level at a time (``?parent_type=&parent_id=``; neither:
    the top level), paged, each resource with its grants; or a search of the whole tree
    (``?q=``, ``?type=``); the form that creates a resource here."""
    frame, early = _frame(org_id, "resources")
    if early:
        return early
    if frame.closed:
        return _render("console/members.html", frame)
    actor, context = frame.actor, frame.context
    note = None
    try:
        parent = _ref_args("parent_")
    except DomainError as exc:
        parent, note = None, exc.detail
    q = request.args.get("q", "").strip()[:200]
    type_ = request.args.get("type", "").strip()[:64]
    types = resources.callers_types(frame.engine) if frame.engine else []
    if type_ not in types:
        type_ = ""
    here, rows, nxt, level_reason, searching = None, [], None, None, bool(q or type_)
    after = _cursor("cursor", "int")
    if parent is not None:
        try:
            here = resources.detail(context, actor, org_id, parent["type"], parent["id"])
        except DomainError as exc:
            parent, note = None, exc.detail
    if searching:
        found = resources.search(context, actor, org_id, q or None, type_ or None, PAGE, after)
        rows, nxt = found["items"], found["next"]
    else:
        try:
            found = resources.level(context, actor, org_id, parent, PAGE, after)
            rows, nxt = found["items"], found["next"]
        except DomainError as exc:
            # The level is refused (a member who may not view the organization itself):
            # what they may view, wherever it sits, is listed instead.
            level_reason = exc.detail
            found = resources.search(context, actor, org_id, None, None, PAGE, after)
            rows, nxt = found["items"], found["next"]
    for r in rows:
        r["name"] = (r.get("attributes") or {}).get("name")
        r["holders"] = [{**gr, "label": role_label(gr["role"])} for gr in (r.get("grants") or [])]
    create = resources.creatable(context, actor, org_id, parent)
    containers = (
        {
            rel
            for t in types
            for rel in frame.engine.types[t].relations.values()
            if rel != "Organization"
        }
        if frame.engine
        else set()
    )
    create.sort(key=lambda c: (c["type"] not in containers, c["type"]))
    return _render(
        "console/resources.html",
        frame,
        parent=parent,
        here=here,
        rows=rows,
        rows_next=_next_link(nxt),
        rows_first=_first_link(),
        level_reason=level_reason,
        searching=searching,
        q=q,
        type_=type_,
        types=types,
        note=note,
        create=create,
        can_create=any(c["reason"] is None for c in create),
        containers=containers,
    )


@bp.get("/orgs/<org_id>/resource")
@doc(content_types=HTML)
def resource(org_id):
    """One resource (``?type=&id=``): where it sits, rename, move (a parent picker),
    delete (confirmed), its grants with revoke (confirmed) and the form that grants a
    member a role on it."""
    frame, early = _frame(org_id, "resource")
    if early:
        return early
    if frame.closed:
        return _render("console/members.html", frame)
    actor, context = frame.actor, frame.context
    try:
        ref = _ref_args()
        if ref is None:
            raise _invalid("id", "name a resource by type and id")
        item = resources.detail(context, actor, org_id, ref["type"], ref["id"])
    except DomainError as exc:
        status = status_of(exc) if isinstance(exc, NotFound | Invalid) else 200
        return _render("console/resource.html", frame, status, item=None, reason=exc.detail)
    type_, rid = item["type"], item["id"]
    grants, grants_reason = [], None
    try:
        grants = resources.grants_on(context, actor, org_id, type_, rid, PICK, None)["items"]
    except DomainError as exc:
        grants_reason = exc.detail
    can = resources.abilities(context, actor, org_id, type_, rid, [gr["role"] for gr in grants])
    for gr in grants:
        gr["label"] = role_label(gr["role"])
        gr["revoke_reason"] = can["revoke"].get(gr["role"])
    # The parent picker: the top level and every resource of a type it may sit in.
    parents = []
    if can["edit"] is None:
        for parent_type in can["parents"]:
            found = resources.search(context, actor, org_id, None, parent_type, PICK, None)
            parents += [p for p in found["items"] if not (p["type"] == type_ and p["id"] == rid)]
    members_pick, members_reason = [], None
    if grants_reason is None:
        try:
            page = members.list_page(context, actor, org_id, PICK, None)
            members_pick = [m for m in page["items"] if m["status"] == "active"]
        except DomainError as exc:
            members_reason = exc.detail
    grant_roles = [
        {"role": r, "label": role_label(r), "reason": why} for r, why in can["grant"].items()
    ]
    return _render(
        "console/resource.html",
        frame,
        item=item,
        name=(item.get("attributes") or {}).get("name") or "",
        can=can,
        grants=grants,
        grants_reason=grants_reason,
        parents=parents,
        members=members_pick,
        members_reason=members_reason,
        grant_roles=grant_roles,
        can_grant=any(r["reason"] is None for r in grant_roles),
    )


def _named() -> str:
    """The resource a form names, as a sentence says it."""
    return f"{request.form.get('type', '')} {request.form.get('id', '')}"[:300]


def _resource_change(org_id: str, what: str, call, back_to_tree: bool = False):
    """A change of one resource (the form's ``type`` and ``id``); back to its page (or to
    the form's ``back``: the tree level it sat in, the member's page)."""
    ref = {"type": request.form.get("type", ""), "id": request.form.get("id", "")}
    if back_to_tree or request.form.get("back"):
        back = _back(url_for("console.resources_page", org_id=org_id))
    else:
        back = _resource_url(org_id, ref["type"], ref["id"])

    def checked(context, actor):
        checked_ref = _ref_args()
        if checked_ref is None:
            raise _invalid("id", "name a resource by type and id")
        return call(context, actor, checked_ref)

    return _change(org_id, what, checked, back)


@bp.post("/orgs/<org_id>/resources")
@doc(status=303, content_types=HTML)
def create_resource(org_id):
    """Create a resource (type, id, name, the policy's shown attributes such as a License's
    kind) at the top level or in ``parent_type``/``parent_id``; back to that level."""
    type_ = request.form.get("type", "")
    rid = request.form.get("id", "").strip()
    parent_args = {
        "parent_type": request.form.get("parent_type") or None,
        "parent_id": request.form.get("parent_id") or None,
    }
    back = url_for("console.resources_page", org_id=org_id, **parent_args)

    def call(context, actor):
        parent = _ref_args("parent_")
        name = _field("name")
        attributes = {"name": name} if name else {}
        shown = f"attr_{type_}."  # the attributes the policy shows apart, of this type only
        for key, value in request.form.items():
            if key.startswith(shown) and value:
                attributes[key[len(shown) :]] = value
        body = load(ResourcePut, {"parent": parent, "attributes": attributes})
        if not rid:
            raise _invalid("id", "an id is needed")
        if len(rid) > 200 or len(type_) > 64 or not storable(rid + type_):
            raise _invalid("id", "at most 200 characters")
        made, created = resources.put(context, actor, org_id, type_, rid, body)
        if not created:
            raise Conflict(f"{type_} {rid!r} already exists here", {"id": ["taken"]})
        return made

    return _change(org_id, f"create {type_} {rid}", call, back)


@bp.post("/orgs/<org_id>/resources/rename")
@doc(status=303, content_types=HTML)
def rename_resource(org_id):
    """Rename a resource (its ``name`` attribute; the id names it for good)."""
    name = request.form.get("name", "").strip()

    def call(context, actor, ref):
        new = _field("name")
        current = resources.get(context, actor, org_id, ref["type"], ref["id"])
        attributes = {**(current.get("attributes") or {}), "name": new}
        if not new:
            attributes.pop("name")
        body = load(ResourcePut, {"attributes": attributes})
        return resources.put(context, actor, org_id, ref["type"], ref["id"], body)

    return _resource_change(org_id, f"rename {_named()} to {name[:200]!r}", call)


@bp.post("/orgs/<org_id>/resources/move")
@doc(status=303, content_types=HTML)
def move_resource(org_id):
    """Move a resource (and everything in it) to the parent picked (``parent``:
    ``Type/id``, or empty for the top level)."""
    picked = request.form.get("parent", "")

    def call(context, actor, ref):
        parent = None
        if picked:
            ptype, sep, pid = picked.partition("/")
            if not sep:
                raise _invalid("parent", "pick a parent from the list")
            parent = {"type": ptype, "id": pid}
        body = load(ResourcePut, {"parent": parent})
        return resources.put(context, actor, org_id, ref["type"], ref["id"], body)

    where = picked[:300].replace("/", " ", 1) if picked else "the top level"
    return _resource_change(org_id, f"move {_named()} to {where}", call)


@bp.post("/orgs/<org_id>/resources/delete")
@doc(status=303, content_types=HTML)
def delete_resource(org_id):
    """Delete a resource and its grants (with ``recursive``, everything in it), once
    confirmed; back to the level it sat in."""
    recursive = request.form.get("recursive") == "yes"

    def call(context, actor, ref):
        _confirmed()
        return resources.delete(context, actor, org_id, ref["type"], ref["id"], recursive)

    return _resource_change(org_id, f"delete {_named()}", call, back_to_tree=True)


@bp.post("/orgs/<org_id>/resources/grant")
@doc(status=303, content_types=HTML)
def grant(org_id):
    """Give a member a role on the resource."""
    user_id = request.form.get("user_id", "")
    role = request.form.get("role", "")

    def call(context, actor, ref):
        body = load(GrantPut, {"role": role})
        if not user_id or len(user_id) > 200 or not storable(user_id):
            raise _invalid("user_id", "pick a member")
        return resources.put_grant(
            context, actor, org_id, ref["type"], ref["id"], user_id, body["role"]
        )

    what = f"give {user_id[:200]} the {role_label(role[:64])} role on {_named()}"
    return _resource_change(org_id, what, call)


@bp.post("/orgs/<org_id>/resources/revoke")
@doc(status=303, content_types=HTML)
def revoke(org_id):
    """Take a member's role on the resource back, once confirmed."""
    user_id = request.form.get("user_id", "")

    def call(context, actor, ref):
        _confirmed()
        return resources.delete_grant(context, actor, org_id, ref["type"], ref["id"], user_id)

    return _resource_change(org_id, f"revoke the role of {user_id[:200]} on {_named()}", call)


# ---------------------------------------------------------------- organization settings

FIELDS = [
    ("name", "Name", "edit_details"),
    ("legal", "Legal details", "edit_legal"),
    ("billing", "Billing details", "edit_billing"),
]
EXTRA_ROWS = 2  # empty rows of a details form, for new entries


def _details_rows(value: dict) -> list:
    """The rows of a legal or billing form: each entry as text (JSON for one that is not a
    string, so it is kept as it was), then empty rows for new ones."""
    rows = []
    for key, item in (value or {}).items():
        text = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
        rows.append({"key": key, "value": text, "json": not isinstance(item, str)})
    return rows + [{"key": "", "value": "", "json": False}] * EXTRA_ROWS


def _details_from_form() -> dict:
    """A legal or billing object from the form's rows: an empty key is no row, an empty
    value drops the entry, a row marked JSON is read back as JSON when it still is."""
    keys, values = request.form.getlist("key"), request.form.getlist("value")
    marked = set(request.form.getlist("json"))
    found = {}
    for key, value in zip(keys, values, strict=False):
        key, value = key.strip(), value.strip()
        if not key or not value:
            continue
        if key in marked:
            try:
                found[key] = json.loads(value)
                continue
            except ValueError:
                pass
        found[key] = value
    return found


@bp.get("/orgs/<org_id>/settings")
@doc(content_types=HTML)
def settings(org_id):
    """Name, legal and billing details, each its own form, shown disabled with the policy's
    reason where it refuses; closing the organization (its name typed to confirm)."""
    frame, early = _frame(org_id, "settings")
    if early:
        return early
    if frame.closed:
        return _render("console/members.html", frame)
    fields = []
    for field, label, action in FIELDS:
        value = (frame.org or {}).get(field)
        fields.append(
            {
                "field": field,
                "label": label,
                "reason": frame.can[action],
                "value": value if field == "name" else None,
                "rows": (
                    _details_rows(value)
                    if frame.can[action] is None
                    else _details_rows(value)[: len(value or {})]
                )
                if field != "name"
                else None,
            }
        )
    return _render("console/settings.html", frame, fields=fields)


@bp.post("/orgs/<org_id>/settings/<field>")
@doc(status=303, content_types=HTML)
def update_settings(org_id, field):
    """Change one field of the organization: ``name``, ``legal`` or ``billing``."""
    labels = {f: label for f, label, _ in FIELDS}

    def call(context, actor):
        if field not in labels:
            raise _invalid("field", "one of name, legal, billing")
        value = request.form.get("name", "").strip() if field == "name" else _details_from_form()
        body = load(OrganizationPatch, {field: value})
        return orgs.update(context, actor, org_id, body)

    what = f"change the {labels.get(field, field[:20]).lower()}"
    return _change(org_id, what, call, url_for("console.settings", org_id=org_id))


@bp.post("/orgs/<org_id>/close")
@doc(status=303, content_types=HTML)
def close(org_id):
    """Close the organization, once its name is typed; then its audit trail (readable to
    those the policy lets ``view_closed_audit``)."""
    typed = request.form.get("confirm_name", "").strip()
    outcome = {}

    def call(context, actor):
        name = orgs.get(context, actor, org_id)["name"]
        if typed != name:
            raise _invalid("confirm_name", "type the organization's name exactly to close it")
        outcome["closed"] = orgs.close(context, actor, org_id)
        return outcome["closed"]

    _change(org_id, "close the organization", call, "")
    target = "console.audit" if outcome else "console.settings"
    return _see_other(url_for(target, org_id=org_id) + ("" if outcome else "#close"))


@bp.route("/orgs/new", methods=["GET", "POST"])
@doc(content_types=HTML)
def new_org():
    """Create an organization as the acting user (who gets the style's creator role)."""
    actor = _acting()
    if not actor:
        return _see_other(url_for("console.home", need_actor=1))
    live = policy()
    if request.method == "POST":
        made = {}

        def call(context, actor_):
            body = load(
                NewOrganizationRequest,
                {
                    "id": request.form.get("id", "").strip() or None,
                    "name": request.form.get("name", "").strip(),
                    "style": request.form.get("style", ""),
                },
            )
            made.update(orgs.create(context, actor_, body))
            return made

        name = request.form.get("name", "").strip()[:200]
        _change("", f"create the organization {name!r}", call, "")
        if made:  # its result moves to the new organization's page
            result = _take_result("")
            _keep_result(made["id"], result)
            return _see_other(url_for("console.org", org_id=made["id"]))
        return _see_other(url_for("console.new_org"))
    return render_template(
        "console/new_org.html",
        title="New organization",
        styles=live.styles,
        result=_take_result(""),
    )


# ---------------------------------------------------------------- audit trail

# The filter offers the actions an organization's trail records, each beside the event type
# it is published as (access/events.py: what /v1/events and webhooks say); it takes either
# name. The user.* actions are recorded with no organization (access/users.py), so no
# organization's trail holds them.
TRAIL_ACTIONS = [(a, t) for a, t in sorted(AUDIT_ACTIONS.items()) if not a.startswith("user.")]
ACTION_OF_EVENT = {t: a for a, t in AUDIT_ACTIONS.items()}


@bp.get("/orgs/<org_id>/audit")
@doc(content_types=HTML)
def audit(org_id):
    """The audit trail, newest first, in words, paged; filtered by actor, action, subject
    and time. A closed organization's stays readable to those the policy allows."""
    frame, early = _frame(org_id, "audit")
    if early:
        return early
    actor, context = frame.actor, frame.context
    raw = {
        k: request.args.get(k, "").strip() for k in ("actor", "action", "subject", "since", "until")
    }
    filters, filter_note = {}, None
    asked = {**raw, "action": ACTION_OF_EVENT.get(raw["action"], raw["action"])}
    try:
        loaded = load(AuditListArgs, {k: v for k, v in asked.items() if v})
        filters = {k: loaded[k] for k in ("actor", "action", "subject", "since", "until")}
        if filters["subject"] and parse_subject_filter(filters["subject"]) is None:
            raise _invalid("subject", "organization:<id>, user:<id>, resource:<Type>/<id>, ...")
    except ValidationError as exc:
        errors = flatten(exc.messages)
        filter_note = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(errors.items()))
        filters = {}
    except DomainError as exc:
        filter_note = "; ".join(f"{k}: {', '.join(v)}" for k, v in (exc.errors or {}).items())
        filters = {}
    after = _cursor("cursor", "int")
    entries, nxt, reason = [], None, None
    try:
        if frame.closed:
            page = orgs.closed_audit_page(
                context, actor, org_id, PAGE, after, order="desc", filters=filters
            )
            frame["org"] = page["org"]
            frame["name"] = page["org"]["name"]
        else:
            page = orgs.audit_page(
                context, actor, org_id, PAGE, after, order="desc", filters=filters
            )
        entries, nxt = page["items"], page["next"]
    except DomainError as exc:
        reason = exc.detail
    return _render(
        "console/audit.html",
        frame,
        entries=entries,
        entries_next=_next_link(nxt),
        entries_first=_first_link(),
        reason=reason,
        raw=raw,
        filter_note=filter_note,
        filtered=any(raw.values()),
        actions=TRAIL_ACTIONS,
        action=asked["action"],
    )


# ---------------------------------------------------------------- policies

VERSION_NAME = re.compile(r"[0-9a-f]{16}")
KEPT_SHOWN = 20  # the newest previous versions offered
RECORD_MAX = 4096  # bytes of refused.json read at most


def kept_versions(live: PolicySet) -> list:
    """The versions the server keeps, other than the live one, newest first: the snapshot
    of each previous live version (a folder named by its version under the snapshot root)
    and the last refused candidate (``refused/``, with its record). Only a directory
    listing: nothing is loaded, no name comes from a request."""
    root = Path(current_app.config["SNAPSHOT_DIR"])
    found = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        entries = []
    for entry in entries:
        try:
            if (
                VERSION_NAME.fullmatch(entry.name)
                and entry.name != live.version
                and entry.is_dir(follow_symlinks=False)
            ):
                when = datetime.datetime.fromtimestamp(entry.stat().st_mtime, datetime.UTC)
                found.append(
                    {
                        "id": entry.name,
                        "kind": "previous",
                        "version": entry.name,
                        "when": when.isoformat(timespec="seconds"),
                        "folder": Path(entry.path),
                    }
                )
        except OSError:
            continue
    found.sort(key=lambda k: k["when"], reverse=True)
    found = found[:KEPT_SHOWN]
    refused = _refused(root, live)
    return ([refused] if refused else []) + found


def _refused(root: Path, live: PolicySet) -> dict | None:
    folder = root / staging.REFUSED
    try:
        if folder.is_symlink() or not folder.is_dir():
            return None
        with open(folder / staging.REFUSED_RECORD, "rb") as f:
            record = json.loads(f.read(RECORD_MAX))
        version, when = record["version"], str(record.get("refused_at", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(version, str) or not VERSION_NAME.fullmatch(version):
        return None
    if version == live.version:
        return None
    return {
        "id": staging.REFUSED,
        "kind": "refused",
        "version": version,
        "when": when[:40],
        "folder": folder,
    }


class KeptVersionError(Exception):
    """A kept version could not be compared (said plainly; the log has the detail)."""


def _load_kept(kept: dict) -> PolicySet:
    """Load a kept version from its folder, after checking the files still hash to the
    version they were kept as. Raises KeptVersionError."""
    try:
        if policy_version(kept["folder"]) != kept["version"]:
            raise KeptVersionError("that version's files changed since it was kept")
        return PolicySet(kept["folder"])
    except (PolicyError, OSError) as exc:
        log.warning("kept policy version %s could not be loaded: %s", kept["version"], exc)
        raise KeptVersionError(
            "that version could not be loaded; the service log says why"
        ) from exc


REPLAY_LAST = 1000  # logged decisions the refused candidate is replayed on
CHANGES_SHOWN = 200  # rows of a diff or replay table shown at most


@bp.get("/policies")
@doc(content_types=HTML)
def policies():
    """One style at a time (tabs: ``?style=``): its resource matrix and its management
    matrix; the diff of the live policy against a version the server keeps (a previous
    live version, or the last refused candidate), by id; for the refused candidate, what
    replaying the last logged decisions says it would change."""
    live = policy()
    styles = list(live.styles)
    style = request.args.get("style") or (styles[0] if styles else "")
    if style not in styles:
        style = styles[0] if styles else ""
    show = request.args.get("show", "resources")
    if show not in ("resources", "management"):
        show = "resources"
    kept = kept_versions(live)
    against = request.args.get("against")
    report, diff_error, status, chosen, replay = None, None, 200, None, None
    if "old" in request.args or "new" in request.args:
        diff_error = (
            "The console compares the live policy only with the versions the server keeps: "
            "choose one below. Compare other folders on the server with "
            "flask --app app policy diff."
        )
        status = 400
    elif against is not None:
        chosen = next((k for k in kept if k["id"] == against), None)
        if chosen is None:
            diff_error = "That is not one of the versions the server keeps: choose one below."
            status = 400
        else:
            try:
                other = _load_kept(chosen)
            except KeptVersionError as exc:
                diff_error = str(exc).capitalize() + "."
            else:
                # A previous version: what changed since. The refused candidate: what it
                # would change, and on the decisions logged lately.
                old, new = (other, live) if chosen["kind"] == "previous" else (live, other)
                # A key bound to organizations: the matrices only (the live data and the
                # decision log are every organization's).
                scoped = g.get("key_orgs") is not None
                report = policy_diff(old, new, None if scoped else live_worlds())
                changed = [c.get("style") for c in report["matrix"] if c.get("style") in styles]
                if "style" not in request.args and changed:
                    style = changed[0]  # opened on the first style the change touches
                if chosen["kind"] == "refused" and not scoped:
                    replay = _replay(live, other)
    shown = None
    if style:  # the matrix shown, of the pair for_console gives (each costs up to a second)
        engine = live.engine(style)
        shown = {
            "style": style,
            "resources": effective.compute(engine, live.version) if show == "resources" else None,
            "management": effective.management(engine, live.version)
            if show == "management"
            else None,
        }
    return render_template(
        "console/policies.html",
        title="Policies",
        styles=styles,
        style=style,
        show=show,
        shown=shown,
        version=live.version,
        kept=kept,
        chosen=chosen,
        report=_split_report(report, style) if report else None,
        replay=replay,
        diff_error=diff_error,
        shown_max=CHANGES_SHOWN,
    ), status


def _split_report(report: dict, style: str) -> dict:
    """The diff report's rows of the style shown, and how many rows other styles have."""
    cells = report["matrix"]
    return {
        **report,
        "resource_cells": [
            c for c in cells if c.get("style") == style and c.get("kind") == "resource"
        ],
        "management_cells": [
            c for c in cells if c.get("style") == style and c.get("kind") == "management"
        ],
        "style_cells": [c for c in cells if "kind" not in c],
        "elsewhere": sum(1 for c in cells if c.get("style") != style and "kind" in c),
    }


def _replay(live: PolicySet, candidate: PolicySet) -> dict:
    """``would_change`` on the last REPLAY_LAST logged decisions, or why it was not run."""
    log_path = current_app.config.get("DECISION_LOG") or ""
    if not log_path or log_path == "off":
        return {"off": True}
    try:
        return would_change(live, candidate, log_path, last=REPLAY_LAST)
    except OSError as exc:
        log.warning("replay of the decision log failed: %s", exc)
        return {"failed": True}


# ---------------------------------------------------------------- playground


@bp.get("/playground")
@doc(content_types=HTML)
def playground():
    """Every action of a resource for an actor, each allowed or denied with its explanation."""
    live = policy()
    scope = g.get("key_orgs")
    orgs_shown = orgs.directory(None, 1000, None, scope)["items"]
    org_id = request.args.get("org") or (orgs_shown[0]["id"] if orgs_shown else "")
    actor = request.args.get("actor", "").strip() or g.console.actor or ""
    people = users.directory(None, PICK, None, scope)["items"]
    facts = TargetBuilder()
    facts.scope = scope
    org = facts.org(org_id) if org_id and storable(org_id) and len(org_id) <= 64 else None
    if outside(scope, org_id):
        org = None
    types, resource_ids, rows, error = [], [], [], None
    type_ = request.args.get("type") or "Organization"
    rid = request.args.get("id", "").strip()
    if org is not None and org.style in live.engines:
        engine = live.engine(org.style)
        types = [t for t in engine.types if t not in MANAGEMENT_TYPES]
        if type_ not in types:
            type_ = "Organization"
        if type_ == "Organization":
            rid = org_id
        else:
            resource_ids = resources.registered_ids(org_id, type_, 500)
        if actor and rid and storable(actor) and storable(rid):
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
        orgs=orgs_shown,
        org_id=org_id,
        actor=actor,
        people=people,
        types=types,
        type_=type_,
        rid=rid,
        resources=resource_ids,
        rows=rows,
        error=error,
        version=live.version,
    )
