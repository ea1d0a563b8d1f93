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
from store import Assignment, DeadlineChange, Draft, DraftEvent, Inquiry, InquiryMessage, Notification, Outbox
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


def test_the_lead_unit_or_a_unit_already_asked_is_not_asked_to_coordinate(case, clock):
    """An operator: `coordinate CODE SO_XD` on an inquiry SO_XD leads was accepted, and asking
    THUE_QN twice made two open assignments (one stayed open after its input, escalated)."""
    c = case()
    code = c.ask()
    with pytest.raises(CaseError, match="SO_XD leads") as lead:
        c.cw.request_coordination(code, ["SO_XD"], by=OFFICE.email, reason="hỏi ý kiến")
    assert "đang chủ trì" in lead.value.reason
    c.cw.request_coordination(code, ["THUE_QN"], by=OFFICE.email, reason="hỏi ý kiến về thuế")
    with pytest.raises(CaseError, match="THUE_QN is already asked") as again:
        c.cw.request_coordination(code, ["SO_TC", "THUE_QN"], by=OFFICE.email, reason="hỏi lại")
    assert "đã được đề nghị phối hợp" in again.value.reason
    with pytest.raises(CaseError, match="SO_TC is named twice"):
        c.cw.request_coordination(code, ["SO_TC", "SO_TC"], by=OFFICE.email, reason="hỏi ý kiến")
    coordinating = [a for a in c.rows(Assignment) if a.role == "coordinate"]
    assert [(a.unit_code, a.status) for a in coordinating] == [("THUE_QN", "open")]  # nothing else written
    c.cw.give_input(code, "THUE_QN", by="canbo@thue.quangninh.example", text="Không phát sinh nghĩa vụ thuế.")
    assert [a.status for a in c.rows(Assignment) if a.role == "coordinate"] == ["answered"]
    c.cw.request_coordination(code, ["THUE_QN"], by=OFFICE.email, reason="hỏi thêm")  # answered: may be asked again
    run = c.app.test_cli_runner().invoke(args=["inquiries", "coordinate", code, "THUE_QN", "--by", OFFICE.email,
                                               "--reason", "lần nữa"])
    assert run.exit_code == 1 and "already asked" in run.output
    assert [a.status for a in c.rows(Assignment) if a.role == "coordinate"] == ["answered", "open"]


BLANKS = [
    ("assign", lambda cw, code, by, why: cw.assign(code, "SO_TC", by=by, reason=why)),
    ("complex", lambda cw, code, by, why: cw.mark_complex(code, by=by, reason=why)),
    ("coordinate", lambda cw, code, by, why: cw.request_coordination(code, ["THUE_QN"], by=by, reason=why)),
    ("send-back", lambda cw, code, by, why: cw.send_back(code, by=by, reason=why)),
]


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
@pytest.mark.parametrize("name, call", BLANKS, ids=[n for n, _ in BLANKS])
def test_a_change_with_a_blank_who_or_why_is_refused(case, clock, name, call, blank):
    """An operator: `complex CODE --by "" --reason ""` stored a deadline change with neither."""
    c = case()
    code = c.ask()
    before = (c.rows(Assignment), c.rows(DeadlineChange))
    with pytest.raises(CaseError, match="who does it") as no_who:
        call(c.cw, code, blank, "một lý do")
    assert no_who.value.reason == "Chưa ghi người thực hiện."
    with pytest.raises(CaseError, match="needs a reason") as no_why:
        call(c.cw, code, OFFICE.email, blank)
    assert no_why.value.reason.startswith("Cần nêu lý do")
    after = (c.rows(Assignment), c.rows(DeadlineChange))
    assert [[(a.id, a.status, a.due_at) for a in rows] for rows in after] == \
        [[(a.id, a.status, a.due_at) for a in rows] for rows in before]  # nothing written


def test_other_actions_refuse_a_blank_who_and_the_cli_says_why(case, clock):
    c = case()
    code = c.ask()
    c.cw.request_coordination(code, ["THUE_QN"], by=" " + OFFICE.email + " ", reason=" hỏi ý kiến ")
    [stored] = [ch for ch in c.rows(DeadlineChange) if ch.old_due_at is None and ch.reason.startswith("hỏi")]
    assert (stored.changed_by, stored.reason) == (OFFICE.email, "hỏi ý kiến")  # kept without the blanks
    for call in (lambda: c.cw.remind(code, by=" "),
                 lambda: c.cw.give_input(code, "THUE_QN", by=" ", text="Ý kiến"),
                 lambda: c.cw.answer(code, by=""),
                 lambda: c.answers.record(code, by=" ", how="phone", text="Đã gọi điện")):
        with pytest.raises(CaseError, match="who does it"):
            call()
    d = c.answers.submit(c.answers.draft(code, actor=OFFICER, text=ANSWER).id, actor=OFFICER)
    with pytest.raises(CaseError, match="who does it"):
        c.answers.return_draft(d.id, actor=Actor(" ", "head", "SO_XD"), reason="Chưa cụ thể")
    run = c.app.test_cli_runner().invoke
    changes = len(c.rows(DeadlineChange))
    result = run(args=["inquiries", "complex", code, "--by", "", "--reason", ""])
    assert result.exit_code == 1 and "who does it (by) is empty" in result.output
    result = run(args=["inquiries", "complex", code, "--by", OFFICE.email, "--reason", "  "])
    assert result.exit_code == 1 and "needs a reason" in result.output
    assert len(c.rows(DeadlineChange)) == changes and c.inquiry(code).status == "assigned"
    assert c.rows(Draft)[0].status == "submitted"


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


def test_a_send_back_leaves_the_coordinating_units_asked(case, clock):
    """Intended (Casework.send_back): the input is on the inquiry's matter, for its next lead."""
    c = case()
    code = c.ask()
    c.cw.request_coordination(code, ["THUE_QN"], by=OFFICE.email, reason="hỏi ý kiến về thuế")
    c.cw.send_back(code, by=HEAD.email, reason="Không thuộc thẩm quyền của Sở")
    assert {(a.role, a.unit_code): a.status for a in c.rows(Assignment)} == {
        ("lead", "SO_XD"): "returned", ("coordinate", "THUE_QN"): "open", ("triage", "BXT"): "open"}
    c.cw.give_input(code, "THUE_QN", by="canbo@thue.quangninh.example", text="Không phát sinh nghĩa vụ thuế.")


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


def test_the_cli_takes_the_role_and_unit_of_the_persons_console_account(case, clock):
    """An operator: a head created with `flask users create --role head` was refused by
    `approve` unless --role head was given, and a disabled account approved with --role head."""
    c = case()
    code = c.ask()
    run = c.app.test_cli_runner().invoke
    boss = "truongphong@soxd.quangninh.example"  # in no approvers list of config.yml
    assert run(args=["users", "create", "--email", boss, "--unit", "SO_XD", "--role", "head"]).exit_code == 0
    drafted = run(args=["inquiries", "draft", code, "--by", OFFICER.email, "--text", ANSWER])
    draft_id = drafted.output.split("draft #")[1].split()[0]
    officer = run(args=["inquiries", "approve", draft_id, "--by", boss, "--role", "officer"])
    assert officer.exit_code == 1 and "is head in the console, not officer" in officer.output
    elsewhere = run(args=["inquiries", "approve", draft_id, "--by", boss, "--unit", "SO_TC"])
    assert elsewhere.exit_code == 1 and "belongs to SO_XD in the console, not SO_TC" in elsewhere.output
    assert run(args=["users", "disable", "--email", boss]).exit_code == 0
    disabled = run(args=["inquiries", "approve", draft_id, "--by", boss.upper(), "--role", "head"])
    assert disabled.exit_code == 1 and "disabled" in disabled.output
    assert c.rows(Draft)[0].status == "submitted"
    # ... and every other change in a disabled account's name (a review: only drafts checked)
    for args in (["remind", code], ["complex", code, "--reason", "x"], ["send-back", code, "--reason", "x"],
                 ["record", code, "--how", "phone", "--text", "x"], ["assign", code, "SO_TC", "--reason", "x"]):
        refused = run(args=["inquiries", *args, "--by", boss])
        assert refused.exit_code == 1 and "disabled" in refused.output, (args, refused.output)
    assert c.inquiry(code).status == "assigned" and c.inquiry(code).unit_code == "SO_XD"
    assert run(args=["users", "enable", "--email", boss]).exit_code == 0
    approved = run(args=["inquiries", "approve", draft_id, "--by", boss])
    assert approved.exit_code == 0, approved.output
    assert c.rows(Draft)[0].status == "approved" and c.history(int(draft_id))[-1] == ("approved", boss)
    # without an account, config.yml decides, as before
    again = c.ask(sender="4455667788")
    drafted = run(args=["inquiries", "draft", again, "--by", OFFICER.email, "--text", ANSWER])
    second = drafted.output.split("draft #")[1].split()[0]
    assert run(args=["inquiries", "approve", second, "--by", HEAD.email]).exit_code == 0


def test_the_cli_prints_the_recorded_instant_in_local_time(case, clock):
    """An operator: `record` printed `at 2026-12-04T20:20:18.903182+00:00` (README: local time)."""
    from datetime import timezone

    c = case()
    code = c.ask()
    clock.set(datetime(2026, 11, 27, 13, 20, 18, 903182, tzinfo=timezone.utc))
    result = c.app.test_cli_runner().invoke(args=["inquiries", "record", code, "--by", OFFICER.email,
                                                  "--how", "phone", "--text", "Đã gọi điện hướng dẫn"])
    assert result.exit_code == 0, result.output
    assert "answered by phone (điện thoại) at 2026-11-27T20:20:18+07:00, recorded by" in result.output
    assert c.inquiry(code).answered_at == clock.now  # stored as it was, to the microsecond


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


def test_every_change_made_with_the_cli_is_in_the_audit_log(case, clock, graph):
    """The CLI has no login: each change is logged as the console's are, under the operating
    system's user who ran it, with the --by it claimed; a refused command logs nothing."""
    import getpass

    from store import AuditEntry
    from store import audit as log

    c = case()
    code, other, third = c.ask(), c.ask(QUESTION + " (lần 2)", sender="b"), c.ask(QUESTION + " (lần 3)", sender="c")
    run = c.app.test_cli_runner().invoke

    def ok(*args):
        result = run(args=["inquiries", *args])
        assert result.exit_code == 0, result.output
        return result.output

    ok("remind", code, "--by", OFFICE.email)
    ok("complex", code, "--by", OFFICE.email, "--reason", "cần xác minh")
    ok("coordinate", code, "SO_TC", "--by", OFFICE.email, "--reason", "hỏi ý kiến")
    ok("input", code, "SO_TC", "--by", "canbo@sotc.quangninh.example", "--text", "Không vướng về tài chính")
    first = ok("draft", code, "--by", OFFICER.email, "--text", "Xem trên mạng").split("draft #")[1].split()[0]
    ok("return", first, "--by", HEAD.email, "--reason", "Chưa cụ thể")
    second = ok("draft", code, "--by", OFFICER.email, "--text", ANSWER).split("draft #")[1].split()[0]
    refused = run(args=["inquiries", "approve", second, "--by", OFFICER2.email])  # not an approver
    assert refused.exit_code == 1
    ok("approve", second, "--by", HEAD.email)
    ok("send-back", other, "--by", OFFICER.email, "--reason", "Không thuộc thẩm quyền")
    ok("assign", other, "SO_TC", "--by", OFFICE.email, "--reason", "thuộc tài chính")
    ok("answer", third, "--by", OFFICER.email, "--text", ANSWER, "--approved-by", HEAD.email)
    with c.session() as s:
        entries = s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
        got = [(e.action, e.object_id, e.details["on_behalf_of"]) for e in entries]
        assert {(e.actor, e.address) for e in entries} == {(f"cli:{getpass.getuser()}", "cli")}
    assert got == [
        (log.INQUIRY_REMIND, code, OFFICE.email), (log.INQUIRY_COMPLEX, code, OFFICE.email),
        (log.INQUIRY_COORDINATE, code, OFFICE.email), (log.INPUT_GIVE, code, "canbo@sotc.quangninh.example"),
        (log.DRAFT_CREATE, code, OFFICER.email), (log.DRAFT_SUBMIT, code, OFFICER.email),
        (log.DRAFT_RETURN, code, HEAD.email), (log.DRAFT_CREATE, code, OFFICER.email),
        (log.DRAFT_SUBMIT, code, OFFICER.email), (log.DRAFT_APPROVE, code, HEAD.email),
        (log.INQUIRY_SEND_BACK, other, OFFICER.email), (log.INQUIRY_ASSIGN, other, OFFICE.email),
        (log.DRAFT_CREATE, third, OFFICER.email), (log.DRAFT_SUBMIT, third, OFFICER.email),
        (log.DRAFT_APPROVE, third, HEAD.email)]


def test_a_status_lookup_of_an_answered_inquiry_says_when_it_was_answered(case, clock, graph):
    """Not the deadline, which no longer matters (a walkthrough read "đã trả lời, …, hạn …")."""
    c = case()
    code = c.ask()
    clock.advance(hours=2)
    c.answers.record(code, by=OFFICER.email, how="phone", text="Đã gọi điện hướng dẫn")
    clock.advance(hours=1)
    signed_post(c.client, with_text(load_fixture("text_message.json"), f"mã {code} của em có trả lời chưa ạ",
                                    mid="m-lookup"))
    c.worker.run_once()
    sender = load_fixture("text_message.json")["entry"][0]["messaging"][0]["sender"]["id"]
    reply = graph.messages_to(sender)[-1].text
    assert reply == f"{code}: đã trả lời lúc 12:00 thứ Sáu, ngày 27/11/2026, Sở Xây dựng", reply

# ---- an undeliverable answer goes when the business writes again -----------------------------
SATURDAY_NIGHT = datetime(2026, 11, 28, 3, 16, tzinfo=VN)  # the window closes Sunday 03:16: no office time


def undeliverable_answer(c, clock, *, text=QUESTION, language=None, answer=ANSWER):
    """An inquiry written Saturday 03:16 whose answer is approved on Monday: Messenger's window
    (24 h, the page has no Human Agent permission) closed on Sunday, so it is undeliverable
    and the unit is told. Returns the inquiry's code and the draft."""
    clock.set(SATURDAY_NIGHT)
    code = c.ask(text)
    clock.set(datetime(2026, 11, 30, 9, 0, tzinfo=VN))
    d = c.answers.submit(c.answers.draft(code, actor=OFFICER, text=answer, language=language).id, actor=OFFICER)
    c.answers.approve(d.id, actor=HEAD)
    c.worker.run_once()
    [row] = c.rows(Outbox, Outbox.author == "human")
    assert row.status == "undeliverable" and c.rows(Draft)[-1].status == "undeliverable"
    return code, d


def sends_of(graph, code):
    return [call for call in graph.calls if call.path.endswith("/me/messages") and code in (call.text or "")
            and ("Trả lời phản ánh" in call.text or "Answer to inquiry" in call.text)]


def write(c, text):
    c.n += 1
    signed_post(c.client, with_text(load_fixture("text_message.json"), text, mid=f"m{c.n}"))


def test_an_undeliverable_answer_goes_when_the_business_writes_again(case, clock, graph, smtp):
    from store import AuditEntry

    c = case()
    code, d = undeliverable_answer(c, clock)
    [told] = [n for n in c.rows(Notification) if n.kind == "undeliverable"]
    assert "past 24 hours" not in told.body_text and "đã quá 24 giờ" in told.body_text  # Vietnamese for officers
    assert "nhắn tin lại" in told.body_text  # what happens if the business writes again
    assert sends_of(graph, code) == []
    clock.set(datetime(2026, 11, 30, 10, 40, tzinfo=VN))
    write(c, "có ai không ạ")
    c.worker.run_once()
    [sent] = sends_of(graph, code)  # approved already: no new draft, no new approval
    assert ANSWER in sent.text and sent.text.startswith(f"Trả lời phản ánh {code}")
    assert len(c.rows(Inquiry)) == 1 and graph.calls[-1] is sent  # the answer is the reply: no new inquiry
    assert [(m.direction, m.text) for m in c.rows(InquiryMessage)][-2:] == [("in", "có ai không ạ"), ("out", ANSWER)]
    assert sent.body["messaging_type"] == "RESPONSE"
    inquiry = c.inquiry(code)
    assert (inquiry.status, inquiry.answered_at, inquiry.answered_via) == ("answered", clock.now, "approved")
    [draft] = c.rows(Draft)
    assert (draft.status, draft.sent_at) == ("sent", clock.now)
    assert [a for a, _ in c.history(d.id)] == ["created", "submitted", "approved", "undeliverable", "queued_again",
                                               "sent"]
    [reached] = [n for n in c.rows(Notification) if n.kind == "answer_delivered"]
    assert reached.recipients == told.recipients and code in reached.subject
    assert "không cần liên hệ" in reached.body_text and "10:40 thứ Hai, ngày 30/11/2026" in reached.body_text
    [audit] = c.rows(AuditEntry, AuditEntry.action == "answer.sent")
    assert audit.actor == "worker" and audit.object_id == code
    # the next message does not send it again; a status lookup says it is answered
    clock.advance(minutes=5)
    write(c, "cảm ơn ạ")
    write(c, code)
    c.worker.run_once()
    assert len(sends_of(graph, code)) == 1
    assert "đã trả lời" in graph.calls[-1].text and "đang xử lý" not in graph.calls[-1].text


def test_in_english_for_a_business_that_wrote_in_english(case, clock, graph, smtp):
    c = case()
    code, _ = undeliverable_answer(c, clock, text=ENGLISH, answer="You need the application form and the drawings.")
    clock.set(datetime(2026, 11, 30, 14, 0, tzinfo=VN))
    write(c, "Hello, is anyone there?")
    c.worker.run_once()
    [sent] = sends_of(graph, code)
    assert sent.text.startswith(f"Answer to inquiry {code}") and "application form" in sent.text
    assert c.inquiry(code).answered_at == clock.now


def test_two_quick_messages_send_the_answer_once(case, clock, graph, smtp):
    c = case()
    code, _ = undeliverable_answer(c, clock)
    clock.set(datetime(2026, 11, 30, 10, 40, tzinfo=VN))
    write(c, "có ai không ạ")
    write(c, "alo")
    c.worker.run_once()
    assert len(sends_of(graph, code)) == 1
    assert len(c.rows(Outbox, Outbox.author == "human", Outbox.status == "sent")) == 1
    assert len([n for n in c.rows(Notification) if n.kind == "answer_delivered"]) == 1


def test_a_status_lookup_sends_the_waiting_answer_instead_of_in_progress(case, clock, graph, smtp):
    c = case()
    code, _ = undeliverable_answer(c, clock)
    clock.set(datetime(2026, 11, 30, 11, 0, tzinfo=VN))
    write(c, code)
    c.worker.run_once()
    assert len(sends_of(graph, code)) == 1
    [status] = [call for call in graph.calls if call.text and call.text.startswith(f"{code}:")]
    assert "đang xử lý" not in status.text and "đã có câu trả lời" in status.text
    assert c.inquiry(code).status == "answered"


def test_an_answer_recorded_as_given_another_way_is_not_sent(case, clock, graph, smtp):
    c = case()
    code, _ = undeliverable_answer(c, clock)
    clock.set(datetime(2026, 11, 30, 10, 0, tzinfo=VN))
    c.answers.record(code, by=OFFICER.email, how="phone", text="Đã gọi điện hướng dẫn hồ sơ")
    clock.advance(hours=1)
    write(c, "có ai không ạ")
    c.worker.run_once()
    assert sends_of(graph, code) == []
    inquiry = c.inquiry(code)
    assert (inquiry.answered_via, inquiry.answered_at) == ("recorded", datetime(2026, 11, 30, 10, 0, tzinfo=VN))
    assert [n for n in c.rows(Notification) if n.kind == "answer_delivered"] == []


def test_a_newer_draft_is_the_units_word_not_the_undeliverable_one(case, clock, graph, smtp):
    c = case()
    code, _ = undeliverable_answer(c, clock)
    c.answers.draft(code, actor=OFFICER, text="Câu trả lời đang soạn lại")
    clock.advance(hours=1)
    write(c, "có ai không ạ")
    c.worker.run_once()
    assert sends_of(graph, code) == [] and c.inquiry(code).status == "assigned"


def test_the_unit_is_told_when_the_business_adds_to_its_inquiry_and_a_waiting_draft_is_named(case, clock, smtp):
    """A walkthrough corrected its inquiry after a draft was submitted ("À em nhầm, … Quảng
    Yên chứ không phải Cẩm Phả"): nothing told the unit, and the head could approve the old
    answer. One notice per half hour, naming the draft that waits."""
    from store import Notification

    c = case()
    code = c.ask()
    d = c.answers.submit(c.answers.draft(code, actor=OFFICER, text=ANSWER).id, actor=OFFICER)
    for minutes, text in ((5, "À em nhầm, nhà xưởng ở thị xã Quảng Yên chứ không phải Cẩm Phả ạ"),
                          (2, "Diện tích nhà xưởng khoảng 2.000 m2 ạ")):
        clock.advance(minutes=minutes)
        signed_post(c.client, with_text(load_fixture("text_message.json"), text, mid=f"m-add-{minutes}"))
        c.worker.run_once()
    added = c.rows(Notification, Notification.kind == "added", Notification.channel == "email")
    assert len(added) == 1, [n.body_text for n in added]  # the second addition, 2 minutes later: no second e-mail
    [notice] = added
    assert notice.subject.endswith(f"Doanh nghiệp gửi thêm nội dung cho phản ánh {code}")
    assert "Quảng Yên chứ không phải Cẩm Phả" in notice.body_text
    assert f"Dự thảo trả lời #{d.id} đang chờ duyệt được soạn trước nội dung này" in notice.body_text
    assert [m.text for m in c.rows(InquiryMessage) if m.direction == "in"][-1] == "Diện tích nhà xưởng khoảng 2.000 m2 ạ"
    # and the inquiry's page warns whoever would approve it
    from tests.console import PEOPLE, add_user, login

    add_user(c.app, PEOPLE["head_a"])
    browser = c.app.test_client()
    assert login(browser, PEOPLE["head_a"]).status_code == 302
    page = browser.get(f"/inquiries/{code}").get_data(as_text=True)
    assert "Doanh nghiệp đã gửi thêm 2 tin nhắn sau khi dự thảo này được trình" in page


def test_the_look_for_a_waiting_answer_is_made_only_when_the_window_may_have_closed(case, clock):
    """Every message of a known sender paid a join and a flush for it (a review of the hot
    path); only a day without a word from the business can have left an answer waiting."""
    c = case()
    c.ask()
    looked = []
    real = c.worker.conversation.cases.answers.send_waiting
    c.worker.conversation.cases.answers.send_waiting = lambda *a, **k: looked.append(k["at"]) or real(*a, **k)
    for n, hours in enumerate((0.1, 2, 25)):
        clock.advance(hours=hours)
        signed_post(c.client, with_text(load_fixture("text_message.json"), f"Dạ em bổ sung thêm ý {n} ạ",
                                        mid=f"m-more-{n}"))
        c.worker.run_once()
    assert looked == [clock.now]  # after 25 hours of silence only


def test_a_console_account_may_do_on_the_command_line_only_what_it_may_in_the_console(case):
    """A sysadmin's walkthrough: `flask inquiries assign … --by <an officer's e-mail>` went
    through, though only the standing office assigns in the console."""
    from tests.console import PEOPLE, add_user

    c = case()
    for who in ("officer_a", "officer_b", "office", "admin"):
        add_user(c.app, PEOPLE[who])
    code = c.ask()  # Sở Xây dựng leads
    run = c.app.test_cli_runner().invoke
    officer, other, office, admin = (PEOPLE[w].email for w in ("officer_a", "officer_b", "office", "admin"))
    for args in (["assign", code, "THUE_QN"], ["coordinate", code, "THUE_QN"], ["remind", code]):
        for by in (officer, admin):
            result = run(args=["inquiries", *args, "--by", by, "--reason", "thử"] if args[0] != "remind"
                         else ["inquiries", *args, "--by", by])
            assert result.exit_code == 1 and "only the standing office may" in result.output, (args, by, result.output)
    result = run(args=["inquiries", "send-back", code, "--by", other, "--reason", "không phải của tôi"])
    assert result.exit_code == 1 and "only the lead unit's officers may send an inquiry back" in result.output
    assert run(args=["inquiries", "complex", code, "--by", other, "--reason", "x"]).exit_code == 1
    from store import AuditEntry

    assert c.inquiry(code).unit_code == "SO_XD"
    assert [e for e in c.rows(AuditEntry) if e.action in ("inquiry.assign", "inquiry.send_back")] == []
    done = run(args=["inquiries", "complex", code, "--by", officer, "--reason", "cần ý kiến nhiều sở"])
    assert done.exit_code == 0, done.output
    done = run(args=["inquiries", "assign", code, "THUE_QN", "--by", office, "--reason", "thuộc lĩnh vực thuế"])
    assert done.exit_code == 0 and c.inquiry(code).unit_code == "THUE_QN", done.output
    # the standing office's own officer does not send back what the office leads (as in the console)
    from tests.console import Person

    bxt_officer = Person("bxt_officer", "canbo@bxt.example", "BXT", "officer")
    add_user(c.app, bxt_officer)
    assert run(args=["inquiries", "assign", code, "BXT", "--by", office, "--reason", "cơ quan thường trực trả lời"]
               ).exit_code == 0
    result = run(args=["inquiries", "send-back", code, "--by", bxt_officer.email, "--reason", "x"])
    assert result.exit_code == 1 and "only the lead unit's officers may send an inquiry back" in result.output
    # a --by without an account is trusted, as before (module docstring of bot/cli/inquiries.py)
    done = run(args=["inquiries", "assign", code, "SO_XD", "--by", "ai.do@bxt.example", "--reason", "trả lại"])
    assert done.exit_code == 0, done.output
