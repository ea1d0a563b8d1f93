"""Replies to a business: the one place that writes outbox rows.

A reply is queued in the caller's transaction (with whatever caused it) and sent later by
the worker's delivery loop, through the channel named on the row. Its content is
channel-neutral (`Reply`: a text and, optionally, choices the person can tap); its address
is the channel's own (`Address.to`, copied from the adapter's reply target and never read
here), so a second channel needs nothing in this package.

Every reply passes the prohibited-content filter here (Decision 3887, Art. 9.5(b): "an
officer's draft answer and the bot's own replies are checked before sending"), checked as
public when it goes under a comment. A blocking hit in a person's text raises ContentBlocked
(nothing is written: the officer rewrites it); in the bot's own text the row is kept with
status "blocked" and the reason as `last_error`, and never sent. A hit of severity "flag" is
sent and logged. Besides replies, a channel may be asked to act on what the business wrote
(`queue_action`: hide a comment), through the same outbox so that it is retried like a reply.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Optional

from cases import replies
from cases.errors import ContentBlocked
from cases.moderation import Rules, Verdict, default_rules
from store import Outbox

log = logging.getLogger(__name__)
ACTIONS = ("hide_comment",)  # what `queue_action` may ask a channel to do
# A bot message sent this long after it was queued says when the business's message came in.
LATE_AFTER = timedelta(minutes=15)
QUEUED = "cases.outbox.queued"  # Session.info: the replies queued by this session (join_reply)
# A joined message stays well under Messenger's 2000 characters, with room for the line that
# a late delivery puts first (as_sent).
MAX_JOINED_CHARS = 1800


@dataclass(frozen=True)
class Choice:
    """A button the person can tap (Messenger: a quick reply); `payload` comes back to us."""

    payload: str
    title: str


@dataclass(frozen=True)
class Reply:
    """A text (and choices) for a business, with what a late delivery needs to say about it
    (`as_sent`): the language it is written in (`lang`, "vi" or "en") and when the business's
    message it answers was received (`received`), each when its writer knew it."""

    text: str
    choices: tuple[Choice, ...] = ()
    lang: Optional[str] = None
    received: Optional[datetime] = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text}
        if self.choices:
            data["choices"] = [{"payload": c.payload, "title": c.title} for c in self.choices]
        if self.lang:
            data["lang"] = self.lang
        if self.received:
            data["received"] = self.received.astimezone(timezone.utc).isoformat()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Reply":
        """A stored reply. Rows queued before the channel seam (revision 0004) hold Send API
        shapes: {"text", "quick_replies"} or, for a public comment reply, {"message"}."""
        text = data.get("text")
        if text is None:
            text = data.get("message", "")
        raw = data.get("choices") or data.get("quick_replies") or ()
        lang = data.get("lang")
        try:
            received = datetime.fromisoformat(data["received"]) if data.get("received") else None
        except (TypeError, ValueError):
            received = None
        return cls(str(text), tuple(Choice(str(c.get("payload", "")), str(c.get("title", ""))) for c in raw),
                   lang if lang in ("vi", "en") else None,
                   received if received is not None and received.tzinfo is not None else None)


def as_sent(reply: Reply, *, author: str, queued_at: datetime, now: datetime) -> Reply:
    """The reply as it leaves now. A bot's message that waited more than LATE_AFTER (Facebook
    was down, the page's token had expired) first says when the business's message came in,
    so an acknowledgement that arrives hours late does not read as if it had just been
    received ("Chúng tôi đã nhận được tin nhắn của Quý doanh nghiệp lúc 10:00 thứ Sáu, ngày
    27/11/2026."): the time the message it answers was received (when the reply was queued,
    if that is not known), in the reply's own language (Vietnamese when it is not known). A
    person's answer is sent as they wrote it."""
    if author != "bot" or now - queued_at <= LATE_AFTER:
        return reply
    said = replies.received_at(reply.lang or "vi", reply.received or queued_at)
    return replace(reply, text=f"{said}\n{reply.text}")


@dataclass(frozen=True)
class Address:
    """Where a reply goes: a channel, the page (account) it speaks for, and the channel's own
    address of the person (`to`). `public` replies are seen by everyone (under a comment)."""

    channel: str
    page_id: str
    to: Mapping[str, Any] = field(default_factory=dict)
    public: bool = False


def screen(reply: Reply, *, public: bool, author: str, rules: Optional[Rules] = None) -> Verdict:
    """The filter's verdict on a reply (its text and its choices' titles); raises
    ContentBlocked for a person's text with a blocking hit."""
    text = "\n".join([reply.text, *(c.title for c in reply.choices)])
    verdict = (rules or default_rules()).check(text, public=public)
    if author == "human" and verdict.action("outgoing") == "block":
        raise ContentBlocked(verdict.reason_vi)
    return verdict


def queue_reply(s, *, key: str, address: Address, reply: Reply, now: datetime, inquiry_id: Optional[int] = None,
                author: str = "bot", rules: Optional[Rules] = None) -> Outbox:
    """Add a pending reply in session `s`. `key` is its idempotency key (unique): the same
    cause queued twice fails the transaction instead of sending twice. The text is screened
    first (module docstring)."""
    verdict = screen(reply, public=address.public, author=author, rules=rules)
    row = Outbox(idempotency_key=key, channel=address.channel, page_id=address.page_id, recipient=dict(address.to),
                 message=reply.to_json(), messaging_type="RESPONSE", inquiry_id=inquiry_id,
                 kind="comment_reply" if address.public else "message", author=author, status="pending",
                 attempts=0, next_attempt_at=now, created_at=now)
    if verdict.action("outgoing") == "block":
        row.status, row.last_error = "blocked", verdict.reason_vi
        log.warning("reply %s not sent: %s", key, verdict.reason_en)
    elif verdict.flagged:
        log.info("reply %s sent with a flag: %s", key, verdict.reason_en)
    s.add(row)
    s.info.setdefault(QUEUED, {})[key] = row
    return row


def join_reply(s, *, key: str, address: Address, reply: Reply, rules: Optional[Rules] = None) -> Optional[Outbox]:
    """Say `reply` in the bot's message queued under `key` in this same transaction, as one
    message (one Send API call instead of two: the acknowledgement and the question for a
    phone number or e-mail go out together). Returns the row, or None when it cannot be one
    message (the row was queued in an earlier transaction and may be on its way, it goes
    elsewhere, in public, with choices, blocked, or too long for a channel): the caller then
    queues `reply` as a message of its own."""
    row = s.info.get(QUEUED, {}).get(key)
    if row is None or address.public or reply.choices or row.status != "pending" or row.attempts \
            or row.author != "bot" or row.kind != "message" or row.channel != address.channel \
            or row.page_id != address.page_id or dict(row.recipient or {}) != dict(address.to):
        return None
    first = Reply.from_json(row.message)
    joined = replace(first, text=f"{first.text}\n{reply.text}")
    if first.choices or len(joined.text) > MAX_JOINED_CHARS:
        return None
    # The whole joined text: a phrase may run across the line between the two parts.
    if screen(joined, public=False, author="bot", rules=rules).action("outgoing") == "block":
        return None
    row.message = joined.to_json()
    return row


def queue_action(s, *, key: str, address: Address, action: str, now: datetime,
                 inquiry_id: Optional[int] = None) -> Outbox:
    """Ask the channel to act on what the business wrote at `address` (ACTIONS), retried
    like a reply and never during the caller's transaction (the delivery loop does it)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown outbox action {action!r}; expected one of {ACTIONS}")
    row = Outbox(idempotency_key=key, channel=address.channel, page_id=address.page_id, recipient=dict(address.to),
                 message={"text": ""}, messaging_type="RESPONSE", inquiry_id=inquiry_id, kind=action, author="bot",
                 status="pending", attempts=0, next_attempt_at=now, created_at=now)
    s.add(row)
    return row
