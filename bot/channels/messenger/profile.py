"""What `flask messenger setup` sets on each page: the Messenger Profile (Get Started, the
greeting, the persistent menu) and the webhook fields the page sends us.

The menu's buttons are the conversation's own (bot/conversation/texts.py), in Vietnamese
(default locale) and English (en_US); the greeting's number of days is the policy's.
"""
from __future__ import annotations

from typing import Mapping, Optional

from bot.conversation import texts


# The page's webhook fields we read (events.py parses them; README "Connecting a real page" lists
# the same for the app's webhook settings): messages, buttons, deliveries and reads, reactions,
# our own and the page inbox's echoes, referrals, opt-ins, handover and standby, edited
# messages, and the page's feed (comments under posts, the page's own posts).
SUBSCRIBED_FIELDS = ["messages", "messaging_postbacks", "message_deliveries", "message_reads",
                     "message_reactions", "message_echoes", "messaging_referrals", "messaging_optins",
                     "messaging_handovers", "standby", "message_edits", "feed"]


def messenger_profile(lead_days: int, who: Optional[Mapping[str, str]] = None) -> dict:
    """The body of POST /me/messenger_profile (`flask messenger setup`); `who`: a unit's page's
    names, which its greeting speaks in (texts.voice; None: the DDCI programme)."""
    def menu(lang: str, locale: str) -> dict:
        return {"locale": locale, "composer_input_disabled": False, "call_to_actions": [
            {"type": "postback", "title": choice.title, "payload": choice.payload}
            for choice in texts.menu_choices(lang)]}

    return {
        "get_started": {"payload": texts.GET_STARTED},
        "greeting": [
            {"locale": "default", "text": texts.greeting("vi", lead_days, who)},
            {"locale": "en_US", "text": texts.greeting("en", lead_days, who)},
        ],
        "persistent_menu": [menu("vi", "default"), menu("en", "en_US")],
    }
