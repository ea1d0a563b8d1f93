"""The channel seam: what a channel plug-in gives the core, and what the core asks of it.

A channel has two sides (as Rasa's channels do): an adapter that reads one stored raw event
(`InboxEvent.payload`, the channel's own JSON) and returns one of the plain inbound values
below, and a sender that delivers outbox rows. The conversation and the lifecycle see only
these values, never a channel's JSON; a second channel (Zalo OA, say) is one new folder with
a `build()` and one line in bot/channels/__init__.py `CHANNELS`.

Inbound values (one per stored event):
- InboundMessage    a person wrote (text, attachments, a tapped button), privately or in public
- AnsweredElsewhere a person of the page answered the business outside the bot
- Seen              the business's client reports delivery or reading up to a moment
- ThreadOwner       another app took (or gave back) the conversation
- Edited            the business changed something it wrote
- Withdrawn         something the business wrote was hidden or removed
- PagePosted        the page published (or removed) a post of its own
- Noted             nothing to do; recorded (may keep the messaging window open)
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping, Optional, Protocol, Union

from cases.outbox import Reply
from store import InboxEvent


def _nfc_fields(value, *names: str) -> None:
    """A person's text in Unicode NFC (TCVN 6909), whatever their keyboard sent: Unikey's
    "Unicode tổ hợp" and some phones send Vietnamese decomposed ("đất" as d-with-stroke, a,
    combining hook above, t...). Stored as typed, such a text was not found by the console's
    search for "đất" and reached the units' e-mails decomposed (a review, 04/12/2026); every
    channel's values pass here, so the core only ever sees NFC."""
    for name in names:
        text = getattr(value, name)
        if isinstance(text, str) and not unicodedata.is_normalized("NFC", text):
            object.__setattr__(value, name, unicodedata.normalize("NFC", text))


@dataclass(frozen=True)
class InboundMessage:
    channel: str  # the plug-in that received it and answers it
    source: str  # where it was written, as the inquiry records it ("messenger", "comment", ...)
    page_id: str
    sender_id: str
    sent_at: datetime
    text: Optional[str] = None
    attachments: tuple[dict, ...] = ()  # {"type", "url", "title"}: links a person can open
    reply_to: Mapping[str, Any] = field(default_factory=dict)  # the channel's own address
    public: bool = False  # written for all to see (a comment under a post)
    action: Optional[str] = None  # the payload of a button or choice the person tapped
    typed: bool = True  # False for a button that carries no text of the person's (a postback)
    held: bool = False  # another app owns the conversation: record it, say nothing
    post_id: Optional[str] = None
    comment_id: Optional[str] = None
    sticker: bool = False  # a sticker alone is a "like", not a message
    # the channel's own id of this message (Messenger: its mid; a comment: its comment id), kept
    # on the thread so that a later edit finds it; `revision` is the edit it came with when an
    # edit of a message we never received is read as a new message (Edited.revision)
    ref: Optional[str] = None
    revision: Optional[int] = None
    sender_name: Optional[str] = None  # the person's name when the event itself carries it (a comment)
    parent_id: Optional[str] = None  # a comment written as a reply: the comment it answers

    def __post_init__(self):
        _nfc_fields(self, "text", "sender_name")


@dataclass(frozen=True)
class AnsweredElsewhere:
    """A person of the page wrote to the business (the page's inbox, a reply under the
    comment). `business_id` finds a private inquiry, `comment_id` a public one."""

    channel: str
    source: str  # the inquiry's source to look in ("messenger", "comment")
    page_id: str
    by: str  # how we name the answerer in the record ("page inbox", "page comment")
    thread_source: str  # what the thread message is marked with ("page_inbox", "comment")
    sent_at: datetime
    text: Optional[str] = None
    attachments: tuple[dict, ...] = ()
    business_id: Optional[str] = None
    comment_id: Optional[str] = None
    ref: Optional[str] = None  # the channel's id of the message (Messenger's mid)


@dataclass(frozen=True)
class Seen:
    page_id: str
    sender_id: str
    what: str  # delivered | read
    until: datetime


@dataclass(frozen=True)
class ThreadOwner:
    page_id: str
    sender_id: Optional[str]
    owner: Optional[str]  # None: we own the conversation again
    detail: str


@dataclass(frozen=True)
class Edited:
    """The person changed something it wrote. `ref` is the channel's id of what was edited
    (the `InboundMessage.ref` it came with: Messenger's mid, a comment's id); `revision`
    numbers the edits of one message when the channel does (Messenger's num_edit, 1 to 5),
    so that edits delivered out of order still end on the last one; None when it does not
    (the edits are then taken in the order they arrive). The other fields let an edit of a
    message we never received be read as that message (InboundMessage)."""

    page_id: str
    ref: Optional[str]
    text: Optional[str]
    at: datetime
    revision: Optional[int] = None
    channel: str = ""
    source: str = ""  # as InboundMessage.source ("messenger", "comment")
    sender_id: Optional[str] = None
    reply_to: Mapping[str, Any] = field(default_factory=dict)
    public: bool = False  # an edit of something written in public (a comment)
    held: bool = False  # another app owns the conversation: record it, say nothing

    def __post_init__(self):
        _nfc_fields(self, "text")

    @property
    def comment_id(self) -> Optional[str]:
        return self.ref if self.public else None


@dataclass(frozen=True)
class Withdrawn:
    page_id: str
    comment_id: Optional[str]
    how: str  # hidden | removed
    at: datetime


@dataclass(frozen=True)
class PagePosted:
    page_id: str
    post_id: Optional[str]
    at: datetime
    removed: bool = False


@dataclass(frozen=True)
class Noted:
    detail: str
    page_id: Optional[str] = None
    sender_id: Optional[str] = None
    opens_window: bool = False  # the person acted: the channel's messaging window opens
    at: Optional[datetime] = None


Inbound = Union[InboundMessage, AnsweredElsewhere, Seen, ThreadOwner, Edited, Withdrawn, PagePosted, Noted]


# ---- sending ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outgoing:
    """An outbox row as its sender sees it (plain values, read in a short transaction)."""

    id: int
    channel: str
    page_id: str
    to: Mapping[str, Any]
    reply: Reply
    public: bool
    author: str  # bot | human: channels allow a person's answer longer than a bot's
    inquiry_id: Optional[int]
    # message | comment_reply | hide_comment (act on what the person wrote at `to`: no text)
    kind: str = "message"


@dataclass(frozen=True)
class Plan:
    """What to do with an outgoing message now. `messaging_type` and `tag` record how the
    channel classed the message (Messenger: RESPONSE, or MESSAGE_TAG with HUMAN_AGENT).

    `deliver_until` is the channel's own rule for how long the message may still be delivered
    (Messenger: 24 hours after the business's last message, 7 days for a person's answer
    with HUMAN_AGENT): the delivery loop retries a message that failed to go until then, and
    then tells the unit to reach the business another way. None: the channel names no limit
    (the loop then keeps trying for bot.delivery.DEFAULT_HORIZON after the message was queued).
    """

    action: str  # send | hold (another app owns the thread) | undeliverable (never will be)
    reason: str = ""
    messaging_type: Optional[str] = None
    tag: Optional[str] = None
    deliver_until: Optional[datetime] = None
    reason_vi: str = ""  # an undeliverable message's reason in Vietnamese, for the unit's e-mail ("": `reason`)


class DeliveryFailure(Exception):
    """A send did not happen, and what kind of failure it was (the channel reads its provider's
    errors; the delivery loop acts on the kind alone):

    - "temporary"   network error, timeout, 5xx, a provider's "try again later": retry;
    - "rate_limit"  the provider asks us to slow down: the whole page (scope) pauses;
    - "credentials" the page's token expired or was invalidated: the page's messages wait (they
                    are not dropped) and the admins are told at once;
    - "permanent"   this message can never go (bad recipient, outside the window, no
                    permission): not retried; the unit is told to use the phone or e-mail.

    `permanent=True` (the older form) is kind "permanent"; `permanent=False` is "temporary".
    """

    KINDS = ("temporary", "rate_limit", "credentials", "permanent")

    def __init__(self, message: str, *, permanent: bool = False, kind: Optional[str] = None,
                 code: Optional[int] = None, subcode: Optional[int] = None, status: Optional[int] = None):
        super().__init__(message)
        kind = kind or ("permanent" if permanent else "temporary")
        if kind not in self.KINDS:
            raise ValueError(f"unknown delivery failure kind {kind!r}")
        self.kind, self.permanent = kind, kind == "permanent"
        self.code, self.subcode, self.status = code, subcode, status


class Sender(Protocol):
    def plan(self, s, out: Outgoing, now: datetime) -> Plan:
        """Decide in a short transaction (it may read conversation state); no network. The
        plan says until when the message may still be delivered (`Plan.deliver_until`)."""

    def send(self, out: Outgoing, plan: Plan) -> str:
        """Deliver (no transaction is open); return the provider's id or raise DeliveryFailure."""

    # Optional: `check(page_id, timeout)`: is the provider up for this page? A call without
    # side effects, answered within `timeout` seconds or raising DeliveryFailure. The delivery
    # asks it before it sends the probe of a circuit early in an outage (store/circuits.py):
    # a message abandoned after a short timeout may still have been delivered, and sending it
    # again at every probe would give the business copies while the provider is slow to
    # recover. A sender without it probes with the row itself, with its own timeout.


class Channel(Protocol):
    name: str  # as stored on inbox events and outbox rows
    title: str  # as officers read it ("Messenger")
    sender: Sender

    def read(self, event: InboxEvent) -> Inbound:
        """The adapter: one stored raw event -> one inbound value."""

    # Optional: `answer_window(s, address: cases.Address) -> Optional[datetime]`, until when a
    # person's answer can still reach the business (Messenger: 24 h or 7 days after its last
    # message). A channel without it sets no limit (bot.runtime.answer_window).


ChannelFactory = Callable[..., Channel]  # build(settings, db, clock) -> Channel
