"""The case file of one inquiry: everything an officer reads about it, for the console's
inquiry page and `flask inquiries show`, read in one short transaction with a handful of
indexed queries (by code, then by inquiry id).

Who wrote and where, the domain (the classifier's and an officer's correction), the
assignments and every deadline change, the thread both ways (the business, the bot's replies,
the units' answers, attachments as links), the answer and who gave it, the timeline of notices
(those sent, from `notifications`, and those planned for the open assignments from the same
scheduler.timeline the scheduler follows, seen at `now`), the messages queued to the business,
the drafts with their history, the coordinating units' input, and the channel's window for a
person's answer with the business's phone and e-mail.

Rows come back as the ORM objects of a closed session (expire_on_commit is off): read their
columns, never their relationships. Texts are what people wrote: escape them when rendering.
Datetimes stay aware UTC; the reader formats them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import select

from cases import queries
from cases.answers import AnswerWindow, DraftView
from cases.outbox import Reply
from scheduler.calendar import WorkingCalendar
from scheduler.reminders import MISFIRE_GRACE, escalation_key, reminder_key
from scheduler.timeline import ReminderPlan, Timelines
from store import (Assignment, CaseNote, Conversation, DeadlineChange, Draft, DraftEvent, Inquiry, InquiryMessage,
                   Notification, Outbox)

PLANNED_ESCALATIONS = 3  # how many of the repeated escalations the file lists ahead


@dataclass(frozen=True)
class Said:
    """One message on the thread. `source`: messenger | comment | page_inbox | officer | bot."""

    at: datetime
    direction: str  # in | out
    source: str
    text: Optional[str]
    attachments: tuple[dict, ...] = ()
    status: Optional[str] = None  # a bot reply's delivery status (sent, pending, undeliverable, ...)
    # what the business wrote before it edited this message, oldest first: (when, text)
    earlier: tuple[tuple[datetime, Optional[str]], ...] = ()


@dataclass(frozen=True)
class Notice:
    """A notice to officers, sent or planned."""

    at: datetime
    state: str  # sent | pending | failed | retry | planned
    kind: str  # assigned | triage | coordinate | reminder | escalation | undeliverable | ...
    unit: Optional[str] = None
    role: Optional[str] = None
    what: str = ""  # the subject of a sent one, the reminder stage of a planned one
    recipients: tuple[str, ...] = ()
    channel: str = "email"


@dataclass(frozen=True)
class DraftRecord:
    draft: DraftView
    events: tuple  # DraftEvent rows, oldest first: who, when, what (text or reason)


@dataclass(frozen=True)
class CaseFile:
    inquiry: Inquiry
    link: str  # its page in the console
    business_name: Optional[str]
    phone: Optional[str]
    email: Optional[str]
    page_name: str
    unit_names: dict[str, str]  # unit code -> name, for every unit on the file
    assignments: list[Assignment]
    changes: list[DeadlineChange]
    thread: list[Said]
    notices: list[Notice]  # sent and planned, in time order
    outbox: tuple  # Outbox rows (to the business), oldest first, with status and last error
    drafts: tuple[DraftRecord, ...]
    notes: tuple  # CaseNote (coordinating units' input), oldest first
    window: AnswerWindow
    answered_without_approval: bool  # "gửi không qua phê duyệt"
    provisional: dict[int, bool] = field(default_factory=dict)  # assignment id -> due date provisional
    due_provisional: bool = False  # the inquiry's due date lies in a year whose days off are not declared

    @property
    def open_draft(self) -> Optional[DraftView]:
        """The draft still in the work or on its way (at most one), if any."""
        for record in reversed(self.drafts):
            if record.draft.status in ("draft", "submitted", "approved"):
                return record.draft
        return None


def case_file(s, cases, code: str, *, plan: ReminderPlan = ReminderPlan(), now: Optional[datetime] = None,
              grace: timedelta = MISFIRE_GRACE) -> Optional[CaseFile]:
    """The case file of the inquiry `code` (None if there is none: the page answers 404), read
    in session `s`; `cases` is the Casework (its directory, calendar, links and answers), `plan`
    the deployment's reminder plan, `now` the moment the planned notices are seen from."""
    directory, calendar, now = cases.directory, cases.calendar, now or cases.clock()
    inquiry = queries.by_code(s, code or "")
    if inquiry is None:
        return None
    conv = s.get(Conversation, (inquiry.page_id, inquiry.sender_id))
    assignments = list(s.execute(select(Assignment).where(Assignment.inquiry_id == inquiry.id)
                                 .order_by(Assignment.id)).scalars())
    ids = [a.id for a in assignments]
    changes = list(s.execute(select(DeadlineChange).where(DeadlineChange.assignment_id.in_(ids))
                             .order_by(DeadlineChange.id)).scalars()) if ids else []
    drafts = list(s.execute(select(Draft).where(Draft.inquiry_id == inquiry.id).order_by(Draft.id)).scalars())
    events: dict[int, list] = {}
    if drafts:
        for e in s.execute(select(DraftEvent).where(DraftEvent.draft_id.in_([d.id for d in drafts]))
                           .order_by(DraftEvent.id)).scalars():
            events.setdefault(e.draft_id, []).append(e)
    return CaseFile(
        inquiry=inquiry, link=cases.link(inquiry.code), business_name=conv.display_name if conv else None, phone=conv.phone if conv else None,
        email=conv.email if conv else None, page_name=directory.page_name(inquiry.page_id),
        unit_names={c: directory.name(c) for c in {inquiry.unit_code, *(a.unit_code for a in assignments)} if c},
        assignments=assignments, changes=changes, thread=thread(s, inquiry),
        notices=_notices(s, inquiry, assignments, calendar, plan, now, grace),
        outbox=tuple(s.execute(select(Outbox).where(Outbox.inquiry_id == inquiry.id).order_by(Outbox.id)).scalars()),
        drafts=tuple(DraftRecord(DraftView.of(d, inquiry), tuple(events.get(d.id, ()))) for d in drafts),
        notes=tuple(s.execute(select(CaseNote).where(CaseNote.inquiry_id == inquiry.id)
                              .order_by(CaseNote.id)).scalars()),
        window=cases.answers.window(s, inquiry),
        answered_without_approval=inquiry.answered_via == "page",
        provisional={a.id: not calendar.is_declared(a.due_at) for a in assignments},
        due_provisional=inquiry.due_at is not None and not calendar.is_declared(inquiry.due_at),
    )


def thread(s, inquiry: Inquiry) -> list[Said]:
    """What the business and the page said (inquiry_messages) and what the bot sent (outbox
    rows written by the bot; a person's answer sent through the bot is on the thread already)."""
    rows = list(s.execute(select(InquiryMessage).where(InquiryMessage.inquiry_id == inquiry.id)
                          .order_by(InquiryMessage.created_at, InquiryMessage.id)).scalars())
    kept = queries.versions(s, [m.id for m in rows if m.direction == "in"])  # issue 15: edits keep history
    said = [Said(m.created_at, m.direction, m.source, m.text, tuple(m.attachments or ()),
                 earlier=tuple((v.written_at, v.text) for v in kept.get(m.id, []) if v.revision != m.revision))
            for m in rows]
    said += [Said(o.sent_at or o.created_at, "out", "bot", Reply.from_json(o.message).text, (), o.status)
             for o in s.execute(select(Outbox).where(Outbox.inquiry_id == inquiry.id, Outbox.author == "bot")
                                .order_by(Outbox.id)).scalars()]
    return sorted(said, key=lambda m: m.at)


def _notices(s, inquiry: Inquiry, assignments: list[Assignment], calendar: WorkingCalendar, plan: ReminderPlan,
             now: datetime, grace: timedelta) -> list[Notice]:
    by_id = {a.id: a for a in assignments}
    rows = list(s.execute(select(Notification).where(Notification.inquiry_id == inquiry.id)
                          .order_by(Notification.id)).scalars())
    notices = []
    for n in rows:
        a = by_id.get(n.assignment_id)
        notices.append(Notice(n.sent_at or n.created_at, n.status, n.kind, a.unit_code if a else None,
                              a.role if a else None, n.subject, tuple(n.recipients or ()), n.channel))
    sent = {n.idempotency_key for n in rows}
    plans = Timelines(calendar, plan, now, grace)
    for a in assignments:
        if a.status == "open":
            notices += _planned(a, plans, calendar, sent)
    return sorted(notices, key=lambda n: n.at)


def _planned(a: Assignment, plans: Timelines, calendar: WorkingCalendar, sent: set) -> list[Notice]:
    """What the scheduler will send for an open assignment (scheduler.reminders does the same
    from the same timeline): the reminders still to come (one that came due and is not sent
    yet goes at the next opening), the escalation due now if not sent, and the next ones."""
    p = plans.get(a.assigned_at, a.due_at)
    now = plans.now

    def notice(at: datetime, kind: str, what: str) -> Notice:
        return Notice(at, "planned", kind, a.unit_code, a.role, what)

    found = []
    for stage in p.timeline.reminders:
        if reminder_key(a.id, a.due_at, stage.name) in sent:
            continue
        if stage.at > now:
            found.append(notice(stage.at, "reminder", stage.name))
        elif p.latest is not None and stage.name == p.latest.name:
            found.append(notice(plans.opening_now, "reminder", f"{stage.name} (due; sent at the next opening)"))
    at = p.escalation_next
    if p.escalation_now is not None and escalation_key(a.id, a.due_at, p.escalation_now.astimezone(
            calendar.tz).date()) not in sent:
        found.append(notice(plans.opening_now, "escalation", "overdue (due; sent at the next opening)"))
    for _ in range(PLANNED_ESCALATIONS):
        if at is None:
            break
        found.append(notice(at, "escalation", "overdue"))
        at = p.timeline.next_escalation(calendar, at)
    return found
