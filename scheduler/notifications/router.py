"""Channels of the officers' notifications: one `Notifier` interface per channel, a router that
sends each notification row by the notifier of its channel, and the fan-outs that give a
unit's e-mail notice a copy on another channel.

The caller records every attempt's outcome in the notifications table (see delivery.py).
"""
from __future__ import annotations

from typing import Optional, Protocol, Sequence

from store.redaction import scrub


class Notifier(Protocol):
    channel: str

    def send(self, recipients: Sequence[str], subject: str, text: str, html: Optional[str]) -> str:
        """Deliver; return a provider id. Raise DeliveryError on failure."""


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(scrub(message))  # an SMTP server may echo what it was sent
        self.permanent = permanent


class Fanout(Protocol):
    """Another channel on which a unit's officers get a copy of the unit's e-mail notice.

    `recipients` are in the form that channel's notifier reads (e.g. "page_id:psid"); an empty
    list means no copy. The scheduler knows no channel but e-mail: the application injects these.
    """

    channel: str

    def recipients(self, session, unit_code: str) -> list[str]:
        """Who gets the copy, read in the caller's transaction."""


class ChannelRouter:
    """Several notifiers, one per channel: each notification row is sent by the notifier of its
    channel ("email", "messenger", ...). Its own `channel` is the first one's (the default)."""

    def __init__(self, *notifiers):
        self.by_channel = {n.channel: n for n in notifiers}
        self.channel = notifiers[0].channel

    def for_channel(self, channel: str):
        return self.by_channel.get(channel)

    def send(self, recipients, subject, text, html):
        return self.by_channel[self.channel].send(recipients, subject, text, html)
