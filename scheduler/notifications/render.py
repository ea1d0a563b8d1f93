"""What an officer reads: the notice of an assignment, reminder or escalation, rendered from
Jinja2 templates (templates/notification.*) in Vietnamese, and the time phrases it uses."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).with_name("templates")
_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    keep_trailing_newline=True,
)

HEADLINES = {
    "assigned": "Đơn vị được giao trả lời phản ánh {code}",
    "triage": "Phản ánh {code} cần Ban Xúc tiến phân loại, giao đơn vị",
    "coordinate": "Đề nghị phối hợp cho ý kiến về phản ánh {code}",
    "reminder": "Nhắc hạn: phản ánh {code} sắp đến hạn trả lời",
    "escalation": "Quá hạn: phản ánh {code} chưa được trả lời",
    # the reminder stages of scheduler.timeline.timeline (Notification.kind stays "reminder")
    "reminder_before_due": "Nhắc hạn: phản ánh {code} sắp đến hạn trả lời",
    "reminder_half_time": "Nhắc hạn: phản ánh {code} đã qua một nửa thời hạn trả lời",
    "reminder_due_day": "Nhắc hạn: phản ánh {code} đến hạn trả lời trong hôm nay",
    "office_reminder": "Nhắc xử lý: cơ quan thường trực đề nghị trả lời phản ánh {code}",
    # the business edited its message (cases: Casework.reroute, Casework.tell_unit_of_edit)
    "transferred": "Phản ánh {code} đã được chuyển sang đơn vị khác",
    "edited": "Doanh nghiệp đã sửa nội dung phản ánh {code}",
}
# A sentence under the headline saying what is expected of the unit now.
NOTES = {
    "reminder_before_due": "Phản ánh chưa được trả lời và sắp đến hạn. Đề nghị đơn vị khẩn trương trả lời doanh nghiệp.",
    "reminder_half_time": "Đã qua một nửa thời gian trả lời cho phép mà phản ánh chưa được trả lời. "
                          "Đề nghị đơn vị khẩn trương xử lý.",
    "reminder_due_day": "Hôm nay là ngày cuối của thời hạn trả lời. Đề nghị đơn vị trả lời doanh nghiệp "
                        "trước khi hết giờ làm việc.",
    "office_reminder": "Cơ quan thường trực đề nghị đơn vị khẩn trương xử lý và trả lời doanh nghiệp.",
    "escalation": "Phản ánh đã quá hạn mà chưa được trả lời. Thư này được gửi đồng thời đến lãnh đạo đơn vị và "
                  "cơ quan thường trực, và được nhắc lại mỗi ngày làm việc cho đến khi doanh nghiệp được trả lời.",
}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def format_local(instant: datetime, tz: str = "Asia/Ho_Chi_Minh") -> str:
    return instant.astimezone(ZoneInfo(tz)).strftime("%H:%M ngày %d/%m/%Y")


def time_left_vi(hours: float) -> str:
    """Working hours left, as an officer reads it."""
    if hours <= 0:
        return "đã quá hạn"
    if hours < 1:
        return "còn dưới 1 giờ làm việc"
    return f"còn {hours:.0f} giờ làm việc"


def overdue_vi(hours: float) -> str:
    """Working hours past the deadline, as an officer reads it (9,5 not 10: a day is 9.5 h)."""
    if hours < 0.05:
        return "đã quá hạn"
    text = f"{hours:.0f}" if abs(hours - round(hours)) < 0.05 else f"{hours:.1f}".replace(".", ",")
    return f"đã quá hạn {text} giờ làm việc"


def render(kind: str, **fields) -> RenderedEmail:
    headline = HEADLINES[kind].format(code=fields["code"])
    subject = f"[DDCI Quảng Ninh] {headline}"
    values = {"note": NOTES.get(kind), "ended": False, **fields, "kind": kind, "headline": headline,
              "subject": subject}
    return RenderedEmail(
        subject=subject,
        text=_env.get_template("notification.txt").render(**values),
        html=_env.get_template("notification.html").render(**values),
    )
