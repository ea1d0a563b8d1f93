"""What the business reads about its inquiry: Vietnamese by default, English for a business
that wrote in English. Numbers of days come from the deadline policy and names from the
taxonomy and the units' data (in the business's language), never from the wording.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional
from zoneinfo import ZoneInfo

from routing.taxonomy import domain_name

TZ = ZoneInfo("Asia/Ho_Chi_Minh")

STATUS_NAMES = {
    "vi": {"triage": "đang phân loại", "assigned": "đang xử lý", "answered": "đã trả lời", "closed": "đã đóng"},
    "en": {"triage": "being triaged", "assigned": "in progress", "answered": "answered", "closed": "closed"},
}


def when(instant: datetime, lang: str) -> str:
    local = instant.astimezone(TZ)
    if lang == "en":
        return local.strftime("%H:%M on %d/%m/%Y (Vietnam time)")
    return local.strftime("%H:%M ngày %d/%m/%Y")


def received_at(lang: str, instant: datetime) -> str:
    """The first line of a reply sent late: when the business's message came in."""
    if lang == "en":
        return f"We received your message at {when(instant, lang)}."
    return f"Chúng tôi đã nhận được tin nhắn của Quý doanh nghiệp lúc {when(instant, lang)}."


def days_text(days: int, lang: str) -> str:
    if lang == "en":
        return f"{days} working day" + ("" if days == 1 else "s")
    return f"{days} ngày làm việc"


def acknowledgement(lang: str, *, code: str, intent: str, unit_name: str, due: datetime, days: int) -> str:
    if lang == "en":
        return (
            "Thank you for contacting DDCI Quang Ninh. We have received your inquiry.\n"
            f"Tracking code: {code}\n"
            f"Field: {domain_name(intent, 'en')}\n"
            f"Answering unit: {unit_name}\n"
            f"Answer due by: {when(due, lang)} ({days_text(days, lang)}, Decision 3887/QĐ-UBND)\n"
            "Send us the tracking code at any time to check its status."
        )
    return (
        "Cảm ơn Quý doanh nghiệp đã gửi phản ánh, kiến nghị tới DDCI Quảng Ninh.\n"
        f"Mã tra cứu: {code}\n"
        f"Lĩnh vực: {domain_name(intent, 'vi')}\n"
        f"Đơn vị trả lời: {unit_name}\n"
        f"Hạn trả lời: {when(due, lang)} ({days_text(days, lang)} theo Quyết định 3887/QĐ-UBND)\n"
        "Quý doanh nghiệp có thể gửi mã tra cứu để xem tình trạng xử lý."
    )


def received_for_triage(lang: str, *, code: str, office_name: str, assign_by: datetime, lead_days: int) -> str:
    if lang == "en":
        return (
            "Thank you for contacting DDCI Quang Ninh. We have received your inquiry.\n"
            f"Tracking code: {code}\n"
            f"The {office_name} will forward it to the competent unit by {when(assign_by, lang)}; "
            f"that unit then answers within {days_text(lead_days, lang)}. We will send you the unit and the due date."
        )
    return (
        "Cảm ơn Quý doanh nghiệp. DDCI Quảng Ninh đã tiếp nhận phản ánh, kiến nghị.\n"
        f"Mã tra cứu: {code}\n"
        f"{office_name} sẽ chuyển tới đơn vị có thẩm quyền trước {when(assign_by, lang)}; "
        f"đơn vị đó trả lời trong {days_text(lead_days, lang)} kể từ khi nhận. "
        "Chúng tôi sẽ báo đơn vị và hạn trả lời."
    )


def answer(lang: str, *, code: str, unit_name: str, text: str) -> str:
    """An approved answer as the business receives it."""
    if lang == "en":
        return f"Answer to inquiry {code} ({unit_name}):\n{text}"
    return f"Trả lời phản ánh {code} ({unit_name}):\n{text}"


def status_lines(lang: str, rows: list[dict]) -> str:
    """Status of inquiries (code, unit, status, due) for a lookup by code or "my inquiries"."""
    if not rows:
        return ("We found no inquiry with that tracking code from you." if lang == "en"
                else "Không tìm thấy phản ánh nào của Quý doanh nghiệp với mã tra cứu này.")
    names = STATUS_NAMES["en" if lang == "en" else "vi"]
    due_word = "due" if lang == "en" else "hạn"
    return "\n".join(f"{r['code']}: {names.get(r['status'], r['status'])}, {r['unit']}, "
                     f"{due_word} {when(r['due'], lang) if r['due'] else '-'}" for r in rows)


def no_open_inquiry(lang: str) -> str:
    return ("You have no open inquiry with us." if lang == "en"
            else "Quý doanh nghiệp hiện không có phản ánh nào đang được xử lý.")


def followup_joined(lang: str, code: str) -> str:
    return (f"We have added this to your inquiry {code}." if lang == "en"
            else f"Đã bổ sung nội dung này vào phản ánh {code}.")


def attachment_joined(lang: str, code: str) -> str:
    return (f"We have added the attachment to your inquiry {code}." if lang == "en"
            else f"Đã nhận tệp đính kèm cho phản ánh {code}.")


def public_acknowledgement(lang: str, code: str) -> str:
    """Under a comment, for everyone to see: no details, they go in the private reply."""
    if lang == "en":
        return (f"DDCI Quang Ninh has received this inquiry (code {code}) and has sent the details to you "
                "in a private message.")
    return (f"DDCI Quảng Ninh đã tiếp nhận phản ánh (mã {code}) và gửi thông tin xử lý qua tin nhắn riêng "
            "cho Quý doanh nghiệp.")


def unit_label(name: Optional[str]) -> str:
    return name or "-"
