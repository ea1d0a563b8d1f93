"""The numbers of a report: the inquiries received in a period, counted as of a cut-off, by unit
and by domain, and the pages' posts (every definition: the package docstring, __init__.py)."""
from __future__ import annotations

import statistics
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Callable, Iterable, Mapping, Optional, Sequence

from sqlalchemy import select

from routing import taxonomy
from scheduler.calendar import WorkingCalendar
from scheduler.reports.period import Period
from store import Assignment, Inquiry, PagePost

UTC = timezone.utc
UNCLASSIFIED = "chua_phan_loai"


@dataclass(frozen=True)
class PageInfo:
    """A page whose own posts the report counts, and the unit it belongs to."""

    id: str
    name: str
    unit: Optional[str]


@dataclass(frozen=True)
class Counts:
    received: int = 0
    assigned: int = 0
    on_time: int = 0
    late: int = 0
    open: int = 0
    overdue: int = 0
    median_hours: Optional[float] = None
    # answered by the cut-off on the channel's page itself, not through an approved draft
    # ("gửi không qua phê duyệt", Inquiry.answered_via "page"); a column of its own, after the median
    unapproved: int = 0

    def as_row(self) -> tuple:
        return (self.received, self.assigned, self.on_time, self.late, self.open, self.overdue, self.median_hours)


@dataclass(frozen=True)
class Line:
    """One inquiry of the cohort, as the report counts it."""

    code: str
    unit_code: str
    domain: str
    received_at: datetime
    due_at: Optional[datetime]
    answered_at: Optional[datetime]  # None if not answered by the cut-off
    assigned: bool
    outcome: str  # on_time | late | open | overdue | closed
    response_hours: Optional[float]
    text: str
    unapproved: bool = False  # answered on the page itself, without approval


@dataclass(frozen=True)
class PostCount:
    page_id: str
    page_name: str
    unit_code: Optional[str]
    week: str
    posts: int
    minimum: int

    @property
    def meets(self) -> bool:
        return self.posts >= self.minimum


@dataclass(frozen=True)
class Group:
    key: str
    name: str
    counts: Counts


@dataclass(frozen=True)
class Report:
    period: Period
    as_of: datetime
    unit: Optional[str]  # None: the whole province; else this unit's extract
    unit_names: Mapping[str, str]
    lines: tuple[Line, ...]
    posts: tuple[PostCount, ...]
    min_posts: int

    @property
    def total(self) -> Counts:
        return summarize(self.lines)

    @property
    def unit_name(self) -> Optional[str]:
        return self.unit_names.get(self.unit, self.unit) if self.unit else None

    @property
    def by_unit(self) -> list[Group]:
        return _groups(self.lines, lambda line: line.unit_code, lambda code: self.unit_names.get(code, code))

    @property
    def by_domain(self) -> list[Group]:
        return _groups(self.lines, lambda line: line.domain, domain_name)

    def extract(self, unit_code: str) -> "Report":
        """The part one unit head receives: its inquiries and its pages."""
        return replace(self, unit=unit_code, lines=tuple(l for l in self.lines if l.unit_code == unit_code),
                       posts=tuple(p for p in self.posts if p.unit_code == unit_code))


def report_domain(inquiry) -> str:
    """The domain an inquiry is counted under: an officer's correction first, as the queue and
    the notices use it (a walkthrough found a corrected inquiry counted under the classifier's
    guess); a guess that is no domain (a status question or a greeting sent to triage, and
    assigned without a correction) is "Chưa phân loại", not "Tra cứu phản ánh"."""
    intent = inquiry.corrected_intent or inquiry.intent
    return intent if intent in taxonomy.DOMAIN_INTENTS else UNCLASSIFIED


def domain_name(key: str) -> str:
    if key == UNCLASSIFIED:
        return "Chưa phân loại"
    return taxonomy.domain_name(key, "vi")


def summarize(lines: Iterable[Line]) -> Counts:
    lines = list(lines)
    hours = [l.response_hours for l in lines if l.response_hours is not None]
    return Counts(
        received=len(lines), assigned=sum(l.assigned for l in lines),
        on_time=sum(l.outcome == "on_time" for l in lines), late=sum(l.outcome == "late" for l in lines),
        open=sum(l.outcome in ("open", "overdue") for l in lines), overdue=sum(l.outcome == "overdue" for l in lines),
        median_hours=round(statistics.median(hours), 2) if hours else None,
        unapproved=sum(l.unapproved for l in lines),
    )


def _groups(lines: Sequence[Line], key: Callable[[Line], str], name: Callable[[str], str]) -> list[Group]:
    buckets: dict[str, list[Line]] = {}
    for line in lines:
        buckets.setdefault(key(line), []).append(line)
    groups = [Group(k, name(k), summarize(v)) for k, v in buckets.items()]
    return sorted(groups, key=lambda g: (-g.counts.received, g.name))


def build_report(session, calendar: WorkingCalendar, period: Period, as_of: datetime, *,
                 unit_names: Mapping[str, str], pages: Sequence[PageInfo], min_posts: int = 5) -> Report:
    """Count the period's cohort as of `as_of` (every definition: scheduler/reports/__init__.py)."""
    start, end = period.start.astimezone(UTC), period.end.astimezone(UTC)
    # received by `as_of` too: a report of the running week is a picture at one moment (a
    # walkthrough saw "Số liệu tính đến 23:55" count as received what came at 23:58, but not
    # as assigned or answered)
    inquiries = session.execute(select(Inquiry).where(Inquiry.received_at >= start, Inquiry.received_at < end,
                                                      Inquiry.received_at <= as_of.astimezone(UTC))
                                .order_by(Inquiry.received_at, Inquiry.id)).scalars().all()
    leads: dict[int, list[Assignment]] = {}
    ids = [i.id for i in inquiries]
    for offset in range(0, len(ids), 500):
        for a in session.execute(select(Assignment).where(Assignment.inquiry_id.in_(ids[offset:offset + 500]),
                                                          Assignment.role.in_(("lead", "triage")))
                                 .order_by(Assignment.assigned_at, Assignment.id)).scalars():
            leads.setdefault(a.inquiry_id, []).append(a)
    lines = []
    for inquiry in inquiries:
        answered = inquiry.answered_at if inquiry.answered_at is not None and inquiry.answered_at <= as_of else None
        moment = answered or as_of
        current = [a for a in leads.get(inquiry.id, []) if a.assigned_at <= moment]
        lead = current[-1] if current else None
        due = lead.due_at if lead else inquiry.due_at
        assigned = any(a.role == "lead" and a.assigned_at <= as_of for a in leads.get(inquiry.id, []))
        if answered is not None:
            outcome = "on_time" if due is None or answered <= due else "late"
            hours = calendar.working_time_between(inquiry.received_at, answered).total_seconds() / 3600
        else:
            hours = None
            if inquiry.status == "closed":
                outcome = "closed"
            else:
                outcome = "overdue" if due is not None and due < as_of else "open"
        lines.append(Line(
            code=inquiry.code or f"#{inquiry.id}", unit_code=(lead.unit_code if lead else inquiry.unit_code) or "-",
            domain=report_domain(inquiry), received_at=inquiry.received_at, due_at=due,
            answered_at=answered, assigned=assigned, outcome=outcome, response_hours=hours, text=inquiry.text,
            unapproved=answered is not None and inquiry.answered_via == "page",
        ))
    posts = _post_counts(session, period, as_of, pages, min_posts)
    return Report(period=period, as_of=as_of, unit=None, unit_names=dict(unit_names), lines=tuple(lines),
                  posts=posts, min_posts=min_posts)


def _post_counts(session, period: Period, as_of: datetime, pages: Sequence[PageInfo],
                 minimum: int) -> tuple[PostCount, ...]:
    weeks = period.iso_weeks
    counts: dict[tuple[str, str], int] = {}
    for post in session.execute(select(PagePost.page_id, PagePost.iso_week, PagePost.removed_at)
                                .where(PagePost.iso_week.in_(weeks))):
        if post.removed_at is None or post.removed_at > as_of:
            counts[(post.page_id, post.iso_week)] = counts.get((post.page_id, post.iso_week), 0) + 1
    known = {p.id: p for p in pages}
    page_ids = list(known) + sorted({page for page, _ in counts if page not in known})
    rows = []
    for page_id in page_ids:
        page = known.get(page_id)
        for week in weeks:
            rows.append(PostCount(page_id, page.name if page else page_id, page.unit if page else None, week,
                                  counts.get((page_id, week), 0), minimum))
    return tuple(rows)
