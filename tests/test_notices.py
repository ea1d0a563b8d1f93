"""What officers read in a notice: their own role and their own deadline (issue 11, point 6),
and a deadline in a year whose days off are not declared marked "tạm tính" there and in the
business's acknowledgement (point 10). Numbers of days come from the deadline policy.

Clock: Friday 27/11/2026 10:00 (tests/conftest.py); config.yml declares 2025 and 2026.
"""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from store import Inquiry
from tests.conftest import VN, load_fixture, signed_post, with_text

QUESTION = "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả"
SENDER = "8130382090340794"
LEAD_SENTENCE = "đơn vị chủ trì trả lời doanh nghiệp trong"


def open_inquiry(app, clock, text=QUESTION) -> str:
    from bot import context, runtime

    signed_post(app.test_client(), with_text(load_fixture("text_message.json"), text))
    with app.app_context():
        runtime.worker(context.settings(), context.db(), clock).run_once()
        with context.db().session() as s:
            return s.execute(select(Inquiry.code)).scalar_one()


def casework(app, clock):
    from bot import context, runtime

    with app.app_context():
        return runtime.casework(context.settings(), context.db(), clock)


def deliver(app, clock):
    from bot import context, runtime

    with app.app_context():
        runtime.worker(context.settings(), context.db(), clock).run_once()


def mail_to(smtp, address) -> list[dict]:
    return [m for m in smtp.messages if address in m["to"]]


def test_the_standing_office_asked_to_coordinate_reads_its_own_role_and_two_days(app, trained_model, smtp, clock):
    code = open_inquiry(app, clock)  # Sở Xây dựng leads, due Wed 02/12 17:00
    clock.set(datetime(2026, 11, 30, 8, 0, tzinfo=VN))
    casework(app, clock).request_coordination(code, ["BXT"], by="soxd", reason="hỏi ý kiến cơ quan thường trực")
    deliver(app, clock)
    [mail] = mail_to(smtp, "ddci@bxt.quangninh.example")
    text = mail["text"]
    assert "Đơn vị phối hợp: Ban Xúc tiến và Hỗ trợ đầu tư tỉnh Quảng Ninh" in text
    assert "Đơn vị chủ trì: Sở Xây dựng" in text  # who it sends its input to
    assert "Đơn vị chủ trì: Ban Xúc tiến" not in text
    # its own deadline: 2 working days from the request (Mon 30/11 -> Wed 02/12 17:00), never the lead's 3
    assert "Đề nghị phối hợp lúc: 08:00 thứ Hai, ngày 30/11/2026" in text
    assert "Hạn gửi ý kiến cho đơn vị chủ trì: 17:00 thứ Tư, ngày 02/12/2026" in text
    assert ("đơn vị phối hợp gửi ý kiến cho đơn vị chủ trì trong 2 ngày làm việc kể từ khi nhận được đề nghị"
            in text)
    assert LEAD_SENTENCE not in text and "3 ngày làm việc" not in text
    assert "Cách gửi ý kiến: gửi ý kiến cho đơn vị chủ trì (Sở Xây dựng) trong trang quản lý: http" in text
    html = mail["msg"].get_body(preferencelist=("html",)).get_content()
    assert "Đơn vị phối hợp" in html and LEAD_SENTENCE not in html
    [lead] = mail_to(smtp, "motcua@soxd.quangninh.example")  # the lead unit's notice keeps its own
    assert "Đơn vị chủ trì: Sở Xây dựng" in lead["text"] and f"{LEAD_SENTENCE} 3 ngày làm việc" in lead["text"]
    assert "Hạn trả lời doanh nghiệp: 17:00 thứ Tư, ngày 02/12/2026" in lead["text"]


def test_the_triage_notice_gives_the_standing_office_one_day_to_assign(make_app, trained_model, smtp, clock):
    app = make_app(nlu__threshold=0.9999)  # unsure: the standing office triages
    open_inquiry(app, clock)
    [mail] = smtp.messages
    text = mail["text"]
    assert mail["to"] == ["ddci@bxt.quangninh.example"]
    assert "Cơ quan thường trực phân loại: Ban Xúc tiến và Hỗ trợ đầu tư tỉnh Quảng Ninh" in text
    assert "Hạn phân loại, giao đơn vị: 17:00 thứ Hai, ngày 30/11/2026" in text
    assert "giao phản ánh cho đơn vị có thẩm quyền trong 1 ngày làm việc" in text
    assert "Đơn vị chủ trì" not in text and LEAD_SENTENCE not in text and "3 ngày làm việc" not in text
    assert ("Việc cần làm: giao phản ánh cho đơn vị có thẩm quyền (có thể sửa lĩnh vực) trong trang quản lý: "
            "http://127.0.0.1:5000/inquiries/QN-2026-") in text


def test_the_numbers_of_days_are_the_policys(make_app, trained_model, smtp, clock):
    """Other numbers in config.yml, other sentences: nothing says 3, 2 or 1 by itself."""
    app = make_app(deadlines={"lead_days": 4, "coordination_days": 3, "complex_days": 6, "triage_days": 2})
    code = open_inquiry(app, clock)
    cw = casework(app, clock)
    cw.request_coordination(code, ["THUE_QN"], by="soxd", reason="hỏi ý kiến")
    deliver(app, clock)
    [lead] = mail_to(smtp, "motcua@soxd.quangninh.example")
    [coordination] = mail_to(smtp, "hotro@thue.quangninh.example")
    assert f"{LEAD_SENTENCE} 4 ngày làm việc" in lead["text"]
    assert "gửi ý kiến cho đơn vị chủ trì trong 3 ngày làm việc" in coordination["text"]
    cw.mark_complex(code, by="soxd", reason="cần ý kiến nhiều sở")
    clock.set(datetime(2026, 12, 7, 7, 30, tzinfo=VN))  # the complex deadline's due day (6 days: Mon 07/12)
    from bot import context, runtime

    with app.app_context():
        service = runtime.reminder_service(context.settings(), context.db(), clock)
    service.start(paused=True)
    try:
        service.tick()
        service.run_due()
    finally:
        service.shutdown()
    [reminder] = [m for m in mail_to(smtp, "motcua@soxd.quangninh.example") if "Nhắc hạn" in m["subject"]]
    assert "đến hạn trả lời trong hôm nay" in reminder["subject"]
    assert "tối đa 6 ngày làm việc" in reminder["text"] and "phức tạp" in reminder["text"]


def test_triage_in_the_scheduler_speaks_of_triage(make_app, trained_model, smtp, clock):
    from bot import context, runtime

    app = make_app(nlu__threshold=0.9999)
    open_inquiry(app, clock)
    clock.set(datetime(2026, 11, 30, 7, 30, tzinfo=VN))  # the triage deadline's day: its due-day reminder
    with app.app_context():
        service = runtime.reminder_service(context.settings(), context.db(), clock)
    service.start(paused=True)
    try:
        service.tick()
        service.run_due()
        clock.set(datetime(2026, 12, 1, 7, 30, tzinfo=VN))  # not assigned in time: escalation
        service.tick()
        service.run_due()
    finally:
        service.shutdown()
    reminder, escalation = [m for m in smtp.messages if "Nhắc hạn" in m["subject"] or "Quá hạn" in m["subject"]]
    assert "đến hạn phân loại, giao đơn vị trong hôm nay" in reminder["subject"]
    assert "chưa được phân loại, giao đơn vị" in escalation["subject"]
    for mail in (reminder, escalation):
        assert "Cơ quan thường trực phân loại:" in mail["text"] and LEAD_SENTENCE not in mail["text"]


# ---- provisional deadlines (point 10) ------------------------------------------------------------
@pytest.mark.parametrize("declared, provisional", [([2025, 2026], True), ([2025, 2026, 2027], False)])
def test_a_deadline_in_an_undeclared_year_is_provisional(make_app, trained_model, graph, smtp, clock, declared,
                                                         provisional):
    """Received Wed 30/12/2026: Thu 31/12, (Fri 01/01/2027 Tết Dương lịch), Mon 04/01, Tue 05/01."""
    import yaml

    from tests.conftest import REPO

    calendar = yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))["calendar"]
    app = make_app(calendar={**calendar, "declared_years": declared})
    clock.set(datetime(2026, 12, 30, 10, 0, tzinfo=VN))
    code = open_inquiry(app, clock)
    ack = graph.messages_to(SENDER)[0].text
    [mail] = smtp.messages
    assert "17:00 thứ Ba, ngày 05/01/2027" in ack and "17:00 thứ Ba, ngày 05/01/2027" in mail["text"]
    assert ("tạm tính, có thể thay đổi khi lịch nghỉ lễ năm 2027 được công bố" in ack) is provisional
    assert ("Hạn trả lời doanh nghiệp: 17:00 thứ Ba, ngày 05/01/2027 (tạm tính)" in mail["text"]) is provisional
    assert ("lịch nghỉ lễ, nghỉ bù năm 2027 chưa được khai báo" in mail["text"]) is provisional
    # the business asks for its status by code: the date is marked there too (a review found it bare)
    signed_post(app.test_client(), with_text(load_fixture("text_message.json"), code, mid="m-status"))
    deliver(app, clock)
    status = graph.messages_to(SENDER)[-1].text
    assert f"{code}: đang xử lý" in status and "hạn 17:00 thứ Ba, ngày 05/01/2027" in status
    assert ("hạn 17:00 thứ Ba, ngày 05/01/2027 (tạm tính)" in status) is provisional


def test_a_deadline_in_a_declared_year_is_not_marked(app, trained_model, graph, smtp, clock):
    clock.set(datetime(2026, 12, 2, 10, 0, tzinfo=VN))  # from 1 December, but due Mon 07/12/2026
    open_inquiry(app, clock)
    assert "tạm tính" not in graph.messages_to(SENDER)[0].text and "tạm tính" not in smtp.messages[0]["text"]


def test_english_readers_read_provisional(app, trained_model, graph, clock):
    clock.set(datetime(2026, 12, 30, 10, 0, tzinfo=VN))
    open_inquiry(app, clock, "How do we apply for a work permit for our Korean engineer in Ha Long?")
    ack = graph.messages_to(SENDER)[0].text
    assert "17:00 Vietnam time on Tuesday 5 January 2027" in ack
    assert "provisional: it may change when the official 2027 public holidays are announced" in ack


def test_triage_date_in_an_undeclared_year_is_provisional_for_the_business(make_app, trained_model, graph, clock):
    app = make_app(nlu__threshold=0.9999)
    clock.set(datetime(2026, 12, 31, 10, 0, tzinfo=VN))  # 1 working day: Mon 04/01/2027
    open_inquiry(app, clock)
    ack = graph.messages_to(SENDER)[0].text
    assert "trước 17:00 thứ Hai, ngày 04/01/2027 (tạm tính" in ack


@pytest.mark.parametrize("subject", [
    "[DDCI Quảng Ninh] Nhắc hạn: phản ánh QN-2026-000002 đến hạn gửi ý kiến phối hợp trong hôm nay",
    "[DDCI Quảng Ninh] Quá hạn: phản ánh QN-2026-000123 chưa được phân loại, giao đơn vị có thẩm quyền " * 2,
    "[DDCI Quang Ninh] ASCII only",
])
def test_subjects_reach_the_reader_with_every_space(subject, smtp):
    """Through a real SMTP server: what the officer's client decodes is the subject we wrote."""
    from scheduler.notifications.email import EmailNotifier

    EmailNotifier(host="127.0.0.1", port=smtp.port, sender="DDCI Quảng Ninh <ddci@quangninh.example>").send(
        ["motcua@soxd.quangninh.example"], subject, "x", None)
    [mail] = smtp.messages
    assert mail["subject"] == subject
    raw = mail["msg"].as_string()
    assert all(len(line) <= 78 for line in raw.split("\n\n")[0].splitlines())  # headers folded to RFC 5322's limit
