"""`flask inquiries …`: export, show, and what the standing office and units do to an
inquiry (assign, complex, coordinate, answer), through the one lifecycle (cases)."""
from __future__ import annotations

import json
import sys
from typing import Callable, Optional

import click
from flask.cli import AppGroup
from sqlalchemy import select

from bot import context, runtime
from cases import Casework, CaseError, queries

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
    return f"{a.role} {a.unit_code} due {a.due_at.astimezone(tz).isoformat()} ({a.working_days} working days)"


@inquiries_cli.command("assign")
@click.argument("code")
@click.argument("unit")
@click.option("--by", required=True, help="Who assigns (name or e-mail).")
@click.option("--reason", required=True, help="Why (kept in the audit trail).")
def assign(code: str, unit: str, by: str, reason: str) -> None:
    """Assign (or reassign) CODE to UNIT as lead unit: 3 working days from now."""
    a = _run(lambda: _casework().assign(code, unit, by=by, reason=reason))
    click.echo(f"{code.upper()}: {_show_assignment(a, runtime.calendar(context.settings()).tz)}")


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


def _utc(instant) -> Optional[str]:
    return instant.isoformat().replace("+00:00", "Z") if instant else None


def edited_messages_json(s, inquiry, when: Callable = _utc) -> list[dict]:
    """The inquiry's messages the business edited: the current text, then every version with
    the time it was written (`when` formats it: UTC by default; revision 0 is the text as
    first received). Separate from `show` so that any view of the thread lists them alike."""
    return [{"message_id": m.id, "ref": m.ref, "text": m.text, "revision": m.revision or 0,
             "versions": [{"revision": v.revision, "text": v.text, "written_at": when(v.written_at)}
                          for v in versions]}
            for m, versions in queries.edited_messages(s, inquiry)]


@inquiries_cli.command("show")
@click.argument("code")
@click.option("--versions", is_flag=True, help="Also list the earlier versions of messages the business edited.")
def show(code: str, versions: bool) -> None:
    """An inquiry with its assignments, routing trace and deadline changes (JSON)."""
    from store import Assignment, DeadlineChange, Inquiry

    with context.db().session() as s:
        inquiry = s.execute(select(Inquiry).where(Inquiry.code == code.upper())).scalar_one_or_none()
        if inquiry is None:
            click.echo(f"Error: no inquiry with code {code}", err=True)
            sys.exit(1)
        assignments = s.execute(select(Assignment).where(Assignment.inquiry_id == inquiry.id)
                                .order_by(Assignment.id)).scalars().all()
        changes = s.execute(select(DeadlineChange).where(
            DeadlineChange.assignment_id.in_([a.id for a in assignments])).order_by(DeadlineChange.id)).scalars().all()
        iso = lambda d: d.isoformat().replace("+00:00", "Z") if d else None  # noqa: E731
        click.echo(json.dumps({
            "code": inquiry.code, "status": inquiry.status, "intent": inquiry.intent, "unit": inquiry.unit_code,
            "due_at": iso(inquiry.due_at), "routing_trace": inquiry.routing_trace,
            "assignments": [{"id": a.id, "unit": a.unit_code, "role": a.role, "status": a.status,
                             "working_days": a.working_days, "assigned_at": iso(a.assigned_at),
                             "due_at": iso(a.due_at)} for a in assignments],
            "deadline_changes": [{"assignment_id": c.assignment_id, "old_due_at": iso(c.old_due_at),
                                  "new_due_at": iso(c.new_due_at), "by": c.changed_by, "reason": c.reason,
                                  "at": iso(c.changed_at)} for c in changes],
            **({"edited_messages": edited_messages_json(s, inquiry)} if versions else {}),
        }, ensure_ascii=False, indent=2))
