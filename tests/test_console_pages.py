"""The console's work pages (issue 12) through the Flask client, on a real database with the
real lifecycle: the unit's queue, the inquiry page and each of its actions (rules and bad
input), the standing office's triage, the overview and the reports, and the audit log they
write. The walk over every route is test_console_routes.py; the flow in a real browser is
test_console_browser.py."""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot import context, runtime
from store import (AuditEntry, CaseNote, ClassificationRecord, Conversation, Draft, Inquiry, Outbox)
from tests.conftest import FIXTURE_PAGE, VN
from tests.console import PEOPLE, Person, add_user, csrf_from, login, open_inquiry

QUESTION = "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả"
ANSWER = "Hồ sơ gồm: đơn đề nghị cấp phép, bản vẽ thiết kế, giấy tờ về quyền sử dụng đất."
SCRIPT = "<script>alert('x')</script>"
DEPUTY = Person("deputy", "phogiamdoc@soxd.example", "SO_XD", "head")


def text(response) -> str:
    return response.get_data(as_text=True)


class Console:
    """An app with the five people of tests/console.py (and a second head of SO_XD), one
    logged-in client per person, and helpers that open inquiries through the lifecycle."""

    def __init__(self, app, clock):
        self.app, self.clock, self.clients, self.seen = app, clock, {}, {}
        for person in (*PEOPLE.values(), DEPUTY):
            add_user(app, person)
        self.n = 0

    def client(self, who: str):
        """`who`'s client, logged in again when the driven clock has passed the idle limit."""
        if who not in self.clients or self.clock() - self.seen[who] > timedelta(minutes=25):
            client = self.app.test_client()
            person = DEPUTY if who == "deputy" else PEOPLE[who]
            assert login(client, person).status_code == 302
            self.clients[who] = client
        self.seen[who] = self.clock()
        return self.clients[who]

    def ask(self, text=QUESTION, intent="xay_dung", *, name=None, phone=None, language="vi", wrote=None) -> str:
        """An inquiry from a new sender (a conversation with its name, phone and last message)."""
        self.n += 1
        sender = f"9000000000{self.n:05d}"
        code = open_inquiry(self.app, text, intent, sender=sender)
        with self.app.app_context(), context.db().session() as s:
            s.merge(Conversation(page_id=FIXTURE_PAGE, sender_id=sender, display_name=name, phone=phone,
                                 last_user_message_at=wrote or self.clock(), updated_at=self.clock()))
            if language != "vi":
                s.execute(select(Inquiry).where(Inquiry.code == code)).scalar_one().language = language
        return code

    def rows(self, model, *where):
        with self.app.app_context(), context.db().session() as s:
            return s.execute(select(model).where(*where).order_by(model.id)).scalars().all()

    def inquiry(self, code) -> Inquiry:
        [row] = self.rows(Inquiry, Inquiry.code == code)
        return row

    def audit(self, action=None):
        rows = self.rows(AuditEntry) if action is None else self.rows(AuditEntry, AuditEntry.action == action)
        return [r for r in rows if not r.action.startswith(("login", "logout"))]

    def post(self, who: str, url: str, data=None, htmx=False):
        client = self.client(who)
        token = csrf_from(text(client.get("/password")))
        headers = {"HX-Request": "true"} if htmx else {}
        return client.post(url, data={"csrf_token": token, **(data or {})}, headers=headers)

    def draft(self, who: str, code: str, answer=ANSWER, then="submit", language="vi"):
        return self.post(who, f"/inquiries/{code}/drafts", {"draft-text": answer, "draft-language": language,
                                                            "then": then})

    def latest_draft(self, code) -> Draft:
        return self.rows(Draft, Draft.inquiry_id == self.inquiry(code).id)[-1]

    def deliver(self):
        """The worker's delivery run (the real OutboxDelivery, channels and lifecycle)."""
        from bot.channels import build_all
        from bot.delivery import OutboxDelivery

        with self.app.app_context():
            settings, db = context.settings(), context.db()
            channels = build_all(settings, db, self.clock)
            return OutboxDelivery(db=db, channels=channels, casework=runtime.casework(settings, db, self.clock,
                                                                                     channels),
                                  clock=self.clock).run()


@pytest.fixture
def console(make_app, clock):
    def build(**config):
        return Console(make_app(**config), clock)
    return build


# ---- the queue ---------------------------------------------------------------------------------
def test_the_queue_is_the_units_home_page_by_urgency_with_names_states_and_highlights(console, clock):
    c = console()
    first = c.ask(name="Công ty TNHH Hạ Long Xanh", phone="0912345678")
    clock.advance(days=3)  # Mon 30/11: the next ones are due Thu 03/12
    second = c.ask("Hỏi về cấp phép sửa chữa nhà xưởng")
    third = c.ask("Hỏi về quy hoạch xây dựng khu dân cư")
    taxes = c.ask("Hỏi về hoàn thuế giá trị gia tăng", "thue")
    c.draft("officer_a", second)
    c.draft("officer_a", third, then="save")
    clock.set(datetime(2026, 12, 3, 9, 0, tzinfo=VN))  # Thu: the first is overdue, the others due today
    home = text(c.client("officer_a").get("/"))
    assert "Hàng đợi của Sở Xây dựng" in home and taxes not in home
    codes = re.findall(r'<td class="code"><a href="/inquiries/(QN-[\d-]+)"', home)
    assert codes == [first, second, third]  # most urgent first
    rows = re.findall(r'<tr class="([^"]*)">\s*<td class="code">', home)
    assert rows == ["overdue", "due-today", "due-today"]
    assert "Công ty TNHH Hạ Long Xanh" in home and "0912345678" in home and "Người dùng Messenger" in home
    assert "900000000" not in home  # never a raw id
    for label in ("quá hạn", "chờ duyệt", "đang soạn", "chủ trì", "Xây dựng", "03/12/2026 17:00"):
        assert label in home, label
    # "due today" is said in words on its rows, not by their colour alone (a walkthrough)
    assert home.count('<span class="badge state-due-today">đến hạn hôm nay</span>') == 2
    assert re.search(r"<strong>3</strong> việc đang mở.*<strong>1</strong> quá hạn.*<strong>2</strong> đến hạn hôm nay",
                     home, re.S)
    # the head sees the same queue, and first what awaits their approval with the time left for it
    head = text(c.client("head_a").get("/"))
    approvals = head[head.index('id="approvals"'):head.index('id="queue-filters"')]
    assert second in approvals and third not in approvals and "còn 6 giờ làm việc" in approvals
    assert 'id="approvals"' not in home  # an officer approves nothing


def test_queue_filters_search_and_paging_and_a_bad_filter_is_refused(console, clock):
    c = console(console={"page_size": 5})
    codes = [c.ask(f"Hỏi về cấp phép xây dựng công trình số {n}") for n in range(7)]
    percent = c.ask("Phí xây dựng tăng 100% có đúng không")
    c.draft("officer_a", codes[3])
    client = c.client("officer_a")

    def found(**args):
        return re.findall(r'<td class="code"><a href="/inquiries/(QN-[\d-]+)"', text(client.get("/queue", query_string=args)))

    assert found(state="awaiting_approval") == [codes[3]]
    assert found(q="số 5") == [codes[5]] and found(q=codes[6].lower()) == [codes[6]]
    # case folded for every letter, not ASCII alone (SQLite's own lower() and LIKE fold A-Z only)
    assert found(q="SỐ 5") == [codes[5]] and found(q="PHÍ XÂY DỰNG") == [percent]
    assert found(q="Hỏi Về Cấp Phép", page=2) == codes[5:]
    assert found(q=unicodedata.normalize("NFD", "Số 5")) == [codes[5]]  # typed decomposed: stored texts are NFC
    assert found(q="%") == [percent] and found(q="_") == [] and found(q="' OR 1=1 --") == []
    assert found() == codes[:5] and found(page=2) == codes[5:] + [percent] and found(page=99) == codes[5:] + [percent]
    bad = client.get("/queue", query_string={"state": "nope", "q": "số 5"})
    assert bad.status_code == 400 and "Lựa chọn không hợp lệ." in text(bad)
    assert 'value="số 5"' in text(bad)  # what was typed stays in the form
    long = client.get("/queue", query_string={"q": "x" * 201})
    assert long.status_code == 400 and "Tối đa 200 ký tự." in text(long)
    for who, path, field, size in (("officer_a", "/inquiries", "q", 200), ("office", "/triage", "q", 200),
                                   ("admin", "/audit", "actor", 255), ("admin", "/audit", "address", 64)):
        said = text(c.client(who).get(path, query_string={field: "x" * (size + 1)}))  # in Vietnamese, not WTForms' English
        assert f"Tối đa {size} ký tự." in said and "Field cannot be longer" not in said, (path, field)
    # another unit's officer sees none of them; the standing office picks a unit or sees all
    assert found.__call__() and re.findall(r"QN-\d{4}-\d{6}", text(c.client("officer_b").get("/queue"))) == []
    staff = text(c.client("office").get("/queue", query_string={"unit": "SO_XD", "q": "số 5"}))
    assert codes[5] in staff and "Hàng đợi của Sở Xây dựng" in staff


# ---- the inquiry page ----------------------------------------------------------------------------
def test_the_inquiry_page_shows_the_whole_case_file(console, clock):
    c = console()
    code = c.ask(name="Công ty CP Vịnh Xanh", phone="0987654321")
    inquiry = c.inquiry(code)
    with c.app.app_context(), context.db().session() as s:
        s.add(ClassificationRecord(event_id=inquiry.source_event_id, inquiry_id=inquiry.id, language="vi",
                                   text=QUESTION, normalized=QUESTION, intent="xay_dung", confidence=0.91,
                                   runner_up="dat_dai", runner_up_confidence=0.06, outcome="inquiry",
                                   routed_automatically=True, needs_review=False, created_at=clock()))
    page = text(c.client("officer_a").get(f"/inquiries/{code}"))
    assert f"<title>Phản ánh {code} · " in page  # a tab (or a screen reader) says what the page is
    assert "<h2>Trao đổi với doanh nghiệp</h2>" in page  # the reload button beside its heading, not in it
    for shown in ("Công ty CP Vịnh Xanh", "0987654321", "DDCI Quảng Ninh (test)", QUESTION, "Xây dựng",
                  "Khả năng thứ hai", "Đất đai", "6 %", "Theo lĩnh vực: đơn vị quản lý lĩnh vực chủ trì",
                  "rule domain", "Giao xử lý", "dự kiến", "khi đã qua nửa thời hạn", "Cảnh báo quá hạn",
                  "Cửa sổ Messenger", "còn mở đến <strong>28/11/2026 10:00</strong> (còn 1 ngày; trong giờ hành chính: 5 giờ)", "02/12/2026 17:00", "Trình duyệt",
                  "Ghi nhận trả lời bằng cách khác"):
        assert shown in page, shown
    assert "900000000" not in page.replace(f"/inquiries/{code}", "")


def test_draft_submit_approve_then_the_delivery_sends_it_and_stops_the_clock(console, clock, graph):
    c = console()
    code = c.ask(name="Công ty A")
    saved = c.draft("officer_a", code, then="save")
    assert saved.status_code == 302 and saved.headers["Location"] == f"/inquiries/{code}"
    d = c.latest_draft(code)
    assert d.status == "draft"
    edited = c.post("officer_a", f"/inquiries/{code}/drafts/{d.id}/edit", {"edit-text": ANSWER + " Xin cảm ơn.",
                                                                          "then": "submit"}, htmx=True)
    assert edited.status_code == 200 and text(edited).startswith('<div id="case"')
    assert "Đã trình duyệt dự thảo" in text(edited) and c.latest_draft(code).status == "submitted"
    clock.advance(minutes=20)
    approved = c.post("head_a", f"/inquiries/{code}/drafts/{d.id}/approve", htmx=True)
    assert approved.status_code == 200 and "Đã duyệt dự thảo" in text(approved)
    assert [o.author for o in c.rows(Outbox)] == ["bot", "human"]  # the acknowledgement, then the answer
    assert c.inquiry(code).status == "assigned" and graph.calls == []  # queued, not sent: the clock runs
    clock.advance(minutes=5)
    c.deliver()
    sent = [call for call in graph.calls if "Xin cảm ơn." in call.text]
    assert len(sent) == 1
    inquiry = c.inquiry(code)
    assert (inquiry.status, inquiry.answered_at, inquiry.answered_via) == ("answered", clock(), "approved")
    page = text(c.client("officer_a").get(f"/inquiries/{code}"))
    assert "Đã trả lời lúc 27/11/2026 10:25" in page and "Đơn vị trả lời (đã duyệt)" in page
    actions = [(a.action, a.actor) for a in c.audit()]
    assert actions == [("draft.create", PEOPLE["officer_a"].email), ("draft.edit", PEOPLE["officer_a"].email),
                       ("draft.submit", PEOPLE["officer_a"].email), ("draft.approve", PEOPLE["head_a"].email),
                       ("answer.sent", "worker")]
    approve = c.audit("draft.approve")[0]
    assert (approve.object_type, approve.object_id, approve.address) == ("inquiry", code, "127.0.0.1")
    assert approve.details["draft"] == d.id and approve.details["author"] == PEOPLE["officer_a"].email


def test_an_answer_that_would_not_fit_in_one_message_is_refused_as_it_is_written(console, clock, graph):
    """Messenger takes 2,000 characters a message and the sender cut the rest off: a review's
    2,530-character answer reached the business cut mid-sentence while the console said it was
    sent. The answer's heading (code and unit) counts; the officer is told how much to cut."""
    c = console()
    code = c.ask()
    long = c.draft("officer_a", code, answer="Hồ sơ gồm các giấy tờ sau. " * 94, then="save")  # 2,538
    assert long.status_code == 422 and c.rows(Draft) == []
    said = text(long)
    assert "Câu trả lời quá dài để gửi trong một tin" in said and "tối đa 2.000 ký tự" in said
    assert "Ghi nhận trả lời bằng cách khác" in said
    assert re.search(r'<textarea id="draft-text"[^>]*>\s*Hồ sơ gồm', said)  # what was typed stays
    fits = "Hồ sơ gồm các giấy tờ sau. " * 70  # 1,890 and the heading
    assert c.draft("officer_a", code, answer=fits, then="save").status_code == 302
    d = c.latest_draft(code)
    grown = c.post("officer_a", f"/inquiries/{code}/drafts/{d.id}/edit", {"edit-text": fits + "x" * 150, "then": "save"})
    assert grown.status_code == 422 and "Câu trả lời quá dài" in text(grown)
    assert c.post("officer_a", f"/inquiries/{code}/drafts/{d.id}/submit").status_code == 302
    # a draft that grew past the limit another way (written before the check) is refused at approval too
    with c.app.app_context(), context.db().session() as s:
        s.get(Draft, d.id).text = fits + "x" * 150
    refused = c.post("head_a", f"/inquiries/{code}/drafts/{d.id}/approve")
    assert refused.status_code == 422 and "Câu trả lời quá dài" in text(refused)
    assert c.latest_draft(code).status == "submitted" and [o.author for o in c.rows(Outbox)] == ["bot"]
    with c.app.app_context(), context.db().session() as s:
        s.get(Draft, d.id).text = unicodedata.normalize("NFD", fits.strip())  # as a keyboard may send it
    assert c.post("head_a", f"/inquiries/{code}/drafts/{d.id}/approve").status_code == 302
    c.deliver()
    [sent] = [call for call in graph.calls if "Hồ sơ gồm" in call.text]
    assert sent.text.endswith(fits.strip()) and len(sent.text) <= 2000  # whole, not cut
    typed = c.draft("officer_b", c.ask("Hỏi về hoàn thuế", "thue"), answer=unicodedata.normalize("NFD", "Thuế suất"),
                    then="save")
    assert typed.status_code == 302 and c.rows(Draft)[-1].text == "Thuế suất"  # stored NFC


def test_the_author_never_approves_and_the_page_says_why(console, clock):
    c = console()
    code = c.ask()
    c.draft("officer_a", code)
    d = c.latest_draft(code)
    page = text(c.client("officer_a").get(f"/inquiries/{code}"))
    assert 'id="approve"' not in page and "Bạn không thể tự duyệt dự thảo của mình" in page
    refused = c.post("officer_a", f"/inquiries/{code}/drafts/{d.id}/approve")
    assert refused.status_code == 403
    assert "người duyệt không được là người soạn (nguyên tắc bốn mắt)" in text(refused)
    # another officer is no approver; a head's own draft goes to another head or the standing office
    code2 = c.ask("Hỏi về cấp phép sửa chữa nhà xưởng")
    c.draft("head_a", code2)
    d2 = c.latest_draft(code2)
    own = c.post("head_a", f"/inquiries/{code2}/drafts/{d2.id}/approve", htmx=True)
    assert own.status_code == 403 and "nguyên tắc bốn mắt" in text(own) and text(own).startswith('<div id="case"')
    officer = text(c.client("officer_a").get(f"/inquiries/{code2}"))
    assert "Bạn không duyệt được dự thảo này" in officer and "lãnh đạo khác của đơn vị" in officer
    assert 'id="approve"' in text(c.client("office").get(f"/inquiries/{code2}"))
    assert c.rows(Draft, Draft.status == "approved") == [] and c.audit("draft.approve") == []
    assert c.post("deputy", f"/inquiries/{code2}/drafts/{d2.id}/approve").status_code == 302
    assert c.latest_draft(code2).decided_by == DEPUTY.email


def test_a_return_needs_a_reason_then_a_second_draft_follows(console, clock):
    c = console()
    code = c.ask()
    c.draft("officer_a", code)
    d = c.latest_draft(code)
    empty = c.post("head_a", f"/inquiries/{code}/drafts/{d.id}/return", {"return-reason": "   "})
    assert empty.status_code == 422 and "Vui lòng nêu lý do." in text(empty)
    # the field is marked and its message tied to it, for the eye and for a screen reader
    field = re.search(r'<textarea[^>]*id="return-reason"[^>]*>', text(empty)).group(0)
    assert 'aria-invalid="true"' in field and 'aria-describedby="return-reason-error"' in field
    assert '<span class="error" id="return-reason-error">Vui lòng nêu lý do.</span>' in text(empty)
    assert c.latest_draft(code).status == "submitted" and c.audit("draft.return") == []
    back = c.post("head_a", f"/inquiries/{code}/drafts/{d.id}/return",
                  {"return-reason": "Cần nêu rõ thời hạn giải quyết."}, htmx=True)
    assert back.status_code == 200 and "Đã trả lại dự thảo" in text(back)
    page = text(c.client("officer_a").get(f"/inquiries/{code}"))
    assert "Cần nêu rõ thời hạn giải quyết." in page and "bị trả lại" in page
    assert re.search(r'<textarea id="draft-text"[^>]*>\s*' + re.escape(ANSWER), page)  # the new draft starts from it
    c.draft("officer_a", code, ANSWER + " Thời hạn giải quyết: 15 ngày.")
    second = c.latest_draft(code)
    assert (second.status, second.previous_id) == ("submitted", d.id)
    assert c.audit("draft.return")[0].details["reason"] == "Cần nêu rõ thời hạn giải quyết."


def autofocused(html: str) -> list[str]:
    """The ids of the elements that take the focus ([autofocus]: htmx in what it swaps in, a
    browser on a page load)."""
    tags = re.findall(r"<[^<>]*\sautofocus(?=[\s>])[^<>]*>", html)
    return [re.search(r'\sid="([^"]+)"', tag).group(1) for tag in tags]


def test_a_refusal_puts_the_focus_on_the_first_refused_field_else_on_its_message(console, clock):
    """As triage's row does: the first marked field takes the focus, not the message above the
    forms, with script or without; htmx swaps it in without scrolling to the case's top, which
    would take the field out of view. A refusal about no field, and a success, keep the focus
    on the message (the real browser: tests/test_console_small_screens.py)."""
    c = console()
    code = c.ask()
    url = f"/inquiries/{code}/record"
    blanks = {"record-by": " ", "record-how": "phone", "record-day": "", "record-time": "10:00", "record-text": "Đã gọi."}
    for htmx in (False, True):
        refused = c.post("officer_a", url, blanks, htmx=htmx)
        assert refused.status_code == 422 and "Vui lòng nhập người trả lời." in text(refused)
        assert autofocused(text(refused)) == ["record-by"]  # of the two marked, the first on the page
        assert 'aria-invalid="true"' in re.search(r'<input[^>]*id="record-day"[^>]*>', text(refused)).group(0)
        assert refused.headers.get("HX-Reswap") == ("outerHTML" if htmx else None)
    bad_day = c.post("officer_a", url, {**blanks, "record-by": "canbo@soxd.example", "record-day": "31/02/2026"},
                     htmx=True)  # refused after the form's own checks, by the action
    assert bad_day.status_code == 422 and autofocused(text(bad_day)) == ["record-day"]
    fields = {"draft-text": ANSWER, "draft-language": "vi", "then": "submit"}
    done = c.post("officer_a", f"/inquiries/{code}/drafts", fields, htmx=True)
    assert done.status_code == 200 and autofocused(text(done)) == ["case-message"]
    assert "HX-Reswap" not in done.headers
    again = c.post("officer_a", f"/inquiries/{code}/drafts", fields, htmx=True)  # one draft at a time: no field
    assert again.status_code == 422 and "Phản ánh đã có dự thảo" in text(again)
    assert autofocused(text(again)) == ["case-error"] and "HX-Reswap" not in again.headers
    # a form gone from the page meanwhile (its draft withdrawn): its refused field is not there to fix
    draft = c.latest_draft(code)
    assert c.post("officer_a", f"/inquiries/{code}/drafts/{draft.id}/withdraw").status_code == 302
    stale = c.post("head_a", f"/inquiries/{code}/drafts/{draft.id}/return", {"return-reason": " "}, htmx=True)
    assert stale.status_code == 422 and 'id="return-reason"' not in text(stale)
    assert autofocused(text(stale)) == ["case-error"]


def test_a_second_approval_at_the_same_time_is_told_it_was_already_approved(console, clock):
    c = console()
    code = c.ask()
    c.draft("officer_a", code)
    d = c.latest_draft(code)
    for who in ("head_a", "deputy"):  # both have the page open with the button
        assert 'id="approve"' in text(c.client(who).get(f"/inquiries/{code}"))
    assert c.post("head_a", f"/inquiries/{code}/drafts/{d.id}/approve").status_code == 302
    late = c.post("deputy", f"/inquiries/{code}/drafts/{d.id}/approve", htmx=True)
    assert late.status_code == 409
    assert "đã duyệt, đang gửi, không còn chờ duyệt" in text(late)
    assert len(c.rows(Outbox, Outbox.author == "human")) == 1 and len(c.audit("draft.approve")) == 1
    late_return = c.post("deputy", f"/inquiries/{code}/drafts/{d.id}/return", {"return-reason": "Sai"})
    assert late_return.status_code == 409 and c.latest_draft(code).status == "approved"


def test_script_in_business_text_a_name_and_a_draft_renders_as_text(console, clock):
    c = console()
    code = c.ask(f"Hỏi về xây dựng {SCRIPT} <img src=x onerror=alert(1)>", name=f"Công ty {SCRIPT}")
    c.draft("officer_a", code, f"Trả lời {SCRIPT}")
    for who, path in (("officer_a", "/"), ("officer_a", f"/inquiries/{code}"), ("officer_a", f"/inquiries/{code}/thread"),
                      ("head_a", "/"), ("office", "/queue"), ("admin", "/audit"), ("officer_a", "/inquiries")):
        body = text(c.client(who).get(path))
        assert "<script>alert" not in body and "<img src=x" not in body, path
    page = text(c.client("head_a").get(f"/inquiries/{code}"))
    assert page.count("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") >= 3  # text, name, draft


def test_english_answers_always_wait_for_a_second_approver(console, clock):
    from tests.test_answers import units_with

    c = console(units=units_with(heads_send_vi=True))
    vietnamese = c.ask()
    english = c.ask("Hello, what documents do we need for a construction permit?", language="en")
    page = text(c.client("head_a").get(f"/inquiries/{english}"))
    assert "Doanh nghiệp viết bằng tiếng Anh" in page and "Điều 8.4" in page
    assert 'id="draft-submit">Trình duyệt<' in page  # not "send without a second approver"
    assert 'id="draft-submit">Gửi (không cần người duyệt thứ hai)<' in text(c.client("head_a").get(f"/inquiries/{vietnamese}"))
    c.draft("head_a", english, "The documents are: the application form and the design drawings.", language="en")
    assert c.latest_draft(english).status == "submitted"  # waits, whatever the unit's setting
    c.draft("head_a", vietnamese)
    assert c.latest_draft(vietnamese).status == "approved"  # the unit's setting, for Vietnamese only
    # an English draft to a Vietnamese business needs a second approver too
    other = c.ask("Hỏi về cấp phép sửa chữa nhà xưởng")
    c.draft("head_a", other, "The documents are: the application form.", language="en")
    assert c.latest_draft(other).status == "submitted"


def test_record_an_answer_given_another_way_with_bad_input_first(console, clock):
    c = console()
    code = c.ask(phone="0912345678", wrote=clock() - timedelta(hours=30))  # Messenger's window closed
    page = text(c.client("officer_a").get(f"/inquiries/{code}"))
    assert "Cửa sổ Messenger đã đóng" in page and "0912345678" in page
    assert '<details class="action" id="record" open>' in page
    clock.advance(hours=2)
    url = f"/inquiries/{code}/record"
    fields = {"record-by": "canbo@soxd.example", "record-how": "phone", "record-text": "Đã hướng dẫn qua điện thoại."}
    bad = c.post("officer_a", url, {**fields, "record-day": "31/02/2026", "record-time": "10:00"})
    assert bad.status_code == 422 and "Ngày dạng dd/mm/yyyy" in text(bad)
    assert "Đã hướng dẫn qua điện thoại." in text(bad)  # what was typed is kept
    future = c.post("officer_a", url, {**fields, "record-day": "27/11/2026", "record-time": "23:00"})
    assert future.status_code == 422 and "không muộn hơn hiện tại" in text(future)
    how = c.post("officer_a", url, {**fields, "record-how": "pigeon", "record-day": "27/11/2026", "record-time": "11:00"})
    assert how.status_code == 422 and "Lựa chọn không hợp lệ." in text(how)
    assert c.inquiry(code).status == "assigned" and c.audit() == []
    ok = c.post("officer_a", url, {**fields, "record-day": "27/11/2026", "record-time": "11:30"})
    assert ok.status_code == 302
    inquiry = c.inquiry(code)
    assert (inquiry.status, inquiry.answered_via, inquiry.answered_how) == ("answered", "recorded", "phone")
    assert inquiry.answered_at == datetime(2026, 11, 27, 11, 30, tzinfo=VN)
    [entry] = c.audit("answer.record")
    assert entry.details["how"] == "phone" and entry.actor == PEOPLE["officer_a"].email
    assert c.post("office", url, {**fields, "record-day": "27/11/2026", "record-time": "11:30"}).status_code == 403


# ---- the standing office -------------------------------------------------------------------------
def test_triage_assigns_with_a_corrected_domain_and_a_reason(console, clock, graph):
    c = console()
    with c.app.app_context():  # an unsure inquiry: the standing office's triage queue
        cw = runtime.casework(context.settings(), context.db(), clock)
    unsure = c.ask("Cho hỏi về giấy tờ nhà xưởng", "dat_dai")
    cw.send_back(unsure, by="canbo@tnmt.example", reason="Không thuộc lĩnh vực đất đai")
    home = text(c.client("office").get("/"))
    assert "Hàng đợi phân loại" in home and unsure in home and "trả về" in home and "Không thuộc lĩnh vực đất đai" in home
    url = f"/triage/{unsure}/assign"
    missing = c.post("office", url, {"unit": "SO_XD", "domain": "xay_dung", "reason": ""}, htmx=True)
    assert missing.status_code == 422 and "Vui lòng nêu lý do." in text(missing)
    assert "Vui lòng chọn đơn vị" not in text(missing)  # a unit was chosen: only the reason is asked for
    assert 'value="xay_dung" selected' in text(missing)  # the choice stays
    assert c.post("admin", url, {"unit": "SO_XD", "reason": "x"}, htmx=True).status_code == 403
    assert c.post("officer_a", url, {"unit": "SO_XD", "reason": "x"}, htmx=True).status_code == 404  # not its own
    done = c.post("office", url, {"unit": "SO_XD", "domain": "xay_dung", "reason": "Cấp phép xây dựng nhà xưởng"},
                  htmx=True)
    assert done.status_code == 200 and "Đã giao Sở Xây dựng chủ trì" in text(done) and "Xây dựng" in text(done)
    inquiry = c.inquiry(unsure)
    assert (inquiry.unit_code, inquiry.intent, inquiry.corrected_intent) == ("SO_XD", "dat_dai", "xay_dung")
    due = inquiry.due_at.astimezone(VN)  # said as the unit's e-mail and the business say it
    weekday = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")[due.weekday()]
    assert f"chủ trì, hạn {due:%H:%M} {weekday}, ngày {due:%d/%m/%Y}" in text(done)
    told = [o for o in c.rows(Outbox) if o.inquiry_id == inquiry.id][-1]
    assert "Xây dựng" in told.message["text"] and "Sở Xây dựng" in told.message["text"]
    assert told.message["text"].startswith(f"Phản ánh {unsure} của Quý doanh nghiệp đã được giao cho đơn vị có thẩm quyền.")
    [entry] = c.audit("inquiry.assign")
    assert (entry.details["domain"], entry.details["classifier"], entry.details["unit"]) == ("xay_dung", "dat_dai",
                                                                                            "SO_XD")
    assert entry.details["previous"] == "BXT"  # it was in the standing office's triage
    assert unsure not in text(c.client("office").get("/triage"))
    # The same route on an inquiry a unit leads (a review posted it directly): a reassignment,
    # and the log names the unit that had it, not the standing office.
    led = c.ask()
    moved = c.post("office", f"/triage/{led}/assign", {"unit": "THUE_QN", "reason": "Thuộc lĩnh vực thuế"}, htmx=True)
    assert moved.status_code == 200 and c.inquiry(led).unit_code == "THUE_QN"
    entry = c.audit("inquiry.assign")[-1]
    assert (entry.object_id, entry.details["previous"], entry.details["unit"]) == (led, "SO_XD", "THUE_QN")


def test_the_standing_office_coordinates_reminds_and_the_unit_gives_its_input(console, clock, smtp):
    c = console()
    code = c.ask()
    coord = c.post("office", f"/inquiries/{code}/coordinate",
                   {"coordinate-units": ["THUE_QN"], "coordinate-reason": "Liên quan thuế"})
    assert coord.status_code == 302
    theirs = text(c.client("officer_b").get(f"/inquiries/{code}"))  # now the coordinating unit sees it
    assert "Gửi ý kiến cho đơn vị chủ trì" in theirs and "Trình duyệt" not in theirs
    empty = c.post("officer_b", f"/inquiries/{code}/input", {"input-text": ""})
    assert empty.status_code == 422 and "Vui lòng nhập ý kiến." in text(empty)
    assert c.post("officer_b", f"/inquiries/{code}/input", {"input-text": "Không phát sinh thuế."}).status_code == 302
    [note] = c.rows(CaseNote)
    assert (note.unit_code, note.text) == ("THUE_QN", "Không phát sinh thuế.")
    assert "Không phát sinh thuế." in text(c.client("officer_a").get(f"/inquiries/{code}"))
    no_reason = c.post("office", f"/inquiries/{code}/remind", {"remind-unit": "SO_XD", "remind-reason": ""})
    assert no_reason.status_code == 422
    reminded = c.post("office", f"/inquiries/{code}/remind", {"remind-unit": "SO_XD", "remind-reason": "Sắp hết hạn"},
                      htmx=True)
    assert reminded.status_code == 200 and "Đã gửi lời nhắc cho Sở Xây dựng" in text(reminded)
    assert [(a.action, a.details.get("reason")) for a in c.audit()] == [
        ("inquiry.coordinate", "Liên quan thuế"), ("input.give", None), ("inquiry.remind", "Sắp hết hạn")]
    assert c.post("officer_a", f"/inquiries/{code}/remind", {"remind-unit": "SO_XD", "remind-reason": "x"}).status_code \
        == 403


def test_complex_and_send_back_need_a_reason(console, clock):
    c = console()
    code = c.ask()
    assert c.post("officer_a", f"/inquiries/{code}/complex", {"complex-reason": ""}).status_code == 422
    done = c.post("head_a", f"/inquiries/{code}/complex", {"complex-reason": "Cần hỏi ý kiến nhiều sở"}, htmx=True)
    assert done.status_code == 200 and "5 ngày làm việc" in text(done)
    again = c.post("head_a", f"/inquiries/{code}/complex", {"complex-reason": "Lần nữa"})
    assert again.status_code == 422 and "đã có 5 ngày làm việc" in text(again)
    back = c.post("officer_a", f"/inquiries/{code}/send-back", {"send_back-reason": "Thuộc Sở Tài chính"})
    assert back.status_code == 302 and c.inquiry(code).status == "triage"
    # no longer the unit's: the officer lands on the queue with the message, and the inquiry is
    # out of the unit's sight, before and after the standing office assigns it elsewhere
    assert back.headers["Location"] == "/"
    assert "Đã trả phản ánh về" in text(c.client("officer_a").get("/"))
    assert c.client("officer_a").get(f"/inquiries/{code}").status_code == 404
    assert c.client("head_a").get(f"/inquiries/{code}/thread").status_code == 404
    assert [a.action for a in c.audit()] == ["inquiry.complex", "inquiry.send_back"]
    assert code in text(c.client("office").get("/triage"))
    c.post("office", f"/triage/{code}/assign", {"unit": "THUE_QN", "reason": "Thuộc lĩnh vực thuế"}, htmx=True)
    assert c.inquiry(code).unit_code == "THUE_QN" and code in text(c.client("officer_b").get("/"))
    assert c.client("officer_a").get(f"/inquiries/{code}").status_code == 404
    htmx_back = c.post("officer_b", f"/inquiries/{code}/send-back", {"send_back-reason": "Không phải thuế"}, htmx=True)
    assert htmx_back.status_code == 204 and htmx_back.headers["HX-Redirect"] == "/"


# ---- overview and reports -------------------------------------------------------------------------
def test_the_overview_counts_this_week_per_unit_and_serves_the_reports(console, clock):
    c = console()
    c.ask()
    second = c.ask("Hỏi về cấp phép sửa chữa nhà xưởng")
    c.ask("Hỏi về hoàn thuế giá trị gia tăng", "thue")
    c.draft("officer_a", second)
    admin = text(c.client("admin").get("/"))
    row = re.search(r'<tr id="unit-SO_XD">(.*?)</tr>', admin, re.S).group(1)
    assert re.findall(r"<td[^>]*>(\d+)</td>", row) == ["2", "0", "0", "2", "0", "1", "0"]
    assert 'id="unit-THUE_QN"' in admin and "Báo cáo tuần" in admin
    mine = text(c.client("officer_a").get("/overview"))
    assert 'id="unit-SO_XD"' in mine and 'id="unit-THUE_QN"' not in mine and "Báo cáo tuần" not in mine
    assert c.client("officer_a").get("/reports/weekly/2026-W47.html").status_code == 403
    office = c.client("office")
    html = office.get("/reports/weekly/2026-W47.html")
    assert html.status_code == 200 and "Báo cáo tuần" in text(html) and 'src="2026-W47.png"' in text(html)
    assert html.headers["Content-Type"] == "text/html; charset=utf-8"  # once (it said charset twice)
    assert "script-src" not in html.headers["Content-Security-Policy"] and \
        "default-src 'none'" in html.headers["Content-Security-Policy"]
    png = office.get("/reports/weekly/2026-W47.png")
    assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    xlsx = office.get("/reports/weekly/2026-W47.xlsx")
    assert xlsx.status_code == 200 and xlsx.data.startswith(b"PK")
    assert 'filename=ddci-weekly-2026-W47.xlsx' in xlsx.headers["Content-Disposition"]
    archive = sorted((context_instance(c.app) / "reports").glob("ddci-weekly-2026-W47-*"))
    assert [f.suffix for f in archive] == [".html", ".png", ".xlsx"]  # built once ...
    archive[2].write_bytes(b"PK served from the archive")
    clock.advance(hours=1)
    assert c.client("office").get("/reports/weekly/2026-W47.xlsx").data == b"PK served from the archive"  # ... never again
    office = c.client("office")
    for bad in ("/reports/weekly/2026-W99.html", "/reports/daily/2026-W47.html", "/reports/weekly/2026-W47.exe",
                "/reports/monthly/2027-01.html"):
        assert office.get(bad).status_code == 404, bad


def context_instance(app):
    with app.app_context():
        return context.settings().instance_path


def test_the_overview_counts_in_sql_as_the_weekly_report_does(console, clock):
    """cases.worklists.overview (one SQL query) and scheduler.reports.build_report (the e-mailed
    report) count the same week alike, unit by unit, whatever happened to the inquiries."""
    from cases.worklists import overview
    from scheduler.reports import build_report, iso_week_label, week_period

    c = console()
    with c.app.app_context():
        cw = runtime.casework(context.settings(), context.db(), clock)
    clock.set(datetime(2026, 11, 30, 8, 0, tzinfo=VN))  # Monday
    a, b, d, e, f, h = (c.ask(f"Hỏi về cấp phép xây dựng số {n}") for n in range(6))
    g = c.ask("Hỏi về hoàn thuế", "thue")
    clock.advance(hours=2)
    cw.assign(b, "THUE_QN", by="bxt", reason="thuế")  # reassigned: counted for the new unit
    cw.request_coordination(a, ["THUE_QN"], by="bxt", reason="hỏi ý kiến")  # a coordinating unit is not counted
    cw.answers.record(d, by="x", how="phone", text="Đã trả lời", at=clock())
    cw.send_back(e, by="x", reason="không phải của sở")  # back in triage: the standing office's
    with c.app.app_context(), context.db().session() as s:
        row = s.execute(select(Inquiry).where(Inquiry.code == f)).scalar_one()
        cw.record_answer(s, row, by="page inbox", text="Trả lời trên trang", at=clock(), source="page_inbox")
    clock.set(datetime(2026, 12, 3, 18, 0, tzinfo=VN))  # Thu evening: a is overdue; answer g late
    cw.answers.record(g, by="x", how="email", text="Đã trả lời", at=clock())
    cw.answers.record(h, by="x", how="phone", text="Đúng hạn", at=c.inquiry(h).due_at)  # at the due time: on time
    with c.app.app_context(), context.db().session() as s:
        week = overview(s, cw, clock())
        names = {u.code: u.name for u in cw.directory}
        period = week_period(iso_week_label(cw.calendar.local_date(clock())), cw.calendar.tz)
        report = build_report(s, cw.calendar, period, clock(), unit_names=names, pages=())
    expected = {g.key: (g.counts.received, g.counts.on_time, g.counts.late, g.counts.open, g.counts.overdue,
                        g.counts.unapproved) for g in report.by_unit}
    got = {r.unit: (r.received, r.on_time, r.late, r.open, r.overdue, r.unapproved) for r in week.rows}
    assert got == expected
    assert got["SO_XD"] == (4, 3, 0, 1, 1, 1) and got["THUE_QN"] == (2, 0, 1, 1, 1, 0) and got["BXT"][0] == 1


def test_the_audit_log_names_what_people_and_the_worker_did(console, clock, graph):
    c = console()
    code = c.ask()
    c.draft("officer_a", code)
    c.post("head_a", f"/inquiries/{code}/drafts/{c.latest_draft(code).id}/approve")
    c.deliver()
    page = text(c.client("office").get("/audit", query_string={"object_id": code}))
    for label in ("Soạn dự thảo trả lời", "Trình duyệt dự thảo", "Duyệt trả lời", "Đã gửi trả lời cho doanh nghiệp",
                  PEOPLE["head_a"].email, "hệ thống (tiến trình xử lý tin)"):
        assert label in page, label
    assert page.count(f'href="/inquiries/{code}"') == 4
    # details in words, the codes kept in the titles (a review read "đơn vị: SO_TC",
    # "lĩnh vực sửa thành: dang_ky_kinh_doanh", "trạng thái: submitted")
    other = c.ask("Hỏi về cấp phép sửa chữa nhà xưởng")
    assert c.post("office", f"/inquiries/{other}/assign", {"assign-unit": "THUE_QN", "assign-domain": "thue",
                                                           "assign-reason": "Thuộc lĩnh vực thuế"}).status_code == 302
    page = text(c.client("office").get("/audit", query_string={"object_id": other, "action": "inquiry.assign"}))
    cells = re.sub(r'title="[^"]*"', "", re.search(r'<td class="details">(.*?)</td>', page, re.S).group(1))
    assert "đơn vị: Thuế tỉnh Quảng Ninh" in cells and "đơn vị trước: Sở Xây dựng" in cells
    assert "lĩnh vực sửa thành: Thuế" in cells and "bộ phân loại: Xây dựng" in cells
    assert "THUE_QN" not in cells and "SO_XD" not in cells and "xay_dung" not in cells
    # a login's outcome, a link's purpose, the command line: in words too (a walkthrough read
    # "lý do: wrong_password", "mục đích: invite", "cli:root")
    from store import audit as log

    with c.app.app_context(), context.db().session() as s:
        log.record(s, at=clock(), action=log.LOGIN_FAILED, actor="x@soxd.example", address="10.0.0.1",
                   object_type="account", object_id="x@soxd.example", details={"reason": "wrong_password"})
        log.record(s, at=clock(), action=log.USER_CREATE, actor="cli:root", address="cli", object_type="user",
                   object_id="y@soxd.example", details={"purpose": "invite", "reason": "wrong_password là mật khẩu"})
    page = re.sub(r'title="[^"]*"', "", text(c.client("admin").get("/audit")))
    assert "lý do: sai mật khẩu" in page and "mục đích: lời mời (tài khoản mới)" in page
    assert "dòng lệnh (người dùng máy chủ root)" in page and "dòng lệnh trên máy chủ" in page
    assert "lý do: wrong_password là mật khẩu" in page  # free text stays as written
    assert "cli:root" not in page and ": invite" not in page


def test_dates_at_the_ends_of_the_calendar_are_refused_not_a_server_error(console):
    """A review asked for 01/01/0001 and 31/12/9999 in the filters and for week 1 of year 1: each
    was a 500 (OverflowError moving the day to UTC). Filters say which dates they take; a report
    of a period before 2017 (no inquiry is older; each report asked for is built and archived)
    or past 9998 is not found."""
    c = console()
    for who, path in (("admin", "/audit"), ("office", "/audit"), ("admin", "/nlu/inbox")):
        for name, value in (("date_from", "01/01/0001"), ("date_to", "31/12/9999"), ("date_from", "31/12/1999")):
            page = c.client(who).get(path, query_string={name: value})
            assert page.status_code == 200, (who, path, name, value)
            assert "cần ngày dạng dd/mm/yyyy, ví dụ 27/11/2026 (năm 2000–2100)" in text(page)
    assert c.client("admin").get("/audit", query_string={"date_from": "01/01/2000"}).status_code == 200
    for label in ("weekly/0001-W01", "monthly/0001-01", "weekly/2016-W52", "monthly/2016-12", "monthly/9999-12"):
        for fmt in ("html", "png", "xlsx"):
            assert c.client("office").get(f"/reports/{label}.{fmt}").status_code == 404, (label, fmt)
    assert c.client("office").get("/reports/weekly/2017-W01.html").status_code == 200


def test_attachments_on_the_thread_are_named_in_vietnamese(console, clock):
    """A walkthrough read "Tệp đính kèm (location)" in the Vietnamese console."""
    from store import InquiryMessage

    c = console()
    code = c.ask()
    with c.app.app_context(), context.db().session() as s:
        inquiry = s.execute(select(Inquiry).where(Inquiry.code == code)).scalar_one()
        s.add(InquiryMessage(inquiry_id=inquiry.id, direction="in", source="messenger", text=None,
                             created_at=clock(), attachments=[
                                 {"type": "location", "url": "https://www.google.com/maps?q=21.0,107.1", "title": None},
                                 {"type": "image", "url": "https://example.com/a.jpg", "title": None}]))
    page = text(c.client("officer_a").get(f"/inquiries/{code}"))
    assert "Tệp đính kèm (vị trí)" in page and "Tệp đính kèm (ảnh)" in page and "(location)" not in page


def test_the_inquiry_page_links_the_business_s_other_inquiries_its_reader_may_see(console, clock):
    """A business that writes again after its answer opens a new inquiry, and the officer who
    got it did not see what was asked before (a walkthrough). The page lists the same
    sender's other inquiries on the page, but only those the reader's unit may see: another
    unit's stay unnamed, as its page is a 404."""
    console = console()
    sender = "900000000077777"
    first = open_inquiry(console.app, "Cho em hỏi thủ tục cấp phép xây dựng nhà xưởng " + SCRIPT, "xay_dung",
                         sender=sender)
    clock.advance(hours=2)
    again = open_inquiry(console.app, "Vậy bản vẽ thiết kế nộp ở đâu ạ?", "xay_dung", sender=sender)
    tax = open_inquiry(console.app, "Cho em hỏi hoàn thuế GTGT hàng xuất khẩu", "thue", sender=sender)
    other = console.ask()  # another business: never listed

    def related(who, code):
        page = text(console.client(who).get(f"/inquiries/{code}"))
        block = page[page.index('id="related"'):page.index("</ul>", page.index('id="related"'))] \
            if 'id="related"' in page else ""
        return re.findall(r">(QN-\d{4}-\d{6})</a>", block), block

    codes, block = related("officer_a", again)
    assert codes == [first] and SCRIPT not in block and "&lt;script&gt;" in block and "Sở Xây dựng" in block
    assert related("officer_a", first)[0] == [again]  # the tax office's inquiry stays unnamed
    assert related("officer_b", tax)[0] == []  # and the construction department's too
    assert related("office", tax)[0] == [again, first]  # the standing office sees every one, newest first
    assert other not in related("office", first)[0] and related("office", other)[0] == []


def test_a_closed_window_without_a_message_on_record_is_not_dated_1970(console, clock):
    """An inquiry whose business has no message on record (its conversation row is gone, or
    the inquiry was opened without one) showed "Cửa sổ Messenger đã đóng lúc 01/01/1970 08:00"
    (a screenshot): Messenger's policy dates that window at the epoch. The page says it is
    closed and why, without the date; a real closing time is still shown."""
    console = console()
    bare = open_inquiry(console.app, QUESTION, "xay_dung", sender="900000000066666")
    page = text(console.client("officer_a").get(f"/inquiries/{bare}"))
    closed = page[page.index('id="window-closed"'):page.index("</p>", page.index('id="window-closed"'))]
    assert "1970" not in page and "không có tin nhắn nào của doanh nghiệp được ghi nhận" in closed
    wrote = clock() - timedelta(days=2)
    dated = console.ask(wrote=wrote)
    page = text(console.client("officer_a").get(f"/inquiries/{dated}"))
    closed = page[page.index('id="window-closed"'):page.index("</p>", page.index('id="window-closed"'))]
    assert f"lúc {(wrote + timedelta(hours=24)).astimezone(VN):%d/%m/%Y %H:%M}" in closed
