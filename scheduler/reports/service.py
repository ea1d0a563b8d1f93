"""Building, writing and e-mailing the reports; the scheduler's jobs call `send`.

**The archive** (`archive`, the instance's `reports/` directory): the console serves reports
from files, not from a build in its request. A report's files (HTML, chart, workbook) are
named by period and cut-off; a period whose cut-off has passed never changes, so its files
are written once: by the scheduler when it sends the report (so the console finds them
ready), or by the first person who opens an older one. Before the cut-off a report counts
"as of now", rounded down to `FRESH` (5 minutes): at most one build per 5 minutes and
period. Measured with 10 000 inquiries (a month of 9 136) on 2 cores: a week builds and
renders in about 1.2 s, a month in about 3.5 s (the workbook is most of it), too slow to
repeat on every click (bench/README.md).

Sending is recorded in ``notifications`` (kind ``report_weekly``/``report_monthly``, key
``report:<kind>:<label>:<audience>``), once per period and audience. A failed send is marked
``retry`` (not ``pending``: the generic sender cannot rebuild the attachments) and
`ReportService.retry_due` sends it again, rebuilt with the same cut-off, with a capped backoff
(at most 30 min) for RETRY_FOR (72 hours), not for a number of attempts.
"""
from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Callable, Optional, Sequence

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select

from scheduler.calendar import WorkingCalendar
from scheduler.notifications.email import Attachment
from scheduler.notifications.router import DeliveryError
from scheduler.reports.build import PageInfo, Report, build_report
from scheduler.reports.period import KINDS, Period, parse_period, period_before
from scheduler.reports.render import file_stem, render_chart, render_html, render_text, render_xlsx, subject_vi
from store import Database, Notification
from store.queue import retry_delay

log = logging.getLogger(__name__)
UTC = timezone.utc
RETRY_FOR = timedelta(hours=72)  # as the notices (scheduler.notifications.delivery): a mail server down a day
FRESH = timedelta(minutes=5)  # a report before its cut-off is rebuilt at most this often
FORMATS = ("html", "png", "xlsx")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class UnitInfo:
    code: str
    name: str
    head_email: Optional[str]


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
                 unit_extracts: bool = True, schedule: ReportSchedule = ReportSchedule(), min_posts: int = 5,
                 archive: Optional[Path] = None):
        self.db, self.calendar, self.notifier, self.clock = db, calendar, notifier, clock
        self.archive = archive
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

    # ---- the archive the console serves ----------------------------------------------------
    def archived(self, period: Period, now: Optional[datetime] = None) -> dict[str, Path]:
        """The report's files {"html", "png", "xlsx"} as of its cut-off (or, before it, as of now
        rounded down to FRESH), written on first use. The HTML shows the chart as
        "<label>.png" (the console serves the three beside each other)."""
        if self.archive is None:
            raise RuntimeError("no report archive configured")
        as_of = self.as_of(period, now)
        if as_of < self.cutoff(period):
            stamp = as_of.timestamp()
            as_of = datetime.fromtimestamp(stamp - stamp % FRESH.total_seconds(), UTC)
        stem = f"ddci-{period.kind}-{period.label}-{as_of.astimezone(UTC):%Y%m%dT%H%MZ}"  # as file_stem
        paths = {ext: self.archive / f"{stem}.{ext}" for ext in FORMATS}
        if not all(p.exists() for p in paths.values()):
            self._archive(self.build(period, as_of=as_of), paths)
        return paths

    def _archive(self, report: Report, paths: dict[str, Path]) -> None:
        """Write the three files, each atomically (a reader never sees half a file; two
        writers at once write the same bytes)."""
        rendered = self.render(report, chart_src=f"{report.period.label}.png")
        self.archive.mkdir(parents=True, exist_ok=True)
        for ext, data in (("html", rendered.html.encode("utf-8")), ("png", rendered.png), ("xlsx", rendered.xlsx)):
            fd, tmp = tempfile.mkstemp(dir=self.archive, prefix=".tmp-")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, paths[ext])

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
        if self.archive is not None and full.as_of >= self.cutoff(period):
            try:  # the console serves it from here: no build in a web request
                stem = f"{file_stem(full)}-{full.as_of.astimezone(UTC):%Y%m%dT%H%MZ}"
                self._archive(full, {ext: self.archive / f"{stem}.{ext}" for ext in FORMATS})
            except OSError as exc:  # a full disk must not stop the e-mail
                log.warning("report %s %s not archived: %s", period.kind, period.label, exc)
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
                if error.permanent or now - row.created_at >= RETRY_FOR:
                    row.status = "failed"
                else:  # 1 min, 2 min ... at most 30 min (a report is rebuilt at every attempt)
                    row.status, row.next_attempt_at = "retry", now + retry_delay(row.attempts, base=60, cap=1800)
        return 0 if error else 1
