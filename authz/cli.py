"""Command-line tools: ``flask --app app db|keys|policy|demo ...``."""

import sys

import click
from flask import Flask, current_app
from peewee import IntegrityError

import models
from authz.engine import PolicyError, PolicySet
from authz.tables import TableError, run_tables
from models import ApiKey, db


def register(app: Flask) -> None:
    """Add the command groups to ``app``."""
    app.cli.add_command(db_group)
    app.cli.add_command(keys_group)
    app.cli.add_command(policy_group)
    app.cli.add_command(demo_group)


@click.group("db", help="The database.")
def db_group():
    pass


@db_group.command("init", help="Create the tables that do not exist yet.")
def db_init():
    models.create_tables()
    click.echo(f"tables ready in {current_app.config['DATABASE_URL']}")


@click.group("keys", help="API keys of calling services.")
def keys_group():
    pass


@keys_group.command("create", help="Make a key; it is printed once, only its hash is kept.")
@click.argument("name")
def keys_create(name):
    with db.connection_context(), db.atomic():
        try:
            key = ApiKey.create_key(name)
        except IntegrityError:
            raise click.ClickException(f"a key named {name!r} exists; revoke it or pick another")
    click.echo(key)


@keys_group.command("revoke", help="Revoke a key: it answers 401 from now on.")
@click.argument("name")
def keys_revoke(name):
    from models.base import utcnow

    with db.connection_context(), db.atomic():
        count = (ApiKey.update(revoked_at=utcnow())
                 .where((ApiKey.name == name) & ApiKey.revoked_at.is_null()).execute())
    if not count:
        raise click.ClickException(f"no active key named {name!r}")
    click.echo(f"revoked {name}")


@click.group("policy", help="The policies under policies/.")
def policy_group():
    pass


@policy_group.command("test", help="Run every style's test table; exit 1 on any failure.")
@click.option("--dir", "directory", default=None, help="Policy folder (default: the live one).")
def policy_test(directory):
    directory = directory or current_app.config["POLICY_DIR"]
    try:
        policy = PolicySet(directory)
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
    click.echo(f"policy version {policy.version}")
    sys.exit(1 if failed else 0)


@click.group("demo", help="Demo data.")
def demo_group():
    pass


@demo_group.command("load", help="Create demo organizations (one per style) and users.")
def demo_load():
    from authz.demo import load_demo

    with db.connection_context():
        for line in load_demo(current_app.extensions["orgauthz.policy"].current):
            click.echo(line)
