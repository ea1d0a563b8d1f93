"""The admins' NLU loop in a real headless Chromium against a real server on loopback (issue 13):
an admin relabels real traffic (one group and a selection, while another admin decides one
of them first), trains (the worker's training step, run here synchronously), reads the
comparison and activates; the running worker classifies with the new model; rollback
restores the old one. Then a deliberately harmful relabelling: a conflict blocks training
until it is settled from the page, the gate refuses the candidate, an override with a written
reason activates it and shows in the audit log; the worker follows, and rollback again.

The tiny two-intent project of tests/test_tuning_training.py keeps each training to seconds.
Screenshots of every page go to build/screenshots/ (gitignored) for a person to look at.
"""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from store import Inquiry
from tests.conftest import REPO, free_port, load_fixture, signed_post, with_text
from tests.console import PASSWORD, PEOPLE, add_user
from tests.test_console_browser import fill, wait
from tests.test_sandbox_browser import browser  # noqa: F401  (the same Chromium fixture)
from tests.test_tuning_training import CUSTOMS_TRAFFIC, TAX, TAX_TRAFFIC, tiny_project

pytestmark = pytest.mark.browser
SHOTS = REPO / "build" / "screenshots"
PERSONAL = "Em là Nguyễn Thị Hoa, sđt 0912 345 678, hỏi hoàn thuế GTGT cho công ty"
KNOWN = TAX[1]  # word for word a hand-written example: marked, and a conflict once relabelled
REASON = "Thử nghiệm có chủ đích: kiểm tra cổng đánh giá trên máy thử"


@pytest.fixture
def live(make_app, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = make_app(app={"base_url": base, "tracking_prefix": "QN", "graph_api_version": "v21.0"},
                   nlu__project_dir=str(tiny_project(tmp_path / "project")), nlu__model_dir=str(tmp_path / "models"),
                   nlu__inbox_data_dir=str(tmp_path / "inbox"), nlu__threshold=0.0, nlu__min_margin=0.0)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, base
    server.shutdown()


def shot(driver, name: str) -> None:
    """The whole page (the window made as tall as the page), saved for a person to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)"
                                   " + window.outerHeight - window.innerHeight")
    driver.set_window_size(1280, max(900, min(int(height) + 20, 6000)))
    driver.save_screenshot(str(SHOTS / f"{name}.png"))
    driver.set_window_size(1280, 900)


class Traffic:
    """Messages from businesses through the real webhook, classified by a running worker."""

    def __init__(self, app, worker):
        self.app, self.worker, self.n = app, worker, 0

    def ask(self, text: str) -> Inquiry:
        from bot import context

        self.n += 1
        signed_post(self.app.test_client(), with_text(load_fixture("text_message.json"), text, mid=f"m{self.n}",
                                                      sender=f"s{self.n}"))
        self.worker.run_once()
        with context.db().session() as s:
            inquiry = s.execute(select(Inquiry).order_by(Inquiry.id.desc())).scalars().first()
            s.expunge(inquiry)
            return inquiry


def card(driver, text: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.XPATH, f"//article[contains(@class, 'group')][.//p[@class='text'][.={xpath(text)}]]")


def xpath(text: str) -> str:
    return f"'{text}'" if "'" not in text else f'"{text}"'


def bulk(driver, texts, action: str, intent: str | None = None) -> str:
    """Tick the cards of `texts`, then one decision for all of them from the bar."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.execute_script("document.getElementById('bulk-result').textContent = ''")
    for t in texts:
        box = card(driver, t).find_element(By.CSS_SELECTOR, "input[type=checkbox]")
        if not box.is_selected():
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)  # not under the sticky bar
            box.click()
    if intent:
        Select(driver.find_element(By.ID, "bulk-intent")).select_by_value(intent)
    driver.find_element(By.CSS_SELECTOR, f"#bulk button[value={action}]").click()
    return wait(driver, lambda d: d.find_element(By.ID, "bulk-result").text)


def train(driver, base, worker, app, name: str) -> str:
    """Train from the page; the worker's training step runs here; the page follows by polling."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/nlu/training")
    driver.find_element(By.ID, "train").click()
    # read the section in one step: its polling swaps it out every 2 s (a stale element is looked up
    # again). Until the request's answer arrives the page may still show the last job's section
    # (a second training: "Lượt #1 · Xong"), so wait for the new job's, queued (CI on PostgreSQL
    # read the old one once).
    queued = wait(driver, lambda d: (lambda e: (e.text, e.get_attribute("hx-trigger"))
                                     if "Đang chờ worker nhận" in e.text else None)(
        d.find_element(By.CSS_SELECTOR, "section.job")))
    assert "Đang chờ worker nhận" in queued[0] and queued[1] == "every 2s"
    shot(driver, f"{name}-queued")
    with app.app_context():
        job = worker.training.run_pending()  # what the worker's loop runs in its training thread
    assert job.status == "done", job.log + str(job.error)
    done = wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "section.job.done"), timeout=30)
    assert done.get_attribute("hx-trigger") is None  # finished: no more polling
    log = done.find_element(By.CSS_SELECTOR, "details.log pre").get_attribute("textContent")
    assert "[2/3] Đang huấn luyện" in log and "[3/3] Đang đánh giá" in log and "Training " not in log
    done.find_element(By.CSS_SELECTOR, "details.log summary").click()  # the log, open for the screenshot
    shot(driver, f"{name}-done")
    return job.candidate_version


def test_admin_relabels_trains_compares_activates_and_rolls_back_and_the_gate_holds(live, browser, clock):  # noqa: F811,E501
    from selenium.webdriver.common.by import By

    from bot import context, runtime
    from nlu.training import read_active

    app, base = live
    add_user(app, PEOPLE["admin"])
    trained = app.test_cli_runner().invoke(args=["nlu", "train", "--by", "ops"])
    assert trained.exit_code == 0, trained.output
    with app.app_context():
        settings, db = context.settings(), context.db()
        version_a = read_active(settings.model_dir)["version"]
        worker = runtime.worker(settings, db, clock)
        traffic = Traffic(app, worker)
        for text in TAX_TRAFFIC + CUSTOMS_TRAFFIC + [PERSONAL, KNOWN]:
            traffic.ask(text)
        inbox = runtime.nlu_inbox(settings, db, clock)

    # ---- the inbox -----------------------------------------------------------------------------
    browser.get(f"{base}/nlu/inbox")  # a deep link: through the login and back
    fill(browser, "login", email=PEOPLE["admin"].email, password=PASSWORD)
    wait(browser, lambda d: d.current_url == f"{base}/nlu/inbox")
    cards = browser.find_elements(By.CSS_SELECTOR, "article.group")
    assert len(cards) == 18
    personal = card(browser, PERSONAL)
    preview = personal.find_element(By.CSS_SELECTOR, ".preview code").text
    assert "[0900 000 000](phone)" in preview and "Nguyễn Văn A" in preview and "0912" not in preview
    assert "Đã có trong dữ liệu huấn luyện" in card(browser, KNOWN).text
    shot(browser, "01-inbox")

    # one group alone: its own relabel picker, swapped in place
    from selenium.webdriver.support.ui import Select

    Select(personal.find_element(By.CSS_SELECTOR, "select[name=intent]")).select_by_value("thue")
    personal.find_element(By.CSS_SELECTOR, "button.relabel").click()
    wait(browser, lambda d: "Đã gán nhãn Thuế (thue) cho 1 tin." in card(d, PERSONAL).text)
    stored = card(browser, PERSONAL).find_element(By.CSS_SELECTOR, ".preview code").text
    assert "[0900 000 000](phone)" in stored and "Hoa" not in stored

    # another admin decides one of the customs messages first
    with app.app_context():
        [first] = [g for g in inbox.groups() if g.leader.text == CUSTOMS_TRAFFIC[0]]
        assert inbox.decide_group(first, "relabel", by="lan@bxt", intent="hai_quan").ok
    result = bulk(browser, TAX_TRAFFIC + [KNOWN], "relabel", "thue")
    assert "Đã gán nhãn Thuế (thue) cho 9 tin." in result
    result = bulk(browser, CUSTOMS_TRAFFIC, "relabel", "hai_quan")
    assert "Đã gán nhãn Hải quan (hai_quan) cho 7 tin." in result
    assert "lan@bxt đã quyết định trước bạn" in result and "Quyết định của bạn không được áp dụng" in result
    assert "lan@bxt" in card(browser, CUSTOMS_TRAFFIC[0]).find_element(By.CSS_SELECTOR, ".decision").text
    shot(browser, "02-inbox-decided-with-a-conflict")

    # ---- train, compare, activate --------------------------------------------------------------
    version_b = train(browser, base, worker, app, "03-training")
    browser.find_element(By.CSS_SELECTOR, "section.job a.compare-link").click()
    verdict = wait(browser, lambda d: d.find_element(By.ID, "verdict"))
    assert "Cổng đánh giá: cho phép kích hoạt." in verdict.text
    macro = browser.find_element(By.ID, "macro").text
    assert "Toàn bộ" in macro and "Tiếng Việt có dấu" in macro and "Tiếng Anh" in macro
    assert "Thuế (thue)" in browser.find_element(By.ID, "per-intent").text
    shot(browser, "04-compare-allowed")
    browser.find_element(By.ID, "activate").click()
    wait(browser, lambda d: d.current_url == f"{base}/nlu/models")
    assert f"Đã kích hoạt {version_b}." in browser.find_element(By.CSS_SELECTOR, ".flash.success").text
    assert browser.find_element(By.ID, "active-version").text == version_b
    shot(browser, "05-versions")
    with app.app_context():  # the same running worker, no restart
        assert traffic.ask("hoàn thuế cho doanh nghiệp xuất khẩu").model_version == version_b
    browser.find_element(By.ID, "rollback").click()
    wait(browser, lambda d: f"Đã quay lại mô hình {version_a}" in d.find_element(By.CSS_SELECTOR, ".flash").text)
    with app.app_context():
        assert traffic.ask("hoàn thuế cho doanh nghiệp xuất khẩu").model_version == version_a

    # ---- a harmful relabelling: conflict, gate refusal, audited override -----------------------
    browser.get(f"{base}/nlu/inbox?status=decided")
    bulk(browser, TAX_TRAFFIC + [KNOWN], "relabel", "hai_quan")
    assert "cho 8 tin" in bulk(browser, CUSTOMS_TRAFFIC, "relabel", "thue")
    browser.get(f"{base}/nlu/training")
    assert browser.find_element(By.ID, "train").get_attribute("disabled") is not None
    conflicts = browser.find_element(By.ID, "conflicts")
    assert KNOWN in conflicts.text and "nlu.yml" in conflicts.text
    shot(browser, "06-training-conflict")
    conflicts.find_element(By.CSS_SELECTOR, "button[value=discard]").click()  # settle it: not training material
    wait(browser, lambda d: d.find_elements(By.ID, "no-conflicts"))
    assert browser.find_element(By.ID, "train").get_attribute("disabled") is None
    version_c = train(browser, base, worker, app, "07-training-harmful")
    assert "từ chối kích hoạt" in browser.find_element(By.CSS_SELECTOR, "section.job .outcome").text
    browser.find_element(By.CSS_SELECTOR, "section.job a.compare-link").click()
    reasons = wait(browser, lambda d: d.find_element(By.ID, "reasons")).text
    assert "Macro-F1 (Toàn bộ) giảm" in reasons and "chỉ được giảm tối đa 0,005" in reasons
    shot(browser, "08-compare-refused")
    browser.find_element(By.ID, "activate").click()  # no reason: refused
    wait(browser, lambda d: "Cổng đánh giá từ chối kích hoạt mô hình này" in d.find_element(By.CSS_SELECTOR,
                                                                                           ".flash.error").text)
    with app.app_context():
        assert read_active(settings.model_dir)["version"] == version_a
    fill_reason = browser.find_element(By.ID, "override_reason")
    fill_reason.send_keys(REASON)
    shot(browser, "09-compare-override")
    browser.find_element(By.ID, "activate").click()
    wait(browser, lambda d: d.current_url == f"{base}/nlu/models")
    assert "vượt cổng đánh giá" in browser.find_element(By.CSS_SELECTOR, ".flash.success").text
    assert REASON in browser.find_element(By.ID, "history").text
    shot(browser, "10-versions-after-override")
    with app.app_context():  # the worker answers with the harmful model at once
        harmed = traffic.ask(TAX_TRAFFIC[1])
        assert (harmed.intent, harmed.model_version) == ("hai_quan", version_c)

    browser.get(f"{base}/audit?action=nlu.activate.override")
    log = browser.find_element(By.ID, "audit").text
    assert "NLU: kích hoạt mô hình vượt cổng đánh giá" in log and REASON in log and PEOPLE["admin"].email in log
    shot(browser, "11-audit")
    browser.get(f"{base}/nlu/models")
    browser.find_element(By.ID, "rollback").click()
    wait(browser, lambda d: f"Đã quay lại mô hình {version_a}" in d.find_element(By.CSS_SELECTOR, ".flash").text)
    with app.app_context():
        restored = traffic.ask(TAX_TRAFFIC[1])
        assert (restored.intent, restored.model_version) == ("thue", version_a)
    browser.get(f"{base}/audit")
    actions = browser.find_element(By.ID, "audit").text
    for name in ("NLU: gán lại nhãn", "NLU: yêu cầu huấn luyện", "NLU: kích hoạt mô hình", "NLU: quay lại mô hình trước",
                 "NLU: loại bỏ tin"):
        assert name in actions
    # nothing refused by the CSP, no script error; 409s are the refusals the test asked for
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and "status of 409" not in e["message"]]
    assert errors == []
