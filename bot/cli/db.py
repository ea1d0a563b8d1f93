"""`flask db upgrade`: the schema (Alembic migrations in store/)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from bot import context

db_cli = AppGroup("db", help="Database schema.")


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest version."""
    context.db().upgrade()
    click.echo(f"database ready: {context.db().engine.url.render_as_string(hide_password=True)}")
