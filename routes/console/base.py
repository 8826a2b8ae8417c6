"""The console's blueprint, its settings and the small helpers of every page family."""

from typing import Any

from flask import Blueprint, current_app, g, redirect, request, url_for
from werkzeug.wrappers import Response

from access.errors import DomainError
from models.console import ConsoleSession
from routes.context import touch_last_active
from routes.pagination import decode, encode

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="../templates",
)

# The pages are listed in /openapi.json like /docs (HTML); the fuzz test calls them with no
# session: every GET then answers the login form (200), every POST 400 (no CSRF token).
HTML = ["text/html"]
PAGE = 50  # rows of a list page (members, invitations, resources, audit entries)
PICK = 200  # options of a picker (users, members, parents); a search narrows
DEFAULTS = {"CONSOLE_SESSION_HOURS": 12, "CONSOLE_IDLE_MINUTES": 120}


def setting(name: str) -> float:
    """A console setting: CONSOLE_SESSION_HOURS (12: a session's longest life) and
    CONSOLE_IDLE_MINUTES (120: it ends after that long without a page view);
    ORGAUTHZ_-prefixed in the environment."""
    value = current_app.config.get(name)
    return float(DEFAULTS[name] if value is None else value)


def cookie_secure() -> bool:
    """CONSOLE_COOKIE_SECURE: whether the cookies are Secure (default: not TESTING, the
    tests serve plain http)."""
    config = current_app.config
    value = config.get("CONSOLE_COOKIE_SECURE")
    if value is None:
        return not config.get("TESTING")
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


def session() -> ConsoleSession:
    """This request's session (every page but the login form has one: ``guard``)."""
    found: ConsoleSession | None = g.get("console")
    if found is None:  # guard answered the login form before any view that needs one
        raise RuntimeError("a console page without a session")
    return found


def here() -> str:
    return request.full_path.rstrip("?")


def safe_next(target: str | None) -> str:
    """``target`` when it is a page of the console, else the home page."""
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return url_for("console.home")


def see_other(target: str) -> Response:
    """Post/redirect/get: a 303 makes the browser GET the page."""
    return redirect(target, 303)


def acting() -> str | None:
    """The session's acting user, marked active (as the API marks X-Actor-Id)."""
    actor = session().actor
    if actor:
        touch_last_active(actor)
    return actor


def cursor(name: str, kind: str) -> Any:
    """The sort key of the ``?<name>=`` cursor of a list, or None (also when it is not one
    this service gave: the list then starts at its first page, and ``g.bad_cursor`` says
    so on the page)."""
    try:
        return decode(request.args.get(name) or None, kind)
    except DomainError:
        g.bad_cursor = True
        return None


def next_link(value: Any, name: str = "cursor", **args: Any) -> str | None:
    """The URL of the next page of this page's list (its other arguments kept)."""
    if value is None:
        return None
    query: dict[str, Any] = {k: v for k, v in request.args.items() if k != name and v != ""}
    query.update({k: v for k, v in args.items() if v is not None})
    query[name] = encode(value)
    return url_for(str(request.endpoint), **(request.view_args or {}), **query)


def first_link(name: str = "cursor") -> str | None:
    """The URL of the first page of this page's list, when this is a later page."""
    if not request.args.get(name):
        return None
    query: dict[str, Any] = {k: v for k, v in request.args.items() if k != name and v != ""}
    return url_for(str(request.endpoint), **(request.view_args or {}), **query)
