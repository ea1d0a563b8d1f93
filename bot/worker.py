"""The worker: inbox event -> handler (by kind) -> inquiry, thread, replies, notifications.

Crash safety: classification happens outside any transaction; everything an event causes
(inquiry, assignment, thread message, replies in the outbox, officers' e-mails) is written in
ONE transaction that also marks the event done, and an inquiry is unique per event (and per
comment). A worker killed at any point leaves either nothing (the event's lease runs out and
it is processed again) or everything (the senders deliver what is pending). Sending is
at-least-once: a crash between Facebook's answer and our commit re-sends that message.

Handlers live in bot/conversation.py (Messenger) and bot/feed.py (comments, posts); the
dispatch table below is built from theirs. A kind without a handler is recorded and ignored.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional, Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot import policy, replies
from bot.config import Settings
from bot.sendapi import SendApiClient, SendError
from nlu.classifier import Classification, Classifier
from routing.gazetteer import Gazetteer
from routing.rules import RouteRequest, RoutingTable, route
from routing.units import UnitMatcher
from scheduler.calendar import WorkingCalendar
from scheduler.deadlines import DeadlinePolicy, due_at
from scheduler.notifications.delivery import deliver_notifications, queue_notification
from scheduler.notifications.router import Fanout, Notifier
from store import (Assignment, Conversation, Database, Heartbeat, InboxEvent, Inquiry, InquiryMessage,
                   Notification, Outbox, OutboxAttempt)
from store.inbox import claim_next
from store.queue import backoff, claim_due

log = logging.getLogger(__name__)
MAX_CLASSIFY_CHARS = 4000
MAX_SEND_ATTEMPTS = 8
OPEN = ("triage", "assigned")


@dataclass(frozen=True)
class Outcome:
    status: str  # done | ignored | parked
    detail: str


class AlreadyHandled(Exception):
    """Another worker turned this event into an inquiry first (unique constraint)."""


class Worker:
    def __init__(self, *, db: Database, settings: Settings, classifier: Classifier, sender: SendApiClient,
                 notifier: Notifier, calendar: WorkingCalendar, gazetteer: Gazetteer, table: RoutingTable,
                 units: UnitMatcher, policy: DeadlinePolicy, clock: Callable[[], datetime],
                 fanouts: Sequence[Fanout] = ()):
        from bot import conversation, feed

        self.db, self.settings, self.classifier = db, settings, classifier
        self.sender, self.notifier, self.calendar, self.gazetteer = sender, notifier, calendar, gazetteer
        self.table, self.units, self.policy, self.clock = table, units, policy, clock
        self.fanouts = tuple(fanouts)
        self.handlers: dict[str, Callable[[Worker, InboxEvent], Outcome]] = {
            **conversation.HANDLERS, **feed.HANDLERS}

    # ---- inbox -------------------------------------------------------------------------
    def process_next(self) -> Optional[Outcome]:
        """Claim and handle one inbox event; None when the inbox is empty."""
        app = self.settings.config.app
        with self.db.session() as s:
            event = claim_next(s, self.clock(), app.event_lease_seconds)
            if event is None:
                return None
            s.expunge(event)
        try:
            return self.handle(event)
        except AlreadyHandled:
            return self.finish(event, Outcome("done", "already handled by another worker"))
        except Exception as exc:  # the one boundary per unit of work: log, keep the event, retry
            log.exception("event %s (%s) failed on attempt %s", event.id, event.kind, event.attempts)
            with self.db.session() as s:
                row = s.get(InboxEvent, event.id)
                row.error = f"{type(exc).__name__}: {exc}"  # ErrorText scrubs, then cuts
                row.lease_until = None
                row.status = "failed" if row.attempts >= app.max_event_attempts else "pending"
            return Outcome("error", str(exc))

    def handle(self, event: InboxEvent) -> Outcome:
        if event.page_id is None or self.settings.page(event.page_id) is None:
            return self.finish(event, Outcome("parked", f"page {event.page_id} is not configured"))
        handler = self.handlers.get(event.kind)
        if handler is None:
            return self.finish(event, Outcome("ignored", f"{event.kind}: recorded, no action"))
        return handler(self, event)

    def finish(self, event: InboxEvent, outcome: Outcome, session=None) -> Outcome:
        def apply(s):
            row = s.get(InboxEvent, event.id)
            row.status, row.outcome = outcome.status, outcome.detail[:255]
            row.processed_at, row.lease_until, row.error = self.clock(), None, None

        if session is not None:
            apply(session)
        else:
            with self.db.session() as s:
                apply(s)
        return outcome

    # ---- helpers for handlers ----------------------------------------------------------
    def event_time(self, event: InboxEvent) -> datetime:
        """When the business acted: the event's own timestamp when it is sane, else receipt."""
        raw = event.payload.get("event", {})
        ts = raw.get("timestamp") if isinstance(raw, dict) else None
        scale = 1000
        if ts is None and isinstance(raw, dict):
            ts, scale = raw.get("created_time"), 1
        if isinstance(ts, (int, float)) and not isinstance(ts, bool):
            try:
                moment = datetime.fromtimestamp(ts / scale, tz=timezone.utc)
            except (OverflowError, OSError, ValueError):
                return event.received_at
            if abs(moment - event.received_at) <= timedelta(days=7):
                return moment
        return event.received_at

    def classify(self, text: str) -> Classification:
        return self.classifier.classify(text[:MAX_CLASSIFY_CHARS])

    def conversation(self, s, page_id: str, sender_id: str) -> Conversation:
        conv = s.get(Conversation, (page_id, sender_id))
        if conv is None:
            conv = Conversation(page_id=page_id, sender_id=sender_id, updated_at=self.clock())
            s.add(conv)
        return conv

    def open_inquiry(self, s, page_id: str, sender_id: str, channel: str = "messenger") -> Optional[Inquiry]:
        return s.execute(select(Inquiry).where(
            Inquiry.page_id == page_id, Inquiry.sender_id == sender_id, Inquiry.channel == channel,
            Inquiry.status.in_(OPEN)).order_by(Inquiry.id.desc()).limit(1)).scalars().first()

    def last_activity(self, s, inquiry: Inquiry) -> datetime:
        last = s.execute(select(func.max(InquiryMessage.created_at)).where(
            InquiryMessage.inquiry_id == inquiry.id, InquiryMessage.direction == "in")).scalar()
        return max(last, inquiry.received_at) if last else inquiry.received_at

    def add_message(self, s, inquiry: Inquiry, event: Optional[InboxEvent], *, direction: str, source: str,
                    text: Optional[str], attachments: Optional[list] = None, at: Optional[datetime] = None) -> None:
        s.add(InquiryMessage(inquiry_id=inquiry.id, direction=direction, source=source, text=text,
                             attachments=attachments or None, event_id=event.id if event else None,
                             created_at=at or self.clock()))

    def reply(self, s, event: InboxEvent, key: str, message: dict[str, Any], *, inquiry_id: Optional[int] = None,
              recipient: Optional[dict] = None, kind: str = "message", author: str = "bot") -> None:
        s.add(Outbox(
            idempotency_key=key, page_id=event.page_id, recipient=recipient or {"id": event.sender_id},
            message=message, messaging_type="RESPONSE", inquiry_id=inquiry_id, kind=kind, author=author,
            status="pending", attempts=0, next_attempt_at=self.clock(), created_at=self.clock(),
        ))

    def text_reply(self, s, event: InboxEvent, key: str, text: str, **kwargs) -> None:
        self.reply(s, event, key, {"text": text[:2000]}, **kwargs)

    def unit_name(self, code: Optional[str]) -> str:
        return self.settings.unit(code).name if code else "-"

    def route_request(self, text: str, result: Classification, page_id: Optional[str]) -> RouteRequest:
        """The routing question for a message: classification plus what the text names."""
        zone = self.gazetteer.first_zone(text)
        return RouteRequest(result.intent, result.confidence, result.needs_review, page_id,
                            zone.place.name if zone else None, self.units.find(text))

    def create_inquiry(self, s, event: InboxEvent, *, text: str, result: Classification, lang: str,
                       channel: str = "messenger", sender_id: Optional[str] = None, force_review: bool = False,
                       attachments: Optional[list] = None, post_id: Optional[str] = None,
                       comment_id: Optional[str] = None) -> tuple[Inquiry, Assignment, Any]:
        """Inquiry + lead (or triage) assignment + coordinators + officers' e-mails, in session `s`."""
        if force_review:
            result = Classification(text=result.text, intent=result.intent, confidence=result.confidence,
                                    entities=result.entities, ranking=result.ranking, needs_review=True,
                                    model_version=result.model_version, normalized=result.normalized)
        decision = route(self.route_request(text, result, event.page_id), self.table)
        received, role, now = event.received_at, decision.role, self.clock()
        due = due_at(self.calendar, self.policy, role, received)
        inquiry = Inquiry(
            source_event_id=event.id, page_id=event.page_id, sender_id=sender_id or event.sender_id,
            channel=channel, language=lang, text=text, intent=result.intent, confidence=result.confidence,
            entities=result.entities, needs_review=result.needs_review, model_version=result.model_version,
            unit_code=decision.unit, status="triage" if decision.is_triage else "assigned",
            routing_trace={"rule": decision.rule, "trace": list(decision.trace)}, received_at=received,
            due_at=due, created_at=now, updated_at=now, attachments=attachments or None, post_id=post_id,
            comment_id=comment_id,
        )
        s.add(inquiry)
        try:
            s.flush()
        except IntegrityError as exc:
            raise AlreadyHandled() from exc
        inquiry.code = f"{self.settings.config.app.tracking_prefix}-{self.calendar.local_date(received).year}-{inquiry.id:06d}"
        lead = Assignment(inquiry_id=inquiry.id, unit_code=decision.unit, role=role,
                          working_days=self.policy.days_for(role), assigned_at=received, due_at=due,
                          status="open", updated_at=now)
        coordinating = [Assignment(inquiry_id=inquiry.id, unit_code=code, role="coordinate",
                                   working_days=self.policy.days_for("coordinate"), assigned_at=received,
                                   due_at=due_at(self.calendar, self.policy, "coordinate", received),
                                   status="open", updated_at=now) for code in decision.coordinators]
        s.add_all([lead, *coordinating])
        s.flush()
        self.add_message(s, inquiry, event, direction="in", source=channel, text=text, attachments=attachments,
                         at=self.event_time(event))
        self.notify(s, inquiry, lead, "triage" if decision.is_triage else "assigned")
        for extra in coordinating:
            self.notify(s, inquiry, extra, "coordinate")
        return inquiry, lead, decision

    def acknowledgement(self, inquiry: Inquiry, lead: Assignment, decision) -> str:
        unit = self.settings.unit(decision.unit)
        if decision.is_triage:
            return replies.received_for_triage(inquiry.language, code=inquiry.code, office_name=unit.name,
                                               assign_by=lead.due_at)
        return replies.acknowledgement(inquiry.language, code=inquiry.code, intent=inquiry.intent or "",
                                       unit_name=unit.name, due=lead.due_at, days=lead.working_days)

    def notify(self, s, inquiry: Inquiry, assignment: Assignment, kind: str) -> None:
        unit = self.settings.unit(assignment.unit_code)
        queue_notification(s, kind=kind, key=f"{kind}:{assignment.id}", inquiry=inquiry, assignment=assignment,
                           unit_name=unit.name, recipients=list(unit.emails), calendar=self.calendar,
                           now=self.clock(), channel=self.notifier.channel, fanouts=self.fanouts)

    def mark_answered(self, s, inquiry: Inquiry, *, by: str, text: Optional[str], at: datetime) -> None:
        """A person answered the business: the inquiry and all its open duties stop the clock."""
        inquiry.status, inquiry.answered_at, inquiry.answered_by = "answered", at, by
        inquiry.answer_text, inquiry.updated_at = text, self.clock()
        for a in s.execute(select(Assignment).where(Assignment.inquiry_id == inquiry.id,
                                                    Assignment.status == "open")).scalars():
            a.status, a.answered_at, a.updated_at = "answered", at, self.clock()

    # ---- delivery ----------------------------------------------------------------------
    def deliver_outbox(self, limit: int = 20) -> int:
        now = self.clock()
        with self.db.session() as s:
            ids = claim_due(s, Outbox, now, lease_seconds=60, limit=limit)
        for row_id in ids:
            self._deliver(row_id)
        return len(ids)

    def _deliver(self, row_id: int) -> None:
        """Send one claimed outbox row, with no transaction open during the HTTP call.

        A write pending across the call would hold SQLite's write lock (and PostgreSQL row
        locks) for as long as the Send API takes, and every webhook INSERT would wait behind
        it. So: one short transaction reads the row and decides the messaging policy (a held
        or undeliverable message is recorded right there, with no call); the call is made
        outside any transaction; a second short transaction records the attempt and its
        outcome. A crash during the call records nothing: the claim's lease runs out and the
        message is sent again (at-least-once, as before).
        """
        now = self.clock()
        verdict = None
        with self.db.session() as s:
            row = s.get(Outbox, row_id)
            if row is None or row.status != "pending":
                return
            if row.kind != "comment_reply":
                to_comment = "comment_id" in row.recipient
                conv = None if to_comment else s.get(Conversation, (row.page_id, row.recipient.get("id")))
                if conv is not None and conv.thread_owner_app_id and row.author == "bot":
                    self._attempt(s, row, now, "held", "held", f"thread owned by app {conv.thread_owner_app_id}")
                    return
                page = self.settings.page(row.page_id)
                verdict = policy.decide(now=now, last_user_message_at=conv.last_user_message_at if conv else None,
                                        author=row.author, human_agent_page=bool(page and page.human_agent),
                                        to_comment=to_comment)
                if not verdict.allowed:
                    self._attempt(s, row, now, "undeliverable", "failed", verdict.reason)
                    self._tell_unit_undeliverable(s, row, conv, verdict.reason)
                    return
            kind, recipient, message = row.kind, row.recipient, row.message
            token = self.settings.page_tokens.get(row.page_id)
        failure: Optional[SendError] = None
        provider_id = None
        try:  # no transaction is open here
            if kind == "comment_reply":
                provider_id = self.sender.reply_to_comment(token, recipient["comment_id"], message["message"])
            else:
                provider_id = self.sender.send_message(token, recipient, message,
                                                       messaging_type=verdict.messaging_type, tag=verdict.tag)
        except SendError as exc:
            failure = exc
        with self.db.session() as s:
            row = s.get(Outbox, row_id)
            if verdict is not None:
                row.messaging_type, row.tag = verdict.messaging_type, verdict.tag
            if failure is None:
                self._attempt(s, row, now, "sent", "sent", None)
                row.provider_message_id, row.sent_at = provider_id, self.clock()
                return
            attempt = self._attempt(s, row, now, row.status, "retry", str(failure))
            attempt.http_status, attempt.error_code = failure.status, failure.code
            if failure.permanent or row.attempts >= MAX_SEND_ATTEMPTS:
                row.status, attempt.outcome = "failed", "failed"
            else:
                row.next_attempt_at = self.clock() + backoff(row.attempts)
            log.warning("outbox %s attempt %s: %s", row.id, row.attempts, failure)

    @staticmethod
    def _attempt(s, row: Outbox, at: datetime, status: str, outcome: str, error: Optional[str]) -> OutboxAttempt:
        """Count an attempt on `row`, give it `status` and `error`, and store the attempt."""
        row.attempts += 1
        row.status, row.last_error = status, error
        attempt = OutboxAttempt(outbox_id=row.id, attempt=row.attempts, at=at, outcome=outcome, error=error)
        s.add(attempt)
        return attempt

    def _tell_unit_undeliverable(self, s, row: Outbox, conv: Optional[Conversation], reason: str) -> None:
        """Messenger can no longer reach the business: the unit must use the phone or e-mail."""
        if row.inquiry_id is None:
            return
        inquiry = s.get(Inquiry, row.inquiry_id)
        unit = self.settings.unit(inquiry.unit_code)
        contact = ", ".join(x for x in (conv.phone if conv else None, conv.email if conv else None) if x) \
            or "doanh nghiệp chưa để lại số điện thoại hoặc email"
        text = (f"Tin nhắn gửi doanh nghiệp về phản ánh {inquiry.code} không thể gửi qua Messenger "
                f"({reason}).\nĐề nghị đơn vị liên hệ trực tiếp: {contact}.\n\nNội dung cần gửi:\n"
                f"{row.message.get('text', '')}\n\nNội dung phản ánh:\n{inquiry.text}")
        s.add(Notification(
            idempotency_key=f"undeliverable:{row.id}", inquiry_id=inquiry.id, kind="undeliverable",
            channel=self.notifier.channel, recipients=list(unit.emails),
            subject=f"[DDCI Quảng Ninh] Không gửi được trả lời phản ánh {inquiry.code} qua Messenger",
            body_text=text, status="pending", attempts=0, next_attempt_at=self.clock(), created_at=self.clock()))

    def deliver_notifications(self, limit: int = 20) -> int:
        return deliver_notifications(self.db, self.notifier, self.clock, limit)

    # ---- loop --------------------------------------------------------------------------
    def heartbeat(self) -> None:
        with self.db.session() as s:
            version = getattr(self.classifier, "version", None)
            s.merge(Heartbeat(name="worker", beat_at=self.clock(), info={"model_version": version}))

    def run_once(self) -> int:
        """One pass: drain the inbox, then deliver what is due. Returns the work done."""
        done = 0
        while self.process_next() is not None:
            done += 1
        done += self.deliver_outbox()
        done += self.deliver_notifications()
        return done

    def run_forever(self, stop: threading.Event, poll_seconds: float) -> None:
        refresh = getattr(self.classifier, "refresh", None)
        while not stop.is_set():
            if refresh:
                refresh()  # picks up a newly activated model without a restart
            self.heartbeat()
            if self.run_once() == 0:
                stop.wait(poll_seconds)
