"""The business's name for the officers' notices (issue 11): asked of the channel, cached on
the conversation (`Conversation.display_name`, `display_name_at`).

- A channel may offer `profile_name(page_id, sender_id) -> Optional[str]` (Messenger: the
  Graph API's User Profile). It is a network call, so it is made BEFORE the message's unit of
  work, with no transaction open, and only when the cached name is missing or older than
  REFRESH (a failed or refused lookup is tried again after RETRY). A channel without it
  (tests/fakechat.py) simply leaves the name unknown.
- What was written in public carries its author's name in the event itself (a comment's
  `from.name`): that is kept, with no call.
- The name is cleaned before it is kept (NFC; control and format characters, which could
  forge lines in a plain-text e-mail, are dropped; at most MAX_CHARS). A looked-up name is
  held in memory until the message's own unit of work writes it on the conversation
  (`apply`, called wherever the unit of work touches the conversation): one write per
  message, not two (on SQLite every write transaction waits for the one write lock and syncs
  the log; in a burst of businesses writing for the first time that was one more transaction
  per message, issue 14). It is a cache: a unit of work that fails, or never touches the
  conversation (a linked officer's message), loses it, and that costs one lookup. At most
  MAX_HELD names wait in memory, each for HELD_FOR at most; one older than the conversation's
  own is not written. A commenter's name, which comes with the event, is written
  in a short transaction of its own.
Notices without a name say "Người dùng Messenger" (scheduler/notifications/delivery.py).
"""
from __future__ import annotations

import logging
import threading
import unicodedata
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Callable, Mapping, Optional

from sqlalchemy.exc import IntegrityError

from bot.channels.base import InboundMessage
from store import Conversation as ConversationState, Database

log = logging.getLogger(__name__)
REFRESH = timedelta(days=30)  # people rarely rename themselves; a month-old name is still good
RETRY = timedelta(days=1)  # after a refusal or an outage, ask again the next day at the earliest
MAX_CHARS = 200
MAX_HELD = 4096  # looked-up names waiting for their message's unit of work
HELD_FOR = timedelta(minutes=10)  # a held name not written by then is dropped (looked up again if needed)

NameLookup = Callable[[str, str], Optional[str]]


def clean_name(raw: object) -> Optional[str]:
    """A name fit for an officer's e-mail: NFC, one line, printable, bounded; None if nothing is left."""
    if not isinstance(raw, str):
        return None
    text = unicodedata.normalize("NFC", raw)
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text
                   if unicodedata.category(ch) not in ("Cf", "Cs", "Co"))
    text = " ".join(text.split())[:MAX_CHARS].strip()
    return text or None


def lookups_of(channels: Mapping[str, object]) -> dict[str, NameLookup]:
    """The channels that can name a sender: those with a `profile_name` capability."""
    return {name: fn for name, channel in channels.items()
            if callable(fn := getattr(channel, "profile_name", None))}


class Names:
    def __init__(self, db: Database, lookups: Mapping[str, NameLookup], clock: Callable[[], datetime]):
        self.db, self.lookups, self.clock = db, dict(lookups), clock
        self._held: OrderedDict[tuple[str, str], tuple[Optional[str], datetime]] = OrderedDict()
        self._lock = threading.Lock()  # the worker looks names up on several threads

    def learn(self, m: InboundMessage) -> None:
        """Know the sender's name before the message is handled (see the module docstring)."""
        if not m.page_id or not m.sender_id:
            return
        now = self.clock()
        if m.public:
            name = clean_name(m.sender_name)
            if name:
                self._keep(m.page_id, m.sender_id, name, now)
            return
        lookup = self.lookups.get(m.channel)
        if lookup is None:
            return
        key = (m.page_id, m.sender_id)
        with self._lock:
            held = self._held.get(key)
            if held is not None and now - held[1] < HELD_FOR:  # asked already, for this batch: not written yet
                return
            self._held.pop(key, None)  # never written (its message went elsewhere): ask again
        with self.db.session() as s:
            conv = s.get(ConversationState, key)
            known, asked = (conv.display_name, conv.display_name_at) if conv is not None else (None, None)
        if asked is not None and now - asked < (REFRESH if known else RETRY):
            return
        name = clean_name(lookup(m.page_id, m.sender_id))  # no transaction open
        with self._lock:
            self._held[key] = (name, now)
            while len(self._held) > MAX_HELD:
                self._held.popitem(last=False)

    def apply(self, conv: ConversationState) -> None:
        """In the message's unit of work: write the name looked up for this conversation, if
        one waits (a refusal keeps the name known before, and records when it was asked)."""
        with self._lock:
            held = self._held.pop((conv.page_id, conv.sender_id), None)
        if held is None:
            return
        name, at = held
        if self.clock() - at >= HELD_FOR or (conv.display_name_at is not None and conv.display_name_at >= at):
            return  # stale, or another worker has written a newer answer meanwhile
        conv.display_name = name or conv.display_name
        conv.display_name_at = at

    def _keep(self, page_id: str, sender_id: str, name: Optional[str], at: datetime) -> None:
        """Remember the name (a refusal keeps the name known before) and when it was asked for."""
        try:
            with self.db.session() as s:
                conv = s.get(ConversationState, (page_id, sender_id))
                if conv is None:
                    conv = ConversationState(page_id=page_id, sender_id=sender_id, updated_at=at)
                    s.add(conv)
                conv.display_name = name or conv.display_name
                conv.display_name_at = at
        except IntegrityError:  # another worker created the row meanwhile; the next message asks again
            log.info("conversation %s/%s created concurrently; name not cached", page_id, sender_id)
