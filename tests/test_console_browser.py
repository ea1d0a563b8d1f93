"""The console in a real headless Chromium against a real server on loopback: log in from a
deep link and land on it, change the password, log out; an admin's htmx button (the CSRF
token travels in its header) under the console's Content-Security-Policy."""
from __future__ import annotations

import re
import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import FIXTURE_PAGE, free_port
from tests.console import PASSWORD, PEOPLE, add_user, open_inquiry
from tests.test_sandbox_browser import browser  # noqa: F401  (the same Chromium fixture)

pytestmark = pytest.mark.browser
NEW_PASSWORD = "một cụm từ mới thật dài"


@pytest.fixture
def live(make_app):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = make_app(app={"base_url": base, "tracking_prefix": "QN", "graph_api_version": "v21.0"})
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, base
    server.shutdown()


def wait(driver, condition, timeout=20):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # an element htmx swapped out between finding and reading it: look again
    return WebDriverWait(driver, timeout, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException,)).until(condition)


def fill(driver, form_id: str, **values):
    from selenium.webdriver.common.by import By

    form = driver.find_element(By.ID, form_id)
    for name, value in values.items():
        field = form.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def test_log_in_from_a_deep_link_change_the_password_and_log_out(live, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By

    app, base = live
    add_user(app, PEOPLE["officer_a"])
    code = open_inquiry(app, "Cho em hỏi thủ tục cấp giấy phép xây dựng <b>nhà xưởng</b>", "xay_dung")

    browser.get(f"{base}/inquiries/{code}")  # the link of an e-mail notice
    wait(browser, lambda d: "/login" in d.current_url)
    assert "Đăng nhập" in browser.title
    fill(browser, "login", email=PEOPLE["officer_a"].email, password="sai mật khẩu rồi")
    assert wait(browser, lambda d: d.find_element(By.ID, "login-error")).text == "Email hoặc mật khẩu không đúng."
    fill(browser, "login", email=PEOPLE["officer_a"].email, password=PASSWORD)
    wait(browser, lambda d: d.current_url == f"{base}/inquiries/{code}")
    assert f"Phản ánh {code}" in browser.find_element(By.TAG_NAME, "h1").text
    assert "<b>nhà xưởng</b>" in browser.find_element(By.ID, "inquiry-text").text  # shown as text
    # "Tải lại" fetches the thread as an htmx fragment: htmx loaded from our own server under the CSP
    before = browser.find_element(By.ID, "thread-messages")
    browser.find_element(By.ID, "thread-refresh").click()
    wait(browser, lambda d: d.find_element(By.ID, "thread-messages").id != before.id)  # swapped in
    thread = browser.find_elements(By.CSS_SELECTOR, "#thread-messages li")
    assert "<b>nhà xưởng</b>" in thread[0].text
    browser.save_screenshot(str(tmp_path / "inquiry.png"))
    # A name of 300 characters without a space (a comment's author is whatever Facebook sends)
    # stays in its column: a review saw the page grow to 2,234 px in a 1,400 px window.
    from bot import context
    from store import Conversation
    with app.app_context(), context.db().session() as s:
        s.add(Conversation(page_id=FIXTURE_PAGE, sender_id="900000000000001", updated_at=context.clock()(),
                           display_name="Công_ty_" + "A" * 292))  # open_inquiry made none
    browser.get(f"{base}/inquiries/{code}")
    name = wait(browser, lambda d: d.find_element(By.ID, "business-name"))
    assert name.text.startswith("Công_ty_AAA")
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")

    browser.find_element(By.LINK_TEXT, "Đổi mật khẩu").click()
    wait(browser, lambda d: d.current_url == f"{base}/password")
    fill(browser, "password-change", current=PASSWORD, new=NEW_PASSWORD, confirm=NEW_PASSWORD)
    flash = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".flash.success"))
    assert "Đã đổi mật khẩu" in flash[0].text and browser.current_url == f"{base}/"

    browser.find_element(By.ID, "logout").click()
    wait(browser, lambda d: d.current_url == f"{base}/login")
    assert "Bạn đã đăng xuất." in browser.page_source
    browser.get(f"{base}/")
    wait(browser, lambda d: "/login" in d.current_url)
    fill(browser, "login", email=PEOPLE["officer_a"].email, password=NEW_PASSWORD)
    wait(browser, lambda d: d.current_url == f"{base}/")
    assert PEOPLE["officer_a"].email in browser.find_element(By.ID, "who").text


def test_an_admin_disables_an_account_with_an_htmx_button(live, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By

    app, base = live
    add_user(app, PEOPLE["admin"])
    victim = add_user(app, PEOPLE["officer_b"])
    browser.get(f"{base}/admin/users")
    fill(browser, "login", email=PEOPLE["admin"].email, password=PASSWORD)
    row = wait(browser, lambda d: d.find_element(By.ID, f"user-{victim}"))
    assert "Đang hoạt động" in row.find_element(By.CLASS_NAME, "state").text
    row.find_element(By.XPATH, ".//button[text()='Khóa']").click()
    browser.switch_to.alert.accept()  # hx-confirm
    wait(browser, lambda d: "Đã khóa" in d.find_element(By.CSS_SELECTOR, f"#user-{victim} .state").text)
    assert browser.current_url == f"{base}/admin/users"  # swapped in place, no page load
    browser.save_screenshot(str(tmp_path / "users.png"))
    from bot import context
    from store import User

    with app.app_context(), context.db().session() as s:
        assert s.get(User, victim).active is False
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []  # no script or style refused by the CSP, no failed request
    # without JavaScript the same button is a form that posts and comes back to the list (a
    # review found Khóa / Mở khóa doing nothing without it)
    client = app.test_client()
    from tests.console import login
    assert login(client, PEOPLE["admin"]).status_code == 302
    page = client.get("/admin/users").get_data(as_text=True)
    form = re.search(rf'<form method="post" action="(/admin/users/{victim}/enable)"[^>]*>\s*'
                     r'<input type="hidden" name="csrf_token" value="([^"]+)"', page)
    assert form, "no plain form for Mở khóa"
    back = client.post(form.group(1), data={"csrf_token": form.group(2)})
    assert back.status_code == 302 and back.headers["Location"] == "/admin/users"
    with app.app_context(), context.db().session() as s:
        assert s.get(User, victim).active is True
