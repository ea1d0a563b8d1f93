"""The console on a phone and with the keyboard alone, in a real headless Chromium (a
walkthrough at 390×844 and with TAB/ENTER only found: the queue, the head's approvals and
triage 750–1,100 px wide on a 390 px screen, two admin menu items off the screen, the NLU
inbox's message column 30 px wide; and the focus dropped on <body> after every htmx action,
a refused field not marked). Screenshots go to build/screenshots/phone-*.png.
"""
from __future__ import annotations

import pytest

from tests.console import PEOPLE
from tests.test_console_browser import wait
from tests.test_console_workflow import ENGLISH, FIRST, QUESTION, flow, live  # noqa: F401  (the same live console)
from tests.test_sandbox_browser import browser  # noqa: F401  (the same Chromium fixture)

pytestmark = pytest.mark.browser
PHONE = 390
LONG_NAME = "Công ty TNHH Thương mại và Dịch vụ Xuất nhập khẩu Vịnh Hạ Long Xanh"


def as_phone(driver) -> None:
    """Chrome's own mobile emulation: a 390×844 screen that is touched, not pointed at."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": PHONE, "height": 844, "deviceScaleFactor": 2, "mobile": True})
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})


def page_width(driver) -> int:
    return driver.execute_script("return document.documentElement.scrollWidth")


def off_screen(driver, css: str) -> list[str]:
    """The texts of the elements matching `css` that end past the screen's right edge."""
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])]"
        ".filter(e => e.getBoundingClientRect().right > arguments[1] + 1).map(e => e.textContent.trim())",
        css, PHONE)


def test_every_work_page_fits_a_phone(flow, clock):  # noqa: F811
    from selenium.webdriver.common.by import By

    from bot import context, runtime

    officer, head, office, admin = PEOPLE["officer_a"], PEOPLE["head_a"], PEOPLE["office"], PEOPLE["admin"]
    code = flow.writes(QUESTION, LONG_NAME)
    flow.writes(ENGLISH, "John Smith")
    returned = flow.writes("Cho hỏi về thủ tục cấp phép khai thác cát trên sông", "Công ty CP Cát Vàng")
    with flow.app.app_context():
        casework = runtime.casework(context.settings(), context.db(), clock)
        casework.send_back(returned, by=officer.email, reason="Không thuộc thẩm quyền của Sở Xây dựng")
    as_phone(flow.b)

    flow.sign_in(officer, f"/inquiries/{code}")
    flow.type("draft-text", "Hồ sơ gồm đơn đề nghị cấp phép và bản vẽ thiết kế.")
    flow.click("draft-submit")
    flow.message("Đã trình duyệt")
    assert page_width(flow.b) <= PHONE
    flow.open("/queue")
    row = wait(flow.b, lambda d: d.find_element(By.XPATH, f"//table[@id='queue']//tr[td/a[text()='{code}']]"))
    flow.shot("phone-officer-queue")
    assert LONG_NAME in row.text
    due = row.find_element(By.CSS_SELECTOR, "td.due")
    assert flow.b.execute_script("return getComputedStyle(arguments[0], '::before').content", due) == '"Hạn: "'
    assert due.location["y"] > row.find_element(By.CSS_SELECTOR, "td.text").location["y"]  # one card, stacked
    assert page_width(flow.b) <= PHONE

    flow.sign_in(head)  # the approvals, with the Messenger window's long notes
    assert code in flow.text("#approvals")
    flow.shot("phone-head-queue")
    assert page_width(flow.b) <= PHONE

    flow.sign_in(office, "/triage")
    assert returned in flow.text("#triage")
    flow.shot("phone-triage")
    assert page_width(flow.b) <= PHONE
    assert flow.b.find_element(By.ID, f"reason-{returned}").is_displayed()

    flow.sign_in(admin, "/nlu/inbox")
    card = wait(flow.b, lambda d: d.find_element(By.CSS_SELECTOR, "article.group"))
    flow.shot("phone-nlu-inbox")
    assert page_width(flow.b) <= PHONE
    assert card.find_element(By.CSS_SELECTOR, ".text").size["width"] > 250  # the message reads as text
    assert off_screen(flow.b, "header.top nav a, article.group button") == []
    assert "Mô hình NLU" in flow.text("header.top nav")
    box = flow.b.find_element(By.CSS_SELECTOR, "article.group input[type=checkbox]").size
    assert min(box["width"], box["height"]) >= 24  # a finger can tick it
    for path in ("/", "/overview", "/audit", "/admin/users", "/nlu/models"):
        flow.open(path)
        assert page_width(flow.b) <= PHONE, path


def test_the_outcome_of_an_action_takes_the_focus_and_a_refused_field_is_marked(flow, clock):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from bot import context, runtime

    officer, office = PEOPLE["officer_a"], PEOPLE["office"]
    code = flow.writes(QUESTION, "Công ty CP Vịnh Xanh")
    returned = flow.writes("Cho hỏi về thủ tục cấp phép khai thác cát trên sông", "Công ty CP Cát Vàng")
    with flow.app.app_context():
        runtime.casework(context.settings(), context.db(), clock).send_back(
            returned, by=officer.email, reason="Không thuộc thẩm quyền của Sở Xây dựng")

    def focused():
        return flow.b.switch_to.active_element

    flow.sign_in(officer, f"/inquiries/{code}")
    flow.type("draft-text", "Hồ sơ gồm đơn đề nghị cấp phép và bản vẽ thiết kế.")
    flow.b.find_element(By.ID, "draft-submit").send_keys(Keys.ENTER)  # the keyboard, not the mouse
    flow.message("Đã trình duyệt")
    assert wait(flow.b, lambda d: focused().get_attribute("id") == "case-message")

    flow.sign_in(office, "/triage")
    flow.b.find_element(By.ID, f"reason-{returned}").clear()
    flow.b.find_element(By.CSS_SELECTOR, f"#assign-{returned} button[type=submit]").send_keys(Keys.ENTER)
    reason = wait(flow.b, lambda d: d.find_element(By.CSS_SELECTOR, f"#reason-{returned}[aria-invalid=true]"))
    described = flow.b.find_element(By.ID, reason.get_attribute("aria-describedby")).text
    assert "lý do" in described.lower()
    assert wait(flow.b, lambda d: focused().get_attribute("id") == f"reason-{returned}")
    flow.shot("triage-refused-reason")
    reason.send_keys("Thuộc lĩnh vực tài nguyên, môi trường", Keys.ENTER)
    done = wait(flow.b, lambda d: d.find_element(By.CSS_SELECTOR, f"#triage-{returned} .done"))
    assert wait(flow.b, lambda d: focused() == done)


def test_a_refused_field_on_the_inquiry_page_takes_the_focus(flow, clock):  # noqa: F811
    """The inquiry page's forms as triage's row: a refusal that marks a field puts the keyboard
    on that field (not on the message above the forms), in view; a refusal about no field, and
    a success, on the message (the refused values: blanks, which the browser's own `required`
    lets through and the server refuses, and a day that does not exist)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from bot import context, runtime
    from cases import Actor

    officer, head = PEOPLE["officer_a"], PEOPLE["head_a"]
    code = flow.writes(QUESTION, "Công ty CP Vịnh Xanh")
    taken = flow.writes("Cho hỏi thủ tục cấp phép sửa chữa nhà xưởng", "Công ty CP Cẩm Phả")

    def focused() -> dict:
        return flow.b.execute_script(
            "const e = document.activeElement, r = e.getBoundingClientRect();"
            "return {id: e.id, invalid: e.getAttribute('aria-invalid'),"
            "        seen: r.bottom > 0 && r.top < window.innerHeight}")

    def refused_and_focused(field_id: str, says: str) -> None:
        field = wait(flow.b, lambda d: d.find_element(By.CSS_SELECTOR, f"#{field_id}[aria-invalid=true]"))
        assert says in flow.b.find_element(By.ID, field.get_attribute("aria-describedby")).text
        assert flow.text("#case-error") == "Vui lòng xem lại các ô được đánh dấu."  # still read out (an alert)
        assert wait(flow.b, lambda d: focused()["id"] == field_id)
        assert focused() == {"id": field_id, "invalid": "true", "seen": True}

    # the officer's answer, blank: the answer's box takes the focus; typed, the outcome does
    flow.sign_in(officer, f"/inquiries/{code}")
    flow.type("draft-text", "   ")
    flow.b.find_element(By.ID, "draft-submit").send_keys(Keys.ENTER)  # the keyboard, not the mouse
    refused_and_focused("draft-text", "Vui lòng nhập nội dung trả lời.")
    flow.shot("inquiry-refused-answer")
    focused_box = flow.b.switch_to.active_element
    focused_box.send_keys(Keys.CONTROL, "a")
    focused_box.send_keys(FIRST)
    flow.b.find_element(By.ID, "draft-submit").send_keys(Keys.ENTER)
    flow.message("Đã trình duyệt")
    assert wait(flow.b, lambda d: focused()["id"] == "case-message")

    # the answer given another way, on a day that does not exist (refused after the form's checks)
    flow.b.find_element(By.CSS_SELECTOR, "#record summary").click()
    flow.type("record-day", "31/02/2026")
    flow.type("record-text", "Đã gọi điện hướng dẫn hồ sơ cấp phép.")
    flow.b.find_element(By.CSS_SELECTOR, "#record-form button").send_keys(Keys.ENTER)
    flow.message("Thời điểm trả lời không hợp lệ.")
    assert wait(flow.b, lambda d: focused()["id"] == "record-day")
    assert focused() == {"id": "record-day", "invalid": "true", "seen": True}

    # the head sends the draft back without a reason: the reason's box
    flow.sign_in(head, f"/inquiries/{code}")
    flow.type("return-reason", " ")
    flow.b.find_element(By.ID, "return").send_keys(Keys.ENTER)
    refused_and_focused("return-reason", "Vui lòng nêu lý do.")

    # a refusal about no field (someone else drafted meanwhile): its message, as before
    flow.sign_in(officer, f"/inquiries/{taken}")
    with flow.app.app_context():
        runtime.casework(context.settings(), context.db(), clock).answers.draft(
            taken, actor=Actor(officer.email, "officer", officer.unit), text="Dự thảo của đồng nghiệp.")
    flow.type("draft-text", FIRST)
    flow.b.find_element(By.ID, "draft-submit").send_keys(Keys.ENTER)
    flow.message("Phản ánh đã có dự thảo")
    assert flow.b.find_elements(By.CSS_SELECTOR, "#case [aria-invalid]") == []
    assert wait(flow.b, lambda d: focused()["id"] == "case-error")
