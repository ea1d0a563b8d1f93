"""Notices to officers who linked their Messenger account (bot/officers.py), over the Send API.

Messenger forbids bot messages more than 24 hours after the person's last message, so a
notice goes only while the officer's window is open; the e-mail goes out in any case, so
nothing depends on Messenger.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable, Optional, Sequence

from bot.channels.messenger.sendapi import SendApiClient, SendError
from bot.officers import linked_officer
from scheduler.notifications.router import DeliveryError
from store import Database

WINDOW = timedelta(hours=24)


class MessengerNotifier:
    """A Notifier (scheduler/notifications) for linked officers."""

    channel = "messenger"

    def __init__(self, *, db: Database, client: SendApiClient, tokens: dict, clock: Callable[[], datetime]):
        self.db, self.client, self.tokens, self.clock = db, client, tokens, clock

    def send(self, recipients: Sequence[str], subject: str, text: str, html: Optional[str]) -> str:
        sent = []
        for recipient in recipients:
            page_id, _, psid = recipient.partition(":")
            with self.db.session() as s:
                link = linked_officer(s, page_id, psid)
                last = link.last_message_at if link else None
            if last is None or self.clock() - last > WINDOW:
                raise DeliveryError(f"{recipient}: outside Messenger's 24-hour window (officer must write first)",
                                    permanent=True)
            body = f"{subject}\n\n{text}"[:2000]
            try:
                sent.append(self.client.send_message(self.tokens.get(page_id), {"id": psid}, {"text": body}))
            except SendError as exc:
                raise DeliveryError(str(exc), permanent=exc.permanent) from exc
        return ",".join(sent)
