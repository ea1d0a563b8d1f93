"""The notifications table: queue a rendered notice (once per key) and deliver pending ones;
shared by the worker, casework and the scheduler."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable, Sequence

from routing.taxonomy import domain_name
from scheduler.calendar import WorkingCalendar
from scheduler.notifications.render import format_local, overdue_vi, render, time_left_vi
from scheduler.notifications.router import DeliveryError, Fanout, Notifier
from store import Assignment, Conversation, Database, Inquiry, Notification
from store.queue import backoff, claim_due

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


def business_vi(session, inquiry: Inquiry) -> str:
    """Who wrote, with the contact details the business gave (if any), for the officer to call back."""
    parts = [f"Messenger {inquiry.sender_id} (trang {inquiry.page_id})"]
    conversation = session.get(Conversation, (inquiry.page_id, inquiry.sender_id))
    if conversation is not None:
        if conversation.phone:
            parts.append(f"điện thoại {conversation.phone}")
        if conversation.email:
            parts.append(f"email {conversation.email}")
    return ", ".join(parts)


def how_to_answer_vi(inquiry: Inquiry) -> str:
    """Where the unit answers the business, in Vietnamese. There is no officers' web console:
    a unit answers where the business wrote, and the bot records that answer and stops the
    clock (bot/conversation.py: a page-inbox echo; bot/feed.py: the page's reply under the
    comment). A comment gets a link to itself on Facebook."""
    if inquiry.channel == "comment" and inquiry.comment_id:
        return (f"trả lời ngay dưới bình luận của doanh nghiệp, bằng tài khoản của trang: "
                f"https://www.facebook.com/{inquiry.comment_id}")
    return ("trả lời doanh nghiệp trong hộp thư của trang (Meta Business Suite → Hộp thư); "
            "câu trả lời gửi từ hộp thư được hệ thống ghi nhận và dừng tính hạn")


def queue_notification(session, *, kind: str, key: str, inquiry: Inquiry, assignment: Assignment,
                       unit_name: str, recipients: list[str], calendar: WorkingCalendar, now: datetime,
                       channel: str = "email", template: str | None = None,
                       fanouts: Sequence[Fanout] = ()) -> bool:
    """Add a rendered notification unless one with this key exists. Returns True if added.

    `template` picks the headline and wording (default: `kind`), e.g. kind "reminder" with
    template "reminder_half_time". An e-mail notice also gets one row per fan-out that names
    recipients (key `<key>:<channel>`), e.g. the unit's officers who linked Messenger.
    """
    if session.query(Notification.id).filter_by(idempotency_key=key).first() is not None:
        return False
    if now < assignment.due_at:
        hours = calendar.working_time_between(now, assignment.due_at).total_seconds() / 3600
        left = time_left_vi(hours)
    else:
        left = overdue_vi(calendar.working_time_between(assignment.due_at, now).total_seconds() / 3600)
    email = render(
        template or kind, code=inquiry.code,
        domain=domain_name(inquiry.intent, "vi") if inquiry.intent else "chưa rõ",
        unit=unit_name, received=format_local(inquiry.received_at), due=format_local(assignment.due_at),
        time_left=left, business=business_vi(session, inquiry),
        text=inquiry.text, how_to_answer=how_to_answer_vi(inquiry),
        flag=inquiry.moderation_note,  # the prohibited-content filter's finding (cases/screening.py)
    )
    session.add(Notification(
        idempotency_key=key, inquiry_id=inquiry.id, assignment_id=assignment.id, kind=kind, channel=channel,
        recipients=list(dict.fromkeys(recipients)), subject=email.subject, body_text=email.text,
        body_html=email.html, status="pending", attempts=0, next_attempt_at=now, created_at=now,
    ))
    if channel != "email":
        return True
    for fanout in fanouts:
        copies = fanout.recipients(session, assignment.unit_code)
        if copies:
            session.add(Notification(
                idempotency_key=f"{key}:{fanout.channel}", inquiry_id=inquiry.id, assignment_id=assignment.id,
                kind=kind, channel=fanout.channel, recipients=copies, subject=email.subject, body_text=email.text,
                body_html=None, status="pending", attempts=0, next_attempt_at=now, created_at=now,
            ))
    return True


def deliver_notifications(db: Database, notifier: Notifier, clock: Callable[[], datetime], limit: int = 20) -> int:
    """Send pending notifications; every attempt's outcome stays on the row."""
    with db.session() as s:
        ids = claim_due(s, Notification, clock(), lease_seconds=60, limit=limit)
    for row_id in ids:
        with db.session() as s:
            row = s.get(Notification, row_id)
            row.attempts += 1
            target = notifier.for_channel(row.channel) if hasattr(notifier, "for_channel") else notifier
            try:
                if target is None or target.channel != row.channel:
                    raise DeliveryError(f"no notifier for channel {row.channel!r}", permanent=True)
                target.send(row.recipients, row.subject, row.body_text, row.body_html)
            except DeliveryError as exc:
                row.last_error = str(exc)
                if exc.permanent or row.attempts >= MAX_ATTEMPTS:
                    row.status = "failed"
                else:
                    row.next_attempt_at = clock() + backoff(row.attempts)
                log.warning("notification %s attempt %s failed: %s", row.id, row.attempts, exc)
            else:
                row.status, row.sent_at, row.last_error = "sent", clock(), None
    return len(ids)
