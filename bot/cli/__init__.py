"""Command line through Flask's CLI, one module per group: `flask db|nlu|deadline|inquiries|
routing|worker|scheduler|report|officers|users|devmail` here, and each channel's own (`flask
messenger`) from its plug-in."""
from __future__ import annotations

import functools

import click
from flask import Flask
from flask.cli import ScriptInfo
from sqlalchemy.exc import InterfaceError, OperationalError, ProgrammingError

from bot.cli.db import db_cli
from bot.cli.deadline import deadline_cli
from bot.cli.inquiries import inquiries_cli
from bot.cli.routing import routing_cli
from bot.cli.nlu import nlu_cli
from bot.cli.officers import officers_cli
from bot.cli.reports import report_cli
from bot.cli.scheduler import scheduler_command
from bot.cli.users import users_cli
from bot.cli.worker import devmail_command, sender_command, worker_command


# the long-running processes refuse to start on a schema older (or newer) than their code
SCHEMA_CHECKED = ("worker", "sender", "scheduler")


def init_app(app: Flask) -> None:
    for command in (nlu_cli, deadline_cli, inquiries_cli, db_cli, worker_command, sender_command, scheduler_command,
                    devmail_command, routing_cli, report_cli, officers_cli, users_cli):
        _guard(command)
        app.cli.add_command(command)


def _guard(command: click.Command) -> None:
    """Every command (and subcommand) ends with one line, not a screen of traceback, when the
    database does not answer (store.outage.unavailable) or its schema is not this code's (an
    update without `flask db upgrade`): what is wrong and what to do, exit status 1 (a
    sysadmin's walkthrough found 122 lines for a refused connection). The worker, its sender
    and the scheduler check the schema before they start. Any other error keeps its
    traceback: it is a bug to report. The app is the invocation's (the commands are module
    singletons, wrapped once)."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _guard(sub)
        return
    if command.callback is None or getattr(command.callback, "_guarded", False):
        return
    run = command.callback

    @functools.wraps(run)
    def guarded(*args, **kwargs):
        from store.outage import reason, unavailable

        current = click.get_current_context().ensure_object(ScriptInfo).load_app()
        try:
            if command.name in SCHEMA_CHECKED:
                _schema_is_current(current)
            return run(*args, **kwargs)
        except (OperationalError, InterfaceError, ProgrammingError) as exc:
            _schema_is_current(current)  # a missing table or column is most likely a schema behind its code
            if unavailable(exc):
                raise click.ClickException(f"the database at {_url(current)} did not answer: {reason(exc)}") from None
            raise

    guarded._guarded = True
    command.callback = guarded


def _schema_is_current(app: Flask) -> None:
    stale = app.extensions["ddci_db"].stale_schema()
    if stale is not None:
        raise click.ClickException(stale)


def _url(app: Flask) -> str:
    return app.extensions["ddci_db"].engine.url.render_as_string(hide_password=True)
