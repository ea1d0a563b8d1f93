"""Text normalisation before Rasa sees it, shared by training and classification.

Steps: Unicode NFC (TCVN 6909), one tone-mark placement for oa/oe/uy (the form most
common on Vietnamese pages today, "hóa", "khỏe", "thủy"), emoji and control characters
to spaces, whitespace collapsed. `strip_diacritics` gives the unaccented form that the
training data is augmented with, so text typed without diacritics is understood.
"""
from __future__ import annotations

import re
import unicodedata

_TONES = {"\u0301", "\u0300", "\u0309", "\u0303", "\u0323"}  # sắc, huyền, hỏi, ngã, nặng
# Syllable-final oa/oe/uy with the tone on the second vowel ("hoá", "khoẻ", "thuý") is moved
# to the first vowel; with a final consonant ("hoàng", "khuyết") the placement is fixed.
_OLD_STYLE = re.compile(r"(?i)(?<![a-zà-ỹđ])([a-zđ]*?)([oOuU])([aAeEyY])([\u0301\u0300\u0309\u0303\u0323])(?![a-zà-ỹđ\u0300-\u036f])")
_EMOJI = re.compile(
    "[\U0001F000-\U0001FAFF\U00002600-\U000027BF\U0001F900-\U0001F9FF\U00002190-\U000021FF"
    "\U00002B00-\U00002BFF\U0000FE0F\U0000200D\U000020E3]+"
)
_CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b\u200c\u200e\u200f\ufeff]")
_SPACES = re.compile(r"\s+")
_VIET_MARKS = re.compile(r"[ăâđêôơưĂÂĐÊÔƠƯ]|[\u0300-\u036f]")


def _fix_tone_placement(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)

    def move(match: re.Match) -> str:
        prefix, first, second, tone = match.groups()
        # "qu" + a vowel: u is part of the consonant, the tone stays on the vowel after it.
        if prefix.lower().endswith("q") or (first.lower() == "u" and prefix.lower() == "g"):
            return match.group(0)
        return f"{prefix}{first}{tone}{second}"

    return unicodedata.normalize("NFC", _OLD_STYLE.sub(move, decomposed))


def normalize(text: str) -> str:
    """The canonical form of a message: NFC, one tone placement, no emoji, single spaces."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text)
    text = _EMOJI.sub(" ", text)
    text = _fix_tone_placement(text)
    return _SPACES.sub(" ", text).strip()


def strip_diacritics(text: str) -> str:
    """Vietnamese without diacritics, as people type on phones without a Vietnamese keyboard."""
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", bare.replace("đ", "d").replace("Đ", "D"))


def has_diacritics(text: str) -> bool:
    return bool(_VIET_MARKS.search(unicodedata.normalize("NFD", text)))


_LETTERS = re.compile(r"[^\W\d_]+")
_EN_WORDS = frozenset(
    "the a an and or of to for in on at is are was were be do does did how what when where which who "
    "we our us i my you your please can could would should may need want apply license licence permit "
    "company investment registration certificate tax customs hello hi thanks thank regards dear with "
    "about from this that it has have not any status".split()
)
_VI_WORDS = frozenset(
    "cho em anh chi minh toi hoi thu tuc giay phep cong ty doanh nghiep co khong duoc lam nhu the nao "
    "xin chao cam on ad oi a nhe voi cua va la thi o tai ve can gi ho so dang ky thue dat xay dung".split()
)


def detect_language(text: str, default: str = "vi") -> str:
    """'vi' or 'en': the language to answer in. A word with diacritics that is not capitalised
    decides Vietnamese; else word counts do; a text that shows neither (a phone number, "ok", a
    name, "Hạ Long?") is `default` (the conversation's so far).

    Capitalised words with diacritics are names: foreign investors write "Vân Đồn", "Hạ Long"
    and "Quảng Ninh" with their accents inside English sentences, which were answered in
    Vietnamese (a walkthrough)."""
    marked = [w for w in _LETTERS.findall(text) if has_diacritics(w)]
    if any(not w[0].isupper() for w in marked):
        return "vi"
    words = re.findall(r"[a-z]+", strip_diacritics(text).lower())
    en = sum(w in _EN_WORDS for w in words)
    vi = sum(w in _VI_WORDS for w in words)
    if en == vi == 0:  # names alone ("Hạ Long?") keep the conversation's language
        return default
    return "en" if en > vi and en >= max(1, len(words) // 5) else "vi"
