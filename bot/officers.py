"""Officers on a channel: link an account by a one-time code (the notifier that uses the link
is the channel's own, e.g. bot/channels/messenger/notifier.py).

An admin creates a code for an officer (`flask officers link`); the officer sends the code to
the unit's page from their own Messenger account; the worker links that account. Messages
from a linked officer keep Messenger's 24-hour window open and are not inquiries.
Notifications go to linked officers only while that window is open (Messenger forbids bot
messages outside it); the e-mail goes out in any case, so nothing depends on Messenger.
"""
from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Optional

from sqlalchemy import select

from store import Database, OfficerLink

CODE = re.compile(r"^\s*(DDCI-[A-Z0-9]{6})\s*$", re.IGNORECASE)


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
    """The fan-out of unit notices to officers who linked Messenger (scheduler.notifications
    Fanout): one more notification row, on the "messenger" channel, for each e-mail one."""

    channel = "messenger"

    def recipients(self, s, unit_code: str) -> list[str]:
        return recipients_for(s, unit_code)
