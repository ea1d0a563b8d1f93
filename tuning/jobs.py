"""Retraining in the background: the admins ask (`TrainingQueue.request`), the worker runs it
(`TrainingRunner`, in a thread of the worker process, never in the web process), and the
progress and log are read from the `training_jobs` table.

One job at a time: a job holds `busy = 1` while queued or running and the column is unique,
so a second request fails at the database, whatever process sends it, and is refused with a
clear message naming the job in the way. A job whose worker died (no sign of life for
`stale_after`) is marked failed by the next request. Training is refused while a text is
labelled two ways (tuning.dataset conflicts), with the list.

A job: write the inbox's Rasa file from the database, check conflicts, compute the
fingerprint (the same as `flask nlu train`: pipeline, every data file, normalisation,
components) and skip when it is the active model's, or when that model was trained already
(its archive is reused); otherwise train a candidate without activating it, load and
evaluate it on the held-out set, evaluate the active model if its scores are not recorded
on the same files, register the candidate and store the side-by-side comparison. Activation
is the admins' next step (tuning.versions), through the gate.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Optional

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from nlu.classifier import ArchiveClassifier
from nlu.training import fingerprint, read_active, train_candidate, version_of, TrainResult
from store import Database, NluModel, TrainingJob
from tuning import dataset, gate
from tuning.versions import ModelRegistry, sha256_of

log = logging.getLogger(__name__)
LOG_CHARS = 20000


class TrainingError(Exception):
    """A training request that cannot be taken; the message says why."""


class TrainingBusy(TrainingError):
    def __init__(self, job: "JobView"):
        self.job = job
        super().__init__(f"training job #{job.id} ({job.status}, asked by {job.requested_by}) is not finished: "
                         "wait for it before asking again")


class TrainingRefused(TrainingError):
    def __init__(self, conflicts: list):
        self.conflicts = conflicts
        super().__init__(f"{len(conflicts)} text(s) are labelled with two intents; settle them before training:\n"
                         + "\n".join(f"- {c.describe()}" for c in conflicts))


@dataclass(frozen=True)
class JobView:
    id: int
    requested_by: str
    status: str
    progress: int
    log: str
    candidate_version: Optional[str]
    comparison: Optional[dict]
    error: Optional[str]
    requested_at: datetime
    started_at: Optional[datetime]
    finished_at: Optional[datetime]

    @classmethod
    def of(cls, j: TrainingJob) -> "JobView":
        return cls(j.id, j.requested_by, j.status, j.progress, j.log or "", j.candidate_version, j.comparison,
                   j.error, j.requested_at, j.started_at, j.finished_at)

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed", "skipped")


class TrainingQueue:
    def __init__(self, *, db: Database, clock: Callable[[], datetime], project_dir: Path, inbox_dir: Path,
                 stale_after: timedelta = timedelta(minutes=30), echo: Optional[Callable[[str], None]] = None):
        self.db, self.clock, self.project_dir, self.inbox_dir = db, clock, Path(project_dir), Path(inbox_dir)
        self.stale_after = stale_after
        self.echo = echo  # `flask nlu train` prints the log's lines as they come (bot.runtime)

    def request(self, *, by: str, start: bool = False) -> JobView:
        """Queue a retraining; TrainingBusy while another is queued or running,
        TrainingRefused while conflicts exist. With `start` the job is created running, for
        the caller to run itself (`flask nlu train`): no worker claims it."""
        if not by or not by.strip():
            raise TrainingError("who asks for the training must be named")
        with self.db.session() as s:
            found = dataset.find_conflicts(s, self.project_dir, self.inbox_dir)
        if found:
            raise TrainingRefused(found)
        now = self.clock()
        with self.db.session() as s:
            for job in s.execute(select(TrainingJob).where(TrainingJob.busy.is_not(None))).scalars():
                if job.status == "running" and now - job.updated_at > self.stale_after:
                    job.status, job.busy, job.finished_at = "failed", None, now
                    job.error = f"no sign of life since {job.updated_at:%Y-%m-%d %H:%M} UTC: the worker stopped"
        try:
            with self.db.session() as s:
                job = TrainingJob(requested_by=by, status="running" if start else "queued", busy=1, progress=0,
                                  log="", requested_at=now, updated_at=now, started_at=now if start else None)
                s.add(job)
                s.flush()
                return JobView.of(job)
        except IntegrityError:
            with self.db.session() as s:
                current = s.execute(select(TrainingJob).where(TrainingJob.busy.is_not(None))).scalars().first()
                if current is None:  # finished in between: the caller may simply ask again
                    raise TrainingError("another training job just finished; ask again") from None
                raise TrainingBusy(JobView.of(current)) from None

    def get(self, job_id: int) -> JobView:
        with self.db.session() as s:
            job = s.get(TrainingJob, job_id)
            if job is None:
                raise TrainingError(f"no training job #{job_id}")
            return JobView.of(job)

    def recent(self, limit: int = 20) -> list[JobView]:
        with self.db.session() as s:
            return [JobView.of(j) for j in s.execute(select(TrainingJob).order_by(TrainingJob.id.desc())
                                                     .limit(limit)).scalars()]

    def claim(self) -> Optional[int]:
        """The oldest queued job, now running (a conditional update: one worker gets it)."""
        now = self.clock()
        with self.db.session() as s:
            job_id = s.execute(select(TrainingJob.id).where(TrainingJob.status == "queued")
                               .order_by(TrainingJob.id).limit(1)).scalar()
            if job_id is None:
                return None
            done = s.execute(update(TrainingJob).where(TrainingJob.id == job_id, TrainingJob.status == "queued")
                             .values(status="running", started_at=now, updated_at=now, progress=1)
                             .execution_options(synchronize_session=False))
            return job_id if done.rowcount == 1 else None

    def note(self, job_id: int, progress: Optional[int], line: str) -> None:
        if self.echo is not None:
            self.echo(line.rstrip())
        with self.db.session() as s:
            job = s.get(TrainingJob, job_id)
            job.log = ((job.log or "") + line.rstrip() + "\n")[-LOG_CHARS:]
            if progress is not None:
                job.progress = max(job.progress, progress)
            job.updated_at = self.clock()

    def finish(self, job_id: int, status: str, *, candidate: Optional[str] = None, comparison: Optional[dict] = None,
               error: Optional[str] = None) -> JobView:
        now = self.clock()
        with self.db.session() as s:
            job = s.get(TrainingJob, job_id)
            job.status, job.busy, job.finished_at, job.updated_at = status, None, now, now
            job.progress = 100
            job.candidate_version = candidate or job.candidate_version
            job.comparison, job.error = comparison, error
            return JobView.of(job)


class Trainer:
    """Runs one job (in the worker). Plain values in; see the module's docstring for the steps."""

    def __init__(self, *, queue: TrainingQueue, registry: ModelRegistry, project_dir: Path, inbox_dir: Path,
                 heldout_dir: Path, threshold: float, min_margin: float):
        self.queue, self.registry = queue, registry
        self.project_dir, self.inbox_dir, self.heldout_dir = Path(project_dir), Path(inbox_dir), Path(heldout_dir)
        self.threshold, self.min_margin = threshold, min_margin

    def run(self, job_id: int) -> JobView:
        note = self.queue.note
        try:
            return self._run(job_id, note)
        except Exception as exc:  # the job's one boundary: the reason goes to the table, the worker goes on
            log.exception("training job %s failed", job_id)
            note(job_id, None, f"FAILED: {type(exc).__name__}: {exc}")
            return self.queue.finish(job_id, "failed", error=f"{type(exc).__name__}: {exc}")

    def _extra(self) -> list[Path]:
        return [self.inbox_dir]

    def _run(self, job_id: int, note) -> JobView:
        db = self.queue.db
        with db.session() as s:
            path = dataset.write_inbox_file(s, self.inbox_dir)
            found = dataset.find_conflicts(s, self.project_dir, self.inbox_dir)
        note(job_id, 5, f"Inbox examples written to {path}" if path else "No accepted inbox examples yet")
        if found:
            refused = TrainingRefused(found)
            note(job_id, None, str(refused))
            return self.queue.finish(job_id, "failed", error=str(refused))
        fp = fingerprint(self.project_dir, self._extra())
        version = version_of(fp)
        active = read_active(self.registry.model_dir)
        if active and active.get("fingerprint") == fp:
            note(job_id, None, f"Nothing changed since the active model {active['version']}; training skipped.")
            return self.queue.finish(job_id, "skipped", candidate=active["version"])
        self.registry.adopt_active()
        with db.session() as s:
            known = s.get(NluModel, version)
            reusable = known is not None and (self.registry.model_dir / known.archive).exists() \
                and sha256_of(self.registry.model_dir / known.archive) == known.sha256 and known.scores is not None
        if reusable:
            note(job_id, 90, f"Model {version} was trained on exactly this data already; training skipped.")
            comparison = self._compare(job_id, version)
            return self.queue.finish(job_id, "skipped", candidate=version, comparison=comparison.as_dict())
        steps = iter((10, 20, 60))
        result: TrainResult = train_candidate(self.project_dir, self.registry.model_dir, extra_dirs=self._extra(),
                                              force=True, progress=lambda m: note(job_id, next(steps, None), m))
        note(job_id, 65, f"[3/3] Evaluating {version} on the held-out set {self.heldout_dir} ...")
        scores = self._evaluate(result.path)  # loads the archive: a model that does not load fails here
        with db.session() as s:
            job = s.get(TrainingJob, job_id)
            by = job.requested_by
        self.registry.register(result, by=by, scores=scores, job_id=job_id)
        comparison = self._compare(job_id, version)
        f1 = scores["macro_f1"]["all"]
        note(job_id, 100, f"Done: {version}, macro-F1 {f1:.3f}; "
                          + ("the gate allows activation." if comparison.allowed
                             else "the gate refuses activation: " + "; ".join(comparison.refusals)))
        return self.queue.finish(job_id, "done", candidate=version, comparison=comparison.as_dict())

    def _evaluate(self, archive: Path) -> dict:
        classifier = ArchiveClassifier(archive, threshold=self.threshold, min_margin=self.min_margin)
        try:
            return gate.evaluate(classifier, self.heldout_dir, threshold=self.threshold, min_margin=self.min_margin)
        finally:
            classifier.close()

    def _compare(self, job_id: int, version: str) -> gate.Comparison:
        """Make sure the active model has scores on the same held-out files, then compare."""
        active = self.registry.active_version()
        if active and active != version:
            current = self.registry.get(active)
            if current.scores is None or current.scores.get("heldout") != gate.heldout_fingerprint(self.heldout_dir):
                self.queue.note(job_id, 85, f"Evaluating the active model {active} on the same held-out set ...")
                self.registry.set_scores(active, self._evaluate(self.registry.model_dir / current.archive))
        return self.registry.comparison(version)


class TrainingRunner:
    """The worker's side: take a queued job and run it in a thread, so messages keep being
    classified while a model trains (one job at a time per process, and one in all)."""

    def __init__(self, queue: TrainingQueue, trainer: Trainer):
        self.queue, self.trainer = queue, trainer
        self._thread: Optional[threading.Thread] = None

    def run_pending(self) -> Optional[JobView]:
        """Run the next queued job here and now (tests, `flask nlu jobs run`)."""
        job_id = self.queue.claim()
        return self.trainer.run(job_id) if job_id is not None else None

    def poll(self) -> bool:
        """Start the next queued job in the background; False when one runs or none waits."""
        if self._thread is not None and self._thread.is_alive():
            return False
        job_id = self.queue.claim()
        if job_id is None:
            return False
        self._thread = threading.Thread(target=self.trainer.run, args=(job_id,), name=f"training-{job_id}",
                                        daemon=True)
        self._thread.start()
        return True

    def join(self, timeout: Optional[float] = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
