"""What the bot says in conversation (not about one inquiry: see cases/replies.py): the
welcome, the menu, help, small talk, the question for a phone number or e-mail. Vietnamese
and English; numbers of days come from the deadline policy.
"""
from __future__ import annotations

from cases.outbox import Choice

MENU_SUBMIT, MENU_STATUS, MENU_HELP = "MENU_SUBMIT", "MENU_STATUS", "MENU_HELP"
GET_STARTED = "GET_STARTED"
GET_STARTED_PAYLOADS = {"GET_STARTED", "get_started", "__GET_STARTED__"}
# Messenger shows at most 20 characters of a quick-reply title; these are the labels the
# province chose, shown whole in the persistent menu and cut on narrow quick-reply chips.
MENU_LABELS = {
    "vi": {MENU_SUBMIT: "Gửi phản ánh, kiến nghị", MENU_STATUS: "Tra cứu phản ánh", MENU_HELP: "Hướng dẫn"},
    "en": {MENU_SUBMIT: "Submit an inquiry", MENU_STATUS: "Check an inquiry", MENU_HELP: "How it works"},
}


def menu_choices(lang: str) -> tuple[Choice, ...]:
    return tuple(Choice(payload, title) for payload, title in MENU_LABELS[lang].items())


def welcome(lang: str, lead_days: int) -> str:
    if lang == "en":
        return ("Welcome to DDCI Quang Ninh! We take businesses' questions and complaints about administrative "
                f"procedures and forward them to the competent unit, which answers within {lead_days} working "
                "days. How can we help?")
    return ("Chào mừng Quý doanh nghiệp đến với DDCI Quảng Ninh! Chúng tôi tiếp nhận phản ánh, kiến nghị về "
            "thủ tục hành chính và chuyển tới đơn vị có thẩm quyền trả lời trong "
            f"{lead_days} ngày làm việc. Quý doanh nghiệp cần hỗ trợ gì?")


PROMPT_SUBMIT = {
    "vi": "Quý doanh nghiệp vui lòng mô tả vướng mắc trong một tin nhắn: thủ tục, địa điểm hoặc dự án, "
          "cơ quan đã làm việc (nếu có) và số điện thoại hoặc email để liên hệ.",
    "en": "Please describe the problem in one message: the procedure, the location or project, the office "
          "you dealt with (if any) and a phone number or e-mail address.",
}


def help_text(lang: str, lead_days: int, complex_days: int) -> str:
    if lang == "en":
        return ("How it works: write your question here. You get a tracking code at once (like QN-2026-000123), "
                f"the unit that will answer and the due date ({lead_days} working days, at most {complex_days} "
                "for complex cases). Send the tracking code at any time to check its status.")
    return ("Cách gửi phản ánh: nhắn nội dung vướng mắc vào đây. Hệ thống gửi ngay mã tra cứu (dạng "
            "QN-2026-000123), đơn vị trả lời và hạn trả lời "
            f"({lead_days} ngày làm việc, vụ việc phức tạp tối đa {complex_days} ngày). Gửi mã tra cứu "
            "bất cứ lúc nào để xem tình trạng xử lý.")


def greeting(lang: str, lead_days: int) -> str:
    """The page's greeting before a conversation starts (Messenger Profile)."""
    if lang == "en":
        return ("DDCI Quang Ninh takes businesses' questions and complaints about administrative procedures. "
                f"Answered within {lead_days} working days.")
    return ("DDCI Quảng Ninh tiếp nhận phản ánh, kiến nghị của doanh nghiệp về thủ tục hành chính. "
            f"Trả lời trong {lead_days} ngày làm việc.")


ASK_CONTACT = {
    "vi": "Để đơn vị có thể liên hệ khi cần, Quý doanh nghiệp vui lòng để lại số điện thoại hoặc email.",
    "en": "So that the unit can reach you if needed, please leave a phone number or e-mail address.",
}
CONTACT_THANKS = {
    "vi": "Cảm ơn Quý doanh nghiệp, chúng tôi đã ghi nhận thông tin liên hệ.",
    "en": "Thank you, we have noted your contact details.",
}
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


def officer_linked(email: str, unit_name: str, channel_title: str) -> str:
    return (f"Đã liên kết tài khoản {channel_title} này với {email} ({unit_name}). "
            "Thông báo phản ánh sẽ được gửi tới đây trong 24 giờ sau mỗi tin nhắn của cán bộ; "
            "thư điện tử vẫn được gửi như thường lệ.")
