"""Report periods: an ISO week (Monday 00:00 to Sunday 24:00) or a calendar month, in local time,
labelled like ``2026-W48`` or ``2026-11``."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

KINDS = ("weekly", "monthly")
_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
# The years a period may be in. Decision 3887/QĐ-UBND dates from 2017: no inquiry of this
# system is older, and the console builds a report (three files in its archive) for any past
# period asked for, so the first year bounds what it may be made to write. The last year keeps
# a period's end inside Python's dates.
YEARS = (2017, 9998)


def _year(year: int, label: str) -> int:
    if not YEARS[0] <= year <= YEARS[1]:
        raise ValueError(f"{label}: reports cover {YEARS[0]}-{YEARS[1]}")
    return year


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
    year, week = _year(int(match.group(1)), label), int(match.group(2))
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
    year, month = _year(int(match.group(1)), label), int(match.group(2))
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
