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
- answer: the lead unit's answer is drafted, approved by another person and sent
  (cases/answers.py, `Casework.answers`); the clock stops when it is SENT (or recorded as given
  another way, or typed on the channel's page), closing the inquiry and its open assignments;
  reminders stop. A coordinating unit's input (`give_input`, internal) closes its own assignment;
- send back: the lead unit says the inquiry is not its own: it returns to the standing office's
  triage queue with `triage_days` to assign it again;
- remind: the standing office's reminder to a unit, queued at once.
Every deadline change is stored with who and why (DeadlineChange). Deadlines always come
from scheduler.deadlines.due_at, so the policy's numbers are written nowhere else. Every
notice to officers links to the inquiry's page in the console (`link`).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

import telemetry
from cases import queries, replies, screening
from cases.answers import Answers, TextLimitFor, WindowFor
from cases.approval import ApprovalRules
from cases.errors import AlreadyOpened, CaseError, ContentBlocked  # noqa: F401 (the package's names)
from cases.errors import who, why
from cases.moderation import Rules, Verdict, default_rules
from cases.outbox import Address, Reply, join_reply, queue_action, queue_reply
from cases.screening import Written
from nlu.classifier import Classification
from routing.gazetteer import Gazetteer
from routing.rules import RouteRequest, RoutingDecision, RoutingTable, route
from routing.taxonomy import DOMAIN_INTENTS
from routing.units import Directory, UnitMatcher
from scheduler.calendar import WorkingCalendar
from scheduler.deadlines import DeadlinePolicy, due_at
from scheduler.notifications.delivery import inquiry_url, queue_notification
from scheduler.notifications.render import format_local
from store import audit
from store import (OPEN_INQUIRY_STATUSES, Assignment, CaseNote, Conversation, Database, DeadlineChange, Draft,
                   Inquiry, InquiryMessage, Notification, Outbox)

__all__ = ["AlreadyOpened", "CaseError", "Casework", "Intake", "Opened", "Reminded"]
# the acknowledgement of the message (inbox event) that opened an inquiry: "ack:<event id>"
ACK_KEY_PREFIX = "ack:"


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
    moderation_note: Optional[str] = None  # the filter flagged it (cases/screening.py note_vi)
    ref: Optional[str] = None  # the channel's id of the message (InquiryMessage.ref)
    revision: Optional[int] = None  # the edit its text comes from (an edit of a message never received)


@dataclass(frozen=True)
class Rerouted:
    """What classifying an edited inquiry again changed (Casework.reroute)."""

    moved: bool  # the lead (or triage) unit changed: a new assignment with its full time
    domain_changed: bool
    unit: str
    role: str  # lead | triage
    due_at: datetime
    working_days: int
    previous_unit: Optional[str] = None


@dataclass(frozen=True)
class Opened:
    inquiry_id: int
    code: str
    unit: str
    role: str  # lead | triage
    due_at: datetime
    coordinators: tuple[str, ...]
    acknowledgement: str  # what the business was told


@dataclass(frozen=True)
class Reminded:
    """The standing office's reminder, as queued (the console logs it)."""

    code: str
    unit: str
    by: str
    queued: bool  # False: the same reminder was already queued at this instant


def _closed_vi(inquiry: Inquiry) -> str:
    return f"Phản ánh {inquiry.code} đã được trả lời hoặc đã đóng."


class Casework:
    """Every operation on an inquiry. `answers` (cases.answers.Answers) holds the drafts,
    approvals and answers given another way; `base_url` is where the console is reached
    (links in officers' notices); `window_for` is the channels' window for a person's answer
    (the composition root provides it; without it there is no limit)."""

    def __init__(self, *, db: Database, directory: Directory, table: RoutingTable, gazetteer: Gazetteer,
                 matcher: UnitMatcher, calendar: WorkingCalendar, policy: DeadlinePolicy,
                 clock: Callable[[], datetime], base_url: str, tracking_prefix: str = "QN", fanouts: Sequence = (),
                 rules: Optional[ApprovalRules] = None, window_for: Optional[WindowFor] = None,
                 content_rules: Optional[Rules] = None, text_limit_for: Optional[TextLimitFor] = None):
        self.db, self.directory, self.table = db, directory, table
        self.gazetteer, self.matcher, self.calendar, self.policy = gazetteer, matcher, calendar, policy
        self.clock, self.prefix, self.fanouts = clock, tracking_prefix, tuple(fanouts)
        self.base_url = base_url
        # the prohibited-content filter (cases/moderation.py) every text to a business passes
        self.content_rules = content_rules if content_rules is not None else default_rules()
        self.answers = Answers(self, rules=rules or ApprovalRules(standing_office=directory.standing_office),
                               window_for=window_for, text_limit_for=text_limit_for)

    def link(self, code: str) -> str:
        """The inquiry's page in the console (no credential in it: the console asks to log in)."""
        return inquiry_url(self.base_url, code)

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
        # Everything that needs no row id is worked out before the first write (the flush
        # below): on SQLite the write lock is held from there to the commit (issue 14).
        roles = {decision.role} | ({"coordinate"} if decision.coordinators else set())
        dues = {role: self.due(role, received) for role in roles}
        inquiry = Inquiry(
            source_event_id=intake.event_id, page_id=intake.page_id, sender_id=intake.sender_id,
            channel=intake.channel, reply_channel=intake.reply_channel, reply_to=dict(intake.reply_to),
            language=intake.language, text=intake.text, intent=result.intent, confidence=result.confidence,
            entities=result.entities, needs_review=result.needs_review, model_version=result.model_version,
            unit_code=decision.unit, status="triage" if decision.is_triage else "assigned",
            routing_trace={"rule": decision.rule, "trace": list(decision.trace)}, received_at=received,
            due_at=dues[decision.role], created_at=now, updated_at=now,
            attachments=list(intake.attachments) or None, post_id=intake.post_id, comment_id=intake.comment_id,
            moderation_note=intake.moderation_note,
        )
        s.add(inquiry)
        try:
            s.flush()
        except IntegrityError as exc:
            raise AlreadyOpened() from exc
        inquiry.code = f"{self.prefix}-{self.calendar.local_date(received).year}-{inquiry.id:06d}"
        lead = self._assignment(s, inquiry, decision.unit, decision.role, received, dues[decision.role])
        coordinating = [self._assignment(s, inquiry, code, "coordinate", received, dues["coordinate"])
                        for code in decision.coordinators]
        self.add_message(s, inquiry, direction="in", source=intake.channel, text=intake.text,
                         attachments=intake.attachments, at=intake.sent_at, event_id=intake.event_id,
                         ref=intake.ref, revision=intake.revision)
        self._notify(s, inquiry, lead, "triage" if decision.is_triage else "assigned")
        for extra in coordinating:
            self._notify(s, inquiry, extra, "coordinate")
        text = self._acknowledgement(inquiry, lead)
        self.reply(s, inquiry.id, f"{ACK_KEY_PREFIX}{intake.event_id}",
                   Reply(text, lang=intake.language, received=received), address=self.address(inquiry))
        if result.confidence is not None:  # the share sent to triage is this histogram's count by route
            telemetry.CLASSIFICATION_CONFIDENCE.labels(route="triage" if decision.is_triage else "assigned").observe(
                result.confidence)
        return Opened(inquiry.id, inquiry.code, decision.unit, decision.role, lead.due_at,
                      tuple(decision.coordinators), text)

    def add_message(self, s, inquiry: Inquiry, *, direction: str, source: str, text: Optional[str],
                    attachments: Sequence = (), at: Optional[datetime] = None,
                    event_id: Optional[int] = None, ref: Optional[str] = None,
                    revision: Optional[int] = None) -> None:
        """Something said on the inquiry's thread, either way. `ref` is the channel's id of a
        message the business wrote, by which a later edit of it finds it (cases/edits.py)."""
        s.add(InquiryMessage(inquiry_id=inquiry.id, direction=direction, source=source, text=text,
                             attachments=list(attachments) or None, event_id=event_id,
                             created_at=at or self.clock(), ref=ref, revision=revision))

    def address(self, inquiry: Inquiry, *, public: bool = False) -> Address:
        """Where the business is answered: the channel and address its message came with."""
        return Address(inquiry.reply_channel, inquiry.page_id, inquiry.reply_to or {}, public)

    @staticmethod
    def opened_in_public(inquiry: Inquiry) -> bool:
        """Written under a post for all to see (a comment): the channel allowed one private
        reply (the acknowledgement); later words go under the comment, in public."""
        return inquiry.comment_id is not None

    def reply(self, s, inquiry_id: Optional[int], key: str, reply: Reply, *, address: Address,
              author: str = "bot", join: Optional[str] = None) -> Outbox:
        """Queue a message to a business (the only way one is sent), screened by the filter. A
        reply about an inquiry is in the inquiry's language and answers its message, unless the
        caller said otherwise. `join`: the key of a bot message queued in this transaction to
        the same person; the reply is said in that message when it can be (cases.outbox.join_reply)."""
        if join is not None:
            joined = join_reply(s, key=join, address=address, reply=reply, rules=self.content_rules)
            if joined is not None:
                return joined
        if (reply.lang is None or reply.received is None) and inquiry_id is not None:
            inquiry = s.get(Inquiry, inquiry_id)
            if inquiry is not None:
                reply = replace(reply, lang=reply.lang or inquiry.language,
                                received=reply.received or inquiry.received_at)
        return queue_reply(s, key=key, address=address, reply=reply, now=self.clock(), inquiry_id=inquiry_id,
                           author=author, rules=self.content_rules)

    # ---- prohibited content (cases/screening.py) -----------------------------------------
    def screen(self, text: Optional[str], *, public: bool) -> Verdict:
        return self.content_rules.check(text, public=public)

    def hide_comment(self, s, verdict: Verdict, written: Written, *, page_name: str,
                     inquiry_id: Optional[int] = None) -> None:
        """A comment with a blocking hit: hidden through its channel, recorded, reported to
        the standing office; no inquiry is opened for it (`inquiry_id`: the one it already had,
        when an edit brought the content in)."""
        key = f"{written.event_id}" if written.event_id is not None else written.comment_id
        queue_action(s, key=f"hide:{key}", address=Address(written.channel, written.page_id,
                                                            {"comment_id": written.comment_id}),
                     action="hide_comment", now=self.clock())
        screening.record(s, verdict, written, action="hide", now=self.clock(), inquiry_id=inquiry_id)
        sources = [src for c in dict.fromkeys(h.category for h in screening.shown_hits(verdict))
                   for src in self.content_rules.categories[c].sources]
        screening.report_hidden(s, verdict, written, key=f"moderation:{key}", page_name=page_name,
                                recipients=self.directory.office.emails, sources=sources, now=self.clock())

    def flag(self, s, verdict: Verdict, written: Written, *, inquiry_id: Optional[int]) -> None:
        """A hit that is not hidden: recorded (with the inquiry it went to, if any)."""
        screening.record(s, verdict, written, action="flag", now=self.clock(), inquiry_id=inquiry_id)

    def _acknowledgement(self, inquiry: Inquiry, lead: Assignment) -> str:
        """What the business is told of its inquiry's unit and date (at intake, and again when
        it is assigned, reassigned or its domain corrected); a date in a year whose days off are
        not declared is marked provisional."""
        lang = inquiry.language
        provisional = not self.calendar.is_declared(lead.due_at)
        if lead.role == "triage":
            return replies.received_for_triage(lang, code=inquiry.code, office_name=self.directory.name(
                lead.unit_code, lang), assign_by=lead.due_at, lead_days=self.policy.days_for("lead"),
                provisional=provisional)
        return replies.acknowledgement(lang, code=inquiry.code, intent=self.field_said(inquiry, lead.unit_code),
                                       unit_name=self.directory.name(lead.unit_code, lang), due=lead.due_at,
                                       days=lead.working_days, provisional=provisional)

    def field_said(self, inquiry: Inquiry, unit_code: str) -> str:
        """The field the acknowledgement names: the domain as it stands, except when a unit's
        own page kept the message (routing's "page" rule: the classifier leaned to another
        unit's domain, not surely enough to move it) and no officer has corrected it. Then the
        field is left out: "Lĩnh vực: Văn hóa, thể thao, du lịch / Đơn vị trả lời: Sở Xây
        dựng" read as a contradiction to the business (a walkthrough); the unit reads the
        message and answers or sends it back."""
        intent = inquiry.corrected_intent or inquiry.intent or ""
        rule = (inquiry.routing_trace or {}).get("rule") if isinstance(inquiry.routing_trace, dict) else None
        if not inquiry.corrected_intent and rule == "page" and self.table.domain_units.get(intent) not in (
                None, unit_code):
            return ""
        return intent

    def _changed(self, inquiry: Inquiry, lead: Assignment, change: str) -> str:
        """What the business is told when its inquiry's unit, field or date changes later
        (replies.case_changed)."""
        lang = inquiry.language
        return replies.case_changed(lang, change, code=inquiry.code, intent=self.field_said(inquiry, lead.unit_code),
                                    unit_name=self.directory.name(lead.unit_code, lang), due=lead.due_at,
                                    days=lead.working_days, provisional=not self.calendar.is_declared(lead.due_at))

    # ---- what people do ----------------------------------------------------------------
    def find(self, s, code: str) -> Inquiry:
        inquiry = queries.by_code(s, code)
        if inquiry is None:
            raise CaseError(f"no inquiry with code {code}", f"Không có phản ánh mã {code}.")
        return inquiry

    def _unit(self, code: str):
        unit = self.directory.get(code)
        if unit is None:
            raise CaseError(f"unknown unit {code}", f"Không có đơn vị mã {code}.")
        return unit

    def assign(self, code: str, unit_code: str, *, by: str, reason: str, domain: Optional[str] = None,
               session=None) -> Assignment:
        """Give the inquiry to `unit_code` as lead unit (from triage, or a reassignment).

        `domain` (an intent of routing.taxonomy.DOMAIN_INTENTS) corrects what the classifier
        said: it is kept beside the prediction (`corrected_intent`, by whom, when: the NLU
        inbox reads it as a label), written in the routing trace, used in every later notice,
        and the business is told the corrected domain. Naming the unit that already leads with
        a domain corrects the domain only: no new assignment, the deadline stays."""
        by, reason = who(by), why(reason, "an assignment", "giao phản ánh")
        unit = self._unit(unit_code)
        if domain is not None and domain not in DOMAIN_INTENTS:
            raise CaseError(f"unknown domain {domain!r} (one of: {', '.join(DOMAIN_INTENTS)})",
                            f"Lĩnh vực {domain!r} không có trong danh mục.")
        now = self.clock()
        with self._work(session) as s:
            inquiry = self.find(s, code)
            if inquiry.status in ("answered", "closed"):
                raise CaseError(f"{inquiry.code} is already {inquiry.status}", _closed_vi(inquiry))
            current = queries.lead(s, inquiry)
            same_unit = current is not None and current.role == "lead" and current.unit_code == unit.code
            if same_unit and domain is None:
                raise CaseError(f"{inquiry.code} is already with {unit.code}",
                                f"Phản ánh {inquiry.code} đã do {unit.name} chủ trì.")
            if same_unit and domain == (inquiry.corrected_intent or inquiry.intent):
                raise CaseError(f"{inquiry.code} is already with {unit.code} in domain {domain}",
                                f"Phản ánh {inquiry.code} đã do {unit.name} chủ trì, đúng lĩnh vực này.")
            trace = dict(inquiry.routing_trace or {})
            lines = list(trace.get("trace", []))
            if domain is not None:
                lines.append(f"domain corrected to {domain} by {by} (classifier: {inquiry.intent or 'none'}): {reason}")
                inquiry.corrected_intent, inquiry.corrected_by, inquiry.corrected_at = domain, by, now
            if same_unit:
                lead = current
            else:
                old_due = current.due_at if current else None
                if current is not None:
                    current.status, current.updated_at = "reassigned", now
                    self.answers.supersede(s, inquiry, by=by, note=f"giao cho {unit.code}: {reason}")
                lead = self._assignment(s, inquiry, unit.code, "lead", now)
                self._audit(s, lead, old_due, by, reason)
                inquiry.unit_code, inquiry.status, inquiry.due_at = unit.code, "assigned", lead.due_at
                lines.append(f"assigned to {unit.code} by {by}: {reason}")
                self._notify(s, inquiry, lead, "assigned")
                if current is not None and current.role == "lead":  # the unit it leaves (a walkthrough: never told)
                    self._tell_moved(s, inquiry, current, lead, office_reason=reason)
            trace["trace"] = lines
            inquiry.routing_trace, inquiry.updated_at = trace, now
            key = f"assigned:{lead.id}" if not same_unit else f"domain:{lead.id}:{now.isoformat()}"
            change = "domain" if same_unit else ("reassigned" if current is not None and current.role == "lead"
                                                 else "assigned")
            self._tell_business(s, inquiry, lead, change, key)
            return lead

    def _tell_business(self, s, inquiry: Inquiry, lead: Assignment, change: str, key: str) -> None:
        """The business learns what changed: privately, or under its comment for an inquiry
        written as a comment (the channel allowed one private reply, the acknowledgement, which
        promised the unit and the date; a walkthrough found them never told while the console
        said "Doanh nghiệp đã được báo"). What is said there is routing's decision only: the
        code, field, unit and date, nothing of the business's."""
        public = self.opened_in_public(inquiry)
        self.reply(s, inquiry.id, key, Reply(self._changed(inquiry, lead, change)),
                   address=self.address(inquiry, public=public))

    def mark_complex(self, code: str, *, by: str, reason: str, session=None) -> Assignment:
        """A complex case: the lead unit has `complex_days` working days from its assignment."""
        by, reason = who(by), why(reason, "a complex case", "xác định vụ việc phức tạp")
        now = self.clock()
        with self._work(session) as s:
            inquiry = self.find(s, code)
            lead = queries.lead(s, inquiry)
            if lead is None or lead.role != "lead":
                raise CaseError(f"{inquiry.code} has no open lead assignment (assign it first)",
                                f"Phản ánh {inquiry.code} chưa có đơn vị chủ trì đang xử lý (cần giao trước).")
            days = self.policy.days_for("lead", complex_case=True)
            if lead.working_days >= days:
                raise CaseError(f"{inquiry.code} already has {lead.working_days} working days",
                                f"Phản ánh {inquiry.code} đã có {lead.working_days} ngày làm việc.")
            old = lead.due_at
            lead.working_days, lead.updated_at = days, now
            lead.due_at = self.due("lead", lead.assigned_at, complex_case=True)
            inquiry.due_at, inquiry.updated_at = lead.due_at, now
            self._audit(s, lead, old, by, reason)
            self._tell_business(s, inquiry, lead, "complex", f"complex:{lead.id}")  # its new date, as of a reassignment
            return lead

    def request_coordination(self, code: str, unit_codes: Sequence[str], *, by: str, reason: str,
                             session=None) -> list[Assignment]:
        """Ask units for their input: `coordination_days` working days from this request.

        All or nothing: the request is refused as a whole, naming the unit, when one of the
        units leads the inquiry (it answers; its input is its own answer), already has an open
        coordinating assignment on it (asked before and not yet answered: a second one would
        stay open after its input and keep being escalated), or is named twice. Nothing is
        written then; the person asks again without that unit. A unit whose earlier input is
        given (its assignment answered) may be asked again."""
        by, reason = who(by), why(reason, "a coordination request", "đề nghị phối hợp")
        units = [self._unit(c) for c in unit_codes]
        now = self.clock()
        with self._work(session) as s:
            inquiry = self.find(s, code)
            if inquiry.status in ("answered", "closed"):
                raise CaseError(f"{inquiry.code} is already {inquiry.status}", _closed_vi(inquiry))
            lead = queries.lead(s, inquiry)
            asked = {a.unit_code for a in queries.open_assignments(s, inquiry) if a.role == "coordinate"}
            seen: set[str] = set()
            for unit in units:
                if lead is not None and lead.role == "lead" and unit.code == lead.unit_code:
                    raise CaseError(f"{unit.code} leads {inquiry.code}: a lead unit is not asked to coordinate",
                                    f"{unit.name} đang chủ trì phản ánh {inquiry.code}, không thể đồng thời là "
                                    f"đơn vị phối hợp.")
                if unit.code in asked:
                    raise CaseError(f"{unit.code} is already asked to coordinate on {inquiry.code} "
                                    f"(its input is awaited)",
                                    f"{unit.name} đã được đề nghị phối hợp về phản ánh {inquiry.code} "
                                    f"và chưa cho ý kiến.")
                if unit.code in seen:
                    raise CaseError(f"{unit.code} is named twice", f"{unit.name} được nêu hai lần.")
                seen.add(unit.code)
            created = []
            for unit in units:
                a = self._assignment(s, inquiry, unit.code, "coordinate", now)
                self._audit(s, a, None, by, reason)
                self._notify(s, inquiry, a, "coordinate")
                created.append(a)
            return created

    def answer(self, code: str, *, by: str, unit_code: Optional[str] = None, session=None) -> Assignment:
        """Record that a unit answered, without a text: a coordinating unit (`unit_code`) gave
        its input, or the lead unit answered the business some other way (recorded as "other";
        `answers.record` says how and what). A text to the business goes through a draft and
        its approval (`answers`); there is no way to send one without."""
        by = who(by)
        with self._work(session) as s:
            inquiry = self.find(s, code)
            if unit_code is not None:
                mine = self._open_duty(s, inquiry, unit_code)
                if mine.role == "coordinate":
                    self._close_input(s, inquiry, mine, by=by, text=None)
                    return mine
            lead = queries.lead(s, inquiry)
            if lead is None or lead.role != "lead" or (unit_code is not None and lead.unit_code != unit_code):
                raise CaseError(f"{inquiry.code} has no open assignment for {unit_code or 'its lead unit'}",
                                f"Phản ánh {inquiry.code} không có việc đang mở của đơn vị này.")
            self.stop_clock(s, inquiry, at=self.clock(), by=by, text=None, via="recorded", how="other")
            return lead

    def give_input(self, code: str, unit_code: str, *, by: str, text: str, session=None) -> CaseNote:
        """A coordinating unit's input for the lead unit (internal, never sent to the business);
        it closes that unit's coordination assignment (its 2-day clock stops)."""
        by, text = who(by), (text or "").strip()
        if not text:
            raise CaseError("the input is empty", "Ý kiến đang để trống.")
        with self._work(session) as s:
            inquiry = self.find(s, code)
            duty = self._open_duty(s, inquiry, unit_code)
            if duty.role != "coordinate":
                raise CaseError(f"{unit_code} is not asked to coordinate on {inquiry.code}",
                                f"Đơn vị không được đề nghị phối hợp về phản ánh {inquiry.code}.")
            return self._close_input(s, inquiry, duty, by=by, text=text)

    def _open_duty(self, s, inquiry: Inquiry, unit_code: str) -> Assignment:
        duty = s.execute(select(Assignment).where(
            Assignment.inquiry_id == inquiry.id, Assignment.status == "open", Assignment.unit_code == unit_code)
            .order_by(Assignment.id)).scalars().first()
        if duty is None:
            raise CaseError(f"{inquiry.code} has no open assignment for {unit_code}",
                            f"Phản ánh {inquiry.code} không có việc đang mở của đơn vị {unit_code}.")
        return duty

    def _close_input(self, s, inquiry: Inquiry, duty: Assignment, *, by: str, text: Optional[str]) -> CaseNote:
        now = self.clock()
        duty.status, duty.answered_at, duty.updated_at = "answered", now, now
        note = CaseNote(inquiry_id=inquiry.id, assignment_id=duty.id, unit_code=duty.unit_code, author=by,
                        kind="coordination_input", text=text or "(đơn vị phối hợp đã cho ý kiến)", created_at=now)
        s.add(note)
        s.flush()
        return note

    def stop_clock(self, s, inquiry: Inquiry, *, at: datetime, by: str, text: Optional[str], via: str,
                   how: Optional[str] = None) -> None:
        """The business has its answer (sent, recorded or typed on the page) at `at`: the
        inquiry and all its open duties are answered then; drafts still in the work are moot."""
        now = self.clock()
        inquiry.status, inquiry.answered_at, inquiry.answered_by = "answered", at, by
        inquiry.answer_text, inquiry.answered_via, inquiry.answered_how = text, via, how
        inquiry.updated_at = now
        for a in queries.open_assignments(s, inquiry):
            a.status, a.answered_at, a.updated_at = "answered", at, now
        self.answers.supersede(s, inquiry, by=by, note="phản ánh đã được trả lời")

    def record_answer(self, s, inquiry: Inquiry, *, by: str, text: Optional[str], at: datetime, source: str,
                      attachments: Sequence = (), event_id: Optional[int] = None) -> None:
        """A person answered the business on the channel's page itself (the page's inbox,
        under the comment), not through an approved draft: the thread keeps it, the clock stops,
        and the inquiry is marked "gửi không qua phê duyệt" (answered_via "page")."""
        self.add_message(s, inquiry, direction="out", source=source, text=text, attachments=attachments,
                         at=at, event_id=event_id)
        self.stop_clock(s, inquiry, at=at, by=by, text=text, via="page")
        audit.record(s, at=at, action=audit.ANSWER_PAGE, actor="worker", object_type="inquiry", object_id=inquiry.code,
                     details={"by": by, "source": source})

    def send_back(self, code: str, *, by: str, reason: str, session=None) -> Assignment:
        """The lead unit says the inquiry is not its own: back to the standing office's triage
        queue (`triage_days` to assign it again); the business is told once it is reassigned.

        Coordinating units asked for input stay asked (their assignments open, reminded and
        escalated as before): their input is on the inquiry's matter, for whichever unit leads
        it next, and their 2 working days run from the request (Art. 9.3), as after a
        reassignment; an inquiry in triage may have coordinating units (their notices say the
        lead unit is not assigned yet). Only the routing of an edited text cancels them."""
        by, reason = who(by), (reason or "").strip()
        if not reason:
            raise CaseError("sending an inquiry back needs a reason", "Cần nêu lý do trả phản ánh về Ban Xúc tiến.")
        now = self.clock()
        with self._work(session) as s:
            inquiry = self.find(s, code)
            lead = queries.lead(s, inquiry)
            if lead is None or lead.role != "lead" or inquiry.status not in OPEN_INQUIRY_STATUSES:
                raise CaseError(f"{inquiry.code} has no open lead assignment to send back",
                                f"Phản ánh {inquiry.code} không có đơn vị chủ trì đang xử lý để trả về.")
            lead.status, lead.updated_at = "returned", now
            self.answers.supersede(s, inquiry, by=by, note=f"trả về Ban Xúc tiến: {reason}")
            triage = self._assignment(s, inquiry, self.directory.standing_office, "triage", now)
            self._audit(s, triage, lead.due_at, by, f"{self.directory.name(lead.unit_code)} trả lại: {reason}")
            inquiry.unit_code, inquiry.status, inquiry.due_at = triage.unit_code, "triage", triage.due_at
            inquiry.updated_at = now
            trace = dict(inquiry.routing_trace or {})
            trace["trace"] = list(trace.get("trace", [])) + [f"sent back by {lead.unit_code} ({by}): {reason}"]
            inquiry.routing_trace = trace
            self._notify(s, inquiry, triage, "triage")
            return triage

    def remind(self, code: str, *, by: str, unit_code: Optional[str] = None, reason: Optional[str] = None,
               session=None) -> Reminded:
        """The standing office's "remind": a reminder notice to the unit (its lead unit by
        default) queued now, whatever the reminder timeline says; once per unit and instant.
        `reason` (the console asks for one) is said in the notice under its headline."""
        now = self.clock()
        by, reason = who(by), (reason or "").strip()
        with self._work(session) as s:
            inquiry = self.find(s, code)
            duty = self._open_duty(s, inquiry, unit_code) if unit_code else queries.lead(s, inquiry)
            if duty is None:
                raise CaseError(f"{inquiry.code} has no open assignment to remind",
                                f"Phản ánh {inquiry.code} không có việc đang mở để nhắc.")
            unit = self.directory[duty.unit_code]
            queued = queue_notification(
                s, kind="office_reminder", key=f"office_reminder:{duty.id}:{now.isoformat()}", inquiry=inquiry,
                assignment=duty, unit_name=unit.name, recipients=list(unit.emails), calendar=self.calendar,
                policy=self.policy, now=now, page_name=self.directory.page_name(inquiry.page_id),
                lead_name=self._lead_name(inquiry, duty),  # a walkthrough: "Đơn vị chủ trì: chưa giao"
                fanouts=self.fanouts, link=self.link(inquiry.code),
                note=f"Cơ quan thường trực đề nghị đơn vị khẩn trương xử lý. Lý do: {reason}" if reason else None)
            return Reminded(inquiry.code, duty.unit_code, by, queued)

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

    # ---- the business edited its message (issue 15) ----------------------------------------
    def reroute(self, s, inquiry: Inquiry, result: Classification, *, by: str, reason: str) -> Rerouted:
        """Route the inquiry again from its edited text (`inquiry.text`), as intake would, when
        nobody has started on it (the caller checks queries.unit_has_started). The new
        classification is kept; if the lead (or triage) unit changes, the inquiry moves the
        way a reassignment does: the new unit gets its full time from now (Art. 9.5(đ) counts
        from when it receives it), the old assignment is closed as "reassigned" and its unit
        told, the deadline change is audited with `by`, and coordinating units follow the new
        decision. The business is told by the caller."""
        decision = self.route(inquiry.text, result, inquiry.page_id)
        now = self.clock()
        domain_changed = (result.intent, result.needs_review) != (inquiry.intent, inquiry.needs_review)
        inquiry.intent, inquiry.confidence, inquiry.entities = result.intent, result.confidence, result.entities
        inquiry.needs_review, inquiry.model_version, inquiry.updated_at = result.needs_review, result.model_version, now
        steps = list((inquiry.routing_trace or {}).get("trace", [])) + [f"{by}: {reason}"] + list(decision.trace)
        inquiry.routing_trace = {"rule": decision.rule, "trace": steps}
        current = queries.lead(s, inquiry)
        if current is not None and (current.unit_code, current.role) == (decision.unit, decision.role):
            return Rerouted(False, domain_changed, current.unit_code, current.role, current.due_at,
                            current.working_days)
        if current is not None:
            current.status, current.updated_at = "reassigned", now
        new = self._assignment(s, inquiry, decision.unit, decision.role, now)
        self._audit(s, new, current.due_at if current else None, by, reason)
        inquiry.unit_code, inquiry.due_at = decision.unit, new.due_at
        inquiry.status = "triage" if decision.is_triage else "assigned"
        self._notify(s, inquiry, new, "triage" if decision.is_triage else "assigned")
        if current is not None:
            self._tell_moved(s, inquiry, current, new)
        wanted = list(decision.coordinators)
        for a in queries.open_assignments(s, inquiry):
            if a.role != "coordinate":
                continue
            if a.unit_code in wanted:
                wanted.remove(a.unit_code)
            else:
                a.status, a.updated_at = "cancelled", now
                self._tell_moved(s, inquiry, a, new)
        for code in wanted:
            extra = self._assignment(s, inquiry, code, "coordinate", now)
            self._audit(s, extra, None, by, reason)
            self._notify(s, inquiry, extra, "coordinate")
        return Rerouted(True, domain_changed, new.unit_code, new.role, new.due_at, new.working_days,
                        current.unit_code if current else None)

    def _tell_moved(self, s, inquiry: Inquiry, old: Assignment, new: Assignment, *,
                    office_reason: Optional[str] = None) -> None:
        """The unit of a closed assignment learns where the inquiry went: it need not act. Moved
        by the business's edit, or by the standing office (`office_reason`, its reason)."""
        purpose = " để phân loại, giao đơn vị" if new.role == "triage" else ""
        where = (f"phản ánh đã được chuyển cho {self.directory.name(new.unit_code)}{purpose} (hạn "
                 f"{format_local(new.due_at)})")
        if office_reason is not None:
            said = f"Cơ quan thường trực đã giao lại phản ánh: {where}. Lý do: {office_reason.strip().rstrip('.')}."
        else:
            said = (f"Doanh nghiệp đã sửa nội dung phản ánh trước khi đơn vị bắt đầu xử lý. Theo nội dung mới, "
                    f"{where}.")
        note = f"{said} Đơn vị không cần xử lý phản ánh này nữa; hệ thống đã dừng nhắc hạn."
        self._notice(s, inquiry, old, kind="transferred", key=f"transferred:{old.id}", note=note)

    ADDITION_NOTICE_EVERY = timedelta(minutes=30)

    def tell_unit_of_addition(self, s, inquiry: Inquiry, *, text: Optional[str], attachments: Sequence = (),
                              at: datetime) -> None:
        """The unit handling the inquiry learns that the business added to it (a follow-up
        message or file joined to the thread): nothing told it before, and a draft awaiting
        approval could be approved against what the business had just corrected (a
        walkthrough: "À em nhầm, nhà xưởng ở Quảng Yên chứ không phải Cẩm Phả"). At most one
        notice per inquiry per ADDITION_NOTICE_EVERY: a business adds in bursts, and the
        console's thread shows every message. A draft awaiting approval is named in it."""
        assignment = s.execute(select(Assignment).where(
            Assignment.inquiry_id == inquiry.id, Assignment.role.in_(("lead", "triage")), Assignment.status == "open")
            .order_by(Assignment.id.desc()).limit(1)).scalars().first()
        if assignment is None or inquiry.status not in OPEN_INQUIRY_STATUSES:
            return
        bucket = int(at.timestamp() // self.ADDITION_NOTICE_EVERY.total_seconds())
        said = (text or "").strip()
        shown = said if len(said) <= 1000 else said[:1000] + "…"
        files = f" kèm {len(attachments)} tệp" if attachments else ""
        note = (f"Doanh nghiệp đã gửi thêm nội dung cho phản ánh lúc {format_local(at)}{files}"
                + (f": «{shown}»." if shown else ".")
                + " Các tin nhắn bổ sung đều có trên trang phản ánh.")
        waiting = s.execute(select(Draft.id).where(Draft.inquiry_id == inquiry.id, Draft.status == "submitted")
                            .order_by(Draft.id)).scalars().all()
        if waiting:
            note += (f" Dự thảo trả lời #{waiting[-1]} đang chờ duyệt được soạn trước nội dung này: đề nghị xem lại "
                     "trước khi duyệt.")
        self._notice(s, inquiry, assignment, kind="added", key=f"added:{inquiry.id}:{bucket}", note=note)

    def tell_unit_of_edit(self, s, inquiry: Inquiry, *, key: str, text: str, at: datetime) -> None:
        """A unit that has started learns that the business changed what it wrote; nothing
        moves by itself (the unit, or the standing office, decides what follows)."""
        assignment = s.execute(select(Assignment).where(
            Assignment.inquiry_id == inquiry.id, Assignment.role.in_(("lead", "triage")))
            .order_by(Assignment.status != "open", Assignment.id.desc()).limit(1)).scalars().first()
        if assignment is None:
            return
        shown = text if len(text) <= 1000 else text[:1000] + "…"
        note = (f"Doanh nghiệp đã sửa một tin nhắn của phản ánh lúc {format_local(at)}, sau khi đơn vị đã bắt đầu "
                f"xử lý. Nội dung mới: «{shown}». Phản ánh không tự chuyển đơn vị và hạn trả lời không thay đổi.")
        self._notice(s, inquiry, assignment, kind="edited", key=key, note=note)

    def _notice(self, s, inquiry: Inquiry, assignment: Assignment, *, kind: str, key: str, note: str) -> None:
        """A notice to the unit of `assignment` saying `note` under its headline (moved, edited,
        added to), with the inquiry's details and link as every notice has them."""
        unit = self.directory[assignment.unit_code]
        queue_notification(s, kind=kind, key=key, inquiry=inquiry, assignment=assignment, unit_name=unit.name,
                           recipients=list(unit.emails), calendar=self.calendar, policy=self.policy,
                           now=self.clock(), page_name=self.directory.page_name(inquiry.page_id),
                           fanouts=self.fanouts, note=note, link=self.link(inquiry.code))

    def undeliverable(self, s, row: Outbox, reason: str, contact: Sequence[str], channel_title: str) -> None:
        """The channel can no longer reach the business: the unit must use the phone or e-mail."""
        if row.inquiry_id is None:
            return
        self.answers.undelivered(s, row, reason)
        inquiry = s.get(Inquiry, row.inquiry_id)
        unit = self.directory.get(inquiry.unit_code)
        contact_text = ", ".join(c for c in contact if c) or "doanh nghiệp chưa để lại số điện thoại hoặc email"
        # an approved answer refused for the window goes when the business writes again (Answers.send_waiting)
        later = (f"\nNếu doanh nghiệp nhắn tin lại qua {channel_title} trước khi đơn vị ghi nhận trả lời, hệ thống sẽ "
                 f"gửi ngay câu trả lời đã duyệt này (không cần duyệt lại) và báo cho đơn vị."
                 if row.author == "human" and row.status == "undeliverable" and not inquiry.comment_id else "")
        text = (f"Tin nhắn gửi doanh nghiệp về phản ánh {inquiry.code} không thể gửi qua {channel_title} "
                f"({reason}).\nĐề nghị đơn vị liên hệ trực tiếp: {contact_text}.{later}\n\nNội dung cần gửi:\n"
                f"{Reply.from_json(row.message).text}\n\nNội dung phản ánh:\n{inquiry.text}\n\n"
                f"Sau khi trả lời, ghi nhận câu trả lời (cách trả lời, nội dung) trong trang quản lý: "
                f"{self.link(inquiry.code)}")
        self._mail_unit(s, inquiry, unit, key=f"undeliverable:{row.id}", kind="undeliverable", body=text,
                        subject=f"Không gửi được trả lời phản ánh {inquiry.code} qua {channel_title}")

    def _mail_unit(self, s, inquiry: Inquiry, unit, *, key: str, kind: str, subject: str, body: str) -> None:
        """A plain e-mail to a unit about the delivery of a message to its business."""
        s.add(Notification(
            idempotency_key=key, inquiry_id=inquiry.id, kind=kind, channel="email",
            recipients=list(unit.emails) if unit else [], subject=f"[DDCI Quảng Ninh] {subject}", body_text=body,
            status="pending", attempts=0, next_attempt_at=self.clock(), created_at=self.clock()))

    def delivered(self, s, row: Outbox, at: datetime, *, channel_title: Optional[str] = None) -> bool:
        """The delivery loop sent `row` at `at` (in its transaction): an approved answer stops
        the clock now (cases.answers); an acknowledgement's wait is measured (telemetry)."""
        if row.idempotency_key.startswith(ACK_KEY_PREFIX):
            self._acknowledged(s, row, at)
        return self.answers.delivered(s, row, at, channel_title=channel_title)

    def answer_reached(self, s, inquiry: Inquiry, row: Outbox, draft, *, at: datetime, clock_stopped: bool,
                       channel_title: Optional[str] = None) -> None:
        """An approved answer the unit was told could not be sent (Messenger's window had
        closed) has reached the business after all, when it wrote again (Answers.send_waiting):
        the unit need not call the business any more, told in Vietnamese."""
        unit = self.directory.get(draft.unit_code)
        title = channel_title or inquiry.reply_channel
        written = s.get(Conversation, (inquiry.page_id, inquiry.sender_id))
        came_back = (f" lúc {format_local(written.last_user_message_at)}"
                     if written is not None and written.last_user_message_at else "")
        if clock_stopped:
            outcome = (f"Phản ánh được ghi nhận đã trả lời lúc {format_local(at)}. Đơn vị không cần liên hệ doanh "
                       f"nghiệp bằng cách khác và không cần ghi nhận trả lời nữa.")
        else:
            outcome = ("Phản ánh đã được ghi nhận trả lời trước đó (bằng cách khác); thời điểm trả lời không thay "
                       "đổi.")
        text = (f"Doanh nghiệp đã nhắn tin lại{came_back} qua {title}, nên hệ thống đã gửi câu trả lời đã duyệt "
                f"(dự thảo #{draft.id}) về phản ánh {inquiry.code} lúc {format_local(at)}; câu trả lời này trước đó "
                f"không gửi được vì đã quá thời gian {title} cho phép.\n{outcome}\n\nNội dung đã gửi:\n"
                f"{Reply.from_json(row.message).text}\n\nTrang quản lý: {self.link(inquiry.code)}")
        self._mail_unit(s, inquiry, unit, key=f"answer_delivered:{row.id}", kind="answer_delivered", body=text,
                        subject=f"Đã gửi được trả lời phản ánh {inquiry.code} qua {title}")

    @staticmethod
    def _acknowledged(s, row: Outbox, at: datetime) -> None:
        """How long the business waited for its tracking code: from the time its message says
        it was written (the channel's own timestamp, kept on the thread's first message) to
        the send's success."""
        event_id = row.idempotency_key[len(ACK_KEY_PREFIX):]
        if not event_id.isdigit():
            return
        written = s.execute(select(InquiryMessage.created_at).where(
            InquiryMessage.event_id == int(event_id), InquiryMessage.direction == "in")).scalar()
        if written is not None:
            telemetry.ACK_LATENCY.observe(max(0.0, (at - written).total_seconds()))

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
    def _assignment(self, s, inquiry: Inquiry, unit_code: str, role: str, start: datetime,
                    due: Optional[datetime] = None) -> Assignment:
        """`due`: the deadline of `role` from `start`, when the caller has worked it out already."""
        a = Assignment(inquiry_id=inquiry.id, unit_code=unit_code, role=role,
                       working_days=self.policy.days_for(role), assigned_at=start,
                       due_at=due if due is not None else self.due(role, start),
                       status="open", updated_at=self.clock())
        s.add(a)
        s.flush()
        return a

    def _audit(self, s, assignment: Assignment, old: Optional[datetime], by: str, reason: str) -> None:
        s.add(DeadlineChange(assignment_id=assignment.id, old_due_at=old, new_due_at=assignment.due_at,
                             changed_by=by, reason=reason, changed_at=self.clock()))

    def _lead_name(self, inquiry: Inquiry, assignment: Assignment) -> Optional[str]:
        """Who leads, for a coordinating unit's notice (None: not assigned yet, or not asked)."""
        if assignment.role == "coordinate" and inquiry.status != "triage":
            return self.directory.name(inquiry.unit_code)
        return None

    def _notify(self, s, inquiry: Inquiry, assignment: Assignment, kind: str) -> None:
        """The unit's notice, in the role of ITS assignment (a coordinating unit reads who leads)."""
        unit = self.directory[assignment.unit_code]
        lead = self._lead_name(inquiry, assignment)
        queue_notification(s, kind=kind, key=f"{kind}:{assignment.id}", inquiry=inquiry, assignment=assignment,
                           unit_name=unit.name, recipients=list(unit.emails), calendar=self.calendar,
                           policy=self.policy, now=self.clock(), page_name=self.directory.page_name(inquiry.page_id),
                           lead_name=lead, fanouts=self.fanouts, link=self.link(inquiry.code))
