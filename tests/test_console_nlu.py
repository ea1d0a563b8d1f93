"""The admins' NLU pages through the Flask client, on a real database (issue 13): the inbox's
order, marks, filters and paging; decisions as htmx fragments (one group, a selection, a
conflict settled from the training page) and their bad input (unknown intent, nothing chosen,
a discarded message, two admins at once); training refused while a conflict exists or a job
is not finished; the job's fragment polling only while it runs; the comparison, the gate's
refusal and its audited override, rollback, a corrupt archive never activated.

Messages are recorded with tuning.records.record, the conversation's own call; models are
the tiny project's of tests/test_tuning_training.py (trained once for the module).
"""
from __future__ import annotations

import re
import shutil
from datetime import timedelta
import pytest
from sqlalchemy import select

from bot import context
from nlu.classifier import Classification
from store import AuditEntry, ClassificationRecord, Inquiry, NluActivation
from tests.conftest import FIXTURE_PAGE, SECOND_PAGE
from tests.console import PEOPLE, Person, add_user, login, open_inquiry, page_token
from tests.test_tuning_training import TAX, tiny_archives, tiny_project  # noqa: F401  (module fixture)
from tuning.records import record

SECOND_ADMIN = Person("admin2", "quantri2@bxt.example", "BXT", "admin")
HX = {"HX-Request": "true"}


@pytest.fixture
def app(make_app, tmp_path):
    """The tiny two-intent project (thue, hai_quan): its data marks texts already known."""
    return make_app(nlu__project_dir=str(tiny_project(tmp_path / "project")), nlu__model_dir=str(tmp_path / "models"),
                    console__page_size=5)


@pytest.fixture
def admin(app):
    for person in PEOPLE.values():
        add_user(app, person)
    client = app.test_client()
    assert login(client, PEOPLE["admin"]).status_code == 302
    return client


def add(app, text, intent, confidence, *, needs_review=False, routed=True, page=FIXTURE_PAGE, lang="vi",
        runner=("hai_quan", 0.1), inquiry_id=None, outcome="inquiry", later=timedelta(0)):
    """A classified message, recorded `later` than now (the admin's session stays fresh)."""
    with app.app_context(), context.db().session() as s:
        row = record(s, Classification(text=text, intent=intent, confidence=confidence, normalized=text,
                                       ranking=[(intent or "thue", confidence), runner], needs_review=needs_review,
                                       model_version="nlu-test"),
                     event_id=None, page_id=page, channel="messenger", language=lang, outcome=outcome,
                     routed_automatically=routed, inquiry_id=inquiry_id, at=context.clock()() + later)
        s.flush()
        return row.id


def row(app, row_id) -> ClassificationRecord:
    with app.app_context(), context.db().session() as s:
        found = s.get(ClassificationRecord, row_id)
        s.expunge(found)
        return found


def audits(app, prefix="nlu."):
    with app.app_context(), context.db().session() as s:
        return [(a.action, a.actor, a.object_id, a.details) for a in
                s.execute(select(AuditEntry).where(AuditEntry.action.startswith(prefix)).order_by(AuditEntry.id))
                .scalars()]


def text(response) -> str:
    return response.get_data(as_text=True)


def card_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<article class="group [a-z]+" id="group-(\d+)"', html)]


def token_of(html: str, card: int) -> str:
    """The decision token of a card's own form (ids and the versions the page showed)."""
    block = html[html.index(f'id="group-{card}"'):]
    return re.search(r'<input type="hidden" name="groups" value="([^"]+)"', block).group(1)


def decide(client, token, action, intent=None, view="group", headers=HX):
    data = {"csrf_token": page_token(client, "/nlu/inbox"), "groups": token, "action": action, "view": view}
    if intent is not None:
        data["intent"] = intent
    return client.post("/nlu/inbox/decide", data=data, headers=headers)


# ---- the inbox ---------------------------------------------------------------------------------
def test_the_inbox_shows_groups_in_tunings_order_with_what_the_admin_needs(app, admin):
    code = open_inquiry(app, "hàng nhập khẩu qua cảng Cái Lân", "thue")
    with app.app_context(), context.db().session() as s:
        inquiry = s.execute(select(Inquiry).where(Inquiry.code == code)).scalar_one()
        inquiry.corrected_intent = "hai_quan"  # the standing office corrected the domain in triage
        inquiry_id = inquiry.id
    sure = add(app, "cho em hoi thu tuc hoan thue GTGT", "thue", 0.9)
    dup = add(app, "Cho em hỏi thủ tục hoàn thuế GTGT ạ", "thue", 0.8)
    unsure = add(app, "Chị Lan gọi 0912 345 678 hỏi tờ khai", "hai_quan", 0.41, needs_review=True, routed=False,
                 runner=("thue", 0.38))
    known = add(app, TAX[0], "thue", 0.95)
    corrected = add(app, "hàng nhập khẩu qua cảng Cái Lân", "thue", 0.7, inquiry_id=inquiry_id)

    html = text(admin.get("/nlu/inbox"))
    assert card_ids(html) == [corrected, unsure, dup, known]  # corrected, unsure, lowest confidence; sure joins dup
    assert html.count('class="tag corrected"') == 1 and "Cán bộ đã sửa lĩnh vực: Hải quan (hai_quan)" in html
    assert f'href="/inquiries/{code}"' in html
    unsure_card = html[html.index(f'id="group-{unsure}"'):html.index(f'id="group-{dup}"')]
    assert "Cần xem lại" in unsure_card and "Hải quan (hai_quan) · 41,0 %" in unsure_card
    assert "Thuế (thue) · 38,0 %" in unsure_card  # the runner-up
    assert "<dt>Định tuyến tự động</dt><dd>Không</dd>" in unsure_card
    # what accepting it would store: personal data replaced, shown before anyone decides
    assert '<mark class="pii" title="đã thay tên người">A</mark>' in unsure_card
    assert '<mark class="pii" title="đã thay số điện thoại">[0900 000 000](phone)</mark>' in unsure_card
    preview = re.search(r'Nếu chấp nhận, sẽ lưu:</span> <code class="line">(.*?)</code>', unsure_card).group(1)
    assert "0912" not in preview and "Lan" not in preview
    dup_card = html[html.index(f'id="group-{dup}"'):html.index(f'id="group-{known}"')]
    assert "2 tin gần giống" in dup_card and f"#{sure}" in dup_card and token_of(html, dup) == f"{dup}:0,{sure}:0"
    known_card = html[html.index(f'id="group-{known}"'):]
    assert "Đã có trong dữ liệu huấn luyện" in known_card and "Đã có trong dữ liệu" not in dup_card
    assert "27/11/2026 10:00" in html and "DDCI Quảng Ninh (test)" in html  # local time, the page's name
    assert "Chờ quyết định: <strong>5</strong>" in html


def test_the_inbox_filters_as_tuning_offers_and_explains_bad_values(app, admin, clock):
    tax = add(app, "hoàn thuế cho doanh nghiệp xuất khẩu", "thue", 0.9)
    customs = add(app, "tờ khai hải quan bị phân luồng đỏ", "hai_quan", 0.4, needs_review=True, routed=False,
                  page=SECOND_PAGE)
    english = add(app, "customs clearance at the border", "hai_quan", 0.7, lang="en", later=timedelta(days=2))

    def ids(query):
        return card_ids(text(admin.get(f"/nlu/inbox?{query}")))

    assert ids("") == [customs, english, tax]
    assert ids("intent=thue") == [tax]
    assert ids("min_confidence=50&max_confidence=80") == [english]
    assert ids("min_confidence=39,5") == [customs, english, tax]
    assert ids("date_from=29/11/2026") == [english]
    assert ids("date_to=28/11/2026") == [customs, tax]
    assert ids(f"fanpage={SECOND_PAGE}") == [customs]
    assert ids("language=en") == [english]
    assert ids("routed=no") == [customs]
    assert ids("routed=yes") == [english, tax]
    bad = text(admin.get("/nlu/inbox?intent=thue_dat&min_confidence=120&date_from=2026-11-27&fanpage=999&status=x"))
    for message in ("Nhãn «thue_dat» không có trong dữ liệu huấn luyện.",
                    "Độ tin cậy từ: cần một số từ 0 đến 100 (phần trăm), ví dụ 60.",
                    "Từ ngày: cần ngày dạng dd/mm/yyyy, ví dụ 27/11/2026 (năm 2000–2100).",
                    "Trang Facebook không có trong cấu hình.", "Trạng thái không hợp lệ"):
        assert message in bad
    assert card_ids(bad) == [customs, english, tax]  # the bad values are left out, the list stays


def test_the_inbox_pages_its_groups(app, admin):
    texts = ["hoàn thuế giá trị gia tăng", "tờ khai hải quan điện tử", "kho ngoại quan Móng Cái",
             "quyết toán thuế thu nhập", "phân luồng đỏ hàng nhập", "hóa đơn điện tử bị khóa", "mã HS máy móc"]
    made = [add(app, t, "thue", 0.5 + n / 100) for n, t in enumerate(texts)]
    first = text(admin.get("/nlu/inbox"))
    groups_first = card_ids(first)
    assert "Trang 1/2 · 7 dòng" in first and groups_first == made[:5]  # page_size 5, lowest confidence first
    second = text(admin.get("/nlu/inbox?page=2"))
    assert len(card_ids(second)) == 2 and set(groups_first) | set(card_ids(second)) == set(made)
    assert card_ids(text(admin.get("/nlu/inbox?page=99"))) == card_ids(second)  # past the end: the last page
    assert 'checked' not in first and text(admin.get("/nlu/inbox?select=all")).count("checked") == 5


# ---- decisions ---------------------------------------------------------------------------------
def test_confirm_relabel_and_discard_a_group_as_htmx_fragments_audited(app, admin):
    a = add(app, "Em tên là Nguyễn Thị Hoa, MST 5701234567 hỏi hoàn thuế", "thue", 0.6)
    b = add(app, "tờ khai hải quan nhập máy móc", "thue", 0.5)
    c = add(app, "bán sim số đẹp", "thue", 0.3)
    html = text(admin.get("/nlu/inbox"))

    done = decide(admin, token_of(html, a), "confirm")
    assert done.status_code == 200 and text(done).startswith('<article class="group confirmed" id="group-')
    assert "Đã xác nhận nhãn gợi ý cho 1 tin." in text(done) and "Đã lưu làm dữ liệu huấn luyện" in text(done)
    assert (row(app, a).status, row(app, a).label) == ("confirmed", "thue")
    assert row(app, a).training_text == "Em tên là Nguyễn Văn A, MST [0100000000](tax_code) hỏi hoàn thuế"

    relabelled = decide(admin, token_of(html, b), "relabel", "hai_quan")
    assert relabelled.status_code == 200 and "Đã gán nhãn Hải quan (hai_quan) cho 1 tin." in text(relabelled)
    assert (row(app, b).status, row(app, b).label, row(app, b).decided_by) == ("relabelled", "hai_quan",
                                                                               PEOPLE["admin"].email)
    discarded = decide(admin, token_of(html, c), "discard", intent="thue")  # the picker's value is ignored
    assert discarded.status_code == 200 and "Đã loại bỏ 1 tin." in text(discarded)
    assert "không dùng để huấn luyện" in text(discarded) and 'name="action"' not in text(discarded)
    assert row(app, c).status == "discarded"
    assert [(a_, who, obj) for a_, who, obj, _ in audits(app)] == [
        ("nlu.inbox.confirm", PEOPLE["admin"].email, str(a)), ("nlu.inbox.relabel", PEOPLE["admin"].email, str(b)),
        ("nlu.inbox.discard", PEOPLE["admin"].email, str(c))]
    assert audits(app)[1][3]["label"] == "hai_quan" and audits(app)[1][3]["ids"] == [b]
    assert 'id="counts" hx-swap-oob="true"' in text(discarded) and "Đã loại bỏ: <strong>1</strong>" in text(discarded)
    # the inbox data file is Rasa's, written from the database
    inbox_file = context_inbox_file(app)
    assert "- intent: hai_quan" in inbox_file and "tờ khai hải quan nhập máy móc" in inbox_file
    assert "Hoa" not in inbox_file and "5701234567" not in inbox_file


def context_inbox_file(app) -> str:
    with app.app_context():
        return (context.settings().inbox_data_dir / "inbox.yml").read_text(encoding="utf-8")


@pytest.mark.parametrize("form, message", [
    ({"action": "relabel", "intent": "thue_dat"}, "Nhãn «thue_dat» không có trong dữ liệu huấn luyện"),
    ({"action": "relabel"}, "Hãy chọn nhãn để gán lại."),
    ({"action": "approve"}, "Thao tác không hợp lệ"),
    ({"action": "confirm", "groups": ""}, "Chưa chọn nhóm tin nào."),
    ({"action": "confirm", "groups": "1:0;DROP"}, "Lựa chọn không hợp lệ"),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(app, admin, form, message):
    a = add(app, "thủ tục hải quan nhập khẩu", "thue", 0.6)
    data = {"csrf_token": page_token(admin, "/nlu/inbox"), "groups": f"{a}:0", "view": "group", **form}
    response = admin.post("/nlu/inbox/decide", data=data, headers=HX)
    assert response.status_code == 422 and message in text(response)
    assert (row(app, a).status, row(app, a).version, row(app, a).label) == ("pending", 0, None)
    assert audits(app) == []
    if "groups" not in form:  # the card comes back as it was, with the message in it
        assert text(response).startswith(f'<article class="group pending" id="group-{a}"')


def test_a_discarded_message_cannot_be_relabelled(app, admin):
    a = add(app, "mua đất nền giá rẻ liên hệ 0912345678", "dat_dai", 0.5)
    html = text(admin.get("/nlu/inbox"))
    decide(admin, token_of(html, a), "discard")
    # a stale page (or a crafted request) still offering the relabel
    response = decide(admin, f"{a}:1", "relabel", "thue")
    assert response.status_code == 409
    assert f"Tin #{a} đã bị {PEOPLE['admin'].email} loại bỏ: tin đã loại bỏ giữ nguyên" in text(response)
    assert (row(app, a).status, row(app, a).label) == ("discarded", None)
    assert [a_ for a_, *_ in audits(app)] == ["nlu.inbox.discard"]


def test_two_admins_deciding_one_group_the_second_sees_the_first_decision(app, admin, clock):
    a = add(app, "thủ tục hải quan nhập khẩu máy móc", "thue", 0.5)
    b = add(app, "thu tuc hai quan nhap khau may moc", "thue", 0.5)
    add_user(app, SECOND_ADMIN)
    other = app.test_client()
    login(other, SECOND_ADMIN)
    mine, theirs = text(admin.get("/nlu/inbox")), text(other.get("/nlu/inbox"))  # both see version 0
    assert token_of(mine, a) == token_of(theirs, a) == f"{a}:0,{b}:0"
    clock.advance(minutes=3)
    assert decide(other, token_of(theirs, a), "relabel", "hai_quan").status_code == 200
    late = decide(admin, token_of(mine, a), "confirm")
    assert late.status_code == 409
    body = text(late)
    assert f"Tin #{a}: {SECOND_ADMIN.email} đã quyết định trước bạn, lúc 27/11/2026 10:03: gán lại nhãn Hải quan " \
           "(hai_quan). Quyết định của bạn không được áp dụng" in body
    assert "Đã gán lại nhãn: <strong>Hải quan (hai_quan)</strong>" in body and SECOND_ADMIN.email in body
    assert {row(app, i).label for i in (a, b)} == {"hai_quan"} and row(app, a).decided_by == SECOND_ADMIN.email
    assert [(act, who) for act, who, *_ in audits(app)] == [("nlu.inbox.relabel", SECOND_ADMIN.email)]
    # the card now carries the current versions: changing the decision knowingly is allowed
    again = decide(admin, token_of(body, a), "confirm")
    assert again.status_code == 200 and row(app, a).label == "thue"


def test_a_bulk_decision_swaps_every_chosen_card(app, admin):
    a = add(app, "hoàn thuế giá trị gia tăng", "hai_quan", 0.4)
    b = add(app, "quyết toán thuế thu nhập doanh nghiệp", "hai_quan", 0.45)
    c = add(app, "kho ngoại quan ở Móng Cái", "hai_quan", 0.9)
    html = text(admin.get("/nlu/inbox"))
    data = {"csrf_token": page_token(admin, "/nlu/inbox"), "groups": [token_of(html, a), token_of(html, b)],
            "action": "relabel", "intent": "thue", "view": "bulk"}
    response = admin.post("/nlu/inbox/decide", data=data, headers=HX)
    assert response.status_code == 200
    body = text(response)
    assert body.lstrip().startswith('<p class="flash success" role="status">Đã gán nhãn Thuế (thue) cho 2 tin.</p>')
    assert re.findall(r'id="group-(\d+)" hx-swap-oob="true"', body) == [str(a), str(b)]
    assert [row(app, i).label for i in (a, b, c)] == ["thue", "thue", None]
    assert audits(app)[0][3]["ids"] == [a, b]


def test_without_htmx_a_decision_returns_to_the_page_with_its_message(app, admin):
    a = add(app, "tờ khai hải quan", "hai_quan", 0.5)
    html = text(admin.get("/nlu/inbox?language=vi"))
    data = {"csrf_token": page_token(admin, "/nlu/inbox"), "groups": token_of(html, a), "action": "confirm",
            "view": "group", "back": "/nlu/inbox?language=vi"}
    response = admin.post("/nlu/inbox/decide", data=data)
    assert response.status_code == 302 and response.headers["Location"] == "/nlu/inbox?language=vi"
    assert "Đã xác nhận nhãn gợi ý cho 1 tin." in text(admin.get("/nlu/inbox?language=vi"))
    elsewhere = admin.post("/nlu/inbox/decide", data={**data, "back": "//evil.example/x"})
    assert elsewhere.headers["Location"] == "/nlu/inbox"


def test_officers_heads_and_the_standing_office_cannot_decide(app, admin):
    a = add(app, "tờ khai hải quan", "hai_quan", 0.5)
    for key in ("officer_a", "head_a", "office"):
        client = app.test_client()
        login(client, PEOPLE[key])
        response = client.post("/nlu/inbox/decide", data={"csrf_token": page_token(client), "groups": f"{a}:0",
                                                          "action": "discard"}, headers=HX)
        assert response.status_code == 403, key
        assert client.get("/nlu/inbox").status_code == 403 and "Hộp thư NLU" not in text(client.get("/"))
    assert row(app, a).status == "pending"
    assert "Hộp thư NLU" in text(admin.get("/"))  # the admin's menu has it


# ---- conflicts and training --------------------------------------------------------------------
def test_conflicts_are_shown_refuse_training_and_are_settled_from_the_page(app, admin):
    a = add(app, TAX[1].upper(), "thue", 0.9)  # a hand-written tax example, word for word
    html = text(admin.get("/nlu/inbox"))
    decide(admin, token_of(html, a), "relabel", "hai_quan")
    page = text(admin.get("/nlu/training"))
    assert "1 câu đang mang hai nhãn khác nhau" in page and f"«{TAX[1]}»" in page
    assert "câu viết tay trong tệp <code>nlu.yml</code>" in page and f"từ hộp thư NLU, tin #{a}" in page
    assert re.search(r'<button type="submit" id="train" disabled>', page)
    refused = admin.post("/nlu/training", data={"csrf_token": page_token(admin, "/nlu/training")})
    assert refused.status_code == 409
    assert "Chưa thể huấn luyện: 1 câu đang mang hai nhãn khác nhau." in text(refused)
    assert audits(app, "nlu.train") == []
    # settle it from the conflict's own form (the version the page showed); the panel comes back
    settle_token = re.search(r'name="groups" value="(\d+:\d+)"', page[page.index('id="conflicts"'):]).group(1)
    assert settle_token == f"{a}:1"
    settled = decide(admin, settle_token, "relabel", "thue", view="conflict")
    assert settled.status_code == 200 and text(settled).startswith('<section id="train-panel"')
    assert "Không có xung đột" in text(settled) and re.search(r'id="train" >', text(settled))
    queued = admin.post("/nlu/training", data={"csrf_token": page_token(admin, "/nlu/training")})
    assert queued.status_code == 302
    after = text(admin.get("/nlu/training"))
    assert "Đã gửi yêu cầu huấn luyện #1." in after and "Đang chờ worker nhận" in after
    assert [(act, obj) for act, _, obj, _ in audits(app, "nlu.train")] == [("nlu.train.request", "1")]


def test_training_while_another_job_waits_or_runs_is_refused(app, admin, clock):
    with app.app_context():
        from bot import runtime

        queue = runtime.training_queue(context.settings(), context.db(), context.clock())
        first = queue.request(by="lan@bxt")
    response = admin.post("/nlu/training", data={"csrf_token": page_token(admin, "/nlu/training")})
    assert response.status_code == 409
    assert (f"Chưa thể huấn luyện: lượt huấn luyện #{first.id} do lan@bxt yêu cầu lúc 27/11/2026 10:00 đang chờ "
            "worker nhận. Hãy chờ lượt đó xong rồi yêu cầu lại.") in text(response)
    with app.app_context():
        queue.claim()
    page = text(admin.get("/nlu/training"))
    assert re.search(r'id="train" disabled', page) and f"Đang có lượt huấn luyện #{first.id} (đang huấn luyện)" in page
    assert "đang chạy" in text(admin.post("/nlu/training", data={"csrf_token": page_token(admin, "/nlu/training")}))
    with app.app_context():
        queue.finish(first.id, "done")
    assert admin.post("/nlu/training", data={"csrf_token": page_token(admin, "/nlu/training")}).status_code == 302


def test_the_job_fragment_polls_while_the_job_runs_and_stops_when_it_is_done(app, admin):
    with app.app_context():
        from bot import runtime

        queue = runtime.training_queue(context.settings(), context.db(), context.clock())
        job = queue.request(by="lan@bxt")
    url = f"/nlu/training/jobs/{job.id}"
    queued = text(admin.get(url, headers=HX))
    assert f'hx-get="{url}" hx-trigger="every 2s" hx-swap="outerHTML"' in queued and "Đang chờ worker nhận" in queued
    with app.app_context():
        queue.claim()
        queue.note(job.id, 20, "[2/3] Training nlu-abc on 14 examples with /p/config.yml (this takes a minute)...")
    running = text(admin.get(url, headers=HX))
    assert 'hx-trigger="every 2s"' in running and '<progress max="100" value="20">' in running
    assert "[2/3] Đang huấn luyện nlu-abc trên 14 câu với cấu hình /p/config.yml" in running
    with app.app_context():
        queue.note(job.id, 100, "Done: nlu-abc, macro-F1 0.912; the gate refuses activation: macro-F1 all drops by 0.1")
        queue.finish(job.id, "done", candidate="nlu-abc", comparison={
            "active_version": "nlu-old", "candidate_version": "nlu-abc", "allowed": False, "refusals": ["x"],
            "macro_f1": [{"name": "all", "active": 1.0, "candidate": 0.912, "change": -0.088}],
            "per_intent": [], "routing": {}})
    done = text(admin.get(url, headers=HX))
    assert "hx-trigger" not in done and "Xong" in done
    # the last poll brings the Train button's panel up to date (no job in the way any more)
    assert '<section id="train-panel" class="panel" hx-swap-oob="true">' in done and re.search(r'id="train" >', done)
    assert "Macro-F1 0,912 (mô hình đang dùng 1,000)" in done and "<strong>từ chối kích hoạt</strong>" in done
    assert "cổng đánh giá TỪ CHỐI kích hoạt" in done and 'href="/nlu/models/nlu-abc"' in done
    assert admin.get("/nlu/training/jobs/999").status_code == 404


# ---- comparison, activation, rollback ----------------------------------------------------------
def scores(all_, vi, en, thue, hai_quan, share=0.9, precision=1.0):
    return {"heldout": "h1", "n": 6, "macro_f1": {"all": all_, "vi": vi, "en": en},
            "per_intent": {"thue": thue, "hai_quan": hai_quan},
            "routing": {"threshold": 0.52, "min_margin": 0.37, "n": 6, "auto": 5, "auto_share": share,
                        "auto_precision": precision}}


@pytest.fixture
def two_models(app, tiny_archives):  # noqa: F811
    """Both tiny archives registered; A active; B (swapped labels) scores worse."""
    from bot import runtime
    from nlu.training import TrainResult

    a, b = tiny_archives
    with app.app_context():
        settings = context.settings()
        settings.model_dir.mkdir(parents=True, exist_ok=True)
        registry = runtime.model_registry(settings, context.db(), context.clock())
        for result, s in ((a, scores(1.0, 1.0, 1.0, 1.0, 1.0)), (b, scores(0.5, 0.5, 0.6, 0.4, 0.6, 0.8, 0.5))):
            shutil.copy(result.path, settings.model_dir / result.path.name)
            registry.register(TrainResult(result.version, settings.model_dir / result.path.name, False, 2.0, 12,
                                          result.fingerprint), by="lan@bxt", scores=s)
        registry.activate(a.version, by="ops")
    return a.version, b.version


def active(app):
    from nlu.training import read_active

    with app.app_context():
        return read_active(context.settings().model_dir)["version"]


def activate(client, version, reason=None):
    data = {"csrf_token": page_token(client, "/nlu/models")}
    if reason is not None:
        data["override_reason"] = reason
    return client.post(f"/nlu/models/{version}/activate", data=data)


def test_the_comparison_shows_scores_side_by_side_and_the_gates_refusal(app, admin, two_models):
    a, b = two_models
    page = text(admin.get(f"/nlu/models/{b}"))
    assert f"So sánh {b} với mô hình đang dùng" in page
    assert "Cổng đánh giá: từ chối kích hoạt." in page
    assert "Macro-F1 (Toàn bộ) giảm 0,500 (1,000 → 0,500); chỉ được giảm tối đa 0,005." in page
    assert "Macro-F1 (Tiếng Anh) giảm 0,400 (1,000 → 0,600); chỉ được giảm tối đa 0,020." in page
    macro = page[page.index('id="macro"'):page.index('id="routing"')]
    assert re.search(r"<td>Tiếng Việt có dấu</td><td class=\"num\">1,000</td><td class=\"num\">0,500</td>\s*"
                     r"<td class=\"num change\">−0,500</td>", macro)
    per_intent = page[page.index('id="per-intent"'):]
    assert per_intent.index("Thuế (thue)") < per_intent.index("Hải quan (hai_quan)")  # the biggest drop first
    routing = page[page.index("<h2>Định tuyến tự động</h2>"):page.index('id="per-intent"')]
    assert "90,0 %" in routing and "80,0 %" in routing and "50,0 %" in routing and "ngưỡng tin cậy 0,52" in routing
    assert 'id="override_reason"' in page and "Kích hoạt dù cổng đánh giá từ chối" in page
    assert admin.get("/nlu/models/nlu-nothing").status_code == 404


def test_activation_refused_by_the_gate_then_overridden_with_a_reason_audited_then_rolled_back(app, admin, two_models):
    a, b = two_models
    refused = activate(admin, b)
    assert refused.status_code == 409 and active(app) == a
    assert "Cổng đánh giá từ chối kích hoạt mô hình này" in text(refused)
    assert "Macro-F1 (Toàn bộ) giảm 0,500" in text(refused)
    too_long = activate(admin, b, "x" * 2001)
    assert too_long.status_code == 422 and active(app) == a
    done = activate(admin, b, "  Thử nghiệm   có chủ đích\n trên trang thử ")
    assert done.status_code == 302 and done.headers["Location"] == "/nlu/models" and active(app) == b
    listing = text(admin.get("/nlu/models"))
    assert f"Đã kích hoạt {b} (vượt cổng đánh giá, lý do đã ghi vào nhật ký)" in listing
    assert "Thử nghiệm có chủ đích trên trang thử" in listing  # in the history of activations
    [(action, who, obj, details)] = audits(app)
    assert (action, who, obj) == ("nlu.activate.override", PEOPLE["admin"].email, b)
    assert details["override_reason"] == "Thử nghiệm có chủ đích trên trang thử"
    assert details["previous_version"] == a and "by" not in details  # who and when: the entry's own columns
    assert details["gate_refusals"][0].startswith("Macro-F1 (Toàn bộ) giảm 0,500")
    log = text(admin.get("/audit?action=nlu.activate.override"))
    assert "NLU: kích hoạt mô hình vượt cổng đánh giá" in log and "Thử nghiệm có chủ đích" in log
    assert "cổng đánh giá từ chối: Macro-F1 (Toàn bộ) giảm 0,500 (1,000 → 0,500); chỉ được giảm tối đa 0,005.; Macro-F1" in log

    assert f"Quay lại mô hình trước ({a})" in listing
    rolled = admin.post("/nlu/rollback", data={"csrf_token": page_token(admin, "/nlu/models")})
    assert rolled.status_code == 302 and active(app) == a
    assert f"Đã quay lại mô hình {a} (thay cho {b})." in text(admin.get("/nlu/models"))
    assert audits(app)[-1][:3] == ("nlu.rollback", PEOPLE["admin"].email, a)
    with app.app_context(), context.db().session() as s:
        kinds = [(x.kind, x.version, x.by) for x in s.execute(select(NluActivation).order_by(NluActivation.id)).scalars()]
    assert kinds == [("activate", a, "ops"), ("activate", b, PEOPLE["admin"].email),
                     ("rollback", a, PEOPLE["admin"].email)]


def test_an_allowed_activation_needs_no_reason_and_a_reason_is_no_override(app, admin, two_models):
    a, b = two_models
    with app.app_context():
        from bot import runtime

        registry = runtime.model_registry(context.settings(), context.db(), context.clock())
        registry.set_scores(b, scores(1.0, 1.0, 1.0, 1.0, 1.0))
    page = text(admin.get(f"/nlu/models/{b}"))
    assert "Cổng đánh giá: cho phép kích hoạt." in page and 'id="override_reason"' not in page
    assert activate(admin, b, "không cần").status_code == 302 and active(app) == b
    [(action, _, _, details)] = audits(app)
    assert action == "nlu.activate" and details["override_reason"] is None
    again = activate(admin, b)
    assert again.status_code == 409 and f"{b} đã là mô hình đang dùng." in text(again)


def test_a_corrupt_archive_is_never_activated_and_the_page_says_so(app, admin, two_models):
    a, b = two_models
    with app.app_context():
        archive = context.settings().model_dir / f"{b}.tar.gz"
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    response = activate(admin, b, "vẫn muốn thử")
    assert response.status_code == 409 and active(app) == a
    assert f"Không kích hoạt {b}: tệp mô hình không còn là tệp đã được huấn luyện và đánh giá" in text(response)
    assert "Mô hình đang dùng giữ nguyên." in text(response) and audits(app) == []


def test_rollback_with_nothing_before_is_refused_clearly(app, admin, two_models):
    a, _ = two_models
    response = admin.post("/nlu/rollback", data={"csrf_token": page_token(admin, "/nlu/models")})
    assert response.status_code == 409 and active(app) == a
    assert "Chưa có mô hình nào được dùng trước mô hình hiện tại để quay lại." in text(response)


def test_the_versions_page_lists_every_model_with_scores_and_people(app, admin, two_models, clock):
    a, b = two_models
    page = text(admin.get("/nlu/models"))
    assert page.index(f'id="version-{a}"') >= 0 and page.index(f'id="version-{b}"') >= 0
    row_a = page[page.index(f'id="version-{a}"'):page.index("</tr>", page.index(f'id="version-{a}"'))]
    assert "đang dùng" in row_a and "lan@bxt" in row_a and "ops" in row_a and "27/11/2026 10:00" in row_a
    assert "dữ liệu: " in row_a and "1,000" in row_a and "90,0 %" in row_a
    row_b = page[page.index(f'id="version-{b}"'):]
    assert "Kích hoạt</button>" in row_b[:row_b.index("</tr>")]
    assert f'id="active-version">{a}<' in page


def test_gate_reasons_from_tuning_all_read_in_vietnamese():
    """Every refusal tuning.gate.compare can give has a Vietnamese line (a new one fails here)."""
    from bot.console.tuning_texts import gate_reason
    from tuning.gate import compare

    candidates = [compare(scores(1.0, 1.0, 1.0, 1, 1), scores(0.9, 0.9, 0.9, 1, 1), active_version="a",
                          candidate_version="b"),
                  compare(scores(1.0, 1.0, 1.0, 1, 1), None, active_version="a", candidate_version="b"),
                  compare(scores(1.0, 1.0, 1.0, 1, 1), {**scores(1.0, 1.0, 1.0, 1, 1), "heldout": "other"},
                          active_version="a", candidate_version="b")]
    refusals = [r for c in candidates for r in c.refusals]
    assert len(refusals) == 5
    for refusal in refusals:
        assert gate_reason(refusal) != refusal, refusal


def test_dates_in_the_inbox_filter_are_local_days(app, admin, clock):
    """A message at 23:30 local time on 27/11 (16:30 UTC) belongs to 27/11, not 28/11."""
    late = add(app, "thủ tục hải quan lúc khuya", "hai_quan", 0.5, later=timedelta(hours=13, minutes=30))  # 23:30
    next_day = add(app, "thủ tục thuế sáng sớm", "thue", 0.6, later=timedelta(hours=14, minutes=30))  # 28/11 00:30
    assert card_ids(text(admin.get("/nlu/inbox?date_from=27/11/2026&date_to=27/11/2026"))) == [late]
    assert card_ids(text(admin.get("/nlu/inbox?date_from=28/11/2026"))) == [next_day]


def test_the_nlu_pages_keep_rasa_out_of_the_web_process(tmp_path):
    """Every NLU page and action an admin uses, served by a fresh web process: Rasa and
    TensorFlow are never imported (training and classification are the worker's)."""
    import subprocess
    import sys

    from tests.conftest import REPO, write_config

    config = write_config(tmp_path, nlu__project_dir=str(tiny_project(tmp_path / "project")),
                         nlu__model_dir=str(tmp_path / "models"))
    code = f"""
import sys
from bot import create_app, context
from tests.console import PEOPLE, add_user, login, page_token
app = create_app({{"config_path": {str(config)!r}, "environment": "test", "database_url": "sqlite:///{tmp_path}/w.db",
                  "instance_path": {str(tmp_path)!r}, "TESTING": True}})
with app.app_context():
    context.db().upgrade()
add_user(app, PEOPLE["admin"])
c = app.test_client()
login(c, PEOPLE["admin"])
for url in ("/nlu/inbox", "/nlu/training", "/nlu/models"):
    assert c.get(url).status_code == 200, url
assert c.post("/nlu/training", data={{"csrf_token": page_token(c, "/nlu/training")}}).status_code == 302
assert c.get("/nlu/training/jobs/1").status_code == 200
assert c.post("/nlu/rollback", data={{"csrf_token": page_token(c, "/nlu/models")}}).status_code == 409
bad = [m for m in sys.modules if m.split('.')[0] in ('rasa', 'tensorflow', 'keras')]
print(bad)
sys.exit(1 if bad else 0)
"""
    env = {"PATH": "/usr/bin:/bin", "TEST_TOKEN_DDCI": "x", "TEST_TOKEN_SXD": "y", "HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
