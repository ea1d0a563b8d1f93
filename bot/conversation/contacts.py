"""Phone numbers, e-mail addresses and tracking codes in what a business writes."""
from __future__ import annotations

import re
from typing import Optional

from nlu.classifier import MAX_CLASSIFY_CHARS

PHONE = re.compile(r"(?<!\d)(?:\+84|0)(?:\d[ .]?){8,9}\d(?!\d)")
# Linear in the text's length: a match starts only where a run of local-part characters starts
# (the lookbehind), and the local part (at most 64 characters, RFC 5321) and the domain are
# bounded, so no start position is retried across a long run (the unbounded form took
# seconds on 64 kB without an "@").
EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,}")
# Contact details are looked for where the classifier reads: the first MAX_CLASSIFY_CHARS.
MAX_SCAN_CHARS = MAX_CLASSIFY_CHARS
TRACKING = re.compile(r"\b[Qq][Nn]-\d{4}-\d{6}\b")
_FILLER = re.compile(r"(?i)\b(sdt|sđt|số|so|điện thoại|dien thoai|đt|dt|email|mail|của|cua|em|anh|chị|chi|tôi|toi|"
                     r"mình|minh|là|la|ạ|a|nhé|nhe|phone|my|is|e-mail|lh|liên hệ|lien he|zalo)\b")


def contacts_in(text: str) -> tuple[Optional[str], Optional[str]]:
    """The first phone number and e-mail address in the first MAX_SCAN_CHARS of `text`."""
    head = text[:MAX_SCAN_CHARS]
    phone, email = PHONE.search(head), EMAIL.search(head)
    return (re.sub(r"[ .]", "", phone.group(0)) if phone else None, email.group(0) if email else None)


def contact_only(text: str) -> bool:
    """Only a phone number or e-mail (with a few filler words), as an answer to our question."""
    if len(text) > MAX_SCAN_CHARS:
        return False
    rest = EMAIL.sub(" ", PHONE.sub(" ", text))
    rest = _FILLER.sub(" ", rest)
    return len(re.findall(r"\w+", rest)) <= 2


def tracking_codes(text: str) -> list[str]:
    return [c.upper() for c in TRACKING.findall(text)]
