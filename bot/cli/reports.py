"""`flask report weekly|monthly`: the reports of Decision 3887/QĐ-UBND, Art. 10, on demand.

The scheduler sends them by itself (Thursday: the previous ISO week; the 1st: the previous
month); these commands build one to files (--out) or e-mail it (--send).
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Optional

import click
from flask.cli import AppGroup

from bot import context, runtime
from bot.cli.units import unit_code

report_cli = AppGroup("report", help="Weekly (Thursday) and monthly reports.")


def _instant(value: Optional[str], tz) -> Optional[datetime]:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 date-time: {value!r}", param_hint="--as-of") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)  # no offset: Quảng Ninh time


def _run(kind: str, label: Optional[str], out: Optional[Path], send: bool, unit: Optional[str],
         as_of: Optional[str]) -> None:
    if not out and not send:
        raise click.UsageError("say where the report goes: --out DIR and/or --send")
    settings = context.settings()
    service = runtime.report_service(settings, context.db(), context.clock())
    if unit and unit not in service.units:
        raise click.BadParameter(f"unknown unit {unit}", param_hint="--unit")
    now = context.clock()()
    try:
        period = service.period(kind, label) if label else service.period_before(kind, now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--week" if kind == "weekly" else "--month") from None
    cutoff = _instant(as_of, service.calendar.tz) or service.as_of(period, now)
    if out:
        report = service.build(period, as_of=cutoff, unit=unit)
        for path in service.write(report, out):
            click.echo(str(path))
        total = report.total
        click.echo(f"{period.label}: received {total.received}, on time {total.on_time}, late {total.late}, "
                   f"open {total.open}, overdue {total.overdue}", err=True)
    if send:
        count = service.send(period, now=now, manual=True, only_unit=unit)
        click.echo(f"sent {count} e-mail(s) for {period.label}")


@report_cli.command("weekly")
@click.option("--week", help="ISO week, e.g. 2026-W48 (default: the last complete week).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Write the .html, .png and .xlsx here.")
@click.option("--send", is_flag=True, help="E-mail it to the configured recipients and unit heads.")
@click.option("--unit", callback=unit_code, help="Only this unit's extract (unit code).")
@click.option("--as-of", "as_of", help="Count as of this instant (default: the scheduled sending time, or now if earlier).")
def report_weekly(week: Optional[str], out: Optional[Path], send: bool, unit: Optional[str], as_of: Optional[str]) -> None:
    """The weekly report: one ISO week (Monday-Sunday, local time)."""
    _run("weekly", week, out, send, unit, as_of)


@report_cli.command("monthly")
@click.option("--month", help="Month, e.g. 2026-11 (default: the last complete month).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Write the .html, .png and .xlsx here.")
@click.option("--send", is_flag=True, help="E-mail it to the configured recipients and unit heads.")
@click.option("--unit", callback=unit_code, help="Only this unit's extract (unit code).")
@click.option("--as-of", "as_of", help="Count as of this instant (default: the scheduled sending time, or now if earlier).")
def report_monthly(month: Optional[str], out: Optional[Path], send: bool, unit: Optional[str], as_of: Optional[str]) -> None:
    """The monthly report: one calendar month (local time)."""
    _run("monthly", month, out, send, unit, as_of)
