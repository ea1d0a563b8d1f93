"""`flask db upgrade`: the schema (Alembic migrations in store/)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from bot import context

db_cli = AppGroup("db", help="Database schema.")


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest version."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        context.db().upgrade()
    except SQLAlchemyError as exc:  # the database is down or refuses us: one line, not a traceback
        url = context.db().engine.url.render_as_string(hide_password=True)
        why = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise click.ClickException(f"the database at {url} did not answer: {why}")
    click.echo(f"database ready: {context.db().engine.url.render_as_string(hide_password=True)}")
