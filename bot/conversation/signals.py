"""What the channel tells besides messages: a person of the page answering the business
elsewhere (answers the inquiry and stops its clock), deliveries and reads, who owns the
thread (handover), the page's own posts (counted for the weekly report), and events only
noted. A mixin of `Conversation` (bot/conversation/__init__.py), whose helpers it uses.
"""
from __future__ import annotations

from bot.channels.base import AnsweredElsewhere, Noted, PagePosted, Seen, ThreadOwner
from bot.outcome import Outcome, Ticket
from cases import queries
from store import OPEN_INQUIRY_STATUSES, PagePost


class Signals:
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
