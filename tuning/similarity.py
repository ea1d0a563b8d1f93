"""When two messages are the same training example: one key for exact duplicates, and
rapidfuzz for near-duplicates.

The key folds what does not change the meaning for the classifier: normalisation (NFC, tone
placement), case, diacritics, punctuation, and numbers and codes (a tracking code, an e-mail,
a phone number, a tax code or any other number become one token each), so "mã QN-2026-000123
xử lý chưa ạ" and "ma QN-2026-000456 xu ly chua a" are the same text. Near-duplicates are
keys at least `threshold` similar by rapidfuzz's normalised Indel ratio (`fuzz.ratio`, 0-100);
90 groups messages that differ by a word or a typo in a sentence of ten words, and keeps
apart short messages that share an opening but ask different things ("cho em hỏi thủ tục
hoàn thuế" / "... hải quan", tests/test_tuning.py).
"""
from __future__ import annotations

import re
from typing import Callable, Hashable, Iterable, Sequence, TypeVar

from rapidfuzz import fuzz, process

from nlu.normalize import normalize, strip_diacritics

T = TypeVar("T")
DEFAULT_THRESHOLD = 90.0

_ANNOTATION = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_CODES = (
    (re.compile(r"(?i)\bqn-\d{4}-\d{6}\b"), " ma_code "),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), " email "),
    (re.compile(r"\+?\d[\d .\-/]*\d|\d"), " so "),
)
_NON_WORD = re.compile(r"[^\w]+")


def plain(text: str) -> str:
    """A training line's text without Rasa's entity annotations."""
    return _ANNOTATION.sub(lambda m: m.group(1), text)


def key(text: str) -> str:
    """The folded form under which two messages count as the same text."""
    folded = strip_diacritics(normalize(plain(text))).lower()
    for pattern, token in _CODES:
        folded = pattern.sub(token, folded)
    return " ".join(_NON_WORD.sub(" ", folded).split())


def group(items: Sequence[T], text_of: Callable[[T], str], *, threshold: float = DEFAULT_THRESHOLD) -> list[list[T]]:
    """Near-duplicate groups, in the order of `items`: each item joins the first group whose
    first item (its leader) is at least `threshold` similar, else starts a group. Comparing
    with leaders only keeps a chain of small differences from merging unrelated messages."""
    leaders: list[str] = []
    groups: list[list[T]] = []
    exact: dict[str, int] = {}
    for item in items:
        k = key(text_of(item))
        if k in exact:
            groups[exact[k]].append(item)
            continue
        match = process.extractOne(k, leaders, scorer=fuzz.ratio, score_cutoff=threshold) if k and leaders else None
        if match is not None:
            index = match[2]
            groups[index].append(item)
            exact[k] = index
        else:
            exact[k] = len(groups)
            leaders.append(k)
            groups.append([item])
    return groups


def index(texts: Iterable[tuple[str, Hashable]]) -> dict[str, set]:
    """key -> the labels it appears under (for conflicts and "already in the training data")."""
    out: dict[str, set] = {}
    for text, label in texts:
        out.setdefault(key(text), set()).add(label)
    return out
