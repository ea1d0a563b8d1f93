"""What the lifecycle does with the prohibited-content filter's verdict on what a business
wrote (Decision 3887/QĐ-UBND, Art. 9.5(b); the filter itself is cases/moderation.py).

- A comment under a page's post with a blocking hit ("hide"): the comment is hidden through
  the channel (an outbox action, so it is retried and never sent inside a transaction), the
  finding is recorded (`moderation_records`), the standing office is e-mailed the rule and an
  excerpt, and no inquiry is opened.
- A hit that only flags a comment, and any hit in a private message (never hidden: it is the
  business's own conversation with the unit): the inquiry is opened as usual, the finding is
  recorded with the inquiry, and the unit's notices say "Lưu ý: tin nhắn có nội dung …
  (quy tắc …)" (`Inquiry.moderation_note`).
What the bot and officers send is screened in cases/outbox.py.

Excerpts keep no more of the text than needed and mask the digits of personal data
(an ID or phone number posted in public is not copied again in full into mail and tables).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Optional, Sequence

from cases.moderation import Hit, Verdict
from scheduler.notifications.render import format_local
from store import ModerationRecord, Notification

EXCERPT_CHARS = 300
_DIGIT = re.compile(r"\d")
WHERE_VI = {"comment": "bình luận", "messenger": "tin nhắn"}


@dataclass(frozen=True)
class Written:
    """Where and by whom the screened text was written (plain values)."""

    channel: str  # the channel plug-in
    source: str  # comment | messenger | ...
    page_id: str
    sender_id: Optional[str]
    text: str
    event_id: Optional[int] = None
    post_id: Optional[str] = None
    comment_id: Optional[str] = None
    message_ref: Optional[str] = None


def _groups(hits: Sequence[Hit]) -> list[tuple[str, list[str]]]:
    """(label_vi, rule ids) per category, in the order found."""
    groups: dict[str, tuple[str, list[str]]] = {}
    for h in hits:
        label, ids = groups.setdefault(h.category, (h.label_vi, []))
        if h.rule_id not in ids:
            ids.append(h.rule_id)
    return list(groups.values())


def shown_hits(verdict: Verdict) -> list[Hit]:
    """The hits that decide: the blocking ones when there are any."""
    return [h for h in verdict.hits if h.severity == "block"] if verdict.blocked else list(verdict.hits)


def note_vi(verdict: Verdict, source: str) -> str:
    """For the officer: "tin nhắn có nội dung ngôn từ thô tục, xúc phạm (quy tắc insult_vi_01)"."""
    parts = [f"{label} (quy tắc {', '.join(ids)})" for label, ids in _groups(shown_hits(verdict))]
    return f"{WHERE_VI.get(source, 'nội dung')} có nội dung {'; '.join(parts)}"


def _mask(text: str) -> str:
    return text[:2] + _DIGIT.sub("•", text[2:])


def excerpt(text: str, verdict: Verdict, limit: int = EXCERPT_CHARS) -> str:
    """The text (NFC, as the filter's spans count), cut to `limit`, with the digits of every
    personal-data hit masked."""
    nfc = unicodedata.normalize("NFC", text)
    for h in sorted((h for h in verdict.hits if h.category == "personal_data"), key=lambda h: -h.span[0]):
        start, end = h.span
        nfc = nfc[:start] + _mask(nfc[start:end]) + nfc[end:]
    return nfc if len(nfc) <= limit else nfc[:limit - 1] + "…"


def matched(verdict: Verdict) -> list[str]:
    """What matched, as written (personal data masked)."""
    return list(dict.fromkeys(_mask(h.excerpt) if h.category == "personal_data" else h.excerpt
                              for h in shown_hits(verdict)))


def record(s, verdict: Verdict, written: Written, *, action: str, now: datetime,
           inquiry_id: Optional[int] = None) -> ModerationRecord:
    hits = shown_hits(verdict)
    row = ModerationRecord(
        page_id=written.page_id, channel=written.channel, source=written.source, event_id=written.event_id,
        sender_id=written.sender_id, post_id=written.post_id, comment_id=written.comment_id,
        message_ref=written.message_ref, inquiry_id=inquiry_id, action=action,
        rule_ids=list(dict.fromkeys(h.rule_id for h in hits)), categories=list(dict.fromkeys(h.category for h in hits)),
        reason=verdict.reason_vi, excerpt=excerpt(written.text, verdict), created_at=now)
    s.add(row)
    return row


def report_hidden(s, verdict: Verdict, written: Written, *, key: str, page_name: str, recipients: Sequence[str],
                  sources: Sequence[str], now: datetime) -> Notification:
    """The e-mail to the standing office about a comment hidden (Vietnamese)."""
    rules = "; ".join(f"{label} (quy tắc {', '.join(ids)})" for label, ids in _groups(shown_hits(verdict)))
    link = f"https://www.facebook.com/{written.comment_id}" if written.comment_id else "-"
    lines = [
        f"Hệ thống đã ẩn một bình luận dưới bài viết của trang {page_name} vì có nội dung bị cấm "
        "(Quyết định 3887/QĐ-UBND, Điều 9 khoản 5 điểm b; Luật Công nghệ thông tin, Điều 12).",
        "",
        f"Nội dung vi phạm: {rules}",
        f"Từ ngữ bị phát hiện: {', '.join(f'“{m}”' for m in matched(verdict))}",
        f"Trích bình luận: “{excerpt(written.text, verdict)}”",
        f"Người viết: tài khoản Facebook {written.sender_id or '-'}",
        f"Bình luận: {link}",
        f"Thời điểm: {format_local(now)}",
        "Căn cứ:",
        *(f"- {src}" for src in sources),
        "",
        "Không mở phản ánh cho bình luận này. Nếu đây là ý kiến chính đáng bị ẩn nhầm, đề nghị bỏ ẩn bình luận "
        "trên trang (Meta Business Suite → Bình luận) và báo quản trị hệ thống để sửa quy tắc "
        "(cases/data/prohibited_content.yml).",
        "-- Hệ thống tiếp nhận phản ánh DDCI Quảng Ninh (thư tự động, vui lòng không trả lời thư này)",
    ]
    row = Notification(
        idempotency_key=key, inquiry_id=None, assignment_id=None, kind="moderation", channel="email",
        recipients=list(dict.fromkeys(recipients)),
        # a fixed subject: Python 3.10's e-mail header folding drops the space between two
        # encoded words at some fold points ("bình luậncó"); this text is known to survive it
        subject="[DDCI Quảng Ninh] Đã ẩn một bình luận có nội dung bị cấm",
        body_text="\n".join(lines), body_html=None, status="pending", attempts=0, next_attempt_at=now,
        created_at=now)
    s.add(row)
    return row
