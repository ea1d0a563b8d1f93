"""What the standing office and units do to an inquiry: deadlines, audit trail, jobs."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from cases import CaseError as CaseworkError
from store import Assignment, DeadlineChange, Inquiry, Outbox
from tests.conftest import VN, load_fixture, signed_post, with_text

QUESTION = "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả"


@pytest.fixture
def casework(app, clock):
    from bot import context, runtime

    with app.app_context():
        s = context.settings()
        yield runtime.casework(s, context.db(), clock)


def make_inquiry(client, worker, text=QUESTION) -> str:
    signed_post(client, with_text(load_fixture("text_message.json"), text))
    worker.run_once()
    from bot import context

    with context.db().session() as s:
        return s.execute(select(Inquiry.code)).scalar_one()


def assignments(app):
    from bot import context

    with app.app_context(), context.db().session() as s:
        return s.execute(select(Assignment).order_by(Assignment.id)).scalars().all()


def changes(app):
    from bot import context

    with app.app_context(), context.db().session() as s:
        return s.execute(select(DeadlineChange).order_by(DeadlineChange.id)).scalars().all()


def test_reassignment_gives_the_new_unit_three_days_from_when_it_receives_it(app, client, worker, casework, clock, smtp, graph):
    with app.app_context():
        code = make_inquiry(client, worker)
    # Received Fri 27/11 10:00, due Wed 2/12. Reassigned Tue 1/12 09:00 -> Fri 4/12 17:00.
    clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=VN))
    new = casework.assign(code, "BQL_KKT", by="bxt.officer@example", reason="dự án trong KKT")
    assert new.due_at == datetime(2026, 12, 4, 17, 0, tzinfo=VN)
    old, current = assignments(app)
    assert (old.unit_code, old.status) == ("SO_XD", "reassigned")
    assert (current.unit_code, current.role, current.status) == ("BQL_KKT", "lead", "open")
    [change] = changes(app)
    assert (change.old_due_at, change.new_due_at) == (datetime(2026, 12, 2, 17, 0, tzinfo=VN), new.due_at)
    assert (change.changed_by, change.reason) == ("bxt.officer@example", "dự án trong KKT")
    sent_before = len(graph.calls)
    worker.run_once()  # deliver the new unit's e-mail and the business's update
    assert any(m["to"] == ["motcua@bqlkkt.quangninh.example"] and "được giao" in m["subject"] for m in smtp.messages)
    # Four days after the business last wrote, Messenger's 24-hour window is closed: the update
    # is not sent, and the new unit is told to reach the business another way.
    assert len(graph.calls) == sent_before
    from bot import context

    with app.app_context(), context.db().session() as s:
        update = s.execute(select(Outbox).where(Outbox.idempotency_key == f"assigned:{new.id}")).scalar_one()
    assert update.status == "undeliverable" and "messaging window" in update.last_error
    notice = [m for m in smtp.messages if "Không gửi được" in m["subject"]]
    assert notice and notice[0]["to"] == ["motcua@bqlkkt.quangninh.example"]
    assert "17:00 ngày 04/12/2026" in notice[0]["text"]


def test_reassignment_within_a_day_reaches_the_business(app, client, worker, casework, clock, graph):
    with app.app_context():
        code = make_inquiry(client, worker)
    clock.set(datetime(2026, 11, 27, 15, 0, tzinfo=VN))
    casework.assign(code, "BQL_KKT", by="bxt", reason="dự án trong KKT")
    worker.run_once()
    update = graph.calls[-1]
    assert update.body["messaging_type"] == "RESPONSE"
    assert "Ban Quản lý Khu kinh tế" in update.text and "17:00 ngày 02/12/2026" in update.text


def test_triage_then_assignment(make_app, trained_model, clock):
    from bot import context, runtime

    app = make_app(nlu__threshold=0.9999)
    with app.app_context():
        w = runtime.worker(context.settings(), context.db(), clock)
        code = make_inquiry(app.test_client(), w)
        s = context.settings()
        cw = runtime.casework(s, context.db(), clock)
        clock.set(datetime(2026, 11, 30, 16, 0, tzinfo=VN))  # Mon, within the 1-day triage time
        cw.assign(code, "SO_XD", by="bxt", reason="phân loại")
    triage, lead = assignments(app)
    assert (triage.role, triage.status, lead.role) == ("triage", "reassigned", "lead")
    assert lead.due_at == datetime(2026, 12, 3, 17, 0, tzinfo=VN)


def test_complex_case_is_five_days_from_assignment_at_most(app, client, worker, casework, clock):
    with app.app_context():
        code = make_inquiry(client, worker)
    clock.set(datetime(2026, 12, 2, 15, 0, tzinfo=VN))
    lead = casework.mark_complex(code, by="soxd.officer", reason="cần ý kiến nhiều sở")
    # Fri 27/11 + 5 working days: Mon 30, Tue 1, Wed 2, Thu 3, Fri 4 -> Fri 4/12 17:00
    assert lead.due_at == datetime(2026, 12, 4, 17, 0, tzinfo=VN) and lead.working_days == 5
    with pytest.raises(CaseworkError, match="already has 5 working days"):
        casework.mark_complex(code, by="x", reason="again")
    assert [c.reason for c in changes(app)] == ["cần ý kiến nhiều sở"]


def test_coordination_has_two_days_from_the_request(app, client, worker, casework, clock, smtp):
    with app.app_context():
        code = make_inquiry(client, worker)
    clock.set(datetime(2026, 11, 30, 8, 0, tzinfo=VN))
    [a, b] = casework.request_coordination(code, ["SO_NNMT", "THUE_QN"], by="soxd", reason="hỏi ý kiến")
    assert a.due_at == b.due_at == datetime(2026, 12, 2, 17, 0, tzinfo=VN)
    assert {x.role for x in (a, b)} == {"coordinate"}
    worker.run_once()
    assert any(m["to"] == ["hotro@thue.quangninh.example"] and "phối hợp" in m["subject"] for m in smtp.messages)


def test_answer_closes_the_inquiry_and_its_reminders(app, client, worker, casework, clock):
    from bot import context, runtime

    with app.app_context():
        code = make_inquiry(client, worker)
        service = runtime.reminder_service(context.settings(), context.db(), clock)
        service.start(paused=True)
        try:
            service.reconcile()
            assert len(service.scheduler.get_jobs()) == 2
            casework.answer(code, by="soxd.officer")
            assert service.reconcile()["removed"] == 2
        finally:
            service.shutdown()
    with app.app_context(), context.db().session() as s:
        inquiry = s.execute(select(Inquiry)).scalar_one()
        assert inquiry.status == "answered" and inquiry.answered_at == clock.now
    with pytest.raises(CaseworkError):
        casework.assign(code, "SO_TC", by="x", reason="too late")


@pytest.mark.parametrize("call, message", [
    (lambda cw: cw.assign("QN-2026-999999", "SO_XD", by="x", reason="y"), "no inquiry"),
    (lambda cw: cw.request_coordination("QN-2026-999999", ["NOPE"], by="x", reason="y"), "unknown unit"),
])
def test_errors_are_named(casework, call, message):
    with pytest.raises(CaseworkError, match=message):
        call(casework)


def test_cli_assign_and_show(app, client, worker, clock):
    import json

    with app.app_context():
        code = make_inquiry(client, worker)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["inquiries", "assign", code, "SO_TC", "--by", "bxt", "--reason", "đăng ký đầu tư"])
    assert result.exit_code == 0, result.output
    assert "lead SO_TC due 2026-12-02T17:00:00+07:00" in result.output
    shown = json.loads(runner.invoke(args=["inquiries", "show", code, "--json"]).output)
    assert [a["status"] for a in shown["assignments"]] == ["reassigned", "open"]
    assert shown["deadline_changes"][0]["reason"] == "đăng ký đầu tư"
    bad = runner.invoke(args=["inquiries", "assign", code, "NOPE", "--by", "x", "--reason", "y"])
    assert bad.exit_code == 1 and "unknown unit NOPE" in bad.output


def test_show_prints_for_a_person(app, client, worker, clock):
    with app.app_context():
        code = make_inquiry(client, worker)
    out = app.test_cli_runner().invoke(args=["inquiries", "show", code]).output
    print(out)
    assert 0
