"""What the bot does with what a business writes in public, under the pages' posts: a
comment opens an inquiry with a private acknowledgement (and, if configured, a short public
one), greetings there get no reply (a public thread is not a chat); a comment carrying
prohibited content is hidden, recorded and reported to the standing office instead
(cases/screening.py), also when an edit brings it in; edits, hides and removals are kept on
the inquiry. A mixin of `Conversation` (bot/conversation/__init__.py), whose helpers it uses.
"""
from __future__ import annotations

from typing import Optional

from sqlalchemy import select

from bot.channels.base import Edited, InboundMessage, Withdrawn
from bot.outcome import Outcome, Ticket
from cases import Address, Reply, queries, replies
from cases.moderation import Verdict
from cases.screening import Written, note_vi, shown_hits
from nlu.normalize import detect_language, normalize
from routing.taxonomy import CONVERSATION_INTENTS
from store import OPEN_INQUIRY_STATUSES, ModerationRecord


def _rules(verdict: Verdict) -> str:
    return ", ".join(dict.fromkeys(h.rule_id for h in shown_hits(verdict)))


class PublicComments:
    def _comment(self, t: Ticket, m: InboundMessage) -> Outcome:
        if m.text is None or not normalize(m.text):  # blank, or only emoji / zero-width / control characters
            return t.close("ignored", "comment without words")
        lang = detect_language(m.text)
        verdict, written, note = self._screen(t, m, m.text)
        if verdict.action("public_comment") == "hide":
            with self.db.session() as s:
                if self._hidden(s, m.comment_id):
                    return t.finish(s, "done", "comment already hidden")
                self.cases.hide_comment(s, verdict, written, page_name=self.page_names.get(m.page_id, m.page_id))
                return t.finish(s, "done", f"comment hidden: {_rules(verdict)}")
        with self.db.session() as s:
            done = self._reply_under_own_comment(s, t, m, note, verdict, written)
            if done is not None:
                return done
        result = self._classify(m.text)
        with self.db.session() as s:
            if queries.by_comment(s, m.comment_id) is not None:
                return t.finish(s, "done", "comment already has an inquiry")
            if result.intent in CONVERSATION_INTENTS and not result.needs_review:
                self._classified(s, t, m, result, lang, "comment", routed=True)
                if note:
                    self.cases.flag(s, verdict, written, inquiry_id=None)
                return t.finish(s, "ignored", f"comment: {result.intent}, no inquiry")
            opened = self.cases.open_inquiry(s, self._intake(t, m, m.text, lang, note=note), result)
            self._classified(s, t, m, result, lang, "inquiry", opened.role == "lead", opened.inquiry_id)
            if note:
                self.cases.flag(s, verdict, written, inquiry_id=opened.inquiry_id)
            if self.public_comment_reply:
                self.cases.reply(s, opened.inquiry_id, t.key("public"),
                                 Reply(replies.public_acknowledgement(lang, opened.code)),
                                 address=Address(m.channel, m.page_id, m.reply_to, public=True))
            return t.finish(s, "done", f"inquiry {opened.code} from comment -> {opened.unit}")

    def _reply_under_own_comment(self, s, t: Ticket, m: InboundMessage, note, verdict, written) -> Optional[Outcome]:
        """A business's reply under its own comment that has an inquiry ("Cảm ơn ad, mong sớm
        nhận được phản hồi") belongs to that inquiry's thread: it had opened a second public
        inquiry with its own public acknowledgement (a walkthrough). Kept on the thread; the
        unit is told while the inquiry is open; nothing is said in public."""
        if not m.parent_id or m.parent_id == m.post_id:
            return None
        parent = queries.by_comment(s, m.parent_id)
        if parent is None or parent.sender_id != m.sender_id:
            return None
        self.cases.add_message(s, parent, direction="in", source=m.source, text=m.text, at=m.sent_at,
                               event_id=t.event_id, ref=m.ref)
        if note:
            self.cases.flag(s, verdict, written, inquiry_id=parent.id)
        if parent.status in OPEN_INQUIRY_STATUSES:
            self.cases.tell_unit_of_addition(s, parent, text=m.text, at=m.sent_at)
        return t.finish(s, "done", f"reply under its own comment: added to {parent.code}")

    @staticmethod
    def _hidden(s, comment_id: Optional[str]) -> bool:
        return comment_id is not None and s.execute(select(ModerationRecord.id).where(
            ModerationRecord.comment_id == comment_id, ModerationRecord.action == "hide").limit(1)).first() is not None

    def _edited(self, t: Ticket, e: Edited) -> Outcome:
        if not e.public:  # a private message edited (bot/conversation/edits.py)
            return self.edits.handle(t, e)
        verdict = self.cases.screen(e.text, public=True) if e.text else None
        hide = verdict is not None and verdict.action("public_comment") == "hide"
        with self.db.session() as s:
            inquiry = queries.by_comment(s, e.comment_id)
            done = ""
            if verdict is not None and verdict.flagged:
                written = Written(channel=e.channel, source="comment", page_id=e.page_id, sender_id=e.sender_id,
                                  text=e.text, event_id=t.event_id, comment_id=e.comment_id)
                if hide and not self._hidden(s, e.comment_id):
                    self.cases.hide_comment(s, verdict, written, page_name=self.page_names.get(e.page_id, e.page_id),
                                            inquiry_id=inquiry.id if inquiry else None)
                    done = f"; comment hidden: {_rules(verdict)}"
                elif inquiry is not None and not hide:
                    inquiry.moderation_note = inquiry.moderation_note or note_vi(verdict, "comment")
                    self.cases.flag(s, verdict, written, inquiry_id=inquiry.id)
            if inquiry is None or e.text is None:
                return t.finish(s, "done" if done else "ignored", f"edit of a comment without an inquiry{done}")
            self.cases.edit_text(s, inquiry, e.text, at=e.at, source="comment", event_id=t.event_id)
            return t.finish(s, "done", f"{inquiry.code}: comment edited{done}")

    def _withdrawn(self, t: Ticket, w: Withdrawn) -> Outcome:
        with self.db.session() as s:
            inquiry = queries.by_comment(s, w.comment_id)
            if inquiry is None:
                return t.finish(s, "ignored", f"a {w.how} comment without an inquiry")
            self.cases.withdraw(s, inquiry, how=w.how, at=w.at, event_id=t.event_id)
            return t.finish(s, "done", f"{inquiry.code}: comment {w.how}")
