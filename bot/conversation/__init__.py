"""The conversation with the business, whatever the channel: one handler per inbound value.

Private messages: small talk and status lookups are answered without an inquiry, and only
when the message is nothing else (a greeting or thanks in front of a question is stripped:
phrasing.py); a message soon after an open inquiry joins its thread when it is the same
matter, and when it reads as a new matter the business is asked (followup.py); anything
else opens an inquiry (cases) with an acknowledgement (code, domain, unit, due date), asking
once for a phone or e-mail when none is known. A text with no word in it (only emoji such
as "👍", blanks, zero-width or control characters) is no text: with attachments it is an
attachment, else nothing to answer. Buttons (a menu, Get Started, choices) do what they
say, and so do their labels typed as text (texts.typed_action). Attachments someone can open
join the open inquiry or open one that needs review (a sticker alone is a "like"). While
another app owns the conversation the bot keeps what is said and says nothing. Messages
written in public (comments) open an inquiry with a private acknowledgement and, if
configured, a short public one; greetings there get no reply (a public thread is not a chat).
The prohibited-content filter (cases/screening.py) hides a comment with a blocking hit (no
inquiry) and flags any other hit on the inquiry for the officer; private messages are never
hidden. A business that wrote in English reads English in every reply: the language of the
message, or for a button the language of the conversation so far.
A business that writes again (anything that opens the channel's window) gets at once an
approved answer that could not be sent because the window had closed; a message that is not
a new matter then only joins that inquiry's thread: the answer is its reply.
A person of the page answering the business elsewhere answers the inquiry and stops its
clock. An edited message keeps its history and may route the inquiry again (edits.py).
Deliveries, reads, handover, comment edits, removals and the page's own posts are recorded.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Callable, Mapping, Optional

from bot.channels.base import (AnsweredElsewhere, Edited, InboundMessage, Noted, PagePosted, Seen, ThreadOwner,
                               Withdrawn)
from bot.conversation import contacts, texts
from bot.conversation.comments import PublicComments
from bot.conversation.contacts import code_lookup_only, contact_only, contacts_in
from bot.conversation.edits import MessageEdits
from bot.conversation.menu import MenuAndStatus
from bot.conversation.names import Names
from bot.conversation.followup import FollowupChoices, new_matter
from bot.conversation.phrasing import Phrasing, classify_past_courtesy, default_phrasing
from bot.conversation.signals import Signals
from bot.officers import linked_officer, try_link
from bot.outcome import Outcome, Ticket
from cases import Address, Casework, Intake, Reply, replies
from cases import queries
from cases.moderation import Verdict
from cases.screening import Written, note_vi
from nlu.classifier import Classification
from nlu.normalize import detect_language, normalize
from routing.taxonomy import CONVERSATION_INTENTS
from store import Conversation as ConversationState, Database, FollowupChoice
from tuning.records import record as record_classification

COURTESY_INTENTS = ("chao_hoi", "cam_on")  # a sure greeting or thanks has its own reply

__all__ = ["Conversation", "contacts"]
# The shortest reply window a channel has (Messenger's standard 24 hours): less time since the
# person last wrote, and no approved answer can be waiting for the window (_touch).
WINDOW_MAY_HAVE_CLOSED = timedelta(hours=24)
# Session.info: the inquiries whose undeliverable answer this unit of work queued again (_touch)
SENT_AGAIN = "conversation.answers_sent_again"


class Conversation(PublicComments, MenuAndStatus, Signals):
    def __init__(self, *, db: Database, casework: Casework, classify: Callable[[str], Classification],
                 followup_minutes: int, ask_contact: bool, public_comment_reply: bool,
                 channel_titles: Mapping[str, str], clock: Callable[[], datetime], followup_choice_minutes: int = 10,
                 page_names: Optional[Mapping[str, str]] = None, page_voices: Optional[Mapping] = None,
                 phrasing: Optional[Phrasing] = None,
                 names: Optional[Names] = None, prime: Optional[Callable[[list[str]], int]] = None):
        self.db, self.cases, self.classify, self.clock = db, casework, classify, clock
        self.prime = prime  # classifies texts ahead, together (nlu.classifier.Batched.prime)
        self.names = names or Names(db, {}, clock)  # who the sender is, for the officers (names.py)
        self.followup = timedelta(minutes=followup_minutes)
        self.ask_contact, self.public_comment_reply = ask_contact, public_comment_reply
        self.channel_titles, self.page_names = dict(channel_titles), dict(page_names or {})
        self.page_voices = dict(page_voices or {})  # page id -> its unit's names (texts.voice)
        self.phrasing = phrasing or default_phrasing()
        self.choices = FollowupChoices(cases=casework, clock=clock, minutes=followup_choice_minutes,
                                       after_open=self._after_choice_opened)
        self.handlers = {
            InboundMessage: self._message, AnsweredElsewhere: self._answered_elsewhere, Seen: self._seen,
            ThreadOwner: self._thread_owner, Edited: self._edited, Withdrawn: self._withdrawn,
            PagePosted: self._page_posted, Noted: self._noted,
        }
        self.edits = MessageEdits(db=db, casework=casework, classify=classify, clock=clock,
                                  as_new_message=self._message)

    def handle(self, ticket: Ticket, inbound) -> Outcome:
        return self.handlers[type(inbound)](ticket, inbound)

    def prepare(self, inbound: list) -> int:
        """Classify ahead, in one model call, the texts these messages will be classified by
        when they are handled (the whole text, and what follows a courtesy in front of it):
        the worker calls this for the batch of events it has just claimed. Nothing is
        written; a text not classified ahead is classified when its turn comes. Returns how
        many texts were classified."""
        if self.prime is None:
            return 0
        wanted: list[str] = []
        for m in inbound:
            if not isinstance(m, InboundMessage) or m.held or not m.text or not normalize(m.text):
                continue
            wanted.append(m.text)
            opening = self.phrasing.split(m.text)
            if opening.has_content:
                wanted.append(opening.rest)
        return self.prime(wanted) if wanted else 0

    # ---- helpers ---------------------------------------------------------------------------
    def _touch(self, s, page_id: str, sender_id: str, at: datetime, lang: Optional[str] = None) -> ConversationState:
        """The person acted: the channel's messaging window is open from `at`. An approved
        answer that could not be sent because the window had closed goes now, queued before
        the reply to what the person has just said (cases.answers.Answers.send_waiting). Its
        read comes after the conversation row's write (the per-sender lock: a second message
        handled at once waits, then finds the answer queued)."""
        conv = self._state(s, page_id, sender_id)
        known, before = conv not in s.new, conv.last_user_message_at
        if conv.last_user_message_at is None or at > conv.last_user_message_at:
            conv.last_user_message_at = at
        if lang:
            conv.language = lang
        # Only a window that closed since the person last wrote can have made an answer
        # undeliverable: a first-time sender, or one who wrote within the day, has none waiting,
        # and the look (a join and a flush) is skipped on the hot path (a review: every message
        # of a known sender paid it in a burst).
        if known and (before is None or at - before >= WINDOW_MAY_HAVE_CLOSED):
            s.flush()
            for row in self.cases.answers.send_waiting(s, page_id, sender_id, at=at):
                s.info.setdefault(SENT_AGAIN, set()).add(row.inquiry_id)
        return conv

    def _state(self, s, page_id: str, sender_id: str) -> ConversationState:
        conv = s.get(ConversationState, (page_id, sender_id))
        if conv is None:
            conv = ConversationState(page_id=page_id, sender_id=sender_id, updated_at=self.clock())
            s.add(conv)
        conv.updated_at = self.clock()
        self.names.apply(conv)  # the sender's name looked up before this unit of work (names.py)
        return conv

    def _say(self, s, t: Ticket, m: InboundMessage, reply: Reply, *, purpose: str = "reply",
             inquiry_id: Optional[int] = None) -> None:
        """Answer the person where they wrote (privately). The reply is marked with the language
        the business last wrote in and when its message was received, for what a late delivery
        adds to it (cases.outbox.as_sent)."""
        if reply.lang is None:
            conv = s.get(ConversationState, (m.page_id, m.sender_id))
            if conv is not None and conv.language:
                reply = replace(reply, lang=conv.language)
        reply = replace(reply, received=reply.received or t.received_at)
        self.cases.reply(s, inquiry_id, t.key(purpose), reply, address=Address(m.channel, m.page_id, m.reply_to))

    def _classified(self, s, t: Ticket, m: InboundMessage, result: Classification, lang: str, outcome: str,
                    routed: bool, inquiry_id: Optional[int] = None) -> None:
        """Keep what the classifier said for the admins' NLU inbox (tuning), in this transaction."""
        record_classification(s, result, event_id=t.event_id, page_id=m.page_id, channel=m.source, language=lang,
                              outcome=outcome, routed_automatically=routed, inquiry_id=inquiry_id, at=self.clock())

    def _intake(self, t: Ticket, m: InboundMessage, text: str, lang: str, attachments=(),
                note: Optional[str] = None) -> Intake:
        return Intake(event_id=t.event_id, channel=m.source, reply_channel=m.channel, page_id=m.page_id,
                      sender_id=m.sender_id, text=text, language=lang, received_at=t.received_at,
                      sent_at=m.sent_at, reply_to=m.reply_to, public=m.public, attachments=tuple(attachments),
                      post_id=m.post_id, comment_id=m.comment_id, moderation_note=note, ref=m.ref,
                      revision=m.revision)

    def _classify(self, text: str) -> Classification:
        """What the message is, past a greeting or thanks in front of it (phrasing.py)."""
        return classify_past_courtesy(text, self.classify, self.phrasing)

    def _screen(self, t: Ticket, m: InboundMessage, text: str) -> tuple[Verdict, Written, Optional[str]]:
        """The filter's verdict on what the business wrote, where, and the officer's note."""
        verdict = self.cases.screen(text, public=m.public)
        written = Written(channel=m.channel, source=m.source, page_id=m.page_id, sender_id=m.sender_id, text=text,
                          event_id=t.event_id, post_id=m.post_id, comment_id=m.comment_id)
        return verdict, written, note_vi(verdict, m.source) if verdict.flagged else None

    def _language(self, s, m: InboundMessage, fallback: Optional[str] = None, default: Optional[str] = None) -> str:
        """The language to answer in when the message shows none (a button, a number, a
        photo): `fallback` (a label's language), else the conversation's so far, else
        `default`, else the message's text."""
        if fallback:
            return fallback
        return self._language_of(s.get(ConversationState, (m.page_id, m.sender_id)), m, default)

    @staticmethod
    def _language_of(conv: Optional[ConversationState], m: InboundMessage, default: Optional[str] = None) -> str:
        """`_language` without a fallback, from the conversation row the caller has read."""
        if conv is not None and conv.language in ("vi", "en"):
            return conv.language
        if default is not None:
            return default
        return detect_language(m.text) if m.text and normalize(m.text) else "vi"

    # ---- messages ----------------------------------------------------------------------------
    def _message(self, t: Ticket, m: InboundMessage) -> Outcome:
        self.names.learn(m)  # before the unit of work: it may ask the channel (a network call)
        if m.held:
            return self._held(t, m)
        if m.public:
            return self._comment(t, m)
        typed = texts.typed_action(m.text) if m.action is None else None
        if typed is not None:  # a button's label typed or pasted: what the button does
            done = self._action(t, m, typed[0], typed[1], by="text")
            if done is not None:
                return done
        if m.action is not None:
            label = texts.typed_action(m.text)
            done = self._action(t, m, m.action, label[1] if label else None, by="button")
            if done is not None:
                return done
        if not m.typed:  # a button we do not know (or without a payload): start over
            return self._action(t, m, texts.GET_STARTED, None, by="button")
        if m.text is None or not normalize(m.text):
            if m.attachments:
                return self._attachments(t, m)
            with self.db.session() as s:
                self._touch(s, m.page_id, m.sender_id, m.sent_at)  # the business wrote: the window is open
                return t.finish(s, "ignored", "text without words: recorded, not an inquiry")
        return self._text(t, m, m.text)

    def _text(self, t: Ticket, m: InboundMessage, text: str) -> Outcome:
        """A text: an officer's, contact details asked for, or a business's message to classify.

        The first transaction only reads unless it settles the event (an officer, contact
        details): the window and the contact details of an ordinary message are written with
        its outcome, in the one transaction after the classification (made outside any
        transaction). One write per event, not two: on SQLite every write transaction waits its
        turn for the database's one write lock and syncs the log to disk (issue 14)."""
        phone, email = contacts_in(text)
        with self.db.session() as s:
            done = self._officer(s, t, m, text)
            if done is not None:
                return done
            # One read of the row: `Session.get` does not remember a row that is missing, so
            # asking `_language` as well cost every first-time sender a second SELECT.
            known = s.get(ConversationState, (m.page_id, m.sender_id))
            lang = detect_language(text, default=self._language_of(known, m, default="vi"))
            if (phone or email) and known is not None and known.contact_asked_at and contact_only(text):
                conv = self._touch(s, m.page_id, m.sender_id, m.sent_at, lang)
                conv.phone, conv.email = phone or conv.phone, email or conv.email
                open_ = queries.open_inquiry(s, m.page_id, m.sender_id, m.source)
                if open_:
                    self.cases.add_message(s, open_, direction="in", source=m.source, text=text, at=m.sent_at,
                                           event_id=t.event_id, ref=m.ref, revision=m.revision)
                self._say(s, t, m, Reply(texts.CONTACT_THANKS[lang]))
                return t.finish(s, "done", "contact details noted")
        result = self._classify(text)
        verdict, written, note = self._screen(t, m, text)  # private: never hidden, flagged for the officer
        with self.db.session() as s:
            conv = self._touch(s, m.page_id, m.sender_id, m.sent_at, lang)
            if phone or email:
                conv.phone, conv.email = phone or conv.phone, email or conv.email
            said = self._says_nothing_new(s, m, text, result)
            if said is not None:
                self._classified(s, t, m, result, lang, "small_talk", routed=False)
                if note:
                    self.cases.flag(s, verdict, written, inquiry_id=None)
                return self._small_talk(s, t, m, said, lang, text)
            if result.intent in CONVERSATION_INTENTS and not result.needs_review:
                self._classified(s, t, m, result, lang, "small_talk", routed=True)
                if note:
                    self.cases.flag(s, verdict, written, inquiry_id=None)
                return self._small_talk(s, t, m, result.intent, lang, text)
            if code_lookup_only(text):  # a code typed back, however the classifier took it: its status
                self._classified(s, t, m, result, lang, "small_talk", routed=False)
                return self._small_talk(s, t, m, "tra_cuu", lang, text)
            pending = self.choices.find(s, m.page_id, m.sender_id, None)
            if pending is not None and new_matter(pending.classification.get("intent"), result, text,
                                                  self.phrasing) is None:
                self.choices.add_to(s, pending, text=text, attachments=m.attachments, key=t.key("choice"))
                if note:
                    pending.moderation_note = pending.moderation_note or note
                    self.cases.flag(s, verdict, written, inquiry_id=None)
                return t.finish(s, "done", f"added to the pending follow-up {pending.id}")
            open_ = queries.open_inquiry(s, m.page_id, m.sender_id, m.source)
            if open_ is not None and open_.id in s.info.get(SENT_AGAIN, ()) \
                    and new_matter(open_.intent, result, text, self.phrasing) is None:
                # "có ai không ạ" after days: its answer, waiting for the window, is the reply
                self._classified(s, t, m, result, lang, "followup", routed=False)
                self.cases.add_message(s, open_, direction="in", source=m.source, text=text, at=m.sent_at,
                                       event_id=t.event_id, ref=m.ref, revision=m.revision)
                if note:
                    open_.moderation_note = open_.moderation_note or note
                    self.cases.flag(s, verdict, written, inquiry_id=open_.id)
                return t.finish(s, "done", f"{open_.code}: its approved answer goes now (the business wrote again)")
            if open_ is not None and m.sent_at - queries.last_activity(s, open_) <= self.followup:
                why = new_matter(open_.intent, result, text, self.phrasing)
                if why is not None:  # not merged silently: ask
                    self.choices.ask(s, intake=self._intake(t, m, text, lang, m.attachments, note), inquiry=open_,
                                     result=result, why=why)
                    if note:
                        self.cases.flag(s, verdict, written, inquiry_id=None)
                    return t.finish(s, "done", f"follow-up to {open_.code} asked about: {why}")
                self._classified(s, t, m, result, lang, "followup", routed=False)
                self.cases.add_message(s, open_, direction="in", source=m.source, text=text,
                                       attachments=m.attachments, at=m.sent_at, event_id=t.event_id, ref=m.ref,
                                       revision=m.revision)
                if note:
                    open_.moderation_note = open_.moderation_note or note
                    self.cases.flag(s, verdict, written, inquiry_id=open_.id)
                self.cases.tell_unit_of_addition(s, open_, text=text, attachments=m.attachments, at=m.sent_at)
                self._say(s, t, m, Reply(replies.followup_joined(lang, open_.code)), inquiry_id=open_.id)
                return t.finish(s, "done", f"follow-up joined {open_.code}")
            opened = self.cases.open_inquiry(s, self._intake(t, m, text, lang, m.attachments, note), result)
            self._classified(s, t, m, result, lang, "inquiry", opened.role == "lead", opened.inquiry_id)
            if note:
                self.cases.flag(s, verdict, written, inquiry_id=opened.inquiry_id)
            self._ask_contact_once(s, m.page_id, m.sender_id, lang, opened.inquiry_id, t.key("ask-contact"),
                                   Address(m.channel, m.page_id, m.reply_to), join=f"ack:{t.event_id}")
            return t.finish(s, "done", f"inquiry {opened.code} -> {opened.unit}")

    def _says_nothing_new(self, s, m: InboundMessage, text: str, result: Classification) -> Optional[str]:
        """What to answer a message that says nothing to act on yet: an opener without its
        question, an acknowledgement, a ping or bare contact details ("Cho em hỏi", "Dạ vâng
        ạ", "có ai không ạ", "I have a question", "0912 777 888"; phrasing.carries_no_matter).
        Each had opened an inquiry with a tracking code and the standing office's triage task
        (a walkthrough). "no_matter": the business is asked for its question; "tra_cuu": it
        has an open inquiry past its follow-up time, so it is told where that one stands
        ("có ai không ạ" two days later). None: as before, when a sure greeting or thanks has
        its own reply, a follow-up choice waits, an
        inquiry is within its follow-up time (the message joins or is asked about), or the
        message released a waiting answer (that answer is its reply)."""
        if not self.phrasing.carries_no_matter(text) or s.info.get(SENT_AGAIN):
            return None
        if result.intent in COURTESY_INTENTS and not result.needs_review:
            return None
        # a domain the classifier is sure of does not count: a message of these words alone
        # carries none ("Bổ sung" alone came out a complaint about an official at 0.61)
        if self.choices.find(s, m.page_id, m.sender_id, None) is not None:
            return None
        open_ = queries.open_inquiry(s, m.page_id, m.sender_id, m.source)
        if open_ is None:
            return "no_matter"
        return "tra_cuu" if m.sent_at - queries.last_activity(s, open_) > self.followup else None

    def _officer(self, s, t: Ticket, m: InboundMessage, text: str) -> Optional[Outcome]:
        """A one-time link code, or a message from a linked officer: not an inquiry."""
        link = try_link(s, page_id=m.page_id, psid=m.sender_id, text=text, now=m.sent_at)
        if link is not None:
            self._touch(s, m.page_id, m.sender_id, m.sent_at)  # the officer wrote: the window is open
            title = self.channel_titles.get(m.channel, m.channel)
            self._say(s, t, m, Reply(texts.officer_linked(link.email, self.cases.directory.name(link.unit_code), title)))
            return t.finish(s, "done", f"officer linked: {link.email}")
        link = linked_officer(s, m.page_id, m.sender_id)
        if link is not None:
            link.last_message_at = max(link.last_message_at or m.sent_at, m.sent_at)
            return t.finish(s, "ignored", f"message from linked officer {link.email}")
        return None

    def _ask_contact_once(self, s, page_id: str, sender_id: str, lang: str, inquiry_id: int, key: str,
                          address: Address, join: Optional[str] = None) -> None:
        """Ask once for a phone number or e-mail; in the acknowledgement's message (`join`, its
        key) when it goes to the same person now: one Send API call instead of two."""
        if not self.ask_contact:
            return
        conv = self._state(s, page_id, sender_id)
        if conv.phone or conv.email or conv.contact_asked_at:
            return
        conv.contact_asked_at = self.clock()
        self.cases.reply(s, inquiry_id, key, Reply(texts.ASK_CONTACT[lang]), address=address, join=join)

    def _after_choice_opened(self, s, choice: FollowupChoice, opened) -> None:
        self._ask_contact_once(s, choice.page_id, choice.sender_id, choice.language, opened.inquiry_id,
                               f"ask-contact:{choice.event_id}", self.choices.address(choice),
                               join=f"ack:{choice.event_id}")

    def expire_choices(self) -> int:
        """Follow-up choices left unanswered past their time become new inquiries (the
        worker's loop calls this on every pass)."""
        return self.choices.expire(self.db)

    def _attachments(self, t: Ticket, m: InboundMessage) -> Outcome:
        if m.sticker:
            with self.db.session() as s:
                self._touch(s, m.page_id, m.sender_id, m.sent_at)
                return t.finish(s, "ignored", "sticker: recorded, not an inquiry")
        caption = m.text if m.text and normalize(m.text) else ""
        with self.db.session() as s:
            self._touch(s, m.page_id, m.sender_id, m.sent_at)
            open_ = queries.open_inquiry(s, m.page_id, m.sender_id, m.source)
            if open_ is not None:
                open_.attachments = list(open_.attachments or []) + list(m.attachments)
                self.cases.add_message(s, open_, direction="in", source=m.source, text=caption or None,
                                       attachments=m.attachments, at=m.sent_at, event_id=t.event_id, ref=m.ref)
                self.cases.tell_unit_of_addition(s, open_, text=caption, attachments=m.attachments, at=m.sent_at)
                self._say(s, t, m, Reply(replies.attachment_joined(open_.language, open_.code)), inquiry_id=open_.id)
                return t.finish(s, "done", f"attachment joined {open_.code}")
        # Nothing open: an inquiry the standing office must look at (we cannot read a photo).
        result = Classification(text=caption, intent=None, confidence=0.0, needs_review=True)
        with self.db.session() as s:
            lang = detect_language(caption, default=self._language(s, m, None, default="vi")) if caption \
                else self._language(s, m)
            opened = self.cases.open_inquiry(s, self._intake(t, m, caption or "(tệp đính kèm)", lang, m.attachments),
                                             result, force_review=True)
            address = Address(m.channel, m.page_id, m.reply_to)
            if not caption:  # a file or a place alone: what is it about? (a walkthrough: nothing asked)
                self.cases.reply(s, opened.inquiry_id, t.key("describe"), Reply(texts.PROMPT_DESCRIBE_FILE[lang]),
                                 address=address, join=f"ack:{t.event_id}")
            self._ask_contact_once(s, m.page_id, m.sender_id, lang, opened.inquiry_id, t.key("ask-contact"),
                                   address, join=f"ack:{t.event_id}")
            return t.finish(s, "done", f"inquiry {opened.code} (attachment, needs review)")

    def _held(self, t: Ticket, m: InboundMessage) -> Outcome:
        """Another app owns the conversation: keep what the business says on its inquiry, say nothing."""
        with self.db.session() as s:
            conv = self._touch(s, m.page_id, m.sender_id, m.sent_at)
            conv.thread_owner_app_id = conv.thread_owner_app_id or "unknown"
            inquiry = queries.open_inquiry(s, m.page_id, m.sender_id, m.source)
            if inquiry is not None and (m.text or m.attachments):
                self.cases.add_message(s, inquiry, direction="in", source=m.source, text=m.text,
                                       attachments=m.attachments, at=m.sent_at, event_id=t.event_id, ref=m.ref,
                                       revision=m.revision)
                return t.finish(s, "done", f"standby: recorded on {inquiry.code}, no reply")
            return t.finish(s, "ignored", "standby: another app owns the thread")
