"""`flask inquiries …`: export, show, and what the standing office and units do to an
inquiry (assign, complex, coordinate, send back, remind; draft, approve or return, record an
answer given another way; a coordinating unit's input), through the one lifecycle (cases).

The CLI has no login: `--by` names the person. When the console has an account with that
e-mail (`flask users`), the account decides: its role and unit are the person's (a `--role`
or `--unit` that says otherwise is refused), a disabled account is refused, and it may do only
what it may in the console (assign, coordinate and remind: the standing office; send back:
the lead unit; a complex case: either). Without an account, the role and unit come from `--role` and `--unit`, by
default from config.yml (one of a unit's approvers, `head_email` or `approvers`, acts as
`head`; anyone else as `officer`; the unit is the inquiry's or the draft's). Whoever runs the
command on the server is trusted to say who they are.
So every change made here is in the audit log as the console's are, in the same transaction,
under the operating system's user who ran it (`cli:<user>`, address `cli`: the one identity
the server knows) with the `--by` it claimed as `on_behalf_of`.

`answer` keeps its old uses: without --text it records that the lead unit answered some other
way (or, with --unit, a coordinating unit's input); with --text it needs --approved-by, another
person who may approve (four eyes), and then drafts, submits and approves the answer at once.
The clock stops when the answer is sent, not when the command runs."""
from __future__ import annotations

import json
import sys
from typing import Callable, Optional

import click
from flask.cli import AppGroup
from sqlalchemy import select

from bot import context, runtime
from bot.cli.deadline import parse_instant
from bot.cli.units import unit_code
from bot.cli.users import cli_actor
from bot.console import accounts
from cases import Actor, Casework, CaseError, DraftView, queries
from store import Draft
from store import audit as log

inquiries_cli = AppGroup("inquiries", help="Inquiries.")
DRAFT_ID = click.IntRange(min=1, max=2**63 - 1)  # a row id, as the console's routes take it (bot.RowId)


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


def _audit(s, action: str, code: str, by: str, details: Optional[dict] = None) -> None:
    log.record(s, at=context.clock()(), action=action, actor=cli_actor(), address="cli", object_type="inquiry",
               object_id=code, details={"on_behalf_of": by, **(details or {})})


def _audited(action: str, by: str, work: Callable, details: Callable):
    """`work(s)` and its audit entry in one transaction: `details(s, result)` gives the
    inquiry's code and what the entry says. A refused change writes neither."""
    _refuse_disabled(by)

    def go():
        with context.db().session() as s:
            result = work(s)
            code, said = details(s, result)
            _audit(s, action, code, by, said)
            return result
    return _run(go)


def _code(s, code: str) -> str:
    return _casework().find(s, code).code


def _show_assignment(a, tz) -> str:
    return f"{a.role} {a.unit_code} due {a.due_at.astimezone(tz).isoformat()} ({days_en(a.working_days)})"


def days_en(days: int) -> str:
    return f"{days} working day" + ("" if days == 1 else "s")


@inquiries_cli.command("assign")
@click.argument("code")
@click.argument("unit", callback=unit_code)
@click.option("--by", required=True, help="Who assigns (name or e-mail).")
@click.option("--reason", required=True, help="Why (kept in the audit trail).")
@click.option("--domain", default=None, metavar="INTENT",
              help="The correct domain when the classifier's is wrong (e.g. thue); the business is told it.")
def assign(code: str, unit: str, by: str, reason: str, domain: str | None) -> None:
    """Assign (or reassign) CODE to UNIT as lead unit: 3 working days from now.

    With --domain the domain is corrected too (kept beside the classifier's prediction, for
    the NLU inbox); naming the unit that already leads corrects the domain only."""
    _may(by, code, office=True, what=OFFICE_DOES)
    a = _audited(log.INQUIRY_ASSIGN, by, lambda s: _casework().assign(code, unit, by=by, reason=reason, domain=domain,
                                                                      session=s),
                 lambda s, a: (a.inquiry.code, {"unit": a.unit_code, "domain": domain, "due_at": a.due_at.isoformat(),
                                                "reason": reason.strip()}))
    click.echo(f"{code.upper()}: {_show_assignment(a, runtime.calendar(context.settings()).tz)}"
               + (f", domain {domain}" if domain else ""))


@inquiries_cli.command("complex")
@click.argument("code")
@click.option("--by", required=True)
@click.option("--reason", required=True)
def complex_case(code: str, by: str, reason: str) -> None:
    """Mark CODE complex: 5 working days from the lead unit's assignment."""
    _may(by, code, office=True, lead=True, what="mark a complex case")
    a = _audited(log.INQUIRY_COMPLEX, by, lambda s: _casework().mark_complex(code, by=by, reason=reason, session=s),
                 lambda s, a: (a.inquiry.code, {"due_at": a.due_at.isoformat(), "reason": reason.strip()}))
    click.echo(f"{code.upper()}: {_show_assignment(a, runtime.calendar(context.settings()).tz)}")


@inquiries_cli.command("coordinate")
@click.argument("code")
@click.argument("units", nargs=-1, required=True, callback=unit_code)
@click.option("--by", required=True)
@click.option("--reason", required=True)
def coordinate(code: str, units: tuple[str, ...], by: str, reason: str) -> None:
    """Ask UNITS for input on CODE: 2 working days from now."""
    _may(by, code, office=True, what=OFFICE_DOES)
    created = _audited(log.INQUIRY_COORDINATE, by,
                       lambda s: _casework().request_coordination(code, units, by=by, reason=reason, session=s),
                       lambda s, made: (_code(s, code), {"units": [a.unit_code for a in made], "reason": reason.strip()}))
    tz = runtime.calendar(context.settings()).tz
    for a in created:
        click.echo(f"{code.upper()}: {_show_assignment(a, tz)}")


def _refuse(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _refuse_disabled(email: str) -> None:
    """Every change: a --by naming a disabled console account is refused (the drafts' and
    approvals' commands check more, in _actor)."""
    with context.db().session() as s:
        user = accounts.by_email(s, email) if email and email.strip() else None
        disabled = user is not None and not user.active
        address = user.email if user is not None else None
    if disabled:
        _refuse(f"the console account {address} is disabled")


OFFICE_DOES = "assign, ask for coordination or remind"  # what only the standing office does, as in the console


def _may(email: str, code: str, *, office: bool = False, lead: bool = False, what: str) -> None:
    """A --by naming a console account may do here only what the account may do in the console
    (a walkthrough: an officer's e-mail assigned inquiries from the command line): `office`,
    the standing office; `lead`, an officer or head of the inquiry's lead unit. A --by without
    an account is trusted (module docstring)."""
    with context.db().session() as s:
        user = accounts.by_email(s, email) if email and email.strip() else None
        account = (user.email, user.role, user.unit_code) if user is not None and user.active else None
    if account is None:  # no account; or a disabled one, which _audited refuses as such
        return
    address, role, unit = account
    if office and role == "standing_office":
        return
    if lead and role in ("officer", "head") and unit == _run(lambda: _inquiry_unit(code)) \
            and (office or unit != context.settings().config.standing_office):  # it sends back to itself
        return
    who = " or ".join(w for w, on in (("the standing office", office), ("the lead unit's officers", lead)) if on)
    _refuse(f"{address} is a console account ({role}, {unit}): only {who} may {what} (as in the console)")


def _actor(email: str, role: str | None, unit: str | None, default_unit: str | None) -> Actor:
    """The person behind --by: their console account's role and unit when they have one (a
    disabled account, or a --role/--unit contradicting it, is refused), otherwise the role and
    unit given, or config's (see the module docstring)."""
    with context.db().session() as s:
        user = accounts.by_email(s, email)
        account = (user.email, user.role, user.unit_code, user.active) if user is not None else None
    if account is not None:
        address, own_role, own_unit, active = account
        if not active:
            _refuse(f"the console account {address} is disabled")
        if role is not None and role != own_role:
            _refuse(f"{address} is {own_role} in the console, not {role}")
        if unit is not None and unit != own_unit:
            _refuse(f"{address} belongs to {own_unit} in the console, not {unit}")
        return Actor(address, own_role, own_unit)
    unit = unit or default_unit or ""
    if role is None:
        rules = runtime.approval_rules(context.settings())
        role = "head" if email.strip().lower() in rules.settings(unit).approvers else "officer"
    return Actor(email, role, unit)


def _inquiry_unit(code: str) -> str | None:
    with context.db().session() as s:
        inquiry = _casework().find(s, code)
        return inquiry.unit_code


def _draft_unit(draft_id: int) -> str | None:
    with context.db().session() as s:
        draft = s.get(Draft, draft_id)
        return draft.unit_code if draft else None


def _show_draft(d: DraftView) -> str:
    return f"{d.code}: draft #{d.id} by {d.author} ({d.language}): {d.status} ({d.status_vi})"


_ROLE = click.option("--role", type=click.Choice(["officer", "head", "standing_office", "admin"]), default=None,
                     help="The person's role (default: head if config lists them as the unit's approver).")
_UNIT = click.option("--unit", "unit", default=None, callback=unit_code, help="The person's unit (default: the inquiry's / draft's).")


@inquiries_cli.command("answer")
@click.argument("code")
@click.option("--by", required=True)
@click.option("--unit", default=None, callback=unit_code, help="A coordinating unit's input (default: the lead unit's answer).")
@click.option("--text", default=None, help="The answer to send (needs --approved-by).")
@click.option("--approved-by", default=None, help="Who approves --text (never --by: four eyes).")
def answer(code: str, by: str, unit: str | None, text: str | None, approved_by: str | None) -> None:
    """Record that the lead unit (or --unit) answered CODE, or send --text once --approved-by approves it."""
    cw = _casework()
    if text is None:
        a = _audited(log.ANSWER_RECORD, by, lambda s: cw.answer(code, by=by, unit_code=unit, session=s),
                     lambda s, a: (a.inquiry.code, {"unit": a.unit_code, "how": "other"}))
        click.echo(f"{code.upper()}: {a.role} {a.unit_code} answered")
        return
    if unit is not None:
        _audited(log.INPUT_GIVE, by, lambda s: cw.give_input(code, unit, by=by, text=text, session=s),
                 lambda s, _: (_code(s, code), {"unit": unit}))
        click.echo(f"{code.upper()}: coordinate {unit} answered")
        return
    if not approved_by:
        click.echo("Error: an answer sent to the business needs --approved-by (another person who may approve it)",
                   err=True)
        sys.exit(1)
    lead_unit = _run(lambda: _inquiry_unit(code))
    author = _actor(by, None, None, lead_unit)
    approver = _actor(approved_by, None, None, lead_unit)

    def draft_and_approve():
        with context.db().session() as s:  # all or nothing: no draft left behind when approval is refused
            d = cw.answers.draft(code, actor=author, text=text, session=s)
            _audit(s, log.DRAFT_CREATE, d.code, author.email, {"draft": d.id, "language": d.language})
            d = cw.answers.submit(d.id, actor=author, session=s)
            _audit(s, log.DRAFT_SUBMIT, d.code, author.email, {"draft": d.id, "status": d.status})
            d = cw.answers.approve(d.id, actor=approver, session=s)
            _audit(s, log.DRAFT_APPROVE, d.code, approver.email, {"draft": d.id, "author": d.author})
            return d
    d = _run(draft_and_approve)
    click.echo(f"{_show_draft(d)}; approved by {approver.email}, sent by the worker")


@inquiries_cli.command("draft")
@click.argument("code")
@click.option("--by", required=True, help="The author's e-mail.")
@click.option("--text", required=True)
@click.option("--language", type=click.Choice(["vi", "en"]), default=None, help="Default: the business's.")
@click.option("--submit/--no-submit", default=True, show_default=True, help="Put it up for approval at once.")
@_ROLE
@_UNIT
def draft(code: str, by: str, text: str, language: str | None, submit: bool, role: str | None,
          unit: str | None) -> None:
    """Draft the lead unit's answer to CODE (and submit it for approval)."""
    cw = _casework()
    actor = _actor(by, role, unit, _run(lambda: _inquiry_unit(code)))
    d = _audited(log.DRAFT_CREATE, by, lambda s: cw.answers.draft(code, actor=actor, text=text, language=language,
                                                                  session=s),
                 lambda s, d: (d.code, {"draft": d.id, "language": d.language}))
    if submit:
        d = _audited(log.DRAFT_SUBMIT, by, lambda s: cw.answers.submit(d.id, actor=actor, session=s),
                     lambda s, d: (d.code, {"draft": d.id, "status": d.status}))
    click.echo(_show_draft(d))


@inquiries_cli.command("submit")
@click.argument("draft_id", type=DRAFT_ID)
@click.option("--by", required=True)
@_ROLE
@_UNIT
def submit(draft_id: int, by: str, role: str | None, unit: str | None) -> None:
    """Put a draft up for approval (its author only)."""
    actor = _actor(by, role, unit, _draft_unit(draft_id))
    click.echo(_show_draft(_audited(log.DRAFT_SUBMIT, by,
                                    lambda s: _casework().answers.submit(draft_id, actor=actor, session=s),
                                    lambda s, d: (d.code, {"draft": d.id, "status": d.status}))))


@inquiries_cli.command("approve")
@click.argument("draft_id", type=DRAFT_ID)
@click.option("--by", required=True)
@_ROLE
@_UNIT
def approve(draft_id: int, by: str, role: str | None, unit: str | None) -> None:
    """Approve a submitted draft: the answer is queued and the worker sends it."""
    actor = _actor(by, role, unit, _draft_unit(draft_id))
    click.echo(_show_draft(_audited(log.DRAFT_APPROVE, by,
                                    lambda s: _casework().answers.approve(draft_id, actor=actor, session=s),
                                    lambda s, d: (d.code, {"draft": d.id, "author": d.author}))))


@inquiries_cli.command("return")
@click.argument("draft_id", type=DRAFT_ID)
@click.option("--by", required=True)
@click.option("--reason", required=True, help="Why (the author reads it; kept in the draft's history).")
@_ROLE
@_UNIT
def return_draft(draft_id: int, by: str, reason: str, role: str | None, unit: str | None) -> None:
    """Return a submitted draft to its unit with a reason."""
    actor = _actor(by, role, unit, _draft_unit(draft_id))
    click.echo(_show_draft(_audited(
        log.DRAFT_RETURN, by, lambda s: _casework().answers.return_draft(draft_id, actor=actor, reason=reason, session=s),
        lambda s, d: (d.code, {"draft": d.id, "reason": reason.strip()}))))


@inquiries_cli.command("record")
@click.argument("code")
@click.option("--by", required=True)
@click.option("--how", required=True, type=click.Choice(["phone", "email", "in_person", "letter", "other"]))
@click.option("--text", required=True, help="What the business was told (a summary).")
@click.option("--at", "at", default=None, help="When (ISO 8601, no offset = Asia/Ho_Chi_Minh; default now).")
def record(code: str, by: str, how: str, text: str, at: str | None) -> None:
    """Record an answer given another way (phone, e-mail, ...): the clock stops at --at."""
    when = parse_instant(at, runtime.calendar(context.settings()).tz, "'--at'") if at else None
    r = _audited(log.ANSWER_RECORD, by, lambda s: _casework().answers.record(code, by=by, how=how, text=text, at=when,
                                                                             session=s),
                 lambda s, r: (r.code, {"by": r.by, "how": r.how, "at": r.at.isoformat()}))
    local = r.at.astimezone(runtime.calendar(context.settings()).tz).isoformat(timespec="seconds")
    click.echo(f"{r.code}: answered by {r.how} ({r.how_vi}) at {local}, recorded by {r.by}")


@inquiries_cli.command("input")
@click.argument("code")
@click.argument("unit", callback=unit_code)
@click.option("--by", required=True)
@click.option("--text", required=True)
def give_input(code: str, unit: str, by: str, text: str) -> None:
    """A coordinating UNIT's input on CODE (internal, for the lead unit)."""
    _audited(log.INPUT_GIVE, by, lambda s: _casework().give_input(code, unit, by=by, text=text, session=s),
             lambda s, _: (_code(s, code), {"unit": unit}))
    click.echo(f"{code.upper()}: input from {unit} recorded")


@inquiries_cli.command("send-back")
@click.argument("code")
@click.option("--by", required=True)
@click.option("--reason", required=True)
def send_back(code: str, by: str, reason: str) -> None:
    """The lead unit returns CODE to the standing office's triage queue."""
    _may(by, code, lead=True, what="send an inquiry back")
    a = _audited(log.INQUIRY_SEND_BACK, by, lambda s: _casework().send_back(code, by=by, reason=reason, session=s),
                 lambda s, a: (a.inquiry.code, {"reason": reason.strip()}))
    click.echo(f"{code.upper()}: {_show_assignment(a, runtime.calendar(context.settings()).tz)}")


@inquiries_cli.command("remind")
@click.argument("code")
@click.option("--by", required=True)
@click.option("--unit", default=None, callback=unit_code, help="A coordinating unit (default: the lead unit).")
def remind(code: str, by: str, unit: str | None) -> None:
    """The standing office reminds the unit now."""
    _may(by, code, office=True, what=OFFICE_DOES)
    r = _audited(log.INQUIRY_REMIND, by, lambda s: _casework().remind(code, by=by, unit_code=unit, session=s),
                 lambda s, r: (r.code, {"unit": r.unit, "queued": r.queued}))
    click.echo(f"{r.code}: reminder to {r.unit} " + ("queued" if r.queued else "already queued"))


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
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts (local times with offset).")
@click.option("--versions", is_flag=True, help="Also list the earlier versions of messages the business edited.")
def show(code: str, as_json: bool, versions: bool) -> None:
    """An inquiry's case file: the business, domain, assignments, deadline changes, the
    thread, the answer, drafts and their approval, and the notices sent and planned. Local
    times (Asia/Ho_Chi_Minh) with their offset; --json for scripts."""
    from datetime import timedelta

    from bot.cli.casefile import as_dict, as_text
    from cases.casefile import case_file

    settings = context.settings()
    cal = runtime.calendar(settings)
    with context.db().session() as s:
        found = case_file(s, runtime.casework(settings, context.db(), context.clock()), code,
                          plan=runtime.reminder_plan(settings), now=context.clock()(),
                          grace=timedelta(hours=settings.config.reminders.missed_grace_hours))
        if found is None:
            click.echo(f"Error: no inquiry with code {code}", err=True)
            sys.exit(1)
        edited = edited_messages_json(s, found.inquiry, when=lambda d: d.astimezone(cal.tz).isoformat()) \
            if versions else None
        if as_json:
            click.echo(json.dumps(as_dict(found, cal.tz, edited), ensure_ascii=False, indent=2))
        else:
            click.echo(as_text(found, cal.tz, edited))
