"""The inquiry page's view: the case file (cases.casefile, the same as `flask inquiries show`),
the classifier's runner-up, and what the logged-in person may do on it.

`Powers` only decides which forms and buttons the page shows (and why an approver cannot
approve); every action is checked again by cases when it is sent, so a button shown by a
stale page is refused with the rule's reason, never obeyed.

The labels below put the lifecycle's codes into the Vietnamese an officer reads. The routing
trace's own lines are the router's technical English (`flask routing explain` prints the
same): the page names the rule in Vietnamese and keeps the lines under "chi tiết kỹ thuật".
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from flask_login import current_user
from sqlalchemy import select

from bot import context, runtime
from bot.console.scope import visible
from bot.console.work import casework, working_left
from cases import DraftView, Verdict, queries
from cases.answers import ACTION_VI, HOW_VI
from cases.approval import DraftFacts, same_person
from cases.casefile import CaseFile, Notice, case_file
from store import OPEN_INQUIRY_STATUSES, Assignment, ClassificationRecord, Inquiry

RULE_VI = {
    "unsure": "Bộ phân loại chưa chắc chắn: chuyển Ban Xúc tiến phân loại",
    "complaint": "Phản ánh về cán bộ: đơn vị bị phản ánh chủ trì",
    "zone": "Dự án trong khu kinh tế, khu công nghiệp: Ban Quản lý Khu kinh tế chủ trì",
    "page": "Gửi đến trang của đơn vị: đơn vị giữ lại",
    "domain": "Theo lĩnh vực: đơn vị quản lý lĩnh vực chủ trì",
    "no_rule": "Chưa có đơn vị quản lý lĩnh vực này: Ban Xúc tiến phân loại",
}
SOURCE_VI = {"messenger": "Doanh nghiệp (Messenger)", "comment": "Doanh nghiệp (bình luận)", "bot": "Hệ thống (tự động)",
             "officer": "Đơn vị trả lời (đã duyệt)", "page_inbox": "Trả lời trên trang (không qua phê duyệt)",
             "recorded": "Đơn vị trả lời bằng cách khác (ghi nhận)"}
DELIVERY_VI = {"pending": "chờ gửi", "sent": "đã gửi", "failed": "gửi lỗi", "undeliverable": "không gửi được",
               "held": "tạm giữ (ứng dụng khác đang giữ hội thoại)"}
NOTICE_KIND_VI = {"assigned": "Giao xử lý", "triage": "Chờ phân loại", "coordinate": "Đề nghị phối hợp",
                  "reminder": "Nhắc hạn", "escalation": "Cảnh báo quá hạn", "office_reminder": "Ban Xúc tiến nhắc",
                  "undeliverable": "Không gửi được cho doanh nghiệp", "transferred": "Đã chuyển đơn vị khác",
                  "edited": "Doanh nghiệp sửa tin nhắn", "added": "Doanh nghiệp gửi thêm nội dung", "answer_delivered": "Đã gửi được trả lời cho doanh nghiệp"}
NOTICE_STATE_VI = {"sent": "đã gửi", "pending": "chờ gửi", "failed": "gửi lỗi", "retry": "sẽ gửi lại",
                   "planned": "dự kiến"}
STAGE_VI = {"half_time": "khi đã qua nửa thời hạn", "due_day": "sáng ngày đến hạn", "before_due": "trước hạn",
            "overdue": ""}
VIA_VI = {"approved": "gửi cho doanh nghiệp sau khi được duyệt", "recorded": "trả lời bằng cách khác",
          "page": "gửi không qua phê duyệt (gõ trực tiếp trên trang)"}
ENTITY_VI = {"location": "Địa danh", "tax_code": "Mã số thuế", "phone": "Điện thoại", "email": "Email",
             "tracking_code": "Mã tra cứu"}
CHANNEL_VI = {"messenger": "Messenger", "comment": "Bình luận trên Facebook"}


def notice_what_vi(n: Notice) -> str:
    """A sent notice's subject as it went; a planned one's stage, in Vietnamese."""
    if n.state != "planned":
        return n.what
    stage, _, rest = n.what.partition(" (")
    text = STAGE_VI.get(stage, stage)
    return f"{text} (đã đến lúc, gửi khi cơ quan mở cửa)".strip() if rest else text


@dataclass(frozen=True)
class Powers:
    """What this person may do on this inquiry now (which forms the page shows)."""

    lead: bool  # their unit leads the open inquiry: draft, record another way, complex, send back
    new_draft: bool  # may start a draft now (their unit leads; no draft in the work or on its way)
    own: bool  # the draft in the work is theirs: edit, submit, withdraw
    approve: Optional[Verdict]  # the submitted draft: may they approve it, or why not
    sends_on_submit: bool  # their submit sends at once (the unit's heads_send_vi; never English)
    coordinating: Optional[Assignment]  # their unit's open coordination duty: write its input
    office: bool  # the standing office: assign (correct the domain), coordinate, remind
    complex: bool
    send_back: bool
    remind: bool


@dataclass(frozen=True)
class CasePage:
    file: CaseFile
    classification: Optional[ClassificationRecord]
    powers: Powers
    lead: Optional[Assignment]  # the open lead (or triage) assignment
    working_left: Optional[timedelta]  # office time left before the inquiry's due time (negative: past it)
    english: bool  # the business wrote in English: every answer needs a second approver (Art. 8.4)
    current: Optional[DraftView]  # the draft in the work or on its way
    returned: Optional[DraftView]  # the latest returned draft, when nothing follows it yet
    undeliverable: Optional[DraftView]  # the latest draft, approved but undeliverable (the window closed)
    sent_draft: Optional[DraftView]  # the approved draft whose sending answered the inquiry
    open_duties: tuple  # open assignments (the remind form's choices)
    now: datetime
    related: tuple = ()  # the business's other inquiries on this page that this person may see (`related`)

    @property
    def inquiry(self):
        return self.file.inquiry

    @property
    def is_open(self) -> bool:
        return self.file.inquiry.status in OPEN_INQUIRY_STATUSES

    @property
    def added_since_draft(self) -> int:
        """Messages the business wrote after the current draft was written (submitted, or
        saved): the head is warned before approving an answer to what was since corrected (a
        walkthrough); the unit was e-mailed too (Casework.tell_unit_of_addition)."""
        d = self.current
        since = (d.submitted_at or d.created_at) if d is not None else None
        if since is None:
            return 0
        return sum(1 for m in self.file.thread if m.direction == "in" and m.source != "page_inbox" and m.at > since)

    @property
    def rule_vi(self) -> str:
        rule = (self.inquiry.routing_trace or {}).get("rule")
        return RULE_VI.get(rule, rule or "—")

    @property
    def answered_via_vi(self) -> str:
        i = self.inquiry
        text = VIA_VI.get(i.answered_via or "", i.answered_via or "")
        return f"{text}: {HOW_VI.get(i.answered_how, i.answered_how)}" if i.answered_via == "recorded" and \
            i.answered_how else text

    @property
    def runner_up(self) -> Optional[tuple[str, float]]:
        c = self.classification
        if c is None or not c.runner_up:
            return None
        return c.runner_up, c.runner_up_confidence


def load(s, code: str, at: datetime) -> Optional[CasePage]:
    """The page of inquiry `code` for the current user (the caller has checked scope)."""
    settings, cw = context.settings(), casework()
    f = case_file(s, cw, code, plan=runtime.reminder_plan(settings), now=at,
                  grace=timedelta(hours=settings.config.reminders.missed_grace_hours))
    if f is None:
        return None
    inquiry = f.inquiry
    record = s.execute(select(ClassificationRecord).where(
        ClassificationRecord.event_id == inquiry.source_event_id)).scalar_one_or_none()
    lead = queries.lead(s, inquiry) if inquiry.status in OPEN_INQUIRY_STATUSES else None
    duties = tuple(a for a in f.assignments if a.status == "open")
    current = f.open_draft
    latest = f.drafts[-1].draft if f.drafts else None
    returned = latest if latest is not None and latest.status == "returned" else None
    undeliverable = latest if latest is not None and latest.status == "undeliverable" else None
    sent = next((r.draft for r in reversed(f.drafts) if r.draft.status == "sent"), None)
    english = inquiry.language == "en"
    return CasePage(f, record, _powers(inquiry, lead, duties, current, english), lead,
                    working_left(inquiry.due_at, at) if inquiry.due_at and lead else None, english, current,
                    returned, undeliverable, sent, duties, at, related(s, inquiry))


RELATED_SHOWN = 10


def related(s, inquiry) -> tuple:
    """The same business's other inquiries on the same page, newest first, among those the
    logged-in person may see (bot.console.scope: another unit's stay unnamed, as a 404 would).

    Why: a business that writes again after its answer ("vậy bản vẽ nộp ở đâu?") opens a new
    inquiry, and the officer who gets it did not see what was asked and answered before (a
    walkthrough). The conversation's thread stays per inquiry; this list links the others."""
    query = visible(select(Inquiry).where(Inquiry.page_id == inquiry.page_id, Inquiry.sender_id == inquiry.sender_id,
                                          Inquiry.id != inquiry.id, Inquiry.code.is_not(None)))
    return tuple(s.execute(query.order_by(Inquiry.id.desc()).limit(RELATED_SHOWN)).scalars())


def _powers(inquiry, lead, duties, current: Optional[DraftView], english: bool) -> Powers:
    cw, u = casework(), current_user
    rules = cw.answers.rules
    is_open = inquiry.status in OPEN_INQUIRY_STATUSES
    leads = bool(is_open and lead is not None and lead.role == "lead" and lead.unit_code == u.unit_code
                 and u.role != "admin")
    office = is_open and u.role == "standing_office"
    own = current is not None and current.status in ("draft", "submitted") and same_person(current.author, u.email)
    verdict = None
    if current is not None and current.status == "submitted":
        verdict = cw.answers.can_approve(u.email, u.role, u.unit_code, current)
    if current is not None and current.status == "draft":
        facts = current.facts
    else:
        facts = DraftFacts(lead.unit_code if lead else u.unit_code, u.email,
                           rules.is_approver(u.email, u.role, u.unit_code, lead.unit_code if lead else ""),
                           "en" if english else "vi", inquiry.language, "draft")
    coordinating = next((a for a in duties if a.role == "coordinate" and a.unit_code == u.unit_code), None)
    complex_days = cw.policy.days_for("lead", complex_case=True)
    can_complex = (leads or office) and lead is not None and lead.role == "lead" and lead.working_days < complex_days
    return Powers(
        lead=leads, new_draft=leads and current is None, own=own, approve=verdict,
        sends_on_submit=rules.sends_on_submit(facts), coordinating=coordinating if u.role != "admin" else None,
        office=office, complex=can_complex,
        send_back=leads and lead.unit_code != rules.standing_office, remind=office and bool(duties))


def history_vi(action: str) -> str:
    return ACTION_VI.get(action, action)


ROLE_VI = {"lead": "chủ trì", "coordinate": "phối hợp", "triage": "phân loại"}
