"""What the console's tests share: the session table, logging in and the forms' CSRF token
through Flask's test client."""

import re

import pytest

from models import db
from models.console import ConsoleSession

SESSION_COOKIE = "orgauthz_console"


@pytest.fixture
def console_table(app):
    """The console's session table, made by its migration (models/migrations) with the
    rest of the schema."""
    with db.connection_context():
        assert ConsoleSession._meta.table_name in db.get_tables()


def csrf_of(response, form: str = "") -> str:
    """The CSRF token of the first form on a page (after ``id="<form>"`` when given)."""
    data = response.data
    if form:
        data = data[data.index(f'id="{form}"'.encode()) :]
    found = re.search(rb'name="csrf" value="([^"]+)"', data)
    assert found, response.data[:500]
    return found.group(1).decode()


def login(client, key: str):
    """Log in with ``key``; returns the home page's response."""
    form = client.get("/console/login")
    answer = client.post(
        "/console/login", data={"api_key": key, "csrf": csrf_of(form, "login-form")}
    )
    assert answer.status_code == 303, answer.data[:500]
    home = client.get("/console/")
    assert home.status_code == 200 and b'id="actor-form"' in home.data
    return home


def set_actor(client, actor: str) -> str:
    """Act as ``actor``; returns the CSRF token of the session."""
    csrf = csrf_of(client.get("/console/"))
    answer = client.post("/console/actor", data={"actor": actor, "csrf": csrf})
    assert answer.status_code == 303
    return csrf


def session_cookie(client) -> str | None:
    cookie = client.get_cookie(SESSION_COOKIE, path="/console")
    return cookie.value if cookie else None
