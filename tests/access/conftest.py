"""The domain core called directly, without HTTP: a ``Context`` as the routes build one
(the app's policy and clock, no request) over tests/conftest.py's fresh database."""

import pytest

from access.context import Context
from models import db


@pytest.fixture
def ctx(app, clock):
    """A Context on the app's policy and the test's clock; the database connected for the
    whole test (the routes open a connection per request; the core expects one open)."""
    with db.connection_context():
        yield Context(app.extensions["orgauthz.policy"].current, clock, request_id="core-test")
