"""Long outages lose nothing that can still be delivered (issue 16, second part).

Facebook down for a day (5xx, timeouts, connection refused, rate limits), a page token that
expires, a mail server down for a day: with the Graph API stand-in and the SMTP server on
loopback, two workers sharing the database, and the driven clock moved minute by minute
(never slept). Each test counts the calls made during the outage: a circuit per page (and
per unit for notices) turns a dead provider into about one probe per capped interval, not
one call per message.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.channels.messenger import policy
from bot.channels.messenger.sendapi import SendApiClient, SendError
from cases.outbox import LATE_AFTER, Reply, as_sent
from store import DeliveryCircuit, Inquiry, Notification, Outbox, OutboxAttempt, circuits
from store.queue import RETRY_CAP_SECONDS, retry_delay
from tests.conftest import FIXTURE_PAGE, SECOND_PAGE, VN, free_port, load_fixture, signed_post, with_text
from tests.test_officers import OFFICER, link_code

QUESTION = "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả"
QUESTION_EN = "How do we apply for a work permit for our Korean engineer in Ha Long?"
A, B, C = "8130382090340794", "8130382090340795", "8130382090340796"
ADMIN = "quantri@quangninh.example"
UNIT_MAIL = "motcua@soxd.quangninh.example"
CAP = timedelta(seconds=RETRY_CAP_SECONDS)


# ---- helpers -------------------------------------------------------------------------------------
def rows(app, model, *where):
    from bot import context

    with app.app_context(), context.db().session() as s:
        return s.execute(select(model).where(*where).order_by(*model.__table__.primary_key.columns)).scalars().all()


def start(make_app, clock, classifier=None, **config):
    from bot import context, runtime

    app = make_app(admins=[ADMIN], conversation={"ask_contact": False}, **config)
    with app.app_context():
        worker = runtime.worker(context.settings(), context.db(), clock, classifier)
    return app, app.test_client(), worker


def write(client, sender: str, text: str, mid: str, page: str = FIXTURE_PAGE) -> None:
    body = with_text(load_fixture("text_message.json"), text, mid=mid, sender=sender)
    body["entry"][0]["id"] = body["entry"][0]["messaging"][0]["recipient"]["id"] = page
    assert signed_post(client, body).status_code == 200


def run(clock, workers, minutes: int, step: int = 1) -> None:
    """Let `minutes` pass, every worker doing one pass each `step` minutes."""
    for _ in range(minutes // step):
        clock.advance(minutes=step)
        for w in workers:
            w.run_once()


def calls_made(app, before: datetime) -> list[datetime]:
    """When each Send API call was made (attempts that reached the network), oldest first."""
    return sorted(a.at for a in rows(app, OutboxAttempt) if a.at < before and a.outcome in ("retry", "sent", "failed")
                  and (a.error is None or a.http_status is not None or a.error.startswith("network error")))


def health(app) -> dict:
    return app.test_client().get("/healthz").get_json()


def set_client(workers, *, url: str, timeout: float = 10.0) -> None:
    for w in workers:
        w.channels["messenger"].sender.client.base_url, w.channels["messenger"].sender.client.timeout = url, timeout


# ---- Facebook down for a day ----------------------------------------------------------------------
def test_facebook_down_for_a_day_delivers_each_message_once_within_its_window(make_app, trained_model, graph, smtp,
                                                                            clock):
    app, client, w1 = start(make_app, clock)
    with app.app_context():
        from bot import context, runtime

        w2 = runtime.worker(context.settings(), context.db(), clock, w1.classifier)  # a second worker process
    workers = (w1, w2)
    t0 = clock.now
    graph.outage("5xx")
    for n, sender in enumerate((A, B, C)):
        write(client, sender, QUESTION, f"m_t0_{n}")
    for w in workers:
        w.run_once()

    run(clock, workers, 30)
    body = health(app)
    assert body["status"] == "degraded" and "messenger page 371024009436368" in body["reasons"][0]
    run(clock, workers, 30)  # 1 h: 5xx
    graph.outage("timeout")
    set_client(workers, url=graph.url, timeout=0.2)
    run(clock, workers, 60)  # 2 h: the Graph API takes the request and never answers
    graph.outage(None)
    set_client(workers, url=graph.refused_url())
    run(clock, workers, 120)  # 4 h: connection refused
    body = health(app)
    assert body["status"] == "failing" and "failing since 2026-11-27T03:00:00+00:00" in body["reasons"][0]
    set_client(workers, url=graph.url)
    graph.outage("rate_limit")
    run(clock, workers, 120)  # 6 h: rate limits (613, 32, 4, 17, HTTP 429)
    graph.outage("5xx")
    run(clock, workers, 14 * 60)  # 20 h
    write(client, B, QUESTION, "m_b_20h")  # B writes again: B's window reopens until 44 h
    run(clock, workers, 6 * 60)  # 26 h; A's and C's windows closed at 24 h
    recovered = clock.now
    assert not any(c.ok for c in graph.calls)
    graph.outage(None)
    run(clock, workers, 10)

    # no hot loop: after the first failures opened the page's circuit, one probe per capped
    # interval (the two workers share it), whatever the number of waiting messages
    made = calls_made(app, recovered)
    assert 26 * 60 / 5 - 10 <= len(made) <= 26 * 60 / 4, len(made)
    settled = [t for t in made if t > t0 + circuits.FAST_FOR]  # before: a probe each 10 s at most
    assert min(b - a for a, b in zip(settled, settled[1:])) >= CAP * 0.8

    # every message still deliverable went exactly once, soon after the recovery, saying when it came in
    delivered = [c for c in graph.calls if c.ok]
    assert [c.body["recipient"]["id"] for c in delivered] == [B, B]
    assert sorted(c.text.splitlines()[0] for c in delivered) == [
        "Chúng tôi đã nhận được tin nhắn của Quý doanh nghiệp lúc 06:00 thứ Bảy, ngày 28/11/2026.",
        "Chúng tôi đã nhận được tin nhắn của Quý doanh nghiệp lúc 10:00 thứ Sáu, ngày 27/11/2026.",
    ]
    assert all("Mã tra cứu: QN-2026-" in c.text for c in delivered)
    outbox = {(r.inquiry_id, r.status) for r in rows(app, Outbox)}
    inquiries = {i.id: i.sender_id for i in rows(app, Inquiry)}
    assert sorted((inquiries[i], status) for i, status in outbox) == [
        (A, "undeliverable"), (B, "sent"), (B, "sent"), (C, "undeliverable")]
    assert all(recovered < r.sent_at <= recovered + CAP + timedelta(minutes=1)
               for r in rows(app, Outbox, Outbox.status == "sent"))

    # none after its window: A's and C's acknowledgements were given up at 24 h, the unit told
    deadline = t0 + timedelta(hours=24)
    for r in rows(app, Outbox, Outbox.status == "undeliverable"):
        assert all(a.at <= deadline for a in rows(app, OutboxAttempt, OutboxAttempt.outbox_id == r.id))
    told = rows(app, Notification, Notification.kind == "undeliverable")
    assert [(n.created_at, n.recipients) for n in told] == [(deadline, [UNIT_MAIL])] * 2
    assert all("hết thời hạn Messenger cho phép (10:00 thứ Bảy, ngày 28/11/2026)" in n.body_text for n in told)
    mails = [m for m in smtp.messages if m["to"] == [UNIT_MAIL] and "Không gửi được trả lời" in m["subject"]]
    assert len(mails) == 2 and all("liên hệ trực tiếp" in m["text"] for m in mails)

    # the admins were told once, after an hour
    [alert] = [m for m in smtp.messages if m["to"] == [ADMIN]]
    assert "Messenger không nhận tin nhắn của trang DDCI Quảng Ninh (test) từ 10:00 thứ Sáu, ngày 27/11/2026" in alert["subject"]
    [row] = rows(app, Notification, Notification.kind == "alert")
    assert timedelta(hours=1) <= row.created_at - t0 <= timedelta(hours=1) + CAP
    assert health(app)["status"] == "ok" and rows(app, DeliveryCircuit)[0].state == "closed"


def test_a_new_message_is_not_stuck_behind_one_that_keeps_failing(make_app, trained_model, graph, smtp, clock):
    """Facebook answers code 2 ("retry later") to a person who blocked the page, for good: on a
    quiet page that opens the circuit, and the probe must go round the waiting messages (the
    ones tried least first) so that a new one goes at the next probe."""
    app, client, worker = start(make_app, clock)
    graph.block(A)
    write(client, A, QUESTION, "m_a")
    worker.run_once()
    run(clock, [worker], 30)
    [circuit] = rows(app, DeliveryCircuit)
    assert circuit.state == "open"
    written = clock.now
    write(client, B, QUESTION, "m_b")
    run(clock, [worker], 15)
    [to_b] = [c for c in graph.calls if c.body["recipient"] == {"id": B}]
    assert to_b.ok and rows(app, DeliveryCircuit)[0].state == "closed"
    [sent] = rows(app, Outbox, Outbox.status == "sent")
    assert sent.sent_at - written <= CAP + timedelta(minutes=1)


# ---- a page token that expires -------------------------------------------------------------------------
def test_an_expired_token_alerts_the_admins_at_once_and_its_messages_wait_for_the_new_one(
        make_app, trained_model, graph, smtp, clock, monkeypatch):
    app, client, worker = start(make_app, clock)
    t0 = clock.now
    graph.expire_token("token-ddci")
    write(client, A, QUESTION_EN, "m_en")
    write(client, B, QUESTION, "m_b")
    write(client, C, QUESTION, "m_other_page", page=SECOND_PAGE)
    worker.run_once()

    # the admins are told at once; the other page is not affected
    [alert] = [m for m in smtp.messages if m["to"] == [ADMIN]]
    assert "Mã truy cập của trang DDCI Quảng Ninh (test) trên Messenger đã hết hạn" in alert["subject"]
    assert "Session has expired" in alert["text"] and "token-ddci" not in alert["text"]
    assert [(c.body["recipient"]["id"], c.ok) for c in graph.calls] == [(A, False), (C, True)]  # B waits behind A

    run(clock, [worker], 3 * 60)
    expired_calls = [c for c in graph.calls if c.token == "token-ddci"]
    # one probe per capped interval (5 min; the driven clock's 1-min steps make it 5 or 6), not per message
    assert 3 * 60 / 6 <= len(expired_calls) <= 3 * 60 / 5 + 1
    waiting = rows(app, Outbox, Outbox.page_id == FIXTURE_PAGE)
    assert [r.status for r in waiting] == ["pending", "pending"]  # they wait: not failed, not dropped
    assert sum(r.attempts for r in waiting) == len(expired_calls)
    body = health(app)
    assert body["status"] == "failing" and "access token expired or invalid" in body["reasons"][0]
    assert len([m for m in smtp.messages if m["to"] == [ADMIN]]) == 1  # told once

    # a new token in the environment, and a restart: the first pass probes and the page drains
    probes = len(graph.calls)
    while len(graph.calls) == probes:  # until the next probe, then one minute more
        run(clock, [worker], 1)
    clock.advance(minutes=1)
    monkeypatch.setenv("TEST_TOKEN_DDCI", "token-ddci-renewed")
    restarted, _, worker2 = start(make_app, clock, worker.classifier)
    probes = len(graph.calls)
    worker2.run_once()
    assert len(graph.calls) == probes  # without the restart hook: not before the next interval
    worker2.started()
    worker2.run_once()
    delivered = [c for c in graph.calls if c.ok and c.token == "token-ddci-renewed"]
    assert [c.body["recipient"]["id"] for c in delivered] == [A, B]  # each once, at once
    assert delivered[0].text.startswith("We received your message at 10:00 Vietnam time on Friday 27 November 2026.\n"
                                        "Thank you for contacting DDCI Quang Ninh.")
    assert delivered[1].text.startswith("Chúng tôi đã nhận được tin nhắn của Quý doanh nghiệp lúc 10:00 thứ Sáu, ngày "
                                        "27/11/2026.\nCảm ơn Quý doanh nghiệp")
    assert [r.status for r in rows(app, Outbox, Outbox.page_id == FIXTURE_PAGE)] == ["sent", "sent"]
    assert health(restarted)["status"] == "ok"
    assert clock.now - t0 < timedelta(hours=4)


# ---- a person's answer: 7 days with HUMAN_AGENT, 24 hours without ----------------------------------------
def test_a_persons_answer_waits_seven_days_on_a_human_agent_page_and_24_hours_elsewhere(
        make_app, trained_model, graph, smtp, clock):
    pages = [{"id": FIXTURE_PAGE, "name": "DDCI Quảng Ninh (test)", "unit": "BXT",
              "access_token_env": "TEST_TOKEN_DDCI", "human_agent": True},
             {"id": SECOND_PAGE, "name": "Sở Xây dựng (test)", "unit": "SO_XD", "access_token_env": "TEST_TOKEN_SXD"}]
    app, client, worker = start(make_app, clock, pages=pages)
    t0 = clock.now
    write(client, A, QUESTION, "m_a")
    write(client, C, QUESTION, "m_c", page=SECOND_PAGE)
    worker.run_once()
    assert sum(c.ok for c in graph.calls) == 2  # both acknowledgements went
    graph.outage("5xx")
    clock.advance(hours=1)
    for inquiry in rows(app, Inquiry):
        result = app.test_cli_runner().invoke(args=["inquiries", "answer", inquiry.code, "--by", "soxd.officer",
                                                    "--text", "Hồ sơ gồm: đơn đề nghị, bản vẽ thiết kế.",
                                                    "--approved-by", "giamdoc@soxd.quangninh.example"])
        assert result.exit_code == 0, result.output
    run(clock, [worker], 3 * 24 * 60, step=10)  # Facebook down for three days
    answers = {r.page_id: r for r in rows(app, Outbox, Outbox.author == "human")}
    assert answers[FIXTURE_PAGE].status == "pending" and answers[FIXTURE_PAGE].attempts > 8
    assert answers[SECOND_PAGE].status == "undeliverable"
    [told] = rows(app, Notification, Notification.kind == "undeliverable")
    assert told.created_at == t0 + timedelta(hours=24)
    graph.outage(None)
    run(clock, [worker], 10)
    delivered = [c for c in graph.calls if c.ok][2:]
    assert len(delivered) == 1 and delivered[0].body["recipient"] == {"id": A}
    assert (delivered[0].body["messaging_type"], delivered[0].body["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    assert delivered[0].text.startswith("Trả lời phản ánh QN-2026-")  # a person's answer is sent as written
    assert all(c.body["recipient"] != {"id": C} for c in graph.calls[2:] if c.ok)


# ---- the mail server down for a day -------------------------------------------------------------------
def test_mail_down_for_a_day_is_retried_and_the_unit_is_told_on_messenger(make_app, trained_model, graph, smtp,
                                                                         clock):
    app, client, worker = start(make_app, clock)
    code = link_code(app, clock)  # an officer of Sở Xây dựng linked Messenger
    write(client, OFFICER, code, "m_link")
    worker.run_once()
    clock.advance(minutes=5)
    t0 = clock.now
    email = worker.notifier.for_channel("email")
    email.port = free_port()  # nothing listens: connection refused, all day
    for n, sender in enumerate((A, B, C)):  # three inquiries for Sở Xây dựng: three notices wait
        write(client, sender, QUESTION, f"m_q{n}")
    worker.run_once()
    assigned = rows(app, Notification, Notification.kind == "assigned", Notification.channel == "email")
    assert [n.status for n in assigned] == ["pending"] * 3

    run(clock, [worker], 2 * 60, step=2)
    # after an hour the unit's officer is told on Messenger, and the admins (by e-mail: it waits too)
    [note] = rows(app, Notification, Notification.kind == "mail_failing")
    assert note.channel == "messenger" and note.status == "sent"
    assert timedelta(hours=1) <= note.created_at - t0 <= timedelta(hours=1) + CAP + timedelta(minutes=2)
    [to_officer] = [c for c in graph.calls if c.body["recipient"] == {"id": OFFICER} and "Email gửi" in c.text]
    assert to_officer.text.startswith("[DDCI Quảng Ninh] Email gửi Sở Xây dựng không đến được từ 10:05 thứ Sáu, ngày "
                                      "27/11/2026")
    assert all(n.subject in to_officer.text for n in assigned)
    [alert] = rows(app, Notification, Notification.kind == "alert")
    assert alert.recipients == [ADMIN] and alert.status == "pending"
    body = health(app)
    assert body["status"] == "failing" and any("email notices to SO_XD" in r for r in body["reasons"])

    run(clock, [worker], 22 * 60 - 2, step=2)  # 23 h 58 min
    ids = [n.id for n in assigned]
    assigned = rows(app, Notification, Notification.id.in_(ids))
    assert [n.status for n in assigned] == ["pending"] * 3  # retried for at least 24 hours
    # the unit's circuit: about one SMTP connection per capped interval for the three notices
    # (with the driven clock's 2-min steps, every 6 min), not one per notice
    calls = sum(n.attempts for n in assigned)
    assert 23 * 60 / 6 <= calls <= 24 * 60 / 5, calls
    email.port = smtp.port
    run(clock, [worker], 10, step=2)
    subjects = [m["subject"] for m in smtp.messages]
    assert all(subjects.count(n.subject) == 1 for n in assigned)
    assert sum("Không gửi được thông báo" in s for s in subjects) == 1
    assert [n.status for n in rows(app, Notification, Notification.id.in_(ids))] == ["sent"] * 3
    assert health(app)["status"] == "ok"


def test_a_notice_is_given_up_only_after_72_hours(db, smtp, clock):
    from scheduler.notifications.delivery import RETRY_FOR, NotificationDelivery
    from scheduler.notifications.email import EmailNotifier

    dead = EmailNotifier(host="127.0.0.1", port=free_port(), sender="ddci@quangninh.example", timeout=2)
    with db.session() as s:
        s.add(Notification(idempotency_key="k", kind="alert", channel="email", recipients=[ADMIN], subject="s",
                           body_text="t", status="pending", attempts=0, next_attempt_at=clock.now,
                           created_at=clock.now))
    delivery = NotificationDelivery(db=db, notifier=dead, clock=clock)
    for _ in range(71):
        delivery.run()
        clock.advance(hours=1)
    with db.session() as s:
        assert s.execute(select(Notification.status)).scalar_one() == "pending"
    clock.advance(hours=1)
    delivery.run()
    with db.session() as s:
        row = s.execute(select(Notification)).scalar_one()
    assert RETRY_FOR == timedelta(hours=72) and row.status == "failed"
    assert row.last_error.startswith("not delivered within 72 h: SMTP 127.0.0.1")


def test_a_channel_that_names_no_window_is_retried_for_seven_days(monkeypatch, make_app, trained_model, graph,
                                                                  smtp, clock):
    """The delivery loop knows no Messenger rule: the fake second channel (tests/fakechat.py)
    plans without `deliver_until`, so its messages are retried for DEFAULT_HORIZON."""
    from bot.channels import CHANNELS
    from bot.delivery import DEFAULT_HORIZON
    from tests import fakechat
    from tests.test_channel_seam import FIXTURE, PAGES

    monkeypatch.setitem(CHANNELS, fakechat.NAME, fakechat)
    monkeypatch.setenv("FAKECHAT_API_URL", graph.url)
    app, client, worker = start(make_app, clock, pages=PAGES)
    t0 = clock.now
    graph.outage("5xx")
    assert client.post("/webhooks/fakechat", json=FIXTURE).status_code == 200
    worker.run_once()
    run(clock, [worker], 6 * 24 * 60, step=60)
    [ack] = rows(app, Outbox)
    assert (ack.channel, ack.status) == ("fakechat", "pending")
    run(clock, [worker], 24 * 60, step=60)
    [ack] = rows(app, Outbox)
    assert DEFAULT_HORIZON == timedelta(days=7) and ack.status == "undeliverable"
    [told] = rows(app, Notification, Notification.kind == "undeliverable")
    assert told.created_at == t0 + DEFAULT_HORIZON and "Fakechat" in told.subject
    assert not any(c.ok for c in graph.calls)


# ---- the pieces -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("status, error, kind", [
    (500, {"code": 2, "message": "An unexpected error has occurred."}, "temporary"),
    (400, {"code": 1, "message": "An unknown error occurred"}, "temporary"),
    (503, {"code": 1200, "message": "Temporary send message failure."}, "temporary"),
    (502, None, "temporary"),
    (400, {"code": 4, "message": "(#4) Application request limit reached"}, "rate_limit"),
    (400, {"code": 17, "message": "(#17) User request limit reached"}, "rate_limit"),
    (400, {"code": 32, "message": "(#32) Page request limit reached"}, "rate_limit"),
    (400, {"code": 613, "message": "Calls to this API have exceeded the rate limit."}, "rate_limit"),
    (429, None, "rate_limit"),
    (400, {"code": 190, "error_subcode": 463, "message": "Session has expired"}, "credentials"),
    (400, {"code": 190, "error_subcode": 460, "message": "password changed"}, "credentials"),
    (400, {"code": 190, "message": "Invalid OAuth access token."}, "credentials"),
    (400, {"code": 100, "message": "(#100) Invalid parameter"}, "permanent"),
    (400, {"code": 100, "error_subcode": 2018001, "message": "No matching user found"}, "permanent"),
    (403, {"code": 10, "error_subcode": 2018278, "message": "sent outside of allowed window"}, "permanent"),
    (403, {"code": 200, "message": "(#200) Permissions error"}, "permanent"),
    (400, {"code": 551, "error_subcode": 1545041, "message": "This person isn't available right now."}, "permanent"),
    (400, {"code": 2, "error_subcode": 2018344, "message": "Privacy ToS not accepted"}, "permanent"),
])
def test_send_api_errors_are_classified_from_facebooks_codes(graph, status, error, kind):
    graph.script.append((status, {"error": error} if error else "<html>proxy error</html>"))
    with pytest.raises(SendError) as caught:
        SendApiClient(graph.url, "v21.0").send_message("token-x", {"id": "1"}, {"text": "x"})
    assert caught.value.kind == kind and caught.value.permanent is (kind == "permanent")


@pytest.mark.parametrize("url", ["refused", "timeout"])
def test_network_failures_are_temporary(graph, url):
    graph.outage("timeout")
    client = SendApiClient(graph.refused_url() if url == "refused" else graph.url, "v21.0", timeout=0.2)
    with pytest.raises(SendError) as caught:
        client.send_message("token-x", {"id": "1"}, {"text": "x"})
    assert caught.value.kind == "temporary" and str(caught.value).startswith("network error:")


def test_the_retry_delay_doubles_from_5_seconds_and_is_capped_at_5_minutes():
    assert [retry_delay(n, rand=lambda: 0.0).total_seconds() for n in range(1, 9)] == [
        5, 10, 20, 40, 80, 160, 300, 300]
    assert retry_delay(10_000, rand=lambda: 0.0) == CAP
    assert retry_delay(7, rand=lambda: 0.999).total_seconds() == pytest.approx(240, abs=0.1)  # jitter: up to 20 % less


NOW = datetime(2026, 11, 27, 3, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("author, human_agent_page, until", [
    ("bot", False, timedelta(hours=24)),
    ("bot", True, timedelta(hours=24)),  # bot messages never use the tag
    ("human", False, timedelta(hours=24)),
    ("human", True, timedelta(days=7)),
])
def test_how_long_messenger_accepts_a_message(author, human_agent_page, until):
    d = policy.decide(now=NOW, last_user_message_at=NOW, author=author, human_agent_page=human_agent_page)
    assert d.allowed and d.until == NOW + until
    d = policy.decide(now=NOW + until + timedelta(seconds=1), last_user_message_at=NOW, author=author,
                      human_agent_page=human_agent_page)
    assert not d.allowed
    d = policy.decide(now=NOW, last_user_message_at=None, author=author, human_agent_page=human_agent_page,
                      to_comment=True, commented_at=NOW - timedelta(days=6))
    assert d.allowed and d.until == NOW + timedelta(days=1)


@pytest.mark.parametrize("lang, author, late, first_line", [
    ("vi", "bot", True, "Chúng tôi đã nhận được tin nhắn của Quý doanh nghiệp lúc 10:00 thứ Sáu, ngày 27/11/2026."),
    (None, "bot", True, "Chúng tôi đã nhận được tin nhắn của Quý doanh nghiệp lúc 10:00 thứ Sáu, ngày 27/11/2026."),
    ("en", "bot", True, "We received your message at 10:00 Vietnam time on Friday 27 November 2026."),
    ("vi", "bot", False, "Cảm ơn"),
    ("vi", "human", True, "Cảm ơn"),
])
def test_a_late_bot_reply_says_when_the_message_came_in(lang, author, late, first_line):
    queued = datetime(2026, 11, 27, 10, 0, tzinfo=VN)
    sent = as_sent(Reply("Cảm ơn", lang=lang), author=author, queued_at=queued,
                   now=queued + (LATE_AFTER + timedelta(seconds=1) if late else LATE_AFTER))
    assert sent.text.splitlines()[0] == first_line and sent.text.endswith("Cảm ơn")


def test_a_late_reply_names_when_the_message_it_answers_was_received():
    """The worker may take a message in later than the webhook stored it (it was down too):
    the reply says when the business's message came in, not when the reply was queued."""
    received = datetime(2026, 11, 27, 9, 40, tzinfo=VN)
    reply = Reply.from_json(Reply("Thank you", lang="en", received=received).to_json())
    sent = as_sent(reply, author="bot", queued_at=received + timedelta(minutes=20), now=received + timedelta(hours=5))
    assert sent.text == "We received your message at 09:40 Vietnam time on Friday 27 November 2026.\nThank you"


def test_a_row_waiting_for_an_open_circuits_probe_writes_nothing_and_one_caller_wins_the_probe(db, clock):
    """While the probe is still to come, asking writes nothing (on SQLite every write waits for
    the one write lock, behind the worker's units of work); when it is due, one caller wins it
    and the others wait for its outcome."""
    from sqlalchemy import event

    key = circuits.Key("notifications", "email", "SXD")
    with db.session() as s:
        for _ in range(circuits.THRESHOLD):
            failed = circuits.failed(s, key, clock.now, "temporary", "SMTP down")
    assert failed.state == "open" and failed.probe_at > clock.now
    writes = []

    def record(_conn, _cursor, statement, *_):
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        with db.session() as s:
            gate = circuits.admit(s, key, clock.now)
        assert (gate.go, gate.until, writes) == (False, failed.probe_at, [])
        clock.set(failed.probe_at)
        with db.session() as s:
            first = circuits.admit(s, key, clock.now)
        with db.session() as s:
            second = circuits.admit(s, key, clock.now)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert first == circuits.Gate(True, probe=True, fast=True) and len(writes) == 1
    # early in a streak a probe in flight holds the others back for PROBE_FAST, not the whole PROBE_LEASE
    assert not second.go and second.until == clock.now + circuits.PROBE_FAST["notifications"]


def test_early_in_a_streak_the_outbox_probes_every_3_s_and_a_units_mail_every_10_s(db, clock):
    """A page that comes back after a short outage is noticed within seconds (issue 14: the
    burst drained <= 15 s after the recovery); the mail server, one for every unit's circuit,
    is probed less often. After FAST_FOR both wait for the regular capped delay."""
    waits = {}
    for queue, scope in (("outbox", FIXTURE_PAGE), ("notifications", "SXD")):
        key = circuits.Key(queue, "x", scope)
        with db.session() as s:
            for _ in range(circuits.THRESHOLD):
                failed = circuits.failed(s, key, clock.now, "temporary", "down")
        waits[queue] = failed.probe_at - clock.now
        later = clock.now + circuits.FAST_FOR
        with db.session() as s:
            settled = circuits.failed(s, key, later, "temporary", "still down", probe=True)
        assert timedelta(seconds=60) < settled.probe_at - later <= CAP  # 5 s doubling, 6th failure, jittered
    assert waits == {"outbox": timedelta(seconds=3), "notifications": timedelta(seconds=10)}


def _open_page_circuit(app, clock):
    """Five temporary failures of the fixture page's outbox: its circuit opens, early in its streak."""
    from bot import context

    with app.app_context(), context.db().session() as s:
        for _ in range(circuits.THRESHOLD):
            opened = circuits.failed(s, circuits.Key("outbox", "messenger", FIXTURE_PAGE), clock.now, "temporary",
                                     "HTTP 500")
    return opened


def test_the_early_probe_checks_the_page_quickly_without_sending_and_a_later_one_sends_the_row(
        monkeypatch, make_app, trained_model, graph, smtp, clock):
    """A Graph API that holds requests unanswered would hold each probe for the client's whole
    timeout (10 s), and a recovery would be noticed that much later. Early in a streak the
    probe is a GET of the page (no side effects) given circuits.PROBE_TIMEOUT (here 0.3 s,
    against the client's 20 s; the stand-in lets a held request go after 10 s with a 504, so
    without the short timeout the attempt records HTTP 504, not a read timeout); the message
    is not sent. Past FAST_FOR the row itself is the probe, with the client's own timeout."""
    monkeypatch.setattr(circuits, "PROBE_TIMEOUT", 0.3)
    app, client, worker = start(make_app, clock)
    set_client([worker], url=graph.url, timeout=20.0)
    opened = _open_page_circuit(app, clock)
    graph.outage("timeout")
    write(client, A, QUESTION, "m_probe_early")
    worker.run_once()  # the acknowledgement waits behind the circuit's probe: no call
    assert graph.calls == [] and graph.checks == []
    clock.set(opened.probe_at)
    worker.run_once()  # the probe
    [probe] = [a for a in rows(app, OutboxAttempt) if a.outcome == "retry"]
    assert "probe, no message sent" in probe.error and "read timeout=0.3" in probe.error, probe.error
    assert len(graph.checks) == 1 and graph.calls == []

    set_client([worker], url=graph.url, timeout=0.5)  # the client's own timeout, told apart from 0.3
    clock.set(opened.failing_since + circuits.FAST_FOR + timedelta(minutes=1))
    worker.run_once()
    attempts = [a for a in rows(app, OutboxAttempt) if a.outcome == "retry"]
    assert len(attempts) == 2 and "read timeout=0.5" in attempts[1].error, attempts[-1].error
    assert len(graph.calls) == 1 and len(graph.checks) == 1  # the row itself went, no check


def test_a_page_that_comes_back_slowly_gets_each_message_once(monkeypatch, make_app, trained_model, graph, smtp,
                                                              clock):
    """Facebook back but slow (a message answered in 0.6 s, more than the probe's 0.3 s): the
    quick check finds the page up and the message goes with the client's whole timeout, once.
    (A message sent as the probe with the short timeout was abandoned while Facebook took it,
    and sent again at every probe: 19 copies in 2 minutes.)"""
    monkeypatch.setattr(circuits, "PROBE_TIMEOUT", 0.3)
    app, client, worker = start(make_app, clock)
    set_client([worker], url=graph.url, timeout=20.0)
    opened = _open_page_circuit(app, clock)
    write(client, A, QUESTION, "m_probe_slow")
    worker.run_once()
    graph.latency = 0.6
    clock.set(opened.probe_at)
    for _ in range(40):  # 2 minutes, a pass every 3 s
        worker.run_once()
        clock.advance(seconds=3)
    assert len(graph.checks) == 1
    assert [c.body["recipient"]["id"] for c in graph.calls] == [A] and graph.calls[0].ok
    assert [r.status for r in rows(app, Outbox)] == ["sent"]
    assert rows(app, DeliveryCircuit)[0].state == "closed"


def test_a_check_the_graph_api_refuses_for_good_means_it_is_up_and_the_message_goes(
        make_app, trained_model, graph, smtp, clock):
    """The quick check of the page answered with an error of this request (code 100: the
    Graph API is up, it only refuses the check): the waiting message goes, and it is not
    marked failed for good."""
    app, client, worker = start(make_app, clock)
    opened = _open_page_circuit(app, clock)
    write(client, A, QUESTION, "m_check_refused")
    worker.run_once()
    graph.check_script.append((400, {"error": {"message": "Unsupported get request.", "type": "GraphMethodException",
                                               "code": 100}}))
    clock.set(opened.probe_at)
    worker.run_once()
    assert len(graph.checks) == 1 and graph.checks[0].status == 400
    assert [c.body["recipient"]["id"] for c in graph.calls if c.ok] == [A]
    assert [r.status for r in rows(app, Outbox)] == ["sent"]


def test_rows_held_back_behind_a_probe_never_wait_past_their_window(make_app, trained_model, graph, smtp, clock):
    """The rest of a batch behind a failed probe is rescheduled together (bot/delivery.py
    hold_back) the way `deliver` would: a row whose window closes before the next probe is due
    at its window's end, not later, and one whose window has closed is given up and the unit
    told. (Held back at every probe, a row tried once never reached `deliver` while new rows,
    tried less, went first as the probes: a review found all 20 rows of a page whose token
    had expired still pending 2 hours after their window closed.)"""
    from bot import context
    from store import Conversation

    app, client, worker = start(make_app, clock)
    write(client, A, QUESTION, "m_window_1")
    worker.run_once()  # the acknowledgement goes
    graph.outage("expired_token")
    key = circuits.Key("outbox", "messenger", FIXTURE_PAGE)
    with app.app_context(), context.db().session() as s:
        opened = circuits.failed(s, key, clock.now, "credentials", "code 190")
    assert opened.state == "open" and opened.probe_at == clock.now + CAP
    write(client, A, "Cho em hỏi thêm: hồ sơ nộp trực tuyến được không?", "m_window_2")
    worker.process_next()  # a reply waits in the outbox
    [waiting] = [r for r in rows(app, Outbox) if r.status == "pending"]
    [conv] = rows(app, Conversation, Conversation.sender_id == A)
    until = policy.window_end(last_user_message_at=conv.last_user_message_at, author="bot", human_agent_page=False)

    clock.set(until - timedelta(minutes=3))
    with app.app_context(), context.db().session() as s:
        later = circuits.failed(s, key, clock.now, "credentials", "code 190", probe=True)
    assert later.probe_at > until
    assert worker.delivery.hold_back([waiting.id]) == []  # held back: none left to deliver
    [row] = rows(app, Outbox, Outbox.id == waiting.id)
    assert row.status == "pending" and row.next_attempt_at == until

    notices_before = len(rows(app, Notification))
    clock.set(until + timedelta(minutes=1))
    with app.app_context(), context.db().session() as s:
        circuits.failed(s, key, clock.now, "credentials", "code 190", probe=True)
    assert worker.delivery.hold_back([waiting.id]) == [waiting.id]  # left to deliver, which settles it
    [row] = rows(app, Outbox, Outbox.id == waiting.id)
    assert row.status == "pending"
    assert worker.delivery.deliver(waiting.id) is None  # no call: the window has closed
    [row] = rows(app, Outbox, Outbox.id == waiting.id)
    assert row.status == "undeliverable" and graph.calls[-1].body["recipient"]["id"] == A and len(graph.calls) == 1
    assert len(rows(app, Notification)) > notices_before  # the unit is told to phone or e-mail


def test_calls_in_flight_when_a_circuit_opens_do_not_lengthen_the_wait(db, clock):
    """Eight calls go at once per page: when the first 613 opens the page's circuit for a
    minute, the other seven answers of the same moment are the same rate limit, not seven
    failed probes (they would have pushed the probe to the 5-minute cap). A call in flight
    may still ask for a longer wait of its own kind (expired credentials); the probe's own
    failure counts as before."""
    key = circuits.Key("outbox", "messenger", FIXTURE_PAGE)
    with db.session() as s:
        first = circuits.failed(s, key, clock.now, "rate_limit", "code 613")
        for _ in range(7):
            same = circuits.failed(s, key, clock.now, "rate_limit", "code 613")
    assert first.probe_at == same.probe_at == clock.now + circuits.RATE_LIMIT_PAUSE
    assert same.failures == 1

    clock.set(first.probe_at)
    with db.session() as s:
        assert circuits.admit(s, key, clock.now).probe
        probed = circuits.failed(s, key, clock.now, "rate_limit", "code 613", probe=True)
    assert probed.failures == 2 and probed.probe_at == clock.now + circuits.RATE_LIMIT_PAUSE

    with db.session() as s:  # a call in flight finds the token expired: the page waits for a new one
        expired = circuits.failed(s, key, clock.now, "credentials", "code 190")
    assert expired.reason == "credentials" and expired.alert and expired.failures == 2
    assert expired.probe_at == clock.now + CAP
