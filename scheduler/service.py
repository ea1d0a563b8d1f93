"""Reminders, escalations and reports on APScheduler, behind domain verbs.

- Jobs live in APScheduler's SQLAlchemy job store in the app's database, so they survive
  restarts; they carry ids (assignment id, kind), never ORM objects.
- Job ids are deterministic (`assignment:<id>:reminder|escalation`, `report:weekly|monthly`),
  so scheduling again replaces. Each assignment has at most two jobs: its next reminder and its
  next escalation (scheduler.timeline.timeline says which instants); a job that fires
  schedules the next instant of its kind.
- The database is the truth. `reconcile()` makes the job store agree with it in bulk (open
  assignments get their jobs, others lose theirs; a reminder or escalation already recorded in
  `notifications` is not planned again); `sync()` does the same for assignments changed since
  the last pass (reassignment, complex case, coordination, answer), using `updated_at`.
- ONE active scheduler: a lease row in `scheduler_lock` (SchedulerLease). The holder renews it
  every `tick()`; another instance waits and takes over once the lease has expired. Only the
  holder runs jobs, reconciles and sends reports.
- Time is the injected clock: ClockedScheduler asks the clock, not the wall, which jobs are due,
  and `run_due()` processes them synchronously (tests drive it; production's background
  thread calls the same code). A reminder missed while no scheduler ran is sent once
  (coalesced) at the next office-hours instant, if within `missed_grace`; an older one is
  skipped and the timeline goes on. Nothing is sent outside office hours: a job that comes due
  then is moved to the next opening.
"""
from __future__ import annotations

import contextvars
import logging
import os
import pickle
import socket
import struct
import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Callable, Iterable, Mapping, Optional, Sequence

from apscheduler.job import Job
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_PAUSED, STATE_STOPPED
from apscheduler.triggers.date import DateTrigger
from apscheduler.util import datetime_to_utc_timestamp
from sqlalchemy import func, select, text, type_coerce, update
from sqlalchemy.types import NullType
from sqlalchemy.exc import IntegrityError

from scheduler.calendar import WorkingCalendar
from scheduler.deadlines import DeadlinePolicy
from scheduler.notifications.delivery import deliver_notifications, queue_notification
from scheduler.notifications.router import Fanout, Notifier
from scheduler.timeline import ReminderPlan, Timelines
from store import Assignment, Database, Heartbeat, Inquiry, Notification, SchedulerLock

log = logging.getLogger(__name__)
UTC = timezone.utc
JOB_KINDS = ("reminder", "escalation")
MISFIRE_GRACE = timedelta(hours=72)
LEASE = timedelta(seconds=60)
SYNC_SLACK = timedelta(minutes=5)  # re-read rows changed this long before the watermark (late commits)
FULL_RECONCILE_EVERY = timedelta(hours=1)  # safety net behind the incremental sync
GATE_RETRY_SECONDS = 5.0  # a standby's background loop looks again this often
MAX_WAIT_SECONDS = 300.0  # never sleep longer (clock jumps, missed wakeups)
JOB_RETRY = timedelta(minutes=5)  # a job that raised runs again this much later
REPORT_RETRY_CHECK = timedelta(minutes=1)  # how often the holder looks for report e-mails to send again
TABLE = "apscheduler_jobs"
_CHUNK = 500


@dataclass(frozen=True)
class UnitContacts:
    name: str
    emails: tuple[str, ...]
    head_email: Optional[str]


# The service that job functions reach: the one running the job (set around each run), else
# the last one started in this process (cleared by shutdown()).
_active: Optional["ReminderService"] = None
_running: contextvars.ContextVar[Optional["ReminderService"]] = contextvars.ContextVar("ddci_running", default=None)
_scheduled_for: contextvars.ContextVar[Optional[datetime]] = contextvars.ContextVar("ddci_scheduled", default=None)


def _service() -> "ReminderService":
    service = _running.get() or _active
    if service is None:
        raise RuntimeError("no reminder service is running in this process")
    return service


def run_assignment_job(assignment_id: int, kind: str) -> None:
    """Entry point stored in the job store (by reference, with plain arguments)."""
    _service().fire(assignment_id, kind)


def run_report_job(kind: str, label: Optional[str] = None) -> None:
    """Entry point of the report jobs: the period before the scheduled time, or `label`."""
    _service().run_report(kind, label, scheduled_for=_scheduled_for.get())


def _pickle_str(value: str) -> bytes:
    data = value.encode("utf-8")
    return b"X" + struct.pack("<I", len(data)) + data  # BINUNICODE


def _pickle_int(value: int) -> bytes:
    if not -2 ** 31 <= value < 2 ** 31:
        raise ValueError(f"id {value} does not fit a pickle BININT")
    return b"J" + struct.pack("<i", value)  # BININT


_P_ID, _P_ARGS, _P_NAME = _pickle_str("id"), _pickle_str("args"), _pickle_str("name")


def job_id(assignment_id: int, kind: str) -> str:
    return f"assignment:{assignment_id}:{kind}"


def reminder_key(assignment_id: int, due_at: datetime, stage: str) -> str:
    """One reminder per assignment, due time and stage (a new due time may remind again)."""
    return f"reminder:{assignment_id}:{due_at.astimezone(UTC).isoformat()}:{stage}"


def escalation_key(assignment_id: int, due_at: datetime, day) -> str:
    """One escalation per assignment, due time and local working day."""
    return f"escalation:{assignment_id}:{due_at.astimezone(UTC).isoformat()}:{day.isoformat()}"


# ------------------------------------------------------------------------------------ lock
class SchedulerLease:
    """The one active scheduler: a lease row (scheduler_lock) that its holder renews.

    Both statements are single conditional UPDATEs, atomic on SQLite and PostgreSQL: renew
    only if we hold it, take over only if it has expired. The first holder INSERTs the row;
    a concurrent insert loses on the primary key.
    """

    def __init__(self, db: Database, *, lease: timedelta = LEASE, name: str = "scheduler",
                 holder: Optional[str] = None):
        self.db, self.lease, self.name = db, lease, name
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.expires_at: Optional[datetime] = None

    def held(self, now: datetime) -> bool:
        return self.expires_at is not None and now < self.expires_at

    def acquire(self, now: datetime) -> bool:
        """Renew our lease or take an expired one; False while another instance holds it."""
        until = now + self.lease
        table = SchedulerLock
        with self.db.session() as s:
            won = s.execute(update(table).where(table.name == self.name, table.holder == self.holder)
                            .values(expires_at=until).execution_options(synchronize_session=False)).rowcount
            if not won:
                won = s.execute(update(table).where(table.name == self.name, table.expires_at <= now)
                                .values(holder=self.holder, acquired_at=now, expires_at=until)
                                .execution_options(synchronize_session=False)).rowcount
            exists = won or s.get(table, self.name) is not None
        if not exists:
            try:
                with self.db.session() as s:
                    s.add(table(name=self.name, holder=self.holder, acquired_at=now, expires_at=until))
                won = 1
            except IntegrityError:
                won = 0
        self.expires_at = until if won else None
        return bool(won)

    def release(self, now: datetime) -> None:
        """Let a standby take over at once (a clean stop)."""
        if self.expires_at is None:
            return
        with self.db.session() as s:
            s.execute(update(SchedulerLock).where(SchedulerLock.name == self.name,
                                                  SchedulerLock.holder == self.holder)
                      .values(expires_at=now).execution_options(synchronize_session=False))
        self.expires_at = None

    def current(self) -> Optional[tuple[str, datetime]]:
        with self.db.session() as s:
            row = s.get(SchedulerLock, self.name)
            return (row.holder, row.expires_at) if row else None


# ------------------------------------------------------------------------------ scheduler
class ClockedScheduler(BackgroundScheduler):
    """APScheduler whose "now" is the injected clock and which runs due jobs in-line.

    `run_due(now)` is APScheduler's own `_process_jobs` step (due jobs from the job store,
    coalesced, advanced or removed) made synchronous and clock-driven, gated by the lease.
    A job is advanced/removed BEFORE it runs, so a job that reschedules itself (the next
    reminder, tomorrow's escalation) is not undone; a crash in between loses nothing that
    `reconcile()` cannot rebuild from the database.
    """

    def __init__(self, *, clock: Callable[[], datetime], owner: "ReminderService", **options):
        self._clock = clock
        self._owner = owner
        super().__init__(**options)

    def _process_jobs(self):  # the background thread's step
        if self.state == STATE_PAUSED:
            return None
        now = self._clock()
        try:
            self.run_due(now)
            upcoming = [store.get_next_run_time() for store in self._jobstores.values()]
        except Exception:  # keep the loop alive through a database outage; it is logged
            log.exception("scheduler step failed; retrying in %s s", self.jobstore_retry_interval)
            return self.jobstore_retry_interval
        if not self._owner.is_active(now):
            return GATE_RETRY_SECONDS
        upcoming = [t for t in upcoming if t is not None]
        if not upcoming:
            return MAX_WAIT_SECONDS
        return min(max((min(upcoming) - now).total_seconds(), 0.0), MAX_WAIT_SECONDS)

    def run_due(self, now: datetime) -> int:
        """Run every job due at `now` once (coalesced); returns how many ran.

        A job skipped as missed may plan its assignment's next instant at `now` (today's
        escalation); a second pass runs it, so one call leaves nothing due behind.
        """
        ran = 0
        for _ in range(3):
            handled, count = self._run_pass(now)
            ran += count
            if not handled:
                break
        return ran

    def _run_pass(self, now: datetime) -> tuple[int, int]:
        handled = ran = 0
        if not self._owner.is_active(now):
            return handled, ran
        with self._jobstores_lock:
            for alias, store in list(self._jobstores.items()):
                for job in store.get_due_jobs(now):
                    if not self._owner.is_active(now):
                        return handled, ran
                    run_times = job._get_run_times(now)
                    if not run_times:
                        continue
                    run_time = run_times[-1]
                    following = job.trigger.get_next_fire_time(run_time, now)
                    try:
                        if following:
                            job._modify(next_run_time=following)
                            store.update_job(job)
                        else:
                            store.remove_job(job.id)
                    except JobLookupError:
                        continue  # removed meanwhile (answered and reconciled)
                    handled += 1
                    late = now - run_time
                    grace = job.misfire_grace_time
                    service_token, time_token = _running.set(self._owner), _scheduled_for.set(run_time)
                    try:
                        if grace is not None and late > timedelta(seconds=grace):
                            log.warning("job %s missed by %s; skipped", job.id, late)
                            self._owner.job_missed(job.id, now)
                        else:
                            job.func(*job.args, **job.kwargs)
                            ran += 1
                    except Exception:  # one failing job must not stop the others; retried later
                        log.exception("job %s failed; retrying at %s", job.id, now + JOB_RETRY)
                        self._retry(job, now + JOB_RETRY)
                    finally:
                        _running.reset(service_token)
                        _scheduled_for.reset(time_token)
        return handled, ran

    def _retry(self, job: Job, when: datetime) -> None:
        try:
            if self.get_job(job.id) is None:
                self.add_job(job.func, trigger=DateTrigger(run_date=when, timezone=UTC), id=job.id,
                             args=job.args, kwargs=job.kwargs, name=job.name, next_run_time=when,
                             misfire_grace_time=job.misfire_grace_time)
        except Exception:  # the database may be what failed; reconcile() will restore the job
            log.exception("could not reschedule job %s", job.id)


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
    def __init__(self, *, db: Database, calendar: WorkingCalendar, policy: DeadlinePolicy, notifier: Notifier,
                 units: Mapping[str, UnitContacts], standing_office: str,
                 clock: Callable[[], datetime], plan: Optional[ReminderPlan] = None,
                 missed_grace: timedelta = MISFIRE_GRACE, lease: timedelta = LEASE, reports=None,
                 holder: Optional[str] = None, fanouts: Sequence[Fanout] = ()):
        self.db, self.calendar, self.policy, self.notifier = db, calendar, policy, notifier
        self.units, self.standing_office, self.clock = units, standing_office, clock
        self.fanouts = tuple(fanouts)  # copies of the e-mail notices on other channels
        self.plan = plan or ReminderPlan()
        self.missed_grace = missed_grace
        self.reports = reports  # scheduler.reports.ReportService, or None: no report jobs
        self.lease = SchedulerLease(db, lease=lease, holder=holder)
        self._jobstore_engine = db.legacy_engine()
        self._jobstore = SQLAlchemyJobStore(engine=self._jobstore_engine, tablename=TABLE)
        self.scheduler = ClockedScheduler(
            clock=clock, owner=self,
            jobstores={"default": self._jobstore},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": int(missed_grace.total_seconds())},
            timezone=UTC,
        )
        self._table_ready = False
        self._watermark: Optional[datetime] = None
        self._last_full: Optional[datetime] = None
        self._was_active = False
        self._template: Optional[dict] = None
        self._prefixes: dict[tuple[str, datetime], bytes] = {}
        self._next_report_retry: Optional[datetime] = None

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self, *, paused: bool = False) -> None:
        """Start APScheduler; jobs run only while this instance holds the lease (see tick())."""
        global _active
        _active = self
        self.scheduler.start(paused=paused)
        self._table_ready = True

    def resume(self) -> None:
        self.scheduler.resume()

    def shutdown(self, wait: bool = True) -> None:
        global _active
        if self.scheduler.state != STATE_STOPPED:
            self.scheduler.shutdown(wait=wait)
        try:
            self.lease.release(self.clock())
        except Exception:  # a dead database must not block the stop; the lease expires anyway
            log.exception("could not release the scheduler lease")
        if _active is self:
            _active = None

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
        if not self._was_active or self._last_full is None or now - self._last_full >= FULL_RECONCILE_EVERY:
            status["reconcile"] = self.reconcile()
            self.ensure_report_jobs()
        else:
            status["sync"] = self.sync()
        self._was_active = True
        deliver_notifications(self.db, self.notifier, self.clock)
        if self.reports is not None and (self._next_report_retry is None or now >= self._next_report_retry):
            self.reports.retry_due(now)
            self._next_report_retry = now + REPORT_RETRY_CHECK
        self.heartbeat()
        if self.scheduler.state != STATE_STOPPED:
            self.scheduler.wakeup()
        return status

    def run_due(self, now: Optional[datetime] = None) -> int:
        """Run the jobs due at `now` (default: the clock) here and now; returns how many ran."""
        return self.scheduler.run_due(now or self.clock())

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
            self._remove(job_id(assignment_id, kind))

    def reconcile(self) -> dict[str, int]:
        """Make the job store agree with the database, in bulk (see the module docstring)."""
        with self.scheduler._jobstores_lock:  # not while the background thread runs jobs
            return self._reconcile()

    def _reconcile(self) -> dict[str, int]:
        self._ensure_table()
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
        existing = self._existing_jobs()
        plans = Timelines(self.calendar, self.plan, now, self.missed_grace)
        removed = self._write(self._plan_jobs(plans, rows, sent), existing, now)
        self._watermark = watermark or self._watermark
        self._last_full = now
        return {"open": len(rows), "removed": len(removed)}

    def sync(self) -> dict[str, int]:
        """Reconcile only the assignments changed since the last pass (cheap, every tick)."""
        if self._watermark is None:
            return self.reconcile()
        with self.scheduler._jobstores_lock:  # not while the background thread runs jobs
            return self._sync()

    def _sync(self) -> dict[str, int]:
        self._ensure_table()
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
        existing = self._existing_jobs(ids)
        plans = Timelines(self.calendar, self.plan, now, self.missed_grace)
        opened = [(r.id, r.assigned_at, r.due_at) for r in rows if r.status == "open"]
        removed = self._write(self._plan_jobs(plans, opened, sent), existing, now)
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
            deliver_notifications(self.db, self.notifier, self.clock)
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

    # ---- reports -----------------------------------------------------------------------
    def ensure_report_jobs(self) -> None:
        """Weekly and monthly report jobs with deterministic ids; an unchanged one is kept
        (with its next run time, so a report missed while down still runs once)."""
        if self.reports is None:
            return
        for kind, trigger in self.reports.triggers().items():
            jid = f"report:{kind}"
            existing = self.scheduler.get_job(jid)
            if existing is not None and str(existing.trigger) == str(trigger):
                continue
            first = trigger.get_next_fire_time(None, self.clock())
            self.scheduler.add_job(run_report_job, trigger=trigger, id=jid, args=(kind,), replace_existing=True,
                                   next_run_time=first, misfire_grace_time=None, name=f"{kind} report")

    def run_report(self, kind: str, label: Optional[str], *, scheduled_for: Optional[datetime] = None) -> int:
        """Send the report of the period before `scheduled_for` (or of `label`); only in office hours."""
        now = self.clock()
        period = self.reports.period(kind, label) if label else self.reports.period_before(kind, scheduled_for or now)
        opening = self.calendar.next_opening(now)
        if opening != now:
            self.scheduler.add_job(run_report_job, trigger=DateTrigger(run_date=opening, timezone=UTC),
                                   id=f"report:{kind}:{period.label}", args=(kind, period.label),
                                   replace_existing=True, next_run_time=opening, misfire_grace_time=None,
                                   name=f"{kind} report {period.label}")
            return 0
        return self.reports.send(period, now=now)

    # ---- health ------------------------------------------------------------------------
    def heartbeat(self) -> None:
        """Health's view of the scheduler: alive, job count, lease (one transaction)."""
        now = self.clock()
        self._ensure_table()
        with self.db.session() as s:
            jobs = s.execute(select(func.count()).select_from(self._jobstore.jobs_t)).scalar()
            s.merge(Heartbeat(name="scheduler", beat_at=now, info={
                "jobs": jobs, "running": self.scheduler.running, "holder": self.lease.holder,
                "lease_until": self.lease.expires_at.isoformat() if self.lease.expires_at else None}))

    def job_count(self) -> int:
        self._ensure_table()
        with self._jobstore_engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(self._jobstore.jobs_t)).scalar()

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
        return queue_notification(s, kind=kind, key=key, inquiry=inquiry, assignment=assignment,
                                  unit_name=unit.name, recipients=recipients, calendar=self.calendar,
                                  now=now, channel=self.notifier.channel,
                                  template=template, fanouts=self.fanouts)

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
            self._remove(jid)
            return
        self.scheduler.add_job(run_assignment_job, trigger=DateTrigger(run_date=when, timezone=UTC), id=jid,
                               args=(assignment_id, kind), replace_existing=True, next_run_time=when,
                               name=f"{kind} for assignment {assignment_id}")

    def _remove(self, jid: str) -> None:
        try:
            self.scheduler.remove_job(jid)
        except JobLookupError:
            pass

    def _ensure_table(self) -> None:
        if not self._table_ready:
            self._jobstore.jobs_t.create(self._jobstore_engine, checkfirst=True)
            self._table_ready = True

    def _existing_jobs(self, ids: Optional[list[str]] = None) -> dict[str, float]:
        """Assignment job ids -> next run timestamp, straight from the table (no unpickling)."""
        t = self._jobstore.jobs_t
        found: dict[str, float] = {}
        with self._jobstore_engine.connect() as conn:
            if ids is None:
                for jid, ts in conn.execute(select(t.c.id, t.c.next_run_time).where(t.c.id.like("assignment:%"))):
                    found[jid] = ts
            else:
                for i in range(0, len(ids), _CHUNK):
                    for jid, ts in conn.execute(select(t.c.id, t.c.next_run_time).where(t.c.id.in_(ids[i:i + _CHUNK]))):
                        found[jid] = ts
        return found

    def _job_state(self, assignment_id: int, kind: str, when: datetime) -> bytes:
        """The pickled job state, as APScheduler's job store keeps it, built fast for bulk writes.

        Pickling 200 000 jobs one by one costs seconds (class lookups for the trigger and the
        datetimes). Every job of one kind and run time differs only in id, args and name, so
        the rest is pickled once (protocol 2: no frames) from a real Job's __getstate__(), and
        those three items are appended as pickle opcodes before the closing SETITEMS. The
        result unpickles to exactly the dict Job.__getstate__() returns (tested).
        """
        prefix = self._prefixes.get((kind, when))
        if prefix is None:
            if len(self._prefixes) > 4096:  # run times move on; keep the cache small
                self._prefixes.clear()
            if self._template is None:
                template = Job(self.scheduler, id="template", func=run_assignment_job,
                               trigger=DateTrigger(run_date=when, timezone=UTC), executor="default",
                               args=(0, kind), kwargs={}, name="template",
                               misfire_grace_time=int(self.missed_grace.total_seconds()), coalesce=True,
                               max_instances=1, next_run_time=when).__getstate__()
                self._template = {k: v for k, v in template.items() if k not in ("id", "args", "name")}
            trigger = DateTrigger.__new__(DateTrigger)
            trigger.__setstate__({"version": 1, "run_date": when})
            blob = pickle.dumps(dict(self._template, trigger=trigger, next_run_time=when), 2)
            if not blob.endswith(b"u."):  # MARK ... SETITEMS STOP: a dict of several items
                raise RuntimeError("unexpected pickle layout for a job state")
            prefix = self._prefixes[(kind, when)] = blob[:-2]
        return b"".join((prefix, _P_ID, _pickle_str(job_id(assignment_id, kind)), _P_ARGS,
                         _pickle_int(assignment_id), _pickle_str(kind), b"\x86",  # TUPLE2
                         _P_NAME, _pickle_str(f"{kind} for assignment {assignment_id}"), b"u."))

    def _plan_jobs(self, plans: Timelines, rows: Iterable[tuple[int, datetime, datetime]], sent: set):
        """(job id, assignment id, kind, run time or None) for every open assignment given."""
        for assignment_id, assigned_at, due_at in rows:
            for kind, when in self._desired(plans, assignment_id, assigned_at, due_at, sent).items():
                yield f"assignment:{assignment_id}:{kind}", assignment_id, kind, when

    def _write(self, planned: Iterable[tuple[str, int, str, Optional[datetime]]], existing: dict[str, float],
               now: datetime) -> list[str]:
        """Apply the difference in one transaction, in batches as the plan streams in (memory
        stays flat); jobs with the same time are left alone. Returns the ids removed: those in
        `existing` that the plan does not keep."""
        now_ts = datetime_to_utc_timestamp(now)
        stale_ts = now_ts - self.missed_grace.total_seconds()  # older than this, a job would be skipped
        stamps: dict[datetime, float] = {}
        keep: set[str] = set()
        inserts, updates = [], []
        written = 0
        # Plain SQL for the bulk rows: the BLOB/float columns need no conversion on either backend,
        # and skipping SQLAlchemy's per-row bind processing halves the time of 200 000 rows.
        insert = text(f"INSERT INTO {TABLE} (id, next_run_time, job_state) VALUES (:id, :next_run_time, :job_state)")
        update_ = text(f"UPDATE {TABLE} SET next_run_time = :next_run_time, job_state = :job_state WHERE id = :id")
        t = self._jobstore.jobs_t
        with self._jobstore_engine.begin() as conn:
            for jid, assignment_id, kind, when in planned:
                if when is None:
                    continue
                keep.add(jid)
                ts = stamps.get(when)
                if ts is None:
                    ts = stamps[when] = datetime_to_utc_timestamp(when)
                old = existing.get(jid)
                if old is not None and (abs(old - ts) < 1e-3 or (stale_ts < old <= now_ts and ts <= now_ts)):
                    continue
                row = {"id": jid, "next_run_time": ts, "job_state": self._job_state(assignment_id, kind, when)}
                batch = updates if old is not None else inserts
                batch.append(row)
                if len(batch) >= 5000:
                    conn.execute(update_ if batch is updates else insert, batch)
                    written += len(batch)
                    batch.clear()
            for statement, batch in ((update_, updates), (insert, inserts)):
                if batch:
                    conn.execute(statement, batch)
                    written += len(batch)
            removed = [jid for jid in existing if jid not in keep]
            for i in range(0, len(removed), _CHUNK):
                conn.execute(t.delete().where(t.c.id.in_(removed[i:i + _CHUNK])))
        if (written or removed) and self.scheduler.state != STATE_STOPPED:
            self.scheduler.wakeup()
        return removed
