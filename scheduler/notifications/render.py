"""What an officer reads: the notice of an assignment, reminder or escalation, rendered from
Jinja2 templates (templates/notification.*) in Vietnamese, and the time phrases it uses.

Every notice states the recipient's own role on the inquiry and its own deadline (issue 11):
the lead unit, a coordinating unit, the standing office triaging."""
from __future__ import annotations

import math

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape

from scheduler.calendar import weekday_vi

TEMPLATES = Path(__file__).with_name("templates")
_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    keep_trailing_newline=True,
)

# Each notice speaks to its recipient in the role of its own assignment (Decision 3887/QĐ-UBND,
# Art. 9.3 and 9.5(đ)): the lead unit answers the business, a coordinating unit sends its input
# to the lead unit, the standing office triages. A coordination or triage notice never carries
# the lead unit's wording or its number of days.
ROLES = ("lead", "coordinate", "triage")
ROLE_LABELS = {"lead": "Đơn vị chủ trì", "coordinate": "Đơn vị phối hợp",
               "triage": "Cơ quan thường trực phân loại"}
DUE_LABELS = {"lead": "Hạn trả lời doanh nghiệp", "coordinate": "Hạn gửi ý kiến cho đơn vị chủ trì",
              "triage": "Hạn phân loại, giao đơn vị"}
# the duty as a noun phrase ("thời hạn …", "đến hạn …") and as what to do ("đề nghị đơn vị …")
DUTY = {"lead": "trả lời", "coordinate": "gửi ý kiến phối hợp", "triage": "phân loại, giao đơn vị"}
DO = {"lead": "trả lời doanh nghiệp", "coordinate": "gửi ý kiến cho đơn vị chủ trì",
      "triage": "phân loại và giao phản ánh cho đơn vị có thẩm quyền"}
DO_SHORT = {"lead": "trả lời", "coordinate": "gửi ý kiến phối hợp về", "triage": "phân loại"}
HOW_LABELS = {"lead": "Cách trả lời", "coordinate": "Cách gửi ý kiến", "triage": "Việc cần làm"}
NOT_DONE = {"lead": "chưa được trả lời", "coordinate": "chưa có ý kiến phối hợp",
            "triage": "chưa được phân loại, giao đơn vị"}

HEADLINES = {
    "assigned": "Đơn vị được giao trả lời phản ánh {code}",
    "triage": "Phản ánh {code} cần phân loại, giao đơn vị có thẩm quyền",
    "coordinate": "Đề nghị phối hợp cho ý kiến về phản ánh {code}",
    "reminder": "Nhắc hạn: phản ánh {code} sắp đến hạn {duty}",
    "escalation": "Quá hạn: phản ánh {code} {not_done}",
    # the reminder stages of scheduler.timeline.timeline (Notification.kind stays "reminder")
    "reminder_before_due": "Nhắc hạn: phản ánh {code} sắp đến hạn {duty}",
    "reminder_half_time": "Nhắc hạn: phản ánh {code} đã qua một nửa thời hạn {duty}",
    "reminder_due_day": "Nhắc hạn: phản ánh {code} đến hạn {duty} trong hôm nay",
    "office_reminder": "Nhắc xử lý: cơ quan thường trực đề nghị {do_short} phản ánh {code}",
    # the business edited its message (cases: Casework.reroute, Casework.tell_unit_of_edit)
    "transferred": "Phản ánh {code} đã được chuyển sang đơn vị khác",
    "edited": "Doanh nghiệp đã sửa nội dung phản ánh {code}",
    "added": "Doanh nghiệp gửi thêm nội dung cho phản ánh {code}",
}
# A sentence under the headline saying what is expected of the recipient now.
NOTES = {
    "reminder_before_due": "Phản ánh sắp đến hạn {duty}. Đề nghị đơn vị khẩn trương {do}.",
    "reminder_half_time": "Đã qua một nửa thời gian cho phép mà phản ánh {not_done}. Đề nghị đơn vị khẩn trương {do}.",
    "reminder_due_day": "Hôm nay là ngày cuối của thời hạn {duty}. Đề nghị đơn vị {do} trước khi hết giờ làm việc.",
    "escalation": "Phản ánh đã quá hạn mà {not_done}. Thư này được gửi đồng thời đến lãnh đạo đơn vị và "
                  "cơ quan thường trực, và được nhắc lại mỗi ngày làm việc cho đến khi đơn vị {do}.",
    "office_reminder": "Cơ quan thường trực đề nghị đơn vị khẩn trương {do}.",
}
PROVISIONAL_VI = "tạm tính"


def provisional_note_vi(year: int) -> str:
    """Why a deadline is "tạm tính": the year's days off are the holidays package's guess."""
    return (f"Hạn tạm tính: lịch nghỉ lễ, nghỉ bù năm {year} chưa được khai báo trong hệ thống; hạn có thể "
            "thay đổi khi cơ quan có thẩm quyền công bố lịch nghỉ chính thức.")


def rule_vi(role: str, days: int, *, complex_case: bool = False) -> str:
    """The recipient's own time limit, as the notice's closing sentence. `days` is the
    assignment's number of working days, which the deadline policy gave it."""
    if role == "coordinate":
        return (f"Theo Quyết định 3887/QĐ-UBND, đơn vị phối hợp gửi ý kiến cho đơn vị chủ trì trong {days} "
                "ngày làm việc kể từ khi nhận được đề nghị phối hợp.")
    if role == "triage":
        # the standing office's time to assign is this deployment's rule (deadlines.triage_days)
        return (f"Cơ quan thường trực phân loại và giao phản ánh cho đơn vị có thẩm quyền trong {days} "
                "ngày làm việc kể từ khi tiếp nhận.")
    if complex_case:
        return (f"Phản ánh được xác định là phức tạp: theo Quyết định 3887/QĐ-UBND, đơn vị chủ trì trả lời "
                f"doanh nghiệp trong tối đa {days} ngày làm việc kể từ khi được giao.")
    return (f"Theo Quyết định 3887/QĐ-UBND, đơn vị chủ trì trả lời doanh nghiệp trong {days} ngày làm việc "
            "kể từ khi nhận được phản ánh.")


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def format_local(instant: datetime, tz: str = "Asia/Ho_Chi_Minh", *, provisional: bool = False) -> str:
    """"17:00 thứ Tư, ngày 02/12/2026" (the day of the week, as the business's texts say it:
    cases.replies.when); a deadline in a year whose days off are not yet declared is marked
    "(tạm tính)" (scheduler.calendar.WorkingCalendar.is_declared)."""
    local = instant.astimezone(ZoneInfo(tz))
    text = f"{local:%H:%M} {weekday_vi(local)}, ngày {local:%d/%m/%Y}"
    return f"{text} ({PROVISIONAL_VI})" if provisional else text


def time_left_vi(hours: float) -> str:
    """Working hours left, as an officer reads it: cut down to the half hour, never rounded up
    (a review saw 37.5 h shown as "còn 38 giờ", half an hour more than there was, while 22.5 h
    was "còn 22 giờ": `:.0f` rounds halves to even), and a half hour said as overdue_vi says it
    (a working day is 7,5 h)."""
    if hours <= 0:
        return "đã quá hạn"
    if hours < 1:
        return "còn dưới 1 giờ làm việc"
    halves = math.floor(hours * 2 + 1e-6)  # a float a hair under a half (22.499999999999996) is 22,5
    return f"còn {halves // 2}{',5' if halves % 2 else ''} giờ làm việc"


def overdue_vi(hours: float) -> str:
    """Working hours past the deadline, as an officer reads it (7,5 not 8: a day is 7.5 h)."""
    if hours < 0.05:
        return "đã quá hạn"
    text = f"{hours:.0f}" if abs(hours - round(hours)) < 0.05 else f"{hours:.1f}".replace(".", ",")
    return f"đã quá hạn {text} giờ làm việc"


def render(kind: str, *, role: str, **fields) -> RenderedEmail:
    """A notice of `kind` (or reminder stage) to the unit holding an assignment of `role`."""
    if role not in ROLES:
        raise ValueError(f"unknown assignment role {role!r}")
    words = {"code": fields["code"], "duty": DUTY[role], "do": DO[role], "not_done": NOT_DONE[role],
             "do_short": DO_SHORT[role]}
    headline = HEADLINES[kind].format(**words)
    note = NOTES[kind].format(**words) if kind in NOTES else None
    subject = f"[DDCI Quảng Ninh] {headline}"
    values = {"note": note, "ended": False, "gone": False, **fields, "kind": kind, "role": role, "role_label": ROLE_LABELS[role],
              "due_label": DUE_LABELS[role], "how_label": HOW_LABELS[role], "headline": headline, "subject": subject}
    return RenderedEmail(
        subject=subject,
        text=_env.get_template("notification.txt").render(**values),
        html=_env.get_template("notification.html").render(**values),
    )
