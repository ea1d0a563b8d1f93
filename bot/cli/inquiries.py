"""`flask inquiries …`: export, show, and what the standing office and units do to an
inquiry (assign, complex, coordinate, answer), through the one lifecycle (cases)."""
from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from bot import context, runtime
from cases import Casework, CaseError

inquiries_cli = AppGroup("inquiries", help="Inquiries.")


@inquiries_cli.command("export")
def inquiries_export() -> None:
    """All inquiries as JSON lines (UTC instants)."""
    from store import Inquiry

    with context.db().session() as s:
        for i in s.execute(select(Inquiry).order_by(Inquiry.id)).scalars():
            click.echo(json.dumps({
                "code": i.code, "page_id": i.page_id, "sender_id": i.sender_id, "text": i.text,
                "intent": i.intent, "confidence": i.confidence, "unit": i.unit_code, "status": i.status,
                "received_at": i.received_at.isoformat().replace("+00:00", "Z"),
                "due_at": i.due_at.isoformat().replace("+00:00", "Z") if i.due_at else None,
            }, ensure_ascii=False))


def _casework() -> Casework:
    return runtime.casework(context.settings(), context.db(), context.clock())


def _run(action):
    try:
        return action()
    except CaseError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)


def _show_assignment(a, tz) -> str:
    return f"{a.role} {a.unit_code} due {a.due_at.astimezone(tz).isoformat()} ({days_en(a.working_days)})"


def days_en(days: int) -> str:
    return f"{days} working day" + ("" if days == 1 else "s")


@inquiries_cli.command("assign")
@click.argument("code")
@click.argument("unit")
@click.option("--by", required=True, help="Who assigns (name or e-mail).")
@click.option("--reason", required=True, help="Why (kept in the audit trail).")
@click.option("--domain", default=None, metavar="INTENT",
              help="The correct domain when the classifier's is wrong (e.g. thue); the business is told it.")
def assign(code: str, unit: str, by: str, reason: str, domain: str | None) -> None:
    """Assign (or reassign) CODE to UNIT as lead unit: 3 working days from now.

    With --domain the domain is corrected too (kept beside the classifier's prediction, for
    the NLU inbox); naming the unit that already leads corrects the domain only."""
    a = _run(lambda: _casework().assign(code, unit, by=by, reason=reason, domain=domain))
    click.echo(f"{code.upper()}: {_show_assignment(a, runtime.calendar(context.settings()).tz)}"
               + (f", domain {domain}" if domain else ""))


@inquiries_cli.command("complex")
@click.argument("code")
@click.option("--by", required=True)
@click.option("--reason", required=True)
def complex_case(code: str, by: str, reason: str) -> None:
    """Mark CODE complex: 5 working days from the lead unit's assignment."""
    a = _run(lambda: _casework().mark_complex(code, by=by, reason=reason))
    click.echo(f"{code.upper()}: {_show_assignment(a, runtime.calendar(context.settings()).tz)}")


@inquiries_cli.command("coordinate")
@click.argument("code")
@click.argument("units", nargs=-1, required=True)
@click.option("--by", required=True)
@click.option("--reason", required=True)
def coordinate(code: str, units: tuple[str, ...], by: str, reason: str) -> None:
    """Ask UNITS for input on CODE: 2 working days from now."""
    created = _run(lambda: _casework().request_coordination(code, units, by=by, reason=reason))
    tz = runtime.calendar(context.settings()).tz
    for a in created:
        click.echo(f"{code.upper()}: {_show_assignment(a, tz)}")


@inquiries_cli.command("answer")
@click.argument("code")
@click.option("--by", required=True)
@click.option("--unit", default=None, help="A coordinating unit's answer (default: the lead unit's).")
@click.option("--text", default=None, help="The approved answer, sent to the business.")
def answer(code: str, by: str, unit: str | None, text: str | None) -> None:
    """Record that the lead unit (or --unit) answered CODE (and send --text to the business)."""
    a = _run(lambda: _casework().answer(code, by=by, unit_code=unit, text=text))
    click.echo(f"{code.upper()}: {a.role} {a.unit_code} answered")


@inquiries_cli.command("show")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts (local times with offset).")
def show(code: str, as_json: bool) -> None:
    """An inquiry's case file: the business, domain, assignments, deadline changes, the
    thread, the answer, and the notices sent and planned. Local times (Asia/Ho_Chi_Minh)
    with their offset; --json for scripts."""
    from datetime import timedelta

    from bot.cli.casefile import as_dict, as_text
    from cases.casefile import case_file

    settings = context.settings()
    cal = runtime.calendar(settings)
    with context.db().session() as s:
        found = case_file(s, code, directory=runtime.directory(settings), calendar=cal,
                          plan=runtime.reminder_plan(settings), now=context.clock()(),
                          grace=timedelta(hours=settings.config.reminders.missed_grace_hours))
        if found is None:
            click.echo(f"Error: no inquiry with code {code}", err=True)
            sys.exit(1)
        if as_json:
            click.echo(json.dumps(as_dict(found, cal.tz), ensure_ascii=False, indent=2))
        else:
            click.echo(as_text(found, cal.tz))
