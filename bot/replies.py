"""What the business reads: Vietnamese by default, English for a business that wrote in English."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from scheduler.notify import DOMAIN_NAMES_EN, DOMAIN_NAMES_VI

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def _when(instant: datetime, lang: str) -> str:
    local = instant.astimezone(TZ)
    if lang == "en":
        return local.strftime("%H:%M on %d/%m/%Y (Vietnam time)")
    return local.strftime("%H:%M ngày %d/%m/%Y")


def acknowledgement(lang: str, *, code: str, intent: str, unit_name: str, due: datetime, days: int) -> str:
    if lang == "en":
        return (
            "Thank you for contacting DDCI Quang Ninh. We have received your inquiry.\n"
            f"Tracking code: {code}\n"
            f"Field: {DOMAIN_NAMES_EN.get(intent, intent)}\n"
            f"Answering unit: {unit_name}\n"
            f"Answer due by: {_when(due, lang)} ({days} working days, Decision 3887/QĐ-UBND)\n"
            "Send us the tracking code at any time to check its status."
        )
    return (
        "Cảm ơn Quý doanh nghiệp đã gửi phản ánh, kiến nghị tới DDCI Quảng Ninh.\n"
        f"Mã tra cứu: {code}\n"
        f"Lĩnh vực: {DOMAIN_NAMES_VI.get(intent, intent)}\n"
        f"Đơn vị trả lời: {unit_name}\n"
        f"Hạn trả lời: {_when(due, lang)} ({days} ngày làm việc theo Quyết định 3887/QĐ-UBND)\n"
        "Quý doanh nghiệp có thể gửi mã tra cứu để xem tình trạng xử lý."
    )


def received_for_triage(lang: str, *, code: str, office_name: str, assign_by: datetime) -> str:
    if lang == "en":
        return (
            "Thank you for contacting DDCI Quang Ninh. We have received your inquiry.\n"
            f"Tracking code: {code}\n"
            f"The {office_name} will forward it to the competent unit by {_when(assign_by, lang)}; "
            "that unit then answers within 3 working days. We will send you the unit and the due date."
        )
    return (
        "Cảm ơn Quý doanh nghiệp. DDCI Quảng Ninh đã tiếp nhận phản ánh, kiến nghị.\n"
        f"Mã tra cứu: {code}\n"
        f"{office_name} sẽ chuyển tới đơn vị có thẩm quyền trước {_when(assign_by, lang)}; "
        "đơn vị đó trả lời trong 3 ngày làm việc kể từ khi nhận. Chúng tôi sẽ báo đơn vị và hạn trả lời."
    )


SMALL_TALK = {
    "chao_hoi": {
        "vi": "Xin chào Quý doanh nghiệp! DDCI Quảng Ninh sẵn sàng hỗ trợ. Quý doanh nghiệp vui lòng mô tả "
              "thủ tục hoặc vướng mắc cần hỗ trợ (nêu rõ địa điểm, dự án nếu có).",
        "en": "Hello! DDCI Quang Ninh is here to help. Please describe the procedure or problem you need "
              "help with (with the location or project, if any).",
    },
    "cam_on": {
        "vi": "Cảm ơn Quý doanh nghiệp đã liên hệ DDCI Quảng Ninh. Chúc Quý doanh nghiệp thành công!",
        "en": "Thank you for contacting DDCI Quang Ninh. We wish your business every success!",
    },
    "ngoai_pham_vi": {
        "vi": "DDCI Quảng Ninh tiếp nhận phản ánh, kiến nghị của doanh nghiệp về thủ tục hành chính và môi "
              "trường đầu tư, kinh doanh. Nội dung này nằm ngoài phạm vi tiếp nhận; xin cảm ơn Quý doanh nghiệp.",
        "en": "DDCI Quang Ninh handles businesses' questions and complaints about administrative procedures "
              "and the investment climate. This message is outside that scope; thank you for understanding.",
    },
}

STATUS_VI = {"triage": "đang phân loại", "assigned": "đang xử lý", "answered": "đã trả lời", "closed": "đã đóng"}
STATUS_EN = {"triage": "being triaged", "assigned": "in progress", "answered": "answered", "closed": "closed"}


def status_lines(lang: str, rows: list[dict]) -> str:
    """Status of inquiries (code, unit, status, due) for a lookup by code or "my inquiries"."""
    if not rows:
        return ("We found no inquiry with that tracking code from you." if lang == "en"
                else "Không tìm thấy phản ánh nào của Quý doanh nghiệp với mã tra cứu này.")
    lines = []
    for r in rows:
        if lang == "en":
            lines.append(f"{r['code']}: {STATUS_EN.get(r['status'], r['status'])}, {r['unit']}, "
                         f"due {_when(r['due'], lang) if r['due'] else '-'}")
        else:
            lines.append(f"{r['code']}: {STATUS_VI.get(r['status'], r['status'])}, {r['unit']}, "
                         f"hạn {_when(r['due'], lang) if r['due'] else '-'}")
    return "\n".join(lines)
