"""The channel seam is real: a second channel plugs in with one entry in CHANNELS.

tests/fakechat.py is a tiny channel (webhook, adapter, sender) after Zalo OA's webhook shape,
with its own fixture (tests/fixtures/fakechat). Registered in CHANNELS and nowhere else, an
inquiry written through it is routed, acknowledged through its own sender, notified to the
unit and reminded by the scheduler, exactly like a Messenger one.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from bot.channels import CHANNELS
from store import InboxEvent, Inquiry, Notification, Outbox
from tests import fakechat
from tests.conftest import FIXTURE_PAGE, SECOND_PAGE, VN

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "fakechat" / "user_send_text.json").read_text("utf-8"))
OA = FIXTURE["recipient"]["id"]
PAGES = [
    {"id": FIXTURE_PAGE, "name": "DDCI Quảng Ninh (test)", "unit": "BXT", "access_token_env": "TEST_TOKEN_DDCI"},
    {"id": SECOND_PAGE, "name": "Sở Xây dựng (test)", "unit": "SO_XD", "access_token_env": "TEST_TOKEN_SXD"},
    {"id": OA, "name": "Sở Xây dựng trên Zalo (test)", "unit": "SO_XD", "access_token_env": "TEST_TOKEN_ZALO"},
]


def rows(app, model):
    from bot import context

    with app.app_context(), context.db().session() as s:
        return s.execute(select(model).order_by(model.id)).scalars().all()


def test_an_inquiry_from_a_second_channel_is_routed_acknowledged_and_reminded(
        monkeypatch, make_app, trained_model, graph, smtp, clock):
    from bot import context, runtime

    monkeypatch.setitem(CHANNELS, fakechat.NAME, fakechat)
    monkeypatch.setenv("FAKECHAT_API_URL", graph.url)  # the provider's API: a stand-in on loopback
    app = make_app(pages=PAGES)
    client = app.test_client()

    assert client.post("/webhooks/fakechat", json=FIXTURE).get_json() == {"stored": 1, "duplicates": 0}
    assert client.post("/webhooks/fakechat", json=FIXTURE).get_json() == {"stored": 0, "duplicates": 1}
    with app.app_context():
        worker = runtime.worker(context.settings(), context.db(), clock)
    worker.run_once()

    [event] = rows(app, InboxEvent)
    assert (event.channel, event.status) == ("fakechat", "done")
    [inquiry] = rows(app, Inquiry)
    assert (inquiry.channel, inquiry.reply_channel, inquiry.page_id, inquiry.sender_id) == (
        "fakechat", "fakechat", OA, FIXTURE["sender"]["id"])
    assert (inquiry.intent, inquiry.unit_code, inquiry.status) == ("xay_dung", "SO_XD", "assigned")

    # acknowledged through the channel's own sender, not the Send API
    acks = [c for c in graph.calls if c.path == "/v3.0/oa/message/cs"]
    assert [c.body["recipient"] for c in acks] == [{"user_id": FIXTURE["sender"]["id"]}]  # ack asking for contacts
    assert acks[0].body["message"]["text"].endswith("vui lòng để lại số điện thoại hoặc email.")
    assert inquiry.code in acks[0].body["message"]["text"] and "Sở Xây dựng" in acks[0].body["message"]["text"]
    assert not [c for c in graph.calls if c.path.endswith("/me/messages")]
    assert {(o.channel, o.status) for o in rows(app, Outbox)} == {("fakechat", "sent")}

    # the unit is told, and the scheduler reminds it at half time (Tue 01/12 11:15, 7.5-hour days)
    [assigned] = [m for m in smtp.messages if inquiry.code in m["subject"]]
    assert assigned["to"] == ["motcua@soxd.quangninh.example"]
    # the channel has no way to name its users (no profile_name): the notice says so, no id, no lookup
    assert "Doanh nghiệp: Người dùng fakechat (fakechat, trang Sở Xây dựng trên Zalo (test))" in assigned["text"]
    assert FIXTURE["sender"]["id"] not in assigned["text"] and graph.lookups == []
    with app.app_context():
        service = runtime.reminder_service(context.settings(), context.db(), clock)
    service.start(paused=True)
    try:
        assert service.tick()["active"]
        clock.set(datetime(2026, 12, 1, 11, 15, tzinfo=VN))
        assert service.tick()["active"]  # the lease is renewed on every beat
        service.run_due()
    finally:
        service.shutdown()
    reminders = [n for n in rows(app, Notification) if n.kind == "reminder"]
    assert [(n.status, n.inquiry_id) for n in reminders if n.channel == "email"] == [("sent", inquiry.id)]
    assert any("Nhắc hạn" in m["subject"] and inquiry.code in m["subject"] for m in smtp.messages)

    # a channel without a window for a person's answer sets no limit; the approved answer goes
    # out through its own sender and stops the clock when sent
    from cases import Actor

    with app.app_context():
        cases = runtime.casework(context.settings(), context.db(), clock)
        with context.db().session() as s:
            window = cases.answers.window(s, s.get(Inquiry, inquiry.id))
    assert (window.closes_at, window.is_open, window.approval_too_late) == (None, True, False)
    author, head = Actor("canbo@soxd.example", "officer", "SO_XD"), Actor("giamdoc@soxd.quangninh.example", "head",
                                                                           "SO_XD")
    draft = cases.answers.submit(cases.answers.draft(inquiry.code, actor=author, text="Hồ sơ gồm đơn đề nghị.").id,
                                 actor=author)
    cases.answers.approve(draft.id, actor=head)
    worker.run_once()
    answer = [c for c in graph.calls if c.path == "/v3.0/oa/message/cs"][-1]
    assert "Hồ sơ gồm đơn đề nghị." in answer.body["message"]["text"]
    [answered] = rows(app, Inquiry)
    assert (answered.status, answered.answered_via, answered.answered_at) == ("answered", "approved", clock.now)
