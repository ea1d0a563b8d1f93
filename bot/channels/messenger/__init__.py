"""The Facebook Messenger channel: private messages and comments under the pages' posts.

webhook.py   the endpoint Facebook calls (verify, signature, store every event, 200 at once)
signature.py X-Hub-Signature-256
events.py    a webhook body -> flat inbox events with a kind (parse)
adapter.py   one stored event -> one plain inbound value (bot/channels/base.py)
sender.py    the messaging policy (policy.py) and the Send API client (sendapi.py)
notifier.py  notices to officers who linked their Messenger account
people.py    a sender's name (User Profile API), for officers' notices
profile.py   Get Started, greeting and persistent menu (`flask messenger setup`)
sandbox.py   development only: chat as a business with a Graph API stand-in
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Optional

from flask import Flask

from bot.channels.base import Inbound
from bot.channels.messenger import cli, sandbox, webhook
from bot.channels.messenger.adapter import MessengerAdapter
from bot.channels.messenger.people import ProfileNames
from bot.channels.messenger.sendapi import client_for
from bot.channels.messenger.sender import MAX_TEXT, MessengerSender
from bot.config import Settings
from cases.outbox import Address
from store import Database, InboxEvent

NAME = "messenger"


@dataclass
class MessengerChannel:
    adapter: MessengerAdapter
    sender: MessengerSender
    people: ProfileNames
    name: str = NAME
    title: str = "Messenger"

    def read(self, event: InboxEvent) -> Inbound:
        return self.adapter.read(event)

    def text_limit(self, address: Address) -> Optional[int]:
        """The longest text one message to `address` may carry (the Send API and a comment reply
        both cut at MAX_TEXT); cases refuse a person's answer that would not fit."""
        return MAX_TEXT

    def answer_window(self, s, address: Address) -> Optional[datetime]:
        """Until when a person's answer to `address` can be delivered (None: no limit)."""
        return self.sender.answer_window(s, address.page_id, address.to, address.public)

    def profile_name(self, page_id: str, sender_id: str) -> Optional[str]:
        """The optional capability the conversation uses to name a sender (a network call)."""
        return self.people.name(page_id, sender_id)


def build(settings: Settings, db: Database, clock: Callable[[], datetime]) -> MessengerChannel:
    human_agent = frozenset(p.id for p in settings.config.pages if p.human_agent)
    client = client_for(settings)
    return MessengerChannel(MessengerAdapter(settings.app_id),
                            MessengerSender(client, settings.page_tokens, human_agent),
                            ProfileNames(client, settings.page_tokens))


def init_app(app: Flask, settings: Settings) -> None:
    """The web side: the webhook, the channel's commands, and the sandbox in development."""
    webhook.init_app(app)
    cli.init_app(app)
    if settings.is_development or app.config.get("SANDBOX"):
        sandbox.init_app(app)
