"""The console's lists, read-only: a unit's queue, the standing office's triage queue, the
drafts awaiting an approver, and this week's overview per unit.

Each list is one or two indexed queries (assignments by unit, status and due time; the latest
draft of each row through a correlated subquery on drafts(inquiry, unit, id)), paged in SQL;
working time left is computed only for the rows of the page. Search input is always a bound
parameter (LIKE with its wildcards escaped), never formatted into SQL, and compared folded
(`search_clause`: diacritics ignored both ways, phone numbers as digits, the business's name
and e-mail too). Scoping (which unit a user may ask for) is the console's: these functions
take the unit they are given.

Queue states (of a unit's open duty, from the latest draft of its answer): mới (no draft),
đang soạn, chờ duyệt, bị trả lại, đã gửi (approved, on its way: the clock stops when the
channel has sent it), không gửi được (the channel could not: record the answer given another
way); "quá hạn" is the due time having passed, shown with the state (`overdue`) and usable
as a filter. A coordinating or triage duty has no draft: mới (or quá hạn).
"""
from __future__ import annotations

import unicodedata

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional

from sqlalchemy import and_, case, exists, func, or_, select, tuple_
from sqlalchemy.orm import aliased

from cases.answers import AnswerWindow
from cases.approval import Actor
from routing.taxonomy import domain_name
from scheduler.notifications.delivery import UNNAMED
from scheduler.notifications.render import overdue_vi, time_left_vi
from scheduler.reports import iso_week_label, week_period
from store import Assignment, Conversation, DeadlineChange, Draft, Inquiry
from store.search import fold, like_pattern, query_phone

STATES = ("new", "drafting", "awaiting_approval", "returned", "sent", "undeliverable", "overdue")
STATE_VI = {"new": "mới", "drafting": "đang soạn", "awaiting_approval": "chờ duyệt", "returned": "bị trả lại",
            "sent": "đã gửi", "undeliverable": "không gửi được", "overdue": "quá hạn"}
ROLES = ("lead", "coordinate", "triage")
ROLE_VI = {"lead": "chủ trì", "coordinate": "phối hợp", "triage": "phân loại"}
MAX_PER_PAGE = 200
PREVIEW_CHARS = 160
DOMAIN = func.coalesce(Inquiry.corrected_intent, Inquiry.intent)  # the domain as it stands


@dataclass(frozen=True)
class Filters:
    """What the queue page asks for (all optional); unknown values are refused (CaseError-free:
    ValueError, which the page turns into a 400)."""

    state: Optional[str] = None
    role: Optional[str] = None
    domain: Optional[str] = None
    search: Optional[str] = None
    page: int = 1
    per_page: int = 50

    def checked(self) -> "Filters":
        if self.state is not None and self.state not in STATES:
            raise ValueError(f"unknown state {self.state!r}")
        if self.role is not None and self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}")
        if self.page < 1 or not 1 <= self.per_page <= MAX_PER_PAGE:
            raise ValueError("page must be >= 1 and per_page between 1 and 200")
        return self


@dataclass(frozen=True)
class QueueRow:
    assignment_id: int
    inquiry_id: int
    code: str
    unit: str
    role: str
    domain: Optional[str]  # the domain as it stands (an officer's correction, else the intent); None: unclassified
    received_at: datetime
    due_at: datetime
    working_left: timedelta  # negative: working time past the due time
    state: str
    overdue: bool
    due_today: bool
    draft_id: Optional[int]
    preview: str  # the start of what the business wrote (text: escape it when rendering)
    channel: str
    sender_id: str
    phone: Optional[str]
    email: Optional[str]
    business: Optional[str] = None  # the name the channel gave (conversations.display_name), if any

    @property
    def business_vi(self) -> str:
        """Who wrote, by name; never a raw id (as the officers' notices say it)."""
        return self.business or UNNAMED.get(self.channel) or f"Người dùng {self.channel}"

    @property
    def state_vi(self) -> str:
        return STATE_VI[self.state]

    @property
    def role_vi(self) -> str:
        return ROLE_VI.get(self.role, self.role)

    @property
    def domain_vi(self) -> str:
        return domain_name(self.domain, "vi") if self.domain else "Chưa phân loại"

    @property
    def working_left_vi(self) -> str:
        hours = self.working_left.total_seconds() / 3600
        return time_left_vi(hours) if hours > 0 else overdue_vi(-hours)


@dataclass(frozen=True)
class Page:
    rows: tuple
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _state_expression():
    latest = (select(Draft.status).where(Draft.inquiry_id == Assignment.inquiry_id,
                                         Draft.unit_code == Assignment.unit_code)
              .order_by(Draft.id.desc()).limit(1).correlate(Assignment).scalar_subquery())
    return case((latest == "draft", "drafting"), (latest == "submitted", "awaiting_approval"),
                (latest == "returned", "returned"), (latest.in_(("approved", "sent")), "sent"),
                (latest == "undeliverable", "undeliverable"), else_="new")


def search_clause(q: str):
    """A WHERE clause on Inquiry for what a person typed in a search box: the code contains it
    (any case), or the text, or the business's name, e-mail or phone (its conversation)
    contains it folded (store.search: diacritics ignored both ways); a phone number also as
    digits, "+84" as "0". Bound, its wildcards literal. Scoping is the caller's."""
    q = unicodedata.normalize("NFC", q.strip())  # texts are stored NFC (bot/channels/base.py)
    code = Inquiry.code.ilike(like_pattern(q), escape="\\")
    needles = [like_pattern(n) for n in dict.fromkeys(filter(None, (fold(q), query_phone(q))))]
    if not needles:  # nothing left once folded (a lone combining mark)
        return code
    c = aliased(Conversation)  # its own: the queue's select joins Conversation already
    business = exists().where(c.page_id == Inquiry.page_id, c.sender_id == Inquiry.sender_id,
                              or_(*(c.search_text.like(n, escape="\\") for n in needles))).correlate(Inquiry)
    return or_(code, *(Inquiry.search_text.like(n, escape="\\") for n in needles), business)


def unit_queue(s, calendar, unit: Optional[str], now: datetime, filters: Filters = Filters()) -> Page:
    """Open duties of `unit` (lead, coordinating or triage; None: every unit, for the standing
    office's province-wide view), most urgent first (earliest due time), one page of them."""
    filters = filters.checked()
    state = _state_expression().label("state")
    latest_id = (select(Draft.id).where(Draft.inquiry_id == Assignment.inquiry_id,
                                        Draft.unit_code == Assignment.unit_code)
                 .order_by(Draft.id.desc()).limit(1).correlate(Assignment).scalar_subquery().label("draft_id"))
    where = [Assignment.status == "open"]
    if unit is not None:
        where.append(Assignment.unit_code == unit)
    if filters.role:
        where.append(Assignment.role == filters.role)
    if filters.domain:
        where.append(DOMAIN == filters.domain)
    if filters.search and filters.search.strip():
        where.append(search_clause(filters.search))
    if filters.state == "overdue":
        where.append(Assignment.due_at < now)
    elif filters.state:
        where.append(_state_expression() == filters.state)
    base = (select(Assignment.id, Assignment.inquiry_id, Assignment.unit_code, Assignment.role, Assignment.due_at,
                   Inquiry.code, DOMAIN, Inquiry.received_at, func.substr(Inquiry.text, 1, PREVIEW_CHARS),
                   Inquiry.channel, Inquiry.sender_id, Conversation.phone, Conversation.email, state, latest_id,
                   Conversation.display_name)
            .join(Inquiry, Inquiry.id == Assignment.inquiry_id)
            .outerjoin(Conversation, and_(Conversation.page_id == Inquiry.page_id,
                                          Conversation.sender_id == Inquiry.sender_id))
            .where(*where))
    total = s.execute(select(func.count()).select_from(Assignment).join(Inquiry, Inquiry.id == Assignment.inquiry_id)
                      .where(*where)).scalar()
    rows = s.execute(base.order_by(Assignment.due_at, Assignment.id)
                     .limit(filters.per_page).offset((filters.page - 1) * filters.per_page)).all()
    today = calendar.local_date(now)
    out = []
    for r in rows:
        (aid, iid, unit_code, role, due, code, intent, received, preview, channel, sender, phone, email,
         row_state, draft_id, name) = r
        left = calendar.working_time_between(now, due) if due > now else -calendar.working_time_between(due, now)
        out.append(QueueRow(aid, iid, code, unit_code, role, intent, received, due, left, row_state, due <= now,
                            calendar.local_date(due) == today, draft_id, preview or "", channel, sender, phone,
                            email, name))
    return Page(tuple(out), total, filters.page, filters.per_page)


@dataclass(frozen=True)
class TriageRow:
    row: QueueRow
    origin: str  # unsure (the classifier was not sure) | returned (a unit sent it back)
    returned_by: Optional[str]  # the unit that sent it back
    reason: Optional[str]  # its reason, as recorded ("<unit's name> trả lại: <reason>")

    @property
    def reason_given(self) -> Optional[str]:
        """The unit's own words, without the "<unit> trả lại: " the deadline change records."""
        head, sep, rest = (self.reason or "").partition(" trả lại: ")
        return rest if sep and self.origin == "returned" else self.reason
    confidence: Optional[float]


def triage_queue(s, calendar, standing_office: str, now: datetime, filters: Filters = Filters()) -> Page:
    """The standing office's triage queue: what the classifier was unsure of and what a unit
    sent back (Casework.send_back), most urgent first."""
    page = unit_queue(s, calendar, standing_office, now, Filters(
        state=filters.state, role="triage", domain=filters.domain, search=filters.search, page=filters.page,
        per_page=filters.per_page))
    ids = [r.assignment_id for r in page.rows]
    reasons = dict(s.execute(select(DeadlineChange.assignment_id, DeadlineChange.reason)
                             .where(DeadlineChange.assignment_id.in_(ids))).all()) if ids else {}
    confidences = dict(s.execute(select(Inquiry.id, Inquiry.confidence)
                                 .where(Inquiry.id.in_([r.inquiry_id for r in page.rows]))).all()) if ids else {}
    out = []
    for r in page.rows:
        reason = reasons.get(r.assignment_id)
        returned = s.execute(select(Assignment.unit_code).where(
            Assignment.inquiry_id == r.inquiry_id, Assignment.status == "returned",
            Assignment.id < r.assignment_id).order_by(Assignment.id.desc()).limit(1)).scalar() if reason else None
        out.append(TriageRow(r, "returned" if returned else "unsure", returned, reason, confidences.get(r.inquiry_id)))
    return Page(tuple(out), page.total, page.page, page.per_page)


@dataclass(frozen=True)
class ApprovalRow:
    draft_id: int
    code: str
    unit: str
    author: str
    language: str
    english: bool  # needs a second approver whatever the unit's settings (Art. 8.4)
    submitted_at: datetime
    due_at: Optional[datetime]  # the lead unit's deadline
    working_left: Optional[timedelta]  # working time left for approval before that deadline (negative: late)
    window: AnswerWindow  # the channel's window for a person's answer


def awaiting_approval(s, cases, actor: Actor, now: datetime, limit: int = 50) -> list[ApprovalRow]:
    """Drafts waiting for `actor`'s approval (those the rules let them approve: their unit's, and
    heads' drafts for the standing office), the nearest deadline first, at most `limit`."""
    rules = cases.answers.rules
    mine = [Draft.unit_code == actor.unit]
    if rules.is_approver(actor.email, actor.role, actor.unit, rules.standing_office):
        mine.append(Draft.author_approver.is_(True))
    rows = s.execute(select(Draft, Inquiry, Assignment.due_at)
                     .join(Inquiry, Inquiry.id == Draft.inquiry_id)
                     .outerjoin(Assignment, and_(Assignment.inquiry_id == Draft.inquiry_id,
                                                 Assignment.unit_code == Draft.unit_code,
                                                 Assignment.role == "lead", Assignment.status == "open"))
                     .where(Draft.status == "submitted", or_(*mine),
                            func.lower(Draft.author) != (actor.email or "").strip().lower())
                     .order_by(Assignment.due_at, Draft.id).limit(limit)).all()
    pairs = {(inquiry.page_id, inquiry.sender_id) for _, inquiry, _ in rows}
    # one query into the session's identity map (held here: it keeps weak references) instead
    # of one per row in window()
    held = s.execute(select(Conversation).where(tuple_(Conversation.page_id, Conversation.sender_id)
                                                .in_(pairs))).scalars().all() if pairs else []
    out = []
    for d, inquiry, due in rows:
        facts = cases.answers.facts(d, inquiry)
        if not rules.can_approve(actor.email, actor.role, actor.unit, facts):
            continue
        left = None
        if due is not None:
            left = (cases.calendar.working_time_between(now, due) if due > now
                    else -cases.calendar.working_time_between(due, now))
        out.append(ApprovalRow(d.id, inquiry.code, d.unit_code, d.author, d.language, facts.english,
                               d.submitted_at, due, left, cases.answers.window(s, inquiry)))
    del held
    return out


@dataclass(frozen=True)
class OverviewRow:
    unit: str
    name: str
    received: int
    on_time: int
    late: int
    open: int
    overdue: int
    awaiting_approval: int  # drafts "chờ duyệt" now
    unapproved: int  # answered this week on the page itself, without approval


@dataclass(frozen=True)
class Overview:
    week: str  # ISO week label, e.g. 2026-W49
    as_of: datetime
    rows: tuple[OverviewRow, ...]


def overview(s, cases, now: datetime) -> Overview:
    """Per unit, the inquiries received this ISO week (local time) counted as of now, as the
    weekly report counts them (scheduler.reports: the unit and due time of the lead or triage
    assignment current at the answer, or now), plus the drafts awaiting approval now.

    Counted in SQL, one grouped query (the report's builder reads every inquiry of the period
    as ORM rows: 0.3-0.7 s at 10 000 inquiries, too slow for a page); tests check that both
    count alike."""
    calendar = cases.calendar
    period = week_period(iso_week_label(calendar.local_date(now)), calendar.tz)
    start, end = period.start.astimezone(timezone.utc), period.end.astimezone(timezone.utc)
    names = {u.code: u.name for u in cases.directory}
    current = (select(Assignment.id).where(Assignment.inquiry_id == Inquiry.id,
                                           Assignment.role.in_(("lead", "triage")), Assignment.assigned_at <= now)
               .order_by(Assignment.assigned_at.desc(), Assignment.id.desc()).limit(1)
               .correlate(Inquiry).scalar_subquery())
    unit = func.coalesce(Assignment.unit_code, Inquiry.unit_code, "-")
    due = func.coalesce(Assignment.due_at, Inquiry.due_at)
    answered = and_(Inquiry.answered_at.isnot(None), Inquiry.answered_at <= now)
    still_open = and_(or_(Inquiry.answered_at.is_(None), Inquiry.answered_at > now), Inquiry.status != "closed")

    def count(condition):
        return func.sum(case((condition, 1), else_=0))

    counted = s.execute(
        select(unit, func.count(), count(and_(answered, or_(due.is_(None), Inquiry.answered_at <= due))),
               count(and_(answered, due.isnot(None), Inquiry.answered_at > due)), count(still_open),
               count(and_(still_open, due.isnot(None), due < now)), count(and_(answered, Inquiry.answered_via == "page")))
        .select_from(Inquiry).outerjoin(Assignment, Assignment.id == current)
        .where(Inquiry.received_at >= start, Inquiry.received_at < end).group_by(unit)).all()
    groups = {code: tuple(int(v or 0) for v in values) for code, *values in counted}
    waiting = dict(s.execute(select(Draft.unit_code, func.count()).where(Draft.status == "submitted")
                             .group_by(Draft.unit_code)).all())
    # the report's order: most received first, then by name
    units = sorted(groups, key=lambda c: (-groups[c][0], names.get(c, c))) + sorted(set(waiting) - set(groups))
    rows = []
    for code in units:
        received, on_time, late, open_, overdue, unapproved = groups.get(code, (0, 0, 0, 0, 0, 0))
        rows.append(OverviewRow(code, names.get(code, code), received, on_time, late, open_, overdue,
                                waiting.get(code, 0), unapproved))
    return Overview(period.label, now, tuple(rows))
