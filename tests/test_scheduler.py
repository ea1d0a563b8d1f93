"""Reminder jobs on a real APScheduler with its SQLAlchemy job store (no sleeping)."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from store import Assignment
from tests.conftest import VN, load_fixture, signed_post, with_text

QUESTION = "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả"
# Received Fri 27/11/2026 10:00, due Wed 02/12 17:00 (see scheduler.timeline.timeline):
HALF_TIME = datetime(2026, 12, 1, 11, 15, tzinfo=VN)  # half of Mon-Wed's 22.5 office hours
FIRST_ESCALATION = datetime(2026, 12, 3, 7, 30, tzinfo=VN)  # the opening after the due time


@pytest.fixture
def service(app, clock):
    from bot import context, runtime

    with app.app_context():
        svc = runtime.reminder_service(context.settings(), context.db(), clock)
        svc.start(paused=True)
        yield svc
        svc.shutdown()


def open_assignment(app, client, worker):
    signed_post(client, with_text(load_fixture("text_message.json"), QUESTION))
    worker.run_once()
    from bot import context

    with app.app_context(), context.db().session() as s:
        return s.execute(select(Assignment)).scalars().one()


def test_jobs_survive_a_restart_in_the_database(app, client, worker, clock):
    from bot import context, runtime
    from scheduler.reminders import job_id

    assignment = open_assignment(app, client, worker)
    with app.app_context():
        first = runtime.reminder_service(context.settings(), context.db(), clock)
        first.start(paused=True)
        first.reconcile()
        first.shutdown()
        second = runtime.reminder_service(context.settings(), context.db(), clock)
        second.start(paused=True)
        try:
            job = second.scheduler.get_job(job_id(assignment.id, "escalation"))
            assert job.next_run_time == FIRST_ESCALATION
            assert second.scheduler.get_job(job_id(assignment.id, "reminder")).next_run_time == HALF_TIME
            assert {j.id for j in second.scheduler.get_jobs()} == {
                job_id(assignment.id, "reminder"), job_id(assignment.id, "escalation")}
        finally:
            second.shutdown()


def test_reconcile_is_idempotent_and_drops_jobs_of_answered_assignments(app, client, worker, service):
    assignment = open_assignment(app, client, worker)
    service.reconcile()
    service.reconcile()
    assert len(service.scheduler.get_jobs()) == 2
    from bot import context

    with app.app_context(), context.db().session() as s:
        s.get(Assignment, assignment.id).status = "answered"
    assert service.reconcile() == {"open": 0, "removed": 2}
    assert service.scheduler.get_jobs() == []


def test_reminder_fires_once_and_escalation_reaches_the_head_and_office(app, client, worker, service, smtp, clock):
    assignment = open_assignment(app, client, worker)
    smtp.messages.clear()
    assert service.fire(assignment.id, "reminder") is False  # nothing is due yet
    assert smtp.messages == []
    clock.set(HALF_TIME)
    assert service.fire(assignment.id, "reminder") is True
    assert service.fire(assignment.id, "reminder") is False  # a second run sends nothing
    [reminder] = smtp.messages
    assert reminder["to"] == ["motcua@soxd.quangninh.example"] and "Nhắc hạn" in reminder["subject"]
    assert "một nửa thời hạn" in reminder["subject"]
    clock.set(FIRST_ESCALATION)
    assert service.fire(assignment.id, "escalation") is True
    escalation = smtp.messages[-1]
    assert set(escalation["to"]) == {"motcua@soxd.quangninh.example", "giamdoc@soxd.quangninh.example",
                                     "truongban@bxt.quangninh.example", "ddci@bxt.quangninh.example"}
    assert "Quá hạn" in escalation["subject"]


def test_no_reminder_for_an_answered_assignment(app, client, worker, service, smtp, clock):
    assignment = open_assignment(app, client, worker)
    clock.set(HALF_TIME)
    smtp.messages.clear()
    from bot import context

    with app.app_context(), context.db().session() as s:
        s.get(Assignment, assignment.id).status = "answered"
    assert service.fire(assignment.id, "reminder") is False
    assert smtp.messages == []


def test_jobs_stored_before_the_scheduler_split_are_migrated(app, client, worker, clock):
    """APScheduler stores a job's function by reference: migration 0005 rewrites those of the old
    scheduler/service.py, so stored jobs still load (and the report jobs do not stop every tick)."""
    import pickle

    from alembic import command
    from sqlalchemy import update

    from bot import context, runtime
    from scheduler.reminders import job_id, run_assignment_job
    from scheduler.reports.jobs import run_report_job
    from store.migrate import alembic_config

    assignment = open_assignment(app, client, worker)
    with app.app_context():
        db = context.db()
        first = runtime.reminder_service(context.settings(), db, clock)
        first.start(paused=True)
        assert first.tick()["active"]
        first.shutdown()
        table = first.jobs.table
        with first.jobs.engine.begin() as conn:  # as the old module stored them (the jobs it had)
            for jid, blob in conn.execute(select(table.c.id, table.c.job_state)
                                          .where(table.c.id.not_like("calendar:%"))).all():
                state = pickle.loads(blob)
                state["func"] = "scheduler.service:" + state["func"].split(":")[1]
                conn.execute(update(table).where(table.c.id == jid).values(job_state=pickle.dumps(state)))
        config = alembic_config(db.engine)
        with db.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0004")  # the schema before the split
        db.upgrade()
        second = runtime.reminder_service(context.settings(), db, clock)
        second.start(paused=True)
        try:
            assert second.tick()["active"]
            assert second.scheduler.get_job(job_id(assignment.id, "reminder")).func is run_assignment_job
            assert second.scheduler.get_job(job_id(assignment.id, "escalation")).next_run_time == FIRST_ESCALATION
            assert second.scheduler.get_job("report:weekly").func is run_report_job
            assert second.job_count() == 5  # 2 of the assignment, 2 reports, the calendar check
        finally:
            second.shutdown()
