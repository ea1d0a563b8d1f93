"""The Messenger channel on real captured payloads: each fixture's outcome, then the
conversation, comments, handover and the messaging-window policy.

Classification is made deterministic where the point is not the classifier: the threshold
is set to 0.9999, so every text is "unsure" and goes to the standing office's triage queue.
"""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.channels.messenger import policy
from store import Conversation, InboxEvent, Inquiry, InquiryMessage, Notification, Outbox, PagePost
from tests.conftest import load_fixture, signed_post, with_text

PAGES = {  # every numeric page id in the fixtures, configured as a page of ours
    "371024009436368": "BXT", "206070979425408": "BXT", "625987814267888": "BXT", "1234567890": "BXT",
    "707356222221168": "BXT", "404217156637689": "SO_XD", "1234567890321": "BXT", "701111199441168": "BXT",
    "1744550565845823": "BXT", "100473908465587": "BXT", "1895382890692545": "SO_XD",
    "189538289069256": "SO_TC", "12345654332": "BXT",
}


def pages_config(**per_page):
    return [{"id": pid, "name": f"Trang {pid}", "unit": unit, "access_token_env": f"TOKEN_{pid}",
             **per_page.get(pid, {})} for pid, unit in PAGES.items()]


@pytest.fixture
def channel(make_app, trained_model, clock, monkeypatch):
    """App + worker with every fixture page configured; returns a small driver."""
    from bot import context, runtime

    for pid in PAGES:
        monkeypatch.setenv(f"TOKEN_{pid}", f"token-{pid}")

    class Driver:
        def __init__(self, **config):
            config.setdefault("nlu__threshold", 0.9999)
            self.app = make_app(pages=pages_config(**config.pop("page_options", {})), **config)
            self.client = self.app.test_client()
            with self.app.app_context():
                self.worker = runtime.worker(context.settings(), context.db(), clock)

        def post(self, body):
            response = signed_post(self.client, body)
            assert response.status_code == 200, response.get_json()
            self.worker.run_once()
            return response.get_json()

        def rows(self, model):
            with self.app.app_context(), context.db().session() as s:
                return s.execute(select(model).order_by(*model.__table__.primary_key.columns)).scalars().all()

        def outcomes(self):
            return [(e.kind, e.status, e.outcome) for e in self.rows(InboxEvent)]

    return Driver


# fixture -> (kind, status, what the outcome says, inquiries created, replies to whom)
FIXTURES = {
    "text_message.json": ("text", "done", "inquiry QN-2026-", 1, ["8130382090340794"]),  # one message: the ack asks for contacts
    "text_message_with_nlp.json": ("text", "done", "inquiry QN-2026-", 1, ["24266381753005180"]),  # one message: the ack asks for contacts
    "quick_reply.json": ("quick_reply", "done", "inquiry QN-2026-", 1, ["USER_ID"]),  # one message: the ack asks for contacts
    "postback_get_started.json": ("postback", "done", "menu: get_started", 0, ["5678"]),
    "postback_get_started_with_referral.json": ("postback", "done", "menu: __GET_STARTED__", 0, ["1476077422222289"]),
    "image_attachment.json": ("attachment", "done", "(attachment, needs review)", 1, ["5678"]),
    "location_attachment.json": ("attachment", "done", "(attachment, needs review)", 1, ["5678"]),
    "video_attachment.json": ("attachment", "done", "(attachment, needs review)", 1, ["1423587017700273"]),
    "sticker.json": ("attachment", "ignored", "sticker: recorded, not an inquiry", 0, []),
    "message_echo.json": ("echo", "ignored", "no open inquiry", 0, []),
    "message_delivery.json": ("delivery", "ignored", "delivery: recorded", 0, []),
    "message_read.json": ("read", "ignored", "read: recorded", 0, []),
    "message_reaction.json": ("reaction", "ignored", "reaction: recorded, not an inquiry", 0, []),
    # an edit of a message we never received is read as that message: a new inquiry
    "message_edit.json": ("message_edit", "done", "inquiry QN-2026-", 1, ["8130382090340794"]),  # one message: the ack asks for contacts
    "referral.json": ("referral", "ignored", "referral: recorded, not an inquiry", 0, []),
    "optin.json": ("optin", "ignored", "optin: recorded, not an inquiry", 0, []),
    "standby.json": ("standby_postback", "ignored", "standby: another app owns the thread", 0, []),
    "pass_thread_control.json": ("pass_thread_control", "parked", "page fakeId is not configured", 0, []),
    "feed_post_add.json": ("feed_status_add", "done", "page post counted in 2026-W48", 0, []),
    "feed_comment_add.json": ("feed_comment_add", "done", "from comment", 1, []),
    "feed_comment_add_photo_post.json": ("feed_comment_add", "done", "from comment", 1, []),
    "feed_comment_edited.json": ("feed_comment_edited", "ignored", "without an inquiry", 0, []),
    "feed_comment_hide.json": ("feed_comment_hide", "ignored", "without an inquiry", 0, []),
    "feed_status_edited.json": ("feed_status_edited", "ignored", "recorded, no action", 0, []),
    "feed_post_remove.json": ("feed_post_remove", "ignored", "did not count", 0, []),
    "feed_reaction.json": ("feed_reaction_add", "ignored", "recorded, no action", 0, []),
    "dashboard_test_messages.json": ("change_messages", "parked", "page 0 is not configured", 0, []),
}


def test_every_fixture_has_an_outcome_case():
    from tests.conftest import FIXTURES as DIR

    assert set(FIXTURES) | {"batched_multiple_entries.json"} == {p.name for p in DIR.glob("*.json")}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_outcome(channel, graph, name):
    kind, status, detail, inquiries, recipients = FIXTURES[name]
    d = channel()
    d.post(load_fixture(name))
    [(got_kind, got_status, got_detail)] = d.outcomes()
    assert (got_kind, got_status) == (kind, status) and detail in got_detail
    assert len(d.rows(Inquiry)) == inquiries
    assert [(c.body.get("recipient") or {}).get("id") for c in graph.calls if c.path.endswith("/me/messages")
            and "id" in (c.body.get("recipient") or {})] == recipients


def test_batched_entries_make_one_inquiry_per_page(channel, graph):
    d = channel()
    d.post(load_fixture("batched_multiple_entries.json"))
    assert sorted((i.page_id, i.text) for i in d.rows(Inquiry)) == [
        ("1895382890692545", "test 1"), ("189538289069256", "test 2")]
    # each page's own token is used for its own replies
    tokens = {c.token for c in graph.calls}
    assert tokens == {"token-1895382890692545", "token-189538289069256"}


def test_get_started_welcome_has_the_three_quick_replies(channel, graph):
    channel().post(load_fixture("postback_get_started.json"))
    [welcome] = graph.calls
    assert welcome.text.startswith("Chào mừng Quý doanh nghiệp")
    assert [q["title"] for q in welcome.body["message"]["quick_replies"]] == [
        "Gửi phản ánh, kiến nghị", "Tra cứu phản ánh", "Hướng dẫn"]


def test_attachments_are_kept_as_links(channel):
    d = channel()
    d.post(load_fixture("location_attachment.json"))
    [inquiry] = d.rows(Inquiry)
    assert inquiry.needs_review and inquiry.status == "triage"
    assert inquiry.attachments == [{"type": "location", "url": "https://www.google.com/maps?q=1.2,-1.3", "title": None}]


def test_attachment_joins_the_open_inquiry(channel, graph):
    d = channel()
    text = with_text(load_fixture("video_attachment.json"), "x")
    text["entry"][0]["messaging"][0]["message"] = {"mid": "m_question", "text": "Cho hỏi về giấy phép xây dựng"}
    d.post(text)
    d.post(load_fixture("video_attachment.json"))
    [inquiry] = d.rows(Inquiry)
    assert inquiry.attachments == [{"type": "video", "url": "https://example.com/bot/videos/video.mp4", "title": None}]
    assert "Đã nhận tệp đính kèm cho phản ánh" in graph.calls[-1].text


def test_echo_of_our_own_app_is_ignored(channel):
    d = channel(app={"facebook_app_id": "205552219930699"})
    d.post(load_fixture("message_echo.json"))
    assert d.outcomes() == [("echo", "ignored", "echo of our own message")]


def test_a_person_answering_from_the_page_inbox_answers_the_open_inquiry(channel, clock):
    d = channel(app={"facebook_app_id": "999"})
    question = load_fixture("video_attachment.json")  # sender 1423587017700273 on page 404217156637689
    question["entry"][0]["messaging"][0]["message"] = {"mid": "m_q", "text": "Cho hỏi thủ tục xin giấy phép xây dựng"}
    d.post(question)
    clock.advance(hours=2)
    d.post(load_fixture("message_echo.json"))  # the page's reply, sent by another app (Page Inbox)
    [inquiry] = d.rows(Inquiry)
    assert (inquiry.status, inquiry.answered_by) == ("answered", "page inbox")
    assert inquiry.answer_text.startswith("我與父親不相見已兩年餘")
    assert {a.status for a in inquiry_assignments(d, inquiry)} == {"answered"}
    assert [(m.direction, m.source) for m in d.rows(InquiryMessage)] == [("in", "messenger"), ("out", "page_inbox")]


@pytest.mark.parametrize("by", ["mid", "text", "small_talk"])
def test_without_an_app_id_our_own_echo_does_not_answer_the_inquiry(channel, clock, graph, by):
    """Without FB_APP_ID (config.yml ships none) the echo of the bot's own acknowledgement was
    taken for a person answering from the page inbox: the inquiry was marked answered the
    moment it was acknowledged (an operator's review). Our echoes are found in the outbox,
    by the Send API's message id or, if the echo comes before that id is written, by text."""
    d = channel()
    question = load_fixture("video_attachment.json")  # sender 1423587017700273 on page 404217156637689
    question["entry"][0]["messaging"][0]["message"] = {"mid": "m_q", "text": "Cho hỏi thủ tục xin giấy phép xây dựng"}
    d.post(question)
    if by == "small_talk":  # a reply about no inquiry (thanks): found among the page's recent messages
        thanks = copy.deepcopy(question)
        thanks["entry"][0]["messaging"][0]["message"] = {"mid": "m_thanks", "text": "Cảm ơn ad nhiều ạ"}
        clock.advance(hours=2)  # past the follow-up time: thanks are small talk, not an addition
        thanks["entry"][0]["messaging"][0]["timestamp"] = int(clock.now.timestamp() * 1000)
        d.post(thanks)
    ack = [row for row in d.rows(Outbox) if row.status == "sent"][-1]
    assert (ack.inquiry_id is None) == (by == "small_talk")
    echo = copy.deepcopy(load_fixture("message_echo.json"))
    message = echo["entry"][0]["messaging"][0]["message"]
    message.pop("app_id")  # whatever app: the deployment does not know its own id
    if by in ("mid", "small_talk"):
        message["mid"], message["text"] = ack.provider_message_id, "(any text)"
    else:
        message["mid"], message["text"] = "m.echo-before-the-id", ack.message["text"]
    echo["entry"][0]["messaging"][0]["timestamp"] = int(clock.now.timestamp() * 1000)
    assert ack.provider_message_id
    d.post(echo)
    [inquiry] = d.rows(Inquiry)
    assert inquiry.status != "answered" and inquiry.answered_at is None
    assert d.outcomes()[-1] == ("echo", "ignored", "echo of our own message (matched in the outbox)")
    clock.advance(hours=2)  # a person of the page then answers from the page inbox: that one counts
    d.post(load_fixture("message_echo.json"))
    [inquiry] = d.rows(Inquiry)
    assert (inquiry.status, inquiry.answered_by) == ("answered", "page inbox")


def inquiry_assignments(d, inquiry):
    from store import Assignment

    return [a for a in d.rows(Assignment) if a.inquiry_id == inquiry.id]


def test_handover_holds_bot_messages_until_control_comes_back(channel, graph):
    d = channel(app={"facebook_app_id": "555"})
    page, user = "1234567890", "5678"
    handover = copy.deepcopy(load_fixture("pass_thread_control.json"))
    event = handover["entry"][0]["messaging"][0]
    handover["entry"][0]["id"] = event["recipient"]["id"] = page
    event["sender"]["id"] = user
    d.post(handover)  # the page inbox (app 1234567890) takes the thread
    d.post(load_fixture("postback_get_started.json"))  # user 5678 taps Get Started meanwhile
    assert [o.status for o in d.rows(Outbox)] == ["held"] and graph.calls == []
    back = copy.deepcopy(handover)
    back["entry"][0]["messaging"][0]["pass_thread_control"]["new_owner_app_id"] = "555"
    back["entry"][0]["messaging"][0]["timestamp"] += 1
    d.post(back)
    [conv] = d.rows(Conversation)
    assert conv.thread_owner_app_id is None
    again = copy.deepcopy(load_fixture("postback_get_started.json"))
    again["entry"][0]["messaging"][0]["timestamp"] += 5
    d.post(again)
    assert len(graph.calls) == 1


def test_delivery_and_read_watermarks_are_recorded(channel):
    d = channel()
    d.post(load_fixture("message_delivery.json"))
    d.post(load_fixture("message_read.json"))
    [conv] = d.rows(Conversation)
    delivery = load_fixture("message_delivery.json")["entry"][0]["messaging"][0]["delivery"]["watermark"]
    read = load_fixture("message_read.json")["entry"][0]["messaging"][0]["read"]["watermark"]
    assert conv.delivered_watermark == datetime.fromtimestamp(delivery / 1000, tz=timezone.utc)
    assert conv.read_watermark == datetime.fromtimestamp(read / 1000, tz=timezone.utc)


# ---- comments and posts ----------------------------------------------------------------------
def test_comment_becomes_an_inquiry_with_private_and_public_replies(channel, graph):
    d = channel()
    d.post(load_fixture("feed_comment_add.json"))
    [inquiry] = d.rows(Inquiry)
    assert (inquiry.channel, inquiry.post_id, inquiry.comment_id, inquiry.sender_id) == (
        "comment", "100473908465587_150691160110528", "150691160110528_150691260110518", "3844961895548656")
    private, public = graph.calls
    assert private.path == "/v21.0/me/messages"
    assert private.body["recipient"] == {"comment_id": "150691160110528_150691260110518"}
    assert inquiry.code in private.text
    assert public.path == "/v21.0/150691160110528_150691260110518/comments"
    assert inquiry.code in public.body["message"]


def test_the_units_notice_says_where_to_answer_the_business(channel):
    """Every notice links to the inquiry's page in the console (where the answer is drafted and
    approved), with no credential in the link; a comment also links to itself on Facebook."""
    d = channel(nlu__threshold=0.0)
    d.post(load_fixture("feed_comment_add.json"))
    d.post(with_text(load_fixture("text_message.json"), "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng", mid="m1"))
    inquiries = d.rows(Inquiry)
    by_channel = {i.channel: [n for n in d.rows(Notification) if n.inquiry_id == i.id] for i in inquiries}
    assert set(by_channel) == {"comment", "messenger"} and all(by_channel.values())
    codes = {i.channel: i.code for i in inquiries}
    for kind, notices in by_channel.items():
        link = f"http://127.0.0.1:5000/inquiries/{codes[kind]}"
        for notice in notices:
            assert f"trong trang quản lý (được phê duyệt trước khi gửi): {link}\n" in notice.body_text \
                or f"trong trang quản lý: {link}\n" in notice.body_text
            if notice.body_html is not None:
                assert f'<a href="{link}"' in notice.body_html
            assert "Meta Business Suite" not in notice.body_text
            if notice.kind == "triage":  # the standing office assigns it
                assert "Việc cần làm: giao phản ánh cho đơn vị có thẩm quyền" in notice.body_text
            else:
                assert "Cách trả lời: soạn trả lời trong trang quản lý" in notice.body_text
    for notice in by_channel["comment"]:  # the comment is linked to read it where it was written
        assert "https://www.facebook.com/150691160110528_150691260110518" in notice.body_text
        assert '<a href="https://www.facebook.com/150691160110528_150691260110518"' in notice.body_html
    links = {line for n in d.rows(Notification) for line in n.body_text.split() if "/inquiries/" in line}
    assert links == {f"http://127.0.0.1:5000/inquiries/{code}" for code in codes.values()}  # nothing else in them


def test_comment_redelivered_or_twice_makes_one_inquiry(channel, graph):
    d = channel()
    body = load_fixture("feed_comment_add.json")
    d.post(body)
    again = copy.deepcopy(body)
    again["entry"][0]["changes"][0]["value"]["created_time"] += 1  # same comment id, another delivery
    d.post(again)
    assert len(d.rows(Inquiry)) == 1 and len(graph.calls) == 2


def test_comment_edit_hide_and_the_pages_answer(channel):
    d = channel(conversation={"public_comment_reply": False})
    add = load_fixture("feed_comment_add.json")
    d.post(add)
    value = add["entry"][0]["changes"][0]["value"]
    edit = copy.deepcopy(add)
    edit["entry"][0]["changes"][0]["value"].update(verb="edited", message="Cho hỏi thủ tục cấp GPXD nhà xưởng")
    d.post(edit)
    assert d.rows(Inquiry)[0].text == "Cho hỏi thủ tục cấp GPXD nhà xưởng"
    answer = copy.deepcopy(add)
    answer["entry"][0]["changes"][0]["value"].update(
        {"from": {"id": "100473908465587", "name": "DDCI"}, "comment_id": "150691160110528_999",
         "parent_id": value["comment_id"], "message": "Sở Xây dựng đã trả lời qua tin nhắn."})
    d.post(answer)
    [inquiry] = d.rows(Inquiry)
    assert (inquiry.status, inquiry.answered_by) == ("answered", "page comment")
    hide = copy.deepcopy(add)
    hide["entry"][0]["changes"][0]["value"].update(verb="hide")
    d.post(hide)
    assert d.rows(Inquiry)[0].removed_at is not None


def test_page_posts_are_counted_per_week_once(channel):
    d = channel()
    post = load_fixture("feed_post_add.json")
    d.post(post)
    d.post(post)  # redelivered
    other = copy.deepcopy(post)
    other["entry"][0]["changes"][0]["value"].update(post_id="100473908465587_2", created_time=1603845999)
    d.post(other)
    visitor = copy.deepcopy(post)
    visitor["entry"][0]["changes"][0]["value"].update(post_id="100473908465587_3", created_time=1603846000,
                                                       **{"from": {"id": "42", "name": "Visitor"}})
    d.post(visitor)
    assert [(p.page_id, p.iso_week) for p in d.rows(PagePost)] == [("100473908465587", "2026-W48")] * 2


# ---- the conversation --------------------------------------------------------------------------
SENDER, PAGE = "8130382090340794", "371024009436368"


def say(d, text, mid, clock=None):
    d.post(with_text(load_fixture("text_message.json"), text, mid=mid))


def test_follow_up_joins_the_thread_and_later_messages_open_a_new_inquiry(channel, clock, graph):
    """A short addition joins whatever the classifier makes of it (bot/conversation/followup.py);
    a new matter within the window is asked about (tests/test_followup.py)."""
    d = channel(nlu__threshold=0.0)
    say(d, "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả", "m1")
    clock.advance(minutes=10)
    say(d, "diện tích khoảng 2000 m2", "m2")
    assert len(d.rows(Inquiry)) == 1
    assert "Đã bổ sung nội dung này vào phản ánh" in graph.calls[-1].text
    assert [m.text for m in d.rows(InquiryMessage)][-1] == "diện tích khoảng 2000 m2"
    clock.advance(hours=2)
    say(d, "Cho em hỏi thêm thủ tục hoàn thuế giá trị gia tăng cho công ty", "m3")
    assert len(d.rows(Inquiry)) == 2


def test_contact_is_asked_once_and_noted(channel, clock, graph):
    d = channel(nlu__threshold=0.0)
    say(d, "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả", "m1")
    assert "số điện thoại hoặc email" in graph.calls[-1].text
    clock.advance(minutes=1)
    say(d, "sđt của em là 0912 345 678 ạ", "m2")
    assert graph.calls[-1].text.startswith("Cảm ơn Quý doanh nghiệp, chúng tôi đã ghi nhận")
    [conv] = d.rows(Conversation)
    assert conv.phone == "0912345678"
    clock.advance(hours=3)
    say(d, "Cho em hỏi thủ tục hoàn thuế giá trị gia tăng cho công ty xuất khẩu", "m3")
    assert not any("số điện thoại hoặc email" in c.text for c in graph.calls[-2:])
    assert len(d.rows(Inquiry)) == 2


def test_status_lookup_by_code_and_my_inquiries(channel, clock, graph):
    d = channel(nlu__threshold=0.0)
    say(d, "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả", "m1")
    code = d.rows(Inquiry)[0].code
    clock.advance(hours=1)
    quick = copy.deepcopy(load_fixture("text_message.json"))
    quick["entry"][0]["messaging"][0]["message"] = {"mid": "m2", "text": "Tra cứu phản ánh",
                                                   "quick_reply": {"payload": "MENU_STATUS"}}
    d.post(quick)
    assert graph.calls[-1].text.startswith(f"{code}: đang xử lý, Sở Xây dựng, hạn 17:00 thứ Tư, ngày 02/12/2026")
    say(d, f"cho em tra cứu phản ánh mã {code} đến đâu rồi ạ", "m3")
    assert code in graph.calls[-1].text


# ---- the messaging-window policy ----------------------------------------------------------------
NOW = datetime(2026, 11, 27, 3, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("age, author, permitted, expected", [
    (timedelta(hours=1), "bot", False, ("RESPONSE", None)),
    (timedelta(hours=24), "bot", True, ("RESPONSE", None)),
    (timedelta(hours=25), "bot", True, None),
    (timedelta(hours=25), "human", True, ("MESSAGE_TAG", "HUMAN_AGENT")),
    (timedelta(days=7), "human", True, ("MESSAGE_TAG", "HUMAN_AGENT")),
    (timedelta(days=7, seconds=1), "human", True, None),
    (timedelta(hours=25), "human", False, None),
    (None, "bot", False, None),
])
def test_messaging_window(age, author, permitted, expected):
    d = policy.decide(now=NOW, last_user_message_at=NOW - age if age else None, author=author,
                      human_agent_page=permitted)
    assert ((d.messaging_type, d.tag) if d.allowed else None) == expected
    assert d.reason


@pytest.mark.parametrize("days_later, permitted, expected", [
    (0, False, ("sent", "RESPONSE", None)),
    (3, True, ("sent", "MESSAGE_TAG", "HUMAN_AGENT")),
    (3, False, ("undeliverable", None, None)),
    (8, True, ("undeliverable", None, None)),
])
def test_officers_answer_respects_the_window(channel, clock, graph, smtp, days_later, permitted, expected):
    d = channel(nlu__threshold=0.0, conversation={"ask_contact": False},
                page_options={PAGE: {"human_agent": permitted}})
    say(d, "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả", "m1")
    code = d.rows(Inquiry)[0].code
    clock.advance(days=days_later, minutes=30)
    result = d.app.test_cli_runner().invoke(args=["inquiries", "answer", code, "--by", "soxd.officer",
                                                  "--text", "Hồ sơ gồm: đơn đề nghị, bản vẽ thiết kế.",
                                                  "--approved-by", "giamdoc@soxd.quangninh.example"])
    assert result.exit_code == 0, result.output
    d.worker.run_once()
    answer = [o for o in d.rows(Outbox) if o.author == "human"][0]
    assert (answer.status, answer.messaging_type if answer.status == "sent" else None, answer.tag) == expected
    if expected[0] == "sent":
        assert graph.calls[-1].body.get("tag") == expected[2]
        assert "Hồ sơ gồm" in graph.calls[-1].text
    else:
        notice = [n for n in d.rows(Notification) if n.kind == "undeliverable"]
        assert notice and "liên hệ trực tiếp" in notice[0].body_text


def test_messenger_setup_sets_profile_on_every_page(channel, graph):
    d = channel()
    result = d.app.test_cli_runner().invoke(args=["messenger", "setup"])
    assert result.exit_code == 0, result.output
    profiles = [c for c in graph.calls if c.path == "/v21.0/me/messenger_profile"]
    assert len(profiles) == len(PAGES)
    body = profiles[0].body
    assert body["get_started"] == {"payload": "GET_STARTED"}
    assert [a["title"] for a in body["persistent_menu"][0]["call_to_actions"]] == [
        "Gửi phản ánh, kiến nghị", "Tra cứu phản ánh", "Hướng dẫn"]
    graph.fail_next(1, status=400, error={"message": "Invalid OAuth access token.", "code": 190})
    failed = d.app.test_cli_runner().invoke(args=["messenger", "setup", "--page", "1234567890"])
    assert failed.exit_code == 1 and "failed" in failed.output


# ---- shapes the fuzzer found (tests/test_fuzz.py): no crash, no inquiry from nothing ----------
def _message_body(message: dict) -> dict:
    body = load_fixture("image_attachment.json")  # sender 5678 on page 1234567890
    body["entry"][0]["messaging"][0]["message"] = {"mid": "m_shape", **message}
    return body


@pytest.mark.parametrize("text", ["👍", "😀😀", "🇻🇳", "\u200b", "\ufeff", "\x00", "\x07 \u200e"],
                         ids=["thumbs-up", "emoji", "flag", "zero-width-space", "bom", "nul", "controls"])
def test_a_text_without_words_is_no_inquiry_and_needs_no_answer(channel, graph, text):
    """Nothing is left for the classifier after normalisation (it used to crash the Rasa
    pipeline, and the event ended "failed"): a message without text, like a sticker."""
    d = channel()
    d.post(_message_body({"text": text}))
    assert d.outcomes() == [("text", "ignored", "text without words: recorded, not an inquiry")]
    assert d.rows(Inquiry) == [] and graph.calls == []
    [conv] = d.rows(Conversation)
    assert conv.last_user_message_at is not None  # the business wrote: the 24-hour window is open


def test_a_photo_captioned_with_an_emoji_is_an_attachment(channel, graph):
    d = channel()
    d.post(_message_body({"text": "👍", "attachments": [{"type": "image", "payload": {"url": "https://x.example/a.jpg"}}]}))
    [inquiry] = d.rows(Inquiry)
    assert (inquiry.text, inquiry.needs_review, inquiry.status) == ("(tệp đính kèm)", True, "triage")
    assert inquiry.attachments == [{"type": "image", "url": "https://x.example/a.jpg", "title": None}]
    assert d.outcomes()[0][2].endswith("(attachment, needs review)")


def test_an_emoji_with_a_sticker_is_a_like(channel, graph):
    d = channel()
    d.post(_message_body({"text": "👍", "sticker_id": 369239263222822}))
    assert d.outcomes() == [("text", "ignored", "sticker: recorded, not an inquiry")]
    assert d.rows(Inquiry) == [] and graph.calls == []


def test_a_comment_without_words_is_no_inquiry(channel, graph):
    d = channel()
    body = load_fixture("feed_comment_add.json")
    body["entry"][0]["changes"][0]["value"]["message"] = "👍\u200b"
    d.post(body)
    assert d.outcomes() == [("feed_comment_add", "ignored", "comment without words")]
    assert d.rows(Inquiry) == [] and graph.calls == []


def test_the_classifiers_answer_a_text_without_words_without_asking_rasa():
    from pathlib import Path

    from nlu.classifier import RasaClassifier, RemoteRasaClassifier

    class Refuses:
        def __getattr__(self, name):
            raise AssertionError(f"Rasa was asked ({name})")

    local = RasaClassifier(Path("/nonexistent"), threshold=0.5)
    local._agent, local._version = Refuses(), "v1"
    remote = RemoteRasaClassifier("http://127.0.0.1:9", threshold=0.5)
    remote._http = Refuses()
    for classifier in (local, remote):
        for text in ("👍", "\u200b\ufeff", "\x00", "  "):
            result = classifier.classify(text)
            assert (result.text, result.intent, result.confidence, result.needs_review, result.normalized) == (
                text, None, 0.0, True, "")


@pytest.mark.parametrize("attachments", [5, True, 1.5, "https://x.example/a.jpg", {"payload": {"url": "https://x"}}],
                         ids=["int", "bool", "float", "string", "object"])
def test_attachments_that_are_not_a_list_are_no_attachments(channel, graph, attachments):
    """They used to raise TypeError in attachment_links (event "failed")."""
    d = channel()
    d.post(_message_body({"attachments": attachments}))
    assert d.outcomes() == [("attachment", "ignored", "attachment without content or sender")]
    assert d.rows(Inquiry) == [] and graph.calls == []


@pytest.mark.parametrize("attachment", [
    {}, {"type": "image"}, {"type": "image", "payload": {}}, {"type": "file", "payload": {"url": ""}},
    {"type": "file", "payload": {"url": " \n"}}, {"type": "file", "payload": {"url": 5}},
    {"type": "location", "payload": {"coordinates": {"lat": True, "long": 1.0}}},
    {"type": "location", "payload": {"coordinates": {"lat": "21.0", "long": "107.1"}}},
    {"type": "location", "payload": {"coordinates": {"lat": float("nan"), "long": 1.0}}},
], ids=["empty", "type-only", "empty-payload", "blank-url", "space-url", "number-url", "bool-lat", "string-lat",
        "nan-lat"])
def test_an_attachment_with_nothing_to_open_is_nothing(channel, graph, attachment):
    """It used to open an inquiry "(tệp đính kèm)" for the standing office to review: from nothing."""
    d = channel()
    d.post(_message_body({"attachments": [attachment]}))
    assert d.outcomes() == [("attachment", "ignored", "attachment without content or sender")]
    assert d.rows(Inquiry) == [] and graph.calls == []


def test_only_attachments_with_something_to_open_are_kept(channel):
    d = channel()
    d.post(_message_body({"attachments": [
        5, "x", None, {}, {"type": "image", "payload": {"url": ""}},
        {"type": "image", "payload": {"url": "https://x.example/a.jpg"}, "title": "a"},
        {"type": "location", "payload": {"coordinates": {"lat": 21, "long": 107.1}}},
    ]}))
    [inquiry] = d.rows(Inquiry)
    assert inquiry.attachments == [
        {"type": "image", "url": "https://x.example/a.jpg", "title": "a"},
        {"type": "location", "url": "https://www.google.com/maps?q=21,107.1", "title": None}]


def test_nul_characters_are_dropped_from_what_is_stored(channel, graph):
    """PostgreSQL text refuses NUL (the inquiry's INSERT failed, the event ended "failed");
    SQLite keeps the same text as PostgreSQL."""
    d = channel()
    question = "Cho em hỏi\x00 thủ tục cấp giấy phép xây dựng\x00"
    d.post(with_text(load_fixture("text_message.json"), question))
    [inquiry] = d.rows(Inquiry)
    assert inquiry.text == "Cho em hỏi thủ tục cấp giấy phép xây dựng"
    assert [m.text for m in d.rows(InquiryMessage)] == [inquiry.text]
    assert all("\x00" not in n.body_text for n in d.rows(Notification))
    assert d.rows(InboxEvent)[0].payload["event"]["message"]["text"] == question  # the raw event, exactly


# ---- contact details: a bounded, linear search --------------------------------------------------
def test_contacts_are_found_in_the_first_or_the_last_max_scan_chars_only():
    from bot.conversation.contacts import MAX_SCAN_CHARS, contacts_in
    from nlu.classifier import MAX_CLASSIFY_CHARS

    assert MAX_SCAN_CHARS == MAX_CLASSIFY_CHARS
    filler = "x " * MAX_SCAN_CHARS
    before = "lh a.b@congty.vn 0912 345 678 " + filler
    assert contacts_in(before) == ("0912345678", "a.b@congty.vn")
    assert contacts_in("sđt +84 912 345 678 ạ") == ("+84912345678", None)  # a space after +84 (a review)
    for written in ("0912-555-777", "(+84) 912 555 777", "+84-912-555-777", "+84 (0) 912 555 777"):  # a walkthrough
        assert contacts_in(f"Phone {written}")[0] in ("0912555777", "+84912555777"), written
    assert contacts_in("Quảng Ninh: 0203 3835 123")[0] == "02033835123"  # a landline, 11 digits
    for not_a_phone in ("MST 0100109106-001", "ngày 01-01-2026 10:00",  # no number starts 01 today
                        # dates and document numbers start with two digits and a separator (a review)
                        "em nộp hồ sơ lúc 05-03-2026 14:30", "HĐ 09-2026-0015", "ngày 05.03.2026 14:30"):
        assert contacts_in(not_a_phone) == (None, None), not_a_phone
    assert contacts_in("+840912345678")[0] == "+84912345678"  # caught before the forms above were added
    end = MAX_SCAN_CHARS - len("a.b@congty.vn")
    assert contacts_in("y" * (end - 1) + " a.b@congty.vn")[1] == "a.b@congty.vn"  # ends at the bound
    middle = "y" * end + " a.b@congty.vn 0912 345 678 " + "z " * MAX_SCAN_CHARS
    assert contacts_in(middle) == (None, None)  # past the first bound and before the last one
    # a long letter that signs off with them (a walkthrough: 5,558 characters, "SĐT 0204 3812 345.")
    assert contacts_in(filler + " Trân trọng, SĐT 0204 3812 345. Email a.b@congty.vn") == ("02043812345", "a.b@congty.vn")
    assert contacts_in("lh 0912 345 678 " + filler + " a.b@congty.vn") == ("0912345678", "a.b@congty.vn")


@pytest.mark.parametrize("text", [
    "a" * 65536, "a." * 32768, "a@" * 32768, "a@b" + ".c" * 32767, ("x" * 60 + "@") * 1000, "@" * 65536,
], ids=["run", "dots", "ats", "domain-run", "many-at", "only-at"])
def test_contact_search_on_64_kb_of_adversarial_text_finds_nothing_odd(text):
    """Not timed (bench/ measures speed): the search returns, only over the bounded prefix, and
    the e-mail pattern itself needs an "@" between bounded runs (it was quadratic: 7.8 s)."""
    from bot.conversation.contacts import EMAIL, MAX_SCAN_CHARS, contacts_in

    phone, email = contacts_in(text)
    assert phone is None
    assert email is None or (email in text[:MAX_SCAN_CHARS] and len(email.split("@")[0]) <= 64)
    assert EMAIL.search("x" * 65 + "@congty.vn") is None  # a local part longer than RFC 5321 allows
    assert EMAIL.search("lh: " + "x" * 64 + "@congty.vn").group(0) == "x" * 64 + "@congty.vn"
    assert EMAIL.search("email:ab@cty.com.vn.").group(0) == "ab@cty.com.vn"


def test_a_units_page_speaks_in_its_own_name(channel, graph):
    """A walkthrough found Sở Xây dựng's page welcoming businesses "đến với DDCI Quảng Ninh".
    A unit's page now greets, welcomes and answers small talk in its own name (in English in
    its English name, or as the DDCI programme when it has none); the standing office's pages
    speak as the programme."""
    unit_page, office_page = "404217156637689", "1234567890"
    d = channel(page_options={unit_page: {"name": "Sở Xây dựng Quảng Ninh",
                                          "name_en": "Quang Ninh Department of Construction"}})
    result = d.app.test_cli_runner().invoke(args=["messenger", "setup"])
    assert result.exit_code == 0, result.output
    by_page = {c.token.removeprefix("token-"): c.body["greeting"]
               for c in graph.calls if c.path == "/v21.0/me/messenger_profile"}
    assert [g["text"].split(" tiếp nhận")[0] for g in by_page[unit_page] if g["locale"] == "default"] == [
        "Sở Xây dựng Quảng Ninh"]
    assert [g["text"] for g in by_page[unit_page] if g["locale"] == "en_US"][0].startswith(
        "The Quang Ninh Department of Construction takes")
    assert [g["text"] for g in by_page[office_page] if g["locale"] == "default"][0].startswith("DDCI Quảng Ninh")

    def tap_get_started(page, psid):
        body = copy.deepcopy(load_fixture("postback_get_started.json"))
        body["entry"][0]["id"] = page
        event = body["entry"][0]["messaging"][0]
        event["recipient"]["id"], event["sender"]["id"] = page, psid
        d.post(body)
        return graph.messages_to(psid)[-1].text

    assert tap_get_started(unit_page, "77001").startswith("Chào mừng Quý doanh nghiệp đến với Sở Xây dựng Quảng Ninh!")
    assert tap_get_started(office_page, "77002").startswith("Chào mừng Quý doanh nghiệp đến với DDCI Quảng Ninh!")


@pytest.mark.parametrize("name_vi, name_en", [
    ("Sở Xây dựng Quảng Ninh", "Quang Ninh Department of Construction"),
    ("Ban Dân tộc và Tôn giáo tỉnh Quảng Ninh", "Quang Ninh Department of Ethnic Minorities and Religions"),
    ("Ủy ban nhân dân đặc khu Vân Đồn, tỉnh Quảng Ninh, Việt Nam " * 3, "People's Committee of Van Don " * 6),
])
def test_a_units_greeting_fits_messenger_and_its_english_name_reads_as_english(name_vi, name_en):
    """Messenger takes a greeting of at most 160 characters, in the call that also sets Get
    Started and the menu (a review: a 164-character greeting would have left the page with
    none of them); in English a body's name takes "the"."""
    from bot.conversation import texts

    who = {"vi": name_vi, "en": name_en}
    for lang in ("vi", "en"):
        for days in (3, 10):
            greeting = texts.greeting(lang, days, who)
            assert len(greeting) <= texts.GREETING_LIMIT and f"{days} " in greeting
    if len(name_en) < 80:
        assert texts.welcome("en", 3, who).startswith(f"Welcome to the {name_en}!")
        assert texts.small_talk("cam_on", "en", who).startswith(f"Thank you for contacting the {name_en}.")
        assert texts.small_talk("chao_hoi", "en", who).startswith(f"Hello! The {name_en} is here")
        assert texts.greeting("en", 3, who).startswith(f"The {name_en}")
    assert texts.welcome("en", 3, {"vi": "Hạ Long", "en": "Ha Long City"}).startswith("Welcome to Ha Long City!")
    assert texts.small_talk("cam_on", "en", None).startswith("Thank you for contacting DDCI Quang Ninh.")


def test_a_comment_in_triage_is_told_its_unit_and_date_under_the_comment(channel, graph):
    """Its private reply (the only one Facebook allows a comment) promised the unit and the due
    date once the standing office had assigned it; a walkthrough found them never told, while
    the console said "Doanh nghiệp đã được báo". They are now said under the comment, as the
    answer will be; so is a complex case's later date."""
    d = channel()
    d.post(load_fixture("feed_comment_add.json"))
    [inquiry] = d.rows(Inquiry)
    assert inquiry.status == "triage" and "Chúng tôi sẽ báo đơn vị và hạn trả lời" in graph.calls[0].text
    comment = "/v21.0/150691160110528_150691260110518/comments"
    before = len(graph.calls)
    cli = d.app.test_cli_runner()
    for args in (["assign", inquiry.code, "SO_TC", "--reason", "thuộc lĩnh vực tài chính"],
                 ["complex", inquiry.code, "--reason", "cần xác minh"]):
        result = cli.invoke(args=["inquiries", *args, "--by", "bxt.officer"])
        assert result.exit_code == 0, result.output
        d.worker.run_once()
    told = graph.calls[before:]
    assert [c.path for c in told] == [comment, comment]  # in public: its private reply is spent
    assert "Sở Tài chính" in told[0].body["message"] and inquiry.code in told[0].body["message"]
    assert "phức tạp" in told[1].body["message"]
    assert {o.status for o in d.rows(Outbox)} == {"sent"}


def comment_assigned_to_sxd(d):
    """The fixture comment's inquiry, assigned by the standing office to Sở Xây dựng."""
    from bot import context, runtime

    d.post(load_fixture("feed_comment_add.json"))
    [inquiry] = d.rows(Inquiry)
    with d.app.app_context():
        runtime.casework(context.settings(), context.db(), context.clock()).assign(
            inquiry.code, "SO_XD", by="bxt", reason="xây dựng")
    return inquiry


def test_the_console_warns_that_an_answer_to_a_comment_is_public(channel, graph):
    """A walkthrough's officer was not told that the answer goes under the comment, for all
    to see."""
    from tests.console import PEOPLE, add_user, login

    d = channel()
    inquiry = comment_assigned_to_sxd(d)
    add_user(d.app, PEOPLE["office"])
    browser = d.app.test_client()
    assert login(browser, PEOPLE["office"]).status_code == 302
    page = browser.get(f"/inquiries/{inquiry.code}").get_data(as_text=True)
    assert 'id="public-answer"' in page and "công khai" in page


def test_a_reply_under_ones_own_comment_joins_its_inquiry(channel, graph, clock):
    """A walkthrough thanked under its own comment ("Cảm ơn ad, mong sớm nhận được phản hồi"):
    a second public inquiry opened, with its own public acknowledgement."""
    from store import InquiryMessage

    d = channel()
    inquiry = comment_assigned_to_sxd(d)
    d.worker.run_once()  # the unit and date said under the comment
    calls = len(graph.calls)
    clock.advance(minutes=30)
    reply = copy.deepcopy(load_fixture("feed_comment_add.json"))
    value = reply["entry"][0]["changes"][0]["value"]
    value.update(message="Cảm ơn ad, mong sớm nhận được phản hồi", comment_id="150691160110528_999",
                 parent_id=inquiry.comment_id, created_time=int(clock.now.timestamp()))
    d.post(reply)
    assert [i.code for i in d.rows(Inquiry)] == [inquiry.code] and len(graph.calls) == calls  # nothing said in public
    assert [m.text for m in d.rows(InquiryMessage) if m.direction == "in"][-1] == "Cảm ơn ad, mong sớm nhận được phản hồi"
    assert d.outcomes()[-1][2] == f"reply under its own comment: added to {inquiry.code}"
    # someone else's reply under that comment is theirs: an inquiry of its own, as before
    other = copy.deepcopy(reply)
    other["entry"][0]["changes"][0]["value"].update(comment_id="150691160110528_1000", message="Cho tôi hỏi thủ tục cấp phép xây dựng nhà ở",
                                                    **{"from": {"id": "777", "name": "Người khác"}})
    d.post(other)
    assert len(d.rows(Inquiry)) == 2


def test_a_file_alone_is_asked_what_it_is_about_in_its_acknowledgement(channel, graph):
    """A walkthrough's location pin opened an inquiry in triage, and nothing asked what it was
    about, or for a contact."""
    from bot.conversation import texts

    d = channel()
    d.post(load_fixture("location_attachment.json"))
    [inquiry] = d.rows(Inquiry)
    [said] = graph.calls  # one message: the acknowledgement, the question and the contact ask joined
    assert inquiry.code in said.text and texts.PROMPT_DESCRIBE_FILE["vi"] in said.text
    assert "số điện thoại hoặc email" in said.text
