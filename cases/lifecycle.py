"""The one inquiry lifecycle: intake, assign / reassign, coordinate, complex, answer.

The worker (through the conversation), the CLI and the consoles all call `Casework`; nothing
else creates assignments, deadline changes or outbox rows. It is Flask-free and takes plain
values; every operation runs in the caller's session (`s`) so that what it writes commits
with what caused it (the worker marks its inbox event done in the same transaction), or, for
the commands of people (CLI, console), in a transaction of its own (`session=None`).

Decision 3887/QĐ-UBND, Art. 9.3 and 9.5(đ), as applied here:
- intake: a message is routed (routing.rules) and its lead unit has `lead_days` (3) working
  days from receipt, each coordinating unit `coordination_days` (2); an inquiry the
  classifier is unsure of goes to the standing office with `triage_days` (1) to assign it;
- assign / reassign: the lead unit's 3 working days count from when IT receives the inquiry
  ("kể từ khi nhận được", after the standing office assigns it): a reassignment starts a new
  period at the moment of reassignment (the day itself not counted); the previous unit's
  assignment is closed as "reassigned". The business is told the new unit and date;
- complex: the deadline becomes `complex_days` (5) working days from the lead unit's
  assignment (never more);
- coordinate: each unit asked for input gets 2 working days from the request;
- answer: closes the assignment (and the inquiry when the lead unit answers); reminders stop.
Every deadline change is stored with who and why (DeadlineChange). Deadlines always come
from scheduler.deadlines.due_at, so the policy's numbers are written nowhere else.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cases import queries, replies
from cases.outbox import Address, Reply, queue_reply
from nlu.classifier import Classification
from routing.gazetteer import Gazetteer
from routing.rules import RouteRequest, RoutingDecision, RoutingTable, route
from routing.units import Directory, UnitMatcher
from scheduler.calendar import WorkingCalendar
from scheduler.deadlines import DeadlinePolicy, due_at
from scheduler.notifications.delivery import queue_notification
from scheduler.notifications.render import format_local
from store import Assignment, Database, DeadlineChange, Inquiry, InquiryMessage, Notification, Outbox


class CaseError(Exception):
    """The operation does not apply (unknown code or unit, closed inquiry, ...)."""


class AlreadyOpened(Exception):
    """Another worker turned this event into an inquiry first (its unique constraint)."""


@dataclass(frozen=True)
class Intake:
    """A message that opens an inquiry, in plain values (the conversation builds it from its
    channel's InboundMessage). `reply_to` is the channel's own address of the business."""

    event_id: int
    channel: str  # where the business wrote ("messenger", "comment", ...)
    reply_channel: str  # the channel plug-in that answers
    page_id: str
    sender_id: str
    text: str
    language: str
    received_at: datetime  # when we stored it: deadlines count from here
    sent_at: datetime  # when the business wrote: the thread's order
    reply_to: Mapping[str, Any] = field(default_factory=dict)
    public: bool = False  # written in public (a comment)
    attachments: tuple = ()
    post_id: Optional[str] = None
    comment_id: Optional[str] = None


@dataclass(frozen=True)
class Opened:
    inquiry_id: int
    code: str
    unit: str
    role: str  # lead | triage
    due_at: datetime
    coordinators: tuple[str, ...]
    acknowledgement: str  # what the business was told


class Casework:
    def __init__(self, *, db: Database, directory: Directory, table: RoutingTable, gazetteer: Gazetteer,
                 matcher: UnitMatcher, calendar: WorkingCalendar, policy: DeadlinePolicy,
                 clock: Callable[[], datetime], tracking_prefix: str = "QN", fanouts: Sequence = ()):
        self.db, self.directory, self.table = db, directory, table
        self.gazetteer, self.matcher, self.calendar, self.policy = gazetteer, matcher, calendar, policy
        self.clock, self.prefix, self.fanouts = clock, tracking_prefix, tuple(fanouts)

    @contextmanager
    def _work(self, session) -> Iterator:
        if session is not None:
            yield session
        else:
            with self.db.session() as own:
                yield own

    # ---- routing -----------------------------------------------------------------------
    def route(self, text: str, result: Classification, page_id: Optional[str]) -> RoutingDecision:
        """The routing decision for a message: its classification plus what the text names."""
        zone = self.gazetteer.first_zone(text)
        request = RouteRequest(result.intent, result.confidence, result.needs_review, page_id,
                               zone.place.name if zone else None, self.matcher.find(text))
        return route(request, self.table)

    def due(self, role: str, start: datetime, *, complex_case: bool = False) -> datetime:
        return due_at(self.calendar, self.policy, role, start, complex_case=complex_case)

    # ---- intake ------------------------------------------------------------------------
    def open_inquiry(self, s, intake: Intake, result: Classification, *, force_review: bool = False) -> Opened:
        """Inquiry + lead (or triage) assignment + coordinators + officers' notices + the
        acknowledgement to the business, all in session `s`."""
        if force_review:
            result = replace(result, needs_review=True)
        decision = self.route(intake.text, result, intake.page_id)
        received, now = intake.received_at, self.clock()
        inquiry = Inquiry(
            source_event_id=intake.event_id, page_id=intake.page_id, sender_id=intake.sender_id,
            channel=intake.channel, reply_channel=intake.reply_channel, reply_to=dict(intake.reply_to),
            language=intake.language, text=intake.text, intent=result.intent, confidence=result.confidence,
            entities=result.entities, needs_review=result.needs_review, model_version=result.model_version,
            unit_code=decision.unit, status="triage" if decision.is_triage else "assigned",
            routing_trace={"rule": decision.rule, "trace": list(decision.trace)}, received_at=received,
            due_at=self.due(decision.role, received), created_at=now, updated_at=now,
            attachments=list(intake.attachments) or None, post_id=intake.post_id, comment_id=intake.comment_id,
        )
        s.add(inquiry)
        try:
            s.flush()
        except IntegrityError as exc:
            raise AlreadyOpened() from exc
        inquiry.code = f"{self.prefix}-{self.calendar.local_date(received).year}-{inquiry.id:06d}"
        lead = self._assignment(s, inquiry, decision.unit, decision.role, received)
        coordinating = [self._assignment(s, inquiry, code, "coordinate", received) for code in decision.coordinators]
        self.add_message(s, inquiry, direction="in", source=intake.channel, text=intake.text,
                         attachments=intake.attachments, at=intake.sent_at, event_id=intake.event_id)
        self._notify(s, inquiry, lead, "triage" if decision.is_triage else "assigned")
        for extra in coordinating:
            self._notify(s, inquiry, extra, "coordinate")
        text = self._acknowledgement(inquiry, lead)
        self.reply(s, inquiry.id, f"ack:{intake.event_id}", Reply(text, lang=intake.language, received=received),
                   address=self.address(inquiry))
        return Opened(inquiry.id, inquiry.code, decision.unit, decision.role, lead.due_at,
                      tuple(decision.coordinators), text)

    def add_message(self, s, inquiry: Inquiry, *, direction: str, source: str, text: Optional[str],
                    attachments: Sequence = (), at: Optional[datetime] = None,
                    event_id: Optional[int] = None) -> None:
        """Something said on the inquiry's thread, either way."""
        s.add(InquiryMessage(inquiry_id=inquiry.id, direction=direction, source=source, text=text,
                             attachments=list(attachments) or None, event_id=event_id,
                             created_at=at or self.clock()))

    def address(self, inquiry: Inquiry, *, public: bool = False) -> Address:
        """Where the business is answered: the channel and address its message came with."""
        return Address(inquiry.reply_channel, inquiry.page_id, inquiry.reply_to or {}, public)

    @staticmethod
    def opened_in_public(inquiry: Inquiry) -> bool:
        """Written under a post for all to see (a comment): the channel allowed one private
        reply (the acknowledgement); later words go under the comment, in public."""
        return inquiry.comment_id is not None

    def reply(self, s, inquiry_id: Optional[int], key: str, reply: Reply, *, address: Address,
              author: str = "bot") -> Outbox:
        """Queue a message to a business (the only way one is sent). A reply about an inquiry
        is in the inquiry's language and answers its message, unless the caller said otherwise."""
        if (reply.lang is None or reply.received is None) and inquiry_id is not None:
            inquiry = s.get(Inquiry, inquiry_id)
            if inquiry is not None:
                reply = replace(reply, lang=reply.lang or inquiry.language,
                                received=reply.received or inquiry.received_at)
        return queue_reply(s, key=key, address=address, reply=reply, now=self.clock(), inquiry_id=inquiry_id,
                           author=author)

    def _acknowledgement(self, inquiry: Inquiry, lead: Assignment) -> str:
        lang = inquiry.language
        if lead.role == "triage":
            return replies.received_for_triage(lang, code=inquiry.code, office_name=self.directory.name(
                lead.unit_code, lang), assign_by=lead.due_at, lead_days=self.policy.days_for("lead"))
        return replies.acknowledgement(lang, code=inquiry.code, intent=inquiry.intent or "",
                                       unit_name=self.directory.name(lead.unit_code, lang), due=lead.due_at,
                                       days=lead.working_days)

    # ---- what people do ----------------------------------------------------------------
    def find(self, s, code: str) -> Inquiry:
        inquiry = queries.by_code(s, code)
        if inquiry is None:
            raise CaseError(f"no inquiry with code {code}")
        return inquiry

    def _unit(self, code: str):
        unit = self.directory.get(code)
        if unit is None:
            raise CaseError(f"unknown unit {code}")
        return unit

    def assign(self, code: str, unit_code: str, *, by: str, reason: str, session=None) -> Assignment:
        """Give the inquiry to `unit_code` as lead unit (from triage, or a reassignment)."""
        unit = self._unit(unit_code)
        now = self.clock()
        with self._work(session) as s:
            inquiry = self.find(s, code)
            if inquiry.status in ("answered", "closed"):
                raise CaseError(f"{inquiry.code} is already {inquiry.status}")
            current = queries.lead(s, inquiry)
            if current is not None and current.role == "lead" and current.unit_code == unit.code:
                raise CaseError(f"{inquiry.code} is already with {unit.code}")
            old_due = current.due_at if current else None
            if current is not None:
                current.status, current.updated_at = "reassigned", now
            new = self._assignment(s, inquiry, unit.code, "lead", now)
            self._audit(s, new, old_due, by, reason)
            inquiry.unit_code, inquiry.status, inquiry.due_at, inquiry.updated_at = unit.code, "assigned", new.due_at, now
            trace = dict(inquiry.routing_trace or {})
            trace["trace"] = list(trace.get("trace", [])) + [f"assigned to {unit.code} by {by}: {reason}"]
            inquiry.routing_trace = trace
            self._notify(s, inquiry, new, "assigned")
            if not self.opened_in_public(inquiry):  # the new unit and date are not for everyone's eyes
                self.reply(s, inquiry.id, f"assigned:{new.id}", Reply(replies.acknowledgement(
                    inquiry.language, code=inquiry.code, intent=inquiry.intent or "",
                    unit_name=unit.display(inquiry.language), due=new.due_at, days=new.working_days)),
                    address=self.address(inquiry))
            return new

    def mark_complex(self, code: str, *, by: str, reason: str, session=None) -> Assignment:
        """A complex case: the lead unit has `complex_days` working days from its assignment."""
        now = self.clock()
        with self._work(session) as s:
            inquiry = self.find(s, code)
            lead = queries.lead(s, inquiry)
            if lead is None or lead.role != "lead":
                raise CaseError(f"{inquiry.code} has no open lead assignment (assign it first)")
            days = self.policy.days_for("lead", complex_case=True)
            if lead.working_days >= days:
                raise CaseError(f"{inquiry.code} already has {lead.working_days} working days")
            old = lead.due_at
            lead.working_days, lead.updated_at = days, now
            lead.due_at = self.due("lead", lead.assigned_at, complex_case=True)
            inquiry.due_at, inquiry.updated_at = lead.due_at, now
            self._audit(s, lead, old, by, reason)
            return lead

    def request_coordination(self, code: str, unit_codes: Sequence[str], *, by: str, reason: str,
                             session=None) -> list[Assignment]:
        """Ask units for their input: `coordination_days` working days from this request."""
        units = [self._unit(c) for c in unit_codes]
        now = self.clock()
        with self._work(session) as s:
            inquiry = self.find(s, code)
            if inquiry.status in ("answered", "closed"):
                raise CaseError(f"{inquiry.code} is already {inquiry.status}")
            created = []
            for unit in units:
                a = self._assignment(s, inquiry, unit.code, "coordinate", now)
                self._audit(s, a, None, by, reason)
                self._notify(s, inquiry, a, "coordinate")
                created.append(a)
            return created

    def answer(self, code: str, *, by: str, unit_code: Optional[str] = None, text: Optional[str] = None,
               session=None) -> Assignment:
        """Record that a unit answered (its lead or coordination duty); reminders stop.

        With `text`, the lead unit's answer is also sent to the business as a person's
        message (within the channel's window for a person's answer; otherwise the unit is
        told to use the business's phone or e-mail)."""
        now = self.clock()
        with self._work(session) as s:
            inquiry = self.find(s, code)
            query = select(Assignment).where(Assignment.inquiry_id == inquiry.id, Assignment.status == "open")
            query = query.where(Assignment.unit_code == unit_code) if unit_code else \
                query.where(Assignment.role == "lead")
            assignment = s.execute(query.order_by(Assignment.id)).scalars().first()
            if assignment is None:
                raise CaseError(f"{inquiry.code} has no open assignment for {unit_code or 'its lead unit'}")
            assignment.status, assignment.answered_at, assignment.updated_at = "answered", now, now
            if assignment.role == "lead":
                inquiry.status, inquiry.answered_at, inquiry.updated_at = "answered", now, now
                inquiry.answered_by, inquiry.answer_text = by, text
                if text:
                    unit = self._unit(assignment.unit_code)
                    self.reply(s, inquiry.id, f"answer:{assignment.id}", Reply(replies.answer(
                        inquiry.language, code=inquiry.code, unit_name=unit.display(inquiry.language), text=text)),
                        address=self.address(inquiry, public=self.opened_in_public(inquiry)), author="human")
                    self.add_message(s, inquiry, direction="out", source="officer", text=text, at=now)
            return assignment

    def record_answer(self, s, inquiry: Inquiry, *, by: str, text: Optional[str], at: datetime, source: str,
                      attachments: Sequence = (), event_id: Optional[int] = None) -> None:
        """A person answered the business outside the bot (the page's inbox, under the
        comment): the thread keeps it, the inquiry and all its open duties stop the clock."""
        self.add_message(s, inquiry, direction="out", source=source, text=text, attachments=attachments,
                         at=at, event_id=event_id)
        now = self.clock()
        inquiry.status, inquiry.answered_at, inquiry.answered_by = "answered", at, by
        inquiry.answer_text, inquiry.updated_at = text, now
        for a in queries.open_assignments(s, inquiry):
            a.status, a.answered_at, a.updated_at = "answered", at, now

    def edit_text(self, s, inquiry: Inquiry, text: str, *, at: datetime, source: str,
                  event_id: Optional[int] = None) -> None:
        """The business changed what it wrote: the thread keeps both, the inquiry reads the new text."""
        self.add_message(s, inquiry, direction="in", source=source, text=text, at=at, event_id=event_id)
        inquiry.text, inquiry.updated_at = text, self.clock()

    def withdraw(self, s, inquiry: Inquiry, *, how: str, at: datetime, event_id: Optional[int] = None) -> None:
        """What the business wrote in public was hidden or removed (recorded, nothing stops)."""
        inquiry.removed_at = inquiry.removed_at or at
        inquiry.updated_at = self.clock()
        words = {"hidden": "ẩn", "removed": "xóa"}
        self.add_message(s, inquiry, direction="in", source=inquiry.channel,
                         text=f"(bình luận đã bị {words.get(how, how)})", at=at, event_id=event_id)

    def undeliverable(self, s, row: Outbox, reason: str, contact: Sequence[str], channel_title: str) -> None:
        """The channel can no longer reach the business: the unit must use the phone or e-mail."""
        if row.inquiry_id is None:
            return
        inquiry = s.get(Inquiry, row.inquiry_id)
        unit = self.directory.get(inquiry.unit_code)
        contact_text = ", ".join(c for c in contact if c) or "doanh nghiệp chưa để lại số điện thoại hoặc email"
        text = (f"Tin nhắn gửi doanh nghiệp về phản ánh {inquiry.code} không thể gửi qua {channel_title} "
                f"({reason}).\nĐề nghị đơn vị liên hệ trực tiếp: {contact_text}.\n\nNội dung cần gửi:\n"
                f"{Reply.from_json(row.message).text}\n\nNội dung phản ánh:\n{inquiry.text}")
        s.add(Notification(
            idempotency_key=f"undeliverable:{row.id}", inquiry_id=inquiry.id, kind="undeliverable",
            channel="email", recipients=list(unit.emails) if unit else [],
            subject=f"[DDCI Quảng Ninh] Không gửi được trả lời phản ánh {inquiry.code} qua {channel_title}",
            body_text=text, status="pending", attempts=0, next_attempt_at=self.clock(), created_at=self.clock()))

    def not_delivered(self, s, row: Outbox, *, contact: Sequence[str], channel_title: str,
                      until: Optional[datetime] = None, error: Optional[str] = None) -> None:
        """A message the channel refused for good (`error`, e.g. the person blocked the page),
        or one retried until its window closed at `until` without getting through (the
        provider was down): the unit must use the phone or e-mail, told in Vietnamese."""
        if until is not None:
            reason = (f"đã gửi lại nhiều lần cho đến khi hết thời hạn {channel_title} cho phép "
                      f"({format_local(until)}) mà không thành công; lỗi lần cuối: {error or 'không rõ'}")
        else:
            reason = f"{channel_title} từ chối tin nhắn: {error or 'không rõ lý do'}"
        self.undeliverable(s, row, reason, contact, channel_title)

    # ---- the rows only this class writes -------------------------------------------------
    def _assignment(self, s, inquiry: Inquiry, unit_code: str, role: str, start: datetime) -> Assignment:
        a = Assignment(inquiry_id=inquiry.id, unit_code=unit_code, role=role,
                       working_days=self.policy.days_for(role), assigned_at=start, due_at=self.due(role, start),
                       status="open", updated_at=self.clock())
        s.add(a)
        s.flush()
        return a

    def _audit(self, s, assignment: Assignment, old: Optional[datetime], by: str, reason: str) -> None:
        s.add(DeadlineChange(assignment_id=assignment.id, old_due_at=old, new_due_at=assignment.due_at,
                             changed_by=by, reason=reason, changed_at=self.clock()))

    def _notify(self, s, inquiry: Inquiry, assignment: Assignment, kind: str) -> None:
        unit = self.directory[assignment.unit_code]
        queue_notification(s, kind=kind, key=f"{kind}:{assignment.id}", inquiry=inquiry, assignment=assignment,
                           unit_name=unit.name, recipients=list(unit.emails), calendar=self.calendar,
                           now=self.clock(), fanouts=self.fanouts)
