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
  forge lines in a plain-text e-mail, are dropped; at most MAX_CHARS), and written in a short
  transaction of its own: it is a cache, losing it costs one lookup.
Notices without a name say "Người dùng Messenger" (scheduler/notifications/delivery.py).
"""
from __future__ import annotations

import logging
import unicodedata
from datetime import datetime, timedelta
from typing import Callable, Mapping, Optional

from sqlalchemy.exc import IntegrityError

from bot.channels.base import InboundMessage
from store import Conversation as ConversationState, Database

log = logging.getLogger(__name__)
REFRESH = timedelta(days=30)  # people rarely rename themselves; a month-old name is still good
RETRY = timedelta(days=1)  # after a refusal or an outage, ask again the next day at the earliest
MAX_CHARS = 200

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
        with self.db.session() as s:
            conv = s.get(ConversationState, (m.page_id, m.sender_id))
            known, asked = (conv.display_name, conv.display_name_at) if conv is not None else (None, None)
        if asked is not None and now - asked < (REFRESH if known else RETRY):
            return
        self._keep(m.page_id, m.sender_id, clean_name(lookup(m.page_id, m.sender_id)), now)  # no transaction open

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
