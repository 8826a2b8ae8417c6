"""orgauthz: a policy-as-code authorization service. ``create_app`` is the app factory."""

import logging
import os
import secrets
from pathlib import Path

from flask import Flask

import models
from authz.engine import POLICY_DIR, PolicyError, PolicyHolder
from models.base import utcnow
from ops import logs


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: config (defaults, then ORGAUTHZ_* environment, then ``test_config``),
    the database, the policy (startup stops if it does not load or pass its tables), the
    routes and the CLI commands."""
    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(
        DATABASE_URL=os.environ.get(
            "DATABASE_URL", f"sqlite:///{Path(app.instance_path) / 'orgauthz.db'}"
        ),
        POLICY_DIR=str(POLICY_DIR),
        MAX_CONTENT_LENGTH=1024 * 1024,
        CLOCK=utcnow,
        DECISION_LOG=str(Path(app.instance_path) / "decisions.log"),  # "off" to disable
        DECISION_LOG_SAMPLE=1.0,
        # Per API key (per worker with memory storage; a redis:// URI shares it).
        RATE_LIMIT="300000 per minute",
        RATE_LIMIT_STORAGE="memory://",
        LAST_ACTIVE_FLUSH_SECONDS=5,
        JSON_SORT_KEYS=False,
        # Signs the console's session cookie; ORGAUTHZ_SECRET_KEY overrides it (set it when
        # running several workers, or sessions do not survive a restart or another worker).
        SECRET_KEY=secrets.token_hex(32),
    )
    app.config.from_prefixed_env("ORGAUTHZ")
    if test_config:
        app.config.update(test_config)
    logs.setup(os.environ.get("LOG_LEVEL", "INFO"))

    if not app.config.get("DATABASE_BOUND"):  # the tests bind the database themselves
        models.init_db(app.config["DATABASE_URL"])
    try:
        holder = PolicyHolder(Path(app.config["POLICY_DIR"]))
        holder.error = app.config.get("POLICY_RELOAD_ERROR")  # set by a refused reload
        app.extensions["orgauthz.policy"] = holder
    except PolicyError as exc:  # a policy that does not parse stops startup, saying where
        logging.getLogger("orgauthz").error("policy error: %s", exc)
        raise SystemExit(f"policy error: {exc}") from exc

    from access.cache import CACHE
    from ops import decisionlog
    from routes import cli, register
    from routes.context import decision_context

    decisionlog.install(
        app.config["DECISION_LOG"], float(app.config["DECISION_LOG_SAMPLE"]), decision_context
    )

    CACHE.clear()  # the database may not be the one the cached facts came from
    register(app)
    cli.register(app)
    return app
