"""Who a Messenger sender is, by name: the Graph API's User Profile (GET /{PSID} with the
page's token), so officers' notices name the business instead of printing its ids.

The conversation asks through `MessengerChannel.profile_name` only when its cached name is
missing or old (bot/conversation/names.py), and never inside a transaction. A refusal
(the page lacks the permission, the person blocked the page, a bad token) or a network error
gives None: the notice then says "Người dùng Messenger". The error is logged scrubbed
(SendError), never the token.
"""
from __future__ import annotations

import logging
from typing import Mapping, Optional

from bot.channels.messenger.sendapi import SendApiClient, SendError

log = logging.getLogger(__name__)
LOOKUP_TIMEOUT = 3.0  # seconds: the worker waits for this before handling the message


class ProfileNames:
    def __init__(self, client: SendApiClient, tokens: Mapping[str, Optional[str]], timeout: float = LOOKUP_TIMEOUT):
        self.client, self.tokens, self.timeout = client, dict(tokens), timeout

    def name(self, page_id: str, psid: str) -> Optional[str]:
        """The person's name as Facebook gives it (`name`, else first and last name), or None."""
        try:
            data = self.client.user_profile(self.tokens.get(page_id), psid, timeout=self.timeout)
        except SendError as exc:
            log.warning("no name for a sender of page %s: %s", page_id, exc)
            return None
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            parts = [data.get(k) for k in ("first_name", "last_name")]
            name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
        return name or None
