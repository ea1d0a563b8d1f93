"""Reminders and escalations of open assignments, on the job queue (scheduler.jobqueue).

- Each assignment has at most two jobs, with deterministic ids (`assignment:<id>:reminder|
  escalation`): its next reminder and its next escalation (scheduler.timeline says which
  instants); a job that fires sends what is due and schedules the next instant of its kind.
  Each notice is sent once per key (`reminder_key`, `escalation_key`).
- The database is the truth. `reconcile()` makes the job store agree with it in bulk (open
  assignments get their jobs, others lose theirs; a reminder or escalation already recorded in
  `notifications` is not planned again); `sync()` does the same for assignments changed since
  the last pass (reassignment, complex case, coordination, answer), using `updated_at`.
- ONE active scheduler (scheduler.lease): `tick()` renews the lease, keeps the jobs in step,
  delivers what is pending, retries failed reports and writes the heartbeat; only the holder
  runs jobs, reconciles and sends reports (scheduler.reports.jobs) and the admins' weekly
  warning about next year's undeclared days off (scheduler.calendar_watch).
- A reminder missed while no scheduler ran is sent once (coalesced) at the next office-hours
  instant, if within `missed_grace`; an older one is skipped and the timeline goes on. Nothing
  is sent outside office hours: a job that comes due then is moved to the next opening.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable, Mapping, Optional, Sequence

from sqlalchemy import delete, func, select, type_coerce
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import NullType

from scheduler import jobqueue
from scheduler.calendar import WorkingCalendar
from scheduler.calendar_watch import ensure_calendar_job
from scheduler.deadlines import DeadlinePolicy
from scheduler.jobqueue import JobQueue
from scheduler.lease import LEASE, SchedulerLease
from scheduler.notifications.delivery import NotificationDelivery, inquiry_url, queue_notification
from scheduler.notifications.router import Fanout, Notifier
from scheduler.reports.jobs import ensure_report_jobs
from scheduler.reports.service import ReportService
from scheduler.timeline import ReminderPlan, Timelines
from store import Assignment, Database, Heartbeat, Inquiry, Notification
from store.outage import reason, unavailable

log = logging.getLogger(__name__)
UTC = timezone.utc
JOB_KINDS = ("reminder", "escalation")
MISFIRE_GRACE = timedelta(hours=72)
SYNC_SLACK = timedelta(minutes=5)  # re-read rows changed this long before the watermark (late commits)
FULL_RECONCILE_EVERY = timedelta(hours=1)  # safety net behind the incremental sync
REPORT_RETRY_CHECK = timedelta(minutes=1)  # how often the holder looks for report e-mails to send again
_CHUNK = 500  # ids per IN list


@dataclass(frozen=True)
class UnitContacts:
    """Where a unit's notices go (config.yml `units`); the escalation adds the heads."""

    name: str
    emails: tuple[str, ...]
    head_email: Optional[str]


def run_assignment_job(assignment_id: int, kind: str) -> None:
    """Entry point stored in the job store (by reference, with plain arguments)."""
    jobqueue.job_context().fire(assignment_id, kind)


def job_id(assignment_id: int, kind: str) -> str:
    return f"assignment:{assignment_id}:{kind}"


def reminder_key(assignment_id: int, due_at: datetime, stage: str) -> str:
    """One reminder per assignment, due time and stage (a new due time may remind again)."""
    return f"reminder:{assignment_id}:{due_at.astimezone(UTC).isoformat()}:{stage}"


def escalation_key(assignment_id: int, due_at: datetime, day) -> str:
    """One escalation per assignment, due time and local working day."""
    return f"escalation:{assignment_id}:{due_at.astimezone(UTC).isoformat()}:{day.isoformat()}"


def _job_name(args: tuple) -> str:
    assignment_id, kind = args
    return f"{kind} for assignment {assignment_id}"


def _raw(column):
    """The column's value as the driver returns it (no per-row conversion; see _utc)."""
    return type_coerce(column, NullType())


def _utc(value) -> datetime:
    """A UTCDateTime value read raw: naive UTC (datetime, or text on SQLite) -> aware UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# -------------------------------------------------------------------------------- service
class ReminderService:
    """The reminders and escalations of every open assignment, and the scheduler process's beat
    (`tick`); jobs run only while this instance holds the lease."""

    def __init__(self, *, db: Database, calendar: WorkingCalendar, policy: DeadlinePolicy, notifier: Notifier,
                 units: Mapping[str, UnitContacts], standing_office: str,
                 clock: Callable[[], datetime], plan: Optional[ReminderPlan] = None,
                 missed_grace: timedelta = MISFIRE_GRACE, lease: timedelta = LEASE,
                 reports: Optional[ReportService] = None, holder: Optional[str] = None,
                 fanouts: Sequence[Fanout] = (), pages: Mapping[str, str] = {}, admins: Sequence[str] = (),
                 base_url: str):
        self.db, self.calendar, self.policy, self.notifier = db, calendar, policy, notifier
        self.units, self.standing_office, self.clock = units, standing_office, clock
        self.pages = dict(pages)  # page id -> its name, as officers read it
        self.admins = tuple(admins)  # told weekly when next year's days off are undeclared (calendar_watch)
        self.fanouts = tuple(fanouts)  # copies of the e-mail notices on other channels
        self.base_url = base_url  # the console, for each notice's link to the inquiry
        self.delivery = NotificationDelivery(db=db, notifier=notifier, clock=clock, fanouts=self.fanouts,
                                             admins=admins, unit_names={c: u.name for c, u in units.items()})
        self.plan = plan or ReminderPlan()
        self.missed_grace = missed_grace
        self.reports = reports  # None: no report jobs
        self.lease = SchedulerLease(db, lease=lease, holder=holder)
        self.jobs = JobQueue(db, clock=clock, is_active=self.is_active, on_missed=self.job_missed, context=self,
                             missed_grace=missed_grace)
        self.scheduler = self.jobs.scheduler  # APScheduler itself, for those who look at its jobs
        self._watermark: Optional[datetime] = None
        self._last_full: Optional[datetime] = None
        self._was_active = False
        self._next_report_retry: Optional[datetime] = None

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self, *, paused: bool = False) -> None:
        """Start APScheduler; jobs run only while this instance holds the lease (see tick())."""
        self.jobs.start(paused=paused)

    def resume(self) -> None:
        self.jobs.resume()

    def shutdown(self, wait: bool = True) -> None:
        self.jobs.shutdown(wait=wait)
        try:
            self.lease.release(self.clock())
        except Exception as exc:  # a dead database must not block the stop; the lease expires anyway
            if unavailable(exc):  # stopped during an outage: one line, not a traceback
                log.warning("could not release the scheduler lease: the database did not answer (%s)", reason(exc))
            else:
                log.exception("could not release the scheduler lease")

    def is_active(self, now: Optional[datetime] = None) -> bool:
        """True while this instance holds an unexpired lease (the only one that may send)."""
        return self.lease.held(now or self.clock())

    def tick(self) -> dict:
        """One beat of the scheduler process: hold the lease, keep jobs in step, heartbeat.

        Becoming active reconciles everything and (re)creates the report jobs; staying active
        syncs what changed, reconciles fully every hour, retries failed sends.
        """
        now = self.clock()
        active = self.lease.acquire(now)
        status: dict = {"active": active, "holder": self.lease.holder}
        if not active:
            self._was_active = False
            current = self.lease.current()
            status["held_by"] = current[0] if current else None
            self._beat("scheduler-standby", now, {"waiting_for": status["held_by"]})
            return status
        if not self._was_active:
            self._forget_standby()
        if not self._was_active or self._last_full is None or now - self._last_full >= FULL_RECONCILE_EVERY:
            status["reconcile"] = self.reconcile()
            if self.reports is not None:
                ensure_report_jobs(self.jobs, self.reports, now=self.clock())
            if self.admins:
                ensure_calendar_job(self.jobs, self.calendar, now=self.clock())
        else:
            status["sync"] = self.sync()
        self._was_active = True
        self.delivery.run()
        if self.reports is not None and (self._next_report_retry is None or now >= self._next_report_retry):
            self.reports.retry_due(now)
            self._next_report_retry = now + REPORT_RETRY_CHECK
        self.heartbeat()
        self.jobs.wakeup()
        return status

    def deliver(self) -> None:
        """Send the pending notifications now (a job that queued one calls this)."""
        self.delivery.run()

    def run_due(self, now: Optional[datetime] = None) -> int:
        """Run the jobs due at `now` (default: the clock) here and now; returns how many ran."""
        return self.jobs.run_due(now or self.clock())

    # ---- domain verbs ------------------------------------------------------------------
    def schedule(self, assignment: Assignment) -> dict[str, Optional[datetime]]:
        """(Re)create the jobs of one open assignment through APScheduler; returns kind -> run time."""
        now = self.clock()
        with self.db.session() as s:
            sent = self._sent_keys(s, [assignment.id])
        times = self._desired(Timelines(self.calendar, self.plan, now, self.missed_grace), assignment.id,
                              assignment.assigned_at, assignment.due_at, sent)
        for kind, when in times.items():
            self._set_job(assignment.id, kind, when)
        return times

    def cancel(self, assignment_id: int) -> None:
        for kind in JOB_KINDS:
            self.jobs.cancel(job_id(assignment_id, kind))

    def reconcile(self) -> dict[str, int]:
        """Make the job store agree with the database, in bulk (see the module docstring)."""
        with self.jobs.exclusive():  # not while the background thread runs jobs
            return self._reconcile()

    def _reconcile(self) -> dict[str, int]:
        self.jobs.ensure_table()
        now = self.clock()
        with self.db.session() as s:
            rows = [(i, _utc(a), _utc(d)) for i, a, d in s.execute(
                select(Assignment.id, _raw(Assignment.assigned_at), _raw(Assignment.due_at))
                .where(Assignment.status == "open"))]
            sent = set(s.execute(
                select(Notification.idempotency_key)
                .join(Assignment, Assignment.id == Notification.assignment_id)
                .where(Assignment.status == "open", Notification.kind.in_(JOB_KINDS))).scalars())
            watermark = s.execute(select(func.max(Assignment.updated_at))).scalar()
        existing = self.jobs.next_run_times(prefix="assignment:")
        plans = Timelines(self.calendar, self.plan, now, self.missed_grace)
        removed = self.jobs.write_date_jobs(run_assignment_job, self._plan_jobs(plans, rows, sent), existing, now,
                                            name=_job_name)
        self._watermark = watermark or self._watermark
        self._last_full = now
        return {"open": len(rows), "removed": len(removed)}

    def sync(self) -> dict[str, int]:
        """Reconcile only the assignments changed since the last pass (cheap, every tick)."""
        if self._watermark is None:
            return self.reconcile()
        with self.jobs.exclusive():  # not while the background thread runs jobs
            return self._sync()

    def _sync(self) -> dict[str, int]:
        self.jobs.ensure_table()
        now = self.clock()
        since = self._watermark - SYNC_SLACK
        with self.db.session() as s:
            rows = s.execute(select(Assignment.id, Assignment.status, Assignment.assigned_at, Assignment.due_at,
                                    Assignment.updated_at).where(Assignment.updated_at > since)).all()
            open_ids = [r.id for r in rows if r.status == "open"]
            sent = self._sent_keys(s, open_ids)
        if not rows:
            return {"changed": 0, "removed": 0}
        ids = [job_id(r.id, kind) for r in rows for kind in JOB_KINDS]
        existing = self.jobs.next_run_times(ids=ids)
        plans = Timelines(self.calendar, self.plan, now, self.missed_grace)
        opened = [(r.id, r.assigned_at, r.due_at) for r in rows if r.status == "open"]
        removed = self.jobs.write_date_jobs(run_assignment_job, self._plan_jobs(plans, opened, sent), existing, now,
                                            name=_job_name)
        self._watermark = max([self._watermark] + [r.updated_at for r in rows])
        return {"changed": len(rows), "removed": len(removed)}

    def fire(self, assignment_id: int, kind: str) -> bool:
        """Send the reminder or escalation due now (once per key), then plan the next one.

        Returns True if a notification was queued. Outside office hours nothing is sent: the
        job moves to the next opening. The job is written after the transaction commits (two
        writers on one SQLite file from one thread would wait for each other).
        """
        if kind not in JOB_KINDS:
            raise ValueError(f"unknown job kind {kind!r}")
        now = self.clock()
        added, closed, following = False, False, None
        try:
            with self.db.session() as s:
                assignment = s.get(Assignment, assignment_id)
                if assignment is None or assignment.status != "open":
                    closed = True
                else:
                    plans = Timelines(self.calendar, self.plan, now, self.missed_grace)
                    p = plans.get(assignment.assigned_at, assignment.due_at)
                    key, template = None, None
                    if kind == "reminder" and p.latest is not None:
                        key = reminder_key(assignment.id, assignment.due_at, p.latest.name)
                        template = f"reminder_{p.latest.name}"
                    elif kind == "escalation" and p.escalation_now is not None:
                        day = p.escalation_now.astimezone(self.calendar.tz).date()
                        key, template = escalation_key(assignment.id, assignment.due_at, day), "escalation"
                    following = self._desired(plans, assignment.id, assignment.assigned_at, assignment.due_at,
                                              {key} if key else set())[kind]
                    if following is not None and following <= now:
                        following = None  # what is due now is handled right here
                    if key is not None and s.query(Notification.id).filter_by(idempotency_key=key).first() is None:
                        if plans.opening_now != now:  # offices are shut: send at the next opening
                            following = plans.opening_now
                        else:
                            added = self._queue(s, assignment, kind, key, template, now)
        except IntegrityError:
            added = False  # another instance queued the same key first
        if closed:
            self.cancel(assignment_id)
            return False
        self._set_job(assignment_id, kind, following)
        if added:
            self.delivery.run()
        return added

    def job_missed(self, jid: str, now: datetime) -> None:
        """A job older than the grace period: skip it, plan the assignment's next instant."""
        parts = jid.split(":")
        if parts[0] != "assignment":
            return  # a report job: its trigger has already moved on
        with self.db.session() as s:
            assignment = s.get(Assignment, int(parts[1]))
            if assignment is None or assignment.status != "open":
                return
            sent = self._sent_keys(s, [assignment.id])
        plans = Timelines(self.calendar, self.plan, now, self.missed_grace)
        when = self._desired(plans, assignment.id, assignment.assigned_at, assignment.due_at, sent)[parts[2]]
        self._set_job(assignment.id, parts[2], when)

    # ---- health ------------------------------------------------------------------------
    def heartbeat(self) -> None:
        """Health's view of the scheduler: alive, job count, lease (one transaction)."""
        now = self.clock()
        self.jobs.ensure_table()
        with self.db.session() as s:
            jobs = s.execute(select(func.count()).select_from(self.jobs.table)).scalar()
            s.merge(Heartbeat(name="scheduler", beat_at=now, info={
                "jobs": jobs, "running": self.jobs.running, "holder": self.lease.holder,
                "lease_until": self.lease.expires_at.isoformat() if self.lease.expires_at else None}))

    def job_count(self) -> int:
        return self.jobs.job_count()

    def _forget_standby(self) -> None:
        """A standby that takes over stops beating as "scheduler-standby": its row would age for
        ever and trip the heartbeat alert (an operator saw 538 s after a takeover). Another
        standby still running writes it again at its next tick."""
        with self.db.session() as s:
            s.execute(delete(Heartbeat).where(Heartbeat.name == "scheduler-standby"))

    def _beat(self, name: str, now: datetime, info: dict) -> None:
        with self.db.session() as s:
            s.merge(Heartbeat(name=name, beat_at=now, info=info))

    # ---- internals ---------------------------------------------------------------------
    def _desired(self, plans: Timelines, assignment_id: int, assigned_at: datetime, due_at: datetime,
                 sent: set) -> dict[str, Optional[datetime]]:
        """When each job of an open assignment should run next (None: no job).

        The latest instant that has come (not yet sent, within the grace period) runs now, or
        at the next opening when offices are shut; otherwise the next one to come.
        """
        p = plans.get(assigned_at, due_at)
        if p.latest is not None and (not sent or f"reminder:{assignment_id}:{p.due_iso}:{p.latest.name}" not in sent):
            reminder = plans.opening_now
        else:
            reminder = p.following
        if p.escalation_now is not None and (
                not sent or f"escalation:{assignment_id}:{p.due_iso}:{p.escalation_day}" not in sent):
            escalation = plans.opening_now
        else:
            escalation = p.escalation_next
        return {"reminder": reminder, "escalation": escalation}

    def _queue(self, s, assignment: Assignment, kind: str, key: str, template: str, now: datetime) -> bool:
        inquiry = s.get(Inquiry, assignment.inquiry_id)
        unit = self.units.get(assignment.unit_code)
        if unit is None:
            log.error("assignment %s: unit %s is not configured; nothing sent", assignment.id, assignment.unit_code)
            return False
        recipients = list(unit.emails)
        if kind == "escalation":
            office = self.units[self.standing_office]
            recipients += [e for e in (unit.head_email, office.head_email) if e] + list(office.emails)
        lead = None
        if assignment.role == "coordinate" and inquiry.status != "triage" and inquiry.unit_code in self.units:
            lead = self.units[inquiry.unit_code].name
        return queue_notification(s, kind=kind, key=key, inquiry=inquiry, assignment=assignment,
                                  unit_name=unit.name, recipients=recipients, calendar=self.calendar,
                                  policy=self.policy, now=now, page_name=self.pages.get(inquiry.page_id),
                                  lead_name=lead, channel=self.notifier.channel, template=template,
                                  fanouts=self.fanouts, link=inquiry_url(self.base_url, inquiry.code))

    def _sent_keys(self, s, assignment_ids: Iterable[int]) -> set:
        ids = list(assignment_ids)
        keys: set = set()
        for i in range(0, len(ids), _CHUNK):
            keys.update(s.execute(select(Notification.idempotency_key).where(
                Notification.assignment_id.in_(ids[i:i + _CHUNK]), Notification.kind.in_(JOB_KINDS))).scalars())
        return keys

    def _set_job(self, assignment_id: int, kind: str, when: Optional[datetime]) -> None:
        jid = job_id(assignment_id, kind)
        if when is None:
            self.jobs.cancel(jid)
            return
        self.jobs.run_at(jid, run_assignment_job, (assignment_id, kind), when, name=_job_name((assignment_id, kind)))

    def _plan_jobs(self, plans: Timelines, rows: Iterable[tuple[int, datetime, datetime]], sent: set):
        """(job id, args, run time or None) for every open assignment given."""
        for assignment_id, assigned_at, due_at in rows:
            for kind, when in self._desired(plans, assignment_id, assigned_at, due_at, sent).items():
                yield f"assignment:{assignment_id}:{kind}", (assignment_id, kind), when

