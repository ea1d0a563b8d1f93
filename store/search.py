"""The console's search: one fold for what is stored and for what is typed (the clause that
finds an inquiry with it is cases.worklists.search_clause).

Businesses write with and without diacritics (a phone without a Vietnamese keyboard), so a
search must find "đất đai" for "dat dai" and "dat dai" for "đất đai": both sides are folded
(NFC, casefold, combining marks dropped, đ -> d, whitespace runs to one space). SQL cannot
fold the same way on both backends (PostgreSQL's `unaccent` is an extension, SQLite has
nothing), so the folded form is stored beside what it folds (`inquiries.search_text`,
`conversations.search_text`, kept by the models whenever the text, name, e-mail or phone is
set) and the query is a LIKE on it. Phone numbers are compared as digits, "+84" as "0": the
phones in a text are added to its folded form as digits, a conversation's phone too, and a
query that is a phone number as the queue shows it ("0987.654.321", "+84 987 654 321") is
looked for as digits.

The fold lives here, not in nlu.normalize (`strip_diacritics`, the same idea for training
data): store imports nothing of ours but telemetry. A change to `fold` or `searchable` needs
a migration that fills the columns again (0013 is the example).
"""
from __future__ import annotations

import re
import unicodedata
from typing import Optional

# A Vietnamese phone number in a text: 0 or +84 (also "(+84)", "+84 (0)"), then 9 or 10 more
# digits, with single spaces, dots or dashes between them ("0987.654.321", "+84 987 654 321",
# "0987-654-321").
_PHONE = re.compile(r"(?<![\d+])(?:\(\+84\)|\+84(?:[ .-]?\(0\))?|0)[ .-]?(?:\d[ .-]?){8,9}\d(?!\d)")
# A query that is (part of) a phone number: digits with spaces, dots, dashes or brackets, an
# optional "+" first, at least PHONE_QUERY_DIGITS digits ("654 321" finds "0987654321").
_PHONE_QUERY = re.compile(r"\(?\+?[\d .()-]+")
PHONE_QUERY_DIGITS = 6
# Between a text's fold and the phones added to it: no query holds a newline (its whitespace
# is folded to single spaces), so no match runs from the text into the digits.
_PARTS = "\n"


def fold(text: Optional[str]) -> str:
    """`text` as search compares it: "Thủ  TỤC Đất đai" -> "thu tuc dat dai"."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFC", text).casefold())
    # đ (U+0111) has no decomposition; ð (U+00F0, Ð folded) stands for it in text converted from
    # old Vietnamese encodings
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).replace("đ", "d").replace("ð", "d")
    return " ".join(unicodedata.normalize("NFC", bare).split())


def phone_digits(phone: str) -> str:
    """A phone number as digits, the country code +84 written as the leading 0 it stands for."""
    digits = re.sub(r"\D", "", phone)
    if not phone.lstrip(" (").startswith("+84"):
        return digits
    national = digits[2:]  # "+84 (0) 987 654 321", "+84 (0) 203 3835 123": a 0 after the country code is the trunk 0
    return "0" + (national[1:] if national.startswith("0") else national)


def searchable(*texts: Optional[str]) -> str:
    """The stored search form of `texts` (an inquiry's text; a business's name, e-mail and
    phone): each folded, then every phone number in them as digits."""
    phones = dict.fromkeys(phone_digits(m.group(0)) for t in texts if t for m in _PHONE.finditer(t))
    folded = [f for f in map(fold, texts) if f]  # once each (a review: the filter folded twice)
    return _PARTS.join(folded + list(phones))


def like_pattern(text: str) -> str:
    """`text` as a LIKE pattern matching it anywhere, its wildcards taken literally (escape "\\")."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def query_phone(q: str) -> Optional[str]:
    """The digits of a query that is a phone number (or a long enough part of one), else None."""
    q = q.strip()
    if not _PHONE_QUERY.fullmatch(q):
        return None
    digits = phone_digits(q)
    return digits if len(digits) >= PHONE_QUERY_DIGITS else None
