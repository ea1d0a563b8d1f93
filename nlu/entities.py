"""Resolve overlapping regex entities into one reading of each span.

A 10-digit number can be a phone number or a tax code (Hà Nội codes start with 01); the
words just before it decide ("MST", "sđt"), then the number's shape (mobile prefixes 03,
05, 07, 08, 09 and +84 are phones). Overlapping matches keep the longest span.
"""
from __future__ import annotations

import re
from typing import Any

from nlu.normalize import strip_diacritics



def phone_pattern(first: str = "[2-9]") -> str:
    """A Vietnamese phone number as people write it: 0, +84, "(+84)", "+84 (0)" or "+840",
    then the area or mobile prefix (`first`: a digit class; "[2-9]": numbers as they are
    since 2018, so a tax code 01… is not one) and 8 or 9 more digits. The first three digits
    come together ("0912", "0203"); after them single spaces, dots or dashes may group the
    rest: "0987 654 321", "0987.654.321", "0912-555-777", "+84 987 654 321". A date
    ("05-03-2026 14:30") or a document number ("09-2026-0015") starts with two digits and a
    separator, so it is not one (a review found both read as the business's phone).
    bot/conversation/contacts.py reads contact details with it; tuning/privacy.py replaces
    phones in training data with it (with `first` "[1-9]": older numbers are personal data too)."""
    return (r"(?<![\d+])(?:\(\+84\) ?|\+84[ .-]?(?:\(0\) ?|0)?|0)" + first
            + r"\d(?:[ .-]?\d){7,8}(?!\d)")


# A tracking code as the bot writes it, "QN-2026-000123", and as people type it back: "qn 2026
# 123", "QN2026000123", "QN-2026-123" (a review's "qn 2026 1" opened an inquiry of its own).
TRACKING = re.compile(r"(?<![A-Za-z0-9])[Qq] ?[Nn][ .-]?(20\d{2})[ .-]?(\d{1,6})(?!\d)")


def tracking_matches(text: str) -> list[re.Match]:
    """TRACKING's matches in `text` that are codes. "QN 2021-2030" is a planning period, not
    inquiry 2030 of 2021: a loose form whose number is a later year of this century is read as
    a period (the bot writes six digits, and a business typing inquiry 2030 of 2021 back
    without its zeros is rarer than a plan's years). bot/conversation/contacts.py looks codes
    up with it; tuning/privacy.py replaces them in training data."""
    return [m for m in TRACKING.finditer(text)
            if not (len(m.group(2)) == 4 and int(m.group(1)) < int(m.group(2)) <= 2100)]


_PHONE_CUE = re.compile(r"(sdt|so dien thoai|dien thoai|dt|phone|tel|hotline|lh|lien he|zalo|call)\W*$", re.I)
_TAX_CUE = re.compile(r"(mst|ma so thue|ma so doanh nghiep|msdn|tax code|tax id|tin)\W*$", re.I)
_MOBILE = re.compile(r"^(\+84|0)[35789]")
_PRIORITY = {"tracking_code": 0, "email": 1, "phone": 2, "tax_code": 3, "location": 4}


def _type_of_number(text: str, entity: dict[str, Any]) -> str:
    before = strip_diacritics(text[max(0, entity["start"] - 24):entity["start"]]).lower()
    if _TAX_CUE.search(before):
        return "tax_code"
    if _PHONE_CUE.search(before):
        return "phone"
    digits = re.sub(r"^\+840", "+84", re.sub(r"[^\d+]", "", entity["value"]))  # "(+84)", "+84 (0)" too
    return "phone" if _MOBILE.match(digits) and len(digits) in (10, 11, 12) else "tax_code"


def resolve(text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ranked = sorted(entities, key=lambda e: (-(e["end"] - e["start"]), _PRIORITY.get(e["entity"], 9)))
    kept: list[dict[str, Any]] = []
    for entity in ranked:
        if any(entity["start"] < k["end"] and k["start"] < entity["end"] for k in kept):
            continue
        if entity["entity"] in ("phone", "tax_code"):
            entity = {**entity, "entity": _type_of_number(text, entity)}
        kept.append(entity)
    return sorted(kept, key=lambda e: e["start"])
