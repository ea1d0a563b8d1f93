"""The conversation's reading of a message (issue 11, points 1 and 2), measured with the real
classifier on the held-out sets (nlu/heldout, nlu/probe2: measurement only, never tuned on).

1. Greetings (bot/conversation/phrasing.py `classify_past_courtesy`): pure greetings and
   thanks must stay small talk; domain questions must not change; a domain question with a
   greeting or thanks in front ("Hello, how do I …") must be an inquiry, not a hello.
   Baseline: classifying the whole text (what the conversation did before).
2. Follow-ups (bot/conversation/followup.py `new_matter`): additions to the open inquiry
   join (tests/fixtures/conversation/followups.yml), another domain's question does not
   (the held-out domain messages, each after an open inquiry of another domain, and the
   fixture's new questions); with the word count of a question opener swept.

Run with `python -m bench.conversation [--model-dir build/test-models]` (a trained model is
needed: `flask nlu train` or the test suite's build/test-models).
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Iterator, Optional

import yaml

REPO = Path(__file__).resolve().parent.parent
SETS = {"heldout": REPO / "nlu" / "heldout", "probe2": REPO / "nlu" / "probe2"}
FOLLOWUPS = REPO / "tests" / "fixtures" / "conversation" / "followups.yml"
# Openers put in front of held-out domain questions. Some are in phrasing.yml, some are
# deliberately not (a reader's own wording), so the number is not flattered.
OPENERS = [
    "Chào anh chị, ", "Xin chào ad ạ. ", "Dạ em chào anh chị ạ, ", "Cảm ơn ad đã trả lời. ", "Chao ad, ",
    "Hello, ", "Hi there! ", "Thanks, and one more question: ", "Good morning. ", "Dear Sir/Madam, ",
    "Em chào ban quản trị, ", "Cám ơn anh chị nhiều, ", "Alo ad ơi, ", "Chúc ad buổi sáng tốt lành, ",
    "Hi admin, ", "Thank you so much. ",
]


def examples(folder: Path) -> Iterator[tuple[str, str, str]]:
    """(subset, intent, message) of one test set."""
    for path in sorted(folder.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("nlu") or []:
            for line in (item.get("examples") or "").splitlines():
                line = line.strip()
                if item.get("intent") and line.startswith("- "):
                    yield path.stem, item["intent"], line[2:]


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:5.1f}% ({n}/{d})" if d else "  -  "


def _talk(r) -> bool:
    from bot.conversation.phrasing import SMALL_TALK

    return r.intent in SMALL_TALK and not r.needs_review


def measure_greetings(classify, phrasing, sets: dict[str, Path], every: int = 1) -> dict:
    """Counts per set; `every` > 1 takes only every n-th domain message (a quicker sample)."""
    from bot.conversation.phrasing import SMALL_TALK, classify_past_courtesy
    from routing.taxonomy import DOMAIN_INTENTS

    out = {}
    for name, folder in sets.items():
        c: Counter = Counter()
        for i, (_, intent, text) in enumerate(examples(folder)):
            before, after = classify(text), classify_past_courtesy(text, classify, phrasing)
            if intent in SMALL_TALK:
                c["talk"] += 1
                c["talk_before"] += _talk(before)
                c["talk_after"] += _talk(after)
            elif intent in DOMAIN_INTENTS and i % every == 0:
                c["domain"] += 1
                for tag, r in (("before", before), ("after", after)):
                    c[f"auto_{tag}"] += not r.needs_review
                    c[f"right_{tag}"] += (not r.needs_review) and r.intent == intent
                    c[f"swallowed_{tag}"] += _talk(r)
                opener = OPENERS[i % len(OPENERS)]
                wrapped = opener + text
                for tag, r in (("before", classify(wrapped)), ("after", classify_past_courtesy(wrapped, classify,
                                                                                             phrasing))):
                    c[f"w_swallowed_{tag}"] += _talk(r)
                    c[f"w_auto_{tag}"] += not r.needs_review
                    c[f"w_right_{tag}"] += (not r.needs_review) and r.intent == intent
        out[name] = c
    return out


def _followup_pairs(sets: dict[str, Path], every: int = 1) -> Iterator[tuple[str, str, str]]:
    """(open intent, follow-up, expected) from the fixture and the held-out domain messages
    (each after an open inquiry of the next domain in DOMAIN_INTENTS: another matter)."""
    from routing.taxonomy import DOMAIN_INTENTS

    data = yaml.safe_load(FOLLOWUPS.read_text(encoding="utf-8"))
    for kind in ("same_matter", "new_matter"):
        for group in data[kind]:
            for text in group["followups"]:
                yield group["open"]["intent"], text, kind
    for folder in sets.values():
        for i, (_, intent, text) in enumerate(examples(folder)):
            if intent in DOMAIN_INTENTS and i % every == 0:
                other = DOMAIN_INTENTS[(DOMAIN_INTENTS.index(intent) + 1) % len(DOMAIN_INTENTS)]
                yield other, text, "heldout_new"


SWEEP = [(short, question) for short in (0, 4, 6, 8) for question in (5, 7, 9)]


def measure_followups(classify, phrasing, sets: dict[str, Path], sweep=SWEEP, every: int = 1) -> dict:
    """Per (SHORT_ADDITION_WORDS, NEW_QUESTION_MIN_WORDS): how often each kind is asked about
    (`every` > 1: every n-th held-out message only)."""
    from bot.conversation import followup, phrasing as phrasing_module
    from bot.conversation.phrasing import classify_past_courtesy

    pairs = [(o, t, k, classify_past_courtesy(t, classify, phrasing)) for o, t, k in _followup_pairs(sets, every)]
    results = {}
    saved = followup.SHORT_ADDITION_WORDS, phrasing_module.NEW_QUESTION_MIN_WORDS
    try:
        for n in sweep:
            followup.SHORT_ADDITION_WORDS, phrasing_module.NEW_QUESTION_MIN_WORDS = n
            c: Counter = Counter()
            for open_intent, text, kind, r in pairs:
                if _talk(r) or (r.intent in ("tra_cuu", "ngoai_pham_vi") and not r.needs_review):
                    c[f"{kind}_conversation"] += 1  # answered as conversation before the rule applies
                    c[kind] += 1
                    continue
                c[kind] += 1
                c[f"{kind}_asked"] += followup.new_matter(open_intent, r, text, phrasing) is not None
            results[n] = c
    finally:
        followup.SHORT_ADDITION_WORDS, phrasing_module.NEW_QUESTION_MIN_WORDS = saved
    return results


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.conversation", description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", default=str(REPO / "build" / "test-models"))
    args = parser.parse_args(argv)
    from bot.conversation.phrasing import default_phrasing
    from nlu.classifier import RasaClassifier
    from nlu.training import read_active

    model_dir = Path(args.model_dir)
    if not read_active(model_dir):
        print(f"no active model in {model_dir}: run the tests once or `flask nlu train`; skipped")
        return 0
    config = yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))["nlu"]
    model = RasaClassifier(model_dir, threshold=config["threshold"], min_margin=config["min_margin"])
    classify, phrasing = model.classify, default_phrasing()

    print("1. greetings: whole text (before) vs past the courtesy (after)")
    for name, c in measure_greetings(classify, phrasing, SETS).items():
        print(f"  {name}: pure greetings/thanks answered as small talk  before {_pct(c['talk_before'], c['talk'])}"
              f"  after {_pct(c['talk_after'], c['talk'])}")
        print(f"  {name}: domain questions decided automatically       before {_pct(c['auto_before'], c['domain'])}"
              f"  after {_pct(c['auto_after'], c['domain'])}")
        print(f"  {name}: ... and right                               before {_pct(c['right_before'], c['domain'])}"
              f"  after {_pct(c['right_after'], c['domain'])}")
        print(f"  {name}: greeting + domain question taken as small talk before "
              f"{_pct(c['w_swallowed_before'], c['domain'])}  after {_pct(c['w_swallowed_after'], c['domain'])}")
        print(f"  {name}: greeting + domain question decided and right  before "
              f"{_pct(c['w_right_before'], c['domain'])}  after {_pct(c['w_right_after'], c['domain'])}")
    print("\n2. follow-ups: asked whether it is a new question (SHORT_ADDITION_WORDS, NEW_QUESTION_MIN_WORDS)")
    for (short, question), c in measure_followups(classify, phrasing, SETS).items():
        print(f"  ({short}, {question}): same matter asked {_pct(c['same_matter_asked'], c['same_matter'])}"
              f" | fixture new matter asked {_pct(c['new_matter_asked'], c['new_matter'])}"
              f" | held-out other-domain asked {_pct(c['heldout_new_asked'], c['heldout_new'])}"
              f" (answered as conversation: {c['heldout_new_conversation']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
