"""One inquiry end to end: webhook -> worker -> acknowledgement, e-mail, reminder jobs.

Everything real: the Flask app, the database, a Rasa model trained from nlu/, an SMTP
server and a Graph API stub on loopback, APScheduler with its SQLAlchemy job store.
Time is the driven clock (Friday 27/11/2026 10:00 in Quảng Ninh).
"""
from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select

from bot.channels.messenger.sendapi import appsecret_proof
from store import Assignment, InboxEvent, Inquiry, Notification, Outbox
from tests.conftest import TEST_SECRET, VN, load_fixture, signed_post, with_text

QUESTION = "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả"
SENDER = "8130382090340794"  # the PSID of the captured text_message.json
# Received Fri 27/11/2026; the day is not counted; Mon 30/11, Tue 1/12, Wed 2/12 -> due 17:00 Wed.
DUE = datetime(2026, 12, 2, 17, 0, tzinfo=VN)
# Timeline (scheduler.timeline.timeline): the allowed time is the counted days Mon-Wed, 3 x 7.5
# office hours (07:30-11:30, 13:30-17:00) = 22.5 h from Mon 30/11 07:30; half of it (11.25 h)
# ends Tue 01/12 11:15 (Mon gives 7.5 h, Tue 07:30 + 3.75 h). The due time is the close of
# office, so the first escalation goes at the next opening: Thu 03/12 07:30.
REMINDER = datetime(2026, 12, 1, 11, 15, tzinfo=VN)
ESCALATION = datetime(2026, 12, 3, 7, 30, tzinfo=VN)


def rows(app, model):
    from bot import context

    with app.app_context(), context.db().session() as s:
        return s.execute(select(model).order_by(model.id)).scalars().all()


def test_question_is_acknowledged_routed_notified_and_scheduled(app, client, worker, graph, smtp, clock):
    assert signed_post(client, with_text(load_fixture("text_message.json"), QUESTION)).status_code == 200
    worker.run_once()

    [inquiry] = rows(app, Inquiry)
    assert re.fullmatch(r"QN-2026-\d{6}", inquiry.code)
    assert (inquiry.intent, inquiry.unit_code, inquiry.status) == ("xay_dung", "SO_XD", "assigned")
    assert inquiry.due_at == DUE and inquiry.received_at == clock.now
    assert inquiry.routing_trace["rule"] == "domain"
    assert any(e["entity"] == "location" and e["value"] == "Cẩm Phả" for e in inquiry.entities)

    [ack] = graph.messages_to(SENDER)  # one call: the acknowledgement asks for a phone or e-mail in it
    first, ask = ack.text.rsplit("\n", 1)
    assert ask == "Để đơn vị có thể liên hệ khi cần, Quý doanh nghiệp vui lòng để lại số điện thoại hoặc email."
    assert first.endswith("Quý doanh nghiệp có thể gửi mã tra cứu để xem tình trạng xử lý.")
    assert ack.path == "/v21.0/me/messages" and ack.token == "token-ddci"
    assert "access_token" not in ack.query  # never in the URL (it would reach error texts)
    assert ack.query["appsecret_proof"] == [appsecret_proof(TEST_SECRET, "token-ddci")]
    assert ack.body["messaging_type"] == "RESPONSE"
    assert inquiry.code in ack.text and "Sở Xây dựng" in ack.text and "17:00 thứ Tư, ngày 02/12/2026" in ack.text
    assert "Xây dựng" in ack.text

    [mail] = smtp.messages
    assert mail["to"] == ["motcua@soxd.quangninh.example"]
    assert inquiry.code in mail["subject"]
    assert QUESTION in mail["text"] and "17:00 thứ Tư, ngày 02/12/2026" in mail["text"]
    assert mail["msg"].get_body(preferencelist=("html",)) is not None

    assert [o.status for o in rows(app, Outbox)] == ["sent"]
    assert [n.status for n in rows(app, Notification)] == ["sent"]
    assert [e.status for e in rows(app, InboxEvent)] == ["done"]

    from bot import context, runtime
    from scheduler.reminders import job_id

    with app.app_context():
        service = runtime.reminder_service(context.settings(), context.db(), clock)
        service.start(paused=True)
        try:
            assert service.reconcile() == {"open": 1, "removed": 0}
            [assignment] = rows(app, Assignment)
            reminder = service.scheduler.get_job(job_id(assignment.id, "reminder"))
            escalation = service.scheduler.get_job(job_id(assignment.id, "escalation"))
            assert reminder.next_run_time == REMINDER
            assert escalation.next_run_time == ESCALATION
            assert reminder.args == (assignment.id, "reminder")
        finally:
            service.shutdown()


def test_duplicate_delivery_makes_one_inquiry_and_one_acknowledgement(app, client, worker, graph, smtp):
    body = with_text(load_fixture("text_message.json"), QUESTION)
    signed_post(client, body)
    worker.run_once()
    signed_post(client, body)  # Facebook redelivers after we already handled it
    worker.run_once()
    assert len(rows(app, Inquiry)) == 1
    assert len(graph.messages_to(SENDER)) == 1  # the acknowledgement, with the one contact request in it
    assert len(smtp.messages) == 1


def test_unsure_classification_goes_to_triage_and_business_is_told(make_app, trained_model, graph, smtp, clock):
    from bot import context, runtime

    app = make_app(nlu__threshold=0.9999)
    signed_post(app.test_client(), with_text(load_fixture("text_message.json"), QUESTION))
    with app.app_context():
        runtime.worker(context.settings(), context.db(), clock).run_once()
    [inquiry] = rows(app, Inquiry)
    assert (inquiry.status, inquiry.unit_code, inquiry.needs_review) == ("triage", "BXT", True)
    # the standing office has one working day to assign: Mon 30/11 17:00
    assert inquiry.due_at == datetime(2026, 11, 30, 17, 0, tzinfo=VN)
    ack = graph.messages_to(SENDER)[0]
    assert inquiry.code in ack.text and "Ban Xúc tiến" in ack.text
    assert smtp.messages[0]["to"] == ["ddci@bxt.quangninh.example"]


def test_english_question_is_answered_in_english(app, client, worker, graph):
    text = "How do we apply for a work permit for our Korean engineer in Ha Long?"
    signed_post(client, with_text(load_fixture("text_message.json"), text))
    worker.run_once()
    [ack] = graph.messages_to(SENDER)
    assert "Tracking code: QN-2026-" in ack.text
    assert ack.text.endswith("\nSend us the tracking code at any time to check its status.\n"
                             "So that the unit can reach you if needed, please leave a phone number or e-mail address.")


def test_greeting_gets_a_polite_answer_and_no_inquiry(app, client, worker, graph):
    signed_post(client, with_text(load_fixture("text_message.json"), "Xin chào ad ạ"))
    worker.run_once()
    assert rows(app, Inquiry) == []
    [reply] = graph.messages_to(SENDER)
    assert reply.text.startswith("Xin chào")


def test_facebook_outage_is_retried_later_and_nothing_is_lost(make_app, trained_model, graph, clock):
    from bot import context, runtime

    app = make_app(conversation={"ask_contact": False})
    client = app.test_client()
    with app.app_context():
        worker = runtime.worker(context.settings(), context.db(), clock)
    graph.fail_next(2, status=500)
    signed_post(client, with_text(load_fixture("text_message.json"), QUESTION))
    worker.run_once()
    [row] = rows(app, Outbox)
    assert (row.status, row.attempts) == ("pending", 1) and "HTTP 500" in row.last_error
    worker.run_once()  # not due yet: backoff
    assert rows(app, Outbox)[0].attempts == 1
    clock.advance(seconds=6)
    worker.run_once()
    assert rows(app, Outbox)[0].attempts == 2
    clock.advance(seconds=11)
    worker.run_once()
    [row] = rows(app, Outbox)
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)
    assert len(graph.messages_to(SENDER)) == 3
    from store import OutboxAttempt

    assert [(a.attempt, a.outcome, a.http_status) for a in rows(app, OutboxAttempt)] == [
        (1, "retry", 500), (2, "retry", 500), (3, "sent", None)]


def test_permanent_send_error_is_not_retried_and_the_unit_is_told(app, client, worker, graph, clock):
    """Send API code 551 ("This person isn't available right now": the person blocked the page)
    refuses this message for good: no retry, and the unit is told to use the phone or e-mail.
    (An expired token, code 190, is no longer permanent: the page's messages wait for a new
    one, tests/test_outage.py.)"""
    graph.fail_next(1, status=400, error={"message": "(#551) This person isn't available right now.",
                                          "code": 551, "error_subcode": 1545041})
    signed_post(client, with_text(load_fixture("text_message.json"), QUESTION))
    worker.run_once()
    clock.advance(hours=2)
    worker.run_once()
    assert [(r.status, r.attempts) for r in rows(app, Outbox)] == [("failed", 1)]
    assert len(graph.calls) == 1
    told = [n for n in rows(app, Notification) if n.kind == "undeliverable"]
    assert len(told) == 1 and all("Messenger từ chối tin nhắn" in n.body_text for n in told)
    assert told[0].recipients == ["motcua@soxd.quangninh.example"]


def test_smtp_outage_keeps_the_notification_for_retry(app, client, worker, smtp, clock):
    email = worker.notifier.for_channel("email")
    email.port = 1  # nothing listens there: connection refused
    signed_post(client, with_text(load_fixture("text_message.json"), QUESTION))
    worker.run_once()
    [row] = rows(app, Notification)
    assert (row.status, row.attempts) == ("pending", 1) and "SMTP" in row.last_error
    email.port = smtp.port
    clock.advance(minutes=1)
    worker.run_once()
    assert rows(app, Notification)[0].status == "sent"
    assert len(smtp.messages) == 1


def test_event_for_an_unknown_page_is_kept_aside(app, client, worker, graph):
    body = with_text(load_fixture("text_message.json"), QUESTION)
    body["entry"][0]["id"] = body["entry"][0]["messaging"][0]["recipient"]["id"] = "999999999"
    signed_post(client, body)
    worker.run_once()
    [event] = rows(app, InboxEvent)
    assert event.status == "parked" and "999999999" in event.outcome
    assert rows(app, Inquiry) == [] and graph.calls == []


def test_worker_crash_before_commit_loses_nothing(app, client, worker, graph, clock):
    """A worker that dies mid-event (after classifying, before writing) leaves the event
    leased; when the lease runs out another worker handles it exactly once."""
    signed_post(client, with_text(load_fixture("text_message.json"), QUESTION))
    from bot import context
    from store.inbox import claim_next

    with app.app_context(), context.db().session() as s:
        claimed = claim_next(s, clock(), lease_seconds=120)  # the worker that then dies
        assert claimed is not None
    worker.classifier.classify(QUESTION)  # it had classified; then the process was killed
    worker.run_once()
    assert rows(app, Inquiry) == []  # still leased to the dead worker
    clock.advance(seconds=121)
    worker.run_once()
    assert len(rows(app, Inquiry)) == 1 and len(graph.messages_to(SENDER)) == 1
    assert rows(app, InboxEvent)[0].attempts == 2


def test_other_event_kinds_are_recorded_without_an_inquiry(app, client, worker, graph):
    for name in ("message_delivery.json", "message_read.json"):
        signed_post(client, load_fixture(name))
    worker.run_once()
    assert {e.status for e in rows(app, InboxEvent)} == {"ignored"}
    assert rows(app, Inquiry) == [] and graph.calls == []


def _write_lock_free(db) -> bool:
    """Could another process write right now, without waiting? (SQLite: take the write lock
    with no busy timeout; PostgreSQL: no other session sits in an open transaction.)"""
    from sqlalchemy import text

    if db.is_sqlite:
        import sqlite3

        probe = sqlite3.connect(db.engine.url.database, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc), exc
            return False
        finally:
            probe.close()
    with db.engine.connect() as conn:
        return conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'")).scalar() == 0


def test_no_transaction_is_open_while_the_send_api_answers(app, client, worker, graph):
    """The delivery used to flush its writes before the HTTP call, so SQLite's write lock was
    held while the Send API answered and every webhook INSERT waited behind it."""
    from bot import context

    with app.app_context():
        db = context.db()
    sender = worker.channels["messenger"].sender
    real, seen = sender.client, []

    class Probe:
        def __getattr__(self, name):
            return getattr(real, name)

        def send_message(self, *args, **kwargs):
            seen.append(_write_lock_free(db))
            if seen[-1]:  # (were it not, the webhook would wait out SQLite's 30 s busy timeout)
                late = with_text(load_fixture("text_message.json"), "Cho hỏi thêm", mid=f"m_during_{len(seen)}")
                assert signed_post(client, late).get_json()["stored"] == 1  # the webhook is not held up
            return real.send_message(*args, **kwargs)

    sender.client = Probe()
    signed_post(client, with_text(load_fixture("text_message.json"), QUESTION))
    worker.process_next()
    assert worker.deliver_outbox() == 1  # the acknowledgement (with the question for a phone or e-mail)
    assert seen == [True]
    assert [(r.status, r.attempts) for r in rows(app, Outbox)] == [("sent", 1)]
    from store import OutboxAttempt

    assert [(a.outbox_id, a.attempt, a.outcome) for a in rows(app, OutboxAttempt)] == [
        (r.id, 1, "sent") for r in rows(app, Outbox)]
    assert len(rows(app, InboxEvent)) == 2  # one more written during the one call
