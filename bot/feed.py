"""Comments under the pages' posts, and the pages' own posts (field `feed`).

A business's comment with a question becomes an inquiry (channel "comment", with the post
and comment ids), acknowledged by a private reply (Send API, recipient comment_id) and, if
configured, a short public reply under it. Edits update the inquiry, removals and hides are
recorded. A comment by the page under a business's comment answers that inquiry. The page's
own new posts are counted per page per ISO week (Decision 3887 asks each unit for at least 5
posts a week; the weekly report uses the count). Greetings and thanks in comments get no
reply (a public thread is not a chat).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Optional

from sqlalchemy import select

from bot import replies
from nlu.normalize import detect_language, normalize
from routing.taxonomy import CONVERSATION_INTENTS
from store import InboxEvent, Inquiry, PagePost

if TYPE_CHECKING:
    from bot.worker import Outcome, Worker

POST_ITEMS = ("status", "post", "photo", "video", "share")


def _outcome(status: str, detail: str) -> "Outcome":
    from bot.worker import Outcome

    return Outcome(status, detail)


def _value(event: InboxEvent) -> dict:
    value = event.payload.get("event")
    return value if isinstance(value, dict) else {}


def _author(value: dict) -> Optional[str]:
    author = value.get("from")
    raw = author.get("id") if isinstance(author, dict) else value.get("sender_id")
    return str(raw) if isinstance(raw, (str, int)) and not isinstance(raw, bool) else None


def _str(value) -> Optional[str]:
    return value if isinstance(value, str) and value else None


def _comment_inquiry(s, comment_id: Optional[str]) -> Optional[Inquiry]:
    if not comment_id:
        return None
    return s.execute(select(Inquiry).where(Inquiry.comment_id == comment_id)).scalars().first()


def handle_comment_add(w: "Worker", event: InboxEvent) -> "Outcome":
    value = _value(event)
    author, comment_id, post_id = _author(value), _str(value.get("comment_id")), _str(value.get("post_id"))
    text = _str(value.get("message"))
    if author is None or comment_id is None:
        return w.finish(event, _outcome("ignored", "comment without author or id"))
    if author == event.page_id:
        # The page answering under a business's comment answers that inquiry.
        parent = _str(value.get("parent_id"))
        with w.db.session() as s:
            inquiry = _comment_inquiry(s, parent)
            if inquiry is not None and inquiry.status in ("triage", "assigned"):
                at = w.event_time(event)
                w.add_message(s, inquiry, event, direction="out", source="comment", text=text, at=at)
                w.mark_answered(s, inquiry, by="page comment", text=text, at=at)
                return w.finish(event, _outcome("done", f"{inquiry.code} answered under the comment"), s)
            return w.finish(event, _outcome("ignored", "the page's own comment"), s)
    if text is None or not normalize(text):  # blank, or only emoji / zero-width / control characters
        return w.finish(event, _outcome("ignored", "comment without words"))
    lang = detect_language(text)
    result = w.classify(text)
    with w.db.session() as s:
        if _comment_inquiry(s, comment_id) is not None:
            return w.finish(event, _outcome("done", "comment already has an inquiry"), s)
        if result.intent in CONVERSATION_INTENTS and not result.needs_review:
            return w.finish(event, _outcome("ignored", f"comment: {result.intent}, no inquiry"), s)
        inquiry, lead, decision = w.create_inquiry(
            s, event, text=text, result=result, lang=lang, channel="comment", sender_id=author,
            post_id=post_id, comment_id=comment_id)
        w.text_reply(s, event, f"ack:{event.dedup_key}", w.acknowledgement(inquiry, lead, decision),
                     inquiry_id=inquiry.id, recipient={"comment_id": comment_id})
        if w.settings.config.conversation.public_comment_reply:
            w.reply(s, event, f"public:{event.dedup_key}", {"message": replies.comment_public_reply(inquiry.code)},
                    inquiry_id=inquiry.id, recipient={"comment_id": comment_id}, kind="comment_reply")
        return w.finish(event, _outcome("done", f"inquiry {inquiry.code} from comment -> {decision.unit}"), s)


def handle_comment_edited(w: "Worker", event: InboxEvent) -> "Outcome":
    value = _value(event)
    text = _str(value.get("message"))
    with w.db.session() as s:
        inquiry = _comment_inquiry(s, _str(value.get("comment_id")))
        if inquiry is None or text is None:
            return w.finish(event, _outcome("ignored", "edit of a comment without an inquiry"), s)
        w.add_message(s, inquiry, event, direction="in", source="comment", text=text, at=w.event_time(event))
        inquiry.text, inquiry.updated_at = text, w.clock()
        return w.finish(event, _outcome("done", f"{inquiry.code}: comment edited"), s)


def handle_comment_removed(w: "Worker", event: InboxEvent) -> "Outcome":
    value = _value(event)
    with w.db.session() as s:
        inquiry = _comment_inquiry(s, _str(value.get("comment_id")))
        if inquiry is None:
            return w.finish(event, _outcome("ignored", f"{event.kind} of a comment without an inquiry"), s)
        inquiry.removed_at = inquiry.removed_at or w.event_time(event)
        inquiry.updated_at = w.clock()
        w.add_message(s, inquiry, event, direction="in", source="comment",
                      text=f"(bình luận đã bị {'ẩn' if event.kind.endswith('hide') else 'xóa'})",
                      at=w.event_time(event))
        return w.finish(event, _outcome("done", f"{inquiry.code}: comment {event.kind.rsplit('_', 1)[-1]}"), s)


def handle_post_add(w: "Worker", event: InboxEvent) -> "Outcome":
    value = _value(event)
    post_id = _str(value.get("post_id"))
    if post_id is None or _author(value) != event.page_id or value.get("published") == 0:
        return w.finish(event, _outcome("ignored", "not a published post of the page"))
    created = w.event_time(event)
    year, week, _ = w.calendar.local_date(created).isocalendar()
    with w.db.session() as s:
        if s.execute(select(PagePost.id).where(PagePost.post_id == post_id)).first() is None:
            s.add(PagePost(page_id=event.page_id, post_id=post_id, iso_week=f"{year}-W{week:02d}",
                           created_at=created))
        return w.finish(event, _outcome("done", f"page post counted in {year}-W{week:02d}"), s)


def handle_post_remove(w: "Worker", event: InboxEvent) -> "Outcome":
    post_id = _str(_value(event).get("post_id"))
    with w.db.session() as s:
        post = s.execute(select(PagePost).where(PagePost.post_id == post_id)).scalars().first() if post_id else None
        if post is None:
            return w.finish(event, _outcome("ignored", "removal of a post we did not count"), s)
        post.removed_at = post.removed_at or w.event_time(event)
        return w.finish(event, _outcome("done", "page post removed"), s)


HANDLERS = {
    "feed_comment_add": handle_comment_add,
    "feed_comment_edited": handle_comment_edited,
    "feed_comment_remove": handle_comment_removed,
    "feed_comment_hide": handle_comment_removed,
    **{f"feed_{item}_add": handle_post_add for item in POST_ITEMS},
    **{f"feed_{item}_remove": handle_post_remove for item in POST_ITEMS},
}
