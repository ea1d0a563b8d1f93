"""Prohibited-content filter: a pure decision on one text, with its rules as data.

Why: Decision 3887/QĐ-UBND (2017), Art. 9.5(b), asks for "a filter that removes information
prohibited by Article 12 of the Law on Information Technology in the interactions between
units and businesses". The rules live in `cases/data/prohibited_content.yml` so that an
administrator can add a word or a scam pattern without a release; every category there cites
its legal source. This module only decides; the callers act (hide a comment through the
Graph API, flag an inbox item, refuse to send a draft).

Use:

    rules = load_rules()                         # or load_rules(path)
    verdict = rules.check(text, public=True)     # public=False for a private Messenger message
    verdict.blocked, verdict.hits, verdict.reason_vi, verdict.reason_en
    verdict.action("public_comment")             # "hide" | "flag" | "allow"

Severity semantics (what `Verdict.action(context)` returns):

| context           | a hit with severity block | only hits with severity flag | no hit  |
|-------------------|---------------------------|------------------------------|---------|
| "public_comment"  | "hide": the caller hides the comment on the page | "flag" | "allow" |
| "private_message" | "flag": a business's private message is never hidden, the officer sees the reason | "flag" | "allow" |
| "outgoing"        | "block": an officer's draft or the bot's own reply is not sent; show the reason | "flag": sent, with the reason shown to the officer | "allow" |

Rules marked `public_only: true` (other people's personal data: ID numbers, phone numbers,
bank accounts) are evaluated only with `public=True`: in a private message a business gives
its own phone number to the unit, which is what the unit asks for. A public comment is checked
with `public=True`, a private message with `public=False`; an outgoing text with the value of
where it goes (a reply under a public comment is public). `action()` refuses a verdict made
for the other kind of context, so a caller cannot hide a comment on a check that skipped the
personal-data rules.

Matching (details in the data file's header):
- The text is NFC-normalised; spans and excerpts refer to `unicodedata.normalize("NFC", text)`.
- `accents: required` entries match only the accented form ("lồn" but not "lon", which is
  also "lợn", "lớn", "lon bia"); `accents: optional` entries are matched with the diacritics
  of both the entry and the text removed ("khốn nạn" also finds "khon nan"). Only entries that
  are unambiguous without diacritics may be optional.
- Word-list entries match whole words (no letter or digit on either side: "dm" is not found in
  "admin", "cc" not in "accc"), case-insensitively, with letters repeated ("nguuu"), letters
  separated by dots, spaces, stars, dashes or zero-width characters ("đ.m", "v c l", "đ*m"),
  common digit-for-letter substitutions (0→o, 1→i, 3→e, 4→a, @→a, $→s) and words run together
  ("thằngchó"). Regex entries are applied as written (case-insensitive).
- A rule's `exceptions` (same type as the rule) cancel a hit that they overlap: "hạt óc chó"
  (walnut) cancels "óc chó"; "không cung cấp mã OTP" cancels an OTP request.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Union

import yaml

from nlu.normalize import has_diacritics, strip_diacritics

DEFAULT_RULES_PATH = Path(__file__).resolve().parent / "data" / "prohibited_content.yml"

SEVERITIES = ("block", "flag")
TYPES = ("words", "regex")
ACCENTS = ("required", "optional")
CONTEXTS = ("public_comment", "private_message", "outgoing")

_TOP_KEYS = {"version", "categories", "rules"}
_CATEGORY_KEYS = {"label_vi", "label_en", "source", "note"}
_RULE_KEYS = {"id", "category", "severity", "type", "accents", "public_only", "words", "patterns",
              "exceptions", "note", "examples"}
_EXAMPLE_KEYS = {"match", "no_match"}
_ID = re.compile(r"^[a-z][a-z0-9_]*$")

# Between two letters of one word: obfuscation people type ("đ.m", "v c l", "đ*m", "l-ồ-n"),
# and invisible characters. Not "/" ("50.000 đ/m" is a price per metre) nor ",".
_SEP = r"[\s.*\-_+~^'`\"|\\\u00ad\u200b-\u200f\u2060\ufeff]{0,3}"
# Between two words of one entry: spaces or the same obfuscation, or nothing ("thằngchó");
# not a comma, and not a full stop that ends a sentence ("Hòn Gai. Gọi ..." is two sentences).
_GAP = r"(?:[\s*\-_+~^'`\"|\\\u00ad\u200b-\u200f\u2060\ufeff]|\.(?!\s)){0,3}"
_LEET = {"a": "4@", "e": "3", "i": "1", "o": "0", "s": "$"}
_BEFORE = r"(?<![^\W_])"  # no letter or digit just before
_AFTER = r"(?![^\W_])"  # no letter or digit just after


class RulesError(ValueError):
    """The rules file is not valid; the message names the file and the rule or category."""


@dataclass(frozen=True)
class Category:
    id: str
    label_vi: str
    label_en: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Hit:
    """One match of one rule. `span` is (start, end) in the NFC form of the checked text."""

    category: str
    rule_id: str
    severity: str
    span: tuple[int, int]
    excerpt: str
    label_vi: str
    label_en: str


@dataclass(frozen=True)
class Verdict:
    """The filter's decision on one text: every hit, and what each context should do."""

    hits: tuple[Hit, ...]
    public: bool

    @property
    def blocked(self) -> bool:
        return any(h.severity == "block" for h in self.hits)

    @property
    def flagged(self) -> bool:
        return bool(self.hits)

    def _reason(self, lang: str) -> str:
        if not self.hits:
            return ""
        shown = [h for h in self.hits if h.severity == "block"] if self.blocked else list(self.hits)
        groups: dict[str, list[str]] = {}
        labels: dict[str, str] = {}
        for h in shown:
            labels[h.category] = h.label_vi if lang == "vi" else h.label_en
            ids = groups.setdefault(h.category, [])
            if h.rule_id not in ids:
                ids.append(h.rule_id)
        word = ("quy tắc", "Nội dung bị chặn", "Nội dung cần cán bộ xem lại") if lang == "vi" else \
            ("rule", "Content blocked", "Content to be reviewed by an officer")
        parts = [f"{labels[c]} ({word[0]} {', '.join(ids)})" for c, ids in groups.items()]
        return f"{word[1] if self.blocked else word[2]}: {'; '.join(parts)}"

    @property
    def reason_vi(self) -> str:
        """For the officer, e.g. "Nội dung bị chặn: ngôn từ thô tục, xúc phạm (quy tắc insult_vi_03)"."""
        return self._reason("vi")

    @property
    def reason_en(self) -> str:
        return self._reason("en")

    def action(self, context: str) -> str:
        """"hide" | "flag" | "block" | "allow" for `context` (see the module docstring)."""
        if context not in CONTEXTS:
            raise ValueError(f"unknown context {context!r}; expected one of {CONTEXTS}")
        if context == "public_comment" and not self.public:
            raise ValueError("a public comment must be checked with public=True")
        if context == "private_message" and self.public:
            raise ValueError("a private message must be checked with public=False")
        if not self.hits:
            return "allow"
        if not self.blocked or context == "private_message":
            return "flag"
        return "hide" if context == "public_comment" else "block"


CHECK_MEMO = 256  # verdicts remembered per rule set (Rules.check)


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    severity: str
    type: str
    accents: str
    public_only: bool
    entries: tuple[str, ...]
    exceptions: tuple[str, ...]
    examples_match: tuple[str, ...]
    examples_no_match: tuple[str, ...]
    regex: re.Pattern
    exception_regex: Optional[re.Pattern]


class _Views:
    """The forms of one text that rules are matched against, each with a map back to NFC."""

    def __init__(self, text: str):
        self.nfc = unicodedata.normalize("NFC", text)
        self.plain = self.nfc.translate(_PLAIN)  # same length as nfc
        self.folded_acc, self.origin_acc = _collapse(self.nfc)
        self.folded_plain, self.origin_plain = _collapse(self.plain)

    def for_rule(self, rule: Rule) -> tuple[str, Optional[list[int]]]:
        if rule.type == "regex":
            return (self.nfc if rule.accents == "required" else self.plain), None
        if rule.accents == "required":
            return self.folded_acc, self.origin_acc
        return self.folded_plain, self.origin_plain


@functools.lru_cache(maxsize=4096)
def _strip_char(c: str) -> str:
    """One character without its diacritics ("ồ" → "o", "đ" → "d"); one character out."""
    if c.isascii():
        return c
    bare = strip_diacritics(c)
    return bare if len(bare) == 1 else c


class _PlainTable(dict):
    """`str.translate`'s table for `_strip_char`, filled as characters are met (at most
    PLAIN_TABLE_SIZE of them, like `_strip_char`'s cache: a stream of rare code points must not
    grow it without end): the bot screens every text it sends and receives, and a Python loop
    over the characters was a third of a check's time. Two threads filling one entry at once
    store the same value."""

    def __missing__(self, code: int) -> str:
        plain = _strip_char(chr(code))
        if len(self) < PLAIN_TABLE_SIZE:
            self[code] = plain
        return plain


PLAIN_TABLE_SIZE = 4096


_PLAIN = _PlainTable()
# Three of one non-digit character in a row (after lowercasing): the only texts `_collapse`
# changes. Digits are never cut, and runs of them are common in what the bot says itself (the
# tracking code QN-2026-000123, amounts such as 500.000 đồng): they must not send the text to
# the character loop (a third of a check's time on an acknowledgement). Every decimal digit
# (\d) is a digit to str.isdigit(), so a text this finds nothing in has nothing to cut.
_RUN_OF_THREE = re.compile(r"(\D)\1\1")


def _collapse(text: str) -> tuple[str, list[int]]:
    """Runs of one repeated non-digit character cut to two ("nguuuu" → "nguu", "đ.....m" →
    "đ..m"), with each kept character's index in `text`. Keeps the word patterns linear (a
    letter pattern repeats at most twice) without losing what was typed."""
    lowered = text.lower()
    # str.lower() works on the whole text: one character may become two ("İ"), and a capital
    # sigma depends on what follows it ("ΣΣΣ" -> "σσς"); the loop lowers one character at a
    # time. Where either can happen, the loop decides.
    if len(lowered) == len(text) and "Σ" not in text and _RUN_OF_THREE.search(lowered) is None:
        return text, list(range(len(text)))  # nothing to cut (most texts)
    out: list[str] = []
    origin: list[int] = []
    for i, c in enumerate(text):
        if len(out) >= 2 and not c.isdigit() and c.lower() == out[-1].lower() == out[-2].lower():
            continue
        out.append(c)
        origin.append(i)
    return "".join(out), origin


def _letter(ch: str) -> str:
    if ch in _LEET:
        return f"[{re.escape(ch + _LEET[ch])}]{{1,2}}"
    return f"{re.escape(ch)}{{1,2}}"


def _word_pattern(entry: str) -> str:
    tokens = entry.split()
    return _GAP.join(_SEP.join(_letter(c) for c in tok) for tok in tokens)


def _compile_words(entries: Iterable[str], accents: str) -> re.Pattern:
    forms = []
    for entry in entries:
        entry = unicodedata.normalize("NFC", entry.strip()).lower()
        if accents == "optional":
            entry = strip_diacritics(entry)
        forms.append(_word_pattern(entry))
    # Longest first, so that "đmm" is reported rather than its prefix "đm".
    forms.sort(key=len, reverse=True)
    return re.compile(f"{_BEFORE}(?:{'|'.join(forms)}){_AFTER}", re.IGNORECASE)


def _compile_regexes(patterns: Iterable[str], accents: str) -> re.Pattern:
    forms = []
    for p in patterns:
        p = unicodedata.normalize("NFC", p)
        forms.append(strip_diacritics(p) if accents == "optional" else p)
    return re.compile("|".join(f"(?:{p})" for p in forms), re.IGNORECASE)


class Rules:
    """A validated rule set. `check()` is pure and thread-safe (compiled patterns only)."""

    def __init__(self, categories: dict[str, Category], rules: list[Rule], path: Optional[Path] = None):
        self.categories = categories
        self.rules = rules
        self.path = path
        self._memo = functools.lru_cache(maxsize=CHECK_MEMO)(self._check)  # per rule set: no global state

    def check(self, text: Optional[str], public: bool = True) -> Verdict:
        """Every rule's hits in `text`. `public=False` (a private message) skips the rules
        marked `public_only`.

        The last CHECK_MEMO verdicts are remembered (the rules never change and a Verdict is
        frozen): the bot's fixed texts (menus, answers to a greeting, the notices' set
        phrases) are screened again and again with every reply that carries them."""
        if not text:
            return Verdict(hits=(), public=public)
        return self._memo(text, public)

    def _check(self, text: str, public: bool) -> Verdict:
        views = _Views(text)
        hits: list[Hit] = []
        for rule in self.rules:
            if rule.public_only and not public:
                continue
            hits.extend(self._hits(rule, views))
        hits.sort(key=lambda h: (h.severity != "block", h.span[0]))
        return Verdict(hits=tuple(hits), public=public)

    def _hits(self, rule: Rule, views: _Views) -> list[Hit]:
        haystack, origin = views.for_rule(rule)

        def nfc_span(m: re.Match) -> tuple[int, int]:
            if origin is None:
                return m.span()
            # The end runs to the next kept character, so the repeats dropped after the last
            # matched one ("Đ.MMMMM") are part of the excerpt.
            end = origin[m.end()] if m.end() < len(origin) else len(views.nfc)
            return (origin[m.start()], end) if m.end() > m.start() else (origin[m.start()], origin[m.start()])

        spans = [nfc_span(m) for m in rule.regex.finditer(haystack) if m.end() > m.start()]
        if spans and rule.exception_regex is not None:
            excepted = [nfc_span(m) for m in rule.exception_regex.finditer(haystack)]
            spans = [s for s in spans if not any(s[0] < e[1] and e[0] < s[1] for e in excepted)]
        category = self.categories[rule.category]
        return [Hit(category=rule.category, rule_id=rule.id, severity=rule.severity, span=s,
                    excerpt=views.nfc[s[0]:s[1]], label_vi=category.label_vi, label_en=category.label_en)
                for s in spans]

    def self_test(self) -> list[str]:
        """Each rule's own `examples`: what does not hit the rule though listed under `match`,
        or hits it though listed under `no_match`. Empty when the data file is consistent."""
        failures = []
        for rule in self.rules:
            for text in rule.examples_match:
                if not self._hits(rule, _Views(text)):
                    failures.append(f"{rule.id}: should match {text!r}")
            for text in rule.examples_no_match:
                if self._hits(rule, _Views(text)):
                    failures.append(f"{rule.id}: should not match {text!r}")
        return failures


def _strings(value, where: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise RulesError(f"{where}: '{key}' must be a non-empty list of non-empty strings")
    return tuple(value)


def _rule(raw, index: int, categories: dict[str, Category], seen: set[str], name: str) -> Rule:
    if not isinstance(raw, dict):
        raise RulesError(f"{name}: rules[{index}] must be a mapping")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not _ID.match(rule_id):
        raise RulesError(f"{name}: rules[{index}]: 'id' must be lowercase letters, digits and _ (got {rule_id!r})")
    where = f"{name}: rule {rule_id!r}"
    if rule_id in seen:
        raise RulesError(f"{where}: duplicate id")
    seen.add(rule_id)
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise RulesError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_RULE_KEYS)}")
    for key, allowed in (("severity", SEVERITIES), ("type", TYPES), ("accents", ACCENTS)):
        if raw.get(key) not in allowed:
            raise RulesError(f"{where}: '{key}' must be one of {list(allowed)} (got {raw.get(key)!r})")
    if raw.get("category") not in categories:
        raise RulesError(f"{where}: unknown category {raw.get('category')!r}; known: {sorted(categories)}")
    public_only = raw.get("public_only", False)
    if not isinstance(public_only, bool):
        raise RulesError(f"{where}: 'public_only' must be true or false")
    key, other = ("words", "patterns") if raw["type"] == "words" else ("patterns", "words")
    if other in raw:
        raise RulesError(f"{where}: a {raw['type']} rule takes '{key}', not '{other}'")
    entries = _strings(raw.get(key), where, key)
    exceptions = _strings(raw["exceptions"], where, "exceptions") if "exceptions" in raw else ()
    examples = raw.get("examples", {})
    if not isinstance(examples, dict) or set(examples) - _EXAMPLE_KEYS:
        raise RulesError(f"{where}: 'examples' must be a mapping with keys {sorted(_EXAMPLE_KEYS)}")
    if raw["type"] == "words" and raw["accents"] == "required":
        bare = [e for e in entries + exceptions if not has_diacritics(e)]
        if bare:
            raise RulesError(f"{where}: accents: required, but {bare} carry no diacritic, so the "
                             "accented and unaccented forms are the same; move them to an optional rule")
    compile_ = _compile_words if raw["type"] == "words" else _compile_regexes
    for label, items in (("pattern", entries), ("exception", exceptions)):
        for item in items:
            try:
                compile_([item], raw["accents"])
            except re.error as exc:
                raise RulesError(f"{where}: bad {label} {item!r}: {exc}") from None
    return Rule(
        id=rule_id, category=raw["category"], severity=raw["severity"], type=raw["type"],
        accents=raw["accents"], public_only=public_only, entries=entries, exceptions=exceptions,
        examples_match=_strings(examples["match"], where, "examples.match") if "match" in examples else (),
        examples_no_match=_strings(examples["no_match"], where, "examples.no_match") if "no_match" in examples else (),
        regex=compile_(entries, raw["accents"]),
        exception_regex=compile_(exceptions, raw["accents"]) if exceptions else None,
    )


def parse_rules(data, name: str = "<rules>") -> Rules:
    """Validate the parsed YAML of a rules file; raise RulesError naming what is wrong."""
    if not isinstance(data, dict):
        raise RulesError(f"{name}: the file must be a mapping with keys {sorted(_TOP_KEYS)}")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise RulesError(f"{name}: unknown top-level key(s) {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}")
    if data.get("version") != 1:
        raise RulesError(f"{name}: 'version' must be 1 (got {data.get('version')!r})")
    raw_categories = data.get("categories")
    if not isinstance(raw_categories, dict) or not raw_categories:
        raise RulesError(f"{name}: 'categories' must be a non-empty mapping")
    categories = {}
    for cid, raw in raw_categories.items():
        where = f"{name}: category {cid!r}"
        if not isinstance(cid, str) or not _ID.match(cid):
            raise RulesError(f"{where}: id must be lowercase letters, digits and _")
        if not isinstance(raw, dict):
            raise RulesError(f"{where}: must be a mapping")
        unknown = set(raw) - _CATEGORY_KEYS
        if unknown:
            raise RulesError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_CATEGORY_KEYS)}")
        for key in ("label_vi", "label_en"):
            if not isinstance(raw.get(key), str) or not raw[key].strip():
                raise RulesError(f"{where}: '{key}' is required")
        if "source" not in raw:
            raise RulesError(f"{where}: 'source' is required (the legal basis of the category)")
        categories[cid] = Category(cid, unicodedata.normalize("NFC", raw["label_vi"]), raw["label_en"],
                                   _strings(raw["source"], where, "source"))
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise RulesError(f"{name}: 'rules' must be a non-empty list")
    seen: set[str] = set()
    rules = [_rule(raw, i, categories, seen, name) for i, raw in enumerate(raw_rules)]
    return Rules(categories, rules)


def load_rules(path: Union[str, Path, None] = None) -> Rules:
    """The rules in `path` (default: cases/data/prohibited_content.yml), validated."""
    path = Path(path) if path is not None else DEFAULT_RULES_PATH
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RulesError(f"{path.name}: not valid YAML: {exc}") from None
    rules = parse_rules(data, path.name)
    rules.path = path
    return rules


@functools.lru_cache(maxsize=1)
def default_rules() -> Rules:
    """The packaged rules, loaded once per process (callers that reload after an edit call
    load_rules() themselves)."""
    return load_rules()
