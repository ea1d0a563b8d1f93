"""The notifications table: queue a rendered notice (once per key) and deliver pending ones;
shared by the worker, casework and the scheduler."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Callable, Mapping, Optional, Sequence

from sqlalchemy import select

from routing.taxonomy import domain_name
from scheduler.calendar import WorkingCalendar
from scheduler.notifications import alerts
from scheduler.notifications.render import format_local, overdue_vi, render, time_left_vi
from scheduler.notifications.router import DeliveryError, Fanout, Notifier
from store import Assignment, Conversation, Database, Inquiry, Notification, circuits
from store.circuits import Key
from store.queue import claim_due, retry_delay

log = logging.getLogger(__name__)
RETRY_FOR = timedelta(hours=72)  # at least 24 h asked; 72 h outlasts a mail server down over a weekend
CLAIM_LEASE_SECONDS = 60


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


class NotificationDelivery:
    """Send pending notifications; every attempt's outcome stays on the row.

    A notice is retried for RETRY_FOR (72 hours: a provincial mail server down over a
    weekend) with the capped backoff (store.queue.retry_delay: 5 min at most), not for a number
    of attempts, and through a circuit per channel and unit (store.circuits), so a dead mail
    server costs one probe per unit every few minutes. A unit whose mail has failed for
    ALERT_AFTER (an hour) is told through its other channels (the fan-outs: officers who
    linked Messenger) and the admins are told by e-mail (queued like any notice: it goes
    when mail works again; /healthz shows the failure meanwhile).

    No transaction is open while a notifier talks to its server: one short transaction reads
    the row and asks the circuit, the send happens outside, a second one records the outcome.
    A crash in between leaves the row claimed until its lease runs out; it is then sent again
    (at-least-once, as the outbox).
    """

    def __init__(self, *, db: Database, notifier: Notifier, clock: Callable[[], datetime],
                 fanouts: Sequence[Fanout] = (), admins: Sequence[str] = (),
                 unit_names: Optional[Mapping[str, str]] = None, retry_for: timedelta = RETRY_FOR):
        self.db, self.notifier, self.clock = db, notifier, clock
        self.fanouts, self.admins = tuple(fanouts), tuple(admins)
        self.unit_names, self.retry_for = dict(unit_names or {}), retry_for

    @property
    def _hours(self) -> int:
        return round(self.retry_for.total_seconds() / 3600)

    def run(self, limit: int = 20) -> int:
        """Send what is due now; returns how many rows were claimed."""
        with self.db.session() as s:
            ids = claim_due(s, Notification, self.clock(), lease_seconds=CLAIM_LEASE_SECONDS, limit=limit)
        for row_id in ids:
            self.deliver(row_id)
        return len(ids)

    def deliver(self, row_id: int) -> None:
        now = self.clock()
        with self.db.session() as s:
            row = s.get(Notification, row_id)
            if row is None or row.status != "pending":
                return
            target = self.notifier.for_channel(row.channel) if hasattr(self.notifier, "for_channel") else self.notifier
            if target is None or target.channel != row.channel:
                row.attempts += 1
                row.status, row.last_error = "failed", f"no notifier for channel {row.channel!r}"
                return
            key = Key("notifications", row.channel, unit_of(s, row) or "-")
            until = row.created_at + self.retry_for
            gate = circuits.admit(s, key, now)
            if not gate.go:
                if now >= until:
                    row.status = "failed"
                    row.last_error = f"not delivered within {self._hours} h: {row.last_error or 'channel down'}"
                else:
                    row.next_attempt_at = min(circuits.behind(gate.until, row.attempts), until)
                return
            job = (list(row.recipients), row.subject, row.body_text, row.body_html)
        error: Optional[DeliveryError] = None
        try:  # no transaction is open here
            target.send(*job)
        except DeliveryError as exc:
            error = exc
        with self.db.session() as s:
            row = s.get(Notification, row_id)
            row.attempts += 1
            later = self.clock()
            if error is None:
                row.status, row.sent_at, row.last_error = "sent", later, None
                circuits.succeeded(s, key, later)
                return
            row.last_error = str(error)
            log.warning("notification %s attempt %s failed: %s", row.id, row.attempts, error)
            if error.permanent:
                row.status = "failed"
                return
            change = circuits.failed(s, key, later, "temporary", str(error))
            if later >= until:
                row.status = "failed"
                row.last_error = f"not delivered within {self._hours} h: {error}"
            elif change.state == "open":  # behind the rows tried less: the probe goes round
                row.next_attempt_at = min(circuits.behind(change.probe_at, row.attempts), until)
            else:
                row.next_attempt_at = min(later + retry_delay(row.attempts), until)
            if change.alert:
                self._alert(s, key, change, str(error), later)

    def _alert(self, s, key: Key, change: circuits.Failed, error: str, now: datetime) -> None:
        """A unit's notices have failed for an hour: tell the unit through its other channels
        (only when it is e-mail that fails: the e-mail goes out for every notice, so a failing
        copy on another channel needs no note) and the admins."""
        if key.scope == "-":
            return  # notices of nobody's unit (the admins' own alerts): /healthz shows them
        unit = self.unit_names.get(key.scope, key.scope)
        waiting = s.execute(select(Notification.subject)
                            .join(Assignment, Assignment.id == Notification.assignment_id)
                            .where(Notification.status == "pending", Notification.channel == key.channel,
                                   Assignment.unit_code == key.scope)
                            .order_by(Notification.created_at)).scalars().all()
        if key.channel == "email":
            subject, text = alerts.mail_failing_unit(unit=unit, since=change.failing_since, subjects=waiting[:10],
                                                     pending=len(waiting))
            for fanout in self.fanouts:
                if fanout.channel == key.channel:
                    continue
                alerts.queue_alert(s, key=f"{alerts.streak_key('unit', key, change.failing_since)}:{fanout.channel}",
                                   recipients=fanout.recipients(s, key.scope), subject=subject, text=text, now=now,
                                   channel=fanout.channel, kind="mail_failing")
        subject, text = alerts.mail_failing_admins(unit=unit, channel=key.channel, since=change.failing_since,
                                                   error=error, pending=len(waiting))
        alerts.queue_alert(s, key=alerts.streak_key("alert", key, change.failing_since), recipients=self.admins,
                           subject=subject, text=text, now=now)


def unit_of(s, row: Notification) -> Optional[str]:
    """The unit a notice is for: its assignment's, else its inquiry's (an undeliverable
    message goes to the inquiry's unit); None for the admins' alerts."""
    if row.assignment_id is not None:
        assignment = s.get(Assignment, row.assignment_id)
        if assignment is not None:
            return assignment.unit_code
    if row.inquiry_id is not None:
        inquiry = s.get(Inquiry, row.inquiry_id)
        if inquiry is not None:
            return inquiry.unit_code
    return None


def deliver_notifications(db: Database, notifier: Notifier, clock: Callable[[], datetime], limit: int = 20) -> int:
    """Send pending notifications (NotificationDelivery without fan-outs or admins)."""
    return NotificationDelivery(db=db, notifier=notifier, clock=clock).run(limit)
