"""Every channel plug-in, by the name stored on its inbox events and outbox rows.

A plug-in is a module (or any object) with `NAME`, `build(settings, db, clock) -> Channel`
(its adapter and sender, bot/channels/base.py) and `init_app(app, settings)` (its web side:
a webhook blueprint, commands). The app factory calls every `init_app`; the worker builds
every channel and hands each stored event to the channel named on it. A new channel is a
folder beside messenger/ and one line here.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from bot.channels import messenger
from bot.channels.base import Channel
from bot.config import Settings
from store import Database

CHANNELS = {
    messenger.NAME: messenger,
}


def build_all(settings: Settings, db: Database, clock: Callable[[], datetime]) -> dict[str, Channel]:
    return {name: plugin.build(settings, db, clock) for name, plugin in CHANNELS.items()}
