"""`flask officers link|list`: officers' Messenger accounts for notifications."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from bot import context
from bot.cli.units import unit_code as canonical_unit


officers_cli = AppGroup("officers", help="Officers' Messenger accounts for notifications.")


@officers_cli.command("link")
@click.option("--unit", "unit_code", required=True, callback=canonical_unit)
@click.option("--email", required=True, help="The officer's e-mail (who the link belongs to).")
@click.option("--page", "page_id", default=None, help="The page the officer writes to (default: the unit's page).")
def link(unit_code: str, email: str, page_id: str | None) -> None:
    """Create a one-time code; the officer sends it to the page from their Messenger account."""
    from bot.officers import create_link

    settings = context.settings()
    try:
        unit = settings.unit(unit_code)
    except KeyError:
        click.echo(f"Error: unknown unit {unit_code}", err=True)
        sys.exit(1)
    pages = [p for p in settings.config.pages if p.id == page_id] if page_id else (
        [p for p in settings.config.pages if p.unit == unit.code] or settings.config.pages[:1])
    if not pages:
        click.echo(f"Error: page {page_id} is not configured", err=True)
        sys.exit(1)
    created = create_link(context.db(), unit_code=unit.code, email=email, page_id=pages[0].id, now=context.clock()())
    click.echo(f"Mã liên kết: {created.code}\nCán bộ {email} ({unit.name}) gửi đúng mã này tới trang "
               f"\"{pages[0].name}\" bằng Messenger để nhận thông báo phản ánh.")


@officers_cli.command("list")
def list_links() -> None:
    """Officers and whether their Messenger account is linked."""
    from sqlalchemy import select

    from store import OfficerLink

    with context.db().session() as s:
        for r in s.execute(select(OfficerLink).order_by(OfficerLink.id)).scalars():
            state = f"linked {r.linked_at.isoformat()}" if r.linked_at else f"waiting for code {r.code}"
            click.echo(f"{r.unit_code}\t{r.email}\tpage {r.page_id}\t{state}")
