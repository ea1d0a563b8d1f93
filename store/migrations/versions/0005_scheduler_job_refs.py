"""scheduler job entry points moved

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 18:00:00

APScheduler keeps each job's function as a reference ("module:function") inside the pickled
state of its row in apscheduler_jobs. The split of scheduler/service.py (issue 10) moved the two
entry points to scheduler.reminders and scheduler.reports.jobs; a job stored under the old
reference could not be restored (APScheduler drops it when it comes due, and looking it up
raises, which would stop every tick at the report jobs). The references are rewritten here,
nothing else in the state changes. The table is the job store's own (created when a scheduler
first starts): without it there is nothing to do.
"""
import pickle

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

MOVED = {
    "scheduler.service:run_assignment_job": "scheduler.reminders:run_assignment_job",
    "scheduler.service:run_report_job": "scheduler.reports.jobs:run_report_job",
}
_BATCH = 1000


def _rewrite(moved: dict) -> None:
    bind = op.get_bind()
    if not sa.inspect(bind).has_table("apscheduler_jobs"):
        return
    jobs = sa.table("apscheduler_jobs", sa.column("id", sa.String), sa.column("job_state", sa.LargeBinary))
    markers = [old.encode("utf-8") for old in moved]
    last = ""
    while True:  # keyset pages: 200 000 job states are not read at once
        rows = bind.execute(sa.select(jobs.c.id, jobs.c.job_state).where(jobs.c.id > last)
                            .order_by(jobs.c.id).limit(_BATCH)).all()
        if not rows:
            return
        changed = []
        for job_id, blob in rows:
            blob = bytes(blob)  # memoryview on PostgreSQL
            if not any(marker in blob for marker in markers):
                continue
            state = pickle.loads(blob)
            if state.get("func") in moved:
                state["func"] = moved[state["func"]]
                changed.append({"job_id": job_id, "state": pickle.dumps(state, pickle.HIGHEST_PROTOCOL)})
        if changed:
            bind.execute(jobs.update().where(jobs.c.id == sa.bindparam("job_id"))
                         .values(job_state=sa.bindparam("state")), changed)
        last = rows[-1][0]


def upgrade() -> None:
    _rewrite(MOVED)


def downgrade() -> None:
    _rewrite({new: old for old, new in MOVED.items()})
