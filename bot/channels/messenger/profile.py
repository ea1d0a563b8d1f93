"""The pages' Messenger Profile: Get Started, the greeting and the persistent menu.

The menu's buttons are the conversation's own (bot/conversation/texts.py), in Vietnamese
(default locale) and English (en_US); the greeting's number of days is the policy's.
"""
from __future__ import annotations

from bot.conversation import texts


def messenger_profile(lead_days: int) -> dict:
    """The body of POST /me/messenger_profile (`flask messenger setup`)."""
    def menu(lang: str, locale: str) -> dict:
        return {"locale": locale, "composer_input_disabled": False, "call_to_actions": [
            {"type": "postback", "title": choice.title, "payload": choice.payload}
            for choice in texts.menu_choices(lang)]}

    return {
        "get_started": {"payload": texts.GET_STARTED},
        "greeting": [
            {"locale": "default", "text": texts.greeting("vi", lead_days)},
            {"locale": "en_US", "text": texts.greeting("en", lead_days)},
        ],
        "persistent_menu": [menu("vi", "default"), menu("en", "en_US")],
    }
