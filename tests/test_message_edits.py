"""A business edits a message it sent (issue 15, Messenger's `message_edits`): parsing and
deduplication, the history of the message, rerouting before anyone started, a new thread
message once a unit has started, edits out of order, an edit of a message we never received,
crash safety, `flask inquiries show --versions`, the console thread with the earlier versions and
`flask messenger setup`.

Everything runs on the real app (Flask, the database, the trained Rasa model, the Graph API
stand-in and the SMTP server of conftest), with bodies made from the captured fixtures
(message_edit.json, text_message.json) and a driven clock.
"""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from store import (Assignment, DeadlineChange, InboxEvent, Inquiry, InquiryMessage, MessageVersion, Notification,
                   Outbox, SandboxGraphCall)
from tests.conftest import FIXTURE_PAGE, SECOND_PAGE, load_fixture, signed_post, with_text

VN = timezone(timedelta(hours=7))
SENDER = "8130382090340794"
BUILD = "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả"  # -> Sở Xây dựng
BUILD_TOO = "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà kho ở Cẩm Phả"  # same domain, same unit
TAX = "Cho em hỏi thủ tục hoàn thuế giá trị gia tăng cho công ty xuất khẩu"  # -> Thuế tỉnh
SO_XD_MAIL, THUE_MAIL = "motcua@soxd.quangninh.example", "hotro@thue.quangninh.example"


def message_body(text: str, mid: str, at: datetime) -> dict:
    body = with_text(load_fixture("text_message.json"), text, mid=mid)
    body["entry"][0]["messaging"][0]["timestamp"] = int(at.timestamp() * 1000)
    return body


def edit_body(mid: str, text: str, num_edit, at: datetime) -> dict:
    """The captured edit (message_edit.json) with another message, text, edit number and time."""
    body = load_fixture("message_edit.json")
    item = body["entry"][0]["messaging"][0]
    item["message_edit"].update(mid=mid, text=text, num_edit=num_edit)
    item["timestamp"] = int(at.timestamp() * 1000)
    return body


@pytest.fixture
def bot(app, client, worker, graph, clock, smtp):
    """Post a body and let the worker do everything it causes; read rows."""
    from bot import context

    class Bot:
        def post(self, body, run: bool = True) -> dict:
            response = signed_post(client, body)
            assert response.status_code == 200, response.get_json()
            if run:
                worker.run_once()
            return response.get_json()

        def deliver(self) -> None:
            """What people did elsewhere (the CLI) is sent, as the worker's loop would."""
            worker.run_once()

        def say(self, text: str, mid: str) -> None:
            self.post(message_body(text, mid, clock()))

        def edit(self, mid: str, text: str, num_edit, run: bool = True) -> dict:
            return self.post(edit_body(mid, text, num_edit, clock()), run)

        def rows(self, model, *where):
            with app.app_context(), context.db().session() as s:
                query = select(model).where(*where).order_by(*model.__table__.primary_key.columns)
                return s.execute(query).scalars().all()

        def inquiry(self) -> Inquiry:
            [one] = self.rows(Inquiry)
            return one

        def outcome(self) -> str:
            return self.rows(InboxEvent)[-1].outcome

        def texts_to_business(self) -> list[str]:
            return [c.text for c in graph.messages_to(SENDER)]

    return Bot()


def local(instant: datetime) -> datetime:
    return instant.astimezone(VN)


# ---- parsing: one stored event per edit ------------------------------------------------------
def test_each_edit_is_stored_once_per_message_and_edit_number(app, client):
    at = datetime(2026, 11, 27, 3, tzinfo=timezone.utc)
    first = signed_post(client, edit_body("m_1", "sửa lần 1", 1, at)).get_json()
    again = signed_post(client, edit_body("m_1", "sửa lần 1", 1, at + timedelta(seconds=5))).get_json()
    quoted = signed_post(client, edit_body("m_1", "sửa lần 1", "1", at)).get_json()  # the docs quote it
    second = signed_post(client, edit_body("m_1", "sửa lần 2", 2, at)).get_json()
    assert [r["stored"] for r in (first, again, quoted, second)] == [1, 0, 0, 1]
    from bot import context

    with app.app_context(), context.db().session() as s:
        rows = s.execute(select(InboxEvent).order_by(InboxEvent.id)).scalars().all()
        assert [(r.kind, r.dedup_key, r.sender_id) for r in rows] == [
            ("message_edit", "edit:m_1:1", SENDER), ("message_edit", "edit:m_1:2", SENDER)]


@pytest.mark.parametrize("change, stored, rejected, key", [
    ({"mid": "m" * 201}, 0, 1, None),  # no mid Facebook sends: the item is shapeless
    ({"mid": "m_\x00"}, 0, 1, None),
    ({"num_edit": True}, 1, 0, "message_edit:"),  # no count: a hash of the item deduplicates it
    ({"num_edit": 10 ** 30}, 1, 0, "message_edit:"),
    ({"num_edit": 0}, 1, 0, "message_edit:"),
    ({"mid": "m" * 200, "num_edit": 5}, 1, 0, "edit:" + "m" * 200 + ":5"),
], ids=["mid-201", "nul-mid", "bool-count", "huge-count", "zero-count", "longest-mid"])
def test_edits_follow_the_rules_on_ids_and_keys(app, client, change, stored, rejected, key):
    body = edit_body("m_1", "sửa", 1, datetime(2026, 11, 27, 3, tzinfo=timezone.utc))
    body["entry"][0]["messaging"][0]["message_edit"].update(change)
    answer = signed_post(client, body).get_json()
    assert (answer["stored"], answer["rejected"]) == (stored, rejected)
    from bot import context

    with app.app_context(), context.db().session() as s:
        keys = s.execute(select(InboxEvent.dedup_key)).scalars().all()
    assert [k.startswith(key) for k in keys] == ([True] if key else [])
    assert all(len(k) <= 230 for k in keys)


def test_an_edit_without_text_or_message_id_is_recorded_and_nothing_else(bot):
    body = edit_body("m_1", "x", 1, datetime(2026, 11, 27, 3, tzinfo=timezone.utc))
    del body["entry"][0]["messaging"][0]["message_edit"]["text"]
    bot.post(body)
    assert bot.rows(InboxEvent)[-1].status == "ignored" and "without sender, message id or text" in bot.outcome()
    assert bot.rows(Inquiry) == []


# ---- before anyone started: classified again ----------------------------------------------------
def test_an_edit_before_anyone_started_moves_the_inquiry_like_a_reassignment(bot, clock, smtp):
    clock.set(datetime(2026, 11, 26, 16, 0, tzinfo=VN))  # Thursday: due Tuesday 01/12 17:00
    bot.say(BUILD, "m_build")
    first = bot.inquiry()
    assert (first.unit_code, first.intent) == ("SO_XD", "xay_dung")
    written = clock()
    clock.advance(hours=18)  # Friday 10:00 (within Messenger's 24 hours): 3 working days from now
    told_before = len(bot.texts_to_business())
    bot.edit("m_build", TAX, 1)

    inquiry = bot.inquiry()
    assert (inquiry.unit_code, inquiry.intent, inquiry.status, inquiry.text) == ("THUE_QN", "thue", "assigned", TAX)
    old, new = bot.rows(Assignment)
    assert (old.unit_code, old.status) == ("SO_XD", "reassigned")
    assert (new.unit_code, new.role, new.status, new.assigned_at) == ("THUE_QN", "lead", "open", clock())
    assert local(old.due_at) == datetime(2026, 12, 1, 17, 0, tzinfo=VN)
    assert local(new.due_at) == datetime(2026, 12, 2, 17, 0, tzinfo=VN)
    assert inquiry.due_at == new.due_at
    [change] = bot.rows(DeadlineChange)
    assert (change.assignment_id, change.changed_by, change.old_due_at, change.new_due_at) == (
        new.id, "business edit", old.due_at, new.due_at)
    # the old unit is told where it went; the new one gets its assignment notice
    transferred = bot.rows(Notification, Notification.kind == "transferred")
    assert [(n.assignment_id, n.recipients) for n in transferred] == [(old.id, [SO_XD_MAIL])]
    assert "đã được chuyển cho Thuế tỉnh Quảng Ninh" in transferred[0].body_text
    assert "Hạn trả lời" not in transferred[0].body_text  # its own deadline no longer runs
    # nor a link to the inquiry, which SO_XD now gets as the console's 404 (bot/console/scope.py),
    # nor what to do about it: a review found "Cách trả lời: soạn trả lời … /inquiries/QN-…"
    for body in (transferred[0].body_text, transferred[0].body_html):
        assert "/inquiries/" not in body and "soạn trả lời" not in body and "Cách trả lời" not in body
    assert "không cần xử lý phản ánh này nữa" in transferred[0].body_text
    # nor the edited text, which SO_XD never received and may not open (a review)
    for body in (transferred[0].body_text, transferred[0].body_html):
        assert "hoàn thuế" not in body and "Nội dung" not in body
    assert "Doanh nghiệp:" not in transferred[0].body_text and ">Doanh nghiệp<" not in transferred[0].body_html
    assert [n.recipients for n in bot.rows(Notification, Notification.kind == "assigned",
                                           Notification.assignment_id == new.id)] == [[THUE_MAIL]]
    mail = [m for m in smtp.messages if "đã được chuyển sang đơn vị khác" in m["subject"]]
    assert [m["to"] for m in mail] == [[SO_XD_MAIL]], [(n.kind, n.status, n.last_error) for n in bot.rows(Notification)]
    # the business: one short message naming the new unit and its due date
    [update] = bot.texts_to_business()[told_before:]
    assert update.startswith(f"Phản ánh {inquiry.code} đã được cập nhật theo nội dung Quý doanh nghiệp đã sửa")
    assert "Thuế tỉnh Quảng Ninh" in update and "17:00 thứ Tư, ngày 02/12/2026" in update
    # the message keeps both versions with their times; the thread reads the edit
    [message] = bot.rows(InquiryMessage)
    assert (message.text, message.revision, message.ref) == (TAX, 1, "m_build")
    assert [(v.revision, v.text, v.written_at) for v in bot.rows(MessageVersion)] == [
        (0, BUILD, written), (1, TAX, clock())]
    assert "moved from SO_XD to THUE_QN" in bot.outcome()


def test_an_edit_that_changes_nothing_updates_the_text_silently(bot, clock):
    bot.say(BUILD, "m_build")
    before = (bot.rows(Assignment), bot.rows(Notification), bot.texts_to_business())
    clock.advance(minutes=5)
    bot.edit("m_build", BUILD_TOO, 1)
    inquiry = bot.inquiry()
    assert (inquiry.text, inquiry.unit_code, inquiry.intent) == (BUILD_TOO, "SO_XD", "xay_dung")
    assert [(a.id, a.status, a.due_at) for a in bot.rows(Assignment)] == [
        (a.id, a.status, a.due_at) for a in before[0]]
    assert len(bot.rows(Notification)) == len(before[1]) and bot.texts_to_business() == before[2]
    assert bot.rows(DeadlineChange) == []
    assert bot.outcome().endswith("text updated, routing unchanged")
    assert [v.text for v in bot.rows(MessageVersion)] == [BUILD, BUILD_TOO]


def test_an_unsure_edit_goes_back_to_the_standing_office(bot, clock):
    bot.say(BUILD, "m_build")
    clock.advance(minutes=5)
    bot.edit("m_build", "ừm", 1)  # no domain in it: the classifier is unsure
    inquiry = bot.inquiry()
    assert (inquiry.status, inquiry.unit_code) == ("triage", "BXT")
    old, new = bot.rows(Assignment)
    assert (old.status, new.role, new.working_days) == ("reassigned", "triage", 1)
    assert bot.texts_to_business()[-1].startswith(f"Phản ánh {inquiry.code} đã được cập nhật")
    assert "để giao đơn vị có thẩm quyền trước" in bot.texts_to_business()[-1]


def test_an_edit_without_words_is_kept_but_not_classified(bot, clock):
    bot.say(BUILD, "m_build")
    clock.advance(minutes=5)
    bot.edit("m_build", "👍", 1)
    inquiry = bot.inquiry()
    assert (inquiry.text, inquiry.unit_code) == (BUILD, "SO_XD")
    assert [v.text for v in bot.rows(MessageVersion)] == [BUILD, "👍"]
    assert "without words" in bot.outcome()


# ---- once a unit has started: a new message on the thread, nothing moves --------------------------
@pytest.mark.parametrize("started", ["answered", "reassigned by a person", "a draft exists"])
def test_an_edit_after_the_unit_started_is_a_new_message_and_nothing_moves(bot, app, clock, smtp, started):
    bot.say(BUILD, "m_build")
    code = bot.inquiry().code
    runner = app.test_cli_runner()
    if started == "answered":
        result = runner.invoke(args=["inquiries", "answer", code, "--by", "can.bo@soxd"])
        unit, mail = "SO_XD", SO_XD_MAIL
    elif started == "a draft exists":
        result = runner.invoke(args=["inquiries", "draft", code, "--by", "can.bo@soxd",
                                     "--text", "Sở Xây dựng đang soạn trả lời", "--no-submit"])
        unit, mail = "SO_XD", SO_XD_MAIL
    else:
        result = runner.invoke(args=["inquiries", "assign", code, "SO_NNMT", "--by", "bxt.officer",
                                     "--reason", "đất đai"])
        unit, mail = "SO_NNMT", "motcua@sonnmt.quangninh.example"
    assert result.exit_code == 0, result.output
    bot.deliver()
    assignments, told = [(a.id, a.status) for a in bot.rows(Assignment)], len(bot.texts_to_business())
    clock.advance(hours=1)
    bot.edit("m_build", TAX, 1)

    inquiry = bot.inquiry()
    assert inquiry.unit_code == unit and inquiry.text == BUILD  # what the unit is answering stays
    assert [(a.id, a.status) for a in bot.rows(Assignment)] == assignments
    assert len(bot.texts_to_business()) == told  # nothing is said to the business
    opening, added = bot.rows(InquiryMessage)
    assert (opening.text, opening.revision) == (TAX, 1)  # the edited message reads its new text ...
    assert (added.text, added.direction, added.created_at) == (TAX, "in", clock())  # ... and the unit sees it
    [notice] = bot.rows(Notification, Notification.kind == "edited")
    assert notice.recipients == [mail] and TAX in notice.body_text
    assert "Phản ánh không tự chuyển đơn vị" in notice.body_text
    assert any(m["to"] == [mail] and "Doanh nghiệp đã sửa nội dung phản ánh" in m["subject"] for m in smtp.messages)
    assert "after the unit started" in bot.outcome()


def test_a_unit_has_started_when_a_person_acted_on_the_inquiry(bot, app, clock):
    """The hook the edit path asks (cases.queries.unit_has_started): a business edit's own
    move is no person's act; an answer, a reassignment or a person's message is."""
    from bot import context
    from cases import queries

    def started() -> bool:
        with app.app_context(), context.db().session() as s:
            return queries.unit_has_started(s, s.get(Inquiry, bot.inquiry().id))

    bot.say(BUILD, "m_build")
    assert not started()
    bot.edit("m_build", TAX, 1)  # moved by the business's edit
    assert bot.inquiry().unit_code == "THUE_QN" and not started()
    bot.edit("m_build", BUILD, 2)  # so a second edit moves it again
    assert bot.inquiry().unit_code == "SO_XD" and not started()
    result = app.test_cli_runner().invoke(args=["inquiries", "coordinate", bot.inquiry().code, "THUE_QN",
                                                "--by", "bxt.officer", "--reason", "hỏi ý kiến"])
    assert result.exit_code == 0 and started()


# ---- order, duplicates, unknown messages ---------------------------------------------------------
def test_edits_out_of_order_end_on_the_highest_edit_number(bot, clock):
    bot.say(BUILD, "m_build")
    clock.advance(minutes=2)
    second_written = clock()
    bot.edit("m_build", TAX, 2)  # Facebook delivers the second edit first
    told = len(bot.texts_to_business())
    clock.advance(minutes=1)
    bot.edit("m_build", BUILD_TOO, 1)
    [message] = bot.rows(InquiryMessage)
    assert (message.text, message.revision) == (TAX, 2)
    inquiry = bot.inquiry()
    assert (inquiry.text, inquiry.unit_code) == (TAX, "THUE_QN")
    kept = sorted(bot.rows(MessageVersion), key=lambda v: v.revision)
    assert [(v.revision, v.text) for v in kept] == [(0, BUILD), (1, BUILD_TOO), (2, TAX)]
    assert kept[2].written_at == second_written
    assert len(bot.texts_to_business()) == told and len(bot.rows(Assignment)) == 2  # the late one moved nothing
    assert "arrived after a later edit" in bot.outcome()


def test_a_duplicate_delivery_of_an_edit_is_handled_once(bot, clock):
    bot.say(BUILD, "m_build")
    clock.advance(minutes=2)
    assert bot.edit("m_build", TAX, 1)["stored"] == 1
    told = len(bot.texts_to_business())
    clock.advance(seconds=30)
    assert bot.edit("m_build", TAX, 1) == {"status": "ok", "stored": 0, "duplicates": 1, "rejected": 0}
    assert len(bot.rows(MessageVersion)) == 2 and len(bot.rows(Assignment)) == 2
    assert len(bot.texts_to_business()) == told


def test_an_edit_of_a_message_never_received_is_read_as_a_new_message(bot, clock):
    bot.edit("m_never_seen", BUILD, 1)
    inquiry = bot.inquiry()
    assert (inquiry.text, inquiry.unit_code, inquiry.channel) == (BUILD, "SO_XD", "messenger")
    assert bot.texts_to_business()[0].startswith("Cảm ơn Quý doanh nghiệp đã gửi phản ánh")
    [message] = bot.rows(InquiryMessage)
    assert (message.ref, message.revision, message.text) == ("m_never_seen", 1, BUILD)
    # its later edits find it, and the text it came with is kept as edit 1
    clock.advance(minutes=1)
    bot.edit("m_never_seen", BUILD_TOO, 2)
    assert [(v.revision, v.text) for v in bot.rows(MessageVersion)] == [(1, BUILD), (2, BUILD_TOO)]
    assert len(bot.rows(Inquiry)) == 1 and bot.inquiry().text == BUILD_TOO


def test_an_edit_from_someone_else_or_another_page_does_not_touch_the_message(bot, clock):
    bot.say(BUILD, "m_build")
    other = edit_body("m_build", TAX, 1, clock())
    other["entry"][0]["messaging"][0]["sender"]["id"] = "999"
    bot.post(other)
    assert bot.rows(MessageVersion) == [] and bot.rows(Inquiry)[0].text == BUILD
    assert [i.sender_id for i in bot.rows(Inquiry)] == [SENDER, "999"]  # read as the other person's message


def test_an_edited_follow_up_updates_the_thread_and_moves_nothing(bot, clock):
    bot.say(BUILD, "m_build")
    clock.advance(minutes=5)
    bot.say("Nhà xưởng diện tích khoảng 2000 m2", "m_follow")
    clock.advance(minutes=1)
    bot.edit("m_follow", "Nhà xưởng diện tích khoảng 3000 m2", 1)
    assert [m.text for m in bot.rows(InquiryMessage)] == [BUILD, "Nhà xưởng diện tích khoảng 3000 m2"]
    assert bot.inquiry().text == BUILD and len(bot.rows(Assignment)) == 1
    assert "of a follow-up" in bot.outcome()


def test_an_edit_while_another_app_owns_the_conversation_is_kept_and_nothing_is_said(bot, clock):
    bot.say(BUILD, "m_build")
    told = len(bot.texts_to_business())
    clock.advance(minutes=2)
    body = edit_body("m_build", TAX, 1, clock())
    entry = body["entry"][0]
    entry["standby"] = entry.pop("messaging")  # as Facebook sends it to an app that does not own the thread
    bot.post(body)
    assert bot.rows(InboxEvent)[-1].kind == "standby_message_edit"
    inquiry = bot.inquiry()
    assert (inquiry.text, inquiry.unit_code, len(bot.rows(Assignment))) == (TAX, "SO_XD", 1)
    assert [v.text for v in bot.rows(MessageVersion)] == [BUILD, TAX]
    assert len(bot.texts_to_business()) == told and "another app owns the conversation" in bot.outcome()


# ---- crash safety -----------------------------------------------------------------------------
def test_a_worker_dying_mid_edit_loses_nothing_and_doubles_nothing(bot, app, worker, clock):
    from bot import context
    from store.inbox import claim_next

    bot.say(BUILD, "m_build")
    told = len(bot.texts_to_business())
    bot.edit("m_build", TAX, 1, run=False)
    with app.app_context(), context.db().session() as s:
        assert claim_next(s, clock(), lease_seconds=120) is not None  # the worker that then dies
    worker.classifier.classify(TAX)  # it had classified; then it was killed
    worker.run_once()
    assert bot.inquiry().unit_code == "SO_XD" and bot.rows(MessageVersion) == []  # still leased
    clock.advance(seconds=121)
    worker.run_once()
    assert bot.inquiry().unit_code == "THUE_QN" and len(bot.rows(MessageVersion)) == 2
    assert len(bot.rows(Assignment)) == 2 and len(bot.texts_to_business()) == told + 1
    assert bot.rows(InboxEvent)[-1].attempts == 2


def test_a_failure_while_writing_an_edit_leaves_nothing_half_done(bot, app, worker, clock):
    """Version, move, notices and the business's message commit together with the event: a
    write that fails (here the reply's idempotency key is taken) rolls all of it back, and
    the event is tried again."""
    from bot import context

    bot.say(BUILD, "m_build")
    bot.edit("m_build", TAX, 1, run=False)
    event = bot.rows(InboxEvent)[-1]
    with app.app_context(), context.db().session() as s:
        s.add(Outbox(idempotency_key=f"edit-update:{event.id}", channel="messenger", page_id=FIXTURE_PAGE,
                     recipient={"id": "someone"}, message={"text": "x"}, status="sent", attempts=0,
                     next_attempt_at=clock(), created_at=clock()))
    before = (len(bot.rows(Assignment)), len(bot.rows(Notification)))
    assert worker.process_next().status == "error"
    event = bot.rows(InboxEvent)[-1]
    assert event.status == "pending" and "IntegrityError" in event.error
    assert bot.rows(MessageVersion) == [] and bot.inquiry().unit_code == "SO_XD"
    assert (len(bot.rows(Assignment)), len(bot.rows(Notification))) == before
    assert bot.rows(InquiryMessage)[0].text == BUILD
    with app.app_context(), context.db().session() as s:
        s.delete(s.execute(select(Outbox).where(Outbox.idempotency_key == f"edit-update:{event.id}")).scalar_one())
    clock.advance(seconds=1)
    worker.run_once()
    assert bot.inquiry().unit_code == "THUE_QN" and len(bot.rows(MessageVersion)) == 2


# ---- reading the history ------------------------------------------------------------------------
def test_inquiries_show_lists_earlier_versions_on_request(bot, app, clock):
    bot.say(BUILD, "m_build")
    written = clock()
    clock.advance(minutes=3)
    bot.edit("m_build", BUILD_TOO, 1)
    code = bot.inquiry().code
    runner = app.test_cli_runner()
    plain = json.loads(runner.invoke(args=["inquiries", "show", code, "--json"]).output)
    assert "edited_messages" not in plain
    shown = json.loads(runner.invoke(args=["inquiries", "show", code, "--json", "--versions"]).output)
    iso = lambda d: d.astimezone(VN).isoformat()  # noqa: E731  (show prints local time with its offset)
    assert shown["edited_messages"] == [{
        "message_id": bot.rows(InquiryMessage)[0].id, "ref": "m_build", "text": BUILD_TOO, "revision": 1,
        "versions": [{"revision": 0, "text": BUILD, "written_at": iso(written)},
                     {"revision": 1, "text": BUILD_TOO, "written_at": iso(clock())}]}]


def test_messages_stored_before_the_migration_are_found_by_their_message_id(db, clock):
    """Revision 0012 fills `ref` from what the rows were stored with: a Messenger message's
    inbox key (mid:<mid>), the comment that opened an inquiry."""
    from alembic import command
    from sqlalchemy import text

    from store.migrate import alembic_config

    with db.engine.begin() as conn:
        cfg = alembic_config(db.engine)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005")
        now = clock().replace(tzinfo=None)
        for i, key in enumerate(("mid:m_old", "feed:1:comment:add:c_1:1", "read:1:2:3"), start=1):
            conn.execute(text("INSERT INTO inbox_events (id, channel, dedup_key, object, kind, payload, received_at, "
                              "status, attempts) VALUES (:i, 'messenger', :k, 'page', 'text', '{}', :t, 'done', 1)"),
                         {"i": i, "k": key, "t": now})
        for i, comment in ((1, None), (2, "c_1")):
            conn.execute(text("INSERT INTO inquiries (id, source_event_id, page_id, sender_id, channel, language, "
                              "text, needs_review, status, received_at, created_at, updated_at, comment_id) VALUES "
                              "(:i, :i, 'p', 's', 'messenger', 'vi', 'x', false, 'assigned', :t, :t, :t, :c)"),
                         {"i": i, "t": now, "c": comment})
        for i, (inquiry, event) in enumerate(((1, 1), (2, 2), (1, 3), (1, None)), start=1):
            conn.execute(text("INSERT INTO inquiry_messages (id, inquiry_id, direction, source, text, event_id, "
                              "created_at) VALUES (:i, :q, 'in', 'messenger', 'x', :e, :t)"),
                         {"i": i, "q": inquiry, "e": event, "t": now})
        command.upgrade(cfg, "head")
    with db.engine.connect() as conn:
        refs = conn.execute(text("SELECT id, ref, revision FROM inquiry_messages ORDER BY id")).all()
    assert [tuple(r) for r in refs] == [(1, "m_old", None), (2, "c_1", None), (3, None, None), (4, None, None)]


# ---- subscription ----------------------------------------------------------------------------------
def test_messenger_setup_subscribes_every_page_to_message_edits(app, graph):
    result = app.test_cli_runner().invoke(args=["messenger", "setup"])
    assert result.exit_code == 0, result.output
    calls = [c for c in graph.calls if c.path.endswith("/subscribed_apps")]
    assert [c.path for c in calls] == [f"/v21.0/{FIXTURE_PAGE}/subscribed_apps", f"/v21.0/{SECOND_PAGE}/subscribed_apps"]
    assert [c.token for c in calls] == ["token-ddci", "token-sxd"]  # each page's own token, in the header
    for call in calls:
        fields = call.query["subscribed_fields"][0].split(",")
        assert "message_edits" in fields and {"messages", "messaging_postbacks", "feed"} <= set(fields)
        assert "access_token" not in call.query and "token-" not in json.dumps(call.query)
    assert "webhook fields subscribed" in result.output and "token-" not in result.output


def test_messenger_setup_reports_a_refused_subscription_without_the_token(app, graph):
    graph.script.append((200, {"result": "success"}))  # the first page's profile
    graph.fail_next(1, status=403, error={"message": "(#200) token-ddci lacks pages_manage_metadata", "code": 200})
    result = app.test_cli_runner().invoke(args=["messenger", "setup"])
    assert result.exit_code == 1
    assert f"{FIXTURE_PAGE} DDCI Quảng Ninh (test): failed: HTTP 403" in result.output
    assert "token-ddci" not in result.output


def test_the_sandbox_graph_stand_in_takes_the_subscription(make_app):
    """`make run`'s Graph API stand-in accepts what setup sends, checked like Facebook: the
    page's own token and appsecret_proof."""
    from werkzeug.serving import make_server

    from bot import context
    from tests.conftest import free_port

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = make_app({"graph_api_url": f"{base}/sandbox/graph", "SANDBOX": True},
                   app={"base_url": base, "tracking_prefix": "QN", "graph_api_version": "v21.0"})
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = app.test_cli_runner().invoke(args=["messenger", "setup"])
        assert result.exit_code == 0, result.output
        client = app.test_client()
        wrong = client.post(f"/sandbox/graph/v21.0/{SECOND_PAGE}/subscribed_apps?subscribed_fields=messages",
                            headers={"Authorization": "Bearer token-ddci"})  # another page's token
        assert wrong.status_code == 400
    finally:
        server.shutdown()
    with app.app_context(), context.db().session() as s:
        calls = s.execute(select(SandboxGraphCall).where(SandboxGraphCall.path.like("%/subscribed_apps"))
                          .order_by(SandboxGraphCall.id)).scalars().all()
        assert [(c.page_id, "message_edits" in c.body["subscribed_fields"]) for c in calls] == [
            (FIXTURE_PAGE, True), (SECOND_PAGE, True)]


def test_the_console_thread_shows_the_current_text_and_the_earlier_versions(bot, app, clock):
    """The inquiry page (and its thread fragment) show what the business wrote last, and on
    request (a <details>) what it wrote before, with times; business text stays text."""
    from tests.console import PEOPLE, add_user, login

    bot.say(BUILD, "m_build")
    written = clock()
    clock.advance(minutes=3)
    bot.edit("m_build", "<b>" + BUILD_TOO + "</b>", 1)
    edited = clock()
    clock.advance(minutes=2)
    bot.edit("m_build", BUILD_TOO + " ạ", 2)
    code = bot.inquiry().code
    add_user(app, PEOPLE["office"])
    browser = app.test_client()
    assert login(browser, PEOPLE["office"]).status_code == 302
    for path in (f"/inquiries/{code}", f"/inquiries/{code}/thread"):
        html = browser.get(path).get_data(as_text=True)
        thread = html[html.index('id="thread-messages"'):]
        current = thread[:thread.index('<details class="versions">')]
        assert BUILD_TOO + " ạ" in current and BUILD not in current
        versions = html[html.index('<details class="versions">'):]
        versions = versions[:versions.index("</details>")]
        assert "đã sửa tin này 2 lần" in versions
        assert versions.index(BUILD) < versions.index("&lt;b&gt;" + BUILD_TOO)  # oldest first, escaped
        assert local(written).strftime("%d/%m/%Y %H:%M") + " · bản gốc" in versions
        assert local(edited).strftime("%d/%m/%Y %H:%M") in versions
        assert BUILD_TOO + " ạ" not in versions  # the current text is not an "earlier" one
