"""APScheduler behind domain verbs, on the injected clock (after python-telegram-bot's JobQueue).

- Jobs live in APScheduler's SQLAlchemy job store in the app's database, so they survive
  restarts. They carry ids and plain arguments, never ORM objects; their functions are
  module-level entry points, stored by reference ("module:function"), so moving one means
  migrating the stored rows (store/migrations).
- Job ids are deterministic, so scheduling again replaces.
- Time is the injected clock: ClockedScheduler asks the clock, not the wall, which jobs are due,
  and `run_due()` processes them synchronously (tests drive it; production's background thread
  calls the same code), only while `is_active()` allows it (the lease).
- One error handler for all jobs: a job that raises is logged and runs again JOB_RETRY later; a
  job later than its grace period is not run but handed to `on_missed`.
- An entry point reaches what it works with through `job_context()` (the `context` the queue
  was given) and `scheduled_for()` (the instant its run was due).
"""
from __future__ import annotations

import contextvars
import logging
import pickle
import struct
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Optional

from apscheduler.job import Job
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_PAUSED, STATE_STOPPED
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.util import datetime_to_utc_timestamp
from sqlalchemy import func, select, text

from store import Database

log = logging.getLogger(__name__)
UTC = timezone.utc
GATE_RETRY_SECONDS = 5.0  # a standby's background loop looks again this often
MAX_WAIT_SECONDS = 300.0  # never sleep longer (clock jumps, missed wakeups)
JOB_RETRY = timedelta(minutes=5)  # a job that raised runs again this much later
TABLE = "apscheduler_jobs"
_CHUNK = 500

# What a job's entry point works with: the context of the queue running the job (set around
# each run), else that of the last queue started in this process (cleared by shutdown()).
_active: Optional["JobQueue"] = None
_running: contextvars.ContextVar[Any] = contextvars.ContextVar("ddci_running", default=None)
_scheduled_for: contextvars.ContextVar[Optional[datetime]] = contextvars.ContextVar("ddci_scheduled", default=None)


def job_context() -> Any:
    """The `context` of the queue running this job (e.g. the ReminderService)."""
    context = _running.get() or (_active.context if _active is not None else None)
    if context is None:
        raise RuntimeError("no job queue is running in this process")
    return context


def scheduled_for() -> Optional[datetime]:
    """The instant the running job was due (None outside a job)."""
    return _scheduled_for.get()


class ClockedScheduler(BackgroundScheduler):
    """APScheduler whose "now" is the injected clock and which runs due jobs in-line.

    `run_due(now)` is APScheduler's own `_process_jobs` step (due jobs from the job store,
    coalesced, advanced or removed) made synchronous and clock-driven, gated by `is_active`.
    A job is advanced/removed BEFORE it runs, so a job that reschedules itself (the next
    reminder, tomorrow's escalation) is not undone; a crash in between loses nothing that the
    owner's reconcile cannot rebuild from the database.
    """

    def __init__(self, *, clock: Callable[[], datetime], is_active: Callable[[datetime], bool],
                 on_missed: Callable[[str, datetime], None], context: Any = None, **options):
        self._clock = clock
        self._is_active, self._on_missed, self._context = is_active, on_missed, context
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
        if not self._is_active(now):
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
        if not self._is_active(now):
            return handled, ran
        with self._jobstores_lock:
            for alias, store in list(self._jobstores.items()):
                for job in store.get_due_jobs(now):
                    if not self._is_active(now):
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
                    context_token, time_token = _running.set(self._context), _scheduled_for.set(run_time)
                    try:
                        if grace is not None and late > timedelta(seconds=grace):
                            log.warning("job %s missed by %s; skipped", job.id, late)
                            self._on_missed(job.id, now)
                        else:
                            job.func(*job.args, **job.kwargs)
                            ran += 1
                    except Exception:  # one failing job must not stop the others; retried later
                        log.exception("job %s failed; retrying at %s", job.id, now + JOB_RETRY)
                        self._retry(job, now + JOB_RETRY)
                    finally:
                        _running.reset(context_token)
                        _scheduled_for.reset(time_token)
        return handled, ran

    def _retry(self, job: Job, when: datetime) -> None:
        try:
            if self.get_job(job.id) is None:
                self.add_job(job.func, trigger=DateTrigger(run_date=when, timezone=UTC), id=job.id,
                             args=job.args, kwargs=job.kwargs, name=job.name, next_run_time=when,
                             misfire_grace_time=job.misfire_grace_time)
        except Exception:  # the database may be what failed; the owner's reconcile restores the job
            log.exception("could not reschedule job %s", job.id)


# ------------------------------------------------------------------------------- job state
def _pickle_str(value: str) -> bytes:
    data = value.encode("utf-8")
    return b"X" + struct.pack("<I", len(data)) + data  # BINUNICODE


def _pickle_int(value: int) -> bytes:
    if not -2 ** 31 <= value < 2 ** 31:
        raise ValueError(f"id {value} does not fit a pickle BININT")
    return b"J" + struct.pack("<i", value)  # BININT


def _pickle_args(args: tuple) -> bytes:
    """A tuple of ints and strings as protocol-2 opcodes (TUPLE1..3, else MARK ... TUPLE)."""
    parts = []
    for value in args:
        if isinstance(value, str):
            parts.append(_pickle_str(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            parts.append(_pickle_int(value))
        else:
            raise TypeError(f"bulk job arguments are ints and strings, not {type(value).__name__}")
    body = b"".join(parts)
    closing = {0: b")", 1: b"\x85", 2: b"\x86", 3: b"\x87"}.get(len(args))
    return body + closing if closing else b"(" + body + b"t"


_P_ID, _P_ARGS, _P_NAME = _pickle_str("id"), _pickle_str("args"), _pickle_str("name")


# ------------------------------------------------------------------------------- the queue
class JobQueue:
    """The job store and its ClockedScheduler, behind domain verbs: `run_at` (a date job),
    `run_on` (a trigger such as a cron), `cancel`, `next_run_time`, `job_count`, and
    `write_date_jobs` for many date jobs of one entry point in one transaction.

    `context` is what the jobs' entry points get from `job_context()`; `is_active(now)` gates
    every run; `on_missed(job_id, now)` gets each job later than its grace period.
    """

    def __init__(self, db: Database, *, clock: Callable[[], datetime], is_active: Callable[[datetime], bool],
                 on_missed: Callable[[str, datetime], None], context: Any = None,
                 missed_grace: timedelta = timedelta(hours=72)):
        self.context, self.missed_grace = context, missed_grace
        self.engine = db.legacy_engine()
        self.store = SQLAlchemyJobStore(engine=self.engine, tablename=TABLE)
        self.scheduler = ClockedScheduler(
            clock=clock, is_active=is_active, on_missed=on_missed, context=context,
            jobstores={"default": self.store},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": int(missed_grace.total_seconds())},
            timezone=UTC,
        )
        self._table_ready = False
        self._templates: dict[Callable, dict] = {}  # entry point -> its job state without id, args, name
        self._prefixes: dict[tuple[Callable, datetime], bytes] = {}

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self, *, paused: bool = False) -> None:
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
        if _active is self:
            _active = None

    @property
    def running(self) -> bool:
        return self.scheduler.running

    def wakeup(self) -> None:
        """Let the background thread look at the job store again now."""
        if self.scheduler.state != STATE_STOPPED:
            self.scheduler.wakeup()

    def run_due(self, now: datetime) -> int:
        return self.scheduler.run_due(now)

    def exclusive(self):
        """Held while many jobs change at once: the background thread runs none meanwhile."""
        return self.scheduler._jobstores_lock

    # ---- verbs -------------------------------------------------------------------------
    def run_at(self, job_id: str, func: Callable, args: tuple, when: datetime, *, name: str,
               catch_up: bool = False) -> None:
        """Run `func(*args)` once at `when`, replacing the job `job_id`. `catch_up`: a run
        missed by any amount still happens (else only within the grace period)."""
        grace = {"misfire_grace_time": None} if catch_up else {}
        self.scheduler.add_job(func, trigger=DateTrigger(run_date=when, timezone=UTC), id=job_id, args=args,
                               replace_existing=True, next_run_time=when, name=name, **grace)

    def run_on(self, job_id: str, func: Callable, trigger: BaseTrigger, args: tuple, *, now: datetime, name: str,
               catch_up: bool = False) -> bool:
        """Run `func(*args)` at every instant of `trigger`. An existing job with the same trigger
        is kept with its next run time (so a run missed while down still happens); returns
        False then, True if the job was (re)created."""
        existing = self.scheduler.get_job(job_id)
        if existing is not None and str(existing.trigger) == str(trigger):
            return False
        grace = {"misfire_grace_time": None} if catch_up else {}
        self.scheduler.add_job(func, trigger=trigger, id=job_id, args=args, replace_existing=True,
                               next_run_time=trigger.get_next_fire_time(None, now), name=name, **grace)
        return True

    def cancel(self, job_id: str) -> None:
        try:
            self.scheduler.remove_job(job_id)
        except JobLookupError:
            pass

    def next_run_time(self, job_id: str) -> Optional[datetime]:
        job = self.scheduler.get_job(job_id)
        return job.next_run_time if job else None

    def job_count(self) -> int:
        self.ensure_table()
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(self.table)).scalar()

    # ---- the table ---------------------------------------------------------------------
    @property
    def table(self):
        return self.store.jobs_t

    def ensure_table(self) -> None:
        if not self._table_ready:
            self.table.create(self.engine, checkfirst=True)
            self._table_ready = True

    def next_run_times(self, *, ids: Optional[list[str]] = None, prefix: str = "") -> dict[str, float]:
        """Job ids -> next run timestamp, straight from the table (no unpickling): those in
        `ids`, or all whose id starts with `prefix`."""
        t = self.table
        found: dict[str, float] = {}
        with self.engine.connect() as conn:
            if ids is None:
                for jid, ts in conn.execute(select(t.c.id, t.c.next_run_time).where(t.c.id.like(f"{prefix}%"))):
                    found[jid] = ts
            else:
                for i in range(0, len(ids), _CHUNK):
                    for jid, ts in conn.execute(select(t.c.id, t.c.next_run_time).where(t.c.id.in_(ids[i:i + _CHUNK]))):
                        found[jid] = ts
        return found

    def write_date_jobs(self, func: Callable, planned: Iterable[tuple[str, tuple, Optional[datetime]]],
                        existing: dict[str, float], now: datetime, *, name: Callable[[tuple], str]) -> list[str]:
        """Make the table hold `planned` date jobs of `func`: (job id, args, run time or None: no job).

        Applied in one transaction, in batches as the plan streams in (memory stays flat); a
        job with the same time is left alone, as is one already due (or missed within the
        grace period) that stays due. Returns the ids removed: those in `existing` (id -> next
        run timestamp, see `next_run_times`) that the plan does not keep.
        """
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
        t = self.table
        with self.engine.begin() as conn:
            for jid, args, when in planned:
                if when is None:
                    continue
                keep.add(jid)
                ts = stamps.get(when)
                if ts is None:
                    ts = stamps[when] = datetime_to_utc_timestamp(when)
                old = existing.get(jid)
                if old is not None and (abs(old - ts) < 1e-3 or (stale_ts < old <= now_ts and ts <= now_ts)):
                    continue
                row = {"id": jid, "next_run_time": ts, "job_state": self._job_state(func, jid, args, name(args), when)}
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
        if written or removed:
            self.wakeup()
        return removed

    def _job_state(self, func: Callable, job_id: str, args: tuple, name: str, when: datetime) -> bytes:
        """The pickled job state, as APScheduler's job store keeps it, built fast for bulk writes.

        Pickling 200 000 jobs one by one costs seconds (class lookups for the trigger and the
        datetimes). Every job of one entry point and run time differs only in id, args and name,
        so the rest is pickled once (protocol 2: no frames) from a real Job's __getstate__(), and
        those three items are appended as pickle opcodes before the closing SETITEMS. The
        result unpickles to exactly the dict Job.__getstate__() returns (tests/test_reminders.py).
        """
        prefix = self._prefixes.get((func, when))
        if prefix is None:
            if len(self._prefixes) > 4096:  # run times move on; keep the cache small
                self._prefixes.clear()
            template = self._templates.get(func)
            if template is None:
                state = Job(self.scheduler, id="template", func=func,
                            trigger=DateTrigger(run_date=when, timezone=UTC), executor="default",
                            args=args, kwargs={}, name="template",
                            misfire_grace_time=int(self.missed_grace.total_seconds()), coalesce=True,
                            max_instances=1, next_run_time=when).__getstate__()
                template = self._templates[func] = {k: v for k, v in state.items() if k not in ("id", "args", "name")}
            trigger = DateTrigger.__new__(DateTrigger)
            trigger.__setstate__({"version": 1, "run_date": when})
            blob = pickle.dumps(dict(template, trigger=trigger, next_run_time=when), 2)
            if not blob.endswith(b"u."):  # MARK ... SETITEMS STOP: a dict of several items
                raise RuntimeError("unexpected pickle layout for a job state")
            prefix = self._prefixes[(func, when)] = blob[:-2]
        return b"".join((prefix, _P_ID, _pickle_str(job_id), _P_ARGS, _pickle_args(args),
                         _P_NAME, _pickle_str(name), b"u."))
