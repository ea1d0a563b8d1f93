"""Does a follow-up belong to the open inquiry? The rule (pure), and the choice the business
is asked to make when it may not.

Why (issue 11, point 1): a business asked about a construction permit, then within 30
minutes about a VAT refund for exports; the second question was merged into the first, the
tax office never learnt of it and the construction department got a question not theirs.

The rule (`new_matter`), for a message written within `conversation.followup_minutes` of an
open inquiry (small talk and status lookups are answered before it applies):
1. its best guess is the open inquiry's own intent, or the open inquiry has no intent (it
   was a photo): the same matter, it joins;
2. the classifier is sure (not needs_review) of another domain and the message is not a
   short addition (at least SHORT_ADDITION_WORDS words past any greeting): a new matter;
3. the classifier is unsure, and the message opens like a question ("cho em hỏi…", "how do
   I…", phrasing.yml) with at least phrasing.NEW_QUESTION_MIN_WORDS words: a new matter;
4. anything else (short or unsure additions: "diện tích 2000 m2", "MST 5701234567"): joins.
Measured in bench/conversation.py (numbers in the README, "Decisions").

A new matter is not merged silently (`FollowupChoices`): the bot asks with two choices (add
to the inquiry / new question) and keeps the message as a pending choice; what the business
adds before choosing (by the same rule, relative to the pending message) goes with it; the
answer (the button, or its label typed) acts on it, and without an answer within
`conversation.followup_choice_minutes` the worker's loop opens it as a new inquiry: safer than
merging, the competent unit learns of it. Each resolution is one transaction, claimed with a
compare-and-set on the choice's status; the new inquiry is opened from the follow-up's own
inbox event (unique per inquiry), so a second worker, a second tap or a redelivery cannot
double it.
"""
from __future__ import annotations

import logging
from dataclasses import fields, replace
from datetime import datetime, timedelta
from typing import Callable, Optional

from sqlalchemy import select, update

from bot.conversation import texts
from bot.conversation.phrasing import Phrasing, words
from cases import Address, AlreadyOpened, Casework, Intake, Opened, Reply, replies
from nlu.classifier import Classification
from routing.taxonomy import DOMAIN_INTENTS
from store import OPEN_INQUIRY_STATUSES, Database, FollowupChoice, Inquiry

log = logging.getLogger(__name__)
# Fewer words than this is a short addition ("diện tích 2000 m2", "MST 5701234567"): it joins
# whatever the classifier makes of it. Chosen on bench/conversation.py (README "Decisions").
SHORT_ADDITION_WORDS = 6


def new_matter(open_intent: Optional[str], result: Classification, text: str, phrasing: Phrasing) -> Optional[str]:
    """Why the follow-up `text` reads as a new matter, or None when it joins the open inquiry."""
    if open_intent is None or result.intent == open_intent:
        return None
    if result.intent in DOMAIN_INTENTS and not result.needs_review:
        if words(phrasing.split(text).rest) < SHORT_ADDITION_WORDS:
            return None
        return f"classified {result.intent} ({result.confidence:.2f}), the open inquiry is {open_intent}"
    if result.needs_review and phrasing.opens_like_question(text):
        return "reads as a new question"
    return None


def _classification(data: dict) -> Classification:
    known = {f.name for f in fields(Classification)}
    values = {k: v for k, v in data.items() if k in known}
    values["ranking"] = [tuple(r) for r in values.get("ranking") or []]
    return Classification(**values)


class FollowupChoices:
    """Pending follow-up choices: asked, answered (button or typed label), or timed out."""

    def __init__(self, *, cases: Casework, clock: Callable[[], datetime], minutes: int,
                 after_open: Callable[[object, FollowupChoice, Opened], None]):
        self.cases, self.clock, self.minutes = cases, clock, minutes
        self.after_open = after_open  # e.g. ask once for a phone or e-mail

    @staticmethod
    def address(choice: FollowupChoice) -> Address:
        return Address(choice.reply_channel, choice.page_id, choice.reply_to or {})

    def ask(self, s, *, intake: Intake, inquiry: Inquiry, result: Classification, why: str) -> FollowupChoice:
        """Keep the follow-up as a pending choice and ask the business (in session `s`)."""
        now = self.clock()
        choice = FollowupChoice(
            event_id=intake.event_id, inquiry_id=inquiry.id, page_id=intake.page_id, sender_id=intake.sender_id,
            channel=intake.channel, reply_channel=intake.reply_channel, reply_to=dict(intake.reply_to),
            text=intake.text, language=intake.language, attachments=list(intake.attachments) or None,
            classification=result.as_dict(), moderation_note=intake.moderation_note, reason=why[:255],
            sent_at=intake.sent_at, received_at=intake.received_at, due_at=now + timedelta(minutes=self.minutes),
            status="pending", created_at=now)
        s.add(choice)
        s.flush()
        lang = intake.language
        self.cases.reply(s, inquiry.id, f"choice:{intake.event_id}", Reply(
            texts.followup_question(lang, inquiry.code, self.minutes), texts.followup_choices(lang, choice.id)),
            address=self.address(choice))
        return choice

    def add_to(self, s, choice: FollowupChoice, *, text: str, attachments, key: str) -> None:
        """More from the business while it has not chosen ("hàng thủy sản, quý 3" after the VAT
        question): it goes with the pending message, not into the open inquiry, and the
        question is asked again (Messenger drops the buttons once the person types)."""
        choice.text = f"{choice.text}\n{text}"
        if attachments:
            choice.attachments = list(choice.attachments or []) + list(attachments)
        choice.due_at = self.clock() + timedelta(minutes=self.minutes)
        inquiry = s.get(Inquiry, choice.inquiry_id)
        self.cases.reply(s, inquiry.id, key, Reply(texts.followup_question(choice.language, inquiry.code, self.minutes),
                                                   texts.followup_choices(choice.language, choice.id)),
                         address=self.address(choice))

    def still_open(self, s, page_id: str, sender_id: str, reply: Reply, lang: str) -> Reply:
        """`reply` (to something else the business wrote: a code looked up, a greeting, a menu
        button) with the sender's pending choice asked again in the same message, its time
        started again. Messenger drops the buttons once the person writes, so the choice could
        no longer be made and became a new inquiry when its time ran out. The choice's buttons
        replace a reply's own (the welcome's menu after Get Started): the choice runs out in
        minutes and the menu stays in the persistent menu (a walkthrough: Get Started dropped
        the pending choice)."""
        choice = self.find(s, page_id, sender_id, None)
        if choice is None:
            return reply
        choice.due_at = self.clock() + timedelta(minutes=self.minutes)
        code = s.get(Inquiry, choice.inquiry_id).code
        held_at = f"{choice.sent_at.astimezone(self.cases.calendar.tz):%H:%M}"
        return replace(reply, text=f"{reply.text}\n\n{texts.followup_question(lang, code, self.minutes, held_at)}",
                       choices=texts.followup_choices(lang, choice.id))

    @staticmethod
    def find(s, page_id: str, sender_id: str, choice_id: Optional[int]) -> Optional[FollowupChoice]:
        """The sender's choice `choice_id` (a button), or their newest pending one (a typed label)."""
        query = select(FollowupChoice).where(FollowupChoice.page_id == page_id, FollowupChoice.sender_id == sender_id)
        query = query.where(FollowupChoice.id == choice_id) if choice_id is not None else \
            query.where(FollowupChoice.status == "pending").order_by(FollowupChoice.id.desc()).limit(1)
        return s.execute(query).scalars().first()

    def resolve(self, s, choice: FollowupChoice, kind: str, by: str, *, key: Optional[str]) -> str:
        """Act on the answer (JOIN or NEW) in session `s`; what was done, for the event's outcome.
        `key` names the reply telling the business what was done when the choice was already
        resolved (one per answering event); None: no reply (the timeout's own race)."""
        inquiry = s.get(Inquiry, choice.inquiry_id)
        status = "joined" if kind == texts.JOIN and inquiry.status in OPEN_INQUIRY_STATUSES else "opened"
        won = s.execute(update(FollowupChoice).where(FollowupChoice.id == choice.id,
                                                     FollowupChoice.status == "pending")
                        .values(status=status, resolved_by=by, resolved_at=self.clock())).rowcount == 1
        if not won:  # a second tap, or the time ran out first: say what was done
            s.refresh(choice)
            done = s.get(Inquiry, choice.result_inquiry_id) if choice.result_inquiry_id else inquiry
            if key is not None:
                self.cases.reply(s, done.id, key, Reply(replies.followup_already(choice.language, choice.status,
                                                                                 done.code)), address=self.address(choice))
            return f"follow-up choice {choice.id} was already {choice.status}"
        s.refresh(choice)
        if status == "joined":
            self.cases.add_message(s, inquiry, direction="in", source=choice.channel, text=choice.text,
                                   attachments=choice.attachments or (), at=choice.sent_at, event_id=choice.event_id)
            if choice.attachments:
                inquiry.attachments = list(inquiry.attachments or []) + list(choice.attachments)
            inquiry.moderation_note = inquiry.moderation_note or choice.moderation_note
            choice.result_inquiry_id = inquiry.id
            self.cases.tell_unit_of_addition(s, inquiry, text=choice.text, attachments=choice.attachments or (),
                                             at=choice.sent_at)
            self.cases.reply(s, inquiry.id, f"choice-joined:{choice.id}", Reply(
                replies.followup_joined(choice.language, inquiry.code)), address=self.address(choice))
            return f"follow-up joined {inquiry.code} ({by})"
        if kind == texts.JOIN:  # "add to it", but it was answered meanwhile: a new inquiry, said why
            self.cases.reply(s, inquiry.id, f"choice-answered:{choice.id}", Reply(
                replies.followup_was_answered(choice.language, inquiry.code)), address=self.address(choice))
        intake = Intake(event_id=choice.event_id, channel=choice.channel, reply_channel=choice.reply_channel,
                        page_id=choice.page_id, sender_id=choice.sender_id, text=choice.text,
                        language=choice.language, received_at=choice.received_at, sent_at=choice.sent_at,
                        reply_to=choice.reply_to or {}, attachments=tuple(choice.attachments or ()),
                        moderation_note=choice.moderation_note)
        opened = self.cases.open_inquiry(s, intake, _classification(choice.classification))
        choice.result_inquiry_id = opened.inquiry_id
        self.after_open(s, choice, opened)
        return f"follow-up opened {opened.code} -> {opened.unit} ({by})"

    def expire(self, db: Database, limit: int = 20) -> int:
        """Open as new inquiries the choices left unanswered past their time; one transaction
        each. Returns how many were opened."""
        now = self.clock()
        with db.session() as s:
            ids = s.execute(select(FollowupChoice.id).where(FollowupChoice.status == "pending",
                                                            FollowupChoice.due_at <= now)
                            .order_by(FollowupChoice.due_at, FollowupChoice.id).limit(limit)).scalars().all()
        opened = 0
        for choice_id in ids:
            try:
                with db.session() as s:
                    choice = s.get(FollowupChoice, choice_id)
                    if choice is None or choice.status != "pending":
                        continue
                    detail = self.resolve(s, choice, texts.NEW, "timeout", key=None)
                    opened += 1
                    log.info("follow-up choice %s: %s", choice_id, detail)
            except AlreadyOpened:  # another worker opened it first
                continue
            except Exception:  # the boundary of this unit of work: log, leave it pending for the next pass
                log.exception("follow-up choice %s could not be opened", choice_id)
        return opened
