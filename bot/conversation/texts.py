"""What the bot says in conversation (not about one inquiry: see cases/replies.py): the
welcome, the menu, help, small talk, the question for a phone number or e-mail, the choice
between adding to the open inquiry and a new question. Vietnamese and English; numbers of
days come from the deadline policy.

The labels of the buttons (persistent menu, quick replies) are also understood when typed or
pasted (`typed_action`): with or without diacritics, in any case, with punctuation or emoji
around them, "Tra cứu phản ánh", "tra cuu phan anh" and "Check an inquiry" do what the
button does (issue 11, point 3). Only the whole message counts: "tra cứu phản ánh QN-…
đến đâu rồi" is a sentence for the classifier.
"""
from __future__ import annotations

import re
from typing import Mapping, Optional

from bot.conversation.phrasing import fold
from cases.outbox import Choice

MENU_SUBMIT, MENU_STATUS, MENU_HELP = "MENU_SUBMIT", "MENU_STATUS", "MENU_HELP"
JOIN, NEW = "FOLLOWUP_JOIN", "FOLLOWUP_NEW"  # a follow-up's choice; its payload is "<kind>:<choice id>"
GET_STARTED = "GET_STARTED"
GET_STARTED_PAYLOADS = {"GET_STARTED", "get_started", "__GET_STARTED__"}
# Messenger shows at most 20 characters of a quick-reply title; these are the labels the
# province chose, shown whole in the persistent menu and cut on narrow quick-reply chips.
MENU_LABELS = {
    "vi": {MENU_SUBMIT: "Gửi phản ánh, kiến nghị", MENU_STATUS: "Tra cứu phản ánh", MENU_HELP: "Hướng dẫn"},
    "en": {MENU_SUBMIT: "Submit an inquiry", MENU_STATUS: "Check an inquiry", MENU_HELP: "How it works"},
}


# Quick-reply titles show at most 20 characters (Meta's quick-reply reference), so the
# tracking code goes in the question, not on the buttons.
FOLLOWUP_LABELS = {
    "vi": {JOIN: "Bổ sung", NEW: "Câu hỏi mới"},
    "en": {JOIN: "Add to my inquiry", NEW: "New question"},
}


def menu_choices(lang: str) -> tuple[Choice, ...]:
    return tuple(Choice(key, title) for key, title in MENU_LABELS[lang].items())


def payload(kind: str, choice_id: int) -> str:
    return f"{kind}:{choice_id}"


def parse_choice(value: str) -> Optional[tuple[str, Optional[int]]]:
    """(JOIN or NEW, the choice's id or None) of a follow-up choice's payload; None otherwise."""
    kind, _, rest = value.partition(":")
    if kind not in (JOIN, NEW):
        return None
    return kind, int(rest) if rest.isdigit() and len(rest) < 19 else None


def followup_choices(lang: str, choice_id: int) -> tuple[Choice, ...]:
    return tuple(Choice(payload(kind, choice_id), title) for kind, title in FOLLOWUP_LABELS[lang].items())


def followup_question(lang: str, code: str, minutes: int, held_at: Optional[str] = None) -> str:
    """Asked about the message just received; `held_at` ("10:05"): asked again under a reply to
    something else, so the message meant is named by its time (a review: "Nội dung này" then
    pointed at the thanks or the code just sent). Not quoted: a bot reply with a prohibited
    phrase is never sent (cases/outbox.py), and the business's text may hold one."""
    if lang == "en":
        this = f"your message of {held_at}" if held_at else "this"
        return (f"Does {this} add to your inquiry {code}, or is it a new question? Please choose below. Without an "
                f"answer within {minutes} minutes we will take it as a new inquiry, so that the competent unit "
                "receives it.")
    this = f"Tin nhắn Quý doanh nghiệp gửi lúc {held_at}" if held_at else "Nội dung này"
    return (f"{this} bổ sung cho phản ánh {code} hay là một câu hỏi mới? Quý doanh nghiệp vui lòng chọn bên "
            f"dưới. Nếu không có lựa chọn trong {minutes} phút, chúng tôi sẽ tiếp nhận thành phản ánh mới để "
            "chuyển tới đúng đơn vị có thẩm quyền.")


def _label_key(text: str) -> str:
    """A label as compared: folded (no diacritics, lowercase), letters and digits only."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", fold(text)).split())


_CODE = r"[a-z]{1,6} \d{4} \d{1,12}"  # a tracking code once folded ("qn 2026 000001")
TYPED_LABELS: dict[str, tuple[str, str]] = {
    _label_key(title): (key, lang)
    for lang in ("vi", "en") for labels in (MENU_LABELS, FOLLOWUP_LABELS) for key, title in labels[lang].items()
}
_TYPED_JOIN = [(re.compile(rf"^(?:bo sung|them vao)(?: cho| vao)?(?: phan anh)? {_CODE}$"), "vi"),
               (re.compile(rf"^add(?: it)? to(?: my)?(?: inquiry)? {_CODE}$"), "en")]


def typed_action(text: Optional[str]) -> Optional[tuple[str, str]]:
    """(the button's payload, the label's language) when `text` is a button's label typed or
    pasted; follow-up choices come back as JOIN / NEW without a choice id. None otherwise."""
    if not text:
        return None
    key = _label_key(text)
    if key in TYPED_LABELS:
        return TYPED_LABELS[key]
    for pattern, lang in _TYPED_JOIN:
        if pattern.match(key):
            return JOIN, lang
    return None


# Who speaks on a page: the province's DDCI programme on the standing office's page, a unit's own
# page in its own name (a walkthrough found Sở Xây dựng's page greeting "DDCI Quảng Ninh").
# Acknowledgements keep naming the programme, which receives on every page.
PROGRAMME = {"vi": "DDCI Quảng Ninh", "en": "DDCI Quang Ninh"}


# An English name of a body takes "the" in a sentence ("Welcome to the Quang Ninh Department of
# Construction"); a place's or the programme's does not.
_BODY_WORDS = re.compile(r"\b(Department|Board|Committee|Office|Authority|Centre|Center|Agency|Bureau|Police|"
                         r"Inspectorate|Administration|Council|Service|Unit)\b")


def voice(lang: str, who: Optional[Mapping[str, str]], *, start: bool = False) -> str:
    """The name the bot speaks in: `who` (a unit's page: its names by language), else the
    programme (also in English on a page with no English name: never Vietnamese in English).
    `start`: it opens a sentence (English "The …")."""
    name = (who or {}).get(lang)
    if not name:
        return PROGRAMME[lang]
    if lang == "en" and _BODY_WORDS.search(name) and not name.lower().startswith("the "):
        name = f"{'The' if start else 'the'} {name}"
    return name


# Messenger shows a greeting of at most 160 characters (Messenger Profile API, greeting)
GREETING_LIMIT = 160


def welcome(lang: str, lead_days: int, who: Optional[Mapping[str, str]] = None) -> str:
    name = voice(lang, who)
    if lang == "en":
        return (f"Welcome to {name}! We take businesses' questions and complaints about administrative "
                f"procedures and forward them to the competent unit, which answers within {lead_days} working "
                "days. How can we help?")
    return (f"Chào mừng Quý doanh nghiệp đến với {name}! Chúng tôi tiếp nhận phản ánh, kiến nghị về "
            "thủ tục hành chính và chuyển tới đơn vị có thẩm quyền trả lời trong "
            f"{lead_days} ngày làm việc. Quý doanh nghiệp cần hỗ trợ gì?")


PROMPT_DESCRIBE_FILE = {  # a file or a location sent alone opened an inquiry: what is it about?
    "vi": "Quý doanh nghiệp vui lòng nhắn thêm nội dung cần hỏi hoặc phản ánh về tệp vừa gửi: thủ tục, địa "
          "điểm hoặc dự án, cơ quan đã làm việc (nếu có).",
    "en": "Please tell us in a message what the file you sent is about: the procedure, the location or "
          "project, the office you dealt with (if any).",
}
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


def greeting(lang: str, lead_days: int, who: Optional[Mapping[str, str]] = None) -> str:
    """The page's greeting before a conversation starts (Messenger Profile), within Messenger's
    GREETING_LIMIT: a unit whose name makes it longer gets a shorter sentence, and with a name
    too long even for that the programme's greeting (a review: "Quang Ninh Department of Ethnic
    Minorities and Religions" made 164 characters, and the page would have got no greeting,
    Get Started or menu, which are set in the same call)."""
    def full(name: str) -> str:
        if lang == "en":
            return (f"{name} takes businesses' questions and complaints about administrative procedures. "
                    f"Answered within {lead_days} working days.")
        return (f"{name} tiếp nhận phản ánh, kiến nghị của doanh nghiệp về thủ tục hành chính. "
                f"Trả lời trong {lead_days} ngày làm việc.")

    def short(name: str) -> str:
        if lang == "en":
            return f"{name}: questions on administrative procedures, answered within {lead_days} working days."
        return f"{name}: tiếp nhận phản ánh về thủ tục hành chính, trả lời trong {lead_days} ngày làm việc."

    for text in (full(voice(lang, who, start=True)), short(voice(lang, who, start=True)), full(PROGRAMME[lang])):
        if len(text) <= GREETING_LIMIT:
            return text
    return full(PROGRAMME[lang])[:GREETING_LIMIT]


ASK_CONTACT = {
    "vi": "Để đơn vị có thể liên hệ khi cần, Quý doanh nghiệp vui lòng để lại số điện thoại hoặc email.",
    "en": "So that the unit can reach you if needed, please leave a phone number or e-mail address.",
}
CONTACT_THANKS = {
    "vi": "Cảm ơn Quý doanh nghiệp, chúng tôi đã ghi nhận thông tin liên hệ.",
    "en": "Thank you, we have noted your contact details.",
}
SMALL_TALK = {  # {name}: voice(); {Name}: the same opening a sentence
    "chao_hoi": {
        "vi": "Xin chào Quý doanh nghiệp! {Name} sẵn sàng hỗ trợ. Quý doanh nghiệp vui lòng mô tả "
              "thủ tục hoặc vướng mắc cần hỗ trợ (nêu rõ địa điểm, dự án nếu có).",
        "en": "Hello! {Name} is here to help. Please describe the procedure or problem you need "
              "help with (with the location or project, if any).",
    },
    "cam_on": {
        "vi": "Cảm ơn Quý doanh nghiệp đã liên hệ {name}. Chúc Quý doanh nghiệp thành công!",
        "en": "Thank you for contacting {name}. We wish your business every success!",
    },
    "no_matter": {  # not an intent: a message that says nothing to act on yet (phrasing.carries_no_matter)
        "vi": "{Name} sẵn sàng hỗ trợ Quý doanh nghiệp. Xin mời Quý doanh nghiệp nêu nội dung cần hỏi "
              "trong một tin nhắn: thủ tục, địa điểm hoặc dự án, cơ quan đã làm việc (nếu có). Khi nhận "
              "được, chúng tôi sẽ gửi mã tra cứu và chuyển tới đơn vị có thẩm quyền.",
        "en": "{Name} is here to help. Please write your question in one message: the procedure, the "
              "location or project, the office you dealt with (if any). We will then send you a "
              "tracking code and pass it to the competent office.",
    },
    "ngoai_pham_vi": {
        "vi": "{Name} tiếp nhận phản ánh, kiến nghị của doanh nghiệp về thủ tục hành chính và môi "
              "trường đầu tư, kinh doanh. Nội dung này nằm ngoài phạm vi tiếp nhận; xin cảm ơn Quý doanh nghiệp.",
        "en": "{Name} handles businesses' questions and complaints about administrative procedures "
              "and the investment climate. This message is outside that scope; thank you for understanding.",
    },
}


def small_talk(intent: str, lang: str, who: Optional[Mapping[str, str]] = None) -> str:
    return SMALL_TALK[intent][lang].format(name=voice(lang, who), Name=voice(lang, who, start=True))


def officer_linked(email: str, unit_name: str, channel_title: str) -> str:
    return (f"Đã liên kết tài khoản {channel_title} này với {email} ({unit_name}). "
            "Thông báo phản ánh sẽ được gửi tới đây trong 24 giờ sau mỗi tin nhắn của cán bộ; "
            "thư điện tử vẫn được gửi như thường lệ.")
