"""Messenger's messaging policy, as a pure decision.

- Within 24 hours of the business's last message: messaging_type RESPONSE, for anyone.
- 24 hours to 7 days: only a message written by a person, and only on a page that Meta gave
  the Human Agent permission: MESSAGE_TAG with tag HUMAN_AGENT. Bot-written messages never
  use the tag.
- Otherwise Messenger will not deliver it: the message is marked undeliverable and the unit
  is told to reach the business by phone or e-mail.
- A private reply to a comment (recipient comment_id) is allowed once, within 7 days of the
  comment; it is sent as RESPONSE.

Each decision also says until when the message may still be delivered (`until`): the delivery
loop retries a message that failed to go (Facebook down, rate limits, an expired token) until
then and no longer. A person's answer on a Human Agent page may go for 7 days even while it
is first sent as RESPONSE; a newer message from the business moves every limit forward (the
decision is taken again at each attempt).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional

STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
COMMENT_REPLY_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Delivery:
    allowed: bool
    messaging_type: Optional[str] = None
    tag: Optional[str] = None
    reason: str = ""
    until: Optional[datetime] = None  # the last instant Messenger accepts it (None: not known)
    reason_vi: str = ""  # a refusal as the unit's officers read it (the e-mail that they must call)


def window_end(*, last_user_message_at: datetime, author: str, human_agent_page: bool) -> datetime:
    """The last instant a private message may go: 7 days for a person's answer on a Human Agent
    page, 24 hours otherwise (bot messages never use the tag)."""
    if author == "human" and human_agent_page:
        return last_user_message_at + HUMAN_AGENT_WINDOW
    return last_user_message_at + STANDARD_WINDOW


def person_window_closes(last_user_message_at: Optional[datetime], human_agent_page: bool) -> datetime:
    """Until when a person's answer can still be delivered (`decide` with author "human"):
    7 days after the business's last message on a page with the Human Agent permission, 24 hours
    otherwise. A business that never wrote: closed already (the epoch)."""
    if last_user_message_at is None:
        return datetime(1970, 1, 1, tzinfo=timezone.utc)
    return last_user_message_at + (HUMAN_AGENT_WINDOW if human_agent_page else STANDARD_WINDOW)


def decide(*, now: datetime, last_user_message_at: Optional[datetime], author: str, human_agent_page: bool,
           to_comment: bool = False, commented_at: Optional[datetime] = None) -> Delivery:
    if to_comment:
        until = commented_at + COMMENT_REPLY_WINDOW if commented_at else None
        if until is not None and now > until:
            return Delivery(False, reason="a private reply to a comment is allowed only within 7 days of it",
                            reason_vi="Messenger chỉ cho phép nhắn riêng trả lời một bình luận trong vòng 7 ngày "
                                      "kể từ khi bình luận")
        return Delivery(True, "RESPONSE", None, "private reply to a comment", until)
    if last_user_message_at is None:
        return Delivery(False, reason="the business never wrote to this page: Messenger will not deliver",
                        reason_vi="doanh nghiệp chưa từng nhắn tin cho trang nên Messenger không cho phép gửi")
    age = now - last_user_message_at
    until = window_end(last_user_message_at=last_user_message_at, author=author, human_agent_page=human_agent_page)
    if age <= STANDARD_WINDOW:
        return Delivery(True, "RESPONSE", None, "within 24 hours of the business's last message", until)
    if author == "human" and human_agent_page and age <= HUMAN_AGENT_WINDOW:
        return Delivery(True, "MESSAGE_TAG", "HUMAN_AGENT", "a person's answer within 7 days (Human Agent)", until)
    if author == "human" and age <= HUMAN_AGENT_WINDOW:
        return Delivery(False, reason="past 24 hours and the page has no Human Agent permission",
                        reason_vi="đã quá 24 giờ kể từ tin nhắn cuối của doanh nghiệp; trang chưa được Meta cấp "
                                  "quyền Human Agent, quyền cho phép cán bộ trả lời trong vòng 7 ngày")
    return Delivery(False, reason="past Messenger's messaging window",
                    reason_vi="đã quá thời gian Messenger cho phép gửi tin nhắn kể từ tin nhắn cuối của doanh nghiệp")
