"""`flask deadline due`: a working-day deadline, explained day by day."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import click
from flask.cli import AppGroup

from bot import context, runtime

deadline_cli = AppGroup("deadline", help="Working-day deadlines.")


YEARS = (2000, 2100)


def parse_instant(value: str, tz: ZoneInfo, param_hint: str | None = None) -> datetime:
    """An ISO 8601 instant typed on the command line; anything else is click's clean usage
    error (exit 2, naming `param_hint`), never a traceback."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 date-time: {value!r}", param_hint=param_hint) from None
    if not YEARS[0] <= moment.year <= YEARS[1]:  # as the console's date filters; 9999 overflowed (a walkthrough)
        raise click.BadParameter(f"{value!r}: a year from {YEARS[0]} to {YEARS[1]}", param_hint=param_hint)
    # A start without an offset is read as local time in Quảng Ninh.
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


@deadline_cli.command("due")
@click.option("--start", required=True, help="ISO 8601 instant (no offset = Asia/Ho_Chi_Minh).")
@click.option("--days", required=True, type=click.IntRange(min=1, max=260), help="Working days (a year's at most).")
@click.option("--explain", is_flag=True, help="List counted and skipped days with reasons.")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
def deadline_due(start: str, days: int, explain: bool, lang: str) -> None:
    """Print the due instant (ISO 8601, +07:00)."""
    cal = runtime.calendar(context.settings())
    moment = parse_instant(start, cal.tz, "'--start'")
    due = cal.due(moment, days).astimezone(cal.tz)
    click.echo(due.isoformat())
    if explain:
        click.echo(cal.explain_due(moment, days).render(lang))
        if not cal.is_declared(due):  # as the acknowledgements and notices say it (a walkthrough)
            from cases.replies import provisional_text

            click.echo(("The due date is " if lang == "en" else "Hạn ") + provisional_text(due, lang) + ".")
