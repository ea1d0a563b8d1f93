"""Working-day calendar for the answer deadlines of Quảng Ninh government units.

Rules (Decision 3887/QĐ-UBND of Quảng Ninh; Civil Code 2015 Art. 147): the day of the
event is not counted; the deadline is the close of office hours on the N-th working day
after the *local* date of the event (Asia/Ho_Chi_Minh, UTC+7, no DST). An event on a
weekend, a holiday or after hours belongs to its local date; counting starts the next day.

A working day is Monday-Friday and not an official day off, or a declared make-up
working Saturday. Precedence, first match wins:

1. ``make_up_workdays`` (config)              -> working
2. ``not_days_off`` (config)                  -> the package's day off is ignored;
                                                 working if Monday-Friday
3. ``days_off`` (config)                      -> off
4. statutory days off (``holidays`` package, ``country_holidays("VN")``) -> off
5. the package's own make-up Saturdays (``weekend_workdays``, the other half of
   the swaps it knows)                        -> working
6. Saturday and Sunday                        -> off; every other day is working

Office hours are a list of sessions, the same every working day (``office_hours``):
by default a morning session 07:30-11:30 and an afternoon session 13:30-17:00, 7.5 h a
day. Quảng Ninh's own decision on the office hours of its administrative agencies was
not found (searched: "Quảng Ninh giờ làm việc cơ quan hành chính", "UBND tỉnh Quảng Ninh
quy định thời gian làm việc mùa hè mùa đông"; only other provinces' notices came
up: Hải Dương, Bắc Giang, Vĩnh Phúc 873/QĐ-UBND, Nghệ An, Thái Nguyên, all with 8-hour
days), so these are the project's defaults, not a provincial rule (the national week is
40 h, QĐ 188/1999/QĐ-TTg); see scheduler/vn-calendar.source.yml. Every measure of office
time uses the sessions:
``next_opening`` (an instant at lunch moves to the afternoon opening),
``working_time_between`` ("còn N giờ làm việc", the reports' response times),
``add_working_time`` (the reminders' half-time point). A deadline (``due``) is the close
of the last session.

``declared_years`` lists the years whose days off and make-up Saturdays have been
declared in config from the government's notices; for any other year the calendar
falls back on the ``holidays`` package's guess (see the findings below), so a deadline
in such a year is provisional (``is_declared``, ``undeclared_soon``).

The module is pure: it receives plain values (``from_mapping`` takes the parsed
``calendar:`` section of config.yml) and reads no file, database or clock.

Findings: ``holidays`` package vs the official notices (scheduler/vn-calendar.source.yml)
-----------------------------------------------------------------------------------------
Pin: ``holidays==0.86``. It is the newest release whose requirements fit the project
virtualenv: holidays >= 0.87 requires ``python-dateutil>=2.9.0.post0`` while rasa 3.6.21
requires ``python-dateutil>=2.8,<2.9``. Releases up to 0.107 support Python 3.10
(0.108+ need 3.11). Both were checked for 2025-2026:

* Both versions agree with the notices on: 2025-01-01; Tết Ất Tỵ 2025-01-27..31;
  2025-04-07; 2025-04-30, 05-01; 2025-09-01, 09-02; 2026-01-01; Tết Bính Ngọ
  2026-02-16..20; Giỗ Tổ 2026-04-26 (Sunday) with substitute Monday 2026-04-27;
  2026-04-30, 05-01; 2026-09-01, 09-02.
* 0.86 lacks: the 2025-05-02 swap (and the make-up Saturday 2025-04-26), the 2026-01-02
  swap (make-up 2026-01-10), the 2026-08-31 swap (make-up 2026-08-22) and 2026-11-24
  Ngày Văn hóa Việt Nam. 0.107 has 2025-05-02/04-26, 2026-08-31/08-22 and 2026-11-24,
  and lacks only 2026-01-02/01-10.
* Neither version marks a 2025-2026 weekday off that the notices do not, so
  ``not_days_off`` is empty today. Both mark Saturday 2025-02-01 (mùng 4 Tết) as a
  holiday; it is a weekend day anyway. Both name 2025-01-27 "29 Tết" while that day was
  28 tháng Chạp (config names win). Neither has the proposed 2026-11-23 swap (correct:
  it was never confirmed).
* Every official 2025-2026 weekday off and make-up Saturday is declared in config, so
  results for those years do not depend on the package version.
* 2027 is not announced. Both versions guess Tết 2027-02-04..10 (Thu-Wed, five
  weekdays: 29 tháng Chạp .. mùng 5) and Quốc khánh 2027-09-02 + 09-03; the Prime
  Minister may choose other days. Correct a wrong guess with ``not_days_off`` plus
  ``days_off``. 0.86 has no 24/11 (Ngày Văn hóa Việt Nam, from 2026): this module adds
  it to every year from 2026 (``CULTURE_DAY_FROM``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone as _dt_timezone
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Optional, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["DEFAULT_OFFICE_HOURS", "SkippedDay", "DueExplanation", "WorkingCalendar", "weekday_vi", "weekday_en"]

UTC = _dt_timezone.utc
_EMPTY: Mapping[date, str] = MappingProxyType({})

# Ngày Văn hóa Việt Nam, 24/11 every year from 2026, a paid day off (Nghị quyết 28/2026/QH16,
# in force 01/07/2026, per secondary sources: scheduler/vn-calendar.source.yml). The pinned
# holidays 0.86 does not know it, so it is added to the statutory days of every year from
# 2026 (config's days_off named it for 2026 only, and 2027 onwards counted it as a working
# day). Whether a 24/11 on a weekend gives a day off in lieu is not settled (it is outside
# Bộ luật Lao động Điều 112; python-holidays 0.109 gives one): none is added, and the first
# such year, 2029 (a Saturday), is to be declared with its notice (days_off).
CULTURE_DAY_FROM = 2026
CULTURE_DAY_NAME = "Ngày Văn hóa Việt Nam"

# Longest run of consecutive non-working days tolerated before giving up; a guard
# against a config that closes everything (which would otherwise loop forever).
_MAX_GAP_DAYS = 366

# The days of the week as written inside a sentence ("hạn 17:00 thứ Năm, ngày 10/12/2026");
# a line or a table cell that starts with one capitalises it (_WEEKDAYS_VI: "Thứ Năm").
WEEKDAYS_VI = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEKDAYS_VI = tuple(name[:1].upper() + name[1:] for name in WEEKDAYS_VI)
_WEEKDAYS_EN = WEEKDAYS_EN

# Morning and afternoon sessions (open, close), local time. Defaults: Quảng Ninh's own hours
# were not found (module docstring; scheduler/vn-calendar.source.yml, office_hours).
DEFAULT_OFFICE_HOURS: tuple[tuple[time, time], ...] = (
    (time(7, 30), time(11, 30)),
    (time(13, 30), time(17, 0)),
)
# The single {open, close} mapping accepted before sessions existed: its defaults.
_LEGACY_OPEN, _LEGACY_CLOSE = time(7, 30), time(17, 0)
_SESSION_KEYS = ("open", "close")

_SECTION_KEYS = (
    "timezone",
    "office_hours",
    "declared_years",
    "use_statutory_holidays",
    "days_off",
    "make_up_workdays",
    "not_days_off",
)
_ENTRY_KEYS = ("date", "name", "doc")
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def _nfc(text: str) -> str:
    """Officers see these strings; one normalization form keeps comparisons and fonts sane."""
    return unicodedata.normalize("NFC", text)


def weekday_vi(day: date) -> str:
    """The day of the week as written in a Vietnamese sentence ("thứ Năm", "Chủ nhật"): a
    due date read as "10/12/2026" alone made its reader count on a calendar whether it was
    this week's Thursday or next Monday. Not strftime("%A"): that follows the process's locale."""
    return WEEKDAYS_VI[day.weekday()]


def weekday_en(day: date) -> str:
    return WEEKDAYS_EN[day.weekday()]


def _fmt_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _fmt_offset(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta(0)
    sign = "+" if offset >= timedelta(0) else "-"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


@lru_cache(maxsize=None)
def _statutory_year(year: int) -> tuple[Mapping[date, str], frozenset[date]]:
    """Vietnam's statutory days off of one year and the package's make-up Saturdays.

    Cached per year because building a ``holidays`` object computes the lunar calendar.
    """
    try:
        import holidays
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "the 'holidays' package is required for statutory holidays "
            "(install holidays==0.86, or use use_statutory_holidays: false)"
        ) from exc
    found = holidays.country_holidays("VN", years=year, language="vi")
    days = {d: _nfc(name) for d, name in found.items() if d.year == year}
    culture_day = date(year, 11, 24)
    if year >= CULTURE_DAY_FROM and culture_day not in days:  # holidays 0.86 predates it
        days[culture_day] = CULTURE_DAY_NAME
    workdays = frozenset(getattr(found, "weekend_workdays", ()) or ())
    return MappingProxyType(days), workdays


@dataclass(frozen=True)
class SkippedDay:
    """A day not counted towards a deadline, with the reason shown to officers (Vietnamese)."""

    day: date
    reason: str


@dataclass(frozen=True)
class DueExplanation:
    """How a deadline was reached, so an officer can check it day by day.

    ``start`` and ``due`` are aware datetimes in the calendar's local time zone (they
    compare equal to the UTC instants returned by ``WorkingCalendar.due``).
    """

    start: datetime
    days: int
    due: datetime
    counted: list[date]
    skipped: list[SkippedDay]

    def render(self, lang: str = "vi") -> str:
        """Human-readable explanation, one fact per line; ``lang`` is "vi" or "en"."""
        if lang not in ("vi", "en"):
            raise ValueError(f"render: unsupported language {lang!r} (use 'vi' or 'en')")
        vi = lang == "vi"
        names = _WEEKDAYS_VI if vi else _WEEKDAYS_EN

        def day_label(day: date) -> str:
            return f"{names[day.weekday()]} {_fmt_date(day)}"

        def moment_label(moment: datetime) -> str:
            return f"{moment:%H:%M} {day_label(moment.date())} ({_fmt_offset(moment)})"

        lines: list[str] = []
        if vi:
            lines.append(
                f"Thời điểm phát sinh: {moment_label(self.start)}; ngày phát sinh không tính."
            )
            lines.append(f"Thời hạn: {self.days} ngày làm việc.")
            lines.append("Các ngày làm việc được tính:")
        else:
            unit = "working day" if self.days == 1 else "working days"
            lines.append(f"Event: {moment_label(self.start)}; the day of the event is not counted.")
            lines.append(f"Time allowed: {self.days} {unit}.")
            lines.append("Working days counted:")
        for number, day in enumerate(self.counted, start=1):
            note = ""
            if day.weekday() >= 5:
                note = " (ngày làm bù)" if vi else " (make-up working day)"
            lines.append(f"  {number}. {day_label(day)}{note}")
        if not self.skipped:
            lines.append("Các ngày không tính: không có" if vi else "Days not counted: none")
        else:
            lines.append("Các ngày không tính:" if vi else "Days not counted:")
            for item in self.skipped:
                lines.append(f"  - {day_label(item.day)}: {self._reason_text(item, vi)}")
        label = "Hạn xử lý" if vi else "Due"
        lines.append(f"{label}: {moment_label(self.due)}")
        return "\n".join(lines)

    @staticmethod
    def _reason_text(item: SkippedDay, vi: bool) -> str:
        """Weekend reasons start with the weekday name; say "weekly rest" instead of repeating it."""
        weekday_vi = _WEEKDAYS_VI[item.day.weekday()]
        if item.day.weekday() >= 5 and item.reason.startswith(weekday_vi):
            rest = item.reason[len(weekday_vi):]
            return ("nghỉ hằng tuần" if vi else "weekly rest day") + rest
        return item.reason if vi else f"day off - {item.reason}"


class WorkingCalendar:
    """Working days and office hours of Vietnamese public offices, for deadlines and reports."""

    def __init__(
        self,
        *,
        timezone: str | ZoneInfo = "Asia/Ho_Chi_Minh",
        office_hours: Sequence[tuple[time, time]] = DEFAULT_OFFICE_HOURS,
        days_off: Mapping[date, str] = _EMPTY,
        make_up_workdays: Mapping[date, str] = _EMPTY,
        not_days_off: Mapping[date, str] = _EMPTY,
        use_statutory: bool = True,
        declared_years: Iterable[int] = (),
    ) -> None:
        self._tz = _zone(timezone)
        self._sessions = _check_sessions(office_hours, "office_hours")
        if not isinstance(use_statutory, bool):
            raise ValueError(f"use_statutory must be true or false, got {use_statutory!r}")
        self._use_statutory = use_statutory
        self._declared = _check_years(declared_years, "declared_years")
        self._days_off = _date_map(days_off, "days_off")
        self._make_up = _date_map(make_up_workdays, "make_up_workdays")
        self._not_off = _date_map(not_days_off, "not_days_off")
        for a_name, a_map, b_name, b_map in (
            ("days_off", self._days_off, "make_up_workdays", self._make_up),
            ("days_off", self._days_off, "not_days_off", self._not_off),
        ):
            both = sorted(set(a_map) & set(b_map))
            if both:
                raise ValueError(
                    f"{both[0].isoformat()} is listed in both {a_name} and {b_name}; keep only one"
                )

    # ------------------------------------------------------------------ config
    @classmethod
    def from_mapping(cls, section: Mapping) -> "WorkingCalendar":
        """Build from the parsed ``calendar:`` section of config.yml; bad input -> ValueError naming it."""
        if not isinstance(section, Mapping):
            raise ValueError(f"calendar: the section must be a mapping, got {type(section).__name__}")
        unknown = [k for k in section if k not in _SECTION_KEYS]
        if unknown:
            hint = ""
            if "calendar" in unknown:
                hint = " (pass config['calendar'], not the whole config)"
            raise ValueError(
                f"calendar: unknown key {unknown[0]!r}{hint}; allowed keys: {', '.join(_SECTION_KEYS)}"
            )
        kwargs: dict[str, Any] = {}
        if "timezone" in section:
            tz_name = section["timezone"]
            if not isinstance(tz_name, str) or not tz_name:
                raise ValueError(
                    f"calendar.timezone: expected a zone name such as 'Asia/Ho_Chi_Minh', got {tz_name!r}"
                )
            _zone(tz_name, where="calendar.timezone")
            kwargs["timezone"] = tz_name
        hours = section.get("office_hours")
        if hours is not None:
            kwargs["office_hours"] = _parse_office_hours(hours, "calendar.office_hours")
        if "declared_years" in section:
            kwargs["declared_years"] = _parse_years(section["declared_years"], "calendar.declared_years")
        if "use_statutory_holidays" in section:
            flag = section["use_statutory_holidays"]
            if not isinstance(flag, bool):
                raise ValueError(f"calendar.use_statutory_holidays: expected true or false, got {flag!r}")
            kwargs["use_statutory"] = flag
        kwargs["days_off"] = _parse_entries(section.get("days_off"), "days_off")
        kwargs["make_up_workdays"] = _parse_entries(section.get("make_up_workdays"), "make_up_workdays")
        kwargs["not_days_off"] = _parse_entries(section.get("not_days_off"), "not_days_off")
        try:
            return cls(**kwargs)
        except ValueError as exc:
            raise ValueError(f"calendar: {exc}") from exc

    # ------------------------------------------------------------------ days
    @property
    def tz(self) -> ZoneInfo:
        return self._tz

    @property
    def office_hours(self) -> tuple[tuple[time, time], ...]:
        """The sessions (open, close) of every working day, in order; local time."""
        return self._sessions

    @property
    def declared_years(self) -> tuple[int, ...]:
        """The years whose days off are declared in config, ascending."""
        return tuple(sorted(self._declared))

    def warm(self, instant: datetime) -> None:
        """Build the statutory holidays of ``instant``'s local year and the next now, not in the
        first deadline a process computes: that took 80-90 ms (the ``holidays`` package's tables,
        then cached for the process), and the worker computes its first deadline while it holds
        the database's write lock, which the webhook's requests wait for (bench/README.md,
        05/12/2026: the first hold of a burst was 112 ms). The worker calls it at its start."""
        year = self.local_date(instant).year
        for y in (year, year + 1):
            _statutory_year(y)

    def local_date(self, instant: datetime) -> date:
        """The local calendar date of an aware instant (23:30 UTC is already tomorrow in Vietnam)."""
        return self._local(instant).date()

    def is_working_day(self, day: date) -> bool:
        return self._classify(_check_day(day))[0]

    def day_off_reason(self, day: date) -> str | None:
        """Why ``day`` is not a working day, in Vietnamese; None for a working day."""
        working, reason = self._classify(_check_day(day))
        return None if working else reason

    # ------------------------------------------------------------------ declared years
    def is_declared(self, when: date | datetime) -> bool:
        """Whether the days off of ``when``'s year (local year for an instant) are declared.

        For an undeclared year the calendar relies on the ``holidays`` package, which only
        guesses Tết and the swaps the Prime Minister decides each autumn; a deadline computed
        in such a year may move once the notice is out, so it is to be shown as provisional
        ("tạm tính"). The wiring (health check, admin e-mail, marking) is the caller's.
        """
        return self._year_of(when) in self._declared

    def undeclared_soon(self, today: date | datetime) -> Optional[int]:
        """Next year's number if ``today`` is on or after 1 December and next year is not declared.

        For a reminder to the administrator: from December, deadlines of inquiries received
        near the year's end already fall in January, and the government usually publishes
        the next year's days off in October-November; an undeclared next year by then means
        config.yml needs its ``days_off``/``make_up_workdays`` and ``declared_years`` entry.
        None otherwise (before December, or next year declared). The current year being
        undeclared is ``not is_declared(today)``, not this.
        """
        if isinstance(today, datetime):
            today = self._local(today).date()
        else:
            today = _check_day(today)
        following = today.year + 1
        if today.month == 12 and following not in self._declared:
            return following
        return None

    # ------------------------------------------------------------------ deadlines
    def due(self, start: datetime, days: int) -> datetime:
        """Deadline (aware UTC): office close on the ``days``-th working day after the local start date."""
        return self.explain_due(start, days).due.astimezone(UTC)

    def explain_due(self, start: datetime, days: int) -> DueExplanation:
        """Like ``due`` but keeps every counted and skipped day, for display to officers."""
        _check_count(days, minimum=1)
        local_start = self._local(start)
        counted: list[date] = []
        skipped: list[SkippedDay] = []
        day = local_start.date()
        gap = 0
        while len(counted) < days:
            day += timedelta(days=1)
            working, reason = self._classify(day)
            if working:
                counted.append(day)
                gap = 0
            else:
                skipped.append(SkippedDay(day, reason or ""))
                gap = self._guard_gap(gap, day)
        due_local = self._at(counted[-1], self._sessions[-1][1])
        return DueExplanation(
            start=local_start, days=days, due=due_local, counted=counted, skipped=skipped
        )

    def shift_working_days(self, instant: datetime, days: int) -> datetime:
        """Same local clock time, ``days`` working days later (negative: earlier); aware UTC.

        Used for reminders such as "one working day before the due time".
        """
        _check_count(days, minimum=None)
        local = self._local(instant)
        day = local.date()
        step = timedelta(days=1 if days > 0 else -1)
        remaining = abs(days)
        gap = 0
        while remaining:
            day += step
            if self.is_working_day(day):
                remaining -= 1
                gap = 0
            else:
                gap = self._guard_gap(gap, day)
        return datetime.combine(day, local.time(), tzinfo=self._tz).astimezone(UTC)

    def next_opening(self, instant: datetime) -> datetime:
        """The instant itself if offices are open then, else the next opening; aware UTC.

        Each session is the half-open interval [open, close): at exactly the close of the
        morning session offices are shut until the afternoon opening (lunch break).
        """
        local = self._local(instant)
        day = local.date()
        if self.is_working_day(day):
            clock = local.time()
            for opening, closing in self._sessions:
                if clock < opening:
                    return self._at(day, opening).astimezone(UTC)
                if clock < closing:
                    return local.astimezone(UTC)
        gap = 0
        while True:
            day += timedelta(days=1)
            if self.is_working_day(day):
                return self._at(day, self._sessions[0][0]).astimezone(UTC)
            gap = self._guard_gap(gap, day)

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Office time elapsed from ``a`` to ``b`` (0 if b <= a), sessions only (no lunch break).

        What officers read as "còn N giờ làm việc" and the reports' response times.
        """
        start = self._local(a)
        end = self._local(b)
        total = timedelta(0)
        if end <= start:
            return total
        day = start.date()
        last = end.date()
        while day <= last:
            for window_open, window_close in self._windows(day):
                lo = max(start, window_open)
                hi = min(end, window_close)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total

    def add_working_time(self, start: datetime, amount: timedelta) -> datetime:
        """The instant when ``amount`` of office time has elapsed from ``start``; aware UTC.

        The inverse of ``working_time_between``, for the reminders' half-time point. Time
        runs only inside sessions; landing exactly on the close of a session gives the next
        opening (13:30 after a morning that ends at 11:30), as offices are shut at close.
        """
        if not isinstance(amount, timedelta) or amount < timedelta(0):
            raise ValueError(f"amount must be a non-negative timedelta, got {amount!r}")
        moment = self._local(self.next_opening(start))
        remaining = amount
        day = moment.date()
        gap = 0
        while True:
            windows = self._windows(day)
            for window_open, window_close in windows:
                if window_close <= moment:
                    continue
                lo = max(window_open, moment)
                span = window_close - lo
                if remaining < span:
                    return (lo + remaining).astimezone(UTC)
                remaining -= span
            gap = 0 if windows else self._guard_gap(gap, day)
            day += timedelta(days=1)

    # ------------------------------------------------------------------ internals
    def _local(self, instant: datetime) -> datetime:
        if not isinstance(instant, datetime):
            raise TypeError(f"expected an aware datetime, got {type(instant).__name__}")
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError(
                f"naive datetime {instant.isoformat()} has no time zone; pass an aware datetime (e.g. UTC)"
            )
        return instant.astimezone(self._tz)

    def _at(self, day: date, clock: time) -> datetime:
        return datetime.combine(day, clock, tzinfo=self._tz)

    def _windows(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's sessions as local (open, close) instants; none on a day off."""
        if not self.is_working_day(day):
            return []
        return [(self._at(day, opening), self._at(day, closing)) for opening, closing in self._sessions]

    def _year_of(self, when: date | datetime) -> int:
        if isinstance(when, datetime):
            return self._local(when).year
        if not isinstance(when, date):
            raise TypeError(f"expected a datetime.date or an aware datetime, got {type(when).__name__}")
        return when.year

    def _guard_gap(self, gap: int, day: date) -> int:
        gap += 1
        if gap > _MAX_GAP_DAYS:
            raise ValueError(
                f"no working day within {_MAX_GAP_DAYS} days around {day.isoformat()}; "
                "check the calendar config"
            )
        return gap

    def _classify(self, day: date) -> tuple[bool, str | None]:
        """(is working, reason if not) following the precedence in the module docstring."""
        weekday = day.weekday()
        weekend = weekday >= 5
        if day in self._make_up:
            return True, None
        holiday: str | None = None
        if day in self._not_off:
            holiday = None
        elif day in self._days_off:
            holiday = self._days_off[day]
        elif self._use_statutory:
            holiday = self._statutory_name(day)
            if holiday is None and weekend and self._statutory_workday(day):
                return True, None
        if weekend:
            name = _WEEKDAYS_VI[weekday]
            return False, f"{name} ({holiday})" if holiday else name
        if holiday:
            return False, holiday
        return True, None

    @staticmethod
    def _statutory_name(day: date) -> str | None:
        return _statutory_year(day.year)[0].get(day)

    @staticmethod
    def _statutory_workday(day: date) -> bool:
        # A swap may pair a January day off with a December Saturday of the year before,
        # so look in the following year's data too.
        return any(day in _statutory_year(year)[1] for year in (day.year, day.year + 1))


# ---------------------------------------------------------------------- helpers
def _zone(value: str | ZoneInfo, where: str = "timezone") -> ZoneInfo:
    if isinstance(value, ZoneInfo):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected a zone name such as 'Asia/Ho_Chi_Minh', got {value!r}")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{where}: unknown time zone {value!r}") from exc


def _check_day(day: date) -> date:
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(
            f"expected a datetime.date, got {type(day).__name__}; use local_date() for an instant"
        )
    return day


def _check_count(days: int, *, minimum: int | None) -> None:
    if isinstance(days, bool) or not isinstance(days, int):
        raise ValueError(f"days must be an integer, got {days!r}")
    if minimum is not None and days < minimum:
        raise ValueError(f"days must be >= {minimum}, got {days}")


def _date_map(values: Mapping[date, str], label: str) -> Mapping[date, str]:
    if not isinstance(values, Mapping):
        raise ValueError(f"{label} must be a mapping of date -> name, got {type(values).__name__}")
    result: dict[date, str] = {}
    for key, name in values.items():
        if isinstance(key, datetime) or not isinstance(key, date):
            raise ValueError(f"{label}: key {key!r} is not a datetime.date")
        if not isinstance(name, str):
            raise ValueError(f"{label}[{key.isoformat()}]: name must be a string, got {name!r}")
        result[key] = _nfc(name)
    return MappingProxyType(result)


def _check_sessions(sessions: Any, label: str) -> tuple[tuple[time, time], ...]:
    """Sessions as given to the constructor: (open, close) naive times, in order, no overlap."""
    if isinstance(sessions, (str, bytes, Mapping)) or not isinstance(sessions, Sequence):
        raise ValueError(f"{label}: expected a list of (open, close) sessions, got {sessions!r}")
    if not sessions:
        raise ValueError(f"{label}: at least one session is required")
    result: list[tuple[time, time]] = []
    for index, session in enumerate(sessions):
        at = f"{label}[{index}]"
        if isinstance(session, (str, bytes)) or not isinstance(session, Sequence) or len(session) != 2:
            raise ValueError(f"{at}: expected a pair (open, close), got {session!r}")
        opening, closing = session
        for name, value in (("open", opening), ("close", closing)):
            if not isinstance(value, time) or value.tzinfo is not None:
                raise ValueError(f"{at}: {name} must be a naive datetime.time, got {value!r}")
        if not opening < closing:
            raise ValueError(f"{at}: open {opening:%H:%M} must be before close {closing:%H:%M}")
        if result and opening < result[-1][1]:
            raise ValueError(
                f"{at}: opens at {opening:%H:%M}, before the previous session closes "
                f"({result[-1][1]:%H:%M}); list the sessions in order, without overlap"
            )
        result.append((opening, closing))
    return tuple(result)


def _check_years(years: Any, label: str) -> frozenset[int]:
    if isinstance(years, (str, bytes, Mapping)) or not isinstance(years, Iterable):
        raise ValueError(f"{label}: expected a list of years such as [2025, 2026], got {years!r}")
    seen: set[int] = set()
    for index, year in enumerate(years):
        at = f"{label}[{index}]"
        if isinstance(year, bool) or not isinstance(year, int):
            raise ValueError(f"{at}: expected a year as a whole number such as 2026, got {year!r}")
        if not date.min.year <= year <= date.max.year:
            raise ValueError(f"{at}: {year} is not a calendar year")
        if year in seen:
            raise ValueError(f"{at}: {year} is listed twice")
        seen.add(year)
    return frozenset(seen)


def _parse_years(value: Any, where: str) -> frozenset[int]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list of years such as [2025, 2026], got {value!r}")
    return _check_years(value, where)


def _parse_office_hours(value: Any, where: str) -> tuple[tuple[time, time], ...]:
    """The ``office_hours`` of config.yml: a list of sessions ``[{open, close}, ...]``.

    The single mapping ``{open, close}`` of earlier configs is still read, as one session
    without a lunch break (its missing keys default to 07:30 and 17:00, as before).
    """
    if isinstance(value, Mapping):
        bad = [k for k in value if k not in _SESSION_KEYS]
        if bad:
            raise ValueError(f"{where}: unknown key {bad[0]!r}; allowed keys: open, close")
        opening = _parse_time(value["open"], f"{where}.open") if "open" in value else _LEGACY_OPEN
        closing = _parse_time(value["close"], f"{where}.close") if "close" in value else _LEGACY_CLOSE
        return _check_sessions([(opening, closing)], where)
    if not isinstance(value, list) or not value:
        raise ValueError(
            f"{where}: expected a list of sessions such as "
            "[{open: \"07:30\", close: \"11:30\"}, {open: \"13:30\", close: \"17:00\"}], "
            f"got {value!r}"
        )
    sessions: list[tuple[time, time]] = []
    for index, entry in enumerate(value):
        at = f"{where}[{index}]"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{at}: expected a mapping {{open: 'HH:MM', close: 'HH:MM'}}, got {entry!r}")
        bad = [k for k in entry if k not in _SESSION_KEYS]
        if bad:
            raise ValueError(f"{at}: unknown key {bad[0]!r}; allowed keys: open, close")
        missing = [k for k in _SESSION_KEYS if k not in entry]
        if missing:
            raise ValueError(f"{at}: missing {missing[0]!r}")
        sessions.append((_parse_time(entry["open"], f"{at}.open"), _parse_time(entry["close"], f"{at}.close")))
    return _check_sessions(sessions, where)


def _parse_time(value: Any, where: str) -> time:
    if isinstance(value, time):
        if value.tzinfo is not None:
            raise ValueError(f"{where}: time {value!r} must not carry a time zone")
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(
            f"{where}: got the number {value}; quote the time in YAML, e.g. \"17:00\" "
            "(unquoted 17:00 is read as the base-60 number 1020)"
        )
    if isinstance(value, str):
        match = _TIME_RE.match(value.strip())
        if match:
            hour, minute, second = (int(g) if g else 0 for g in match.groups())
            if hour < 24 and minute < 60 and second < 60:
                return time(hour, minute, second)
    raise ValueError(f"{where}: {value!r} is not a valid time (expected \"HH:MM\", e.g. \"07:30\")")


def _parse_date(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        raise ValueError(f"{where}: {value!r} has a time of day; expected a date YYYY-MM-DD")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{where}: {value!r} is not a valid date (expected YYYY-MM-DD)")


def _parse_entries(entries: Any, key: str) -> dict[date, str]:
    where = f"calendar.{key}"
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise ValueError(
            f"{where}: expected a list of {{date, name, doc}} entries, got {type(entries).__name__}"
        )
    result: dict[date, str] = {}
    first_index: dict[date, int] = {}
    for index, entry in enumerate(entries):
        at = f"{where}[{index}]"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{at}: expected a mapping {{date, name, doc}}, got {entry!r}")
        unknown = [k for k in entry if k not in _ENTRY_KEYS]
        if unknown:
            raise ValueError(f"{at}: unknown key {unknown[0]!r}; allowed keys: {', '.join(_ENTRY_KEYS)}")
        if "date" not in entry:
            raise ValueError(f"{at}: missing 'date'")
        day = _parse_date(entry["date"], f"{at}.date")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{at}.name: a non-empty name is required for {day.isoformat()}, got {name!r}")
        doc = entry.get("doc")
        if doc is not None and not isinstance(doc, str):
            raise ValueError(f"{at}.doc: expected text, got {doc!r}")
        if day in result:
            raise ValueError(
                f"{at}.date: {day.isoformat()} is listed twice (also at {where}[{first_index[day]}])"
            )
        result[day] = _nfc(name.strip())
        first_index[day] = index
    return result
