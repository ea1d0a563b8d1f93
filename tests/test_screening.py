"""The prohibited-content filter wired in (Decision 3887/QĐ-UBND, Art. 9.5(b); issue 11):
comments hidden through the Graph API, recorded and reported to the standing office; private
messages flagged for the officer, never hidden; what the bot and officers send checked
before it goes. End to end: webhook -> worker -> Graph API stand-in / SMTP, real classifier.
The filter alone is tests/test_moderation.py."""
from __future__ import annotations

import copy
import threading

import pytest
from sqlalchemy import select

from store import Assignment, InboxEvent, Inquiry, ModerationRecord, Notification, Outbox, SandboxGraphCall
from tests.conftest import FIXTURE_PAGE, SECOND_PAGE, free_port, load_fixture, signed_post, with_text

COMMENT_PAGE = "100473908465587"  # feed_comment_add.json
COMMENT_ID = "150691160110528_150691260110518"
SENDER = "8130382090340794"  # text_message.json
PAGES = [
    {"id": FIXTURE_PAGE, "name": "DDCI Quảng Ninh (test)", "unit": "BXT", "access_token_env": "TEST_TOKEN_DDCI"},
    {"id": SECOND_PAGE, "name": "Sở Xây dựng (test)", "unit": "SO_XD", "access_token_env": "TEST_TOKEN_SXD"},
    {"id": COMMENT_PAGE, "name": "Trang DDCI thử", "unit": "BXT", "access_token_env": "TEST_TOKEN_DDCI"},
]


def comment(text: str, created: int = 0) -> dict:
    body = load_fixture("feed_comment_add.json")
    value = body["entry"][0]["changes"][0]["value"]
    value["message"] = text
    value["created_time"] += created
    return body


@pytest.fixture
def site(make_app, trained_model, clock):
    from bot import context, runtime

    class Driver:
        def __init__(self, overrides=None, **config):
            config.setdefault("conversation", {"ask_contact": False})
            self.app = make_app(overrides, pages=PAGES, **config)
            self.client = self.app.test_client()
            with self.app.app_context():
                self.worker = runtime.worker(context.settings(), context.db(), clock)

        def post(self, body):
            assert signed_post(self.client, body).status_code == 200
            self.worker.run_once()

        def rows(self, model):
            with self.app.app_context(), context.db().session() as s:
                return s.execute(select(model).order_by(model.id)).scalars().all()

    return Driver


def test_a_comment_with_prohibited_content_is_hidden_recorded_and_reported(site, graph, smtp):
    d = site()
    text = "Đm bọn cán bộ phường ăn hại, hồ sơ nộp 2 tuần chưa xong"
    d.post(comment(text))
    assert d.rows(Inquiry) == []  # no inquiry for it
    [hide] = graph.calls  # and no reply to it, private or public
    assert (hide.path, hide.body, hide.token) == (f"/v21.0/{COMMENT_ID}", {"is_hidden": True}, "token-ddci")
    assert "access_token" not in hide.query and hide.query["appsecret_proof"]
    [row] = d.rows(Outbox)
    assert (row.kind, row.status, row.provider_message_id) == ("hide_comment", "sent", COMMENT_ID)
    [record] = d.rows(ModerationRecord)
    assert (record.action, record.page_id, record.comment_id, record.inquiry_id) == ("hide", COMMENT_PAGE, COMMENT_ID,
                                                                                     None)
    assert record.rule_ids == ["insult_vi_01"] and record.categories == ["insult"]
    assert record.excerpt == text and "ngôn từ thô tục" in record.reason
    [mail] = smtp.messages
    assert mail["to"] == ["ddci@bxt.quangninh.example"]  # the standing office
    assert mail["subject"] == "[DDCI Quảng Ninh] Đã ẩn một bình luận có nội dung bị cấm"
    assert "dưới bài viết của trang Trang DDCI thử" in mail["text"]
    assert "ngôn từ thô tục, xúc phạm (quy tắc insult_vi_01)" in mail["text"]
    assert "“Đm”" in mail["text"] and text in mail["text"]
    assert f"https://www.facebook.com/{COMMENT_ID}" in mail["text"]
    assert "Luật Công nghệ thông tin 67/2006/QH11" in mail["text"]  # the category's legal source
    assert d.rows(InboxEvent)[0].outcome == "comment hidden: insult_vi_01"
    # Facebook tells us the comment was hidden; the same comment again is not hidden twice
    hidden = copy.deepcopy(comment(text, created=1))
    hidden["entry"][0]["changes"][0]["value"]["verb"] = "hide"
    d.post(hidden)
    d.post(comment(text, created=2))
    assert len(graph.hidden_comments()) == 1 and len(smtp.messages) == 1
    assert d.rows(InboxEvent)[-1].outcome == "comment already hidden"


def test_an_edit_that_brings_prohibited_content_in_hides_the_comment(site, graph, smtp):
    """Editing a comment must not get around the filter; the inquiry it had stays open."""
    d = site(conversation={"ask_contact": False, "public_comment_reply": False})
    d.post(comment("Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả"))
    [inquiry] = d.rows(Inquiry)
    edit = comment("Đm hỏi 3 hôm không ai trả lời", created=1)
    edit["entry"][0]["changes"][0]["value"]["verb"] = "edited"
    d.post(edit)
    [hide] = graph.hidden_comments()
    assert hide.path == f"/v21.0/{COMMENT_ID}"
    [record] = d.rows(ModerationRecord)
    assert (record.action, record.inquiry_id, record.sender_id) == ("hide", inquiry.id, "3844961895548656")
    [inquiry] = d.rows(Inquiry)
    assert (inquiry.status, inquiry.text) == ("assigned", "Đm hỏi 3 hôm không ai trả lời")
    assert d.rows(InboxEvent)[-1].outcome.endswith("comment edited; comment hidden: insult_vi_01")
    assert any("Đã ẩn một bình luận" in m["subject"] for m in smtp.messages)


def test_hiding_is_retried_when_the_graph_api_fails(site, graph, clock):
    d = site()
    graph.fail_next(1, status=500)
    d.post(comment("vcl 3 tháng chưa có sổ đỏ"))
    [row] = d.rows(Outbox)
    assert (row.kind, row.status, row.attempts) == ("hide_comment", "pending", 1)
    clock.advance(seconds=6)
    d.worker.run_once()
    assert d.rows(Outbox)[0].status == "sent" and len(graph.hidden_comments()) == 2


@pytest.mark.parametrize("text", [
    "Cán bộ phường làm việc quá tệ, tôi rất bức xúc, đề nghị xử lý nghiêm!",
    "Tôi sẽ đâm đơn kiện ra tòa nếu Sở Xây dựng không cấp phép xây dựng nhà xưởng",
])
def test_an_angry_but_legitimate_comment_is_an_inquiry_and_stays(site, graph, text):
    d = site()
    d.post(comment(text))
    [inquiry] = d.rows(Inquiry)
    assert inquiry.comment_id == COMMENT_ID and inquiry.moderation_note is None
    assert graph.hidden_comments() == [] and d.rows(ModerationRecord) == []


def test_a_flagged_comment_is_an_inquiry_with_the_flag_for_the_officer(site, graph, smtp):
    d = site()
    d.post(comment("Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả, sdt em 0988123456"))
    [inquiry] = d.rows(Inquiry)
    assert graph.hidden_comments() == []
    note = "bình luận có nội dung công khai dữ liệu cá nhân (quy tắc pii_phone_flag_01)"
    assert inquiry.moderation_note == note
    [record] = d.rows(ModerationRecord)
    assert (record.action, record.inquiry_id) == ("flag", inquiry.id)
    assert "0988123456" not in record.excerpt and "09••••••••" in record.excerpt  # not copied again in full
    notices = [n for n in d.rows(Notification) if n.inquiry_id == inquiry.id]
    assert notices and all(f"Lưu ý: {note}." in n.body_text and note in n.body_html for n in notices)


def test_a_private_message_is_never_hidden_but_flagged_in_the_units_notice(site, graph, smtp):
    d = site()
    text = "Đm, nộp hồ sơ xin giấy phép xây dựng nhà xưởng 2 tuần chưa xong, cán bộ hẹn mãi"
    d.post(with_text(load_fixture("text_message.json"), text))
    [inquiry] = d.rows(Inquiry)
    assert inquiry.text == text and graph.hidden_comments() == []
    assert inquiry.moderation_note == "tin nhắn có nội dung ngôn từ thô tục, xúc phạm (quy tắc insult_vi_01)"
    [record] = d.rows(ModerationRecord)
    assert (record.action, record.source, record.inquiry_id, record.sender_id) == ("flag", "messenger", inquiry.id,
                                                                                    SENDER)
    [mail] = [m for m in smtp.messages if inquiry.code in m["subject"]]
    assert "Lưu ý: tin nhắn có nội dung ngôn từ thô tục, xúc phạm (quy tắc insult_vi_01)." in mail["text"]
    assert inquiry.code in graph.messages_to(SENDER)[0].text  # acknowledged as usual


def test_a_private_message_with_a_phone_number_is_not_flagged(site):
    """Personal-data rules are for public comments: a business gives its own number privately."""
    d = site()
    d.post(with_text(load_fixture("text_message.json"),
                     "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng, sđt em 0988123456"))
    [inquiry] = d.rows(Inquiry)
    assert inquiry.moderation_note is None and d.rows(ModerationRecord) == []


# ---- outgoing -------------------------------------------------------------------------------------
def test_an_officers_answer_with_prohibited_content_is_refused_and_nothing_is_written(site, graph):
    d = site()
    d.post(with_text(load_fixture("text_message.json"), "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng"))
    [inquiry] = d.rows(Inquiry)
    sent = len(graph.calls)
    runner = d.app.test_cli_runner()
    result = runner.invoke(args=["inquiries", "answer", inquiry.code, "--by", "soxd.officer",
                                 "--text", "Hồ sơ đầy đủ rồi, đm hỏi mãi",
                                 "--approved-by", "giamdoc@soxd.quangninh.example"])
    assert result.exit_code == 1
    assert "Nội dung bị chặn: ngôn từ thô tục, xúc phạm (quy tắc insult_vi_01)" in result.output
    [inquiry] = d.rows(Inquiry)
    assert (inquiry.status, inquiry.answer_text) == ("assigned", None)
    assert {a.status for a in d.rows(Assignment)} == {"open"}
    assert [o for o in d.rows(Outbox) if o.author == "human"] == []
    d.worker.run_once()
    assert len(graph.calls) == sent
    # the same text as a draft is refused as it is written, before anyone approves it
    drafted = runner.invoke(args=["inquiries", "draft", inquiry.code, "--by", "soxd.officer",
                                  "--text", "Hồ sơ đầy đủ rồi, đm hỏi mãi"])
    assert drafted.exit_code == 1 and "Nội dung bị chặn" in drafted.output
    from store import Draft

    assert d.rows(Draft) == []
    ok = runner.invoke(args=["inquiries", "answer", inquiry.code, "--by", "soxd.officer",
                             "--text", "Hồ sơ gồm đơn đề nghị và bản vẽ thiết kế.",
                             "--approved-by", "giamdoc@soxd.quangninh.example"])
    assert ok.exit_code == 0, ok.output


def test_a_bot_reply_with_prohibited_content_is_kept_but_never_sent(site, graph, clock, caplog):
    from bot import context, runtime
    from cases import Address, Reply

    d = site()
    d.post(with_text(load_fixture("text_message.json"), "Xin chào ad ạ"))  # Messenger's window is open
    before = len(graph.calls)
    with d.app.app_context():
        cases = runtime.casework(context.settings(), context.db(), clock)
        with context.db().session() as s:
            cases.reply(s, None, "test:blocked", Reply("Chào bạn, vay tiền nhanh không thế chấp, giải ngân trong "
                                                       "ngày, lãi suất 0%"),
                        address=Address("messenger", FIXTURE_PAGE, {"id": SENDER}))
            cases.reply(s, None, "test:fine", Reply("Xin chào"), address=Address("messenger", FIXTURE_PAGE,
                                                                                  {"id": SENDER}))
    _, blocked, fine = d.rows(Outbox)
    assert (blocked.status, fine.status) == ("blocked", "pending")
    assert blocked.last_error.startswith("Nội dung bị chặn: quảng cáo rác, lừa đảo")
    assert any("not sent" in r.getMessage() for r in caplog.records)
    d.worker.run_once()
    assert [c.text for c in graph.calls[before:]] == ["Xin chào"]
    assert d.rows(Outbox)[1].status == "blocked"


# ---- the sandbox's Graph API stand-in accepts the hide call ----------------------------------------
def test_the_sandbox_stand_in_hides_a_comment(site, clock):
    from werkzeug.serving import make_server

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    d = site({"graph_api_url": f"{base}/sandbox/graph", "SANDBOX": True})
    server = make_server("127.0.0.1", port, d.app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        d.post(comment("Thằng chó nào trực page này vậy, hỏi mãi không trả lời"))
    finally:
        server.shutdown()
    [row] = d.rows(Outbox)
    assert (row.kind, row.status) == ("hide_comment", "sent")
    [call] = d.rows(SandboxGraphCall)
    assert (call.path, call.recipient_id, call.body) == (f"/sandbox/graph/v21.0/{COMMENT_ID}", COMMENT_ID,
                                                         {"is_hidden": True})
    refused = d.client.post(f"/sandbox/graph/v21.0/{COMMENT_ID}", json={"is_hidden": "yes"},
                            headers={"Authorization": "Bearer token-ddci"})
    assert refused.status_code == 400
    assert d.client.post(f"/sandbox/graph/v21.0/{COMMENT_ID}", json={"is_hidden": True}).status_code == 400
