"""`flask scheduler`: reminders, escalations and reports; one active instance at a time."""
from __future__ import annotations

import logging

import click

import telemetry
from bot import context, runtime
from bot.cli.process import stop_event
from store.outage import Outage, unavailable

log = logging.getLogger(__name__)
START_RETRY_FIRST_SECONDS = 1.0  # the first wait for a database that did not answer at the start (then 2, 4 ... 30 s)


@click.command("scheduler")
@click.option("--sync-seconds", default=10.0, show_default=True,
              help="How often to renew the lease and sync jobs with the database (keep well under the lease).")
def scheduler_command(sync_seconds: float) -> None:
    """Run reminders, escalations and reports (APScheduler, jobs in the database).

    Several may run: one holds the lease (scheduler_lock) and works; the others wait and take
    over when it stops renewing.
    """
    settings = context.settings()
    lease = settings.config.reminders.lock_lease_seconds
    if sync_seconds >= lease:
        raise click.BadParameter(f"must be below reminders.lock_lease_seconds ({lease})", param_hint="--sync-seconds")
    context.db().yield_to_requests()  # SQLite: the web's waiting requests write first (store/db.py WriterQueue)
    service = runtime.reminder_service(settings, context.db(), context.clock())
    stop = stop_event()
    outage = Outage("scheduler", log, first=START_RETRY_FIRST_SECONDS)
    try:
        # Started while the database is down (a reboot that starts it before PostgreSQL): wait
        # for it, one line per try, instead of ending with a traceback (systemd's restart loop)
        if not outage.retry(service.start, stop):
            return  # stopped before the database answered
        click.echo(f"scheduler {service.lease.holder} started; Ctrl-C to stop", err=True)
        click.echo(telemetry.where(), err=True)
        was_active = None
        while not stop.is_set():
            try:
                status = service.tick()
                outage.answered()
            except Exception as exc:  # keep trying; the lease lapses if it lasts
                if unavailable(exc):  # a database outage: one line per beat, no traceback
                    outage.failed(exc, wait=sync_seconds)
                else:
                    log.exception("scheduler tick failed")
                status = {"active": False}
            if status["active"] != was_active:
                if status["active"]:
                    click.echo(f"active (lease holder); {status.get('reconcile')}", err=True)
                else:
                    click.echo(f"standing by: the lease is held by {status.get('held_by')}", err=True)
                was_active = status["active"]
            stop.wait(sync_seconds)
    finally:
        service.shutdown()
