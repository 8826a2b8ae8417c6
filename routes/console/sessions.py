"""Sessions and CSRF: logging in and out, the session of each request, the cookies.

The session lives on the server (models/console.py ``ConsoleSession``): the cookie holds a
random id, the table its hash and the key's row. Every page looks it up, so logging out, a
revoked key or an expired or idle session ends it at once. Every POST carries a CSRF token:
the session's own once logged in, else the login form's (a random value the login cookie
also carries); a mismatch is 400.
"""

import datetime
import hmac
import secrets
from pathlib import Path

from flask import abort, g, render_template, request, send_from_directory, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from access.errors import DomainError
from access.keys import outside
from authz.engine import asking
from models import ApiKey, transaction
from models.console import ConsoleSession
from routes.console.base import HTML, bp, cookie_secure, here, safe_next, see_other, setting
from routes.context import now, request_context
from routes.openapi import doc
from routes.schemas import storable

STATIC = Path(__file__).resolve().parent.parent / "static"
OPEN_ENDPOINTS = {"console.login", "console.static"}
SESSION_COOKIE = "orgauthz_console"
LOGIN_COOKIE = "orgauthz_console_login"  # the login form's CSRF token, before a session
COOKIE_MAX = 100  # longer cookie values are not ours: no lookup
SEEN_EVERY = datetime.timedelta(minutes=1)  # last_seen_at is written at most this often
KEY_MAX = 200


def session_id() -> str | None:
    """The session id this request's cookie holds, if it may be one."""
    value = request.cookies.get(SESSION_COOKIE, "")
    return value if 0 < len(value) <= COOKIE_MAX else None


def _set_cookies(**values: str | None) -> None:
    """Cookies ``finish`` sets (a value) or drops (None) on this request's response."""
    g.cookies = {**g.get("cookies", {}), **values}


def _find_session() -> ConsoleSession | None:
    """The live session of this request's cookie, or None (and the cookie is dropped)."""
    sid = session_id()
    if sid is None:
        return None
    idle = datetime.timedelta(minutes=setting("CONSOLE_IDLE_MINUTES"))
    row = ConsoleSession.find(sid, now(), idle)
    if row is None:
        _set_cookies(**{SESSION_COOKIE: None})
        return None
    row.seen(now(), SEEN_EVERY)
    return row


def _login_token() -> str:
    """The login form's CSRF token: the login cookie's, or a new one it will carry."""
    token = request.cookies.get(LOGIN_COOKIE, "")
    if not (20 <= len(token) <= COOKIE_MAX):
        token = g.get("login_csrf") or secrets.token_urlsafe(32)
        _set_cookies(**{LOGIN_COOKIE: token})
    g.login_csrf = token
    return token


def _same(sent: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())


def _check_csrf(found: ConsoleSession | None) -> None:
    """Every POST: the form's token is the session's (the login form's, for the login)."""
    sent = request.form.get("csrf", "")
    if request.endpoint == "console.login":
        expected = request.cookies.get(LOGIN_COOKIE, "")
    else:
        expected = found.csrf if found is not None else ""
    if not _same(sent, expected):
        abort(400, "the form's CSRF token does not match this session; reload the page")


@bp.before_request
def guard() -> ResponseReturnValue | None:
    """CSRF on every POST; a live session for every page but the login."""
    if request.endpoint == "console.static":
        return None
    found = g.console = _find_session()
    if found is not None:
        g.console_key = g.api_key = found.key.name  # the access log names the key
        g.key_orgs = found.key.orgs()  # a key bound to organizations: those only
    if request.method == "POST":
        _check_csrf(found)
    if found is not None:
        _ask_from_the_browser()
        org_id = (request.view_args or {}).get("org_id")
        if org_id is not None and outside(g.key_orgs, org_id):  # as no such organization
            page = render_template(
                "console/missing.html", title="No such organization", org_id=org_id, result=None
            )
            return page, 404
        return None
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    # No session: the login form in place (200), back here after logging in.
    _login_token()
    return render_template("console/login.html", error=None, next=here(), title="Log in")


def _ask_from_the_browser() -> None:
    """The console's user is the end user: its decisions (buttons asked, changes made) read
    the browser's address as the request context's ``ip`` (an organization's IP allow-list,
    docs/API.md 1.3). Behind a proxy, the address the WSGI server was given (ProxyFix, as
    docs/operations.md sets it up, makes it the client's)."""
    try:
        context = request_context({"ip": request.remote_addr} if request.remote_addr else {})
    except DomainError:
        return  # an address no style reads, or none: decided without it
    g.asking = asking(context)
    g.asking.__enter__()


@bp.teardown_request
def _stop_asking(_exc: BaseException | None) -> None:
    found = g.pop("asking", None)
    if found is not None:
        found.__exit__(None, None, None)


@bp.after_request
def finish(response: Response) -> Response:
    """Pages show members, emails and once-only invitation tokens: never cached. Sets or
    drops the cookies this request decided on."""
    if request.endpoint != "console.static":
        response.headers["Cache-Control"] = "no-store"
    secure = cookie_secure()
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
def _common() -> dict:
    found: ConsoleSession | None = g.get("console")
    return {
        "csrf": found.csrf if found is not None else "",
        "login_csrf": g.get("login_csrf", ""),
        "acting": found.actor if found is not None else None,
        "key_name": g.get("console_key"),
    }


@bp.get("/static/<path:filename>")
@doc(content_types=["text/css", "text/javascript"])
def static(filename: str) -> Response:
    """The console's stylesheet and script."""
    return send_from_directory(STATIC, filename, max_age=300)


@bp.route("/login", methods=["GET", "POST"])
@doc(content_types=HTML)
def login() -> ResponseReturnValue:
    """The API key form; a valid key starts a session (303 to the page asked for)."""
    error = None
    if request.method == "POST":
        key = request.form.get("api_key", "").strip()
        row = ApiKey.find_active(key) if 0 < len(key) <= KEY_MAX and storable(key) else None
        if row is None:
            error = "That API key is unknown or revoked."
        else:
            lifetime = datetime.timedelta(hours=setting("CONSOLE_SESSION_HOURS"))
            with transaction():
                old = session_id()
                if old is not None:  # a new login never keeps an old session id
                    ConsoleSession.end(old)
                new_id, _row = ConsoleSession.start(row, now(), lifetime)
            g.cookies = {SESSION_COOKIE: new_id, LOGIN_COOKIE: None}
            return see_other(safe_next(request.form.get("next")))
    _login_token()
    page = render_template(
        "console/login.html", error=error, next=request.values.get("next", ""), title="Log in"
    )
    return page, (401 if error else 200)


@bp.post("/logout")
@doc(status=303, content_types=HTML)
def logout() -> ResponseReturnValue:
    """Log out: the session ends on the server, and its cookie is dropped."""
    sid = session_id()
    if sid is not None:
        ConsoleSession.end(sid)
    g.cookies = {SESSION_COOKIE: None}
    return see_other(url_for("console.login"))
