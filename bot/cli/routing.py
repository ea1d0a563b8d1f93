"""`flask routing check|explain`: the routing configuration, and one decision explained."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from bot import context, runtime
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
    from bot.cli.deadline import parse_instant
    from scheduler.deadlines import due_at

    settings = context.settings()
    page_id = page_id or settings.config.pages[0].id
    if settings.page(page_id) is None:
        raise click.BadParameter(f"page {page_id} is not configured", param_hint="--page")
    cal, policy = runtime.calendar(settings), runtime.policy(settings)
    received = context.clock()()
    if at:
        received = parse_instant(at, cal.tz, "'--at'")
    from nlu.classifier import NoModel

    try:
        result = runtime.classifier(settings).classify(text)
    except NoModel as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    decision = runtime.casework(settings, context.db(), context.clock()).route(text, result, page_id)
    due = due_at(cal, policy, decision.role, received)
    unit = settings.unit(decision.unit)
    click.echo(f"text:        {text}")
    # Three decimals: a sure model leaves its runner-up below 0.01, and "0.00" would hide how far
    # behind it is.
    click.echo(f"intent:      {result.intent} (confidence {result.confidence:.3f}"
               f"{', needs review' if result.needs_review else ''})")
    runner_up = next(((name, conf) for name, conf in result.ranking if name != result.intent), None)
    click.echo(f"runner-up:   {runner_up[0]} (confidence {runner_up[1]:.3f}, margin "
               f"{result.confidence - runner_up[1]:.3f})" if runner_up else "runner-up:   (none)")
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
    days = policy.days_for(decision.role)
    click.echo(f"due:         {due.astimezone(cal.tz).isoformat()} ({days} working day{'' if days == 1 else 's'})"
               + (" provisional: that year's days off are not declared" if not cal.is_declared(due) else ""))
