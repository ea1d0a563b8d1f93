"""The scheduler's report jobs: weekly and monthly on their cron triggers (`report:weekly`,
`report:monthly`), and a report that came due while offices were shut, moved to the next
opening (`report:<kind>:<label>`). Only the lease holder runs them (scheduler.reminders)."""
from __future__ import annotations

from datetime import datetime
from typing import Callable, Optional, Protocol

from scheduler import jobqueue
from scheduler.jobqueue import JobQueue
from scheduler.reports.service import ReportService


class ReportJobsHost(Protocol):
    """What the report jobs run with (the ReminderService is one): the job context."""

    jobs: JobQueue
    reports: ReportService
    clock: Callable[[], datetime]


def run_report_job(kind: str, label: Optional[str] = None) -> None:
    """Entry point stored in the job store: the period before the scheduled time, or `label`."""
    host: ReportJobsHost = jobqueue.job_context()
    run_report(host.jobs, host.reports, kind, label, now=host.clock(), scheduled_for=jobqueue.scheduled_for())


def ensure_report_jobs(jobs: JobQueue, reports: ReportService, *, now: datetime) -> None:
    """Weekly and monthly report jobs with deterministic ids; an unchanged one is kept (with its
    next run time, so a report missed while down still runs once)."""
    for kind, trigger in reports.triggers().items():
        jobs.run_on(f"report:{kind}", run_report_job, trigger, (kind,), now=now, name=f"{kind} report",
                    catch_up=True)


def run_report(jobs: JobQueue, reports: ReportService, kind: str, label: Optional[str], *, now: datetime,
               scheduled_for: Optional[datetime] = None) -> int:
    """Send the report of the period before `scheduled_for` (or of `label`); only in office hours,
    else a job sends it at the next opening. Returns how many e-mails went."""
    period = reports.period(kind, label) if label else reports.period_before(kind, scheduled_for or now)
    opening = reports.calendar.next_opening(now)
    if opening != now:
        jobs.run_at(f"report:{kind}:{period.label}", run_report_job, (kind, period.label), opening,
                    name=f"{kind} report {period.label}", catch_up=True)
        return 0
    return reports.send(period, now=now)
