"""Channels of the officers' notifications: one `Notifier` interface per channel and a router
that sends each notification row by the notifier of its channel.

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
