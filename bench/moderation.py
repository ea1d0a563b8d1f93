"""Prohibited-content filter (cases/moderation.py): false positives on every NLU training and
held-out message, detection on the hidden-comment examples, false positives on the angry but
legitimate examples, and the time one check takes.

Run with `python -m bench.moderation` (or `python -m bench moderation`). The numbers printed
are the ones tests/test_moderation.py asserts on; this script shows them and what was missed.
"""
from __future__ import annotations

import argparse
import re
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Iterator

import yaml

REPO = Path(__file__).resolve().parent.parent
NLU_FILES = sorted((REPO / "nlu" / "data").glob("*.yml")) + sorted((REPO / "nlu" / "heldout").glob("*.yml"))
FIXTURES = REPO / "tests" / "fixtures" / "moderation"
_ANNOTATION = re.compile(r"\[([^\]]+)\]\([^)]+\)")  # Rasa "[0912 345 678](phone)" → "0912 345 678"


def nlu_messages() -> Iterator[tuple[str, str, str]]:
    """(file name, intent, message) for every example of every intent in nlu/data and
    nlu/heldout; regex and lookup entries are patterns, not messages, and are skipped."""
    for path in NLU_FILES:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("nlu") or []:
            if "intent" not in item or not item.get("examples"):
                continue
            for line in item["examples"].splitlines():
                line = line.strip()
                if line.startswith("- "):
                    yield path.name, item["intent"], _ANNOTATION.sub(r"\1", line[2:])


def nlu_spam() -> set[str]:
    """The NLU messages that are themselves spam (loan-shark and task-scam ads written as
    examples of the out-of-scope intent): blocking them is right, so they are not false
    positives. Listed in tests/fixtures/moderation/nlu_spam.yml."""
    return set(yaml.safe_load((FIXTURES / "nlu_spam.yml").read_text(encoding="utf-8"))["messages"])


def prohibited_examples() -> list[dict]:
    return yaml.safe_load((FIXTURES / "prohibited_examples.yml").read_text(encoding="utf-8"))["examples"]


def legitimate_examples() -> list[str]:
    return yaml.safe_load((FIXTURES / "legitimate_examples.yml").read_text(encoding="utf-8"))["examples"]


def _per_check_us(rules, texts: list[str], repeat: int) -> list[float]:
    times = []
    for text in texts:
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            rules.check(text, public=True)
            best = min(best, time.perf_counter() - start)
        times.append(best * 1e6)
    return times


ADVERSARIAL = {
    "letters": lambda n: "a" * n,
    "d.m repeated": lambda n: "d.m." * (n // 4),
    "spaced letters": lambda n: "c " * (n // 2),
    "digits": lambda n: "0" * n,
    "dotted domain": lambda n: "gov." * (n // 4),
    "words": lambda n: ("kêu gọi mọi người " * (n // 18))[:n],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench moderation", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=8000, help="adversarial text length (a comment's limit is 8,000)")
    args = parser.parse_args(argv)
    from cases.moderation import load_rules

    rules = load_rules()
    status = 0

    messages = list(nlu_messages())
    spam = nlu_spam()
    blocked = [(f, i, t, rules.check(t, public=True)) for f, i, t in messages]
    blocked = [b for b in blocked if b[3].blocked]
    false_pos = [b for b in blocked if b[2] not in spam]
    clean = len(messages) - len(spam)
    print(f"NLU training + held-out messages: {len(messages)} ({len(NLU_FILES)} files), checked as public comments")
    print(f"  blocked: {len(blocked)}, of which listed spam: {len(blocked) - len(false_pos)} / {len(spam)}")
    print(f"  false positives: {len(false_pos)} / {clean} (rate {len(false_pos) / clean:.4f})")
    flagged = Counter(h.rule_id for _, _, t in messages for h in rules.check(t, public=True).hits
                      if h.severity == "flag")
    print(f"  flagged only (shown to an officer, not hidden): {dict(flagged)}")
    private_flags = sum(1 for _, _, t in messages if rules.check(t, public=False).hits and t not in spam)
    print(f"  as private messages: {private_flags} with any hit (expected 0)")
    for f, i, t, v in false_pos:
        print(f"    FP {f} {i}: {t!r} {v.reason_en}")
    if false_pos or len(blocked) - len(false_pos) != len(spam) or private_flags:
        status = 1

    examples = prohibited_examples()
    missed = []
    by_cat: dict[str, list[int]] = {}
    by_style: dict[str, list[int]] = {}
    wrong_category = []
    for ex in examples:
        v = rules.check(ex["text"], public=True)
        hit = int(v.action("public_comment") == "hide")
        by_cat.setdefault(ex["category"], []).append(hit)
        by_style.setdefault(ex["style"], []).append(hit)
        if not hit:
            missed.append(ex)
        elif ex["category"] not in {h.category for h in v.hits if h.severity == "block"}:
            wrong_category.append((ex, v.reason_en))
    detected = len(examples) - len(missed)
    print(f"\nHidden-comment examples: detected {detected} / {len(examples)} (rate {detected / len(examples):.3f})")
    for name, table in (("category", by_cat), ("style", by_style)):
        print(f"  by {name}: " + ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(table.items())))
    for ex in missed:
        print(f"    MISSED {ex['category']}: {ex['text']!r}")
    for ex, reason in wrong_category:
        print(f"    other category {ex['category']}: {ex['text']!r} → {reason}")
    if detected / len(examples) < 0.95:
        status = 1

    legit = legitimate_examples()
    legit_blocked = [t for t in legit if rules.check(t, public=True).blocked]
    legit_flagged = [t for t in legit if rules.check(t, public=True).hits and t not in legit_blocked]
    print(f"\nAngry but legitimate examples: false positives {len(legit_blocked)} / {len(legit)}, "
          f"flagged only {len(legit_flagged)}")
    for t in legit_blocked:
        print(f"    FP: {t!r} {rules.check(t).reason_en}")
    if legit_blocked:
        status = 1

    texts = [t for _, _, t in messages]
    times = _per_check_us(rules, texts, repeat=3)
    print(f"\nTime per check ({len(rules.rules)} rules), best of 3: median {statistics.median(times):.0f} µs, "
          f"p99 {sorted(times)[int(len(times) * 0.99)]:.0f} µs, max {max(times):.0f} µs over {len(texts)} messages")
    for name, make in ADVERSARIAL.items():
        ms = _per_check_us(rules, [make(args.size)], repeat=1)[0] / 1000
        print(f"  {args.size} chars of {name!r}: {ms:.1f} ms")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
