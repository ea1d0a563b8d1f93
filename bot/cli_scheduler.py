"""`flask scheduler`: the reminder and escalation process."""
from __future__ import annotations

import click

from bot import context, runtime
from bot.cli import _stop_event


@click.command("scheduler")
@click.option("--sync-seconds", default=10.0, show_default=True, help="How often to reconcile jobs with the database.")
def scheduler_command(sync_seconds: float) -> None:
    """Run reminders and escalations (APScheduler, jobs in the database)."""
    service = runtime.reminder_service(context.settings(), context.db(), context.clock())
    stop = _stop_event()
    service.start()
    click.echo(f"scheduler started; {service.reconcile()}; Ctrl-C to stop", err=True)
    try:
        while not stop.is_set():
            service.heartbeat()
            stop.wait(sync_seconds)
            service.reconcile()
    finally:
        service.shutdown()
