"""Personal data out of a training example before it is accepted.

Per kind (the decision, and why):
- phone numbers, e-mail addresses, tax codes (MST) and tracking codes (QN-YYYY-NNNNNN) become
  a fixed synthetic value of the same shape, annotated as the Rasa entity the project's
  RegexEntityExtractor already knows (`[0900 000 000](phone)`): the example keeps the form
  real messages have (so the classifier learns from what it will see), Rasa's entity data
  stays consistent, and no business's number or address is kept;
- people's names become a placeholder name: "Nguyễn Văn A" for a full name, "A" for a given
  name after a pronoun ("chị Lan" -> "chị A"), the way Vietnamese documents anonymise people.
  The pipeline has no person entity, so a placeholder keeps the sentence natural.

The name rule (documented limits below): a sequence of 2-4 capitalised syllables whose first is
a Vietnamese family name of FAMILY_NAMES (with or without diacritics) is a name, unless a
place word comes just before it ("đường Lê Lợi", "phường Hoàng Quế"). After a naming cue
("tên là", "tên em là", "họ tên", "họ và tên", "my name is", "người đại diện", "giám đốc")
1-4 capitalised syllables are a name, and so are 1-4 lower-case syllables when the first is a
family name ("ten em la nguyen van an"). After a pronoun of address (anh, chị, ông, bà, cô,
chú, bác) 1-3 capitalised syllables are a name unless the first is a title (Chủ tịch, Giám
đốc, Sở...).
Places are not people: a span that covers a known place is never a name. Known places are the
project's location gazetteer (nlu/data/lookup_location.yml, every Quảng Ninh locality, economic
zone and industrial park, with or without its "Huyện"/"Phường"/"KKT" prefix) and EXTRA_PLACES
(countries and landmarks whose first word is a family name or a pronoun: "Hàn Quốc", "Vân Đồn",
"Bái Tử Long", "Bắc Luân"); without this the simulated traffic (nlu/traffic/) lost "Vân Đồn",
"Ba Chẽ" and "Hàn Quốc" to "Nguyễn Văn A" in 16 of its first 618 examples. "em" and the English
titles Mr, Mrs, Ms, Miss, Dr count as pronouns of address ("liên hệ em Linh", "contact Ms. Wang
Li"), and so does chat shorthand for anh, chị, em ("a Vương", "c Phương", "e Linh") in a text
in Vietnamese; a place word counts as itself when written with diacritics ("quán", a shop, is
not "quận"). The third round of the simulated traffic leaked four names past the rule before
these two were added. A person introducing themself ("em là Linh", "e là Phương", "mình là
Vương") or named by their job ("lễ tân Phương", "kế toán Hùng", "nhân viên Lan") in a
Vietnamese text: 1-3 capitalised syllables after it are a name unless the first is a title or
an organisation's word (_INTRO; the fourth round leaked four names this way).
Limits: a lower-case name without a cue is not found ("nguyen van an gui hs" stays); a
family name that is also common in place names (Hà, Hồ, Cao, Mai, Lương, Lâm, Quang) counts
only after a cue; ALL-CAPS names are not found (ALL-CAPS messages are common and would be
masked wholesale); a place outside the list of place words that starts with a family name
("Phan Thiết") is masked as a name, which costs one word of context, never a leak.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from nlu.entities import phone_pattern, resolve, tracking_matches
from nlu.normalize import detect_language, strip_diacritics

PLACEHOLDER = {"phone": "0900 000 000", "email": "email@example.com", "tracking_code": "QN-2026-000001"}
TAX_PLACEHOLDER = {10: "0100000000", 13: "0100000000001", 14: "0100000000-001"}
FULL_NAME, GIVEN_NAME = "Nguyễn Văn A", "A"

# The commonest Vietnamese family names (well over 90 % of the population); ambiguous ones
# that start many place names are in CUE_ONLY_FAMILY_NAMES instead.
FAMILY_NAMES = frozenset(strip_diacritics(n).lower() for n in (
    "Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Ngô Dương Lý Đinh Đoàn Trịnh Trương "
    "Vương Tạ Tô Lưu Chu Khổng Thái Triệu Kiều Quách Văn Hứa Tăng Lã La Mạc Nghiêm Phùng Ông Kim "
    "Đào Lục Hàn Diệp Doãn Giang Khúc Thân Tôn Viên Âu Bạch Bế Cù Khương Lò Mẫn Ninh Quan Thạch Từ"
).split())
CUE_ONLY_FAMILY_NAMES = frozenset(strip_diacritics(n).lower() for n in "Hà Hồ Cao Mai Lương Lâm Quang Đàm".split())
_PLACE_WORDS_VI = frozenset((
    "đường phố phường xã thị quận huyện tỉnh tp thành cầu ngõ ngách hẻm khu kcn kkt cảng bến chợ trường "
    "bệnh viện sông núi đảo vịnh tổ thôn bản ấp làng street road ward district"
).split())
_PLACE_WORDS = frozenset(strip_diacritics(w).lower() for w in _PLACE_WORDS_VI)  # as typed without diacritics
_TITLES = frozenset(strip_diacritics(w).lower() for w in (
    "Chủ Giám Phó Trưởng Bí Cán Chánh Thanh Sở Ban Phòng Chi Cục Tổng Kế Thủ Hiệu Bác Ủy Uỷ Tổ Công Cty "
    "Hải Thuế Bảo Kiểm Ad Admin"
).split())

_WORD = re.compile(r"[^\W\d_]+")
_CUE = re.compile(r"(?i)(?<![^\W_])(tên(?: (?:em|tôi|mình|anh|chị|của (?:em|tôi|mình)))? là|họ và tên|họ tên|"
                  r"ten(?: (?:em|toi|minh|anh|chi))? la|ho va ten|ho ten|my name is|người đại diện(?: là)?|"
                  r"nguoi dai dien(?: la)?|giám đốc(?: là)?|giam doc(?: la)?)(?:\s*[:,])?(?=\s)")
# A person introducing themself or named by their job ("em là Linh phòng hành chính", "e là
# Phương kế toán", "mình là Vương bên cty tư vấn", "liên hệ lễ tân Phương", "kế toán Hùng"): the
# fourth round of the simulated traffic leaked four given names this way. 1-3 capitalised
# syllables after it are a name unless the first is a title or an organisation's word ("em là
# Giám đốc", "tôi là Doanh nghiệp…", "nhân viên Sở Tài chính").
_INTRO = re.compile(r"(?i)(?<![^\W_])(?:(?:em|e|tôi|toi|tui|mình|minh|anh|chị|chi|c|a) (?:là|la)|lễ tân|le tan|"
                    r"kế toán|ke toan|thủ quỹ|thu quy|nhân viên|nhan vien|thư ký|thu ky|trợ lý|tro ly)(?:\s*[:,])?(?=\s)")
_NOT_A_NAME_AFTER_INTRO = frozenset(strip_diacritics(w).lower() for w in (
    "Doanh Nhà Người Đại Đơn Hộ Hợp Chủ Khách Bên Đội Hội Trung Viện Trạm Xí Nhóm Tập Văn Đoàn Hãng Quỹ Ngân "
    "Luật Nghị Thông Quyết Điều Khoản Mẫu Phụ Giấy Hồ Thủ Dự Cơ"
).split())
_PRONOUNS = frozenset("anh chị chi ông ong bà ba cô co chú chu bác bac em mr mrs ms miss dr".split())  # lower-cased, not folded
# Chat shorthand for anh, chị, em ("c Phương", "e Linh", "a Vương"): pronouns only in a
# Vietnamese text ("a" is also the English article: "a Korean investor" keeps its word).
_CHAT_PRONOUNS = frozenset("a c e".split())
# ...but not as the letter of a list item or a legal reference ("a) Giấy đề nghị", "điểm c
# Khoản 2", "phụ lục A"): followed by spaces only, not after these words (folded).
_REFERENCE_WORDS = frozenset("diem khoan muc tiet luc dieu".split())
GAZETTEER = Path(__file__).resolve().parent.parent / "nlu" / "data" / "lookup_location.yml"
EXTRA_PLACES = (
    "Hàn Quốc", "Trung Quốc", "Nhật Bản", "Đài Loan", "Thái Lan", "Hồng Kông", "Triều Tiên", "Ấn Độ", "Lào",
    "Quảng Ninh", "Vân Đồn", "Bái Tử Long", "Bắc Luân", "Quan Lạn", "Hạ Long", "Yên Tử", "Hòn Gai", "Hồng Gai", "Hà Khánh",
    "Hồng Hà", "Cái Lân", "Đông Mai", "Việt Hưng", "Sông Khoai", "Minh Châu", "Ngọc Vừng", "Thắng Lợi",
)
_PLACE_PREFIXES = ("tinh", "huyen", "phuong", "xa", "thi xa", "thi tran", "thanh pho", "tp", "kkt", "kcn", "khu kinh te",
                   "khu cong nghiep", "dac khu")
_PLACE_SUFFIXES = ("industrial park", "industrial zone", "economic zone")


@dataclass(frozen=True)
class Replacement:
    kind: str  # phone | email | tax_code | tracking_code | name
    start: int
    end: int
    original: str
    value: str


@dataclass(frozen=True)
class Scrubbed:
    """`text`: plain text with placeholders; `annotated`: the same with Rasa entity
    annotations, as written to the training file."""

    text: str
    annotated: str
    replacements: tuple[Replacement, ...]
    # `text` in pieces: (piece, None) kept as written, (value, kind) a replacement; what the
    # admins' page shows before an example is accepted (the replaced parts marked)
    parts: tuple[tuple[str, Optional[str]], ...] = ()


_PHONE = re.compile(phone_pattern("[1-9]"))  # every written form (nlu/entities.py), older numbers too
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,}")
_TAX = re.compile(r"(?<![\d-])(?:\d{10}-\d{3}|\d{13}|\d{10})(?![\d])")


def _entities(text: str) -> list[dict]:
    found = []
    for kind, matches in (("tracking_code", tracking_matches(text)), ("email", _EMAIL.finditer(text)),
                          ("phone", _PHONE.finditer(text)), ("tax_code", _TAX.finditer(text))):
        found += [{"entity": kind, "value": m.group(0), "start": m.start(), "end": m.end()} for m in matches]
    return resolve(text, found)  # the project's own reading: a 10-digit number is a phone or an MST


def _folded(word: str) -> str:
    return strip_diacritics(word).lower()


def _chat_pronoun(text: str, words: list[re.Match], i: int) -> bool:
    """words[i] is "a", "c" or "e" for anh, chị, em: lower case, or a capital opening a
    sentence ("C Phương đã gửi…"); followed by spaces only and not after a reference word."""
    word = words[i].group(0)
    if word.lower() not in _CHAT_PRONOUNS or i + 1 >= len(words):
        return False
    before = text[:words[i].start()].rstrip()
    if not (word.islower() or not before or before[-1] in ".!?:;"):
        return False
    if text[words[i].end():words[i + 1].start()].strip(" "):
        return False
    return not (i and _folded(words[i - 1].group(0)) in _REFERENCE_WORDS)


def _place_word(word: str) -> bool:
    """A word that makes the name after it a place ("đường Lê Lợi"). Written with diacritics it
    must be the place word itself: folded, "quán" (a shop: "chủ quán Nguyễn Thu Hà") would be
    "quận" (a district); without diacritics ("duong Le Loi") it cannot be told apart."""
    lower = word.lower()
    return lower in _PLACE_WORDS_VI or (lower.isascii() and lower in _PLACE_WORDS)


def _capitalised(word: str) -> bool:
    return word[0].isupper() and (len(word) == 1 or word[1:].islower())


def _runs(text: str, words: list[re.Match], i: int, longest: int, test) -> int:
    """How many words from words[i] on (at most `longest`) pass `test`, separated only by
    spaces (a comma or full stop ends a name)."""
    n = 0
    while i + n < len(words) and n < longest and test(words[i + n].group(0)):
        if n and text[words[i + n - 1].end():words[i + n].start()].strip(" \t"):
            break
        n += 1
    return n


@functools.lru_cache(maxsize=1)
def known_places() -> dict[str, tuple[tuple[str, ...], ...]]:
    """Folded place names of two words or more, by first word (see the module's docstring)."""
    names = list(EXTRA_PLACES)
    if GAZETTEER.exists():
        names += [line.strip()[2:] for line in GAZETTEER.read_text(encoding="utf-8").splitlines()
                  if line.startswith("    - ")]
    out: dict[str, set[tuple[str, ...]]] = {}
    for name in names:
        folded = " ".join(_folded(w) for w in _WORD.findall(name))
        for suffix in _PLACE_SUFFIXES:
            folded = folded[:-len(suffix)].strip() if folded.endswith(" " + suffix) else folded
        for prefix in _PLACE_PREFIXES:
            folded = folded[len(prefix):].strip() if folded.startswith(prefix + " ") else folded
        parts = tuple(folded.split())
        if len(parts) >= 2:
            out.setdefault(parts[0], set()).add(parts)
    return {first: tuple(sorted(v, key=len, reverse=True)) for first, v in out.items()}


def _places(text: str, words: list[re.Match]) -> set[int]:
    """Indexes of the words that belong to a known place in `text`."""
    folded = [_folded(w.group(0)) for w in words]
    places, covered = known_places(), set()
    for i, first in enumerate(folded):
        for parts in places.get(first, ()):
            n = len(parts)
            if tuple(folded[i:i + n]) == parts and all(
                    not text[words[k - 1].end():words[k].start()].strip(" \t") for k in range(i + 1, i + n)):
                covered.update(range(i, i + n))
                break
    return covered


def _names(text: str) -> list[tuple[int, int, str]]:
    words = list(_WORD.finditer(text))
    spans: list[tuple[int, int, str]] = []
    places = _places(text, words)
    vietnamese = detect_language(text, default="vi") == "vi"

    def add(i: int, n: int) -> None:
        start, end = words[i].start(), words[i + n - 1].end()
        if places.intersection(range(i, i + n)):
            return  # a place, not a person
        if not any(start < e and s < end for s, e, _ in spans):
            spans.append((start, end, FULL_NAME if n > 1 else GIVEN_NAME))

    def index_after(pos: int) -> int:
        return next((k for k, w in enumerate(words) if w.start() >= pos), len(words))

    for cue in _CUE.finditer(text):
        i = index_after(cue.end())
        n = _runs(text, words, i, 4, _capitalised)
        if n == 0 and i < len(words) and _folded(words[i].group(0)) in FAMILY_NAMES | CUE_ONLY_FAMILY_NAMES:
            n = max(2, _runs(text, words, i, 4, str.islower))
        if n:
            add(i, min(n, len(words) - i))
    if vietnamese:
        for cue in _INTRO.finditer(text):
            i = index_after(cue.end())
            first = _folded(words[i].group(0)) if i < len(words) else ""
            if first in _TITLES or first in _NOT_A_NAME_AFTER_INTRO:
                continue
            n = _runs(text, words, i, 3, _capitalised)
            if n:
                add(i, n)
    i = 0
    while i < len(words):
        word = words[i].group(0)
        n = _runs(text, words, i, 4, _capitalised) if _capitalised(word) else 0
        if n >= 2 and _folded(word) in FAMILY_NAMES and not (i and _place_word(words[i - 1].group(0))):
            add(i, n)
            i += n
            continue
        if (word.lower() in _PRONOUNS or (vietnamese and _chat_pronoun(text, words, i))) and i + 1 < len(words) \
                and _capitalised(words[i + 1].group(0)) and _folded(words[i + 1].group(0)) not in _TITLES:
            n = _runs(text, words, i + 1, 3, _capitalised)
            add(i + 1, n)
            i += n + 1
            continue
        i += 1
    return spans


def scrub(text: str) -> Scrubbed:
    """Replace personal data in `text` (already normalised). Square brackets become round
    ones first: Rasa reads `[...](...)` as an entity annotation."""
    text = text.replace("[", "(").replace("]", ")")
    found: list[Replacement] = []
    for e in _entities(text):
        if e["entity"] == "tax_code":
            digits = len(e["value"])
            value = TAX_PLACEHOLDER.get(digits, TAX_PLACEHOLDER[10])
        elif e["entity"] in PLACEHOLDER:
            value = PLACEHOLDER[e["entity"]]
        else:
            continue
        found.append(Replacement(e["entity"], e["start"], e["end"], e["value"], value))
    for start, end, value in _names(text):
        if not any(start < r.end and r.start < end for r in found):
            found.append(Replacement("name", start, end, text[start:end], value))
    found.sort(key=lambda r: r.start)
    plain, annotated, parts, at = [], [], [], 0
    for r in found:
        plain.append(text[at:r.start])
        annotated.append(text[at:r.start])
        parts += [(text[at:r.start], None), (r.value, r.kind)]
        plain.append(r.value)
        annotated.append(r.value if r.kind == "name" else f"[{r.value}]({r.kind})")
        at = r.end
    plain.append(text[at:])
    annotated.append(text[at:])
    parts.append((text[at:], None))
    return Scrubbed("".join(plain), "".join(annotated), tuple(found), tuple(p for p in parts if p[0]))
