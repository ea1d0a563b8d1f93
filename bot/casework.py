"""What the standing office and units do to an inquiry, with deadlines and an audit trail.

Decision 3887/QĐ-UBND, Art. 9.3 and 9.5(đ), as applied here:
- assign / reassign: the lead unit's 3 working days count from when IT receives the inquiry
  ("kể từ khi nhận được", after the standing office assigns it): a reassignment starts a new
  3-day period at the moment of reassignment (the day itself not counted); the previous
  unit's assignment is closed as "reassigned". The business is told the new unit and date.
- complex: the lead unit or the standing office marks the case complex; the deadline becomes
  5 working days from the lead unit's assignment (never more).
- coordinate: each unit asked for input gets 2 working days from the request.
- answer: closes the assignment (and the inquiry when the lead unit answers); reminders stop.
Every deadline change is stored with who and why (DeadlineChange).
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable, Optional, Sequence

from sqlalchemy import select

from bot import replies
from bot.config import Settings
from scheduler.calendar import WorkingCalendar
from scheduler.deadlines import DeadlinePolicy
from scheduler.notifications.delivery import queue_notification
from scheduler.notifications.router import Fanout
from store import Assignment, Database, DeadlineChange, Inquiry, InquiryMessage, Outbox


class CaseworkError(Exception):
    """The operation does not apply (unknown code or unit, closed inquiry, ...)."""


class Casework:
    def __init__(self, *, db: Database, settings: Settings, calendar: WorkingCalendar, policy: DeadlinePolicy,
                 clock: Callable[[], datetime], fanouts: Sequence[Fanout] = ()):
        self.db, self.settings, self.calendar, self.policy, self.clock = db, settings, calendar, policy, clock
        self.fanouts = tuple(fanouts)

    # ---- helpers -----------------------------------------------------------------------
    def _inquiry(self, s, code: str) -> Inquiry:
        inquiry = s.execute(select(Inquiry).where(Inquiry.code == code.upper())).scalar_one_or_none()
        if inquiry is None:
            raise CaseworkError(f"no inquiry with code {code}")
        return inquiry

    def _unit(self, code: str):
        try:
            return self.settings.unit(code)
        except KeyError:
            raise CaseworkError(f"unknown unit {code}") from None

    def _lead(self, s, inquiry: Inquiry) -> Optional[Assignment]:
        return s.execute(select(Assignment).where(
            Assignment.inquiry_id == inquiry.id, Assignment.role.in_(("lead", "triage")),
            Assignment.status == "open")).scalars().first()

    def _audit(self, s, assignment: Assignment, old: Optional[datetime], by: str, reason: str) -> None:
        s.add(DeadlineChange(assignment_id=assignment.id, old_due_at=old, new_due_at=assignment.due_at,
                             changed_by=by, reason=reason, changed_at=self.clock()))

    def _notify(self, s, inquiry: Inquiry, assignment: Assignment, kind: str) -> None:
        unit = self._unit(assignment.unit_code)
        queue_notification(s, kind=kind, key=f"{kind}:{assignment.id}", inquiry=inquiry, assignment=assignment,
                           unit_name=unit.name, recipients=list(unit.emails), calendar=self.calendar,
                           now=self.clock(), fanouts=self.fanouts)

    def _tell_business(self, s, inquiry: Inquiry, key: str, text: str) -> None:
        if inquiry.channel != "messenger":
            return
        s.add(Outbox(idempotency_key=key, page_id=inquiry.page_id, recipient={"id": inquiry.sender_id},
                     message={"text": text[:2000]}, messaging_type="RESPONSE", inquiry_id=inquiry.id,
                     status="pending", attempts=0, next_attempt_at=self.clock(), created_at=self.clock()))

    # ---- operations --------------------------------------------------------------------
    def assign(self, code: str, unit_code: str, *, by: str, reason: str) -> Assignment:
        """Give the inquiry to `unit_code` as lead unit (from triage, or a reassignment)."""
        unit = self._unit(unit_code)
        now = self.clock()
        with self.db.session() as s:
            inquiry = self._inquiry(s, code)
            if inquiry.status in ("answered", "closed"):
                raise CaseworkError(f"{inquiry.code} is already {inquiry.status}")
            current = self._lead(s, inquiry)
            if current is not None and current.role == "lead" and current.unit_code == unit.code:
                raise CaseworkError(f"{inquiry.code} is already with {unit.code}")
            old_due = current.due_at if current else None
            if current is not None:
                current.status, current.updated_at = "reassigned", now
            days = self.policy.days_for("lead")
            new = Assignment(inquiry_id=inquiry.id, unit_code=unit.code, role="lead", working_days=days,
                             assigned_at=now, due_at=self.calendar.due(now, days), status="open", updated_at=now)
            s.add(new)
            s.flush()
            self._audit(s, new, old_due, by, reason)
            inquiry.unit_code, inquiry.status, inquiry.due_at, inquiry.updated_at = unit.code, "assigned", new.due_at, now
            trace = dict(inquiry.routing_trace or {})
            trace["trace"] = list(trace.get("trace", [])) + [f"assigned to {unit.code} by {by}: {reason}"]
            inquiry.routing_trace = trace
            self._notify(s, inquiry, new, "assigned")
            self._tell_business(s, inquiry, f"assigned:{new.id}", replies.acknowledgement(
                inquiry.language, code=inquiry.code, intent=inquiry.intent or "", unit_name=unit.name,
                due=new.due_at, days=days))
            return new

    def mark_complex(self, code: str, *, by: str, reason: str) -> Assignment:
        """A complex case: the lead unit has 5 working days from its assignment, at most."""
        now = self.clock()
        with self.db.session() as s:
            inquiry = self._inquiry(s, code)
            lead = self._lead(s, inquiry)
            if lead is None or lead.role != "lead":
                raise CaseworkError(f"{inquiry.code} has no open lead assignment (assign it first)")
            days = self.policy.days_for("lead", complex_case=True)
            if lead.working_days >= days:
                raise CaseworkError(f"{inquiry.code} already has {lead.working_days} working days")
            old = lead.due_at
            lead.working_days, lead.due_at, lead.updated_at = days, self.calendar.due(lead.assigned_at, days), now
            inquiry.due_at, inquiry.updated_at = lead.due_at, now
            self._audit(s, lead, old, by, reason)
            return lead

    def request_coordination(self, code: str, unit_codes: Sequence[str], *, by: str, reason: str) -> list[Assignment]:
        """Ask units for their input: 2 working days from this request."""
        units = [self._unit(c) for c in unit_codes]
        now = self.clock()
        with self.db.session() as s:
            inquiry = self._inquiry(s, code)
            if inquiry.status in ("answered", "closed"):
                raise CaseworkError(f"{inquiry.code} is already {inquiry.status}")
            days = self.policy.days_for("coordinate")
            created = []
            for unit in units:
                a = Assignment(inquiry_id=inquiry.id, unit_code=unit.code, role="coordinate", working_days=days,
                               assigned_at=now, due_at=self.calendar.due(now, days), status="open", updated_at=now)
                s.add(a)
                s.flush()
                self._audit(s, a, None, by, reason)
                self._notify(s, inquiry, a, "coordinate")
                created.append(a)
            return created

    def answer(self, code: str, *, by: str, unit_code: Optional[str] = None, text: Optional[str] = None) -> Assignment:
        """Record that a unit answered (its lead or coordination duty); reminders stop.

        With `text`, the lead unit's answer is also sent to the business as a person's
        message (within 24 hours, or up to 7 days with the Human Agent tag where permitted;
        otherwise the unit is told to use the business's phone or e-mail)."""
        now = self.clock()
        with self.db.session() as s:
            inquiry = self._inquiry(s, code)
            query = select(Assignment).where(Assignment.inquiry_id == inquiry.id, Assignment.status == "open")
            if unit_code:
                query = query.where(Assignment.unit_code == unit_code)
            else:
                query = query.where(Assignment.role == "lead")
            assignment = s.execute(query.order_by(Assignment.id)).scalars().first()
            if assignment is None:
                raise CaseworkError(f"{inquiry.code} has no open assignment for {unit_code or 'its lead unit'}")
            assignment.status, assignment.answered_at, assignment.updated_at = "answered", now, now
            if assignment.role == "lead":
                inquiry.status, inquiry.answered_at, inquiry.updated_at = "answered", now, now
                inquiry.answered_by, inquiry.answer_text = by, text
                if text:
                    unit = self._unit(assignment.unit_code)
                    body = (f"Trả lời phản ánh {inquiry.code} ({unit.name}):\n{text}" if inquiry.language != "en"
                            else f"Answer to inquiry {inquiry.code} ({unit.name}):\n{text}")
                    recipient = ({"comment_id": inquiry.comment_id} if inquiry.channel == "comment"
                                 else {"id": inquiry.sender_id})
                    s.add(Outbox(idempotency_key=f"answer:{assignment.id}", page_id=inquiry.page_id,
                                 recipient=recipient, message={"text": body[:2000]}, messaging_type="RESPONSE",
                                 inquiry_id=inquiry.id, author="human", status="pending", attempts=0,
                                 next_attempt_at=now, created_at=now))
                    s.add(InquiryMessage(inquiry_id=inquiry.id, direction="out", source="officer", text=text,
                                         created_at=now))
            return assignment
