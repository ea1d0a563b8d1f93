"""Answers to a business: drafted, approved by another person, sent, and only then counted.

Decision 3887/QĐ-UBND, Art. 9.5(a) and 8.4 (who approves: cases/approval.py). A draft moves

    draft ──submit──▶ submitted ──approve──▶ approved ──(delivery sends it)──▶ sent
      │  (edit)           │                      └──(the channel cannot)──▶ undeliverable
      │                   │                  approved ◀──(the business writes again)──┘
      └──withdraw──▶ withdrawn   └──return (reason)──▶ returned  (a new draft may follow it)

and any draft still in the work (draft, submitted) becomes `superseded` when the inquiry is
answered some other way or given to another unit. Every step is a DraftEvent (who, when, the
text or the reason).

**The clock stops when the answer is sent**, not when it is drafted or approved: approval
queues the message (an outbox row written by `Casework.reply`, author "human"); the delivery
loop calls `delivered()` in the same short transaction that records the successful attempt, and
the inquiry and its open assignments are answered at the send time. If the channel cannot
deliver it (Messenger's window has closed), the draft is `undeliverable`, the inquiry stays open
and the unit is told (Casework.undeliverable); the unit then records the answer it gave
another way (`record`: phone, e-mail, in person, a letter), which stops the clock at the time
it says. If the business writes again first (the window opens again: an evening or weekend
inquiry's window often closes before office hours), the approved answer goes at once, as
approved, before the reply to that message (`send_waiting`); the clock stops when it is sent
and the unit is told that it reached the business (Casework.answer_reached). An answer typed directly on the channel's page (Meta Business Suite) stops the clock
too but is marked `answered_via = "page"` ("gửi không qua phê duyệt").

Two approvers pressing "approve" at once: the approval is a conditional UPDATE (`WHERE status =
'submitted'`), so exactly one wins and one message is queued; the other gets `Conflict`.

The actor is plain values (cases.approval.Actor); scoping (who may see which inquiry) is the
console's, these methods check only the lifecycle's own rules.
"""
from __future__ import annotations

import unicodedata

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Optional

from sqlalchemy import func, select, update
from sqlalchemy.orm import aliased

from cases import queries, replies
from cases.approval import Actor, ApprovalRules, DraftFacts, same_person
from cases.errors import CaseError, Conflict, ContentBlocked, NotAllowed, who
from cases.outbox import Address, Reply, screen
from scheduler.notifications.render import format_local
from store import OPEN_INQUIRY_STATUSES, Conversation, Draft, DraftEvent, Inquiry, Outbox
from store import audit

# draft statuses, and the ones still in the work (at most one per inquiry)
IN_WORK = ("draft", "submitted")
IN_FLIGHT = IN_WORK + ("approved",)  # an approved draft is on its way: no second answer meanwhile
STATUS_VI = {
    "draft": "đang soạn", "submitted": "chờ duyệt", "returned": "bị trả lại", "approved": "đã duyệt, đang gửi",
    "sent": "đã gửi", "undeliverable": "không gửi được", "withdrawn": "đã rút", "superseded": "không còn hiệu lực",
}
ACTION_VI = {
    "created": "soạn", "edited": "sửa", "submitted": "trình duyệt", "approved": "duyệt", "returned": "trả lại",
    "sent": "đã gửi", "undeliverable": "không gửi được", "withdrawn": "rút", "superseded": "không còn hiệu lực",
    "queued_again": "gửi lại khi doanh nghiệp nhắn tin lại",
}
# how an answer given outside the bot was given (record)
HOW_VI = {"phone": "điện thoại", "email": "email", "in_person": "trực tiếp", "letter": "văn bản", "other": "cách khác"}
LANGUAGES = ("vi", "en")
MAX_TEXT = 8000  # a long answer is a letter, sent another way; Messenger cuts at 2000 anyway

WindowFor = Callable[[object, Address], Optional[datetime]]  # (session, address) -> when it closes; None: never
TextLimitFor = Callable[[Address], Optional[int]]  # the longest text one message may carry; None: no limit


@dataclass(frozen=True)
class DraftView:
    """A draft as the console and the CLI show it (plain values, safe after the session)."""

    id: int
    inquiry_id: int
    code: str
    unit: str
    author: str
    author_role: str
    author_approver: bool
    language: str
    business_language: str
    text: str
    status: str
    previous_id: Optional[int]
    submitted_at: Optional[datetime]
    decided_by: Optional[str]
    decided_at: Optional[datetime]
    return_reason: Optional[str]
    outbox_id: Optional[int]
    sent_at: Optional[datetime]
    created_at: datetime
    updated_at: datetime

    @property
    def status_vi(self) -> str:
        return STATUS_VI.get(self.status, self.status)

    @property
    def facts(self) -> DraftFacts:
        return DraftFacts(self.unit, self.author, self.author_approver, self.language, self.business_language,
                          self.status)

    @classmethod
    def of(cls, d: Draft, inquiry: Inquiry) -> "DraftView":
        return cls(d.id, d.inquiry_id, inquiry.code, d.unit_code, d.author, d.author_role, bool(d.author_approver),
                   d.language, inquiry.language, d.text, d.status, d.previous_id, d.submitted_at, d.decided_by,
                   d.decided_at, d.return_reason, d.outbox_id, d.sent_at, d.created_at, d.updated_at)


@dataclass(frozen=True)
class Recorded:
    """An answer given another way, as recorded (also what the console writes in its audit log)."""

    code: str
    by: str
    how: str
    at: datetime
    text: str

    @property
    def how_vi(self) -> str:
        return HOW_VI.get(self.how, self.how)


@dataclass(frozen=True)
class AnswerWindow:
    """How long a person's answer can still reach the business through its channel.

    `closes_at` None: the channel sets no limit (a reply under a comment, a channel without a
    window). `approval_too_late`: it closes within `approval_margin` of office time (or has
    closed), so a draft approved in the usual way would arrive too late: the page warns, and
    offers the business's phone and e-mail."""

    closes_at: Optional[datetime]
    is_open: bool
    time_left: Optional[timedelta]
    working_time_left: Optional[timedelta]
    approval_too_late: bool
    phone: Optional[str]
    email: Optional[str]

    @property
    def closed_at_known(self) -> bool:
        """False when the business never wrote on the channel (no last message on record: the
        Messenger policy's epoch), so the page says "closed" without "at 01/01/1970"."""
        return self.closes_at is not None and self.closes_at.year > 1970


class Answers:
    """Drafts, approvals, the send hook and answers given another way. Built by Casework
    (`casework.answers`), whose `reply` writes the outbox row and `stop_clock` the assignments."""

    def __init__(self, cases, *, rules: ApprovalRules, window_for: Optional[WindowFor] = None,
                 approval_margin: timedelta = timedelta(hours=2), text_limit_for: Optional[TextLimitFor] = None):
        self.cases, self.rules = cases, rules
        self.window_for = window_for or (lambda s, address: None)
        self.text_limit_for = text_limit_for or (lambda address: None)
        self.approval_margin = approval_margin

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.cases.clock

    # ---- the rules, for the console's buttons --------------------------------------------
    def can_approve(self, actor_email: str, actor_role: str, actor_unit: str, draft: DraftView | DraftFacts):
        """Verdict (truthy when allowed, with `code` and a Vietnamese `reason`): whether to
        show this person the approve / return buttons of `draft`."""
        return self.rules.can_approve(actor_email, actor_role, actor_unit,
                                      draft.facts if isinstance(draft, DraftView) else draft)

    # ---- drafting ------------------------------------------------------------------------
    def _screen(self, inquiry, text: str) -> None:
        """A draft with prohibited content (Decision 3887, Art. 9.5(b)) is refused as it is
        written, with the reason, rather than at approval: raises ContentBlocked."""
        screen(Reply(text), public=self.cases.opened_in_public(inquiry), author="human",
               rules=self.cases.content_rules)

    def _fits(self, inquiry, text: str, language: str, unit_code: str) -> None:
        """The answer as it will be sent (its heading with the code and the unit, then the text)
        must fit in one message of the inquiry's channel: Messenger takes 2,000 characters and
        cut the rest off (a review's 2,530-character answer reached the business cut
        mid-sentence, while the console said it was sent). Refused as it is written, with how
        much to cut and the other way to answer; not split into several messages, which could
        arrive out of order or, after a crash, in part twice."""
        limit = self.text_limit_for(self.cases.address(inquiry, public=self.cases.opened_in_public(inquiry)))
        if limit is None:
            return
        unit = self.cases.directory.get(unit_code)
        name = unit.display(language) if unit else unit_code
        total = len(replies.answer(language, code=inquiry.code, unit_name=name, text=text))
        if total > limit:
            def n(value: int) -> str:  # 2.530: Vietnamese groups thousands with a dot
                return f"{value:,}".replace(",", ".")
            raise CaseError(
                f"the answer is {total} characters with its heading; the channel takes {limit}",
                f"Câu trả lời quá dài để gửi trong một tin: {n(total)} ký tự kể cả dòng mở đầu, kênh này nhận tối đa "
                f"{n(limit)} ký tự; cần bớt ít nhất {n(total - limit)} ký tự. Nếu cần gửi văn bản đầy đủ, hãy gửi "
                "bằng cách khác (điện thoại, e-mail, công văn) rồi dùng “Ghi nhận trả lời bằng cách khác”.")

    def draft(self, code: str, *, actor: Actor, text: str, language: Optional[str] = None,
              session=None) -> DraftView:
        """Start the lead unit's answer (after a returned draft, the new one follows it)."""
        text = _clean(text)
        with self.cases._work(session) as s:
            inquiry = self.cases.find(s, code)
            self._screen(inquiry, text)
            lead = self._lead(s, inquiry)
            if actor.role == "admin" or actor.unit != lead.unit_code:
                raise NotAllowed(f"only {lead.unit_code} drafts the answer to {inquiry.code}", "not_lead_unit",
                                 "chỉ cán bộ của đơn vị chủ trì soạn trả lời")
            latest = self._latest(s, inquiry.id)
            if latest is not None and latest.status in IN_FLIGHT:
                raise CaseError(f"{inquiry.code} already has draft #{latest.id} ({STATUS_VI[latest.status]})",
                                f"Phản ánh đã có dự thảo #{latest.id} ({STATUS_VI[latest.status]}).")
            language = language or inquiry.language
            if language not in LANGUAGES:
                raise CaseError(f"unknown language {language!r} (vi or en)", "Ngôn ngữ trả lời phải là tiếng Việt hoặc tiếng Anh.")
            self._fits(inquiry, text, language, lead.unit_code)
            now = self.clock()
            d = Draft(inquiry_id=inquiry.id, unit_code=lead.unit_code, author=_email(actor.email),
                      author_role=actor.role,
                      author_approver=self.rules.is_approver(actor.email, actor.role, actor.unit, lead.unit_code),
                      language=language, text=text, status="draft",
                      previous_id=latest.id if latest is not None and latest.status == "returned" else None,
                      created_at=now, updated_at=now)
            s.add(d)
            s.flush()
            self._event(s, d, actor.email, "created", text=text)
            return DraftView.of(d, inquiry)

    def edit(self, draft_id: int, *, actor: Actor, text: str, session=None) -> DraftView:
        """The author changes the text while it is still a draft (not once it is submitted:
        an approver approves what they read; a change after that is a return and a new draft)."""
        text = _clean(text)
        with self.cases._work(session) as s:
            d, inquiry = self._get(s, draft_id)
            self._author_only(d, actor, "edit")
            if d.status != "draft":
                raise CaseError(f"draft #{d.id} is {d.status}: only a draft being written can be edited",
                                f"Dự thảo #{d.id} {STATUS_VI.get(d.status, d.status)}: chỉ sửa được khi đang soạn.")
            self._screen(inquiry, text)
            self._fits(inquiry, text, d.language, d.unit_code)
            d.text, d.updated_at = text, self.clock()
            self._event(s, d, actor.email, "edited", text=text)
            return DraftView.of(d, inquiry)

    def submit(self, draft_id: int, *, actor: Actor, session=None) -> DraftView:
        """Put the draft "chờ duyệt". Under the unit's `heads_send_vi` setting a Vietnamese
        answer by one of its approvers is approved and queued at once (never an English one)."""
        with self.cases._work(session) as s:
            d, inquiry = self._get(s, draft_id)
            self._author_only(d, actor, "submit")
            self._still_answerable(s, d, inquiry)
            now = self.clock()
            if s.execute(update(Draft).where(Draft.id == d.id, Draft.status == "draft")
                         .values(status="submitted", submitted_at=now, updated_at=now)
                         .execution_options(synchronize_session=False)).rowcount != 1:
                raise Conflict(f"draft #{d.id} is no longer being written",
                               f"Dự thảo #{d.id} không còn ở trạng thái đang soạn.")
            s.refresh(d)
            self._event(s, d, actor.email, "submitted")
            if self.rules.sends_on_submit(self.facts(d, inquiry)):
                self._approve(s, d, inquiry, by=actor.email,
                              note="đơn vị cho phép lãnh đạo gửi trả lời tiếng Việt không cần người duyệt thứ hai")
            return DraftView.of(d, inquiry)

    def withdraw(self, draft_id: int, *, actor: Actor, session=None) -> DraftView:
        """The author takes back a draft not yet approved."""
        with self.cases._work(session) as s:
            d, inquiry = self._get(s, draft_id)
            self._author_only(d, actor, "withdraw")
            now = self.clock()
            if s.execute(update(Draft).where(Draft.id == d.id, Draft.status.in_(IN_WORK))
                         .values(status="withdrawn", updated_at=now)
                         .execution_options(synchronize_session=False)).rowcount != 1:
                raise Conflict(f"draft #{d.id} is {d.status}: it can no longer be withdrawn",
                               f"Dự thảo #{d.id} {STATUS_VI.get(d.status, d.status)}: không rút lại được nữa.")
            s.refresh(d)
            self._event(s, d, actor.email, "withdrawn")
            return DraftView.of(d, inquiry)

    # ---- approving -----------------------------------------------------------------------
    def approve(self, draft_id: int, *, actor: Actor, session=None) -> DraftView:
        """Approve a submitted draft: the answer is queued to the business (sent by the
        delivery loop; the clock stops when it is sent). Four eyes: never by its author."""
        with self.cases._work(session) as s:
            d, inquiry = self._get(s, draft_id)
            self._allowed(d, inquiry, actor)
            self._still_answerable(s, d, inquiry)
            self._approve(s, d, inquiry, by=actor.email)
            return DraftView.of(d, inquiry)

    def return_draft(self, draft_id: int, *, actor: Actor, reason: str, session=None) -> DraftView:
        """Send a submitted draft back to the unit with a reason (kept in its history); the unit
        writes a new draft, which follows this one."""
        who(actor.email)
        reason = (reason or "").strip()
        if not reason:
            raise CaseError("a return needs a reason", "Cần nêu lý do trả lại dự thảo.")
        with self.cases._work(session) as s:
            d, inquiry = self._get(s, draft_id)
            self._allowed(d, inquiry, actor)
            now = self.clock()
            if s.execute(update(Draft).where(Draft.id == d.id, Draft.status == "submitted")
                         .values(status="returned", decided_by=_email(actor.email), decided_at=now,
                                 return_reason=reason, updated_at=now)
                         .execution_options(synchronize_session=False)).rowcount != 1:
                raise Conflict(f"draft #{d.id} was approved or returned by someone else first", _decided_vi(d.id))
            s.refresh(d)
            self._event(s, d, actor.email, "returned", note=reason)
            return DraftView.of(d, inquiry)

    def _approve(self, s, d: Draft, inquiry: Inquiry, *, by: str, note: Optional[str] = None) -> Outbox:
        now = self.clock()
        # the conditional UPDATE comes first: of two approvers at once, one wins, the other
        # changes nothing (PostgreSQL re-reads the row after the winner commits; SQLite
        # serialises the writers) and no second message is queued
        if s.execute(update(Draft).where(Draft.id == d.id, Draft.status == "submitted")
                     .values(status="approved", decided_by=_email(by), decided_at=now, updated_at=now)
                     .execution_options(synchronize_session=False)).rowcount != 1:
            raise Conflict(f"draft #{d.id} was approved or returned by someone else first", _decided_vi(d.id))
        s.refresh(d)
        text = unicodedata.normalize("NFC", d.text)  # as _clean keeps it (a draft saved before it did)
        self._fits(inquiry, text, d.language, d.unit_code)  # a draft written before the limit was checked
        unit = self.cases.directory.get(d.unit_code)
        name = unit.display(d.language) if unit else d.unit_code
        row = self.cases.reply(s, inquiry.id, f"answer:draft:{d.id}",
                               Reply(replies.answer(d.language, code=inquiry.code, unit_name=name, text=text)),
                               address=self.cases.address(inquiry, public=self.cases.opened_in_public(inquiry)),
                               author="human")
        s.flush()
        d.outbox_id = row.id
        self._event(s, d, by, "approved", note=note)
        return row

    # ---- the delivery loop's hooks (in its short transaction) ------------------------------
    def delivered(self, s, row: Outbox, at: datetime, *, channel_title: Optional[str] = None) -> bool:
        """`row` was sent at `at`: if it carries an approved answer, the clock stops now. An
        answer sent when the business wrote again (`send_waiting`) after the unit was told it
        could not be sent: the unit is told that it has reached the business after all."""
        if row.author != "human" or row.inquiry_id is None:
            return False
        d = s.execute(select(Draft).where(Draft.outbox_id == row.id)).scalar_one_or_none()
        if d is None:
            return False
        d.status, d.sent_at, d.updated_at = "sent", at, self.clock()
        self._event(s, d, "delivery", "sent", at=at)
        inquiry = s.get(Inquiry, d.inquiry_id)
        self.cases.add_message(s, inquiry, direction="out", source="officer", text=d.text, at=at)
        stopped = inquiry.status in OPEN_INQUIRY_STATUSES  # not already answered another way meanwhile
        if stopped:
            self.cases.stop_clock(s, inquiry, at=at, by=d.author, text=d.text, via="approved")
        again = s.execute(select(DraftEvent.id).where(DraftEvent.draft_id == d.id,
                                                      DraftEvent.action == "queued_again").limit(1)).first() is not None
        details = {"draft": d.id, "author": d.author, "approved_by": d.decided_by, "clock_stopped": stopped}
        if again:
            details["after_undeliverable"] = True
        audit.record(s, at=at, action=audit.ANSWER_SENT, actor="worker", object_type="inquiry", object_id=inquiry.code,
                     details=details)
        if again:
            self.cases.answer_reached(s, inquiry, row, d, at=at, clock_stopped=stopped, channel_title=channel_title)
        return True

    def undelivered(self, s, row: Outbox, reason: str) -> None:
        """The channel will not deliver `row`: its draft says so; the inquiry stays open."""
        d = s.execute(select(Draft).where(Draft.outbox_id == row.id)).scalar_one_or_none()
        if d is not None and d.status == "approved":
            d.status, d.updated_at = "undeliverable", self.clock()
            self._event(s, d, "delivery", "undeliverable", note=reason)
            inquiry = s.get(Inquiry, d.inquiry_id)
            audit.record(s, at=self.clock(), action=audit.ANSWER_UNDELIVERABLE, actor="worker", object_type="inquiry",
                         object_id=inquiry.code, details={"draft": d.id, "reason": reason})

    # ---- an undeliverable answer, sent when the business writes again ----------------------
    def send_waiting(self, s, page_id: str, sender_id: str, *, at: datetime) -> list[Outbox]:
        """The business has just written to the page (at `at`, in the caller's transaction):
        Messenger's window is open again, so an approved answer that could not be sent because
        it had closed goes now, as it was approved (no new approval, no new draft). Such an
        answer waits when, for an inquiry of this sender on this page that was written
        privately (an answer under a comment has no window) and is still open:
        - its latest draft is `undeliverable` and its outbox row was refused for the window
          (status "undeliverable": the channel's plan said so, or it kept failing until the
          window closed); one the channel refused for good ("failed": the person blocked the
          page, a bad parameter) would only fail again;
        - the unit that wrote it still leads (not given to another unit meanwhile), and the
          unit has started no newer draft (a draft after it, even withdrawn, is its later word).
        An answer recorded as given another way (`record`) has answered the inquiry: never sent.
        The draft goes back to `approved` by a conditional UPDATE (two messages of the business
        handled at once, by two workers: one wins, one row is queued) and a new outbox row is
        queued with the text first approved, keyed by the refused row (`answer:draft:<id>:
        after:<row>`); the delivery loop sends it like any reply (at least once), stops the
        clock at the send (`delivered`) and the unit is told that it reached the business. A
        text the content filter now refuses is not sent (it stays undeliverable). Returns the
        rows queued."""
        newer = aliased(Draft)
        latest = select(func.max(newer.id)).where(newer.inquiry_id == Inquiry.id).correlate(Inquiry).scalar_subquery()
        found = s.execute(select(Draft, Inquiry, Outbox).join(Inquiry, Inquiry.id == Draft.inquiry_id)
                          .join(Outbox, Outbox.id == Draft.outbox_id).where(
            Inquiry.page_id == page_id, Inquiry.sender_id == sender_id, Inquiry.comment_id.is_(None),
            Inquiry.status.in_(OPEN_INQUIRY_STATUSES), Draft.status == "undeliverable", Draft.id == latest,
            Outbox.status == "undeliverable").order_by(Draft.id)).all()
        queued: list[Outbox] = []
        for d, inquiry, refused in found:
            lead = queries.lead(s, inquiry)
            if lead is None or lead.unit_code != d.unit_code:
                continue
            reply = Reply.from_json(refused.message)
            try:
                screen(reply, public=False, author="human", rules=self.cases.content_rules)
            except ContentBlocked:
                continue
            now = self.clock()
            if s.execute(update(Draft).where(Draft.id == d.id, Draft.status == "undeliverable")
                         .values(status="approved", updated_at=now)
                         .execution_options(synchronize_session=False)).rowcount != 1:
                continue  # another worker has queued it
            s.refresh(d)
            row = self.cases.reply(s, inquiry.id, f"answer:draft:{d.id}:after:{refused.id}", reply,
                                   address=self.cases.address(inquiry), author="human")
            s.flush()
            d.outbox_id = row.id
            self._event(s, d, "delivery", "queued_again",
                        note=f"doanh nghiệp nhắn tin lại lúc {format_local(at)}; gửi câu trả lời đã duyệt")
            queued.append(row)
        return queued

    def waiting(self, s, inquiry_ids) -> set[int]:
        """Of these inquiries, those whose approved answer is on its way or waits for the
        business to write again (`send_waiting`): the status a business looks up says so, not
        "đang xử lý"."""
        ids = list(inquiry_ids)
        if not ids:
            return set()
        latest = select(func.max(Draft.id)).where(Draft.inquiry_id.in_(ids)).group_by(Draft.inquiry_id)
        return set(s.execute(select(Draft.inquiry_id).join(Outbox, Outbox.id == Draft.outbox_id).where(
            Draft.id.in_(latest), ((Draft.status == "approved") & (Outbox.status.in_(("pending", "held"))))
            | ((Draft.status == "undeliverable") & (Outbox.status == "undeliverable")))).scalars())

    def supersede(self, s, inquiry: Inquiry, *, by: str, note: str) -> None:
        """Drafts still in the work are moot (answered another way, or another unit's now)."""
        now = self.clock()
        for d in s.execute(select(Draft).where(Draft.inquiry_id == inquiry.id, Draft.status.in_(IN_WORK))).scalars():
            d.status, d.updated_at = "superseded", now
            self._event(s, d, by, "superseded", note=note)

    # ---- an answer given another way -------------------------------------------------------
    def record(self, code: str, *, by: str, how: str, text: str, at: Optional[datetime] = None,
               session=None) -> Recorded:
        """The unit answered by phone, e-mail, in person or by letter (typically after Messenger's
        window closed): the clock stops at `at` (default now; not in the future, not before the
        inquiry arrived). Returns what the console writes in its audit log."""
        if how not in HOW_VI:
            raise CaseError(f"unknown way {how!r}: one of {', '.join(HOW_VI)}", "Cách trả lời không hợp lệ.")
        by, text = who(by), _clean(text)
        now = self.clock()
        at = at or now
        if at.tzinfo is None:
            raise CaseError("the time of the answer needs a time zone", "Thời điểm trả lời cần có múi giờ.")
        with self.cases._work(session) as s:
            inquiry = self.cases.find(s, code)
            if inquiry.status not in OPEN_INQUIRY_STATUSES:
                raise CaseError(f"{inquiry.code} is already {inquiry.status}", f"Phản ánh {inquiry.code} đã được "
                                f"trả lời hoặc đã đóng.")
            if at > now or at < inquiry.received_at:
                raise CaseError("the answer's time must be between the inquiry's receipt and now",
                                "Thời điểm trả lời phải sau khi nhận phản ánh và không muộn hơn hiện tại.")
            self.cases.add_message(s, inquiry, direction="out", source="recorded", text=text, at=at)
            self.cases.stop_clock(s, inquiry, at=at, by=_email(by), text=text, via="recorded", how=how)
            return Recorded(inquiry.code, _email(by), how, at, text)

    # ---- what the inquiry page shows about answering --------------------------------------
    def window(self, s, inquiry: Inquiry) -> AnswerWindow:
        """Messenger's (or another channel's) window for a person's answer, as plain values."""
        now = self.clock()
        conv = s.get(Conversation, (inquiry.page_id, inquiry.sender_id))
        phone, email = (conv.phone, conv.email) if conv is not None else (None, None)
        public = self.cases.opened_in_public(inquiry)
        closes = self.window_for(s, self.cases.address(inquiry, public=public))
        if closes is None:
            return AnswerWindow(None, True, None, None, False, phone, email)
        working = self.cases.calendar.working_time_between(now, closes)
        return AnswerWindow(closes, closes > now, max(closes - now, timedelta(0)), working,
                            closes <= now or working < self.approval_margin, phone, email)

    # ---- internals -----------------------------------------------------------------------
    def facts(self, d: Draft, inquiry: Inquiry) -> DraftFacts:
        return DraftFacts(d.unit_code, d.author, bool(d.author_approver), d.language, inquiry.language, d.status)

    def _allowed(self, d: Draft, inquiry: Inquiry, actor: Actor) -> None:
        verdict = self.rules.can_approve(actor.email, actor.role, actor.unit, self.facts(d, inquiry))
        if not verdict:
            if verdict.code == "not_submitted":
                raise Conflict(f"draft #{d.id} is {d.status}, not awaiting approval",
                               f"Dự thảo #{d.id} {STATUS_VI.get(d.status, d.status)}, không còn chờ duyệt.")
            raise NotAllowed(f"{actor.email} may not approve draft #{d.id}: {verdict.reason}", verdict.code,
                             verdict.reason)

    @staticmethod
    def _author_only(d: Draft, actor: Actor, what: str) -> None:
        if not same_person(actor.email, d.author):
            raise NotAllowed(f"only the author ({d.author}) may {what} draft #{d.id}", "not_author",
                             "chỉ người soạn dự thảo được làm việc này")

    def _still_answerable(self, s, d: Draft, inquiry: Inquiry) -> None:
        """The inquiry must still wait for this unit's answer; otherwise the draft is moot."""
        lead = queries.lead(s, inquiry)
        if inquiry.status not in OPEN_INQUIRY_STATUSES or lead is None or lead.unit_code != d.unit_code:
            raise CaseError(f"{inquiry.code} no longer waits for {d.unit_code}'s answer "
                            f"({inquiry.status}, now with {lead.unit_code if lead else '-'})",
                            f"Phản ánh {inquiry.code} không còn chờ đơn vị này trả lời (đã trả lời hoặc đã chuyển "
                            f"đơn vị khác).")

    def _lead(self, s, inquiry: Inquiry):
        if inquiry.status not in OPEN_INQUIRY_STATUSES:
            raise CaseError(f"{inquiry.code} is already {inquiry.status}",
                            f"Phản ánh {inquiry.code} đã được trả lời hoặc đã đóng.")
        lead = queries.lead(s, inquiry)
        if lead is None or lead.role != "lead":
            raise CaseError(f"{inquiry.code} has no lead unit yet (assign it first)",
                            f"Phản ánh {inquiry.code} chưa có đơn vị chủ trì (cần giao trước).")
        return lead

    @staticmethod
    def _latest(s, inquiry_id: int) -> Optional[Draft]:
        return s.execute(select(Draft).where(Draft.inquiry_id == inquiry_id)
                         .order_by(Draft.id.desc()).limit(1)).scalars().first()

    @staticmethod
    def _get(s, draft_id: int) -> tuple[Draft, Inquiry]:
        d = s.get(Draft, draft_id)
        if d is None:
            raise CaseError(f"no draft #{draft_id}", f"Không có dự thảo #{draft_id}.")
        return d, s.get(Inquiry, d.inquiry_id)

    def _event(self, s, d: Draft, by: str, action: str, *, text: Optional[str] = None, note: Optional[str] = None,
               at: Optional[datetime] = None) -> None:
        s.add(DraftEvent(draft_id=d.id, at=at or self.clock(), by=_email(by) if "@" in by else by, action=action,
                         text=text, note=note))


def _email(value: str) -> str:
    return (value or "").strip().lower()


def _clean(text: str) -> str:
    """An officer's answer, trimmed and in NFC (a keyboard in "Unicode tổ hợp" sends it
    decomposed: it would reach the business so, and count a third longer against the limit)."""
    text = unicodedata.normalize("NFC", (text or "").strip())
    if not text:
        raise CaseError("the answer is empty", "Nội dung trả lời đang để trống.")
    if len(text) > MAX_TEXT:
        raise CaseError(f"the answer is longer than {MAX_TEXT} characters",
                        f"Nội dung dài quá {MAX_TEXT} ký tự.")
    return text


def _decided_vi(draft_id: int) -> str:
    return f"Dự thảo #{draft_id} đã được người khác duyệt hoặc trả lại trước bạn; không có gì thay đổi."
