"""Rate limiting per API key (flask-limiter): ``RATE_LIMIT`` per key, in memory by default,
shared between workers when ``RATE_LIMIT_STORAGE`` is a redis:// URI. The operational
endpoints and the docs are not limited."""

from flask import Flask, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from ops.metrics import RATE_LIMITED


def _key() -> str:
    return g.get("api_key") or get_remote_address()


def init(app: Flask) -> Limiter:
    """Attach a limiter to ``app`` (after authentication, which names the key)."""
    limiter = Limiter(
        key_func=_key,
        app=app,
        default_limits=[app.config["RATE_LIMIT"]],
        storage_uri=app.config["RATE_LIMIT_STORAGE"],
        headers_enabled=True,
        default_limits_exempt_when=lambda: not request.path.startswith("/v1/"),
        on_breach=lambda _limit: RATE_LIMITED.inc(),
    )
    return limiter
