"""The officers' console end to end in a real headless Chromium (issue 12 "Tests and measures"):
a business writes (a signed POST to the webhook, then the worker runs), the inquiry appears in
Sở Xây dựng's queue, the officer drafts, the head returns it with a reason, a second draft is
approved, and the Graph API stand-in receives the answer only after the approval AND the
delivery run; the inquiry then reads answered at the send time. Then: an English answer that
cannot skip approval (the unit lets its head send Vietnamese answers alone), triage with a
domain correction by the standing office, and Messenger's window closing (the approved answer
is undeliverable, the unit calls the business and records the answer given another way).

Every page is photographed as each role sees it into build/screenshots/ (gitignored), so a
person can look at them; the last part tours the pages of the standing office, the admin and
another unit's officer (who gets 404 for a foreign inquiry).
"""
from __future__ import annotations

import threading
from datetime import datetime

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from tests.conftest import REPO, VN, free_port, load_fixture, signed_post, with_text
from tests.console import PEOPLE, Person, add_user
from tests.test_answers import units_with
from tests.test_console_browser import fill, wait
from tests.test_sandbox_browser import browser  # noqa: F401  (the same Chromium fixture)

pytestmark = pytest.mark.browser
SHOTS = REPO / "build" / "screenshots"
DEPUTY = Person("deputy", "phogiamdoc@soxd.example", "SO_XD", "head")
QUESTION = "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả. SĐT 0912 345 678"
FIRST = "Hồ sơ gồm đơn đề nghị cấp phép và bản vẽ thiết kế."
SECOND = ("Hồ sơ gồm: đơn đề nghị cấp giấy phép xây dựng, bản vẽ thiết kế, giấy tờ về quyền sử dụng đất. "
          "Thời hạn giải quyết: 15 ngày.")
ENGLISH = "Hello, what documents do we need for a construction permit for our factory in Cam Pha?"


@pytest.fixture
def live(make_app, trained_model, clock, graph):
    from bot import context, runtime

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # the unit lets its head send a Vietnamese answer alone: English still needs a second approver
    app = make_app(app={"base_url": base, "tracking_prefix": "QN", "graph_api_version": "v21.0"},
                   nlu__threshold=0.0, nlu__min_margin=0.0, conversation={"ask_contact": False},
                   units=units_with(heads_send_vi=True))
    for person in (*PEOPLE.values(), DEPUTY):
        add_user(app, person)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with app.app_context():
        worker = runtime.worker(context.settings(), context.db(), clock)
    yield app, base, worker
    server.shutdown()


class Flow:
    """The browser, the business (signed webhook POSTs), the worker and the database."""

    def __init__(self, app, base, worker, driver, graph, clock):
        self.app, self.base, self.worker, self.b, self.graph, self.clock = app, base, worker, driver, graph, clock
        self.webhook = app.test_client()
        self.n = 0
        SHOTS.mkdir(parents=True, exist_ok=True)

    def writes(self, text: str, name: str, unit: str = "SO_XD") -> str:
        """A business writes to the provincial page; the worker runs; returns the inquiry's code.
        Should the classifier route it elsewhere, it is given to `unit` (the point here is the
        console, not the classifier; tests/test_nlu.py measures that)."""
        from store import Inquiry

        self.n += 1
        sender = f"81303820903{self.n:05d}"
        self.graph.profiles[sender] = {"name": name, "first_name": name.split()[-1], "last_name": name.split()[0]}
        assert signed_post(self.webhook, with_text(load_fixture("text_message.json"), text, mid=f"m_flow_{self.n}",
                                                   sender=sender)).status_code == 200
        self.worker.run_once()
        [inquiry] = self.rows(Inquiry, Inquiry.sender_id == sender)
        if inquiry.unit_code != unit:
            from bot import context, runtime

            with self.app.app_context():
                runtime.casework(context.settings(), context.db(), self.clock).assign(
                    inquiry.code, unit, by="test", reason="the test's unit")
        return inquiry.code

    def rows(self, model, *where):
        from bot import context

        with self.app.app_context(), context.db().session() as s:
            return s.execute(select(model).where(*where).order_by(model.id)).scalars().all()

    def inquiry(self, code):
        from store import Inquiry

        [row] = self.rows(Inquiry, Inquiry.code == code)
        return row

    def answers_to(self, code) -> list[str]:
        """What the Graph API stand-in received for this inquiry's business, after the acknowledgement."""
        sender = self.inquiry(code).sender_id
        return [c.text for c in self.graph.messages_to(sender)][1:]

    def sign_in(self, person: Person, path: str = "/"):
        """A fresh session as `person`, arriving at `path` through the login page (a deep link)."""
        from selenium.webdriver.common.by import By

        self.b.delete_all_cookies()
        self.b.get(self.base + path)
        wait(self.b, lambda d: "/login" in d.current_url)
        fill(self.b, "login", email=person.email, password=person.password)
        wait(self.b, lambda d: d.current_url == self.base + path)
        assert person.email in self.b.find_element(By.ID, "who").text

    def open(self, path: str):
        self.b.get(self.base + path)

    def click(self, element_id: str):
        from selenium.webdriver.common.by import By

        self.b.find_element(By.ID, element_id).click()

    def type(self, element_id: str, value: str):
        from selenium.webdriver.common.by import By

        field = self.b.find_element(By.ID, element_id)
        field.clear()
        field.send_keys(value)

    def message(self, contains: str) -> str:
        """Wait for the action's message (htmx swapped the case in place) and return it."""
        from selenium.webdriver.common.by import By

        found = wait(self.b, lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, "#case-message, #case-error")
                                       if contains in e.text])
        return found[0].text

    def text(self, css: str) -> str:
        from selenium.webdriver.common.by import By

        return self.b.find_element(By.CSS_SELECTOR, css).text

    def shot(self, name: str):
        """The whole page, from its top (not only the window), as build/screenshots/<name>.png."""
        import base64

        size = self.b.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        data = self.b.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 8000), "scale": 1}})
        (SHOTS / f"{name}.png").write_bytes(base64.b64decode(data["data"]))

    def no_console_errors(self, *expected: str):
        """No script or style refused by the CSP, no failed request but the `expected` refusals."""
        errors = [e["message"] for e in self.b.get_log("browser") if e["level"] == "SEVERE"]
        assert [m for m in errors if not any(x in m for x in expected)] == []


@pytest.fixture
def flow(live, browser, graph, clock):  # noqa: F811
    app, base, worker = live
    return Flow(app, base, worker, browser, graph, clock)


def test_a_business_writes_the_unit_drafts_the_head_approves_and_only_then_it_is_sent(flow, clock, graph, smtp):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from store import Draft, Outbox

    officer, head, office = PEOPLE["officer_a"], PEOPLE["head_a"], PEOPLE["office"]
    code = flow.writes(QUESTION, "Công ty TNHH Hạ Long Xanh")  # Fri 27/11/2026 10:00
    assert flow.inquiry(code).unit_code == "SO_XD"

    # the officer's queue: the new inquiry, by name, "mới", due Wed 02/12 17:00
    clock.advance(minutes=5)
    flow.sign_in(officer)
    row = flow.b.find_element(By.XPATH, f"//table[@id='queue']//tr[td/a[text()='{code}']]")
    assert "Công ty TNHH Hạ Long Xanh" in row.text and "mới" in row.text and "02/12/2026 17:00" in row.text
    flow.shot("officer-queue")

    # the officer drafts and submits: nothing goes to the business
    row.find_element(By.LINK_TEXT, code).click()
    wait(flow.b, lambda d: d.current_url.endswith(f"/inquiries/{code}"))
    assert "0912345678" in flow.text("#business-phone") and "Công ty TNHH Hạ Long Xanh" in flow.text("#business-name")
    assert "Xây dựng" in flow.text("#domain") and "còn mở đến" in flow.text("#window")
    flow.type("draft-text", FIRST)
    flow.click("draft-submit")
    flow.message("Đã trình duyệt")
    assert "chờ duyệt" in flow.text("#current-draft") and "Bạn không thể tự duyệt" in flow.text("#current-draft")
    flow.shot("officer-inquiry-submitted")
    flow.worker.run_once()
    assert flow.answers_to(code) == []

    # the head arrives by the e-mail's deep link, sees it awaiting approval, returns it with a reason
    clock.advance(minutes=5)
    flow.sign_in(head)
    assert code in flow.text("#approvals") and "còn" in flow.text("#approvals")
    flow.shot("head-queue")
    flow.sign_in(head, f"/inquiries/{code}")
    flow.shot("head-inquiry-to-approve")
    assert flow.b.find_element(By.ID, "return-reason").get_attribute("required")  # the browser asks first
    flow.type("return-reason", "Cần nêu đủ giấy tờ và thời hạn giải quyết.")
    flow.click("return")
    flow.message("Đã trả lại dự thảo")

    # a second draft follows the returned one (its text to start from); the head approves it
    clock.advance(minutes=5)
    flow.sign_in(officer, f"/inquiries/{code}")
    assert "Cần nêu đủ giấy tờ và thời hạn giải quyết." in flow.text("#returned-note")
    assert flow.b.find_element(By.ID, "draft-text").get_attribute("value") == FIRST
    flow.shot("officer-inquiry-returned")
    flow.type("draft-text", SECOND)
    flow.click("draft-submit")
    flow.message("Đã trình duyệt")
    clock.advance(minutes=5)
    flow.sign_in(head, f"/inquiries/{code}")
    flow.click("approve")
    flow.message("Đã duyệt dự thảo")
    assert flow.answers_to(code) == []  # approved, queued: nothing sent before the delivery run
    assert flow.inquiry(code).status == "assigned"
    clock.advance(minutes=1)
    sent_at = clock()
    flow.worker.run_once()
    [answer] = flow.answers_to(code)  # exactly one message, the approved text
    assert SECOND in answer and FIRST not in answer
    inquiry = flow.inquiry(code)
    assert (inquiry.status, inquiry.answered_at, inquiry.answered_via) == ("answered", sent_at, "approved")
    flow.open(f"/inquiries/{code}")
    assert "Đã trả lời lúc 27/11/2026 10:21" in flow.text("#answered")
    assert SECOND in flow.text("#thread-messages")
    flow.shot("head-inquiry-answered")
    assert [d.status for d in flow.rows(Draft, Draft.inquiry_id == inquiry.id)] == ["returned", "sent"]
    flow.no_console_errors()

    # English: the head may send a Vietnamese answer alone (the unit's setting), never an English one
    clock.advance(minutes=9)
    english = flow.writes(ENGLISH, "John Smith")
    vietnamese = flow.writes("Cho hỏi thủ tục cấp phép sửa chữa nhà xưởng", "Công ty CP Cẩm Phả")
    flow.sign_in(head, f"/inquiries/{vietnamese}")
    assert flow.text("#draft-submit") == "Gửi (không cần người duyệt thứ hai)"
    flow.open(f"/inquiries/{english}")
    assert "Điều 8.4" in flow.text("#english-note") and flow.text("#draft-submit") == "Trình duyệt"
    assert Select(flow.b.find_element(By.ID, "draft-language")).first_selected_option.get_attribute("value") == "en"
    flow.type("draft-text", "You need the application form and the design drawings.")
    flow.click("draft-submit")
    flow.message("Đã trình duyệt")
    assert "chờ duyệt" in flow.text("#current-draft")
    flow.shot("head-inquiry-english-awaiting")
    flow.worker.run_once()
    assert flow.answers_to(english) == [] and flow.inquiry(english).status == "assigned"
    flow.sign_in(DEPUTY, f"/inquiries/{english}")  # another approver of the unit
    flow.click("approve")
    flow.message("Đã duyệt dự thảo")
    flow.worker.run_once()
    assert flow.answers_to(english) and "application form" in flow.answers_to(english)[0]

    # triage: the unit sends one back, the standing office assigns it with the domain corrected
    clock.advance(minutes=10)
    land = flow.writes("Cho hỏi thủ tục xin giấy phép xây dựng trên đất nông nghiệp ở Uông Bí", "Hộ kinh doanh Minh Anh")
    flow.sign_in(officer, f"/inquiries/{land}")
    flow.b.find_element(By.CSS_SELECTOR, "#send-back summary").click()
    flow.type("send_back-reason", "Chuyển mục đích sử dụng đất: thuộc Sở Nông nghiệp và Môi trường.")
    flow.b.find_element(By.CSS_SELECTOR, "#send-back-form button").click()
    # no longer the unit's to see: back on the queue, with the message
    gone = wait(flow.b, lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, ".flash.success")
                                   if "Đã trả phản ánh về" in e.text])
    assert land in gone[0].text and flow.b.current_url == f"{flow.base}/"
    clock.advance(minutes=5)
    flow.sign_in(office)  # the standing office lands on its triage queue
    row = flow.b.find_element(By.ID, f"triage-{land}")
    assert "Sở Xây dựng trả về" in row.text and "Chuyển mục đích sử dụng đất" in row.text
    flow.shot("office-triage")
    Select(flow.b.find_element(By.ID, f"unit-{land}")).select_by_value("SO_NNMT")
    Select(flow.b.find_element(By.ID, f"domain-{land}")).select_by_value("dat_dai")
    flow.type(f"reason-{land}", "Chuyển mục đích sử dụng đất nông nghiệp")
    row.find_element(By.CSS_SELECTOR, "button").click()
    done = wait(flow.b, lambda d: d.find_elements(By.CSS_SELECTOR, f"#triage-{land} .done"))
    assert "Đã giao Sở Nông nghiệp và Môi trường chủ trì" in done[0].text and "Đất đai" in done[0].text
    flow.shot("office-triage-assigned")
    inquiry = flow.inquiry(land)
    assert (inquiry.unit_code, inquiry.intent, inquiry.corrected_intent) == ("SO_NNMT", "xay_dung", "dat_dai")
    flow.worker.run_once()
    told = flow.answers_to(land)
    assert len(told) == 1 and "Đất đai" in told[0] and "Sở Nông nghiệp và Môi trường" in told[0]
    flow.open(f"/inquiries/{land}")
    flow.shot("office-inquiry")
    flow.open("/overview")
    assert "Sở Xây dựng" in flow.text("#overview")
    flow.shot("office-overview")

    # Messenger's window closes (24 h; the page has no Human Agent permission): the approved
    # answer cannot be delivered, the unit calls and records the answer given another way
    late = flow.writes("Cho hỏi thủ tục cấp phép xây dựng nhà ở riêng lẻ. SĐT 0987 654 321", "Bà Nguyễn Thị Lan")
    clock.set(datetime(2026, 11, 30, 9, 0, tzinfo=VN))  # Monday: more than 24 h later
    flow.sign_in(officer, f"/inquiries/{late}")
    assert "Cửa sổ Messenger đã đóng" in flow.text("#window") and "0987654321" in flow.text("#window")
    flow.b.find_element(By.CSS_SELECTOR, "#compose summary").click()  # folded: the answer goes another way now
    flow.type("draft-text", "Hồ sơ gồm đơn đề nghị và bản vẽ.")
    flow.click("draft-submit")
    flow.message("Đã trình duyệt")
    flow.sign_in(head, f"/inquiries/{late}")
    assert "nếu duyệt, tin nhắn sẽ không gửi được" in flow.text("#current-draft")
    flow.click("approve")
    flow.message("Đã duyệt dự thảo")
    flow.worker.run_once()
    assert flow.answers_to(late) == []  # undeliverable: never sent
    assert [o.status for o in flow.rows(Outbox, Outbox.author == "human", Outbox.inquiry_id == flow.inquiry(late).id)] \
        == ["undeliverable"]
    assert any(f"Không gửi được trả lời phản ánh {late}" in m["subject"] for m in smtp.messages)
    clock.advance(minutes=30)
    flow.sign_in(officer, f"/inquiries/{late}")
    assert flow.b.find_element(By.ID, "record").get_attribute("open") is not None
    assert "không gửi được" in flow.text("#undeliverable-note")
    flow.shot("officer-inquiry-window-closed")
    flow.type("record-day", "31/02/2026")  # no such day: refused (422), swapped in with what was typed
    flow.type("record-time", "09:20")
    flow.type("record-text", "Đã gọi điện hướng dẫn hồ sơ cấp phép.")
    flow.b.find_element(By.CSS_SELECTOR, "#record-form button").click()
    flow.message("Thời điểm trả lời không hợp lệ.")
    assert flow.b.find_element(By.ID, "record-text").get_attribute("value") == "Đã gọi điện hướng dẫn hồ sơ cấp phép."
    assert "Ngày dạng dd/mm/yyyy" in flow.text("#record-form") and flow.inquiry(late).status == "assigned"
    flow.type("record-day", "30/11/2026")
    flow.b.find_element(By.CSS_SELECTOR, "#record-form button").click()
    flow.message("Đã ghi nhận trả lời bằng điện thoại lúc 09:20 thứ Hai, ngày 30/11/2026")
    inquiry = flow.inquiry(late)
    assert (inquiry.status, inquiry.answered_via, inquiry.answered_at) == (
        "answered", "recorded", datetime(2026, 11, 30, 9, 20, tzinfo=VN))
    flow.no_console_errors(f"/inquiries/{late}/record - Failed to load resource: the server responded with a status "
                           "of 422")

    # the pages each role sees
    flow.sign_in(office, "/queue")
    flow.shot("office-queue")
    flow.open("/audit")
    audit = flow.text("#audit")
    for action in ("Duyệt trả lời", "Trả lại dự thảo", "Đã gửi trả lời cho doanh nghiệp", "Giao / giao lại / sửa lĩnh vực",
                   "Ghi nhận trả lời bằng cách khác", "Không gửi được trả lời", "Trả về Ban Xúc tiến"):
        assert action in audit, action
    flow.shot("office-audit")
    flow.sign_in(PEOPLE["admin"])
    assert "Tổng quan" in flow.text("h1")
    flow.shot("admin-overview")
    flow.open("/reports/weekly/2026-W48.html")
    assert "Báo cáo tuần" in flow.b.title + flow.text("h2")
    flow.shot("admin-report-weekly")
    flow.open(f"/inquiries/{code}")
    assert flow.b.find_elements(By.ID, "draft-form") == [] and flow.b.find_elements(By.ID, "approve") == []
    flow.shot("admin-inquiry")
    flow.sign_in(officer, "/overview")
    flow.shot("officer-overview")
    # the search, typed without diacritics and with the phone as the queue shows it (301644a)
    from urllib.parse import quote

    for query in ("xay dung nha xuong", "0912.345.678"):
        flow.open(f"/inquiries?q={quote(query)}")
        assert code in flow.text("main"), query
    flow.shot("officer-search-without-diacritics")
    flow.sign_in(PEOPLE["officer_b"])
    flow.shot("other-unit-queue")
    flow.open(f"/inquiries?q={quote('0912.345.678')}")
    assert code not in flow.b.page_source  # another unit's inquiry is not found by its phone either
    flow.open(f"/inquiries/{code}")
    assert "Không tìm thấy" in flow.text("h1") and code not in flow.b.page_source
    flow.shot("other-unit-foreign-inquiry-404")
