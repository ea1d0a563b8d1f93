"""The simulated traffic of the admins' NLU loop (nlu/traffic/, bench/nlu_loop.py): well formed,
labelled with the training data's intents, independent of the two measuring sets, and its
accepted labels (nlu/data/traffic.yml) free of the traffic's personal data. No model needed.
"""
from __future__ import annotations

from bench.nlu_loop import STYLES, leaks, personal_data, read_traffic, traffic_names
from nlu.evaluate import read_examples
from tests.conftest import REPO
from tuning import dataset
from tuning.gate import heldout_examples
from tuning.similarity import key

TRAFFIC = read_traffic()
ACCEPTED = REPO / "nlu" / "data" / "traffic.yml"


def test_every_message_has_an_intent_of_the_training_data_in_every_style():
    intents = dataset.intents(REPO / "nlu")
    assert len(TRAFFIC) >= 400
    assert {m["intent"] for m in TRAFFIC} <= intents
    for style in STYLES:
        assert {m["intent"] for m in TRAFFIC if m["style"] == style} == intents, style


def test_the_traffic_shares_no_message_with_the_measuring_sets():
    """Independence (nlu/traffic/README.md): no traffic text is a probe2 or heldout text
    (compared as the inbox compares texts). Only the traffic's side is printed."""
    measuring = {key(e.text) for name in ("heldout", "probe2") for e in heldout_examples(REPO / "nlu" / name)}
    shared = [m["text"] for m in TRAFFIC if key(m["text"]) in measuring]
    assert not shared, f"traffic messages also in a measuring set: {shared}"


def test_the_accepted_labels_hold_no_personal_data_of_the_traffic():
    names = traffic_names()
    pii = personal_data([m["text"] for m in TRAFFIC], names)
    assert len(names) >= 10 and all(pii[k] for k in ("phone", "email", "tax_code", "tracking_code"))
    written = ACCEPTED.read_text(encoding="utf-8")
    assert leaks(written, pii) == []
    # the check itself sees a leak of each kind
    for kind, values in pii.items():
        value = sorted(values)[0]
        assert leaks(written + f"    - {value}\n", pii) == [f"{kind}: {value}"]


def test_the_accepted_labels_are_the_traffic_labels():
    """nlu/data/traffic.yml is the loop's output for this traffic: as many examples per intent
    as distinct messages of that intent (the inbox writes a text once per intent)."""
    per_intent: dict[str, int] = {}
    for e in read_examples(ACCEPTED):
        per_intent[e.intent] = per_intent.get(e.intent, 0) + 1
    expected: dict[str, set] = {}
    for m in TRAFFIC:
        expected.setdefault(m["intent"], set()).add(key(m["text"]))
    assert sum(per_intent.values()) >= len(TRAFFIC) - 5
    for intent, keys in expected.items():
        assert abs(per_intent.get(intent, 0) - len(keys)) <= 2, intent
