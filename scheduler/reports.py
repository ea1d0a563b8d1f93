"""Weekly and monthly reports (Decision 3887/QĐ-UBND, Art. 10.2: weekly, on Thursday; Art. 10.5:
monthly), built from the database, rendered as HTML + text + a chart (PNG) + a workbook (.xlsx),
and e-mailed: the whole report to the configured recipients, each unit head their unit's extract.

Definitions (also printed in every report, in Vietnamese):

- Period. Weekly: one ISO week, Monday 00:00 to Sunday 24:00 local time (Asia/Ho_Chi_Minh),
  labelled like ``2026-W48``. The report sent on Thursday covers the PREVIOUS complete week: by
  Thursday every 3-working-day deadline of that week has passed (an inquiry received on Sunday
  is due on Wednesday 17:00), so "late" and "overdue" mean something, and the 5-posts-a-week
  minimum can only be judged on a whole week. Monthly: a calendar month in local time
  (``2026-11``), sent on the 1st for the month before.
- Cut-off (``as_of``). Counts are as of the report's scheduled sending time (Thursday at the
  configured hour after the week; the 1st at the configured hour after the month), or of the
  moment the report is built if that is earlier. Rebuilding a report later gives the numbers
  that were sent.
- Cohort. Every count is about the inquiries RECEIVED in the period (``received_at``).
- Unit. The unit of the inquiry's lead assignment (role ``lead``; ``triage`` while the standing
  office has not assigned it) current when it was answered, or at the cut-off if unanswered.
  Coordinating units are not counted. Domain: the classified intent.
- received: all of them. assigned: those with a ``lead`` assignment made by the cut-off.
  answered on time: ``answered_at`` <= cut-off and ``answered_at <= due_at`` of that lead
  assignment. answered late: answered by the cut-off, after that due time. open: not answered by
  the cut-off (an inquiry closed without an answer is neither answered nor open). overdue: open
  and its due time is before the cut-off.
- Response time: office time (WorkingCalendar.working_time_between) from ``received_at`` to
  ``answered_at``, in working hours; the report gives the median of the answered inquiries.
- Posts: each page's own posts (PagePost rows, ``iso_week`` in local time) not removed by the
  cut-off, against the minimum (5 a week). Monthly: the ISO weeks whose Thursday falls in the
  month (ISO's rule for the month a week belongs to).

Sending is recorded in ``notifications`` (kind ``report_weekly``/``report_monthly``, key
``report:<kind>:<label>:<audience>``), once per period and audience. A failed send is marked
``retry`` (not ``pending``: the generic sender cannot rebuild the attachments) and
`ReportService.retry_due` sends it again, rebuilt with the same cut-off, with backoff.
"""
from __future__ import annotations

import io
import logging
import re
import statistics
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional, Sequence

from apscheduler.triggers.cron import CronTrigger
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select

from routing import taxonomy
from scheduler.calendar import WorkingCalendar
from scheduler.notifications.email import Attachment
from scheduler.notifications.router import DeliveryError
from store import Assignment, Database, Inquiry, Notification, PagePost
from store.queue import backoff

log = logging.getLogger(__name__)
UTC = timezone.utc
KINDS = ("weekly", "monthly")
MAX_ATTEMPTS = 8
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UNCLASSIFIED = "chua_phan_loai"
_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_env = Environment(
    loader=FileSystemLoader(str(Path(__file__).with_name("templates"))),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    keep_trailing_newline=True,
)

OUTCOME_VI = {"on_time": "Trả lời đúng hạn", "late": "Trả lời quá hạn", "open": "Đang xử lý",
              "overdue": "Quá hạn, chưa trả lời", "closed": "Đã đóng, không trả lời"}
COLUMNS_VI = ("Tiếp nhận", "Đã giao", "Trả lời đúng hạn", "Trả lời quá hạn", "Đang xử lý",
              "Quá hạn chưa trả lời", "Thời gian trả lời trung vị (giờ làm việc)")
DEFINITIONS_VI = (
    "Kỳ báo cáo tuần là một tuần ISO, từ 00:00 thứ Hai đến 24:00 Chủ nhật (giờ Việt Nam); báo cáo gửi "
    "ngày thứ Năm là của tuần liền trước. Kỳ báo cáo tháng là tháng dương lịch, gửi ngày đầu tháng sau.",
    "Số liệu tính đến thời điểm chốt (thời điểm gửi theo lịch), về các phản ánh TIẾP NHẬN trong kỳ.",
    "Đơn vị: đơn vị chủ trì được giao (Ban Xúc tiến khi còn chờ phân loại); không tính đơn vị phối hợp.",
    "Đã giao: đã có đơn vị chủ trì. Đúng hạn: trả lời trước hoặc đúng hạn của đơn vị chủ trì; quá hạn: "
    "trả lời sau hạn. Đang xử lý: chưa trả lời đến thời điểm chốt; quá hạn chưa trả lời: đang xử lý và "
    "đã qua hạn.",
    "Thời gian trả lời: số giờ làm việc (trong giờ hành chính, ngày làm việc) từ khi tiếp nhận đến khi "
    "trả lời; báo cáo nêu giá trị trung vị.",
    "Bài đăng: số bài trang tự đăng trong tuần (không tính bài đã gỡ), so với mức tối thiểu mỗi tuần. "
    "Báo cáo tháng tính các tuần ISO có ngày thứ Năm thuộc tháng.",
)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# ---------------------------------------------------------------------------------- periods
@dataclass(frozen=True)
class Period:
    """A report period: [start, end) in local time."""

    kind: str  # weekly | monthly
    label: str  # 2026-W48 | 2026-11
    start: datetime
    end: datetime

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()

    @property
    def title_vi(self) -> str:
        if self.kind == "weekly":
            year, week = self.label.split("-W")
            return (f"tuần {int(week)}/{year} ({self.start:%d/%m/%Y} – {self.last_day:%d/%m/%Y})")
        return f"tháng {self.start:%m/%Y}"

    @property
    def iso_weeks(self) -> tuple[str, ...]:
        """The ISO weeks whose posts count: the week itself, or those whose Thursday is in the month."""
        if self.kind == "weekly":
            return (self.label,)
        weeks, day = [], self.start.date()
        while day < self.end.date():
            if day.weekday() == 3:
                weeks.append(iso_week_label(day))
            day += timedelta(days=1)
        return tuple(weeks)


def iso_week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_period(label: str, tz) -> Period:
    match = _WEEK_RE.match(label or "")
    if not match:
        raise ValueError(f"not an ISO week: {label!r} (expected e.g. 2026-W48)")
    year, week = int(match.group(1)), int(match.group(2))
    try:
        monday = date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ValueError(f"{label}: {year} has no ISO week {week}") from None
    start = datetime.combine(monday, time(0), tzinfo=tz)
    return Period("weekly", f"{year}-W{week:02d}", start, start + timedelta(days=7))


def month_period(label: str, tz) -> Period:
    match = _MONTH_RE.match(label or "")
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"not a month: {label!r} (expected e.g. 2026-11)")
    year, month = int(match.group(1)), int(match.group(2))
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return Period("monthly", f"{year}-{month:02d}", datetime.combine(date(year, month, 1), time(0), tzinfo=tz),
                  datetime.combine(nxt, time(0), tzinfo=tz))


def period_before(kind: str, instant: datetime, tz) -> Period:
    """The last complete week (or month) before `instant`, in local time."""
    local = instant.astimezone(tz).date()
    if kind == "weekly":
        return week_period(iso_week_label(local - timedelta(days=7)), tz)
    if kind == "monthly":
        first = local.replace(day=1) - timedelta(days=1)
        return month_period(f"{first.year}-{first.month:02d}", tz)
    raise ValueError(f"unknown report kind {kind!r} (weekly or monthly)")


def parse_period(kind: str, label: str, tz) -> Period:
    if kind == "weekly":
        return week_period(label, tz)
    if kind == "monthly":
        return month_period(label, tz)
    raise ValueError(f"unknown report kind {kind!r} (weekly or monthly)")


# ---------------------------------------------------------------------------------- numbers
@dataclass(frozen=True)
class Counts:
    received: int = 0
    assigned: int = 0
    on_time: int = 0
    late: int = 0
    open: int = 0
    overdue: int = 0
    median_hours: Optional[float] = None

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
    )


def _groups(lines: Sequence[Line], key: Callable[[Line], str], name: Callable[[str], str]) -> list[Group]:
    buckets: dict[str, list[Line]] = {}
    for line in lines:
        buckets.setdefault(key(line), []).append(line)
    groups = [Group(k, name(k), summarize(v)) for k, v in buckets.items()]
    return sorted(groups, key=lambda g: (-g.counts.received, g.name))


def build_report(session, calendar: WorkingCalendar, period: Period, as_of: datetime, *,
                 unit_names: Mapping[str, str], pages: Sequence["PageInfo"], min_posts: int = 5) -> Report:
    """Count the period's cohort as of `as_of` (see the module docstring for every definition)."""
    start, end = period.start.astimezone(UTC), period.end.astimezone(UTC)
    inquiries = session.execute(select(Inquiry).where(Inquiry.received_at >= start, Inquiry.received_at < end)
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
            domain=inquiry.intent or UNCLASSIFIED, received_at=inquiry.received_at, due_at=due,
            answered_at=answered, assigned=assigned, outcome=outcome, response_hours=hours, text=inquiry.text,
        ))
    posts = _post_counts(session, period, as_of, pages, min_posts)
    return Report(period=period, as_of=as_of, unit=None, unit_names=dict(unit_names), lines=tuple(lines),
                  posts=posts, min_posts=min_posts)


def _post_counts(session, period: Period, as_of: datetime, pages: Sequence["PageInfo"],
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


# -------------------------------------------------------------------------------- rendering
def _hours_vi(value: Optional[float]) -> str:
    """One decimal, half up, with a decimal comma (20.25 -> "20,3")."""
    if value is None:
        return "-"
    return str(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)).replace(".", ",")


def _local(instant: Optional[datetime], tz) -> str:
    return "-" if instant is None else instant.astimezone(tz).strftime("%H:%M %d/%m/%Y")


def title_vi(report: Report) -> str:
    kind = "tuần" if report.period.kind == "weekly" else "tháng"
    base = f"Báo cáo {kind} tiếp nhận, trả lời phản ánh của doanh nghiệp – {report.period.title_vi}"
    return _nfc(base + (f" – {report.unit_name}" if report.unit else ""))


def subject_vi(report: Report) -> str:
    return f"[DDCI Quảng Ninh] {title_vi(report)}"


def file_stem(report: Report) -> str:
    return f"ddci-{report.period.kind}-{report.period.label}" + (f"-{report.unit}" if report.unit else "")


def _view(report: Report, tz, chart_src: Optional[str]) -> dict:
    total = report.total
    detail = list(report.lines) if report.unit else [l for l in report.lines if l.outcome == "overdue"]
    return {
        "title": title_vi(report), "subject": subject_vi(report), "period": report.period.title_vi,
        "as_of": _local(report.as_of, tz), "unit_name": report.unit_name, "chart_src": chart_src,
        "columns": COLUMNS_VI, "min_posts": report.min_posts, "definitions": DEFINITIONS_VI,
        "total": [*total.as_row()[:-1], _hours_vi(total.median_hours)],
        "by_unit": [(g.name, *g.counts.as_row()[:-1], _hours_vi(g.counts.median_hours)) for g in report.by_unit],
        "by_domain": [(g.name, *g.counts.as_row()[:-1], _hours_vi(g.counts.median_hours)) for g in report.by_domain],
        "posts": [(p.page_name, report.unit_names.get(p.unit_code or "", p.unit_code or "-"), p.week, p.posts,
                   p.minimum, "Đạt" if p.meets else "Chưa đạt") for p in report.posts],
        "detail_title": "Danh sách phản ánh" if report.unit else "Phản ánh quá hạn chưa trả lời",
        "detail": [(l.code, report.unit_names.get(l.unit_code, l.unit_code), domain_name(l.domain),
                    _local(l.received_at, tz), _local(l.due_at, tz), _local(l.answered_at, tz),
                    OUTCOME_VI[l.outcome], _hours_vi(l.response_hours)) for l in detail],
    }


def render_html(report: Report, tz, chart_src: Optional[str]) -> str:
    return _nfc(_env.get_template("report.html").render(**_view(report, tz, chart_src)))


def render_text(report: Report, tz) -> str:
    return _nfc(_env.get_template("report.txt").render(**_view(report, tz, None)))


def render_chart(report: Report) -> bytes:
    """Stacked bars per unit (per domain in a unit's extract): on time, late, open, overdue."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    groups = (report.by_domain if report.unit else report.by_unit)[:15]
    height = max(3.0, 0.45 * len(groups) + 1.6)
    fig = Figure(figsize=(9, height), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    if not groups:
        ax.text(0.5, 0.5, "Không có phản ánh trong kỳ", ha="center", va="center", fontsize=12)
        ax.set_axis_off()
    else:
        names = [g.name if len(g.name) <= 40 else g.name[:39] + "…" for g in reversed(groups)]
        series = (("Đúng hạn", "on_time", "#2e7d32"), ("Quá hạn (đã trả lời)", "late", "#f9a825"),
                  ("Đang xử lý", None, "#1565c0"), ("Quá hạn chưa trả lời", "overdue", "#c62828"))
        left = [0] * len(groups)
        for label, field, color in series:
            if field is None:
                values = [g.counts.open - g.counts.overdue for g in reversed(groups)]
            else:
                values = [getattr(g.counts, field) for g in reversed(groups)]
            ax.barh(names, values, left=left, color=color, label=label)
            left = [a + b for a, b in zip(left, values)]
        ax.set_xlabel("Số phản ánh")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=4, fontsize=8, frameon=False)
        ax.xaxis.get_major_locator().set_params(integer=True)
    scope = f"theo lĩnh vực – {report.unit_name}" if report.unit else "theo đơn vị"
    ax.set_title(_nfc(f"Phản ánh {report.period.title_vi} {scope}"), fontsize=11)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def render_xlsx(report: Report, tz) -> bytes:
    """The same tables as the e-mail, one sheet each, numbers as numbers."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    bold = Font(bold=True)

    def sheet(title: str, header: Sequence[str], rows: Iterable[Sequence], first: bool = False):
        ws = wb.active if first else wb.create_sheet()
        ws.title = title
        ws.append(list(header))
        for cell in ws[1]:
            cell.font = bold
        for row in rows:
            ws.append(list(row))
        for index, name in enumerate(header, start=1):
            ws.column_dimensions[get_column_letter(index)].width = max(12, min(60, len(str(name)) + 2))
        ws.freeze_panes = "A2"
        return ws

    def local(instant: Optional[datetime]):
        return None if instant is None else instant.astimezone(tz).replace(tzinfo=None)

    total = report.total
    summary = sheet("Tổng hợp", ("Chỉ tiêu", "Giá trị"), [
        ("Báo cáo", title_vi(report)), ("Kỳ", report.period.label),
        ("Số liệu tính đến", local(report.as_of)),
        *zip(COLUMNS_VI, total.as_row()),
    ], first=True)
    summary.column_dimensions["A"].width = 45
    summary.column_dimensions["B"].width = 70
    summary["B4"].number_format = "dd/mm/yyyy hh:mm"
    sheet("Theo đơn vị", ("Mã đơn vị", "Đơn vị", *COLUMNS_VI),
          [(g.key, g.name, *g.counts.as_row()) for g in report.by_unit])
    sheet("Theo lĩnh vực", ("Mã lĩnh vực", "Lĩnh vực", *COLUMNS_VI),
          [(g.key, g.name, *g.counts.as_row()) for g in report.by_domain])
    sheet("Bài đăng", ("Mã trang", "Trang", "Đơn vị", "Tuần", "Số bài", "Tối thiểu", "Đánh giá"),
          [(p.page_id, p.page_name, report.unit_names.get(p.unit_code or "", p.unit_code or "-"), p.week, p.posts,
            p.minimum, "Đạt" if p.meets else "Chưa đạt") for p in report.posts])
    detail = sheet("Chi tiết", ("Mã phản ánh", "Đơn vị", "Lĩnh vực", "Tiếp nhận", "Hạn trả lời", "Trả lời",
                                "Kết quả", "Giờ làm việc", "Nội dung"),
                   [(l.code, report.unit_names.get(l.unit_code, l.unit_code), domain_name(l.domain),
                     local(l.received_at), local(l.due_at), local(l.answered_at), OUTCOME_VI[l.outcome],
                     None if l.response_hours is None else round(l.response_hours, 2), l.text[:500])
                    for l in report.lines])
    for column in ("D", "E", "F"):
        for cell in detail[column][1:]:
            cell.number_format = "dd/mm/yyyy hh:mm"
    sheet("Cách tính", ("Cách tính",), [(d,) for d in DEFINITIONS_VI]).column_dimensions["A"].width = 120
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------- service
@dataclass(frozen=True)
class UnitInfo:
    code: str
    name: str
    head_email: Optional[str]


@dataclass(frozen=True)
class PageInfo:
    id: str
    name: str
    unit: Optional[str]


@dataclass(frozen=True)
class ReportSchedule:
    weekly_weekday: str = "thu"
    weekly_time: time = time(8, 0)
    monthly_day: int = 1
    monthly_time: time = time(8, 0)


@dataclass(frozen=True)
class RenderedReport:
    report: Report
    subject: str
    text: str
    html: str  # for e-mail: the chart is "cid:chart"
    png: bytes
    xlsx: bytes


class ReportService:
    """Builds, writes and sends the reports; the scheduler calls `send` from its cron jobs."""

    def __init__(self, *, db: Database, calendar: WorkingCalendar, notifier, clock: Callable[[], datetime],
                 units: Sequence[UnitInfo], pages: Sequence[PageInfo], recipients: Sequence[str],
                 unit_extracts: bool = True, schedule: ReportSchedule = ReportSchedule(), min_posts: int = 5):
        self.db, self.calendar, self.notifier, self.clock = db, calendar, notifier, clock
        self.units = {u.code: u for u in units}
        self.pages, self.recipients = list(pages), list(recipients)
        self.unit_extracts, self.schedule, self.min_posts = unit_extracts, schedule, min_posts

    # ---- periods -----------------------------------------------------------------------
    def triggers(self) -> dict[str, CronTrigger]:
        tz, sched = self.calendar.tz, self.schedule
        return {
            "weekly": CronTrigger(day_of_week=sched.weekly_weekday, hour=sched.weekly_time.hour,
                                  minute=sched.weekly_time.minute, timezone=tz),
            "monthly": CronTrigger(day=sched.monthly_day, hour=sched.monthly_time.hour,
                                   minute=sched.monthly_time.minute, timezone=tz),
        }

    def period(self, kind: str, label: str) -> Period:
        return parse_period(kind, label, self.calendar.tz)

    def period_before(self, kind: str, instant: datetime) -> Period:
        return period_before(kind, instant, self.calendar.tz)

    def cutoff(self, period: Period) -> datetime:
        """The scheduled sending time of the period's report (the first after it ends)."""
        return self.triggers()[period.kind].get_next_fire_time(None, period.end).astimezone(UTC)

    def as_of(self, period: Period, now: Optional[datetime] = None) -> datetime:
        return min(now or self.clock(), self.cutoff(period))

    # ---- build and render --------------------------------------------------------------
    def build(self, period: Period, *, as_of: Optional[datetime] = None, unit: Optional[str] = None) -> Report:
        as_of = as_of or self.as_of(period)
        with self.db.session() as s:
            report = build_report(s, self.calendar, period, as_of, unit_names={c: u.name for c, u in self.units.items()},
                                  pages=self.pages, min_posts=self.min_posts)
        return report.extract(unit) if unit else report

    def render(self, report: Report, chart_src: str = "cid:chart") -> RenderedReport:
        tz = self.calendar.tz
        return RenderedReport(report, subject_vi(report), render_text(report, tz), render_html(report, tz, chart_src),
                              render_chart(report), render_xlsx(report, tz))

    def write(self, report: Report, out_dir: Path) -> list[Path]:
        """The .html (showing the .png beside it), the .png and the .xlsx; returns their paths."""
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = file_stem(report)
        rendered = self.render(report, chart_src=f"{stem}.png")
        paths = [out_dir / f"{stem}.html", out_dir / f"{stem}.png", out_dir / f"{stem}.xlsx"]
        paths[0].write_text(rendered.html, encoding="utf-8")
        paths[1].write_bytes(rendered.png)
        paths[2].write_bytes(rendered.xlsx)
        return paths

    # ---- send --------------------------------------------------------------------------
    def extract_units(self, report: Report) -> list[str]:
        """Units whose head gets an extract: those with inquiries in the period or a page."""
        codes = {line.unit_code for line in report.lines} | {p.unit for p in self.pages if p.unit}
        return sorted(c for c in codes if c in self.units and self.units[c].head_email)

    def send(self, period: Period, *, now: Optional[datetime] = None, manual: bool = False,
             only_unit: Optional[str] = None) -> int:
        """E-mail the report (and the unit extracts) once per period and audience; returns how many went.

        `manual` (the CLI's --send) sends again even if the scheduled one went, under its own key.
        """
        now = now or self.clock()
        full = self.build(period, as_of=self.as_of(period, now))
        audiences: list[tuple[str, list[str], Optional[str]]] = []
        if only_unit is None:
            audiences.append(("all", self.recipients, None))
        if self.unit_extracts or only_unit:
            for code in ([only_unit] if only_unit else self.extract_units(full)):
                head = self.units[code].head_email if code in self.units else None
                if head:
                    audiences.append((f"unit={code}", [head], code))
        sent = 0
        for audience, recipients, unit in audiences:
            if not recipients:
                continue
            key = f"report:{period.kind}:{period.label}:{audience}"
            if manual:
                key += f":manual-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"
            with self.db.session() as s:
                row = s.execute(select(Notification).where(Notification.idempotency_key == key)).scalar_one_or_none()
                if row is not None and (row.status in ("sent", "failed") or row.next_attempt_at > now):
                    continue
            sent += self._deliver(key, full.extract(unit) if unit else full, recipients, now)
        return sent

    def retry_due(self, now: Optional[datetime] = None) -> int:
        """Send again the reports whose last attempt failed, rebuilt with their cut-off."""
        now = now or self.clock()
        with self.db.session() as s:
            rows = s.execute(select(Notification.idempotency_key, Notification.recipients, Notification.created_at)
                             .where(Notification.kind.in_([f"report_{k}" for k in KINDS]),
                                    Notification.status == "retry", Notification.next_attempt_at <= now)).all()
        sent = 0
        for key, recipients, created in rows:
            parts = key.split(":")
            period = self.period(parts[1], parts[2])
            report = self.build(period, as_of=min(created, self.cutoff(period)))
            if parts[3].startswith("unit="):
                report = report.extract(parts[3][len("unit="):])
            sent += self._deliver(key, report, recipients, now)
        return sent

    def _deliver(self, key: str, report: Report, recipients: Sequence[str], now: datetime) -> int:
        rendered = self.render(report)
        stem = file_stem(report)
        attachments = [Attachment(f"{stem}.png", rendered.png, "image/png", cid="chart"),
                       Attachment(f"{stem}.xlsx", rendered.xlsx, XLSX_MIME)]
        error: Optional[DeliveryError] = None
        try:
            self.notifier.send(list(recipients), rendered.subject, rendered.text, rendered.html, attachments=attachments)
        except DeliveryError as exc:
            error = exc
            log.warning("report %s to %s failed: %s", key, recipients, exc)
        with self.db.session() as s:
            row = s.execute(select(Notification).where(Notification.idempotency_key == key)).scalar_one_or_none()
            if row is None:
                row = Notification(idempotency_key=key, kind=f"report_{report.period.kind}",
                                   channel=getattr(self.notifier, "channel", "email"), recipients=list(recipients),
                                   subject=rendered.subject, body_text=rendered.text, body_html=rendered.html,
                                   status="retry", attempts=0, next_attempt_at=now, created_at=now)
                s.add(row)
            row.attempts += 1
            if error is None:
                row.status, row.sent_at, row.last_error = "sent", now, None
            else:
                row.last_error = str(error)
                if error.permanent or row.attempts >= MAX_ATTEMPTS:
                    row.status = "failed"
                else:
                    row.status, row.next_attempt_at = "retry", now + backoff(row.attempts, base=60)
        return 0 if error else 1
