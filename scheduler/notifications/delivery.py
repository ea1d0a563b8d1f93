"""The notifications table: queue a rendered notice (once per key) and deliver pending ones;
shared by the worker, casework and the scheduler."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Callable, Mapping, Optional, Sequence
from urllib.parse import quote

from sqlalchemy import select

import telemetry
from routing.taxonomy import DOMAIN_INTENTS, domain_name
from scheduler.calendar import WorkingCalendar
from scheduler.deadlines import DeadlinePolicy
from scheduler.notifications import alerts
from scheduler.notifications.render import (format_local, overdue_vi, provisional_note_vi, render, rule_vi,
                                            time_left_vi)
from scheduler.notifications.router import DeliveryError, Fanout, Notifier
from store import GONE_ASSIGNMENT_STATUSES, Assignment, Conversation, Database, Inquiry, Notification, circuits
from store.circuits import Key
from store.group_commit import GroupCommit
from store.queue import claim_due, retry_delay

log = logging.getLogger(__name__)
RETRY_FOR = timedelta(hours=72)  # at least 24 h asked; 72 h outlasts a mail server down over a weekend
CLAIM_LEASE_SECONDS = 60


# How a business is called when its channel gave no name (refused, failed, not asked yet).
UNNAMED = {"messenger": "Người dùng Messenger", "comment": "Người dùng Facebook"}
CHANNEL_TITLES = {"messenger": "Messenger"}


def business_vi(session, inquiry: Inquiry, page_name: Optional[str] = None) -> str:
    """Who wrote, by name, where, with the contact details the business gave (if any), for the
    officer to call back. Never raw ids: the name is the one the channel gave (cached on the
    conversation by the worker, bot/conversation/names.py), else "Người dùng Messenger"; the
    page is named by its configured name."""
    conversation = session.get(Conversation, (inquiry.page_id, inquiry.sender_id))
    name = conversation.display_name if conversation is not None and conversation.display_name else None
    name = name or UNNAMED.get(inquiry.channel) or f"Người dùng {inquiry.channel}"
    page = page_name or f"trang {inquiry.page_id}"
    if inquiry.channel == "comment":
        parts = [f"{name} (bình luận trên trang {page})"]
    else:
        parts = [f"{name} ({CHANNEL_TITLES.get(inquiry.channel, inquiry.channel)}, trang {page})"]
    if conversation is not None:
        if conversation.phone:
            parts.append(f"điện thoại {conversation.phone}")
        if conversation.email:
            parts.append(f"email {conversation.email}")
    return ", ".join(parts)


def inquiry_url(base_url: str, code: str) -> str:
    """The inquiry's page in the officers' console. It carries no credential: whoever opens it
    logs in first and then lands on the page (if their unit may see the inquiry)."""
    return f"{base_url.rstrip('/')}/inquiries/{quote(code or '', safe='-')}"


def how_to_answer_vi(inquiry: Inquiry, link: str, role: str = "lead", lead_name: Optional[str] = None) -> str:
    """What the recipient does, in Vietnamese, and where: the inquiry's page in the console,
    where the lead unit drafts an answer that is approved before it is sent (Decision 3887,
    Art. 9.5(a)), a coordinating unit writes its input for the lead unit, and the standing
    office assigns. A comment also gets its own link on Facebook, to read it where it was written."""
    comment = (f"\nBình luận của doanh nghiệp trên Facebook: https://www.facebook.com/{inquiry.comment_id}"
               if inquiry.channel == "comment" and inquiry.comment_id else "")
    if role == "coordinate":
        return (f"gửi ý kiến cho đơn vị chủ trì ({lead_name or 'sau khi được giao'}) trong trang quản lý: {link}; "
                "đơn vị chủ trì tổng hợp và trả lời doanh nghiệp" + comment)
    if role == "triage":
        return f"giao phản ánh cho đơn vị có thẩm quyền (có thể sửa lĩnh vực) trong trang quản lý: {link}" + comment
    return f"soạn trả lời trong trang quản lý (được phê duyệt trước khi gửi): {link}" + comment


def effective_intent(inquiry: Inquiry) -> Optional[str]:
    """The domain as it stands: an officer's correction, else the classifier's prediction."""
    return inquiry.corrected_intent or inquiry.intent


def queue_notification(session, *, kind: str, key: str, inquiry: Inquiry, assignment: Assignment,
                       unit_name: str, recipients: list[str], calendar: WorkingCalendar, policy: DeadlinePolicy,
                       now: datetime, link: str, page_name: Optional[str] = None, lead_name: Optional[str] = None,
                       channel: str = "email", template: str | None = None,
                       fanouts: Sequence[Fanout] = (), note: str | None = None) -> bool:
    """Add a rendered notification unless one with this key exists. Returns True if added.

    `template` picks the headline and wording (default: `kind`), e.g. kind "reminder" with
    template "reminder_half_time"; the assignment's role picks whose duty it speaks of and the
    closing sentence (its number of days is the assignment's, from `policy`). `lead_name` is
    the lead unit's name, shown on a coordination notice; `link` the inquiry's page in the
    console; `note` replaces the sentence under the headline (what only this notice can say,
    e.g. where an inquiry went). A notice about an assignment that no longer runs
    (reassigned, answered) shows no due date or time left; one whose unit no longer sees the
    inquiry (GONE_ASSIGNMENT_STATUSES: moved to another unit, a coordination cancelled) shows
    neither what to do nor the link, which would open the console's 404. A deadline in a year whose days
    off are not declared is marked provisional. An e-mail notice also gets one row per fan-out
    that names recipients (key `<key>:<channel>`), e.g. the unit's officers who linked Messenger.
    """
    if session.query(Notification.id).filter_by(idempotency_key=key).first() is not None:
        return False
    if now < assignment.due_at:
        hours = calendar.working_time_between(now, assignment.due_at).total_seconds() / 3600
        left = time_left_vi(hours)
    else:
        left = overdue_vi(calendar.working_time_between(assignment.due_at, now).total_seconds() / 3600)
    provisional = not calendar.is_declared(assignment.due_at)
    complex_case = (assignment.role == "lead" and policy.complex_days != policy.lead_days
                    and assignment.working_days == policy.days_for("lead", complex_case=True))
    intent = effective_intent(inquiry)
    email = render(
        template or kind, role=assignment.role, code=inquiry.code,
        domain=domain_name(intent, "vi") if intent in DOMAIN_INTENTS else "chưa rõ",
        unit=unit_name, lead=lead_name, received=format_local(inquiry.received_at),
        assigned=format_local(assignment.assigned_at),
        due=format_local(assignment.due_at, provisional=provisional),
        time_left=left, business=business_vi(session, inquiry, page_name),
        text=inquiry.text, how_to_answer=how_to_answer_vi(inquiry, link, assignment.role, lead_name), link=link,
        rule=rule_vi(assignment.role, assignment.working_days, complex_case=complex_case),
        provisional_note=provisional_note_vi(calendar.local_date(assignment.due_at).year) if provisional else None,
        flag=inquiry.moderation_note,  # the prohibited-content filter's finding (cases/screening.py)
        ended=assignment.status not in (None, "open"), gone=assignment.status in GONE_ASSIGNMENT_STATUSES,
        **({"note": note} if note else {}),
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
        self.records = GroupCommit(db)  # the outcomes of calls that finish together: one transaction

    def _target(self, row: Notification):
        """The notifier for the row's channel; None when none is configured for it."""
        target = self.notifier.for_channel(row.channel) if hasattr(self.notifier, "for_channel") else self.notifier
        return target if target is not None and target.channel == row.channel else None

    @staticmethod
    def _key(s, row: Notification) -> Key:
        return Key("notifications", row.channel, unit_of(s, row) or "-")

    def _until(self, row: Notification) -> datetime:
        """Until when the row is retried."""
        return row.created_at + self.retry_for

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

    def claim(self, limit: int) -> list[tuple[int, str]]:
        """Lease due rows to this sender: (id, channel) pairs, for the worker's per-channel bound."""
        with self.db.session() as s:
            ids = claim_due(s, Notification, self.clock(), lease_seconds=CLAIM_LEASE_SECONDS, limit=limit)
            if not ids:
                return []
            channels = dict(s.execute(select(Notification.id, Notification.channel)
                                      .where(Notification.id.in_(ids))).all())
        return [(row_id, channels.get(row_id) or "-") for row_id in ids]

    def hold_back(self, ids: Sequence[int]) -> list[int]:
        """The rest of a batch behind a scope whose probe has just failed (bot/sending.py): each
        row whose unit's circuit is open waits for its next probe, in ONE transaction instead
        of one for each row, never past its retry time. With the mail server down, the 400
        notices of a burst were rewritten one transaction each at every probe, and on SQLite
        each of those queued for the one write lock. Returns the rows left to `deliver`, which
        settles them as it would have: those whose unit's circuit is not open (the lane's scope
        is the channel, the circuits are per unit: another unit's may not have opened yet),
        those past their retry time (failed), those without a notifier."""
        now = self.clock()
        left: list[int] = []
        with self.db.session() as s:
            probes: dict = {}
            for row in s.execute(select(Notification).where(Notification.id.in_(list(ids)),
                                                            Notification.status == "pending")
                                 .order_by(Notification.id)).scalars():
                until = self._until(row)
                if self._target(row) is None or now >= until:
                    left.append(row.id)
                    continue
                key = self._key(s, row)
                if key not in probes:
                    probes[key] = circuits.next_probe(s, key)
                if probes[key] is None or probes[key] <= now:
                    left.append(row.id)
                    continue
                row.next_attempt_at = min(circuits.behind(probes[key], row.attempts), until)
        return left

    def deliver(self, row_id: int) -> Optional[bool]:
        """Send one row: True when it went (or was refused for good), False when it failed or
        waits behind an open circuit, None when nothing was due (as bot.delivery)."""
        now = self.clock()
        with self.db.session() as s:
            row = s.get(Notification, row_id)
            if row is None or row.status != "pending":
                return
            target = self._target(row)
            if target is None:
                row.attempts += 1
                row.status, row.last_error = "failed", f"no notifier for channel {row.channel!r}"
                return
            key, until = self._key(s, row), self._until(row)
            gate = circuits.admit(s, key, now)
            if not gate.go:
                if now >= until:
                    row.status = "failed"
                    row.last_error = f"not delivered within {self._hours} h: {row.last_error or 'channel down'}"
                else:
                    row.next_attempt_at = min(circuits.behind(gate.until, row.attempts), until)
                return False
            job = (list(row.recipients), row.subject, row.body_text, row.body_html)
        error: Optional[DeliveryError] = None
        try:  # no transaction is open here
            target.send(*job)
        except DeliveryError as exc:
            error = exc
        telemetry.notification_attempt(target.channel, error)
        return self.records.run(lambda s: self._record(s, row_id, key, gate, until, error),
                                order=key.order)  # the circuits' rows in one order

    def _record(self, s, row_id: int, key: Key, gate: circuits.Gate, until: datetime,
                error: Optional[DeliveryError]) -> bool:
        """The call's outcome, in `s`: a transaction shared with the outcomes of the calls that
        finished at the same time (store/group_commit.py), run again alone if that one fails."""
        row = s.get(Notification, row_id)
        row.attempts += 1
        later = self.clock()
        if error is None:
            row.status, row.sent_at, row.last_error = "sent", later, None
            circuits.succeeded(s, key, later)
            return True
        row.last_error = str(error)
        log.warning("notification %s attempt %s failed: %s", row.id, row.attempts, error)
        if error.permanent:
            row.status = "failed"
            return True
        change = circuits.failed(s, key, later, "temporary", str(error), probe=gate.probe)
        if later >= until:
            row.status = "failed"
            row.last_error = f"not delivered within {self._hours} h: {error}"
        elif change.state == "open":  # behind the rows tried less: the probe goes round
            row.next_attempt_at = min(circuits.behind(change.probe_at, row.attempts), until)
        else:
            row.next_attempt_at = min(later + retry_delay(row.attempts), until)
        if change.alert:
            self._alert(s, key, change, str(error), later)
        return False

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
