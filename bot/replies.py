"""What the business reads: Vietnamese by default, English for a business that wrote in English."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from routing.taxonomy import domain_name

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
            f"Field: {domain_name(intent, 'en')}\n"
            f"Answering unit: {unit_name}\n"
            f"Answer due by: {_when(due, lang)} ({days} working days, Decision 3887/QĐ-UBND)\n"
            "Send us the tracking code at any time to check its status."
        )
    return (
        "Cảm ơn Quý doanh nghiệp đã gửi phản ánh, kiến nghị tới DDCI Quảng Ninh.\n"
        f"Mã tra cứu: {code}\n"
        f"Lĩnh vực: {domain_name(intent, 'vi')}\n"
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


# ---- conversation ---------------------------------------------------------------------------
MENU_SUBMIT, MENU_STATUS, MENU_HELP = "MENU_SUBMIT", "MENU_STATUS", "MENU_HELP"
GET_STARTED_PAYLOADS = {"GET_STARTED", "get_started", "__GET_STARTED__"}
# Messenger shows at most 20 characters of a quick-reply title; these are the labels the
# province chose, shown whole in the persistent menu and cut on narrow quick-reply chips.
MENU_LABELS = {
    "vi": {MENU_SUBMIT: "Gửi phản ánh, kiến nghị", MENU_STATUS: "Tra cứu phản ánh", MENU_HELP: "Hướng dẫn"},
    "en": {MENU_SUBMIT: "Submit an inquiry", MENU_STATUS: "Check an inquiry", MENU_HELP: "How it works"},
}


def quick_replies(lang: str) -> list[dict]:
    return [{"content_type": "text", "title": title, "payload": payload}
            for payload, title in MENU_LABELS[lang].items()]


WELCOME = {
    "vi": "Chào mừng Quý doanh nghiệp đến với DDCI Quảng Ninh! Chúng tôi tiếp nhận phản ánh, kiến nghị về "
          "thủ tục hành chính và chuyển tới đơn vị có thẩm quyền trả lời trong 3 ngày làm việc. "
          "Quý doanh nghiệp cần hỗ trợ gì?",
    "en": "Welcome to DDCI Quang Ninh! We take businesses' questions and complaints about administrative "
          "procedures and forward them to the competent unit, which answers within 3 working days. "
          "How can we help?",
}
PROMPT_SUBMIT = {
    "vi": "Quý doanh nghiệp vui lòng mô tả vướng mắc trong một tin nhắn: thủ tục, địa điểm hoặc dự án, "
          "cơ quan đã làm việc (nếu có) và số điện thoại hoặc email để liên hệ.",
    "en": "Please describe the problem in one message: the procedure, the location or project, the office "
          "you dealt with (if any) and a phone number or e-mail address.",
}
HELP = {
    "vi": "Cách gửi phản ánh: nhắn nội dung vướng mắc vào đây. Hệ thống gửi ngay mã tra cứu (dạng QN-2026-000123), "
          "đơn vị trả lời và hạn trả lời (3 ngày làm việc, vụ việc phức tạp tối đa 5 ngày). Gửi mã tra cứu "
          "bất cứ lúc nào để xem tình trạng xử lý.",
    "en": "How it works: write your question here. You get a tracking code at once (like QN-2026-000123), the "
          "unit that will answer and the due date (3 working days, at most 5 for complex cases). Send the "
          "tracking code at any time to check its status.",
}
ASK_CONTACT = {
    "vi": "Để đơn vị có thể liên hệ khi cần, Quý doanh nghiệp vui lòng để lại số điện thoại hoặc email.",
    "en": "So that the unit can reach you if needed, please leave a phone number or e-mail address.",
}
CONTACT_THANKS = {
    "vi": "Cảm ơn Quý doanh nghiệp, chúng tôi đã ghi nhận thông tin liên hệ.",
    "en": "Thank you, we have noted your contact details.",
}


def followup_joined(lang: str, code: str) -> str:
    return (f"We have added this to your inquiry {code}." if lang == "en"
            else f"Đã bổ sung nội dung này vào phản ánh {code}.")


def attachment_joined(lang: str, code: str) -> str:
    return (f"We have added the attachment to your inquiry {code}." if lang == "en"
            else f"Đã nhận tệp đính kèm cho phản ánh {code}.")


def comment_public_reply(code: str) -> str:
    return (f"DDCI Quảng Ninh đã tiếp nhận phản ánh (mã {code}) và gửi thông tin xử lý qua tin nhắn riêng "
            "cho Quý doanh nghiệp.")


def messenger_profile() -> dict:
    """Get Started, greeting and persistent menu for `flask messenger setup`."""
    def menu(lang: str, locale: str) -> dict:
        return {"locale": locale, "composer_input_disabled": False, "call_to_actions": [
            {"type": "postback", "title": title, "payload": payload} for payload, title in MENU_LABELS[lang].items()]}

    return {
        "get_started": {"payload": "GET_STARTED"},
        "greeting": [
            {"locale": "default", "text": "DDCI Quảng Ninh tiếp nhận phản ánh, kiến nghị của doanh nghiệp về thủ "
                                          "tục hành chính. Trả lời trong 3 ngày làm việc."},
            {"locale": "en_US", "text": "DDCI Quang Ninh takes businesses' questions and complaints about "
                                        "administrative procedures. Answered within 3 working days."},
        ],
        "persistent_menu": [menu("vi", "default"), menu("en", "en_US")],
    }
