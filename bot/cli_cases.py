"""`flask routing check|explain` and the casework commands on `flask inquiries`."""
from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from bot import context, runtime
from bot.casework import Casework, CaseworkError
from routing.taxonomy import DOMAIN_INTENTS

routing_cli = AppGroup("routing", help="Check the routing configuration, explain a decision.")


@routing_cli.command("check")
def routing_check() -> None:
    """Validate units, pages and the routing table; list what needs an admin's attention."""
    settings = context.settings()
    cfg = settings.config
    codes = {u.code for u in cfg.units}
    problems: list[str] = []
    warnings: list[str] = []
    for domain in DOMAIN_INTENTS:
        unit = cfg.routing.domains.get(domain)
        if unit not in codes:
            problems.append(f"routing.domains.{domain}: no owning unit")
    for page in cfg.pages:
        if page.unit not in codes:
            problems.append(f"pages: page {page.id} maps to unknown unit {page.unit}")
        if not settings.page_tokens.get(page.id):
            warnings.append(f"page {page.id} ({page.name}): ${page.access_token_env} is not set")
    placeholder = sorted(u.code for u in cfg.units if any(e.endswith(".example") for e in u.emails))
    if placeholder:
        warnings.append(f"{len(placeholder)} unit(s) still have placeholder e-mail addresses (.example)")
    owners = {}
    for domain, unit in cfg.routing.domains.items():
        owners.setdefault(unit, []).append(domain)
    click.echo(f"{settings.config_path}: {len(cfg.units)} units, {len(cfg.pages)} pages, "
               f"{len(cfg.routing.domains)} domains routed; standing office {cfg.standing_office}")
    for unit, domains in sorted(owners.items()):
        click.echo(f"  {unit:<10} {settings.unit(unit).name}: {', '.join(domains)}")
    for page in cfg.pages:
        click.echo(f"  page {page.id} {page.name} -> {page.unit}")
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    for p in problems:
        click.echo(f"error: {p}", err=True)
    if problems:
        sys.exit(1)
    click.echo("routing configuration OK")


@routing_cli.command("explain")
@click.argument("text")
@click.option("--page", "page_id", default=None, help="Page id the message was sent to (default: the first page).")
@click.option("--at", "at", default=None, help="When it was received (ISO 8601; default: now).")
def routing_explain(text: str, page_id: str | None, at: str | None) -> None:
    """Classify TEXT and show the rule trace, the unit and the due date."""
    from datetime import datetime

    from routing.rules import route
    from scheduler.deadlines import due_at

    settings = context.settings()
    page_id = page_id or settings.config.pages[0].id
    if settings.page(page_id) is None:
        raise click.BadParameter(f"page {page_id} is not configured", param_hint="--page")
    cal, policy = runtime.calendar(settings), runtime.policy(settings)
    received = context.clock()()
    if at:
        received = datetime.fromisoformat(at.replace("Z", "+00:00"))
        received = received if received.tzinfo else received.replace(tzinfo=cal.tz)
    from nlu.classifier import NoModel

    worker = runtime.worker(settings, context.db(), context.clock())
    try:
        result = worker.classifier.classify(text)
    except NoModel as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    request = worker.route_request(text, result, page_id)
    decision = route(request, runtime.routing_table(settings))
    due = due_at(cal, policy, decision.role, received)
    unit = settings.unit(decision.unit)
    click.echo(f"text:        {text}")
    click.echo(f"intent:      {result.intent} (confidence {result.confidence:.2f}"
               f"{', needs review' if result.needs_review else ''})")
    if result.entities:
        click.echo("entities:    " + ", ".join(f"{e['entity']}={e['value']}" for e in result.entities))
    click.echo(f"page:        {page_id} ({settings.page(page_id).name})")
    click.echo("trace:")
    for line in decision.trace:
        click.echo(f"  - {line}")
    click.echo(f"unit:        {unit.code} {unit.name} ({'triage' if decision.is_triage else 'lead'})")
    for code in decision.coordinators:
        click.echo(f"coordinator: {code} {settings.unit(code).name} (due "
                   f"{due_at(cal, policy, 'coordinate', received).astimezone(cal.tz).isoformat()})")
    click.echo(f"received:    {received.astimezone(cal.tz).isoformat()}")
    click.echo(f"due:         {due.astimezone(cal.tz).isoformat()} ({policy.days_for(decision.role)} working days)")


def _casework() -> Casework:
    settings = context.settings()
    return Casework(db=context.db(), settings=settings, calendar=runtime.calendar(settings),
                    policy=runtime.policy(settings), clock=context.clock(), fanouts=runtime.fanouts())


def _run(action):
    try:
        return action()
    except CaseworkError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)


def _show_assignment(a, tz) -> str:
    return f"{a.role} {a.unit_code} due {a.due_at.astimezone(tz).isoformat()} ({a.working_days} working days)"


def add_casework_commands(group: AppGroup) -> None:
    @group.command("assign")
    @click.argument("code")
    @click.argument("unit")
    @click.option("--by", required=True, help="Who assigns (name or e-mail).")
    @click.option("--reason", required=True, help="Why (kept in the audit trail).")
    def assign(code: str, unit: str, by: str, reason: str) -> None:
        """Assign (or reassign) CODE to UNIT as lead unit: 3 working days from now."""
        a = _run(lambda: _casework().assign(code, unit, by=by, reason=reason))
        click.echo(f"{code.upper()}: {_show_assignment(a, runtime.calendar(context.settings()).tz)}")

    @group.command("complex")
    @click.argument("code")
    @click.option("--by", required=True)
    @click.option("--reason", required=True)
    def complex_case(code: str, by: str, reason: str) -> None:
        """Mark CODE complex: 5 working days from the lead unit's assignment."""
        a = _run(lambda: _casework().mark_complex(code, by=by, reason=reason))
        click.echo(f"{code.upper()}: {_show_assignment(a, runtime.calendar(context.settings()).tz)}")

    @group.command("coordinate")
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

    @group.command("answer")
    @click.argument("code")
    @click.option("--by", required=True)
    @click.option("--unit", default=None, help="A coordinating unit's answer (default: the lead unit's).")
    @click.option("--text", default=None, help="The approved answer, sent to the business.")
    def answer(code: str, by: str, unit: str | None, text: str | None) -> None:
        """Record that the lead unit (or --unit) answered CODE (and send --text to the business)."""
        a = _run(lambda: _casework().answer(code, by=by, unit_code=unit, text=text))
        click.echo(f"{code.upper()}: {a.role} {a.unit_code} answered")

    @group.command("show")
    @click.argument("code")
    def show(code: str) -> None:
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
            }, ensure_ascii=False, indent=2))
