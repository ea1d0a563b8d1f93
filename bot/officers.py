"""Officers on Messenger: link an account by a one-time code, then notify within the window.

An admin creates a code for an officer (`flask officers link`); the officer sends the code to
the unit's page from their own Messenger account; the worker links that account. Messages
from a linked officer keep Messenger's 24-hour window open and are not inquiries.
Notifications go to linked officers only while that window is open (Messenger forbids bot
messages outside it); the e-mail goes out in any case, so nothing depends on Messenger.
"""
from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Callable, Optional, Sequence

from sqlalchemy import select

from bot.sendapi import SendApiClient, SendError
from scheduler.notifications.router import DeliveryError
from store import Database, OfficerLink

CODE = re.compile(r"^\s*(DDCI-[A-Z0-9]{6})\s*$", re.IGNORECASE)
WINDOW = timedelta(hours=24)


def new_code() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: typed by hand on a phone
    return "DDCI-" + "".join(secrets.choice(alphabet) for _ in range(6))


def create_link(db: Database, *, unit_code: str, email: str, page_id: str, now: datetime) -> OfficerLink:
    with db.session() as s:
        link = OfficerLink(unit_code=unit_code, email=email, page_id=page_id, code=new_code(), created_at=now)
        s.add(link)
        s.flush()
        return link


def linked_officer(s, page_id: str, psid: str) -> Optional[OfficerLink]:
    return s.execute(select(OfficerLink).where(OfficerLink.page_id == page_id, OfficerLink.psid == psid,
                                               OfficerLink.linked_at.isnot(None))).scalars().first()


def try_link(s, *, page_id: str, psid: str, text: str, now: datetime) -> Optional[OfficerLink]:
    """Link the sender when `text` is a pending code for this page; None otherwise."""
    match = CODE.match(text or "")
    if not match:
        return None
    link = s.execute(select(OfficerLink).where(OfficerLink.code == match.group(1).upper(),
                                               OfficerLink.page_id == page_id,
                                               OfficerLink.linked_at.is_(None))).scalars().first()
    if link is None:
        return None
    link.psid, link.linked_at, link.last_message_at = psid, now, now
    return link


def recipients_for(s, unit_code: str) -> list[str]:
    """Linked officers of a unit, as "page_id:psid"."""
    rows = s.execute(select(OfficerLink).where(OfficerLink.unit_code == unit_code,
                                               OfficerLink.linked_at.isnot(None))).scalars().all()
    return [f"{r.page_id}:{r.psid}" for r in rows]


class MessengerOfficers:
    """Fanout (scheduler/notifications/router.py): a unit's officers who linked Messenger get a
    copy of the unit's e-mail notices there (sent by MessengerNotifier, within the window)."""

    channel = "messenger"

    def recipients(self, session, unit_code: str) -> list[str]:
        return recipients_for(session, unit_code)


class MessengerNotifier:
    """Notifier (scheduler/notifications/router.py) over the Send API, for linked officers."""

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
