"""The browser console for reviewers and org admins: server-rendered pages under /console.

- **Sessions are kept on the server** (``models.console.ConsoleSession``). Logging in with
  an API key starts one: the browser's cookie holds only a random session id (HttpOnly,
  SameSite=Lax, Path=/console, Secure unless TESTING), the table only its hash and the
  key's row, never the key. Every page looks the session up, so logging out (the row is
  deleted), a revoked key (its sessions are deleted) or an expired or idle session ends it
  at once, and a copied cookie is then worth nothing. The person then names the *acting
  user* the console acts as.
- **CSRF**: every form posts a token: the session's own once logged in, else the login
  form's (a random value the login cookie also carries). A mismatch is 400.
- **Every read and change calls the domain core** (``access/``) with a Context like the
  API's (the live policy, the clock, this request's id, the session's key name for the
  audit trail), after the same input checks as the API (its marshmallow schemas): the
  console can do nothing the API would not, and shows the core's refusal (status and
  detail) as the API would. Buttons are asked of the policy first (``management_denial``
  on a fresh TargetBuilder, the same management targets the core builds) and shown disabled
  with the reason as their tooltip; the core decides again on submit.
- **Post/redirect/get**: a change answers 303 to the organization's page; its result
  (and the invitation tokens, shown once) waits in the session, sealed with a key derived
  from the session id that only the browser holds, and is shown by the next view of that
  page, then forgotten. Reloading the page does not send the change again.
- **Policy diff**: the live policy against versions the server itself keeps (the
  snapshots of previous live versions under the SNAPSHOT_DIR setting, and the last
  candidate a reload refused), chosen by id from a directory listing. No request names a
  folder or sends Polar; a GET writes nothing and never touches the live policy.
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
from http import HTTPStatus
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

from access import invitations, members, orgs, refusals, users
from access.decisions import decide
from access.errors import ApiError
from access.review import live_worlds
from access.targets import TargetBuilder
from authz import matrix as effective
from authz.diff import diff as policy_diff
from authz.engine import PolicyError, PolicySet, policy_version
from authz.view import MANAGEMENT_TYPES
from models import ApiKey, AuditEvent, Membership, Organization, Resource, transaction
from models.console import ConsoleSession
from ops import reload as staging
from routes.context import ctx, load, now, policy, touch_last_active
from routes.errors import flatten
from routes.openapi import doc
from routes.schemas import InvitationBatchRequest, MemberListArgs, RoleRequest, storable

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
AUDIT_SHOWN = 50
LIST_LIMIT = 500  # members and pending invitations shown at once (search narrows)
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
    if request.method == "POST":
        sent = request.form.get("csrf", "")
        if request.endpoint == "console.login":
            expected = request.cookies.get(LOGIN_COOKIE, "")
        else:
            expected = g.console.csrf if g.console is not None else ""
        if not _same(sent, expected):
            abort(400, "the form's CSRF token does not match this session; reload the page")
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


def _keep_result(org_id: str, result: dict) -> None:
    g.console.set(flash=_seal(_session_id(), {**result, "org": org_id}))


def _take_result(org_id: str) -> dict | None:
    """The result waiting for this organization's page, forgotten once taken."""
    session = g.console
    if not session.flash:
        return None
    result = _unseal(_session_id(), session.flash)
    if result is not None and result.get("org") != org_id:
        return None  # another organization's: it waits for that page
    session.set(flash=None)
    return result


# ---------------------------------------------------------------- the core's answers


def _problem(exc: Exception) -> dict:
    """A refusal of the core (or of the API's input checks) as the problem the API sends."""
    if isinstance(exc, ValidationError):
        errors = flatten(exc.messages)
        return {
            "status": 422,
            "title": "Unprocessable Content",
            "detail": f"invalid fields: {', '.join(sorted(errors))}",
            "errors": errors,
        }
    try:
        phrase = HTTPStatus(exc.status).phrase
    except ValueError:
        phrase = "Error"
    return {
        "status": exc.status,
        "title": exc.title or phrase,
        "detail": exc.detail,
        "errors": exc.errors,
    }


def _acting() -> str | None:
    """The session's acting user, marked active (as the API marks X-Actor-Id)."""
    actor = g.console.actor
    if actor:
        touch_last_active(actor)
    return actor


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
    """Acting user, the acting user's organizations, and links to the other pages."""
    return _home()


def _home(actor_problem: dict | None = None):
    orgs_of, problem = [], None
    actor = _acting()
    if actor:
        try:
            orgs_of = users.orgs_page(actor, LIST_LIMIT, None)["items"]
        except ApiError as exc:
            problem = _problem(exc)
    return render_template(
        "console/home.html",
        orgs=orgs_of,
        problem=problem,
        actor_problem=actor_problem,
        title="Console",
    )


@bp.get("/open")
@doc(content_types=HTML)  # the login form without a session (as every page); else a 303
def open_org():
    """Open an organization's page by id (303 to it once logged in)."""
    org_id = request.args.get("org", "").strip()
    if not org_id:
        return _see_other(url_for("console.home"))
    return _see_other(url_for("console.org", org_id=org_id))


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


@bp.get("/policies")
@doc(content_types=HTML)
def policies():
    """Each style's effective matrix, and the diff of the live policy against a version the
    server keeps (a previous live version, or the last refused candidate), by id."""
    live = policy()
    matrices = [effective.compute(live.engine(s), live.version) for s in live.styles]
    kept = kept_versions(live)
    against = request.args.get("against")
    report, diff_error, status, chosen = None, None, 200, None
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
                # would change.
                old, new = (other, live) if chosen["kind"] == "previous" else (live, other)
                report = policy_diff(old, new, live_worlds())
    return render_template(
        "console/policies.html",
        title="Policies",
        matrices=matrices,
        version=live.version,
        kept=kept,
        chosen=chosen,
        report=report,
        diff_error=diff_error,
    ), status


# ---------------------------------------------------------------- playground


@bp.get("/playground")
@doc(content_types=HTML)
def playground():
    """Every action of a resource for an actor, each allowed or denied with its explanation."""
    live = policy()
    orgs_shown = list(
        Organization.select(Organization.id, Organization.name, Organization.style)
        .order_by(Organization.id)
        .limit(1000)
    )
    org_id = request.args.get("org") or (orgs_shown[0].id if orgs_shown else "")
    actor = request.args.get("actor", "").strip() or g.console.actor or ""
    facts = TargetBuilder()
    org = facts.org(org_id) if org_id and storable(org_id) else None
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
        types=types,
        type_=type_,
        rid=rid,
        resources=resources,
        rows=rows,
        error=error,
        version=live.version,
    )


# ---------------------------------------------------------------- organization: changes


def _change(org_id: str, what: str, call, tokens: bool = False):
    """Make a change through the core as the acting user, keep its result for the page,
    and send the browser there (303). ``call(ctx, actor)`` returns what the core returns."""
    actor = _acting()
    if not actor:
        return _see_other(url_for("console.home", need_actor=1))
    result = {"what": what, "ok": True, "status": 200, "problem": None, "tokens": []}
    try:
        done = call(ctx(actor), actor)
    except (ApiError, ValidationError) as exc:
        problem = _problem(exc)
        result.update(ok=False, status=problem["status"], problem=problem)
    else:
        if tokens:
            result["status"] = 201
            result["tokens"] = [
                {k: i[k] for k in ("email", "role", "expires_at", "token")} for i in done
            ]
    _keep_result(org_id, result)
    return _see_other(url_for("console.org", org_id=org_id))


@bp.post("/orgs/<org_id>/invite")
@doc(status=303, content_types=HTML)
def invite(org_id):
    """Invite several emails at once; the page then shows each token once."""
    emails = [e for e in re.split(r"[\s,;]+", request.form.get("emails", "")) if e]
    role = request.form.get("role", "")

    def call(context, actor):
        body = load(
            InvitationBatchRequest, {"invitations": [{"email": e, "role": role} for e in emails]}
        )
        return invitations.invite(context, actor, org_id, body["invitations"])

    what = f"invite {', '.join(emails) or 'nobody'} as {role}"
    return _change(org_id, what, call, tokens=True)


@bp.post("/orgs/<org_id>/members/<user_id>/role")
@doc(status=303, content_types=HTML)
def change_role(org_id, user_id):
    """Change a member's role."""
    role = request.form.get("role", "")

    def call(context, actor):
        body = load(RoleRequest, {"role": role})
        return members.change_role(context, actor, org_id, user_id, body["role"])

    return _change(org_id, f"change the role of {user_id} to {role}", call)


@bp.post("/orgs/<org_id>/members/<user_id>/remove")
@doc(status=303, content_types=HTML)
def remove(org_id, user_id):
    """Remove a member (or leave, for the acting user)."""
    verb = "leave" if user_id == g.console.actor else f"remove {user_id}"
    return _change(
        org_id, verb, lambda context, actor: members.remove(context, actor, org_id, [user_id])
    )


@bp.post("/orgs/<org_id>/invitations/<invitation_id>/cancel")
@doc(status=303, content_types=HTML)
def cancel(org_id, invitation_id):
    """Cancel a pending invitation."""
    return _change(
        org_id,
        f"cancel the invitation {invitation_id}",
        lambda context, actor: invitations.cancel(context, actor, org_id, invitation_id),
    )


# ---------------------------------------------------------------- organization: the page


@bp.get("/orgs/<org_id>")
@doc(content_types=HTML)
def org(org_id):
    """An organization: members, invitations, audit trail; the result of the last change
    (once)."""
    actor = _acting()
    if not actor:
        return _see_other(url_for("console.home", need_actor=1))
    result = _take_result(org_id)
    facts = TargetBuilder()
    ref = facts.org(org_id)
    if ref is None:
        return render_template(
            "console/org.html", title=org_id, org_id=org_id, missing=True, result=result
        ), 404
    live = policy()
    context = ctx(actor)

    def management_denial(*args):
        return refusals.management_denial(live, facts, actor, *args)

    try:
        org_body = orgs.get(context, actor, org_id)
    except ApiError:
        org_body = {"id": org_id, "style": ref.style}

    search = request.args.get("q", "").strip()
    members_problem, member_rows, members_more = None, [], False
    try:
        q = load(MemberListArgs, {"q": search})["q"] if search else None
        page = members.list_page(context, actor, org_id, LIST_LIMIT, None, q=q)
        member_rows = [m for m in page["items"] if m["status"] == "active"]
        members_more = page["next"] is not None
    except (ApiError, ValidationError) as exc:
        members_problem = _problem(exc)

    engine = live.engine(ref.style) if ref.style in live.engines else None
    roles = engine.roles("Organization") if engine else []
    shown = []
    for m in member_rows:
        uid, role = m["user_id"], m["role"]
        is_self = uid == actor
        last = Membership.is_last_of_role(org_id, uid, role)
        changes = [
            {
                "role": r,
                "reason": management_denial(
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
            "remove", ref, "Membership", {"role": role, "is_self": is_self, "last_of_role": last}
        )
        shown.append({**m, "is_self": is_self, "changes": changes, "remove_reason": remove_reason})

    invitations_problem, pending = None, []
    try:
        page = invitations.list_page(context, actor, org_id, "pending", LIST_LIMIT, None)
        for inv in page["items"]:
            reason = management_denial("cancel", ref, "Invitation", {"role": inv["role"]})
            pending.append({**inv, "cancel_reason": reason})
    except ApiError as exc:
        invitations_problem = _problem(exc)

    audit, audit_problem = [], None
    try:
        audit = _newest_audit(context, actor, org_id)
    except ApiError as exc:
        audit_problem = _problem(exc)

    invite_roles = [
        {"role": r, "reason": management_denial("invite", ref, "Invitation", {"role": r})}
        for r in roles
    ]
    return render_template(
        "console/org.html",
        title=f"Organization {org_id}",
        org_id=org_id,
        org=org_body,
        missing=False,
        search=search,
        members=shown,
        members_problem=members_problem,
        members_more=members_more,
        invitations=pending,
        invitations_problem=invitations_problem,
        invite_roles=invite_roles,
        can_invite=any(r["reason"] is None for r in invite_roles),
        invite_reason=next((r["reason"] for r in invite_roles if r["reason"]), None),
        audit=audit,
        audit_problem=audit_problem,
        result=result,
    )


def _newest_audit(context, actor: str, org_id: str) -> list:
    """The newest AUDIT_SHOWN events, newest first: the core's page (oldest first, after an
    event id) starting after the event just older than them."""
    start = (
        AuditEvent.select(AuditEvent.id)
        .where(AuditEvent.org == org_id)
        .order_by(AuditEvent.id.desc())
        .offset(AUDIT_SHOWN)
        .limit(1)
        .scalar()
    )
    page = orgs.audit_page(context, actor, org_id, AUDIT_SHOWN, start)
    return list(reversed(page["items"]))
