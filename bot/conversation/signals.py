"""What the channel tells besides messages: a person of the page answering the business
elsewhere (answers the inquiry and stops its clock), deliveries and reads, who owns the
thread (handover), the page's own posts (counted for the weekly report), and events only
noted. A mixin of `Conversation` (bot/conversation/__init__.py), whose helpers it uses.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.channels.base import AnsweredElsewhere, Noted, PagePosted, Seen, ThreadOwner
from bot.outcome import Outcome, Ticket
from cases import queries
from store import OPEN_INQUIRY_STATUSES, Outbox, PagePost


MIN_CONTAINED_CHARS = 40  # an outbox text this long found inside an echo is ours (a late send's first line)
LOOSE_LIMIT = 200  # the page's latest messages about no inquiry looked at for one echo


class Signals:
    def _answered_elsewhere(self, t: Ticket, a: AnsweredElsewhere) -> Outcome:
        with self.db.session() as s:
            if a.business_id is not None:
                inquiry = queries.open_inquiry(s, a.page_id, a.business_id, a.source)
                if inquiry is None:
                    return t.finish(s, "ignored", "a person wrote from the page inbox; no open inquiry")
                if self._sent_by_us(s, a, inquiry):
                    return t.finish(s, "ignored", "echo of our own message (matched in the outbox)")
                where = "from the page inbox"
            else:
                inquiry = queries.by_comment(s, a.comment_id)
                if inquiry is None or inquiry.status not in OPEN_INQUIRY_STATUSES:
                    return t.finish(s, "ignored", "the page's own comment")
                where = "under the comment"
            self.cases.record_answer(s, inquiry, by=a.by, text=a.text, at=a.sent_at, source=a.thread_source,
                                     attachments=a.attachments, event_id=t.event_id)
            return t.finish(s, "done", f"{inquiry.code} answered {where}")

    @staticmethod
    def _sent_by_us(s, a: AnsweredElsewhere, inquiry) -> bool:
        """An echo of a message our outbox sent to this business: by the Send API's message id,
        or, when the echo is handled before that id is written, by its text (a message sent
        late carries a first line added at sending, so a long enough outbox text is looked for
        within the echo's). The app id tells our echoes apart only when the deployment declares
        it (FB_APP_ID / app.facebook_app_id); without it, the bot's own acknowledgement came
        back as "a person answered from the page inbox" and stopped the inquiry's clock (an
        operator's review). Looked for among the inquiry's own messages (by its index), then
        among the page's messages about no inquiry within an hour of the echo (small talk,
        menus), a bounded number: not every message of the page in a burst (a review)."""
        def ours(message, provider_id) -> bool:
            if a.ref and provider_id == a.ref:
                return True
            text = ((message or {}).get("text") if isinstance(message, dict) else None) or ""
            text, echoed = text.strip(), (a.text or "").strip()
            return bool(text) and (text == echoed or (len(text) >= MIN_CONTAINED_CHARS and text in echoed))

        own = s.execute(select(Outbox.message, Outbox.provider_message_id).where(
            Outbox.inquiry_id == inquiry.id, Outbox.status.in_(("pending", "sent")), Outbox.kind == "message")).all()
        if any(ours(message, provider_id) for message, provider_id in own):
            return True
        window = timedelta(hours=1)
        loose = s.execute(select(Outbox.recipient, Outbox.message, Outbox.provider_message_id).where(
            Outbox.status.in_(("pending", "sent")), Outbox.next_attempt_at >= a.sent_at - window,
            Outbox.next_attempt_at <= a.sent_at + window, Outbox.inquiry_id.is_(None), Outbox.page_id == a.page_id,
            Outbox.channel == a.channel, Outbox.kind == "message").order_by(Outbox.id.desc()).limit(LOOSE_LIMIT)).all()
        return any(isinstance(recipient, dict) and str(recipient.get("id")) == a.business_id
                   and ours(message, provider_id) for recipient, message, provider_id in loose)

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
