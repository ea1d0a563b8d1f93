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
    assert "17:00 thứ Sáu, ngày 04/12/2026" in notice[0]["text"]
    # the unit it left is told it need not act, and why (a walkthrough: it was never told, and
    # its link now opens the console's 404)
    [left] = [m for m in smtp.messages if "đã được chuyển sang đơn vị khác" in m["subject"]]
    assert left["to"] == ["motcua@soxd.quangninh.example"]
    assert "Cơ quan thường trực đã giao lại phản ánh" in left["text"] and "Lý do: dự án trong KKT." in left["text"]
    assert "không cần xử lý phản ánh này nữa" in left["text"] and f"/inquiries/{code}" not in left["text"]


def test_reassignment_within_a_day_reaches_the_business(app, client, worker, casework, clock, graph):
    with app.app_context():
        code = make_inquiry(client, worker)
    clock.set(datetime(2026, 11, 27, 15, 0, tzinfo=VN))
    casework.assign(code, "BQL_KKT", by="bxt", reason="dự án trong KKT")
    worker.run_once()
    update = graph.calls[-1]
    assert update.body["messaging_type"] == "RESPONSE"
    assert "Ban Quản lý Khu kinh tế" in update.text and "17:00 thứ Tư, ngày 02/12/2026" in update.text
    # says what changed, not the acknowledgement again (a review: "Cảm ơn… đã gửi phản ánh" twice)
    assert update.text.startswith(f"Phản ánh {code} của Quý doanh nghiệp đã được chuyển cho đơn vị khác trả lời.")
    assert "Cảm ơn" not in update.text


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


def test_complex_case_is_five_days_from_assignment_at_most(app, client, worker, casework, clock, graph):
    with app.app_context():
        code = make_inquiry(client, worker)
    clock.set(datetime(2026, 11, 27, 15, 0, tzinfo=VN))  # within the business's 24-hour window
    lead = casework.mark_complex(code, by="soxd.officer", reason="cần ý kiến nhiều sở")
    # Fri 27/11 + 5 working days: Mon 30, Tue 1, Wed 2, Thu 3, Fri 4 -> Fri 4/12 17:00
    assert lead.due_at == datetime(2026, 12, 4, 17, 0, tzinfo=VN) and lead.working_days == 5
    worker.run_once()  # the business is told its new date (a review: it was not told at all)
    told = graph.calls[-1].text
    assert told.startswith(f"Phản ánh {code} là vụ việc phức tạp, cần thêm thời gian xử lý")
    assert "Hạn trả lời: 17:00 thứ Sáu, ngày 04/12/2026 (5 ngày làm việc" in told and "Sở Xây dựng" in told
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


def test_cli_reads_unit_codes_in_any_case(app, client, worker, clock):
    """`flask inquiries assign CODE so_tc` said "unknown unit so_tc" (a walkthrough): the
    commands that take a unit read config.yml's code whatever its case, and store it as
    config.yml spells it (bot/cli/units.py)."""
    import json

    with app.app_context():
        code = make_inquiry(client, worker)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["inquiries", "assign", code, "so_tc", "--by", "bxt", "--reason", "đăng ký đầu tư"])
    assert result.exit_code == 0, result.output
    assert "lead SO_TC due" in result.output
    result = runner.invoke(args=["inquiries", "coordinate", code, "Thue_QN", "--by", "bxt", "--reason", "thuế"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["inquiries", "remind", code, "--by", "bxt", "--unit", "thue_qn"])
    assert result.exit_code == 0 and "reminder to THUE_QN" in result.output, result.output
    shown = json.loads(runner.invoke(args=["inquiries", "show", code, "--json"]).output)
    assert {(a["unit"], a["role"]) for a in shown["assignments"] if a["status"] == "open"} == {
        ("SO_TC", "lead"), ("THUE_QN", "coordinate")}
    created = runner.invoke(args=["users", "create", "--email", "a@sotc.example", "--unit", "so_tc", "--role", "officer"])
    assert created.exit_code == 0, created.output
    assert runner.invoke(args=["users", "list"]).output.split("\t")[:2] == ["a@sotc.example", "SO_TC"]
    bad = runner.invoke(args=["inquiries", "coordinate", code, "nope", "--by", "x", "--reason", "y"])
    assert bad.exit_code == 1 and "unknown unit nope" in bad.output



# ---- a corrected domain (issue 11, point 9) -----------------------------------------------------
def test_reassignment_with_a_corrected_domain_tells_the_business_and_keeps_the_prediction(
        app, client, worker, casework, clock, graph, smtp):
    with app.app_context():
        code = make_inquiry(client, worker)  # classified xay_dung -> Sở Xây dựng
    clock.set(datetime(2026, 11, 27, 15, 0, tzinfo=VN))  # within the business's 24-hour window
    new = casework.assign(code, "THUE_QN", by="bxt.officer", reason="hoàn thuế, không phải xây dựng", domain="thue")
    from bot import context

    with app.app_context(), context.db().session() as s:
        inquiry = s.execute(select(Inquiry)).scalar_one()
    assert inquiry.intent == "xay_dung"  # the classifier's prediction stays as it was
    assert (inquiry.corrected_intent, inquiry.corrected_by, inquiry.corrected_at) == ("thue", "bxt.officer", clock.now)
    assert inquiry.routing_trace["trace"][-2:] == [
        "domain corrected to thue by bxt.officer (classifier: xay_dung): hoàn thuế, không phải xây dựng",
        "assigned to THUE_QN by bxt.officer: hoàn thuế, không phải xây dựng"]
    assert (new.unit_code, new.role) == ("THUE_QN", "lead")
    worker.run_once()
    update = graph.calls[-1].text
    assert "Lĩnh vực: Thuế" in update and "Xây dựng" not in update
    assert "Đơn vị trả lời: Thuế tỉnh Quảng Ninh" in update
    [notice] = [m for m in smtp.messages if m["to"] == ["hotro@thue.quangninh.example"]]
    assert "Lĩnh vực: Thuế" in notice["text"]


def test_an_english_business_reads_the_corrected_domain_in_english(app, client, worker, casework, clock, graph):
    with app.app_context():
        code = make_inquiry(client, worker, "How do we apply for a work permit for our Korean engineer in Ha Long?")
    casework.assign(code, "SO_TC", by="bxt", reason="investment certificate", domain="dau_tu")
    worker.run_once()
    update = graph.calls[-1].text
    assert "Field: Investment" in update and "Department of Finance" in update
    assert update.startswith(f"Your inquiry {code} has been transferred to another unit")


def test_correcting_the_domain_of_the_unit_that_leads_changes_nothing_else(app, client, worker, casework, clock, graph):
    with app.app_context():
        code = make_inquiry(client, worker)
    before = assignments(app)
    clock.advance(hours=1)
    lead = casework.assign(code, "SO_XD", by="soxd", reason="đúng đơn vị, sai lĩnh vực", domain="giao_thong_van_tai")
    assert [a.id for a in assignments(app)] == [a.id for a in before] == [lead.id]  # no new assignment
    assert changes(app) == [] and lead.due_at == before[0].due_at  # the deadline stays
    worker.run_once()
    assert "Lĩnh vực: Giao thông vận tải" in graph.calls[-1].text and "17:00 thứ Tư, ngày 02/12/2026" in graph.calls[-1].text
    assert graph.calls[-1].text.startswith(f"Lĩnh vực của phản ánh {code} đã được điều chỉnh.")
    with pytest.raises(CaseworkError, match="already with SO_XD in domain giao_thong_van_tai"):
        casework.assign(code, "SO_XD", by="soxd", reason="again", domain="giao_thong_van_tai")
    with pytest.raises(CaseworkError, match="already with SO_XD"):
        casework.assign(code, "SO_XD", by="soxd", reason="no change")


def test_an_unknown_domain_is_refused_and_changes_nothing(app, client, worker, casework):
    with app.app_context():
        code = make_inquiry(client, worker)
    for wrong in ("thuế", "chao_hoi", "THUE"):  # a name, a conversation intent, the wrong case
        with pytest.raises(CaseworkError, match=f"unknown domain '{wrong}'"):
            casework.assign(code, "THUE_QN", by="bxt", reason="x", domain=wrong)
    assert [(a.unit_code, a.status) for a in assignments(app)] == [("SO_XD", "open")]
    from bot import context

    with app.app_context(), context.db().session() as s:
        assert s.execute(select(Inquiry.corrected_intent)).scalar_one() is None


def test_cli_assign_with_a_domain(app, client, worker, clock):
    import json

    with app.app_context():
        code = make_inquiry(client, worker)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["inquiries", "assign", code, "SO_TC", "--domain", "thue", "--by", "bxt",
                                 "--reason", "hoàn thuế"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"{code}: lead SO_TC due 2026-12-02T17:00:00+07:00 (3 working days), domain thue"
    shown = json.loads(runner.invoke(args=["inquiries", "show", code, "--json"]).output)
    assert (shown["intent"], shown["corrected_intent"], shown["corrected_by"]) == ("xay_dung", "thue", "bxt")
    bad = runner.invoke(args=["inquiries", "assign", code, "THUE_QN", "--domain", "tax", "--by", "x", "--reason", "y"])
    assert bad.exit_code == 1 and "unknown domain 'tax'" in bad.output


# ---- the case file (issue 11, point 8) ------------------------------------------------------------
def test_show_prints_the_case_file_in_local_time(app, client, worker, casework, clock, graph):
    from bot import context
    from store import Conversation

    graph.profiles["8130382090340794"] = {"name": "Nguyễn Văn An"}
    with app.app_context():
        code = make_inquiry(client, worker)
        with context.db().session() as s:
            s.get(Conversation, ("371024009436368", "8130382090340794")).phone = "0912345678"
    body = load_fixture("image_attachment.json")  # the business adds a photo within 30 minutes
    event = body["entry"][0]["messaging"][0]
    event["sender"]["id"], body["entry"][0]["id"] = "8130382090340794", "371024009436368"
    event["recipient"]["id"] = "371024009436368"
    clock.advance(minutes=5)
    signed_post(client, body)
    worker.run_once()
    runner = app.test_cli_runner()
    out = runner.invoke(args=["inquiries", "show", code]).output
    lines = out.splitlines()
    assert lines[0] == f"{code}  assigned"
    assert "business:    Nguyễn Văn An (Messenger, page DDCI Quảng Ninh (test)), phone 0912345678" in out
    assert "received:    2026-11-27T10:00:00+07:00" in out
    assert "domain:      xay_dung (Xây dựng), classifier" in out
    assert "unit:        SO_XD Sở Xây dựng" in out and "due:         2026-12-02T17:00:00+07:00" in out
    assert "answer:      (none yet)" in out
    assert "+00:00" not in out and "Z\n" not in out  # no UTC instants
    # the thread, both ways, with its sources and the photo as a link
    thread = out[out.index("thread:"):out.index("notices")]
    assert "2026-11-27T10:00:00+07:00  in   messenger" in thread and QUESTION in thread
    assert "out  bot (sent)" in thread and f"Mã tra cứu: {code}" in thread
    assert "attachment image: https://" in thread
    # notices: the assignment sent; the reminders and escalations planned from the timeline
    notices = out[out.index("notices (sent and planned):"):]
    assert "2026-11-27T10:00:00+07:00  sent     assigned     SO_XD lead" in notices
    assert "motcua@soxd.quangninh.example" in notices
    assert "2026-12-01T11:15:00+07:00  planned  reminder     SO_XD lead         half_time" in notices
    assert "2026-12-02T07:30:00+07:00  planned  reminder     SO_XD lead         due_day" in notices
    assert "2026-12-03T07:30:00+07:00  planned  escalation   SO_XD lead         overdue" in notices

    # the half-time reminder goes: it moves from planned to sent; then the unit answers
    from bot import runtime

    clock.set(datetime(2026, 12, 1, 11, 15, tzinfo=VN))
    with app.app_context():
        service = runtime.reminder_service(context.settings(), context.db(), clock)
    service.start(paused=True)
    try:
        service.tick()
        service.run_due()
    finally:
        service.shutdown()
    notices = runner.invoke(args=["inquiries", "show", code]).output.split("notices (sent and planned):")[1]
    assert "2026-12-01T11:15:00+07:00  sent     reminder     SO_XD lead         [DDCI Quảng Ninh] Nhắc hạn" in notices
    assert "planned  reminder     SO_XD lead         half_time" not in notices
    clock.advance(hours=1)
    # an answer given by phone, recorded (a text answer goes through a draft and its approval)
    casework.answers.record(code, by="soxd.officer", how="phone",
                            text="Doanh nghiệp nộp hồ sơ tại Trung tâm Phục vụ hành chính công.")
    out = runner.invoke(args=["inquiries", "show", code]).output
    assert "answer:      2026-12-01T12:15:00+07:00 by soxd.officer" in out
    assert "Trung tâm Phục vụ hành chính công" in out.split("thread:")[1]  # the officer's answer on the thread
    assert "  recorded " in out.split("thread:")[1]
    assert "  planned  " not in out  # answered: nothing more is planned


def test_show_json_for_scripts(app, client, worker, clock):
    import json

    with app.app_context():
        code = make_inquiry(client, worker)
    shown = json.loads(app.test_cli_runner().invoke(args=["inquiries", "show", code, "--json"]).output)
    assert shown["received_at"] == "2026-11-27T10:00:00+07:00" and shown["due_at"] == "2026-12-02T17:00:00+07:00"
    assert shown["due_provisional"] is False and shown["page"]["name"] == "DDCI Quảng Ninh (test)"
    assert [m["direction"] for m in shown["thread"]] == ["in", "out"]  # the acknowledgement asks for contacts
    assert [(n["state"], n["kind"]) for n in shown["notices"]][:3] == [
        ("sent", "assigned"), ("planned", "reminder"), ("planned", "reminder")]
    assert shown["notices"][1]["at"] == "2026-12-01T11:15:00+07:00"
    missing = app.test_cli_runner().invoke(args=["inquiries", "show", "QN-2026-999999"])
    assert missing.exit_code == 1 and "no inquiry with code QN-2026-999999" in missing.output


def test_the_business_is_never_told_a_field_that_is_not_one():
    """An unsure inquiry assigned from triage without a field keeps the classifier's guess: a
    greeting ("Chào hỏi") or nothing is not a field to tell the business."""
    from cases.replies import case_changed

    due = datetime(2026, 12, 2, 17, 0, tzinfo=VN)
    for intent in ("chao_hoi", ""):
        vi = case_changed("vi", "assigned", code="QN-2026-000001", intent=intent, unit_name="Sở Xây dựng", due=due, days=3)
        en = case_changed("en", "assigned", code="QN-2026-000001", intent=intent, unit_name="Construction", due=due, days=3)
        assert "Lĩnh vực: chưa xác định" in vi and "Field: not set yet" in en
    vi = case_changed("vi", "assigned", code="QN-2026-000001", intent="xay_dung", unit_name="Sở Xây dựng", due=due, days=3)
    assert "Lĩnh vực: Xây dựng" in vi


@pytest.mark.parametrize("confidence, unit, field", [
    (0.60, "Sở Xây dựng", None),  # the page keeps it: the field it does not own is not said
    (0.99, "Sở Văn hóa, Thể thao và Du lịch", "Văn hóa, thể thao, du lịch"),  # moved to the owner: said
])
def test_a_unit_pages_acknowledgement_names_no_field_the_unit_does_not_own(app, clock, confidence, unit, field):
    """A walkthrough read "Lĩnh vực: Văn hóa, thể thao, du lịch / Đơn vị trả lời: Sở Xây dựng"
    on Sở Xây dựng's page: routing's page rule kept the message, and the acknowledgement named
    a field that unit does not own."""
    from bot import context, runtime
    from cases import Intake
    from nlu.classifier import Classification
    from store import InboxEvent, Outbox
    from tests.conftest import SECOND_PAGE

    text = "Khách sạn của tôi ở Bãi Cháy muốn được công nhận hạng 3 sao thì làm thủ tục gì"
    with app.app_context():
        casework = runtime.casework(context.settings(), context.db(), clock)
        with context.db().session() as s:
            event = InboxEvent(dedup_key="page-rule", page_id=SECOND_PAGE, kind="message", sender_id="42",
                               payload={}, received_at=clock(), status="done")
            s.add(event)
            s.flush()
            intake = Intake(event_id=event.id, channel="messenger", reply_channel="messenger", page_id=SECOND_PAGE,
                            sender_id="42", text=text, language="vi", received_at=clock(), sent_at=clock(),
                            reply_to={"id": "42"})
            opened = casework.open_inquiry(s, intake, Classification(text=text, intent="van_hoa_du_lich",
                                                                     confidence=confidence, needs_review=False))
        casework.mark_complex(opened.code, by="lanhdao", reason="cần xác minh")  # told again later: the same rule
        with context.db().session() as s:
            ack, later = [o.message["text"] for o in s.query(Outbox).order_by(Outbox.id)]
    assert ("Văn hóa" in later) == bool(field), later
    unit_names = [line for line in ack.splitlines() if line.startswith("Đơn vị trả lời: ")]
    assert unit_names and unit_names[0].startswith(f"Đơn vị trả lời: {unit}")
    fields = [line for line in ack.splitlines() if line.startswith("Lĩnh vực: ")]
    assert fields == ([f"Lĩnh vực: {field}"] if field else [])


@pytest.mark.parametrize("day, vi, en", [
    (7, "08:30 thứ Hai, ngày 07/12/2026", "08:30 Vietnam time on Monday 7 December 2026"),
    (9, "08:30 thứ Tư, ngày 09/12/2026", "08:30 Vietnam time on Wednesday 9 December 2026"),
    (12, "08:30 thứ Bảy, ngày 12/12/2026", "08:30 Vietnam time on Saturday 12 December 2026"),
    (13, "08:30 Chủ nhật, ngày 13/12/2026", "08:30 Vietnam time on Sunday 13 December 2026"),
])
def test_dates_the_business_and_the_officers_read_carry_their_weekday(day, vi, en):
    """The weekday of the LOCAL day (01:30 UTC is 08:30 in Hạ Long), whatever the process's
    locale; in Vietnamese NFC, as everything a business reads."""
    import unicodedata
    from datetime import timezone

    from cases.replies import when
    from scheduler.notifications.render import format_local

    instant = datetime(2026, 12, day, 1, 30, tzinfo=timezone.utc)
    assert when(instant, "vi") == vi == unicodedata.normalize("NFC", vi)
    assert when(instant, "en") == en
    assert format_local(instant) == vi
    late = datetime(2026, 12, day - 1, 17, 30, tzinfo=timezone.utc)  # 00:30 the next local day
    assert when(late, "vi") == vi.replace("08:30", "00:30")
