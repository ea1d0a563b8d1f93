"""Messenger's messaging policy, as a pure decision.

- Within 24 hours of the business's last message: messaging_type RESPONSE, for anyone.
- 24 hours to 7 days: only a message written by a person, and only on a page that Meta gave
  the Human Agent permission: MESSAGE_TAG with tag HUMAN_AGENT. Bot-written messages never
  use the tag.
- Otherwise Messenger will not deliver it: the message is marked undeliverable and the unit
  is told to reach the business by phone or e-mail.
- A private reply to a comment (recipient comment_id) is allowed once, within 7 days of the
  comment; Facebook enforces that, so it is sent as RESPONSE.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional

STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Delivery:
    allowed: bool
    messaging_type: Optional[str] = None
    tag: Optional[str] = None
    reason: str = ""


def person_window_closes(last_user_message_at: Optional[datetime], human_agent_page: bool) -> datetime:
    """Until when a person's answer can still be delivered (`decide` with author "human"):
    7 days after the business's last message on a page with the Human Agent permission, 24 hours
    otherwise. A business that never wrote: closed already (the epoch)."""
    if last_user_message_at is None:
        return datetime(1970, 1, 1, tzinfo=timezone.utc)
    return last_user_message_at + (HUMAN_AGENT_WINDOW if human_agent_page else STANDARD_WINDOW)


def decide(*, now: datetime, last_user_message_at: Optional[datetime], author: str, human_agent_page: bool,
           to_comment: bool = False) -> Delivery:
    if to_comment:
        return Delivery(True, "RESPONSE", None, "private reply to a comment")
    if last_user_message_at is None:
        return Delivery(False, reason="the business never wrote to this page: Messenger will not deliver")
    age = now - last_user_message_at
    if age <= STANDARD_WINDOW:
        return Delivery(True, "RESPONSE", None, "within 24 hours of the business's last message")
    if author == "human" and human_agent_page and age <= HUMAN_AGENT_WINDOW:
        return Delivery(True, "MESSAGE_TAG", "HUMAN_AGENT", "a person's answer within 7 days (Human Agent)")
    if author == "human" and age <= HUMAN_AGENT_WINDOW:
        return Delivery(False, reason="past 24 hours and the page has no Human Agent permission")
    return Delivery(False, reason="past Messenger's messaging window")
