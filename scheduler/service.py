"""Reminders and escalations on APScheduler, behind domain verbs.

- Jobs live in APScheduler's SQLAlchemy job store in the app's database, so they survive
  restarts; they carry ids (assignment id, kind), never ORM objects.
- Job ids are deterministic (`assignment:<id>:<kind>`), so scheduling again replaces.
- The database is the truth: `reconcile()` gives every open assignment its jobs and removes
  jobs of closed ones; the scheduler process runs it at start and then periodically.
- Missed jobs run once (coalesce) within a grace period after a restart.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Mapping, Optional

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from scheduler.calendar import WorkingCalendar
from scheduler.deadlines import DeadlinePolicy, timeline
from scheduler.delivery import deliver_notifications, queue_notification
from scheduler.notify import Notifier
from store import Assignment, Database, Heartbeat, Inquiry

log = logging.getLogger(__name__)
JOB_KINDS = ("reminder", "escalation")
MISFIRE_GRACE = timedelta(days=3)


@dataclass(frozen=True)
class UnitContacts:
    name: str
    emails: tuple[str, ...]
    head_email: Optional[str]


# The one process-wide service that job functions reach (set by start(), cleared by shutdown()).
_active: Optional["ReminderService"] = None


def run_assignment_job(assignment_id: int, kind: str) -> None:
    """Entry point stored in the job store (by reference, with plain arguments)."""
    if _active is None:
        raise RuntimeError("no reminder service is running in this process")
    _active.fire(assignment_id, kind)


def job_id(assignment_id: int, kind: str) -> str:
    return f"assignment:{assignment_id}:{kind}"


class ReminderService:
    def __init__(self, *, db: Database, calendar: WorkingCalendar, policy: DeadlinePolicy, notifier: Notifier,
                 units: Mapping[str, UnitContacts], standing_office: str, base_url: str,
                 clock: Callable[[], datetime]):
        self.db, self.calendar, self.policy, self.notifier = db, calendar, policy, notifier
        self.units, self.standing_office, self.base_url, self.clock = units, standing_office, base_url, clock
        self._jobstore_engine = db.legacy_engine()
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self._jobstore_engine, tablename="apscheduler_jobs")},
            executors={"default": ThreadPoolExecutor(4)},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": int(MISFIRE_GRACE.total_seconds())},
            timezone=timezone.utc,
        )

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self, *, paused: bool = False) -> None:
        global _active
        _active = self
        self.scheduler.start(paused=paused)

    def resume(self) -> None:
        self.scheduler.resume()

    def shutdown(self, wait: bool = True) -> None:
        global _active
        if self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
        if _active is self:
            _active = None

    # ---- domain verbs ------------------------------------------------------------------
    def schedule(self, assignment: Assignment) -> dict[str, Optional[datetime]]:
        """(Re)create the jobs of one open assignment; returns kind -> run time."""
        plan = timeline(self.calendar, self.policy, assignment.assigned_at, assignment.due_at)
        times = {"reminder": plan.reminder_at, "escalation": plan.escalation_at}
        for kind, when in times.items():
            jid = job_id(assignment.id, kind)
            if when is None:
                self._remove(jid)
                continue
            existing = self.scheduler.get_job(jid)
            if existing is not None and existing.next_run_time == when:
                continue
            self.scheduler.add_job(run_assignment_job, trigger="date", run_date=when, id=jid,
                                   args=(assignment.id, kind), replace_existing=True,
                                   name=f"{kind} for assignment {assignment.id}")
        return times

    def cancel(self, assignment_id: int) -> None:
        for kind in JOB_KINDS:
            self._remove(job_id(assignment_id, kind))

    def _remove(self, jid: str) -> None:
        if self.scheduler.get_job(jid) is not None:
            self.scheduler.remove_job(jid)

    def reconcile(self) -> dict[str, int]:
        """Make the job store agree with the database (open assignments have jobs, others none)."""
        with self.db.session() as s:
            open_rows = s.execute(select(Assignment).where(Assignment.status == "open")).scalars().all()
        open_ids = {a.id for a in open_rows}
        removed = 0
        for job in self.scheduler.get_jobs():
            if job.id.startswith("assignment:") and int(job.id.split(":")[1]) not in open_ids:
                self.scheduler.remove_job(job.id)
                removed += 1
        for assignment in open_rows:
            self.schedule(assignment)
        return {"open": len(open_rows), "removed": removed}

    def fire(self, assignment_id: int, kind: str) -> bool:
        """Queue and send the reminder or escalation, once per assignment, kind and due time."""
        now = self.clock()
        with self.db.session() as s:
            assignment = s.get(Assignment, assignment_id)
            if assignment is None or assignment.status != "open":
                return False
            inquiry = s.get(Inquiry, assignment.inquiry_id)
            unit = self.units[assignment.unit_code]
            recipients = list(unit.emails)
            if kind == "escalation":
                office = self.units[self.standing_office]
                recipients += [e for e in (unit.head_email, office.head_email) if e] + list(office.emails)
            key = f"{kind}:{assignment.id}:{assignment.due_at.isoformat()}"
            added = queue_notification(s, kind=kind, key=key, inquiry=inquiry, assignment=assignment,
                                       unit_name=unit.name, recipients=recipients, calendar=self.calendar,
                                       now=now, base_url=self.base_url, channel=self.notifier.channel)
        deliver_notifications(self.db, self.notifier, self.clock)
        return added

    def heartbeat(self) -> None:
        with self.db.session() as s:
            s.merge(Heartbeat(name="scheduler", beat_at=self.clock(),
                              info={"jobs": len(self.scheduler.get_jobs()), "running": self.scheduler.running}))
