"""Answers drafted, approved by another person and only then sent (Decision 3887, Art. 9.5(a) and
8.4): the approval rules on plain values, then the lifecycle on a real database with the worker,
the Graph API stand-in and a driven clock (the clock stops when the answer is SENT).

Scoping (who sees which inquiry) is the console's: nothing here depends on it.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
import yaml
from sqlalchemy import select

from cases import Actor, CaseError, Conflict, NotAllowed
from cases.approval import ApprovalRules, DraftFacts, UnitApproval
from store import Assignment, Draft, DraftEvent, Inquiry, InquiryMessage, Notification, Outbox
from tests.conftest import REPO, VN, load_fixture, signed_post, with_text

QUESTION = "Cho em hỏi thủ tục cấp giấy phép xây dựng nhà xưởng ở Cẩm Phả"
ENGLISH = "Hello, what documents do we need for a construction permit for our factory in Cam Pha?"
ANSWER = "Hồ sơ gồm: đơn đề nghị cấp phép, bản vẽ thiết kế, giấy tờ về quyền sử dụng đất."

OFFICER = Actor("canbo@soxd.quangninh.example", "officer", "SO_XD")
OFFICER2 = Actor("canbo2@soxd.quangninh.example", "officer", "SO_XD")
HEAD = Actor("giamdoc@soxd.quangninh.example", "head", "SO_XD")  # the unit's head_email in config.yml
DEPUTY = Actor("phogiamdoc@soxd.quangninh.example", "head", "SO_XD")
OFFICE = Actor("chuyenvien@bxt.quangninh.example", "standing_office", "BXT")
OTHER_HEAD = Actor("giamdoc@sotc.quangninh.example", "head", "SO_TC")


# ---- the rules, on plain values ------------------------------------------------------------------
RULES = ApprovalRules({"SO_XD": UnitApproval(frozenset({"giamdoc@soxd.quangninh.example",
                                                         "deputy.listed@soxd.quangninh.example"})),
                       "SO_TC": UnitApproval(frozenset(), heads_send_vi=True)}, "BXT")


def facts(author=OFFICER.email, approver=False, unit="SO_XD", language="vi", business="vi", status="submitted"):
    return DraftFacts(unit, author, approver, language, business, status)


@pytest.mark.parametrize("who, draft, allowed, code", [
    (HEAD, facts(), True, "ok"),  # an officer's draft: the unit's head approves
    (Actor("deputy.listed@soxd.quangninh.example", "officer", "SO_XD"), facts(), True, "ok"),  # listed in config
    (Actor(" CanBo@SoXD.quangninh.example ", "head", "SO_XD"), facts(), False, "four_eyes"),  # the author, any case
    (OFFICER2, facts(), False, "not_approver"),
    (OTHER_HEAD, facts(), False, "not_approver"),  # another unit's head
    (OFFICE, facts(), False, "not_approver"),  # not every officer's draft of every unit
    (Actor("admin@example.org", "admin", "SO_XD"), facts(), False, "not_approver"),
    (HEAD, facts(author=HEAD.email, approver=True), False, "four_eyes"),  # a head's own draft ...
    (DEPUTY, facts(author=HEAD.email, approver=True), True, "ok"),  # ... goes to another approver
    (OFFICE, facts(author=HEAD.email, approver=True), True, "ok"),  # ... or to the standing office
    (Actor("canbo@bxt.quangninh.example", "officer", "BXT"), facts(author=HEAD.email, approver=True), False,
     "not_approver"),  # an officer of the standing office is no approver
    (OFFICE, facts(author="canbo@bxt.quangninh.example", unit="BXT"), True, "ok"),  # its own page's answers
    (HEAD, facts(status="draft"), False, "not_submitted"),
])
def test_who_may_approve(who, draft, allowed, code):
    verdict = RULES.can_approve(who.email, who.role, who.unit, draft)
    assert (bool(verdict), verdict.code) == (allowed, code) and verdict.reason


@pytest.mark.parametrize("draft, sends", [
    (facts(unit="SO_TC", author="giamdoc@sotc.quangninh.example", approver=True), True),
    (facts(unit="SO_TC", author="giamdoc@sotc.quangninh.example", approver=True, language="en"), False),
    (facts(unit="SO_TC", author="giamdoc@sotc.quangninh.example", approver=True, business="en"), False),
    (facts(unit="SO_TC", author="canbo@sotc.quangninh.example", approver=False), False),  # an officer's
    (facts(author=HEAD.email, approver=True), False),  # a unit without the setting
])
def test_only_a_heads_vietnamese_answer_may_skip_the_second_approver(draft, sends):
    assert RULES.sends_on_submit(draft) is sends


# ---- the lifecycle ------------------------------------------------------------------------------
def units_with(**changes):
    """config.yml's units, with SO_XD's entry changed."""
    units = yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))["units"]
    for unit in units:
        if unit["code"] == "SO_XD":
            unit.update(changes)
    return units


@pytest.fixture
def case(make_app, trained_model, clock, graph, smtp):
    """An app whose SO_XD lists DEPUTY as approver; `ask(text)` opens an inquiry and returns its code."""
    from bot import context, runtime

    class Case:
        def __init__(self, **units):
            self.app = make_app(nlu__threshold=0.0, conversation={"ask_contact": False},
                                units=units_with(approvers=[DEPUTY.email], **units))
            self.client = self.app.test_client()
            with self.app.app_context():
                self.worker = runtime.worker(context.settings(), context.db(), clock)
                self.cw = runtime.casework(context.settings(), context.db(), clock)
            self.answers = self.cw.answers
            self.n = 0

        def ask(self, text=QUESTION, sender=None, to="SO_XD"):
            self.n += 1
            signed_post(self.client, with_text(load_fixture("text_message.json"), text, mid=f"m{self.n}",
                                               sender=sender))
            self.worker.run_once()
            inquiry = self.rows(Inquiry)[-1]
            if inquiry.unit_code != to:  # the point is the answer, not the classifier
                self.cw.assign(inquiry.code, to, by="bxt", reason="test")
            return inquiry.code

        def rows(self, model, *where):
            with self.app.app_context(), context.db().session() as s:
                return s.execute(select(model).where(*where).order_by(model.id)).scalars().all()

        def inquiry(self, code):
            [row] = self.rows(Inquiry, Inquiry.code == code)
            return row

        def history(self, draft_id):
            return [(e.action, e.by) for e in self.rows(DraftEvent, DraftEvent.draft_id == draft_id)]

        def session(self):
            with self.app.app_context():
                return context.db().session()

    return Case


def answer_calls(graph):
    return [c for c in graph.calls if c.path.endswith("/me/messages") and "Trả lời phản ánh" in (c.text or "")]


def test_the_clock_stops_when_the_approved_answer_is_sent_not_before(case, clock, graph):
    c = case()
    code = c.ask()
    clock.advance(hours=1)
    d = c.answers.draft(code, actor=OFFICER, text=ANSWER)
    d = c.answers.submit(d.id, actor=OFFICER)
    assert d.status == "submitted"
    c.worker.run_once()
    assert answer_calls(graph) == [] and c.inquiry(code).status == "assigned"  # nothing before approval
    clock.advance(hours=1)
    approved_at = clock.now
    d = c.answers.approve(d.id, actor=HEAD)
    assert d.status == "approved" and d.decided_by == HEAD.email
    inquiry = c.inquiry(code)
    assert (inquiry.status, inquiry.answered_at) == ("assigned", None)  # approved is not answered
    [row] = c.rows(Outbox, Outbox.author == "human")
    assert (row.status, row.idempotency_key) == ("pending", f"answer:draft:{d.id}")
    clock.advance(minutes=7)  # the worker sends it a little later: that is when the clock stops
    c.worker.run_once()
    [sent] = answer_calls(graph)
    assert ANSWER in sent.text and code in sent.text
    inquiry = c.inquiry(code)
    assert (inquiry.status, inquiry.answered_via, inquiry.answered_by) == ("answered", "approved", OFFICER.email)
    assert inquiry.answered_at == clock.now and inquiry.answered_at > approved_at
    assert {a.status for a in c.rows(Assignment, Assignment.inquiry_id == inquiry.id)} == {"answered"}
    assert {(a.answered_at) for a in c.rows(Assignment, Assignment.inquiry_id == inquiry.id)} == {clock.now}
    [draft] = c.rows(Draft)
    assert (draft.status, draft.sent_at, draft.outbox_id) == ("sent", clock.now, row.id)
    assert c.history(d.id) == [("created", OFFICER.email), ("submitted", OFFICER.email),
                               ("approved", HEAD.email), ("sent", "delivery")]
    assert [(m.direction, m.source, m.text) for m in c.rows(InquiryMessage)][-1] == ("out", "officer", ANSWER)


def test_four_eyes_the_author_never_approves_and_a_heads_draft_goes_elsewhere(case, clock):
    c = case()
    code = c.ask()
    d = c.answers.draft(code, actor=OFFICER, text=ANSWER)
    with pytest.raises(NotAllowed) as refused:
        c.answers.approve(c.answers.submit(d.id, actor=OFFICER).id, actor=OFFICER)
    assert refused.value.code == "four_eyes"
    with pytest.raises(NotAllowed, match="not_approver|chỉ lãnh đạo"):
        c.answers.approve(d.id, actor=OFFICER2)
    c.answers.withdraw(d.id, actor=OFFICER)
    # the head drafts: not approved by themself, nor by an officer; by the deputy or the standing office
    h = c.answers.submit(c.answers.draft(code, actor=HEAD, text=ANSWER).id, actor=HEAD)
    for who, rule in ((HEAD, "four_eyes"), (OFFICER, "not_approver"), (OTHER_HEAD, "not_approver")):
        with pytest.raises(NotAllowed) as refused:
            c.answers.approve(h.id, actor=who)
        assert refused.value.code == rule
    assert c.answers.approve(h.id, actor=OFFICE).status == "approved"
    assert c.history(h.id)[-1] == ("approved", OFFICE.email)
    assert len(c.rows(Outbox, Outbox.author == "human")) == 1
    # the same rule from the CLI: the head cannot approve their own draft
    code2 = c.ask(sender="another-business")
    runner = c.app.test_cli_runner()
    drafted = runner.invoke(args=["inquiries", "draft", code2, "--by", HEAD.email, "--text", ANSWER])
    assert drafted.exit_code == 0 and ": submitted (chờ duyệt)" in drafted.output, drafted.output
    draft_id = drafted.output.split("draft #")[1].split()[0]
    own = runner.invoke(args=["inquiries", "approve", draft_id, "--by", HEAD.email])
    assert own.exit_code == 1 and "bốn mắt" in own.output
    other = runner.invoke(args=["inquiries", "approve", draft_id, "--by", DEPUTY.email])
    assert other.exit_code == 0 and ": approved" in other.output, other.output


def test_english_answers_always_need_a_second_approver(case, clock, graph):
    c = case(heads_send_vi=True)  # SO_XD lets its heads send Vietnamese answers alone
    vi = c.ask()
    d = c.answers.submit(c.answers.draft(vi, actor=HEAD, text=ANSWER).id, actor=HEAD)
    assert d.status == "approved" and c.history(d.id)[-1] == ("approved", HEAD.email)  # sent on submit
    en = c.ask(ENGLISH, sender="foreign-business")
    assert c.inquiry(en).language == "en"
    e = c.answers.submit(c.answers.draft(en, actor=HEAD, text="You need an application form.").id, actor=HEAD)
    assert e.status == "submitted" and e.language == "en"  # the setting does not apply
    with pytest.raises(NotAllowed) as refused:
        c.answers.approve(e.id, actor=HEAD)
    assert refused.value.code == "four_eyes"
    # an English answer to a Vietnamese business is English too
    vi2 = c.ask(sender="third-business")
    x = c.answers.submit(c.answers.draft(vi2, actor=HEAD, text="Please see the attached list.",
                                         language="en").id, actor=HEAD)
    assert x.status == "submitted"
    assert c.answers.approve(e.id, actor=DEPUTY).status == "approved"
    c.worker.run_once()
    assert any("Answer to inquiry" in call.text and en in call.text for call in graph.calls)


def test_a_returned_draft_keeps_its_reason_and_a_second_draft_follows(case, clock, graph):
    c = case()
    code = c.ask()
    first = c.answers.submit(c.answers.draft(code, actor=OFFICER, text="Xem trên mạng.").id, actor=OFFICER)
    with pytest.raises(CaseError, match="reason"):
        c.answers.return_draft(first.id, actor=HEAD, reason="  ")
    with pytest.raises(CaseError, match="already has draft"):
        c.answers.draft(code, actor=OFFICER2, text="another")  # one answer in the work at a time
    clock.advance(minutes=30)
    returned = c.answers.return_draft(first.id, actor=HEAD, reason="Cần nêu cụ thể thành phần hồ sơ")
    assert (returned.status, returned.return_reason, returned.decided_by) == (
        "returned", "Cần nêu cụ thể thành phần hồ sơ", HEAD.email)
    with pytest.raises(Conflict):
        c.answers.approve(first.id, actor=DEPUTY)  # a returned draft is never sent
    with pytest.raises(CaseError):
        c.answers.edit(first.id, actor=OFFICER, text="sửa")
    with c.session() as s:
        from cases.worklists import unit_queue

        assert [r.state for r in unit_queue(s, c.cw.calendar, "SO_XD", clock.now).rows] == ["returned"]
    second = c.answers.draft(code, actor=OFFICER2, text="Hồ sơ gồm đơn")
    assert second.previous_id == first.id
    second = c.answers.edit(second.id, actor=OFFICER2, text=ANSWER)
    with pytest.raises(NotAllowed):
        c.answers.edit(second.id, actor=OFFICER, text="not mine")
    c.answers.approve(c.answers.submit(second.id, actor=OFFICER2).id, actor=HEAD)
    c.worker.run_once()
    assert [ANSWER in call.text for call in answer_calls(graph)] == [True]
    assert c.history(first.id) == [("created", OFFICER.email), ("submitted", OFFICER.email),
                                   ("returned", HEAD.email)]
    [returned_event] = [e for e in c.rows(DraftEvent) if e.action == "returned"]
    assert returned_event.note == "Cần nêu cụ thể thành phần hồ sơ"
    assert [e.text for e in c.rows(DraftEvent, DraftEvent.draft_id == second.id) if e.text] == ["Hồ sơ gồm đơn", ANSWER]


def test_window_closed_answer_undeliverable_then_recorded_another_way(case, clock, graph, smtp):
    c = case()
    code = c.ask()
    last_message = clock.now
    clock.advance(hours=1)
    with c.session() as s:
        window = c.answers.window(s, c.inquiry(code))
    assert window.closes_at == last_message + timedelta(hours=24)  # the page has no Human Agent permission
    assert window.is_open and not window.approval_too_late
    clock.set(datetime(2026, 11, 27, 16, 30, tzinfo=VN))  # 30 min of office time left before it closes
    with c.session() as s:
        assert c.answers.window(s, c.inquiry(code)).approval_too_late
    clock.set(datetime(2026, 11, 30, 9, 0, tzinfo=VN))  # Monday: closed
    with c.session() as s:
        window = c.answers.window(s, c.inquiry(code))
    assert not window.is_open and window.approval_too_late and window.time_left == timedelta(0)
    d = c.answers.submit(c.answers.draft(code, actor=OFFICER, text=ANSWER).id, actor=OFFICER)
    c.answers.approve(d.id, actor=HEAD)
    c.worker.run_once()
    assert answer_calls(graph) == []
    [row] = c.rows(Outbox, Outbox.author == "human")
    assert row.status == "undeliverable"
    assert c.rows(Draft)[0].status == "undeliverable"
    assert c.inquiry(code).status == "assigned"  # the clock goes on
    [notice] = [n for n in c.rows(Notification) if n.kind == "undeliverable"]
    assert f"http://127.0.0.1:5000/inquiries/{code}" in notice.body_text and ANSWER in notice.body_text
    with c.session() as s:
        from cases.worklists import Filters, unit_queue

        assert [r.state for r in unit_queue(s, c.cw.calendar, "SO_XD", clock.now,
                                            Filters(state="undeliverable")).rows] == ["undeliverable"]
    with pytest.raises(CaseError, match="between"):
        c.answers.record(code, by=OFFICER.email, how="phone", text="x", at=clock.now + timedelta(hours=1))
    with pytest.raises(CaseError, match="unknown way"):
        c.answers.record(code, by=OFFICER.email, how="pigeon", text="x")
    clock.advance(hours=2)
    called = datetime(2026, 11, 30, 10, 15, tzinfo=VN)
    recorded = c.answers.record(code, by=OFFICER.email, how="phone", text="Đã gọi điện hướng dẫn hồ sơ", at=called)
    assert (recorded.code, recorded.how, recorded.how_vi, recorded.at, recorded.by) == (
        code, "phone", "điện thoại", called, OFFICER.email)
    inquiry = c.inquiry(code)
    assert (inquiry.status, inquiry.answered_at, inquiry.answered_via, inquiry.answered_how) == (
        "answered", called, "recorded", "phone")
    with pytest.raises(CaseError, match="already answered"):
        c.answers.record(code, by=OFFICER.email, how="email", text="again")


def test_an_answer_typed_in_the_page_inbox_is_marked_unapproved_and_counted(case, clock):
    from bot import context, runtime

    c = case()
    code = c.ask()
    pending = c.answers.submit(c.answers.draft(code, actor=OFFICER, text=ANSWER).id, actor=OFFICER)
    clock.advance(hours=2)
    echo = load_fixture("message_echo.json")  # the page's reply from another app (Meta Business Suite)
    event = echo["entry"][0]["messaging"][0]
    event["recipient"]["id"], event["sender"]["id"] = "8130382090340794", "371024009436368"
    echo["entry"][0]["id"] = "371024009436368"
    signed_post(c.client, echo)
    c.worker.run_once()
    inquiry = c.inquiry(code)
    assert (inquiry.status, inquiry.answered_via, inquiry.answered_at) == ("answered", "page", clock.now)
    assert c.rows(Draft)[0].status == "superseded"  # the draft in the work is moot now
    with pytest.raises(CaseError):
        c.answers.approve(pending.id, actor=HEAD)
    with c.app.app_context():
        reports = runtime.report_service(context.settings(), context.db(), clock)
        report = reports.build(reports.period("weekly", "2026-W48"))
    by_unit = {g.key: g.counts for g in report.by_unit}
    assert by_unit["SO_XD"].unapproved == 1 and report.total.unapproved == 1
    assert "không qua phê duyệt" in reports.render(report).text


def test_two_approvers_at_once_send_one_answer(case, clock):
    c = case()
    code = c.ask()
    d = c.answers.submit(c.answers.draft(code, actor=OFFICER, text=ANSWER).id, actor=OFFICER)
    start, results = threading.Barrier(2), {}

    def approve(who):
        start.wait()
        try:
            results[who.email] = c.answers.approve(d.id, actor=who).status
        except Exception as exc:  # what each got is the point
            results[who.email] = type(exc).__name__

    threads = [threading.Thread(target=approve, args=(who,)) for who in (HEAD, DEPUTY)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results.values()) == ["Conflict", "approved"], results
    assert len(c.rows(Outbox, Outbox.author == "human")) == 1
    assert [a for a, _ in c.history(d.id)].count("approved") == 1


def test_reassignment_supersedes_the_old_units_draft(case, clock):
    c = case()
    code = c.ask()
    d = c.answers.submit(c.answers.draft(code, actor=OFFICER, text=ANSWER).id, actor=OFFICER)
    c.cw.assign(code, "BQL_KKT", by="bxt", reason="dự án trong KKT")
    assert c.rows(Draft)[0].status == "superseded"
    with pytest.raises(Conflict):
        c.answers.approve(d.id, actor=HEAD)
    with pytest.raises(NotAllowed):
        c.answers.draft(code, actor=OFFICER, text=ANSWER)  # no longer SO_XD's to answer


def test_coordinating_units_input_closes_only_its_own_assignment(case, clock, graph):
    c = case()
    code = c.ask()
    clock.advance(hours=1)
    c.cw.request_coordination(code, ["THUE_QN"], by="soxd", reason="hỏi ý kiến về thuế")
    sent_before = len(graph.calls)
    clock.advance(hours=3)
    note = c.cw.give_input(code, "THUE_QN", by="canbo@thue.quangninh.example", text="Không phát sinh nghĩa vụ thuế.")
    assert (note.kind, note.unit_code) == ("coordination_input", "THUE_QN")
    duties = {a.role: a for a in c.rows(Assignment)}
    assert (duties["coordinate"].status, duties["coordinate"].answered_at) == ("answered", clock.now)
    assert duties["lead"].status == "open" and c.inquiry(code).status == "assigned"
    c.worker.run_once()
    assert len(graph.calls) == sent_before  # internal: the business is not sent it
    with pytest.raises(CaseError, match="no open assignment"):
        c.cw.give_input(code, "THUE_QN", by="x", text="again")
    with c.session() as s:
        from cases.casefile import case_file

        record = case_file(s, c.cw, code.lower())
    assert [n.text for n in record.notes] == ["Không phát sinh nghĩa vụ thuế."]
    assert record.link == f"http://127.0.0.1:5000/inquiries/{code}"


def test_the_standing_office_reminds_a_unit_at_once(case, clock):
    c = case()
    code = c.ask()
    first = c.cw.remind(code, by=OFFICE.email)
    again = c.cw.remind(code, by=OFFICE.email)  # a double click: one notice
    clock.advance(hours=1)
    later = c.cw.remind(code, by=OFFICE.email)
    assert (first.unit, first.queued, again.queued, later.queued) == ("SO_XD", True, False, True)
    notices = [n for n in c.rows(Notification) if n.kind == "office_reminder" and n.channel == "email"]
    assert len(notices) == 2 and notices[0].recipients == ["motcua@soxd.quangninh.example"]
    assert "Nhắc xử lý" in notices[0].subject and f"/inquiries/{code}" in notices[0].body_text


def test_a_reminded_coordinating_unit_reads_who_leads(case, clock):
    """A walkthrough: the office's reminder to a coordinating unit said "Đơn vị chủ trì: chưa giao
    (cơ quan thường trực đang phân loại)" of an inquiry Sở Xây dựng led."""
    c = case()
    code = c.ask()
    c.cw.request_coordination(code, ["SO_TC"], by=OFFICE.email, reason="hỏi ý kiến")
    c.cw.remind(code, by=OFFICE.email, unit_code="SO_TC", reason="sắp đến hạn")
    [notice] = [n for n in c.rows(Notification) if n.kind == "office_reminder" and n.channel == "email"]
    assert "Đơn vị chủ trì: Sở Xây dựng" in notice.body_text and "chưa giao" not in notice.body_text
    assert "sau khi được giao" not in notice.body_text


def test_a_unit_sends_an_inquiry_back_to_the_triage_queue(case, clock):
    from cases.worklists import triage_queue

    c = case()
    code = c.ask()
    c.answers.draft(code, actor=OFFICER, text=ANSWER)
    clock.advance(hours=1)
    triage = c.cw.send_back(code, by=HEAD.email, reason="Không thuộc thẩm quyền của Sở")
    assert (triage.unit_code, triage.role) == ("BXT", "triage")
    assert c.inquiry(code).status == "triage" and c.rows(Draft)[0].status == "superseded"
    with c.session() as s:
        page = triage_queue(s, c.cw.calendar, "BXT", clock.now)
    [row] = page.rows
    assert (row.row.code, row.origin, row.returned_by) == (code, "returned", "SO_XD")
    assert "Không thuộc thẩm quyền" in row.reason
    c.cw.assign(code, "SO_TC", by=OFFICE.email, reason="đăng ký đầu tư")
    with c.session() as s:
        assert triage_queue(s, c.cw.calendar, "BXT", clock.now).rows == ()


def test_the_cli_drafts_approves_returns_and_records(case, clock, graph):
    c = case()
    code = c.ask()
    run = c.app.test_cli_runner().invoke
    no_approver = run(args=["inquiries", "answer", code, "--by", OFFICER.email, "--text", ANSWER])
    assert no_approver.exit_code == 1 and "--approved-by" in no_approver.output
    self_approved = run(args=["inquiries", "answer", code, "--by", HEAD.email, "--text", ANSWER,
                              "--approved-by", HEAD.email])
    assert self_approved.exit_code == 1 and c.rows(Draft) == []  # nothing left behind
    drafted = run(args=["inquiries", "draft", code, "--by", OFFICER.email, "--text", "Xem trên mạng"])
    draft_id = drafted.output.split("draft #")[1].split()[0]
    returned = run(args=["inquiries", "return", draft_id, "--by", HEAD.email, "--reason", "Chưa cụ thể"])
    assert returned.exit_code == 0 and "returned (bị trả lại)" in returned.output
    assert run(args=["inquiries", "approve", draft_id, "--by", HEAD.email]).exit_code == 1
    clock.advance(hours=2)
    recorded = run(args=["inquiries", "record", code, "--by", OFFICER.email, "--how", "email",
                         "--text", "Đã gửi email hướng dẫn", "--at", "2026-11-27T11:00"])
    assert recorded.exit_code == 0 and "answered by email" in recorded.output, recorded.output
    inquiry = c.inquiry(code)
    assert (inquiry.answered_at, inquiry.answered_via) == (datetime(2026, 11, 27, 11, 0, tzinfo=VN), "recorded")
    import json

    shown = json.loads(run(args=["inquiries", "show", code, "--json"]).output)
    assert shown["answered_via"] == "recorded" and [d["status"] for d in shown["drafts"]] == ["returned"]


def test_the_units_queue_states_filters_search_and_paging(case, clock):
    from cases.worklists import Filters, awaiting_approval, overview, unit_queue

    c = case()
    a = c.ask(sender="a")  # Fri 27/11 10:00: due Wed 02/12 17:00
    clock.set(datetime(2026, 11, 30, 9, 0, tzinfo=VN))  # the others: due Thu 03/12 17:00
    b, cc, d = (c.ask(QUESTION + f" (số {n})", sender=n) for n in ("b", "c", "d"))
    e = c.ask("Cho hỏi thủ tục hoàn thuế GTGT 100% cho doanh nghiệp", sender="e", to="THUE_QN")
    c.cw.request_coordination(e, ["SO_XD"], by="thue", reason="hỏi ý kiến")
    c.answers.draft(b, actor=OFFICER, text=ANSWER)
    c.answers.submit(c.answers.draft(cc, actor=DEPUTY, text=ANSWER).id, actor=DEPUTY)
    first = c.answers.submit(c.answers.draft(d, actor=OFFICER, text=ANSWER).id, actor=OFFICER)
    c.answers.return_draft(first.id, actor=HEAD, reason="Chưa đủ")
    clock.set(datetime(2026, 12, 3, 9, 0, tzinfo=VN))  # Thu: a is overdue, the others due today

    def queue(**filters):
        with c.session() as s:
            return unit_queue(s, c.cw.calendar, "SO_XD", clock.now, Filters(**filters))

    page = queue()
    # most urgent first; e's coordination has 2 working days from Mon 09:00: due Wed 17:00 like a
    assert [(r.code, r.role, r.state, r.overdue, r.due_today) for r in page.rows] == [
        (a, "lead", "new", True, False), (e, "coordinate", "new", True, False),
        (b, "lead", "drafting", False, True), (cc, "lead", "awaiting_approval", False, True),
        (d, "lead", "returned", False, True)]
    assert page.rows[0].working_left == -timedelta(hours=1.5) and page.rows[0].working_left_vi.startswith("đã quá hạn")
    assert page.rows[2].working_left == timedelta(hours=6) and page.rows[2].state_vi == "đang soạn"
    assert (page.rows[1].role_vi, page.rows[1].domain) == ("phối hợp", "thue")
    assert [r.code for r in queue(state="overdue").rows] == [a, e]
    assert [r.code for r in queue(state="awaiting_approval").rows] == [cc]
    assert [r.code for r in queue(role="coordinate").rows] == [e]
    assert [r.code for r in queue(domain="thue").rows] == [e]
    assert [r.code for r in queue(search=a.lower()[-6:]).rows] == [a]  # by code, any case
    assert [r.code for r in queue(search="(số c)").rows] == [cc]  # by text
    assert [r.code for r in queue(search="%").rows] == [e]  # LIKE's wildcards are plain characters
    assert queue(search="_").rows == () and queue(search="' OR 1=1 --").rows == ()  # bound, never SQL
    two = queue(per_page=2, page=3)
    assert (two.total, two.pages, [r.code for r in two.rows]) == (5, 3, [d])
    with pytest.raises(ValueError):
        queue(state="nope")
    with c.session() as s:
        for who, expected in ((HEAD, [cc]), (DEPUTY, []), (OFFICE, [cc]), (OFFICER, [])):
            rows = awaiting_approval(s, c.cw, who, clock.now)
            assert [r.code for r in rows] == expected, who
        [row] = awaiting_approval(s, c.cw, HEAD, clock.now)
        assert row.working_left == timedelta(hours=6) and not row.english and not row.window.is_open
        week = overview(s, c.cw, clock.now)
    assert week.week == "2026-W49"
    xd = {r.unit: r for r in week.rows}["SO_XD"]
    assert (xd.received, xd.open, xd.awaiting_approval, xd.overdue) == (3, 3, 1, 0)  # b, cc, d (a: last week)
