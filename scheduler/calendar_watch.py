"""Ahead of the calendar (issue 11, point 10): from 1 December, while next year's official days
off and make-up Saturdays are not declared in config.yml (`calendar.declared_years`), the
admins get an e-mail once a week saying so; and still after 1 January while that year, now
the current one, is undeclared (every deadline is then provisional: the reminder must not
stop when it matters most).

- The job `calendar:declared-check` runs every day at 08:00 local time (a cron trigger, so a
  day missed while no scheduler ran is caught up once); on a working day it asks the calendar
  (`undeclared_years`: this year if undeclared, and next year from 1 December if undeclared)
  and queues one e-mail naming every year missing (in December both may be).
- The e-mail goes out in office hours: a run when offices are shut checks again at the next
  opening (`calendar:declared-check:at-opening`), as the reports do.
- "Once a week" is the e-mail's idempotency key, `calendar:undeclared:<year>:<ISO week>`, with
  the latest undeclared year: the first working day of each ISO week that finds a year
  undeclared sends it; another run in the same week (the next day, a restart, a second
  instance) finds the key and sends nothing. The first mail goes on the first working day from
  1 December, not on the next Monday. Keyed by the latest year, a week that drops the earlier
  year (the current one declared mid-week, or 1 January turning next year into this one) sends
  no second mail; 1 December, which adds next year, does (so would next year declared before
  this one, in December: then this year alone is named).
- /healthz shows the same condition at once (bot/health.py); deadlines in an undeclared year
  are marked "tạm tính" wherever a business or an officer reads them.
Only the lease holder runs jobs (scheduler.reminders); the e-mail goes through the
notifications table like every notice (every attempt recorded, retried with backoff).
"""
from __future__ import annotations

import logging
import unicodedata
from datetime import datetime, time
from typing import Callable, Protocol, Sequence

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.exc import IntegrityError

from scheduler import jobqueue
from scheduler.calendar import WorkingCalendar
from scheduler.jobqueue import JobQueue
from store import Database, Notification

log = logging.getLogger(__name__)
JOB_ID = "calendar:declared-check"
CHECK_AT = time(8, 0)  # local time, every day; the mail's key keeps it to one a week
KIND = "calendar_undeclared"


class CalendarWatchHost(Protocol):
    """What the job runs with (the ReminderService is one): the job context."""

    db: Database
    jobs: JobQueue
    calendar: WorkingCalendar
    admins: Sequence[str]
    clock: Callable[[], datetime]

    def deliver(self) -> None:
        """Send pending notifications now."""


def run_calendar_watch() -> None:
    """Entry point stored in the job store (by reference, no arguments). Like every notice it
    goes out in office hours: a run when offices are shut (a catch-up after a restart at
    night) checks again at the next opening."""
    host: CalendarWatchHost = jobqueue.job_context()
    now = host.clock()
    opening = host.calendar.next_opening(now)
    if opening != now:
        host.jobs.run_at(f"{JOB_ID}:at-opening", run_calendar_watch, (), opening,
                         name="undeclared days off check at the opening", catch_up=True)
        return
    if check_declared(host.db, host.calendar, host.admins, now=now):
        host.deliver()


def ensure_calendar_job(jobs: JobQueue, calendar: WorkingCalendar, *, now: datetime) -> None:
    """The daily check with its deterministic id (an unchanged one is kept with its next run)."""
    trigger = CronTrigger(hour=CHECK_AT.hour, minute=CHECK_AT.minute, timezone=calendar.tz)
    jobs.run_on(JOB_ID, run_calendar_watch, trigger, (), now=now, name="undeclared days off check", catch_up=True)


def mail_key(year: int, day) -> str:
    iso_year, week, _ = day.isocalendar()
    return f"calendar:undeclared:{year}:{iso_year}-W{week:02d}"


def undeclared_years(calendar: WorkingCalendar, now: datetime) -> tuple[int, ...]:
    """The years the admins must declare now, ascending: the current one if it is undeclared,
    and the next one from 1 December if it is (`WorkingCalendar.undeclared_soon`); empty when
    neither. In December both can be missing, and the e-mail must name both."""
    years = []
    if not calendar.is_declared(now):
        years.append(calendar.local_date(now).year)
    following = calendar.undeclared_soon(now)
    if following is not None:
        years.append(following)
    return tuple(years)


def check_declared(db: Database, calendar: WorkingCalendar, admins: Sequence[str], *, now: datetime) -> bool:
    """Queue this week's e-mail to the admins if years they must declare are not (`undeclared_years`,
    all named in one e-mail; on a working day, once per ISO week). Returns True if one was queued."""
    years = undeclared_years(calendar, now)
    today = calendar.local_date(now)
    if not years or not admins or not calendar.is_working_day(today):
        return False
    key = mail_key(years[-1], today)
    subject, text = message_vi(years, calendar.declared_years, current=years[0] == today.year)
    try:
        with db.session() as s:
            if s.query(Notification.id).filter_by(idempotency_key=key).first() is not None:
                return False
            s.add(Notification(idempotency_key=key, kind=KIND, channel="email", recipients=list(dict.fromkeys(admins)),
                               subject=subject, body_text=text, status="pending", attempts=0, next_attempt_at=now,
                               created_at=now))
    except IntegrityError:  # another instance queued this week's mail first
        return False
    log.info("days off of %s are not declared: admins told (%s)", ", ".join(map(str, years)), key)
    return True


def message_vi(years: Sequence[int], declared: Sequence[int], *, current: bool = False) -> tuple[str, str]:
    """The admins' e-mail, in Vietnamese (NFC): what is missing, what it affects, what to do.
    `years`: the undeclared years, ascending (`undeclared_years`: one, or in December this year
    and the next). `current`: the first of them is the year under way (every deadline now
    computed is provisional), not the next."""
    years = tuple(years)
    names = " và ".join(f"năm {y}" for y in years)  # "năm 2026 và năm 2027"
    subject = f"[DDCI Quảng Ninh] Chưa khai báo lịch nghỉ lễ, nghỉ bù {names}"
    listed = ", ".join(str(y) for y in declared) or "chưa có năm nào"
    if len(years) > 1:  # December, this year and the next both undeclared
        affected = (f"Năm {years[0]} đang diễn ra: mọi hạn trả lời tính từ nay, kể cả các hạn rơi vào năm "
                    f"{years[1]} của những phản ánh nhận vào cuối năm,")
    elif current:
        affected = f"Năm {years[0]} đã bắt đầu: mọi hạn trả lời tính từ nay"
    else:
        affected = (f"Từ nay, các phản ánh nhận vào cuối năm có hạn trả lời rơi vào năm {years[0]}; "
                    "các hạn đó")
    scope, those = ("hai năm này", "các năm đó") if len(years) > 1 else ("năm này", "năm đó")
    text = (
        f"Lịch nghỉ lễ, nghỉ bù và các ngày thứ Bảy làm bù của {names} chưa được khai báo trong config.yml "
        f"(calendar.declared_years hiện có: {listed}).\n\n"
        f"{affected} đang được tính "
        f"theo lịch dự đoán của gói holidays, nên mọi hạn trong {scope} được ghi là \"tạm tính\" trong thư gửi "
        "doanh nghiệp và thư gửi các đơn vị.\n\n"
        f"Việc cần làm khi có thông báo chính thức về lịch nghỉ {names}:\n"
        f"1. Thêm các ngày nghỉ (days_off) và ngày làm bù (make_up_workdays) của {names} vào mục calendar "
        "của config.yml, kèm số văn bản công bố (doc).\n"
        f"2. Thêm {' và '.join(str(y) for y in years)} vào calendar.declared_years.\n"
        "3. Khởi động lại các tiến trình (web, worker, scheduler).\n\n"
        f"Thư này được gửi mỗi tuần một lần cho đến khi {those} được khai báo; /healthz cũng báo điều này.\n"
        "-- Hệ thống tiếp nhận phản ánh DDCI Quảng Ninh (thư tự động)"
    )
    return unicodedata.normalize("NFC", subject), unicodedata.normalize("NFC", text)
