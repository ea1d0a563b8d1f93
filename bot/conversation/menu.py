"""What the bot answers without opening an inquiry: small talk, the status of the
sender's inquiries ("my inquiries", or by tracking code), and the buttons of the menu,
Get Started and a follow-up's choices (also when their labels are typed as text). A mixin of
`Conversation` (bot/conversation/__init__.py), whose helpers (_say, _touch, _language) it uses.
"""
from __future__ import annotations

from typing import Optional

from bot.channels.base import InboundMessage
from bot.conversation import texts  # the module, not the package
from bot.conversation.contacts import tracking_codes
from bot.outcome import Outcome, Ticket
from cases import Reply, queries, replies
from store import OPEN_INQUIRY_STATUSES


class MenuAndStatus:
    def _small_talk(self, s, t: Ticket, m: InboundMessage, intent: str, lang: str, text: str) -> Outcome:
        reply = Reply(self._status(s, m, lang, text) if intent == "tra_cuu"
                      else texts.small_talk(intent, lang, self.page_voices.get(m.page_id)))
        self._say(s, t, m, self.choices.still_open(s, m.page_id, m.sender_id, reply, lang))
        return t.finish(s, "done", f"conversation: {intent}")

    def _status(self, s, m: InboundMessage, lang: str, text: str) -> str:
        """The sender's inquiries by tracking code, or all their open ones ("my inquiries"). An
        open inquiry whose approved answer is on its way, or was waiting for the business to
        write again (the message asking is what sends it: `_touch`), is "answered, the answer is
        being sent", not "đang xử lý"."""
        codes = tracking_codes(text)
        found = queries.of_sender(s, m.page_id, m.sender_id, codes)
        waiting = self.cases.answers.waiting(s, [i.id for i in found if i.status in OPEN_INQUIRY_STATUSES])
        rows = [{"code": i.code, "status": "answer_on_its_way" if i.id in waiting else i.status,
                 "unit": self.cases.directory.name(i.unit_code, lang), "due": i.due_at,
                 "provisional": i.due_at is not None and not self.cases.calendar.is_declared(i.due_at),
                 "answered_at": i.answered_at} for i in found]
        if not rows and not codes:
            return replies.no_open_inquiry(lang)
        return replies.status_lines(lang, rows)

    def _action(self, t: Ticket, m: InboundMessage, payload: str, lang: Optional[str], *,
                by: str) -> Optional[Outcome]:
        """A button (or its label typed): the menu, Get Started, a follow-up's choice. None
        when `payload` is none of ours (or a typed choice label with no choice pending)."""
        choice = texts.parse_choice(payload)
        if choice is not None:
            return self._choose(t, m, choice[0], choice[1], by)
        with self.db.session() as s:
            said = lang  # a label's own language is the person's: remembered for what follows
            lang = self._language(s, m, lang)
        return self._menu(t, m, payload, lang, remember=said)

    def _choose(self, t: Ticket, m: InboundMessage, kind: str, choice_id: Optional[int], by: str) -> Optional[Outcome]:
        with self.db.session() as s:
            choice = self.choices.find(s, m.page_id, m.sender_id, choice_id)
            if choice is None:
                return None
            self._touch(s, m.page_id, m.sender_id, m.sent_at)
            detail = self.choices.resolve(s, choice, kind, by, key=t.key("choice-again"))
            return t.finish(s, "done", detail)

    def _menu(self, t: Ticket, m: InboundMessage, payload: str, lang: str,
              remember: Optional[str] = None) -> Optional[Outcome]:
        policy = self.cases.policy
        with self.db.session() as s:
            if payload in texts.GET_STARTED_PAYLOADS:
                reply = Reply(texts.welcome(lang, policy.days_for("lead"), self.page_voices.get(m.page_id)),
                              texts.menu_choices(lang))
            elif payload == texts.MENU_SUBMIT:
                reply = Reply(texts.PROMPT_SUBMIT[lang])
            elif payload == texts.MENU_STATUS:
                reply = Reply(self._status(s, m, lang, ""))
            elif payload == texts.MENU_HELP:
                reply = Reply(texts.help_text(lang, policy.days_for("lead"), policy.days_for("lead", complex_case=True)))
            else:
                return None
            self._touch(s, m.page_id, m.sender_id, m.sent_at, remember)
            self._say(s, t, m, self.choices.still_open(s, m.page_id, m.sender_id, reply, lang))
            return t.finish(s, "done", f"menu: {payload}")
