"""Officers link their Messenger account with a one-time code and get notified within the window."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from scheduler.notifications.router import DeliveryError
from store import Inquiry, OfficerLink
from tests.conftest import FIXTURE_PAGE, load_fixture, signed_post, with_text

OFFICER = "7000000000000001"


def link_code(app, clock, unit="SO_XD") -> str:
    result = app.test_cli_runner().invoke(args=["officers", "link", "--unit", unit, "--email", "cb@soxd.example",
                                                "--page", FIXTURE_PAGE])
    assert result.exit_code == 0, result.output
    return result.output.split("Mã liên kết: ")[1].split()[0]


def test_officer_links_by_sending_the_code_and_is_not_an_inquiry(app, client, worker, graph, clock):
    code = link_code(app, clock)
    signed_post(client, with_text(load_fixture("text_message.json"), f" {code.lower()} ", mid="m_link", sender=OFFICER))
    worker.run_once()
    from bot import context

    with app.app_context(), context.db().session() as s:
        link = s.execute(select(OfficerLink)).scalar_one()
        assert (link.psid, link.linked_at) == (OFFICER, clock.now)
        assert s.execute(select(Inquiry)).first() is None
    assert graph.calls[-1].text.startswith("Đã liên kết tài khoản Messenger này với cb@soxd.example (Sở Xây dựng)")
    # later messages from the officer keep the window open and are not inquiries
    clock.advance(hours=30)
    signed_post(client, with_text(load_fixture("text_message.json"), "ok", mid="m_ok", sender=OFFICER))
    worker.run_once()
    with app.app_context(), context.db().session() as s:
        assert s.execute(select(OfficerLink)).scalar_one().last_message_at == clock.now
        assert s.execute(select(Inquiry)).first() is None


def test_a_wrong_or_used_code_links_nobody(app, client, worker):
    code = link_code(app, clock=None)
    signed_post(client, with_text(load_fixture("text_message.json"), "DDCI-AAAAAA", mid="m1", sender=OFFICER))
    signed_post(client, with_text(load_fixture("text_message.json"), code, mid="m2", sender=OFFICER))
    signed_post(client, with_text(load_fixture("text_message.json"), code, mid="m3", sender="7000000000000002"))
    worker.run_once()
    from bot import context

    with app.app_context(), context.db().session() as s:
        assert s.execute(select(OfficerLink.psid)).scalar_one() == OFFICER


def test_messenger_notifier_sends_only_inside_the_window(app, client, worker, graph, clock):
    from bot import context
    from bot.channels.messenger.notifier import MessengerNotifier
    from bot.officers import recipients_for
    from bot.channels.messenger.sendapi import SendApiClient

    code = link_code(app, clock)
    signed_post(client, with_text(load_fixture("text_message.json"), code, mid="m_link", sender=OFFICER))
    worker.run_once()
    with app.app_context():
        settings = context.settings()
        notifier = MessengerNotifier(db=context.db(), client=SendApiClient(graph.url, "v21.0"),
                                     tokens=dict(settings.page_tokens), clock=clock)
        with context.db().session() as s:
            recipients = recipients_for(s, "SO_XD")
        assert recipients == [f"{FIXTURE_PAGE}:{OFFICER}"]
        notifier.send(recipients, "Nhắc hạn: phản ánh QN-2026-000001", "Còn 9 giờ làm việc", None)
        assert graph.calls[-1].body["recipient"] == {"id": OFFICER}
        assert graph.calls[-1].text.startswith("Nhắc hạn: phản ánh QN-2026-000001")
        clock.advance(hours=25)
        with pytest.raises(DeliveryError) as err:
            notifier.send(recipients, "Quá hạn", "x", None)
        assert err.value.permanent and "24-hour window" in str(err.value)


def test_linked_officers_get_the_assignment_on_messenger_too(app, client, worker, graph, smtp, clock):
    code = link_code(app, clock)
    signed_post(client, with_text(load_fixture("text_message.json"), code, mid="m_link", sender=OFFICER))
    worker.run_once()
    clock.advance(minutes=5)
    signed_post(client, with_text(load_fixture("text_message.json"),
                                  "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả", mid="m_q"))
    worker.run_once()
    from bot import context
    from store import Notification

    with app.app_context(), context.db().session() as s:
        rows = s.execute(select(Notification).order_by(Notification.id)).scalars().all()
        assert [(n.kind, n.channel, n.status) for n in rows] == [("assigned", "email", "sent"),
                                                                 ("assigned", "messenger", "sent")]
    to_officer = [c for c in graph.calls if c.body["recipient"] == {"id": OFFICER}]
    assert to_officer[-1].text.startswith("[DDCI Quảng Ninh] Đơn vị được giao trả lời phản ánh QN-2026-")
    assert smtp.messages[-1]["to"] == ["motcua@soxd.quangninh.example"]


def test_casework_from_the_cli_gives_linked_officers_their_copy(app, client, worker, clock):
    """`flask inquiries assign` queues with the same fan-outs as the worker (bot/runtime.py)."""
    from bot import context
    from store import Notification

    code = link_code(app, clock, unit="SO_TC")
    signed_post(client, with_text(load_fixture("text_message.json"), code, mid="m_link", sender=OFFICER))
    worker.run_once()
    signed_post(client, with_text(load_fixture("text_message.json"),
                                  "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả", mid="m_q"))
    worker.run_once()
    with app.app_context(), context.db().session() as s:
        inquiry_code = s.execute(select(Inquiry.code)).scalar_one()
    result = app.test_cli_runner().invoke(args=["inquiries", "assign", inquiry_code, "SO_TC", "--by", "bxt",
                                                "--reason", "đúng thẩm quyền"])
    assert result.exit_code == 0, result.output
    with app.app_context(), context.db().session() as s:
        every = s.execute(select(Notification).order_by(Notification.id)).scalars().all()
        rows = [n for n in every if n.kind == "assigned"]
        assert [(n.kind, n.channel, n.recipients) for n in rows[-2:]] == [
            ("assigned", "email", ["motcua@sotc.quangninh.example"]),
            ("assigned", "messenger", [f"{FIXTURE_PAGE}:{OFFICER}"])]
        assert rows[-1].idempotency_key == rows[-2].idempotency_key + ":messenger"
        # the unit it left (Sở Xây dựng, which routing chose) is told, and only it
        assert [(n.kind, n.recipients) for n in every if n.kind == "transferred"] == [
            ("transferred", ["motcua@soxd.quangninh.example"])]
