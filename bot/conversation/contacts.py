"""Phone numbers, e-mail addresses and tracking codes in what a business writes."""
from __future__ import annotations

import re
from typing import Optional

from nlu.classifier import MAX_CLASSIFY_CHARS
from nlu.entities import phone_pattern, tracking_matches

PHONE = re.compile(phone_pattern())  # nlu/entities.py: the forms, and why dates are not phones
# Linear in the text's length: a match starts only where a run of local-part characters starts
# (the lookbehind), and the local part (at most 64 characters, RFC 5321) and the domain are
# bounded, so no start position is retried across a long run (the unbounded form took
# seconds on 64 kB without an "@").
EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,}")
# Contact details are looked for where the classifier reads: the first MAX_CLASSIFY_CHARS.
MAX_SCAN_CHARS = MAX_CLASSIFY_CHARS
# Words that may stand beside a code in a message that only asks for it ("mã QN…", "tra cứu QN…")
_LOOKUP_WORDS = re.compile(r"(?i)\b(mã|ma|số|so|tra cứu|tra cuu|kiểm tra|kiem tra|xem|tình trạng|tinh trang|"
                           r"phản ánh|phan anh|hồ sơ|ho so|code|tracking|status|check|inquiry|of|my|the|ạ|a|ad|ơi|oi)\b")
# ...and the words of a question about where it stands ("what is the status of qn 2026 2", "cho em
# hỏi QN… đến đâu rồi ạ" opened an inquiry in triage: a walkthrough); a message of these alone
# asks where it stands, but one more word may be the point ("QN… sai rồi", "cho em hủy QN…")
_STATUS_WORDS = re.compile(r"(?i)\b(cho|em|mình|minh|hỏi|hoi|giúp|giup|với|voi|nhé|nhe|đến đâu|den dau|rồi|roi|"
                           r"thế nào|the nao|sao|what|what's|whats|is|where|how|please|pls)\b")
_FILLER = re.compile(r"(?i)\b(sdt|sđt|số|so|điện thoại|dien thoai|đt|dt|email|mail|của|cua|em|anh|chị|chi|tôi|toi|"
                     r"mình|minh|là|la|ạ|a|nhé|nhe|phone|my|is|e-mail|lh|liên hệ|lien he|zalo)\b")


def contacts_in(text: str) -> tuple[Optional[str], Optional[str]]:
    """The first phone number and e-mail address in the first MAX_SCAN_CHARS of `text`, or
    else in its last MAX_SCAN_CHARS: a long letter signs off with them ("… SĐT 0204 3812 345."
    at the end of 5,500 characters was missed and the business asked for a contact it had
    given: a walkthrough). Both searches are linear, so a huge text costs twice a bounded scan."""
    head = text[:MAX_SCAN_CHARS]
    tail = text[-MAX_SCAN_CHARS:] if len(text) > MAX_SCAN_CHARS else ""
    phone = PHONE.search(head) or (PHONE.search(tail) if tail else None)
    email = EMAIL.search(head) or (EMAIL.search(tail) if tail else None)
    number = re.sub(r"^\+840", "+84", re.sub(r"[^\d+]", "", phone.group(0))) if phone else None
    return number, email.group(0) if email else None


def contact_only(text: str) -> bool:
    """Only a phone number or e-mail (with a few filler words), as an answer to our question."""
    if len(text) > MAX_SCAN_CHARS:
        return False
    rest = EMAIL.sub(" ", PHONE.sub(" ", text))
    rest = _FILLER.sub(" ", rest)
    return len(re.findall(r"\w+", rest)) <= 2


def tracking_codes(text: str) -> list[str]:
    """The codes in `text`, written as the bot writes them ("qn 2026 1" -> "QN-2026-000001")."""
    return list(dict.fromkeys(f"QN-{m.group(1)}-{int(m.group(2)):06d}" for m in tracking_matches(text[:MAX_SCAN_CHARS])))


def code_lookup_only(text: str) -> bool:
    """The message only gives a tracking code (with at most a word or two such as "mã" or
    "tra cứu"): the business asks where that inquiry stands, whatever the classifier makes of it."""
    codes = tracking_matches(text) if len(text) <= 200 else []
    if not codes:
        return False
    for m in reversed(codes):
        text = f"{text[:m.start()]} {text[m.end():]}"
    rest = _LOOKUP_WORDS.sub(" ", text)
    return len(re.findall(r"\w+", rest)) <= 1 or not re.findall(r"\w+", _STATUS_WORDS.sub(" ", rest))
