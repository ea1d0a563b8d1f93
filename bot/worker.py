"""The worker: inbox event -> classification -> routing -> deadline -> inquiry + messages.

Crash safety: classification happens outside any transaction; the inquiry, its assignment,
the acknowledgement (outbox) and the unit's e-mail (notifications) are written in ONE
transaction that also marks the event done, and the inquiry is unique per event. A worker
killed at any point therefore leaves either nothing (the event's lease runs out and it is
processed again) or everything (the senders deliver what is pending). Sending is
at-least-once: a crash between Facebook's answer and our commit re-sends that message.
"""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Optional

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot import replies
from bot.config import CONVERSATION_INTENTS, Settings
from bot.sendapi import SendApiClient, SendError
from nlu.classifier import Classification, Classifier
from nlu.normalize import detect_language
from routing.gazetteer import Gazetteer
from routing.rules import RouteRequest, RoutingTable, route
from routing.units import UnitMatcher
from scheduler.calendar import WorkingCalendar
from scheduler.deadlines import DeadlinePolicy, due_at
from scheduler.notify import Notifier
from store import Assignment, Database, Heartbeat, InboxEvent, Inquiry, Outbox
from store.inbox import claim_next
from scheduler.delivery import deliver_notifications, queue_notification
from store.queue import backoff, claim_due

log = logging.getLogger(__name__)
TRACKING_CODE = re.compile(r"\b([A-Z]{1,6})-(\d{4})-(\d{6})\b", re.IGNORECASE)
MAX_CLASSIFY_CHARS = 4000


@dataclass(frozen=True)
class Outcome:
    status: str  # done | ignored | parked
    detail: str


class Worker:
    def __init__(self, *, db: Database, settings: Settings, classifier: Classifier, sender: SendApiClient,
                 notifier: Notifier, calendar: WorkingCalendar, gazetteer: Gazetteer, table: RoutingTable,
                 units: UnitMatcher, policy: DeadlinePolicy, clock: Callable[[], datetime]):
        self.db, self.settings, self.classifier = db, settings, classifier
        self.sender, self.notifier, self.calendar, self.gazetteer = sender, notifier, calendar, gazetteer
        self.table, self.units, self.policy, self.clock = table, units, policy, clock
        # dispatch table: event kind -> handler; kinds not listed are recorded and ignored
        self.handlers: dict[str, Callable[[InboxEvent], Outcome]] = {
            "text": self.handle_text,
            "quick_reply": self.handle_text,
        }

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
            outcome = self.handle(event)
        except Exception as exc:  # the one boundary per unit of work: log, keep the event, retry
            log.exception("event %s (%s) failed on attempt %s", event.id, event.kind, event.attempts)
            with self.db.session() as s:
                row = s.get(InboxEvent, event.id)
                row.error = f"{type(exc).__name__}: {exc}"[:2000]
                row.lease_until = None
                row.status = "failed" if row.attempts >= app.max_event_attempts else "pending"
            return Outcome("error", str(exc))
        return outcome

    def handle(self, event: InboxEvent) -> Outcome:
        if event.page_id is None or self.settings.page(event.page_id) is None:
            return self._finish(event, Outcome("parked", f"page {event.page_id} is not configured"))
        handler = self.handlers.get(event.kind)
        if handler is None:
            return self._finish(event, Outcome("ignored", f"{event.kind}: recorded, no action"))
        return handler(event)

    def _finish(self, event: InboxEvent, outcome: Outcome, session=None) -> Outcome:
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

    # ---- text messages -----------------------------------------------------------------
    def handle_text(self, event: InboxEvent) -> Outcome:
        message = event.payload["event"].get("message") or {}
        text = message.get("text")
        if not isinstance(text, str) or not text.strip():
            return self._finish(event, Outcome("ignored", "empty text"))
        lang = detect_language(text)
        result = self.classifier.classify(text[:MAX_CLASSIFY_CHARS])
        if result.intent in CONVERSATION_INTENTS and not result.needs_review:
            return self._converse(event, result, lang)
        return self._open_inquiry(event, text, result, lang)

    def _reply(self, s, event: InboxEvent, key: str, text: str, inquiry_id: Optional[int] = None) -> None:
        s.add(Outbox(
            idempotency_key=key, page_id=event.page_id, recipient={"id": event.sender_id},
            message={"text": text[:2000]}, messaging_type="RESPONSE", inquiry_id=inquiry_id,
            status="pending", attempts=0, next_attempt_at=self.clock(), created_at=self.clock(),
        ))

    def _converse(self, event: InboxEvent, result: Classification, lang: str) -> Outcome:
        with self.db.session() as s:
            if result.intent == "tra_cuu":
                codes = [e["value"].upper() for e in result.entities if e["entity"] == "tracking_code"]
                query = select(Inquiry).where(Inquiry.sender_id == event.sender_id, Inquiry.page_id == event.page_id)
                query = query.where(Inquiry.code.in_(codes)) if codes else query.where(
                    Inquiry.status.in_(("triage", "assigned")))
                rows = [{"code": i.code, "status": i.status, "unit": self._unit_name(i.unit_code), "due": i.due_at}
                        for i in s.execute(query.order_by(Inquiry.id.desc()).limit(10)).scalars()]
                text = replies.status_lines(lang, rows)
            else:
                text = replies.SMALL_TALK[result.intent][lang]
            self._reply(s, event, f"reply:{event.dedup_key}", text)
            return self._finish(event, Outcome("done", f"conversation: {result.intent}"), s)

    def _unit_name(self, code: Optional[str]) -> str:
        return self.settings.unit(code).name if code else "-"

    def _open_inquiry(self, event: InboxEvent, text: str, result: Classification, lang: str) -> Outcome:
        decision = route(self.route_request(text, result, event.page_id), self.table)
        received = event.received_at
        role = decision.role
        due = due_at(self.calendar, self.policy, role, received)
        now = self.clock()
        try:
            with self.db.session() as s:
                inquiry = Inquiry(
                    source_event_id=event.id, page_id=event.page_id, sender_id=event.sender_id,
                    channel="messenger", language=lang, text=text, intent=result.intent,
                    confidence=result.confidence, entities=result.entities, needs_review=result.needs_review,
                    model_version=result.model_version, unit_code=decision.unit,
                    status="triage" if decision.is_triage else "assigned",
                    routing_trace={"rule": decision.rule, "trace": list(decision.trace)},
                    received_at=received, due_at=due, created_at=now, updated_at=now,
                )
                s.add(inquiry)
                s.flush()
                local_year = self.calendar.local_date(received).year
                inquiry.code = f"{self.settings.config.app.tracking_prefix}-{local_year}-{inquiry.id:06d}"
                assignment = Assignment(inquiry_id=inquiry.id, unit_code=decision.unit, role=role,
                                        working_days=self.policy.days_for(role), assigned_at=received,
                                        due_at=due, status="open", updated_at=now)
                s.add(assignment)
                coordinating = [
                    Assignment(inquiry_id=inquiry.id, unit_code=code, role="coordinate",
                               working_days=self.policy.days_for("coordinate"), assigned_at=received,
                               due_at=due_at(self.calendar, self.policy, "coordinate", received),
                               status="open", updated_at=now)
                    for code in decision.coordinators
                ]
                s.add_all(coordinating)
                s.flush()
                unit = self.settings.unit(decision.unit)
                if decision.is_triage:
                    ack = replies.received_for_triage(lang, code=inquiry.code, office_name=unit.name, assign_by=due)
                else:
                    ack = replies.acknowledgement(lang, code=inquiry.code, intent=result.intent, unit_name=unit.name,
                                                  due=due, days=assignment.working_days)
                self._reply(s, event, f"ack:{event.dedup_key}", ack, inquiry.id)
                self._notify(s, inquiry, assignment, "triage" if decision.is_triage else "assigned")
                for extra in coordinating:
                    self._notify(s, inquiry, extra, "coordinate")
                self._finish(event, Outcome("done", f"inquiry {inquiry.code} -> {decision.unit}"), s)
                code = inquiry.code
        except IntegrityError:
            # Another worker already turned this event into an inquiry (unique source_event_id).
            return self._finish(event, Outcome("done", "inquiry already created for this event"))
        return Outcome("done", f"inquiry {code} -> {decision.unit}")

    def route_request(self, text: str, result: Classification, page_id: Optional[str]) -> RouteRequest:
        """The routing question for a message: classification plus what the text names."""
        zone = self.gazetteer.first_zone(text)
        return RouteRequest(result.intent, result.confidence, result.needs_review, page_id,
                            zone.place.name if zone else None, self.units.find(text))

    def _notify(self, s, inquiry: Inquiry, assignment: Assignment, kind: str) -> None:
        unit = self.settings.unit(assignment.unit_code)
        queue_notification(s, kind=kind, key=f"{kind}:{assignment.id}", inquiry=inquiry, assignment=assignment,
                           unit_name=unit.name, recipients=list(unit.emails), calendar=self.calendar,
                           now=self.clock(), base_url=self.settings.config.app.base_url,
                           channel=self.notifier.channel)

    # ---- delivery ----------------------------------------------------------------------
    def deliver_outbox(self, limit: int = 20) -> int:
        now = self.clock()
        with self.db.session() as s:
            ids = claim_due(s, Outbox, now, lease_seconds=60, limit=limit)
        for row_id in ids:
            with self.db.session() as s:
                row = s.get(Outbox, row_id)
                row.attempts += 1
                try:
                    row.provider_message_id = self.sender.send_message(
                        self.settings.page_tokens.get(row.page_id), row.recipient, row.message,
                        messaging_type=row.messaging_type, tag=row.tag)
                except SendError as exc:
                    row.last_error = str(exc)[:2000]
                    if exc.permanent or row.attempts >= 8:
                        row.status = "failed"
                    else:
                        row.next_attempt_at = self.clock() + backoff(row.attempts)
                    log.warning("outbox %s attempt %s failed: %s", row.id, row.attempts, exc)
                else:
                    row.status, row.sent_at, row.last_error = "sent", self.clock(), None
        return len(ids)

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


def inbox_backlog(db: Database) -> dict[str, int]:
    with db.session() as s:
        rows = s.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status)).all()
    return {status: count for status, count in rows}
