"""Reminders, escalations and the one active scheduler, on a real APScheduler job store.

Time is the test clock: `service.run_due()` runs what APScheduler's job store says is due at
clock() (the same step the scheduler's background thread takes), so nothing sleeps and nothing
reads the wall clock. E-mails go through a real SMTP server on loopback.

Expected instants are worked out by hand from the calendar in config.yml (office hours
07:30-11:30 and 13:30-17:00, 7.5 h a day; Tue 24/11/2026 and Mon 31/08-Wed 02/09/2026 are
days off; Sat 22/08/2026 is a make-up working day).
"""
from __future__ import annotations

import functools
import threading
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from store import Assignment, InboxEvent, Inquiry, Notification
from tests.conftest import FIXTURE_PAGE, VN, load_fixture, signed_post, with_text

QUESTION = "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả"
UNIT_MAIL = "motcua@soxd.quangninh.example"
ESCALATION_TO = {UNIT_MAIL, "giamdoc@soxd.quangninh.example", "truongban@bxt.quangninh.example",
                 "ddci@bxt.quangninh.example"}


def vn(*args) -> datetime:
    return datetime(*args, tzinfo=VN)


# ---- helpers --------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def calendar():
    import yaml

    from scheduler.calendar import WorkingCalendar
    from tests.conftest import REPO

    return WorkingCalendar.from_mapping(yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))["calendar"])


def seed(app, *, received: datetime, unit: str = "SO_XD", role: str = "lead", days: int = 3,
         text: str = QUESTION, intent: str = "xay_dung") -> tuple[str, int]:
    """An inquiry and its open assignment written directly, as the worker would have (no NLU)."""
    from bot import context

    due = calendar().due(received, days)
    with app.app_context(), context.db().session() as s:
        event = InboxEvent(dedup_key=f"seed-{received.isoformat()}-{unit}-{role}", object="page", page_id=FIXTURE_PAGE,
                           kind="text", sender_id="seed-sender", payload={}, received_at=received, status="done")
        s.add(event)
        s.flush()
        inquiry = Inquiry(source_event_id=event.id, page_id=FIXTURE_PAGE, sender_id="seed-sender", text=text,
                          intent=intent, unit_code=unit, status="triage" if role == "triage" else "assigned",
                          received_at=received, due_at=due, created_at=received, updated_at=received)
        s.add(inquiry)
        s.flush()
        inquiry.code = f"QN-{received.astimezone(VN).year}-{inquiry.id:06d}"
        assignment = Assignment(inquiry_id=inquiry.id, unit_code=unit, role=role, working_days=days,
                                assigned_at=received, due_at=due, status="open", updated_at=received)
        s.add(assignment)
        s.flush()
        return inquiry.code, assignment.id


def new_service(app, clock, holder: str):
    from bot import context, runtime

    with app.app_context():
        service = runtime.reminder_service(context.settings(), context.db(), clock, holder=holder)
    service.start(paused=True)  # the background thread never runs a job: run_due() does, on the clock
    return service


@pytest.fixture
def services(app, clock):
    made = []

    def make(holder: str = "scheduler-a"):
        service = new_service(app, clock, holder)
        made.append(service)
        return service

    yield make
    for service in made:
        service.shutdown()


def officer_mail(smtp) -> list:
    """The reminder, escalation and assignment e-mails (the scheduler also sends reports and,
    in December 2026, the admins' weekly warning that 2027's days off are not declared)."""
    return [m for m in smtp.messages if "Báo cáo" not in m["subject"] and "Chưa khai báo lịch nghỉ" not in m["subject"]]


def mails(smtp) -> list[tuple[str, frozenset]]:
    return [(m["subject"], frozenset(m["to"])) for m in officer_mail(smtp)]


def notifications(app, kind=None) -> list[Notification]:
    from bot import context

    with app.app_context(), context.db().session() as s:
        query = select(Notification).order_by(Notification.id)
        if kind:
            query = query.where(Notification.kind == kind)
        return s.execute(query).scalars().all()


def job_times(service, assignment_id: int) -> dict:
    from scheduler.reminders import JOB_KINDS, job_id

    found = {}
    for kind in JOB_KINDS:
        job = service.scheduler.get_job(job_id(assignment_id, kind))
        found[kind] = job.next_run_time if job else None
    return found


# ---- the timeline (pure) --------------------------------------------------------------------
def stages(received: datetime, days: int, plan=None):
    from scheduler.timeline import ReminderPlan, timeline

    cal = calendar()
    due = cal.due(received, days)
    tl = timeline(cal, plan or ReminderPlan(), received, due)
    escalations, at = [], tl.escalation_at
    for _ in range(3):
        escalations.append(at)
        at = tl.next_escalation(cal, at) if at else None
    return due, [(s.name, s.at) for s in tl.reminders], escalations


@pytest.mark.parametrize("received, days, due, reminders, escalations", [
    # 3 days: counted Mon-Wed = 22.5 office hours; half (11.25 h) = Mon 7.5 h + Tue 07:30-11:15; due day Wed.
    (vn(2026, 11, 27, 10, 0), 3, vn(2026, 12, 2, 17, 0),
     [("half_time", vn(2026, 12, 1, 11, 15)), ("due_day", vn(2026, 12, 2, 7, 30))],
     [vn(2026, 12, 3, 7, 30), vn(2026, 12, 4, 7, 30), vn(2026, 12, 7, 7, 30)]),
    # received after hours on Friday: the same counted days, the same instants
    (vn(2026, 11, 27, 22, 0), 3, vn(2026, 12, 2, 17, 0),
     [("half_time", vn(2026, 12, 1, 11, 15)), ("due_day", vn(2026, 12, 2, 7, 30))],
     [vn(2026, 12, 3, 7, 30), vn(2026, 12, 4, 7, 30), vn(2026, 12, 7, 7, 30)]),
    # 2 days (coordination): 15 h, half 7.5 h = Mon 17:00 = shut -> Tue 07:30, the due-day reminder: one reminder
    (vn(2026, 11, 27, 10, 0), 2, vn(2026, 12, 1, 17, 0),
     [("due_day", vn(2026, 12, 1, 7, 30))],
     [vn(2026, 12, 2, 7, 30), vn(2026, 12, 3, 7, 30), vn(2026, 12, 4, 7, 30)]),
    # 1 day (triage): the half time (3.75 h: 11:15) comes after the due-day reminder (07:30): dropped
    (vn(2026, 11, 27, 10, 0), 1, vn(2026, 11, 30, 17, 0),
     [("due_day", vn(2026, 11, 30, 7, 30))],
     [vn(2026, 12, 1, 7, 30), vn(2026, 12, 2, 7, 30), vn(2026, 12, 3, 7, 30)]),
    # 5 days (complex): 37.5 h, half 18.75 h = Mon 7.5 + Tue 7.5 + Wed 3.75 h = Wed 11:15
    (vn(2026, 11, 27, 10, 0), 5, vn(2026, 12, 4, 17, 0),
     [("half_time", vn(2026, 12, 2, 11, 15)), ("due_day", vn(2026, 12, 4, 7, 30))],
     [vn(2026, 12, 7, 7, 30), vn(2026, 12, 8, 7, 30), vn(2026, 12, 9, 7, 30)]),
    # across Quốc khánh 2026 (Mon 31/08 swap, Tue 1/9, Wed 2/9 off): counted Fri 28/8, Thu 3/9, Fri 4/9
    (vn(2026, 8, 27, 10, 0), 3, vn(2026, 9, 4, 17, 0),
     [("half_time", vn(2026, 9, 3, 11, 15)), ("due_day", vn(2026, 9, 4, 7, 30))],
     [vn(2026, 9, 7, 7, 30), vn(2026, 9, 8, 7, 30), vn(2026, 9, 9, 7, 30)]),
    # a make-up Saturday (22/08/2026) is a working day for reminders too
    (vn(2026, 8, 21, 10, 0), 3, vn(2026, 8, 25, 17, 0),
     [("half_time", vn(2026, 8, 24, 11, 15)), ("due_day", vn(2026, 8, 25, 7, 30))],
     [vn(2026, 8, 26, 7, 30), vn(2026, 8, 27, 7, 30), vn(2026, 8, 28, 7, 30)]),
])
def test_timeline_instants(received, days, due, reminders, escalations):
    assert stages(received, days) == (due, reminders, escalations)


@pytest.mark.parametrize("sessions, half_time", [
    # 07:30-11:30 + 13:30-17:30 = 8 h a day; 3 days = 24 h, half 12 h = Mon 8 h + Tue 4 h = Tue 11:30,
    # the close of the morning: offices are shut -> Tue 13:30
    ([("07:30", "11:30"), ("13:30", "17:30")], vn(2026, 12, 1, 13, 30)),
    # 07:00-11:00 + 12:30-17:00 = 8.5 h; 25.5 h, half 12.75 h = Mon 8.5 h + Tue 4 h (to 11:00) + 0.25 h = Tue 12:45
    ([("07:00", "11:00"), ("12:30", "17:00")], vn(2026, 12, 1, 12, 45)),
    # the shipped sessions, for contrast: half 11.25 h = Tue 11:15, before lunch
    ([("07:30", "11:30"), ("13:30", "17:00")], vn(2026, 12, 1, 11, 15)),
])
def test_a_half_time_at_lunch_goes_out_after_lunch(sessions, half_time):
    """Half of the allowed time counts office time only; if it ends at lunch it is sent at the reopening."""
    from scheduler.calendar import WorkingCalendar
    from scheduler.timeline import ReminderPlan, timeline

    cal = WorkingCalendar.from_mapping({"office_hours": [{"open": a, "close": b} for a, b in sessions]})
    received = vn(2026, 11, 27, 10, 0)  # Fri; counted Mon 30/11 - Wed 02/12
    tl = timeline(cal, ReminderPlan(), received, cal.due(received, 3))
    assert [(st.name, st.at) for st in tl.reminders][0] == ("half_time", half_time)
    assert cal.next_opening(half_time) == half_time  # in office hours


def test_timeline_follows_the_reminders_config():
    from scheduler.timeline import ReminderPlan

    plan = ReminderPlan(half_time=False, due_day_time=time(8, 30), before_due_working_days=2,
                        escalation_repeat_working_days=2)
    _, reminders, escalations = stages(vn(2026, 11, 27, 10, 0), 3, plan)
    # before_due 2: the opening two working days before Wed = Mon 30/11 07:30
    assert reminders == [("before_due", vn(2026, 11, 30, 7, 30)), ("due_day", vn(2026, 12, 2, 8, 30))]
    assert escalations == [vn(2026, 12, 3, 7, 30), vn(2026, 12, 7, 7, 30), vn(2026, 12, 9, 7, 30)]
    _, _, once = stages(vn(2026, 11, 27, 10, 0), 3, ReminderPlan(escalation_repeat_working_days=0))
    assert once == [vn(2026, 12, 3, 7, 30), None, None]


def test_reminders_config_is_validated(tmp_path):
    from bot.config import ConfigError, load_config_file
    from tests.conftest import write_config

    with pytest.raises(ConfigError, match="quote the time"):
        load_config_file(write_config(tmp_path, reminders={"due_day_time": 450}))
    with pytest.raises(ConfigError, match="reports.weekly_weekday"):
        load_config_file(write_config(tmp_path, reports={"weekly_weekday": "thursday"}))
    assert load_config_file(write_config(tmp_path, reminders={"due_day_time": "8:00"})).reminders.due_day_time == "08:00"


# ---- (a) missed while stopped: each sent exactly once ---------------------------------------
def test_reminders_missed_while_stopped_are_sent_once_on_start(app, services, smtp, clock):
    _, a = seed(app, received=vn(2026, 11, 27, 10, 0))  # half time Tue 01/12 11:15
    _, b = seed(app, received=vn(2026, 11, 28, 9, 0), unit="SO_TC", role="coordinate", days=2,
                intent="dau_tu")  # due Tue 01/12 17:00: its one reminder Tue 01/12 07:30
    clock.set(vn(2026, 11, 30, 18, 0))
    first = services("first")
    assert first.tick()["active"]
    first.run_due()
    assert mails(smtp) == []
    first.shutdown()  # stopped Mon evening ...

    clock.set(vn(2026, 12, 1, 16, 0))  # ... started again Tue 16:00: both reminders were missed
    second = services("second")
    assert second.tick()["active"]
    second.run_due()
    by_recipients = {to: subject for subject, to in mails(smtp)}
    assert len(mails(smtp)) == 2 and len(by_recipients) == 2
    assert "đã qua một nửa thời hạn" in by_recipients[frozenset({UNIT_MAIL})]
    # B coordinates: its reminder speaks of its own duty, not of answering the business
    assert "đến hạn gửi ý kiến phối hợp trong hôm nay" in by_recipients[frozenset({"motcua@sotc.quangninh.example"})]
    second.run_due()
    second.tick()
    second.run_due()
    assert len(mails(smtp)) == 2
    second.shutdown()
    third = services("third")  # and another restart sends nothing again
    clock.advance(minutes=5)
    assert third.tick()["active"]
    third.run_due()
    assert len(mails(smtp)) == 2
    rows = notifications(app, "reminder")
    assert sorted((r.assignment_id, r.idempotency_key.rsplit(":", 1)[1], r.status, r.attempts) for r in rows) == [
        (a, "half_time", "sent", 1), (b, "due_day", "sent", 1)]
    assert all(r.sent_at == vn(2026, 12, 1, 16, 0) for r in rows)
    # what is left: A's due-day reminder Wed 07:30; escalations at the openings after the due times
    assert job_times(third, a) == {"reminder": vn(2026, 12, 2, 7, 30), "escalation": vn(2026, 12, 3, 7, 30)}
    assert job_times(third, b) == {"reminder": None, "escalation": vn(2026, 12, 2, 7, 30)}


def test_missed_reminders_of_one_assignment_coalesce_into_the_latest(app, services, smtp, clock):
    """Down from Mon to Wed 11:00: the half-time reminder (Tue) is superseded by the due-day one."""
    _, a = seed(app, received=vn(2026, 11, 27, 10, 0))
    clock.set(vn(2026, 11, 30, 9, 0))
    first = services("first")
    first.tick()
    first.shutdown()
    clock.set(vn(2026, 12, 2, 11, 0))
    second = services("second")
    second.tick()
    second.run_due()
    [(subject, to)] = mails(smtp)
    assert "đến hạn trả lời trong hôm nay" in subject and to == {UNIT_MAIL}
    assert [n.idempotency_key.rsplit(":", 1)[1] for n in notifications(app, "reminder")] == ["due_day"]


def test_a_reminder_missed_beyond_the_grace_period_is_skipped(app, services, smtp, clock):
    """Down Mon 30/11 to Mon 07/12 10:00 (grace 72 h): both reminders are stale; today's escalation goes once."""
    _, a = seed(app, received=vn(2026, 11, 27, 10, 0))
    clock.set(vn(2026, 11, 30, 9, 0))
    first = services("first")
    first.tick()
    first.shutdown()
    clock.set(vn(2026, 12, 7, 10, 0))
    second = services("second")
    second.tick()
    second.run_due()
    [(subject, to)] = mails(smtp)
    assert "Quá hạn" in subject and to == ESCALATION_TO
    assert notifications(app, "reminder") == []
    [escalation] = notifications(app, "escalation")
    assert escalation.idempotency_key.endswith(":2026-12-07")
    assert job_times(second, a) == {"reminder": None, "escalation": vn(2026, 12, 8, 7, 30)}


def test_a_missed_reminder_found_after_hours_waits_for_the_next_opening(app, services, smtp, clock):
    _, a = seed(app, received=vn(2026, 11, 27, 10, 0))
    clock.set(vn(2026, 11, 30, 9, 0))
    first = services("first")
    first.tick()
    first.shutdown()
    clock.set(vn(2026, 12, 1, 20, 0))  # restarted Tue evening: the 11:15 reminder was missed
    second = services("second")
    second.tick()
    assert job_times(second, a)["reminder"] == vn(2026, 12, 2, 7, 30)  # not tonight
    second.run_due()
    assert smtp.messages == []  # not even the monthly report (due 01/12 08:00): offices are shut
    clock.set(vn(2026, 12, 2, 7, 30))
    second.tick()  # renew the lease (the scheduler process does so every few seconds)
    second.run_due()
    [(subject, _)] = mails(smtp)
    assert "trong hôm nay" in subject  # by now the due-day reminder is the one that matters


def test_a_reminder_found_at_lunch_waits_for_the_afternoon_opening(app, services, smtp, clock):
    """Restarted Tue 12:00, in the lunch break, just after the 11:15 half time: sent at 13:30."""
    _, a = seed(app, received=vn(2026, 11, 27, 10, 0))
    clock.set(vn(2026, 11, 30, 9, 0))
    first = services("first")
    first.tick()
    first.shutdown()
    clock.set(vn(2026, 12, 1, 12, 0))
    second = services("second")
    second.tick()
    assert job_times(second, a)["reminder"] == vn(2026, 12, 1, 13, 30)
    second.run_due()
    assert mails(smtp) == []
    clock.set(vn(2026, 12, 1, 13, 30))
    second.tick()
    second.run_due()
    [(subject, to)] = mails(smtp)
    assert "một nửa thời hạn" in subject and to == {UNIT_MAIL}
    [row] = notifications(app, "reminder")
    assert row.sent_at == vn(2026, 12, 1, 13, 30)


# ---- (b) two schedulers: only the lease holder sends ---------------------------------------
def test_two_schedulers_only_the_lease_holder_sends(app, services, smtp, clock):
    _, a = seed(app, received=vn(2026, 11, 27, 10, 0))
    clock.set(vn(2026, 12, 1, 11, 0))
    one, two = services("one"), services("two")
    assert one.tick()["active"] is True
    status = two.tick()
    assert status["active"] is False and status["held_by"] == "one"
    clock.set(vn(2026, 12, 1, 11, 15))  # the half-time reminder is due
    one.tick()
    assert two.run_due() == 0 and smtp.messages == []  # the standby runs nothing
    one.run_due()
    assert len(mails(smtp)) == 1
    # "one" dies (stops renewing). Within the lease "two" still waits ...
    clock.advance(seconds=30)
    assert two.tick()["active"] is False
    # ... and takes over once the lease has expired.
    clock.advance(seconds=31)
    assert two.tick()["active"] is True
    clock.set(vn(2026, 12, 2, 7, 30))
    two.tick()
    assert one.run_due() == 0  # its lease is gone: even if it wakes up, it sends nothing
    assert len(mails(smtp)) == 1
    two.run_due()
    [(first, _), (second, _)] = mails(smtp)
    assert "một nửa thời hạn" in first and "trong hôm nay" in second
    assert one.tick()["active"] is False  # back, it finds "two" holding the lease
    assert len({n.idempotency_key for n in notifications(app)}) == len(notifications(app))


def test_only_one_of_many_racing_instances_gets_the_lease(db, clock):
    from scheduler.lease import SchedulerLease

    leases = [SchedulerLease(db, holder=f"racer-{i}") for i in range(6)]
    barrier = threading.Barrier(len(leases))
    results = {}

    def race(lease):
        barrier.wait()
        results[lease.holder] = lease.acquire(clock())

    threads = [threading.Thread(target=race, args=(lease,)) for lease in leases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results.values()) == [False] * 5 + [True]
    winner = next(h for h, won in results.items() if won)
    assert SchedulerLease(db).current()[0] == winner
    # a clean stop hands over at once
    holder = next(lease for lease in leases if lease.holder == winner)
    holder.release(clock())
    assert leases[0 if leases[0] is not holder else 1].acquire(clock()) is True


# ---- (d) a whole timeline, across a restart --------------------------------------------------
@pytest.fixture
def hourly_app(make_app):
    """The scheduler renews its lease every hour of test time here (10 s in production)."""
    return make_app(reminders__lock_lease_seconds=7200)


def test_an_inquiry_timeline_plays_out_at_working_hour_instants(hourly_app, trained_model, smtp, clock):
    """Webhook -> worker -> assigned e-mail; the scheduler steps through ten days in 15-minute
    steps, is stopped Tue 18:00 and started again Wed 09:00; the unit answers Fri 10:00."""
    from bot import context, runtime

    app, client = hourly_app, hourly_app.test_client()
    with app.app_context():
        worker = runtime.worker(context.settings(), context.db(), clock)
    made = []

    def services(holder):
        made.append(new_service(app, clock, holder))
        return made[-1]

    signed_post(client, with_text(load_fixture("text_message.json"), QUESTION))
    worker.run_once()
    with app.app_context(), context.db().session() as s:
        inquiry = s.execute(select(Inquiry)).scalar_one()
    log = [(clock(), m["subject"], frozenset(m["to"])) for m in smtp.messages]
    officer_mail_seen = officer_mail(smtp)

    def step_until(service, end, answer_at=None):
        while clock() < end:
            clock.advance(minutes=15)
            if answer_at is not None and clock() == answer_at:
                with app.app_context():
                    s = context.settings()
                    runtime.casework(s, context.db(), clock).answer(inquiry.code, by="soxd.officer")
            if clock().minute == 0:
                service.tick()
            service.run_due()
            for m in officer_mail(smtp)[len(officer_mail_seen):]:  # not the reports nor the admins' warning
                log.append((clock(), m["subject"], frozenset(m["to"])))
            officer_mail_seen[:] = officer_mail(smtp)

    try:
        first = services("first")
        first.tick()
        step_until(first, vn(2026, 12, 1, 18, 0))
        first.shutdown()
        clock.set(vn(2026, 12, 2, 9, 0) - timedelta(minutes=15))  # down overnight, past the 07:30 reminder
        second = services("second")
        step_until(second, vn(2026, 12, 7, 10, 0), answer_at=vn(2026, 12, 4, 10, 0))
        assert job_times(second, 1) == {"reminder": None, "escalation": None}
    finally:
        for service in made:
            service.shutdown()

    expected = [
        (vn(2026, 11, 27, 10, 0), "Đơn vị được giao trả lời", {UNIT_MAIL}),
        (vn(2026, 12, 1, 11, 15), "đã qua một nửa thời hạn", {UNIT_MAIL}),
        (vn(2026, 12, 2, 9, 0), "đến hạn trả lời trong hôm nay", {UNIT_MAIL}),  # missed at 07:30, sent on start
        (vn(2026, 12, 3, 7, 30), "Quá hạn", ESCALATION_TO),
        (vn(2026, 12, 4, 7, 30), "Quá hạn", ESCALATION_TO),  # repeated; answered at 10:00, then silence
    ]
    assert [(when, to) for when, _, to in log] == [(when, to) for when, _, to in expected]
    for (_, subject, _), (_, words, _) in zip(log, expected):
        assert words in subject and inquiry.code in subject
    cal = calendar()
    for when, _, _ in log:
        assert cal.next_opening(when) == when  # every e-mail in office hours on a working day
    # what the officer reads: text, business, domain, due date, time left, where to answer
    sent = officer_mail(smtp)
    half = sent[1]["text"]
    # at Tue 11:15: Tue 11:15-11:30 + 13:30-17:00 (3.75 h) + Wed 7.5 h = 11.25 h left
    for part in (QUESTION, "Xây dựng", "17:00 thứ Tư, ngày 02/12/2026", "còn 11 giờ làm việc", "Messenger",
                 "Cách trả lời: soạn trả lời trong trang quản lý (được phê duyệt trước khi gửi): "
                 f"http://127.0.0.1:5000/inquiries/{inquiry.code}"):
        assert part in half
    assert "đã quá hạn 7,5 giờ làm việc" in sent[4]["text"]  # Fri 07:30: Thu's 7.5 h of office time past due
    html = sent[3]["msg"].get_body(preferencelist=("html",)).get_content()
    assert QUESTION in html and "Quá hạn" in html


# ---- rescheduling: reassignment, complex case, answer (incremental sync) ---------------------
def test_casework_changes_reschedule_and_answer_cancels(app, services, clock, smtp):
    from bot import context, runtime

    code, a = seed(app, received=vn(2026, 11, 27, 10, 0))
    clock.set(vn(2026, 11, 30, 9, 0))
    service = services()
    service.tick()
    assert job_times(service, a) == {"reminder": vn(2026, 12, 1, 11, 15), "escalation": vn(2026, 12, 3, 7, 30)}
    with app.app_context():
        s = context.settings()
        casework = runtime.casework(s, context.db(), clock)
    clock.advance(minutes=1)
    casework.mark_complex(code, by="soxd", reason="phức tạp")  # due Fri 04/12 17:00
    assert "sync" in service.tick()
    assert job_times(service, a) == {"reminder": vn(2026, 12, 2, 11, 15), "escalation": vn(2026, 12, 7, 7, 30)}
    clock.set(vn(2026, 12, 1, 9, 0))
    new = casework.assign(code, "SO_TC", by="bxt", reason="đúng thẩm quyền")  # due Fri 04/12 17:00
    service.tick()
    assert job_times(service, a) == {"reminder": None, "escalation": None}
    # counted Wed-Fri 22.5 h: half (11.25 h) = Wed 7.5 h + Thu 07:30-11:15
    assert job_times(service, new.id) == {"reminder": vn(2026, 12, 3, 11, 15), "escalation": vn(2026, 12, 7, 7, 30)}
    clock.advance(hours=1)
    casework.answer(code, by="sotc")
    service.tick()
    assert job_times(service, new.id) == {"reminder": None, "escalation": None}
    assert service.job_count() == 3  # the two report jobs and the calendar check
    clock.set(vn(2026, 12, 7, 8, 0))
    service.tick()
    service.run_due()
    assert [s for s, _ in mails(smtp) if "Nhắc hạn" in s or "Quá hạn" in s] == []


def test_bulk_reconcile_adds_keeps_and_removes(app, services, clock):
    from bot import context
    from scheduler.reminders import job_id

    ids = [seed(app, received=vn(2026, 11, 23, 8, 0) + timedelta(hours=5 * i))[1] for i in range(40)]
    clock.set(vn(2026, 11, 23, 7, 0))  # before them all: every instant is ahead
    service = services()
    assert service.reconcile() == {"open": 40, "removed": 0}
    before = {j.id: j.next_run_time for j in service.scheduler.get_jobs()}
    assert len(before) == 80
    assert service.reconcile() == {"open": 40, "removed": 0}
    assert {j.id: j.next_run_time for j in service.scheduler.get_jobs()} == before
    # each job equals what the per-assignment path (APScheduler's add_job) would store
    with app.app_context(), context.db().session() as s:
        sample = s.get(Assignment, ids[7])
    planned = service.schedule(sample)
    assert {k: before.get(job_id(ids[7], k)) for k in planned} == planned
    with app.app_context(), context.db().session() as s:
        for assignment_id in ids[:10]:
            s.get(Assignment, assignment_id).status = "answered"
    service.scheduler.add_job("scheduler.reminders:run_assignment_job", trigger="date", id="assignment:999999:reminder",
                              run_date=vn(2026, 12, 24, 8, 0), args=(999999, "reminder"),
                              next_run_time=vn(2026, 12, 24, 8, 0))
    assert service.reconcile() == {"open": 30, "removed": 21}
    assert len(service.scheduler.get_jobs()) == 60


def test_bulk_job_states_are_what_apscheduler_stores(app, services, clock):
    """reconcile() pickles job states itself (JobQueue.write_date_jobs): each unpickles to the
    state APScheduler's add_job stores for the same job."""
    import pickle

    from scheduler.reminders import job_id, run_assignment_job

    _, a = seed(app, received=vn(2026, 11, 27, 10, 0))
    clock.set(vn(2026, 11, 30, 9, 0))
    service = services()
    service.reconcile()

    def states() -> dict:
        table = service.jobs.table
        with service.jobs.engine.connect() as conn:
            return {jid: dict(state, trigger=state["trigger"].__getstate__()) for jid, state in (
                (jid, pickle.loads(blob)) for jid, blob in conn.execute(select(table.c.id, table.c.job_state)))}

    bulk = states()
    assert set(bulk) == {job_id(a, "reminder"), job_id(a, "escalation")}
    for kind, when in job_times(service, a).items():
        service.jobs.run_at(job_id(a, kind), run_assignment_job, (a, kind), when, name=f"{kind} for assignment {a}")
    assert states() == bulk


def test_a_failed_send_is_recorded_and_retried(app, services, smtp, clock):
    _, a = seed(app, received=vn(2026, 11, 27, 10, 0))
    clock.set(vn(2026, 12, 1, 11, 15))
    service = services()
    service.tick()
    service.notifier.for_channel("email").port = 1  # nothing listens there
    service.run_due()
    [row] = notifications(app, "reminder")
    assert (row.status, row.attempts, row.channel) == ("pending", 1, "email") and "SMTP" in row.last_error
    assert row.recipients == [UNIT_MAIL] and row.created_at == clock()
    service.notifier.for_channel("email").port = smtp.port
    clock.advance(seconds=10)
    service.tick()  # the scheduler delivers what is pending
    [row] = notifications(app, "reminder")
    assert (row.status, row.attempts, row.sent_at) == ("sent", 2, clock())
    assert len(mails(smtp)) == 1


@pytest.mark.parametrize("hours, said", [(37.5, "còn 37,5 giờ làm việc"), (22.5, "còn 22,5 giờ làm việc"),
                                         (22.499999999999996, "còn 22,5 giờ làm việc"), (11.0, "còn 11 giờ làm việc"),
                                         (6.99, "còn 6,5 giờ làm việc"), (11.25, "còn 11 giờ làm việc"),
                                         (1.0, "còn 1 giờ làm việc"),
                                         (0.5, "còn dưới 1 giờ làm việc"), (0.0, "đã quá hạn")])
def test_working_time_left_is_never_rounded_up(hours, said):
    """A review saw 37.5 h left shown as "còn 38 giờ" (and 22.5 h as "còn 22 giờ"): the time left
    is cut down to the half hour and says it, as the time past due does."""
    from scheduler.notifications.render import time_left_vi

    assert time_left_vi(hours) == said
