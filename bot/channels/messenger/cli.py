"""`flask messenger setup`: Get Started, greeting and persistent menu on every page, and the
page's webhook fields (subscribed_apps) so that it sends us every event we read."""
from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from bot import context
from bot.channels.messenger.profile import SUBSCRIBED_FIELDS, messenger_profile
from bot.channels.messenger.sendapi import SendError, client_for

messenger_cli = AppGroup("messenger", help="Messenger page settings.")


@messenger_cli.command("setup")
@click.option("--page", "page_ids", multiple=True, help="Only these page ids (default: every configured page).")
def setup(page_ids: tuple[str, ...]) -> None:
    """Set Get Started, the greeting and the persistent menu (Messenger Profile API), and
    subscribe each page to the webhook fields the bot reads (Graph API subscribed_apps, with
    the page's token). Errors are printed scrubbed of secrets (SendError); any failure exits 1."""
    settings = context.settings()
    client = client_for(settings)
    voices = settings.config.page_voices()
    failed = 0
    for page in settings.config.pages:
        if page_ids and page.id not in page_ids:
            continue
        token = settings.page_tokens.get(page.id)
        profile = messenger_profile(settings.config.deadlines.lead_days, voices.get(page.id))
        steps = (("Get Started, greeting and menu set", lambda: client.set_messenger_profile(token, profile)),
                 (f"webhook fields subscribed ({', '.join(SUBSCRIBED_FIELDS)})",
                  lambda: client.subscribe_page(token, page.id, SUBSCRIBED_FIELDS)))
        for done, step in steps:
            try:
                step()
            except SendError as exc:
                failed += 1
                click.echo(f"{page.id} {page.name}: failed: {exc}", err=True)
            else:
                click.echo(f"{page.id} {page.name}: {done}")
    if failed:
        sys.exit(1)


def init_app(app: Flask) -> None:
    app.cli.add_command(messenger_cli)
