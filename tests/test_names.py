"""Officers read who wrote, by name, and which page, never raw ids (issue 11, point 5).

The name comes from the Graph API's User Profile (GET /{PSID}) on the Graph stand-in on
loopback, with the page's token in the header; it is cached on the conversation, asked again
after 30 days (a refusal after a day), never while a transaction is open; a comment's author
is named by the webhook itself. When the channel gives no name: "Người dùng Messenger".
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.channels.messenger.sendapi import appsecret_proof
from bot.conversation.names import clean_name
from store import Conversation, Notification
from tests.conftest import FIXTURE_PAGE, TEST_SECRET, load_fixture, signed_post, with_text

QUESTION = "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả"
SENDER = "8130382090340794"  # the PSID of the captured text_message.json
PAGE_NAME = "DDCI Quảng Ninh (test)"


def notices(app) -> list[Notification]:
    from bot import context

    with app.app_context(), context.db().session() as s:
        return s.execute(select(Notification).order_by(Notification.id)).scalars().all()


def conversation(app, page=FIXTURE_PAGE, sender=SENDER) -> Conversation:
    from bot import context

    with app.app_context(), context.db().session() as s:
        return s.get(Conversation, (page, sender))


def ask(client, worker, text=QUESTION, mid="m_q1"):
    signed_post(client, with_text(load_fixture("text_message.json"), text, mid=mid))
    worker.run_once()


def test_the_notice_names_the_business_and_the_page(app, client, worker, graph, smtp):
    graph.profiles[SENDER] = {"name": "Nguyễn Văn An", "first_name": "An", "last_name": "Nguyễn"}
    ask(client, worker)
    [lookup] = graph.lookups
    assert lookup.path == f"/v21.0/{SENDER}" and lookup.query["fields"] == ["name,first_name,last_name"]
    assert lookup.token == "token-ddci" and "access_token" not in lookup.query  # in the header, never the URL
    assert lookup.query["appsecret_proof"] == [appsecret_proof(TEST_SECRET, "token-ddci")]
    [mail] = smtp.messages
    assert f"Doanh nghiệp: Nguyễn Văn An (Messenger, trang {PAGE_NAME})" in mail["text"]
    html = mail["msg"].get_body(preferencelist=("html",)).get_content()
    for body in (mail["text"], html):
        assert SENDER not in body and FIXTURE_PAGE not in body  # no raw ids
    assert conversation(app).display_name == "Nguyễn Văn An"


def test_first_and_last_name_when_facebook_gives_no_full_name(app, client, worker, graph, smtp):
    graph.profiles[SENDER] = {"first_name": "An", "last_name": "Nguyễn"}
    ask(client, worker)
    assert "Doanh nghiệp: An Nguyễn (Messenger" in smtp.messages[0]["text"]


def test_a_refused_lookup_says_nguoi_dung_messenger_and_is_retried_a_day_later(app, client, worker, graph, smtp,
                                                                             clock):
    ask(client, worker)  # the stand-in refuses a PSID it has no profile for (code 100, subcode 33)
    assert len(graph.lookups) == 1
    assert f"Doanh nghiệp: Người dùng Messenger (Messenger, trang {PAGE_NAME})" in smtp.messages[0]["text"]
    conv = conversation(app)
    assert conv.display_name is None and conv.display_name_at == clock.now
    clock.advance(hours=2)
    ask(client, worker, "Cho hỏi thêm về hồ sơ", mid="m_q2")
    assert len(graph.lookups) == 1  # refused a moment ago: not asked again at once
    graph.profiles[SENDER] = {"name": "Trần Thị Bình"}
    clock.advance(days=1)
    ask(client, worker, "Cho em hỏi thủ tục hoàn thuế giá trị gia tăng", mid="m_q3")
    assert len(graph.lookups) == 2 and conversation(app).display_name == "Trần Thị Bình"
    assert "Doanh nghiệp: Trần Thị Bình (Messenger" in smtp.messages[-1]["text"]


def test_the_name_is_cached_for_thirty_days_then_asked_again(app, client, worker, graph, clock):
    graph.profiles[SENDER] = {"name": "Nguyễn Văn An"}
    ask(client, worker)
    clock.advance(days=29)
    ask(client, worker, "Cho em hỏi thủ tục hoàn thuế giá trị gia tăng", mid="m_q2")
    assert len(graph.lookups) == 1
    graph.profiles[SENDER] = {"name": "Nguyễn Văn An (Công ty An Phát)"}
    clock.advance(days=2)
    ask(client, worker, "Cho em hỏi thủ tục đăng ký kinh doanh", mid="m_q3")
    assert len(graph.lookups) == 2 and conversation(app).display_name == "Nguyễn Văn An (Công ty An Phát)"


def test_a_failed_lookup_keeps_the_name_known_before(app, client, worker, graph, clock):
    graph.profiles[SENDER] = {"name": "Nguyễn Văn An"}
    ask(client, worker)
    clock.advance(days=31)
    graph.profile_script.append((500, {"error": {"message": "An unexpected error has occurred.", "code": 2}}))
    ask(client, worker, "Cho em hỏi thủ tục hoàn thuế giá trị gia tăng", mid="m_q2")
    assert len(graph.lookups) == 2
    conv = conversation(app)
    assert conv.display_name == "Nguyễn Văn An" and conv.display_name_at == clock.now


def test_no_transaction_is_open_while_the_graph_api_answers(app, client, worker, graph):
    """The lookup is a network call: made before the unit of work, so the webhook (and every
    other writer) is not held up while Facebook answers."""
    from bot import context
    from tests.test_pipeline import _write_lock_free

    with app.app_context():
        db = context.db()
    people = worker.channels["messenger"].people
    real, seen = people.client, []

    class Probe:
        def __getattr__(self, name):
            return getattr(real, name)

        def user_profile(self, *args, **kwargs):
            seen.append(_write_lock_free(db))
            return real.user_profile(*args, **kwargs)

    people.client = Probe()
    graph.profiles[SENDER] = {"name": "Nguyễn Văn An"}
    ask(client, worker)
    assert seen == [True]
    assert conversation(app).display_name == "Nguyễn Văn An"


def test_a_comment_is_named_by_the_webhook_without_a_lookup(make_app, trained_model, graph, clock, monkeypatch):
    from bot import context, runtime

    page = "100473908465587"  # feed_comment_add.json
    monkeypatch.setenv("TOKEN_FEED", "token-feed")
    app = make_app(nlu__threshold=0.0, pages=[
        {"id": page, "name": "Sở Xây dựng Quảng Ninh", "unit": "SO_XD", "access_token_env": "TOKEN_FEED"}])
    signed_post(app.test_client(), load_fixture("feed_comment_add.json"))
    with app.app_context():
        runtime.worker(context.settings(), context.db(), clock).run_once()
    assert graph.lookups == []  # a commenter's id is no PSID: nothing to ask, the event says who it is
    [notice] = [n for n in notices(app) if n.channel == "email"]
    assert "Doanh nghiệp: Commenter B (bình luận trên trang Sở Xây dựng Quảng Ninh)" in notice.body_text
    assert "3844961895548656" not in notice.body_text
    assert conversation(app, page, "3844961895548656").display_name == "Commenter B"


@pytest.mark.parametrize("raw, clean", [
    ("Nguyễn Văn An", "Nguyễn Văn An"),
    ("Nguye\u0302\u0303n  Văn\tAn ", "Nguyễn Văn An"),  # NFC, one line, single spaces
    ("An\nDoanh nghiệp: Mạo danh\r\nX", "An Doanh nghiệp: Mạo danh X"),  # no forged lines in a plain-text mail
    ("\u202eAn\u200b", "An"),  # format characters out
    ("An\x07Bình\x00", "An Bình"),  # control characters that are not whitespace
    ("   ", None), (None, None), (42, None),
    ("A" * 500, "A" * 200),
])
def test_names_are_cleaned_before_officers_read_them(raw, clean):
    assert clean_name(raw) == clean


def test_the_sandbox_stand_in_answers_profile_lookups(make_app):
    """`make run`'s Graph stand-in answers GET /{PSID} like the Graph API (token in the header,
    proof checked); a PSID ending in 0 is refused, to see the fallback."""
    from bot import context

    app = make_app({"SANDBOX": True})
    client = app.test_client()
    with app.app_context():
        token = context.settings().page_tokens[FIXTURE_PAGE]
    proof = appsecret_proof(TEST_SECRET, token)
    ok = client.get(f"/sandbox/graph/v21.0/{SENDER}?fields=name&appsecret_proof={proof}",
                    headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.get_json()["name"] and ok.get_json()["id"] == SENDER
    refused = client.get(f"/sandbox/graph/v21.0/9000000000000010?appsecret_proof={proof}",
                         headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == 100
    assert client.get(f"/sandbox/graph/v21.0/{SENDER}", headers={"Authorization": "Bearer wrong"}).status_code == 400
    forged = client.get(f"/sandbox/graph/v21.0/{SENDER}?appsecret_proof=00",
                        headers={"Authorization": f"Bearer {token}"})
    assert forged.status_code == 400


def test_a_held_name_is_written_by_its_message_only_while_fresh_and_never_over_a_newer_one(app, worker, graph,
                                                                                           clock):
    """The name looked up before a message's unit of work waits in memory for it (names.py): a
    name never written (its message went another way) is asked again after HELD_FOR, and one
    older than what another worker has written meanwhile is not written."""
    from bot import context
    from bot.channels.base import InboundMessage
    from bot.conversation.names import HELD_FOR

    names = worker.conversation.names
    m = InboundMessage(channel="messenger", source="messenger", page_id=FIXTURE_PAGE, sender_id=SENDER,
                       sent_at=clock.now, text="x")
    graph.profiles[SENDER] = {"name": "Nguyễn Văn An"}
    names.learn(m)
    names.learn(m)  # held: not asked twice
    assert len(graph.lookups) == 1
    clock.advance(seconds=HELD_FOR.total_seconds() + 1)
    names.learn(m)  # never written: asked again
    assert len(graph.lookups) == 2

    with app.app_context(), context.db().session() as s:  # another worker wrote a newer answer meanwhile
        s.add(Conversation(page_id=FIXTURE_PAGE, sender_id=SENDER, updated_at=clock.now,
                           display_name="Trần Thị Bình", display_name_at=clock.now + timedelta(seconds=1)))
    with app.app_context(), context.db().session() as s:
        names.apply(s.get(Conversation, (FIXTURE_PAGE, SENDER)))
    assert conversation(app).display_name == "Trần Thị Bình"
    names.learn(m)  # and that answer is the cache now: no lookup for 30 days
    assert len(graph.lookups) == 2
