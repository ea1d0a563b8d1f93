"""`flask worker` and, in development, `flask devmail`."""
from __future__ import annotations

import os

import click
from flask.cli import ScriptInfo

import telemetry
from bot import context, runtime
from bot.cli.process import stop_event
from bot.sender import SenderProcess, serve
from store.db import utcnow


@click.command("worker")
@click.option("--once", is_flag=True, help="Process what is pending, then exit.")
def worker_command(once: bool) -> None:
    """Take inbox events, classify, route, acknowledge and notify."""
    settings = context.settings()
    if not once and settings.config.app.worker_nice:
        # before the model loads: on Linux a thread keeps the priority it was created with, so
        # the classifier's threads (created at load) must be born after this
        os.nice(settings.config.app.worker_nice)
    context.db().yield_to_requests()  # SQLite: the web's waiting requests write first (store/db.py WriterQueue)
    w = runtime.worker(settings, context.db(), context.clock())
    if once:
        w.started()  # a page waiting for a renewed token is probed at once
        click.echo(f"handled {w.run_once()} item(s)")
        return
    version = w.classifier.refresh() if hasattr(w.classifier, "refresh") else None
    click.echo(f"worker started (model {version or 'none yet'}); Ctrl-C to stop", err=True)
    click.echo(telemetry.where(), err=True)
    # The sending in a child process (bot/sender.py) needs the real clock: a clock driven by a
    # test lives in this process only.
    info = click.get_current_context().find_object(ScriptInfo)  # `flask --app X worker`: the child loads X too
    child = SenderProcess(app=info.app_import_path if info is not None else None) \
        if settings.config.app.sender_process and context.clock() is utcnow else None
    w.run_forever(stop_event(), settings.config.app.worker_poll_seconds, sender=child)


@click.command("sender")
def sender_command() -> None:
    """The worker's sending (outbox, notifications); started by `flask worker`, which wakes it
    through the standard input; it stops at end of file."""
    settings = context.settings()
    context.db().yield_to_requests()
    sending = runtime.sender(settings, context.db(), context.clock())
    serve(sending, stop_event(), settings.config.app.worker_poll_seconds)


@click.command("devmail")
@click.option("--host", default=None, help="Defaults to smtp.host of config.yml.")
@click.option("--port", default=None, type=int, help="Defaults to smtp.port of config.yml.")
def devmail_command(host: str | None, port: int | None) -> None:
    """Development SMTP sink: catches the units' e-mails and shows them in the sandbox."""
    from bot.devmail import PortBusy, serve

    settings = context.settings()
    if settings.environment == "production":
        # it would swallow the units' notices and the reports: they are stored, never delivered
        raise _Refused("flask devmail is the development mail sink: it keeps e-mails instead of delivering "
                       "them, so it does not run with DDCI_ENV=production (smtp: in config.yml names the "
                       "real mail server)")
    smtp = settings.config.smtp
    try:
        serve(context.db(), host or smtp.host, port or smtp.port, stop_event())
    except PortBusy as exc:
        raise click.ClickException(str(exc)) from None


class _Refused(click.ClickException):
    exit_code = 2
