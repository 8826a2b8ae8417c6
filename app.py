"""orgauthz: a policy-as-code authorization service. ``create_app`` is the app factory."""

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask

import models
from access.targets import TargetBuilder
from authz.engine import PolicyError, PolicyHolder, asked
from models.base import utcnow
from ops import config, logs, tracing
from ops import reload as staging
from ops.decisionlog import set_asked_context as decisionlog_hook

if TYPE_CHECKING:  # access/ is imported once the database is bound
    from access.cache import FactCache


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: config (ops/config.py: defaults, then the environment; then
    ``test_config``),
    the database, the policy (startup stops if it does not load or pass its tables), the
    routes and the CLI commands."""
    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    try:
        settings = config.load(app.instance_path)
    except config.ConfigError as exc:
        raise SystemExit(f"configuration error: {exc}") from exc
    app.config.from_mapping(settings, CLOCK=utcnow, JSON_SORT_KEYS=False)
    if test_config:
        app.config.update(test_config)
    logs.setup(app.config["LOG_LEVEL"])
    # The decision log records each decision's request context, for a replay to ask with it.
    decisionlog_hook(asked)
    # Decisions read what has not lapsed by the service's clock (access/targets.py).
    TargetBuilder.clock = staticmethod(app.config["CLOCK"])
    try:  # OpenTelemetry traces, when the OTEL_* variables ask for them (ops/tracing.py)
        tracing.setup()
    except tracing.ConfigError as exc:
        raise SystemExit(f"configuration error: {exc}") from exc

    if not app.config.get("DATABASE_BOUND"):  # the tests bind the database themselves
        models.init_db(
            app.config["DATABASE_URL"],
            prepare_statements=app.config["DATABASE_PREPARED_STATEMENTS"],
        )
    staged = staging.STAGED  # set by the gunicorn master this worker was forked from
    if staged.live is not None:
        app.config["POLICY_DIR"] = str(staged.live)
    try:
        holder = PolicyHolder(Path(app.config["POLICY_DIR"]))
        holder.error = staged.error  # why the master refused the last reload, if it did
        app.extensions["orgauthz.policy"] = holder
    except PolicyError as exc:  # a policy that does not parse stops startup, saying where
        logging.getLogger("orgauthz").error("policy error: %s", exc)
        raise SystemExit(f"policy error: {exc}") from exc

    from access.cache import CACHE
    from ops import decisionlog
    from routes import cli, register
    from routes.context import decision_context

    decisionlog.install(
        app.config["DECISION_LOG"],
        float(app.config["DECISION_LOG_SAMPLE"]),
        decision_context,
        max_bytes=int(app.config["DECISION_LOG_MAX_BYTES"]),
        backups=int(app.config["DECISION_LOG_BACKUPS"]),
    )

    CACHE.clear()  # the database may not be the one the cached facts came from
    _replicas(app, CACHE)
    register(app)
    cli.register(app)
    _outbox(app)
    return app


def _replicas(app: Flask, cache: "FactCache") -> None:
    """Where decision reads may go, and where the cache listens (access/cache.py)."""
    from models.replicas import open_replicas

    urls = app.config.get("DATABASE_REPLICA_URLS") or ""
    options = {}
    primary = models.db.obj
    if primary is not None and primary.connect_params.get("options"):
        options["options"] = primary.connect_params["options"]  # a test's search_path
    timeout = float(app.config["REPLICA_TIMEOUT_SECONDS"])
    cache.configure(
        open_replicas(urls, timeout=timeout, **options) if urls else [],
        app.config.get("DATABASE_LISTEN_URL"),
        float(app.config["REPLICA_MAX_LAG_SECONDS"]),
        float(app.config["REPLICA_RETRY_SECONDS"]),
        float(app.config["FACTS_MAX_STALENESS_SECONDS"]),
    )


def _outbox(app: Flask) -> None:
    """Mail, webhooks and derived secrets from the config (the worker thread that sends them
    is started by the server: ``start_outbox_worker``)."""
    from access import worker

    worker.configure(app.config, app.instance_path)


def start_outbox_worker(app: Flask) -> None:
    """Start the thread that sends invitation mails and webhook deliveries and expires
    invitations, unless OUTBOX_WORKER is off (a separate ``flask outbox work`` runs). Called
    by gunicorn in each worker process (gunicorn.conf.py ``post_worker_init``); never by the
    app factory, so tests and ``flask`` commands run none."""
    from access import worker

    if worker.wanted(app.config):
        contexts = worker.contexts(app.extensions["orgauthz.policy"], app.config)
        app.extensions["orgauthz.worker"] = worker.start(contexts, app.config)
