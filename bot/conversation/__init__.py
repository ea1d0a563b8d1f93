"""The conversation with the business, whatever the channel: one handler per inbound value.

Private messages: small talk and status lookups are answered without an inquiry; a message
soon after an open inquiry joins its thread; anything else opens an inquiry (cases) with an
acknowledgement (code, domain, unit, due date), asking once for a phone or e-mail when none
is known. A text with no word in it (only emoji such as "👍", blanks, zero-width or control
characters) is no text: with attachments it is an attachment, else nothing to answer.
Buttons (a menu, Get Started, choices) do what they say. Attachments someone can open join
the open inquiry or open one that needs review (a sticker alone is a "like"). While another
app owns the conversation the bot keeps what is said and says nothing. Messages written in
public (comments) open an inquiry with a private acknowledgement and, if configured, a
short public one; greetings there get no reply (a public thread is not a chat).
A person of the page answering the business elsewhere answers the inquiry and stops its
clock. Deliveries, reads, handover, edits, removals and the page's own posts are recorded.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Callable, Mapping, Optional

from bot.channels.base import (AnsweredElsewhere, Edited, InboundMessage, Noted, PagePosted, Seen, ThreadOwner,
                               Withdrawn)
from bot.conversation import contacts, texts
from bot.conversation.contacts import contact_only, contacts_in, tracking_codes
from bot.officers import linked_officer, try_link
from bot.outcome import Outcome, Ticket
from cases import Address, Casework, Intake, Reply, replies
from cases import queries
from nlu.classifier import Classification
from nlu.normalize import detect_language, normalize
from routing.taxonomy import CONVERSATION_INTENTS
from store import OPEN_INQUIRY_STATUSES, Conversation as ConversationState, Database, PagePost

__all__ = ["Conversation", "contacts"]


class Conversation:
    def __init__(self, *, db: Database, casework: Casework, classify: Callable[[str], Classification],
                 followup_minutes: int, ask_contact: bool, public_comment_reply: bool,
                 channel_titles: Mapping[str, str], clock: Callable[[], datetime]):
        self.db, self.cases, self.classify, self.clock = db, casework, classify, clock
        self.followup = timedelta(minutes=followup_minutes)
        self.ask_contact, self.public_comment_reply = ask_contact, public_comment_reply
        self.channel_titles = dict(channel_titles)
        self.handlers = {
            InboundMessage: self._message, AnsweredElsewhere: self._answered_elsewhere, Seen: self._seen,
            ThreadOwner: self._thread_owner, Edited: self._edited, Withdrawn: self._withdrawn,
            PagePosted: self._page_posted, Noted: self._noted,
        }

    def handle(self, ticket: Ticket, inbound) -> Outcome:
        return self.handlers[type(inbound)](ticket, inbound)

    # ---- helpers ---------------------------------------------------------------------------
    def _touch(self, s, page_id: str, sender_id: str, at: datetime, lang: Optional[str] = None) -> ConversationState:
        """The person acted: the channel's messaging window is open from `at`."""
        conv = self._state(s, page_id, sender_id)
        if conv.last_user_message_at is None or at > conv.last_user_message_at:
            conv.last_user_message_at = at
        if lang:
            conv.language = lang
        return conv

    def _state(self, s, page_id: str, sender_id: str) -> ConversationState:
        conv = s.get(ConversationState, (page_id, sender_id))
        if conv is None:
            conv = ConversationState(page_id=page_id, sender_id=sender_id, updated_at=self.clock())
            s.add(conv)
        conv.updated_at = self.clock()
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

    def _intake(self, t: Ticket, m: InboundMessage, text: str, lang: str, attachments=()) -> Intake:
        return Intake(event_id=t.event_id, channel=m.source, reply_channel=m.channel, page_id=m.page_id,
                      sender_id=m.sender_id, text=text, language=lang, received_at=t.received_at,
                      sent_at=m.sent_at, reply_to=m.reply_to, public=m.public, attachments=tuple(attachments),
                      post_id=m.post_id, comment_id=m.comment_id)

    # ---- messages ----------------------------------------------------------------------------
    def _message(self, t: Ticket, m: InboundMessage) -> Outcome:
        if m.held:
            return self._held(t, m)
        if m.public:
            return self._comment(t, m)
        if m.action is not None:
            lang = detect_language(m.text) if m.text else "vi"
            done = self._menu(t, m, m.action, lang)
            if done is not None:
                return done
            if not m.typed:  # a button we do not know: start over
                return self._menu(t, m, texts.GET_STARTED, "vi")
        if m.text is None or not normalize(m.text):
            if m.attachments:
                return self._attachments(t, m)
            with self.db.session() as s:
                self._touch(s, m.page_id, m.sender_id, m.sent_at)  # the business wrote: the window is open
                return t.finish(s, "ignored", "text without words: recorded, not an inquiry")
        return self._text(t, m, m.text)

    def _text(self, t: Ticket, m: InboundMessage, text: str) -> Outcome:
        lang = detect_language(text)
        phone, email = contacts_in(text)
        with self.db.session() as s:
            done = self._officer(s, t, m, text)
            if done is not None:
                return done
            conv = self._touch(s, m.page_id, m.sender_id, m.sent_at, lang)
            if phone or email:
                conv.phone, conv.email = phone or conv.phone, email or conv.email
            if (phone or email) and conv.contact_asked_at and contact_only(text):
                open_ = queries.open_inquiry(s, m.page_id, m.sender_id, m.source)
                if open_:
                    self.cases.add_message(s, open_, direction="in", source=m.source, text=text, at=m.sent_at,
                                           event_id=t.event_id)
                self._say(s, t, m, Reply(texts.CONTACT_THANKS[lang]))
                return t.finish(s, "done", "contact details noted")
        result = self.classify(text)
        with self.db.session() as s:
            if result.intent in CONVERSATION_INTENTS and not result.needs_review:
                return self._small_talk(s, t, m, result.intent, lang, text)
            open_ = queries.open_inquiry(s, m.page_id, m.sender_id, m.source)
            if open_ is not None and m.sent_at - queries.last_activity(s, open_) <= self.followup:
                self.cases.add_message(s, open_, direction="in", source=m.source, text=text,
                                       attachments=m.attachments, at=m.sent_at, event_id=t.event_id)
                self._say(s, t, m, Reply(replies.followup_joined(lang, open_.code)), inquiry_id=open_.id)
                return t.finish(s, "done", f"follow-up joined {open_.code}")
            opened = self.cases.open_inquiry(s, self._intake(t, m, text, lang, m.attachments), result)
            self._ask_contact_once(s, t, m, lang, opened.inquiry_id)
            return t.finish(s, "done", f"inquiry {opened.code} -> {opened.unit}")

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

    def _ask_contact_once(self, s, t: Ticket, m: InboundMessage, lang: str, inquiry_id: int) -> None:
        if not self.ask_contact:
            return
        conv = self._state(s, m.page_id, m.sender_id)
        if conv.phone or conv.email or conv.contact_asked_at:
            return
        conv.contact_asked_at = self.clock()
        self._say(s, t, m, Reply(texts.ASK_CONTACT[lang]), purpose="ask-contact", inquiry_id=inquiry_id)

    def _small_talk(self, s, t: Ticket, m: InboundMessage, intent: str, lang: str, text: str) -> Outcome:
        if intent == "tra_cuu":
            self._say(s, t, m, Reply(self._status(s, m, lang, text)))
        else:
            self._say(s, t, m, Reply(texts.SMALL_TALK[intent][lang]))
        return t.finish(s, "done", f"conversation: {intent}")

    def _status(self, s, m: InboundMessage, lang: str, text: str) -> str:
        """The sender's inquiries by tracking code, or all their open ones ("my inquiries")."""
        codes = tracking_codes(text)
        rows = [{"code": i.code, "status": i.status, "unit": self.cases.directory.name(i.unit_code, lang),
                 "due": i.due_at} for i in queries.of_sender(s, m.page_id, m.sender_id, codes)]
        if not rows and not codes:
            return replies.no_open_inquiry(lang)
        return replies.status_lines(lang, rows)

    def _menu(self, t: Ticket, m: InboundMessage, payload: str, lang: str) -> Optional[Outcome]:
        policy = self.cases.policy
        with self.db.session() as s:
            self._touch(s, m.page_id, m.sender_id, m.sent_at)
            if payload in texts.GET_STARTED_PAYLOADS:
                reply = Reply(texts.welcome(lang, policy.days_for("lead")), texts.menu_choices(lang))
            elif payload == texts.MENU_SUBMIT:
                reply = Reply(texts.PROMPT_SUBMIT[lang])
            elif payload == texts.MENU_STATUS:
                reply = Reply(self._status(s, m, lang, ""))
            elif payload == texts.MENU_HELP:
                reply = Reply(texts.help_text(lang, policy.days_for("lead"), policy.days_for("lead", complex_case=True)))
            else:
                return None
            self._say(s, t, m, reply)
            return t.finish(s, "done", f"menu: {payload}")

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
                                       attachments=m.attachments, at=m.sent_at, event_id=t.event_id)
                self._say(s, t, m, Reply(replies.attachment_joined(open_.language, open_.code)), inquiry_id=open_.id)
                return t.finish(s, "done", f"attachment joined {open_.code}")
        # Nothing open: an inquiry the standing office must look at (we cannot read a photo).
        result = Classification(text=caption, intent=None, confidence=0.0, needs_review=True)
        with self.db.session() as s:
            opened = self.cases.open_inquiry(s, self._intake(t, m, caption or "(tệp đính kèm)", "vi", m.attachments),
                                             result, force_review=True)
            return t.finish(s, "done", f"inquiry {opened.code} (attachment, needs review)")

    def _held(self, t: Ticket, m: InboundMessage) -> Outcome:
        """Another app owns the conversation: keep what the business says on its inquiry, say nothing."""
        with self.db.session() as s:
            conv = self._touch(s, m.page_id, m.sender_id, m.sent_at)
            conv.thread_owner_app_id = conv.thread_owner_app_id or "unknown"
            inquiry = queries.open_inquiry(s, m.page_id, m.sender_id, m.source)
            if inquiry is not None and (m.text or m.attachments):
                self.cases.add_message(s, inquiry, direction="in", source=m.source, text=m.text,
                                       attachments=m.attachments, at=m.sent_at, event_id=t.event_id)
                return t.finish(s, "done", f"standby: recorded on {inquiry.code}, no reply")
            return t.finish(s, "ignored", "standby: another app owns the thread")

    def _comment(self, t: Ticket, m: InboundMessage) -> Outcome:
        if m.text is None or not normalize(m.text):  # blank, or only emoji / zero-width / control characters
            return t.close("ignored", "comment without words")
        lang = detect_language(m.text)
        result = self.classify(m.text)
        with self.db.session() as s:
            if queries.by_comment(s, m.comment_id) is not None:
                return t.finish(s, "done", "comment already has an inquiry")
            if result.intent in CONVERSATION_INTENTS and not result.needs_review:
                return t.finish(s, "ignored", f"comment: {result.intent}, no inquiry")
            opened = self.cases.open_inquiry(s, self._intake(t, m, m.text, lang), result)
            if self.public_comment_reply:
                self.cases.reply(s, opened.inquiry_id, t.key("public"),
                                 Reply(replies.public_acknowledgement(lang, opened.code)),
                                 address=Address(m.channel, m.page_id, m.reply_to, public=True))
            return t.finish(s, "done", f"inquiry {opened.code} from comment -> {opened.unit}")

    # ---- everything else -------------------------------------------------------------------
    def _answered_elsewhere(self, t: Ticket, a: AnsweredElsewhere) -> Outcome:
        with self.db.session() as s:
            if a.business_id is not None:
                inquiry = queries.open_inquiry(s, a.page_id, a.business_id, a.source)
                if inquiry is None:
                    return t.finish(s, "ignored", "a person wrote from the page inbox; no open inquiry")
                where = "from the page inbox"
            else:
                inquiry = queries.by_comment(s, a.comment_id)
                if inquiry is None or inquiry.status not in OPEN_INQUIRY_STATUSES:
                    return t.finish(s, "ignored", "the page's own comment")
                where = "under the comment"
            self.cases.record_answer(s, inquiry, by=a.by, text=a.text, at=a.sent_at, source=a.thread_source,
                                     attachments=a.attachments, event_id=t.event_id)
            return t.finish(s, "done", f"{inquiry.code} answered {where}")

    def _seen(self, t: Ticket, seen: Seen) -> Outcome:
        with self.db.session() as s:
            conv = self._state(s, seen.page_id, seen.sender_id)
            setattr(conv, f"{'delivered' if seen.what == 'delivery' else 'read'}_watermark", seen.until)
            return t.finish(s, "ignored", f"{seen.what}: recorded")

    def _thread_owner(self, t: Ticket, owner: ThreadOwner) -> Outcome:
        with self.db.session() as s:
            if owner.sender_id:
                self._state(s, owner.page_id, owner.sender_id).thread_owner_app_id = owner.owner
            return t.finish(s, "done", owner.detail)

    def _edited(self, t: Ticket, e: Edited) -> Outcome:
        with self.db.session() as s:
            inquiry = queries.by_comment(s, e.comment_id)
            if inquiry is None or e.text is None:
                return t.finish(s, "ignored", "edit of a comment without an inquiry")
            self.cases.edit_text(s, inquiry, e.text, at=e.at, source="comment", event_id=t.event_id)
            return t.finish(s, "done", f"{inquiry.code}: comment edited")

    def _withdrawn(self, t: Ticket, w: Withdrawn) -> Outcome:
        with self.db.session() as s:
            inquiry = queries.by_comment(s, w.comment_id)
            if inquiry is None:
                return t.finish(s, "ignored", f"a {w.how} comment without an inquiry")
            self.cases.withdraw(s, inquiry, how=w.how, at=w.at, event_id=t.event_id)
            return t.finish(s, "done", f"{inquiry.code}: comment {w.how}")

    def _page_posted(self, t: Ticket, p: PagePosted) -> Outcome:
        with self.db.session() as s:
            post = s.query(PagePost).filter_by(post_id=p.post_id).first() if p.post_id else None
            if p.removed:
                if post is None:
                    return t.finish(s, "ignored", "removal of a post we did not count")
                post.removed_at = post.removed_at or p.at
                return t.finish(s, "done", "page post removed")
            year, week, _ = self.cases.calendar.local_date(p.at).isocalendar()
            if post is None:
                s.add(PagePost(page_id=p.page_id, post_id=p.post_id, iso_week=f"{year}-W{week:02d}", created_at=p.at))
            return t.finish(s, "done", f"page post counted in {year}-W{week:02d}")

    def _noted(self, t: Ticket, n: Noted) -> Outcome:
        with self.db.session() as s:
            if n.opens_window and n.page_id and n.sender_id:
                self._touch(s, n.page_id, n.sender_id, n.at or t.received_at)
            return t.finish(s, "ignored", n.detail)

