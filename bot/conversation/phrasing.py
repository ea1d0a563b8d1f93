"""How a message is phrased: the greeting or thanks that opens it, whether what follows opens
like a question, and its classification past the courtesy.

Why (issue 11, point 2): "Hello, how do I register a foreign-invested company in Quang
Ninh?" was classified as a greeting (chao_hoi 0.72) and answered with a polite hello: the
question was lost. Small talk gets the small-talk answer only when the message is nothing
else, so `classify_past_courtesy` classifies what follows the courtesy when something does.
Point 1: a follow-up the classifier cannot place but that opens like a question ("cho em
hỏi…", "how do I…") and is long enough reads as a new question (`opens_like_question`).

The phrases are data (phrasing.yml): greetings and thanks, then whom they address and their
tail ("anh chị ạ", "so much"), fillers before them ("Dạ em chào…"), connectors after them
("…, and one more question: …"), and how questions open. Matching is on a folded copy of the
normalised text (lowercase, diacritics removed character by character so positions stay the
same), as whole words, so "Chao anh chi, cho em hoi" reads like "Chào anh chị, cho em hỏi".
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

import yaml

from bot.conversation.contacts import EMAIL, PHONE
from nlu.classifier import Classification
from nlu.entities import tracking_matches
from nlu.normalize import normalize, strip_diacritics
from routing.taxonomy import DOMAIN_INTENTS

DATA = Path(__file__).with_name("phrasing.yml")
# What remains after the courtesy must have at least this many words to be read as a
# message of its own: "Chào ad ạ" has none, "Chào ad, hoàn thuế GTGT?" has three.
MIN_CONTENT_WORDS = 2
# A follow-up opening like a question reads as a new one from this many words on (the
# opener included): "Cho em hỏi hồ sơ gồm những gì" (7) asks, "Cho hỏi lệ phí" (4) joins.
# Chosen on bench/conversation.py's examples (README "Decisions").
NEW_QUESTION_MIN_WORDS = 7
# After a courtesy, an unsure remainder leaning to a domain is content from this many words
# ("tự công bố sp bánh kẹo ntn": 6); shorter ones ("hẹn gặp lại") are the courtesy's tail.
UNSURE_CONTENT_WORDS = 5
SMALL_TALK = ("chao_hoi", "cam_on")
OUT_OF_SCOPE = "ngoai_pham_vi"
_SEP = re.compile(r"[\s,.!?:;…\-–—~*/()\[\]\"'“”‘’]*")
_WORD = re.compile(r"[^\W_]+")
_CONTACTS = re.compile(f"{PHONE.pattern}|{EMAIL.pattern}")
_KEYS = ("greetings", "thanks", "addressees", "fillers", "connectors", "question_openers", "no_matter")
NO_MATTER_LISTS = ("greetings", "thanks", "addressees", "fillers", "connectors", "no_matter")
# Past this many words a message is taken to say something, whatever its words.
NO_MATTER_MAX_WORDS = 12


@dataclass(frozen=True)
class Opening:
    """A message split into its opening courtesy (if any) and the rest."""

    kind: Optional[str]  # "greeting" | "thanks" | None: no courtesy opens the message
    courtesy: str  # the opening as written ("" when none)
    rest: str  # what follows, as written (normalised); the whole text when nothing opens it

    @property
    def has_content(self) -> bool:
        """A courtesy opens the message and something worth classifying follows it."""
        return self.kind is not None and words(self.rest) >= MIN_CONTENT_WORDS


def words(text: str) -> int:
    return len(_WORD.findall(text))


@functools.lru_cache(maxsize=4096)
def _fold_char(c: str) -> str:
    bare = strip_diacritics(c).lower()
    return bare if len(bare) == 1 else c.lower() if len(c.lower()) == 1 else c


def fold(text: str) -> str:
    """Lowercase without diacritics, one character for one ("Chào" -> "chao")."""
    return "".join(_fold_char(c) for c in text)


def _pattern(phrases: Iterable[str]) -> Optional[re.Pattern]:
    forms = sorted({r"\s+".join(re.escape(w) for w in fold(normalize(p)).split()) for p in phrases if p.strip()},
                   key=len, reverse=True)
    return re.compile(rf"(?:{'|'.join(forms)})(?!\w)") if forms else None


class Phrasing:
    def __init__(self, lists: dict):
        unknown = set(lists) - set(_KEYS)
        missing = [k for k in ("greetings", "thanks") if not lists.get(k)]
        if unknown or missing:
            raise ValueError(f"phrase lists: unknown {sorted(unknown)}, empty {missing}; keys are {list(_KEYS)}")
        self.lists = {k: [str(p) for p in lists.get(k) or []] for k in _KEYS}
        self._greeting, self._thanks = _pattern(self.lists["greetings"]), _pattern(self.lists["thanks"])
        self._tail, self._filler = _pattern(self.lists["addressees"]), _pattern(self.lists["fillers"])
        self._connector, self._question = _pattern(self.lists["connectors"]), _pattern(self.lists["question_openers"])

        # what a message may be made of and still say nothing: `no_matter`'s words and those of
        # the courtesy lists, compared WITH their diacritics (folded, "sổ đỏ" and "hồ sơ" read as
        # "số", "đó", "hỗ", a review); the question openers carry content words ("thủ tục") and
        # are left out. Unaccented forms are listed in `no_matter` one by one where unambiguous.
        self._empty_words = frozenset(w for k in NO_MATTER_LISTS for p in self.lists[k]
                                      for w in _WORD.findall(normalize(p).lower()))

    def carries_no_matter(self, text: str) -> bool:
        """`text` says nothing to act on yet: only courtesy, an opener without its question,
        an acknowledgement or a ping, and perhaps contact details ("Cho em hỏi", "Dạ vâng ạ",
        "có ai không ạ", "I have a question", "0912 777 888"). Such a message opened an
        inquiry (a tracking code, a triage task and its e-mails) for nothing; the conversation
        asks for the matter instead (bot/conversation/__init__.py). A tracking code is matter
        (a lookup), and so is any word outside the lists."""
        if tracking_matches(text):
            return False
        bare = _CONTACTS.sub(" ", normalize(text))
        found = _WORD.findall(bare.lower())
        return len(found) <= NO_MATTER_MAX_WORDS and all(w in self._empty_words for w in found)

    @classmethod
    def load(cls, path: Path = DATA) -> "Phrasing":
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")) or {})

    @staticmethod
    def _skip(folded: str, pos: int) -> int:
        return _SEP.match(folded, pos).end()

    @staticmethod
    def _at(pattern: Optional[re.Pattern], folded: str, pos: int) -> Optional[re.Match]:
        return pattern.match(folded, pos) if pattern is not None else None

    def _opening(self, folded: str, pos: int) -> tuple[Optional[str], int]:
        """The greeting or thanks at `pos` (the longer of the two), and where it ends."""
        found = [(m.end(), kind) for kind, p in (("greeting", self._greeting), ("thanks", self._thanks))
                 if (m := self._at(p, folded, pos))]
        if not found:
            return None, pos
        end, kind = max(found)
        return kind, end

    def split(self, text: str) -> Opening:
        """The courtesy that opens `text` (normalised first) and what follows it."""
        clean = normalize(text)
        folded = fold(clean)
        pos = start = self._skip(folded, 0)
        if (m := self._at(self._filler, folded, pos)) and self._opening(folded, self._skip(folded, m.end()))[0]:
            pos = self._skip(folded, m.end())
        kinds = []
        while True:
            kind, end = self._opening(folded, pos)
            if kind is None:
                break
            kinds.append(kind)
            pos = self._skip(folded, end)
            while m := self._at(self._tail, folded, pos):
                pos = self._skip(folded, m.end())
        if not kinds:
            return Opening(None, "", clean)
        while m := self._at(self._connector, folded, pos):
            pos = self._skip(folded, m.end())
        return Opening(kinds[0], clean[start:pos].strip(), clean[pos:].strip())

    def opens_like_question(self, text: str, min_words: Optional[int] = None) -> bool:
        """Past any courtesy, `text` opens like a question ("cho em hỏi…", "how do I…") and
        has at least `min_words` words (default NEW_QUESTION_MIN_WORDS: long enough to stand
        alone)."""
        rest = self.split(text).rest
        folded = fold(rest)
        least = NEW_QUESTION_MIN_WORDS if min_words is None else min_words
        return bool(self._at(self._question, folded, self._skip(folded, 0))) and words(rest) >= least


def classify_past_courtesy(text: str, classify: Callable[[str], Classification],
                           phrasing: Phrasing) -> Classification:
    """The classification the conversation acts on.

    - No courtesy opens the message, or nothing worth classifying follows it: the whole text
      (as before).
    - What follows the courtesy, when the classifier is sure of it and it is not "out of
      scope": a domain question, a status lookup, or more small talk ("Chào ad, chúc ad một
      ngày tốt lành").
    - Otherwise the whole text, as before, except when the whole reads as small talk but
      what follows has content the classifier cannot place: it leans to a domain and has at
      least UNSURE_CONTENT_WORDS words ("Chào ad, mở cây xăng cần gp j vs ad"), or it opens
      like a question ("Hello, how do I …"). Then what follows, unsure: the standing office
      reads it rather than the business getting a hello.
    Measured in bench/conversation.py (README "Decisions").
    """
    opening = phrasing.split(text)
    if not opening.has_content:
        return classify(text)
    rest = classify(opening.rest)
    if not rest.needs_review and rest.intent != OUT_OF_SCOPE:
        return rest
    whole = classify(text)
    if whole.intent in SMALL_TALK and not whole.needs_review and (
            rest.intent in DOMAIN_INTENTS and words(opening.rest) >= UNSURE_CONTENT_WORDS
            or phrasing.opens_like_question(opening.rest, 0)):
        return rest
    return whole


@functools.lru_cache(maxsize=1)
def default_phrasing() -> Phrasing:
    """The packaged phrase lists, loaded once per process."""
    return Phrasing.load()
