"""Command-line tools: ``flask --app app db|keys|policy|demo ...``."""

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import Flask, current_app
from flask.cli import AppGroup

import models
from authz.engine import PolicyError, PolicySet
from authz.tables import TableError, run_tables
from models import db

if TYPE_CHECKING:
    from access.context import Context


def register(app: Flask) -> None:
    """Add the command groups to ``app``."""
    app.cli.add_command(db_group)
    app.cli.add_command(keys_group)
    app.cli.add_command(policy_group)
    app.cli.add_command(demo_group)
    app.cli.add_command(decisions_group)
    app.cli.add_command(outbox_group)
    app.cli.add_command(invitations_group)
    app.cli.add_command(access_group)
    app.cli.add_command(webhooks_group)


@click.group("db", cls=AppGroup, help="The database.")
def db_group() -> None:
    pass


@db_group.command("upgrade", help="Apply the pending migrations (creates the tables at first).")
def db_upgrade() -> None:
    """On the direct connection (``DATABASE_LISTEN_URL``) when there is one: the migrations
    take a session advisory lock, which PgBouncer's transaction mode does not keep."""
    direct = current_app.config.get("DATABASE_LISTEN_URL")
    if direct:  # every model of this command on the direct connection, tables made included
        models.init_db(direct)
    done = models.create_tables()
    url = direct or current_app.config["DATABASE_URL"]
    click.echo(f"applied {', '.join(done)}" if done else "nothing to apply")
    click.echo(f"schema up to date in {url}")


@db_group.command("init", help="The same as upgrade (the name `make run` used first).")
def db_init() -> None:
    db_upgrade.callback()  # type: ignore[misc]


@click.group("keys", cls=AppGroup, help="API keys of calling services.")
def keys_group() -> None:
    pass


@keys_group.command(
    "create",
    help="Make a key; it is printed once, only its hash is kept. Without --org it is "
    "service-wide (every organization); with --org ORG (repeatable) it sees and changes "
    "only those organizations.",
)
@click.argument("name")
@click.option("--org", "orgs", multiple=True, help="An organization the key is bound to.")
def keys_create(name: str, orgs: tuple[str, ...]) -> None:
    from access import keys
    from access.errors import DomainError

    with db.connection_context():
        try:
            key = keys.create(name, list(orgs) if orgs else None)
        except DomainError as exc:
            raise click.ClickException(exc.detail) from None
    click.echo(key)


@keys_group.command("list", help="Every key: name, created, revoked, and its organizations.")
def keys_list() -> None:
    from access import keys

    with db.connection_context():
        rows = keys.listing()
    for row in rows:
        scope = (
            "service-wide" if row["orgs"] is None else "orgs: " + (", ".join(row["orgs"]) or "none")
        )
        revoked = f"  revoked {row['revoked_at']:%Y-%m-%d %H:%M}" if row["revoked_at"] else ""
        click.echo(f"{row['name']}  created {row['created_at']:%Y-%m-%d %H:%M}{revoked}  {scope}")


@keys_group.command(
    "revoke",
    help="Revoke a key: it answers 401 from now on, its webhooks are disabled and its "
    "console sessions end.",
)
@click.argument("name")
def keys_revoke(name: str) -> None:
    from access import keys
    from access.errors import DomainError
    from models.base import utcnow

    with db.connection_context():
        try:
            done = keys.revoke(name, utcnow())
        except DomainError:
            raise click.ClickException(f"no active key named {name!r}") from None
    click.echo(
        f"revoked {name} ({done['webhooks']} webhooks disabled, "
        f"{done['sessions']} console sessions ended)"
    )


@click.group("policy", cls=AppGroup, help="The policies under policies/.")
def policy_group() -> None:
    pass


@policy_group.command(
    "test",
    help="Run every style's test table; exit 1 on any failure. --coverage also prints, per "
    "style, which rules and (role, action) cells the tables exercise. --mutants changes each "
    "rule a little (drops a clause, swaps a role for its neighbour, moves a number, negates) "
    "and lists the changes no row of the table notices; exit 1 when one no equivalence explains.",
)
@click.option("--dir", "directory", default=None, help="Policy folder (default: the live one).")
@click.option("--coverage", "with_coverage", is_flag=True, help="Print what the tables exercise.")
@click.option("--mutants", "with_mutants", is_flag=True, help="Measure the tables' strength.")
@click.option("--style", "styles", multiple=True, help="With --mutants: only this style.")
@click.option("--jobs", type=int, default=None, help="With --mutants: worker processes.")
def policy_test(
    directory: str | None,
    with_coverage: bool,
    with_mutants: bool,
    styles: tuple[str, ...],
    jobs: int | None,
) -> None:
    folder = Path(directory or current_app.config["POLICY_DIR"])
    try:
        policy = PolicySet(folder)
        results = run_tables(policy)
    except (PolicyError, TableError) as exc:
        click.echo(f"policy error: {exc}", err=True)
        sys.exit(2)
    failed = 0
    for result in results:
        status = "ok" if not result.failures else f"{len(result.failures)} FAILED"
        click.echo(f"{result.style}: {result.cells} cells, {status}")
        for failure in result.failures:
            click.echo(f"  FAIL {failure}")
        failed += len(result.failures)
    if with_coverage:
        from authz.lint import coverage_text

        try:
            click.echo(coverage_text(folder, policy))
        except (PolicyError, TableError) as exc:
            click.echo(f"coverage error: {exc}", err=True)
            sys.exit(2)
    if with_mutants:
        failed += _echo_mutants(folder, list(styles), jobs)
    click.echo(f"policy version {policy.version}")
    sys.exit(1 if failed else 0)


def _echo_mutants(directory: Path, styles: list, jobs: int | None, max_survivors: int = 0) -> int:
    """Print the mutation report; the number of problems (survivors past
    ``max_survivors`` and stale equivalence rows)."""
    from authz import mutants

    try:
        reports = mutants.run(directory, styles or None, jobs)
    except (PolicyError, TableError) as exc:
        click.echo(f"mutants error: {exc}", err=True)
        sys.exit(2)
    click.echo(mutants.report_text(reports))
    return len(mutants.problems(reports, max_survivors))


@policy_group.command(
    "check",
    help="Lint the policies: parse errors, table names the policy does not know, roles "
    "granted nothing, permissions granted to no role, roles with no rank, roles, permissions "
    "and rules the tables do not exercise, refusals no reason rule explains. --mutants also "
    "fails on a change to a rule no table row notices (beyond --max-survivors) that the "
    "table's equivalent section does not explain.",
)
@click.option("--dir", "directory", default=None, help="Policy folder (default: the live one).")
@click.option("--mutants", "with_mutants", is_flag=True, help="Gate on the tables' strength.")
@click.option(
    "--max-survivors",
    type=int,
    default=None,
    help="Unexplained surviving mutants allowed (implies --mutants; default 0).",
)
@click.option("--jobs", type=int, default=None, help="With --mutants: worker processes.")
def policy_check(
    directory: str | None, with_mutants: bool, max_survivors: int | None, jobs: int | None
) -> None:
    from authz import mutants
    from authz.lint import check

    folder = Path(directory or current_app.config["POLICY_DIR"])
    problems = check(folder)
    if with_mutants or max_survivors is not None:
        try:
            reports = mutants.run(folder, None, jobs)
            problems += mutants.problems(reports, max_survivors or 0)
        except (PolicyError, TableError) as exc:
            problems.append(f"mutants: {exc}")
    for problem in problems:
        click.echo(f"  {problem}")
    if problems:
        click.echo(f"{len(problems)} problem{'' if len(problems) == 1 else 's'}")
    else:
        click.echo("policies are clean")
    sys.exit(1 if problems else 0)


@policy_group.command(
    "matrix",
    help="The effective role x action matrix of STYLE (or of the style of --org, with the "
    "roles that organization defines itself); --management: the management matrix.",
)
@click.argument("style", required=False)
@click.option("--org", "org_id", default=None, help="An organization: its style, its own roles.")
@click.option("--management", is_flag=True, help="Who may invite, change, remove, grant what.")
@click.option("--format", "fmt", type=click.Choice(["markdown", "csv", "json"]), default="markdown")
@click.option("--dir", "directory", default=None, help="Policy folder (default: the live one).")
def policy_matrix(
    style: str | None, org_id: str | None, management: bool, fmt: str, directory: str | None
) -> None:
    import json

    from access.targets import custom_permissions
    from authz import matrix as effective
    from models import Organization

    custom: tuple = ()
    if org_id:
        with db.connection_context():
            row = Organization.find(org_id)
        if row is None:
            raise click.ClickException(f"no organization {org_id!r}")
        style, custom = row.style, custom_permissions(row.custom_roles)
    policy = PolicySet(Path(directory or current_app.config["POLICY_DIR"]))
    if style is None or style not in policy.engines:
        raise click.ClickException(f"no style {style!r}; styles: {', '.join(policy.styles)}")
    engine = policy.engine(style)
    if management:
        m = effective.management(engine, policy.version, custom)
        shown = (
            effective.management_markdown(m) if fmt == "markdown" else effective.management_csv(m)
        )
    else:
        m = effective.compute(engine, policy.version, custom)
        shown = effective.to_markdown(m) if fmt == "markdown" else effective.to_csv(m)
    click.echo(json.dumps(m, indent=2) if fmt == "json" else shown, nl=fmt == "json")


@policy_group.command(
    "roles", help="Every role the organizations define themselves, with what each gives."
)
@click.option("--json", "as_json", is_flag=True, help="Print them as JSON.")
def policy_roles(as_json: bool) -> None:
    import json

    from models import Organization

    found = []
    with db.connection_context():
        query = Organization.select().where(Organization.custom_roles.is_null(False))
        for org in query.order_by(Organization.id):
            for key, role in sorted((org.custom_roles or {}).items()):
                perms = [f"{t}.{p}" for t, p in role["permissions"]]
                found.append({"org": org.id, "style": org.style, "key": key, **role})
                found[-1]["permissions"] = perms
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for r in found:
        click.echo(
            f"{r['org']}\t{r['style']}\t{r['key']}\t{r['name']}\t{', '.join(r['permissions'])}"
        )
    click.echo(f"{len(found)} roles defined by organizations")


@policy_group.command(
    "diff",
    help="What changes from the policies in OLD_DIR to NEW_DIR: "
    "matrix cells, and who gains or loses what in the live database.",
)
@click.argument("old_dir")
@click.argument("new_dir")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--fail-on-widen", is_flag=True, help="Exit 3 when the change widens access.")
@click.option("--no-data", is_flag=True, help="Compare the matrices only.")
def policy_diff(
    old_dir: str, new_dir: str, as_json: bool, fail_on_widen: bool, no_data: bool
) -> None:
    import json

    from access.review import live_worlds
    from authz.diff import diff, to_text, widens

    try:
        old, new = PolicySet(Path(old_dir)), PolicySet(Path(new_dir))
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from exc
    with db.connection_context():
        report = diff(old, new, None if no_data else live_worlds())
    click.echo(json.dumps(report, indent=2) if as_json else to_text(report))
    if fail_on_widen and widens(report):
        click.echo("the change widens access", err=True)
        sys.exit(3)


@click.group("decisions", cls=AppGroup, help="The decision log.")
def decisions_group() -> None:
    pass


@decisions_group.command(
    "replay",
    help="Decide logged decisions again on today's data. With DECISION_ID: that decision, "
    "then and now under --policy (exit 3 when the answer changed). With --since: every "
    "distinct decision of the window, under --policy against the live policy (--baseline): "
    "those that change, allows gained first; exit 3 when any allow is gained.",
)
@click.argument("decision_id", required=False)
@click.option("--since", default=None, help="A window of the log: 90s, 30m, 24h, 7d, 2w.")
@click.option("--policy", "directory", default=None, help="Policy folder (default: the live one).")
@click.option(
    "--baseline", default=None, help="With --since: the policy compared with (default: live)."
)
@click.option("--log", "log_path", default=None, help="Decision log file (default: the app's).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def decisions_replay(
    decision_id: str | None,
    since: str | None,
    directory: str | None,
    baseline: str | None,
    log_path: str | None,
    as_json: bool,
) -> None:
    from ops import decisionlog

    if bool(decision_id) == bool(since):
        raise click.UsageError("give either a DECISION_ID or --since DURATION")
    log_path = log_path or current_app.config["DECISION_LOG"]
    live_dir = current_app.config["POLICY_DIR"]
    try:
        policy = PolicySet(Path(directory or live_dir))
        base = PolicySet(Path(baseline or live_dir)) if since else None
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from exc
    decisionlog.flush()
    if since and base is not None:
        _replay_window(base, policy, log_path, since, as_json)
    else:
        _replay_one(policy, log_path, decision_id or "", as_json)


def _replay_window(
    base: PolicySet, policy: PolicySet, log_path: str, since: str, as_json: bool
) -> None:
    """``decisions replay --since``: every distinct decision of the window; exit 3 when the
    policy gains an allow."""
    import json

    from access import review

    try:
        window = review.parse_duration(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    with db.connection_context():
        report = review.replay_window(base, policy, log_path, window)
    click.echo(json.dumps(report, indent=2) if as_json else review.to_text(report))
    if report["gained"]:
        click.echo(f"the policy gains {report['gained']} allow(s) on logged traffic", err=True)
        sys.exit(3)


def _replay_one(policy: PolicySet, log_path: str, decision_id: str, as_json: bool) -> None:
    """``decisions replay DECISION_ID``: that decision then and now; exit 3 when it changed."""
    import json

    from access import review
    from ops import decisionlog

    line = decisionlog.find(log_path, decision_id)
    if line is None:
        raise click.ClickException(f"no decision {decision_id} in the log")
    ref = line["resource"] or {}
    with db.connection_context():
        now = review.replay_one(policy, line)
    changed = now.allowed != line["allowed"]
    if as_json:
        body = {"line": line, "now": now.as_json(explain=True), "changed": changed}
        click.echo(json.dumps(body, indent=2))
    else:
        word = {True: "allow", False: "deny"}
        click.echo(
            f"decision {decision_id}: {line['actor']} {line['action']} on "
            f"{ref.get('type')} {ref.get('id')}"
        )
        click.echo(
            f"  then: {word[line['allowed']]} (policy {line['policy_version']}, {line['time']})"
        )
        click.echo(
            f"  now:  {word[now.allowed]} (policy {now.policy_version}): "
            f"{(now.explanation or {}).get('reason', now.reason)}"
        )
        click.echo("  CHANGED" if changed else "  unchanged")
    if changed:
        sys.exit(3)


@click.group("demo", cls=AppGroup, help="Demo data.")
def demo_group() -> None:
    pass


@demo_group.command("load", help="Create demo organizations (one per style) and users.")
def demo_load() -> None:
    from access.demo import load_demo

    with db.connection_context():
        for line in load_demo(current_app.extensions["orgauthz.policy"].current):
            click.echo(line)


# ---------------------------------------------------------------- the outbox (access/worker.py)
def _contexts() -> "Callable[[], Context]":
    """The current app's context factory for the outbox worker (access/worker.py
    ``contexts``): it holds the app's own objects, so the worker's thread can call it."""
    from access import worker

    return worker.contexts(current_app.extensions["orgauthz.policy"], current_app.config)


@click.group("outbox", cls=AppGroup, help="Invitation mails and webhook deliveries.")
def outbox_group() -> None:
    pass


@outbox_group.command(
    "send",
    help="One pass: send the due mails, dispatch and deliver webhook events, mark expired "
    "invitations; then exit.",
)
def outbox_send() -> None:
    from access.worker import Worker

    done = Worker(_contexts()).step()
    click.echo(
        f"expired {done['expired']} invitations; mail {done['mail']}; "
        f"{done['dispatched']} deliveries made; webhooks {done['webhooks']}"
    )


@outbox_group.command(
    "work",
    help="Run the worker in the foreground until interrupted (when the web processes run "
    "with OUTBOX_WORKER=false).",
)
@click.option("--seconds", type=float, default=None, help="Stop after this long.")
def outbox_work(seconds: float | None) -> None:
    import time

    from access import worker

    runner = worker.start(_contexts(), current_app.config)
    try:
        deadline = None if seconds is None else time.monotonic() + seconds
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        runner.stop()


@click.group("invitations", cls=AppGroup, help="Invitations.")
def invitations_group() -> None:
    pass


@invitations_group.command(
    "expire",
    help="Mark the pending invitations past their time as expired, each once, with its "
    "audit entry and event (any scheduler can run it; make run's worker does every minute).",
)
def invitations_expire() -> None:
    from access.invitations import expire_due

    with db.connection_context():
        count = expire_due(_contexts()())
    click.echo(f"expired {count} invitations")


@click.group("access", cls=AppGroup, help="Access that expires.")
def access_group() -> None:
    pass


@access_group.command(
    "expire",
    help="Remove the memberships, grants, team memberships and team grants past their "
    "expires_at, each recorded once (any scheduler can run it; make run's worker does every "
    "minute). Decisions never allow past an expiry, whether or not this has run.",
)
def access_expire() -> None:
    from access.expiry import expire_due

    with db.connection_context():
        count = expire_due(_contexts()())
    click.echo(f"removed {count} lapsed memberships, grants and team places")


@click.group("webhooks", cls=AppGroup, help="Webhook endpoints and deliveries.")
def webhooks_group() -> None:
    pass


@webhooks_group.command(
    "replay",
    help="Send deliveries again (ids as in GET /v1/webhooks/{id}/deliveries, e.g. dlv_12), "
    "before the endpoint's later ones; the worker sends them at its next pass.",
)
@click.argument("delivery_ids", nargs=-1, required=True)
def webhooks_replay(delivery_ids: tuple[str, ...]) -> None:
    from access import webhooks
    from access.errors import DomainError

    with db.connection_context():
        for delivery_id in delivery_ids:
            try:
                row = webhooks.replay(delivery_id, current_app.config["CLOCK"]())
            except DomainError as exc:
                raise click.ClickException(exc.detail) from exc
            click.echo(f"{row['id']}: {row['event_type']} {row['event_id']} queued again")
