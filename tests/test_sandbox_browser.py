"""The sandbox in a real headless Chromium: type as a business, see the acknowledgement and
the unit's e-mail. The app serves its own Graph API stand-in, as under `make run`."""
from __future__ import annotations

import shutil
import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import free_port

pytestmark = pytest.mark.browser
QUESTION = "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả"


@pytest.fixture
def live(make_app, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = make_app({"graph_api_url": f"{base}/sandbox/graph", "SANDBOX": True},
                   app={"base_url": base, "tracking_prefix": "QN", "graph_api_version": "v21.0"})
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, base
    server.shutdown()


@pytest.fixture
def browser():
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.fail("Chromium and chromedriver are required (Debian packages chromium, chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic", "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    yield driver
    driver.quit()


def test_business_types_a_question_and_sees_the_acknowledgement(live, browser, trained_model, clock, smtp, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from bot import context, runtime
    from store import InboxEvent

    app, base = live
    browser.get(f"{base}/sandbox")
    assert "Sandbox DDCI Quảng Ninh" in browser.title + browser.page_source
    box = browser.find_element(By.ID, "text")
    box.send_keys(QUESTION)
    browser.find_element(By.CSS_SELECTOR, "#send button").click()

    def stored(_):
        with app.app_context(), context.db().session() as s:
            return s.query(InboxEvent).count() == 1

    WebDriverWait(browser, 20, poll_frequency=0.1).until(stored)
    with app.app_context():
        runtime.worker(context.settings(), context.db(), clock).run_once()

    def bot_reply(driver):
        bubbles = driver.find_elements(By.CSS_SELECTOR, "#chat .msg.bot")
        return bubbles[0].text if bubbles else None

    reply = WebDriverWait(browser, 20, poll_frequency=0.1).until(bot_reply)
    assert "Mã tra cứu: QN-2026-" in reply and "Sở Xây dựng" in reply and "17:00 thứ Tư, ngày 02/12/2026" in reply
    user = browser.find_elements(By.CSS_SELECTOR, "#chat .msg.business")
    assert [u.text for u in user] == [QUESTION]
    browser.save_screenshot(str(tmp_path / "sandbox.png"))
    assert smtp.messages and "motcua@soxd.quangninh.example" in smtp.messages[0]["to"]


def test_the_bots_quick_replies_are_buttons_and_the_units_mail_links_open(live, browser, trained_model, clock,
                                                                           tmp_path):
    """A review: the bot said "vui lòng chọn bên dưới" but the sandbox showed no "Bổ sung" /
    "Câu hỏi mới" (they were in the Graph call), and the inquiry's link in the e-mail panel was
    plain text. A tap sends the title with the choice's payload, as Messenger does."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from bot import context, runtime
    from store import InboxEvent, Inquiry, SandboxMail

    app, base = live
    wait = WebDriverWait(browser, 20, poll_frequency=0.1)

    def say(text):
        n = count(InboxEvent)
        box = browser.find_element(By.ID, "text")
        box.send_keys(text)
        browser.find_element(By.CSS_SELECTOR, "#send button").click()
        wait.until(lambda _: count(InboxEvent) == n + 1)
        with app.app_context():
            runtime.worker(context.settings(), context.db(), clock).run_once()

    def count(model):
        with app.app_context(), context.db().session() as s:
            return s.query(model).count()

    browser.get(f"{base}/sandbox")
    say(QUESTION)
    clock.advance(minutes=20)
    say("Cho em hỏi thêm thủ tục hoàn thuế giá trị gia tăng cho hàng xuất khẩu")
    buttons = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#choices button"))
    assert [b.text for b in buttons] == ["Bổ sung", "Câu hỏi mới"] and count(Inquiry) == 1
    buttons[1].click()  # "Câu hỏi mới"
    wait.until(lambda _: count(InboxEvent) == 3)
    with app.app_context():
        runtime.worker(context.settings(), context.db(), clock).run_once()
    assert count(Inquiry) == 2  # the tap carried its payload: a new inquiry, not a typed text
    wait.until(lambda d: not d.find_elements(By.ID, "choices"))  # gone once another message follows
    with app.app_context(), context.db().session() as s:
        s.add(SandboxMail(mail_from="ddci-bot@quangninh.example", rcpt_to=["motcua@soxd.quangninh.example"],
                          subject="Phản ánh mới", body_text=f"Xem và trả lời: {base}/inquiries/QN-2026-000001\nHết.",
                          received_at=clock()))
    link = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#mail .mail a"))
    assert link[0].get_attribute("href") == f"{base}/inquiries/QN-2026-000001"
    assert "Xem và trả lời:" in browser.find_element(By.CSS_SELECTOR, "#mail .mail pre").text
    browser.save_screenshot(str(tmp_path / "sandbox-choices.png"))
