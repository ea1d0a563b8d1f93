"""What the bot does when the business edits a message it sent (issue 15; Messenger's
`message_edits`). Comments edited under a post keep their own path (the conversation's
`_edited`).

- A message we never received, or that is on no thread of the sender on this page (a greeting
  answered without an inquiry, say), is read as a new message through the conversation's
  normal path: it may open an inquiry, join an open one as a follow-up, or be small talk.
- Otherwise the message keeps every version with its time (cases/edits.py); only the edit
  with the highest number becomes its text, so edits delivered out of order end on the last
  one, and an earlier edit arriving late is history and nothing else.
- The message opened an inquiry nobody has started on (cases.queries.unit_has_started): the
  new text is classified again (outside any transaction, like a new message) and the
  inquiry routed again (Casework.reroute). A new unit gets it like a reassignment and the
  old unit is told; when the unit or the field changed, the business gets one short message
  saying where its inquiry is now and by when. Otherwise the text is updated silently.
- A unit has started (answered, reassigned or coordinated by a person, a person's message to
  the business): the edit joins the thread as a new message and the unit is told briefly;
  nothing moves by itself.
- An edited follow-up, before anyone started: its text is updated silently (the unit reads
  the thread). A text without words (only emoji, say) is kept but not classified. While
  another app owns the conversation the edit is kept and nothing is said or moved.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from bot.channels.base import Edited, InboundMessage
from bot.outcome import Outcome, Ticket
from cases import Casework, Reply, queries, replies
from cases.edits import record_revision
from nlu.classifier import Classification
from nlu.normalize import detect_language, normalize
from store import Database, Inquiry, InquiryMessage


class MessageEdits:
    def __init__(self, *, db: Database, casework: Casework, classify: Callable[[str], Classification],
                 clock: Callable[[], datetime], as_new_message: Callable[[Ticket, InboundMessage], Outcome]):
        self.db, self.cases, self.classify, self.clock = db, casework, classify, clock
        self.as_new_message = as_new_message  # the conversation's path for a message it receives

    def handle(self, t: Ticket, e: Edited) -> Outcome:
        with self.db.session() as s:
            message = queries.message_by_ref(s, e.page_id, e.sender_id, e.ref)
            if message is not None:
                message_id, reclassify = message.id, self._reroutes(s, message, e)
        if message is None:
            return self.as_new_message(t, InboundMessage(
                channel=e.channel, source=e.source, page_id=e.page_id, sender_id=e.sender_id, sent_at=e.at,
                text=e.text, reply_to=e.reply_to, held=e.held, ref=e.ref, revision=e.revision))
        result = self.classify(e.text) if reclassify else None
        with self.db.session() as s:
            message = s.get(InquiryMessage, message_id)
            return self._apply(s, t, e, message, result)

    @staticmethod
    def _is_newer(message: InquiryMessage, e: Edited) -> bool:
        return e.revision is None or e.revision > (message.revision or 0)

    def _reroutes(self, s, message: InquiryMessage, e: Edited) -> bool:
        """Whether this edit makes the inquiry's routing open again: it is the newest text of
        the message that opened the inquiry, has words, and nobody has started on it."""
        inquiry = s.get(Inquiry, message.inquiry_id)
        return (not e.held and message.event_id == inquiry.source_event_id and self._is_newer(message, e)
                and bool(normalize(e.text)) and not queries.unit_has_started(s, inquiry))

    def _apply(self, s, t: Ticket, e: Edited, message: InquiryMessage, result) -> Outcome:
        inquiry = s.get(Inquiry, message.inquiry_id)
        reroutes = self._reroutes(s, message, e)  # decided before the edit becomes the message's text
        started = queries.unit_has_started(s, inquiry)
        revision = record_revision(s, message, text=e.text, at=e.at, now=self.clock(), revision=e.revision,
                                   event_id=t.event_id)
        label = f"{inquiry.code}: edit {revision.number}"
        if revision.duplicate:
            return t.finish(s, "ignored", f"{label} already recorded")
        if not revision.current:
            return t.finish(s, "done", f"{label} arrived after a later edit: kept in the history")
        opening = message.event_id == inquiry.source_event_id
        if e.held:
            if opening and not started:
                inquiry.text, inquiry.updated_at = e.text, self.clock()
            return t.finish(s, "done", f"{label} recorded; another app owns the conversation")
        if started:
            self.cases.add_message(s, inquiry, direction="in", source=e.source, text=e.text, at=e.at,
                                   event_id=t.event_id)
            self.cases.tell_unit_of_edit(s, inquiry, key=t.key("edited"), text=e.text, at=e.at)
            return t.finish(s, "done", f"{label} after the unit started: a new message on the thread, unit told")
        if not opening:
            return t.finish(s, "done", f"{label} of a follow-up: the thread reads the new text")
        if not reroutes:  # a text without words: kept, not classified
            return t.finish(s, "done", f"{label} without words: kept in the history, not classified")
        if result is None:  # decided "no" before and "yes" now cannot happen; retried if it does
            raise RuntimeError(f"{label}: classification missing")
        inquiry.text, inquiry.language = e.text, detect_language(e.text)
        rerouted = self.cases.reroute(s, inquiry, result, by=queries.BUSINESS_EDIT,
                                      reason=f"Doanh nghiệp sửa nội dung tin nhắn (lần sửa {revision.number}), "
                                             "phân loại lại")
        if rerouted.moved or (rerouted.domain_changed and rerouted.role == "lead"):
            lang = inquiry.language
            self.cases.reply(s, inquiry.id, t.key("edit-update"), Reply(replies.updated_after_edit(
                lang, code=inquiry.code, intent=self.cases.field_said(inquiry, rerouted.unit),
                unit_name=self.cases.directory.name(rerouted.unit, lang),
                due=rerouted.due_at, triage=rerouted.role == "triage",
                provisional=not self.cases.calendar.is_declared(rerouted.due_at))), address=self.cases.address(inquiry))
        if rerouted.moved:
            return t.finish(s, "done", f"{label}: moved from {rerouted.previous_unit} to {rerouted.unit}")
        if rerouted.domain_changed:
            return t.finish(s, "done", f"{label}: field changed to {inquiry.intent}, still with {rerouted.unit}")
        return t.finish(s, "done", f"{label}: text updated, routing unchanged")
