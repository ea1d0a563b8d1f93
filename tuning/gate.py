"""The evaluation gate: a candidate model against the active one on the held-out set.

Both are scored the way the worker uses them (nlu.evaluate: `Classifier.classify`, so
normalisation and abstention are those of production): macro-F1 overall and per variant
(the held-out files vi, vi_nodiacritics, en, noisy), F1 per intent, and the share and
precision of automatic routing at the configured threshold and margin. Activation is refused
when overall macro-F1 drops by more than MAX_OVERALL_DROP or any variant's by more than
MAX_VARIANT_DROP, unless an admin gives a written reason (tuning.versions records it).
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from nlu import evaluate as ev

MAX_OVERALL_DROP = 0.005
MAX_VARIANT_DROP = 0.02


def heldout_fingerprint(directory: Path) -> str:
    """Scores are comparable only on the same held-out files."""
    digest = hashlib.sha256()
    for name in ev.SUBSETS:
        path = Path(directory) / f"{name}.yml"
        if path.exists():
            digest.update(name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def heldout_examples(directory: Path) -> list[ev.Example]:
    return [e for name in ev.SUBSETS if (Path(directory) / f"{name}.yml").exists()
            for e in ev.read_examples(Path(directory) / f"{name}.yml", name)]


def summary(predictions: Sequence[ev.Prediction], *, threshold: float, min_margin: float, heldout: str) -> dict:
    """What is kept of an evaluation (nlu_models.scores): plain JSON."""
    s = ev.scores(predictions)
    return {
        "heldout": heldout,
        "n": s["n"],
        "macro_f1": ev.macro_f1_by_subset(predictions),
        "per_intent": {name: row["f1"] for name, row in s["per_intent"].items()},
        "routing": ev.routed(predictions, threshold, min_margin),
    }


def evaluate(classifier, directory: Path, *, threshold: float, min_margin: float) -> dict:
    return summary(ev.predict(classifier, heldout_examples(directory)), threshold=threshold, min_margin=min_margin,
                   heldout=heldout_fingerprint(directory))


@dataclass(frozen=True)
class Row:
    name: str
    active: Optional[float]
    candidate: Optional[float]

    @property
    def change(self) -> Optional[float]:
        return None if self.active is None or self.candidate is None else self.candidate - self.active


@dataclass(frozen=True)
class Comparison:
    """Side by side, as the admins' page and `flask nlu versions` show it."""

    active_version: Optional[str]
    candidate_version: str
    macro_f1: tuple[Row, ...]  # "all" first, then each variant
    per_intent: tuple[Row, ...]
    routing: dict  # {"active": {...}, "candidate": {...}} with auto_share, auto_precision, threshold, min_margin
    refusals: tuple[str, ...] = field(default_factory=tuple)  # why activation is refused (empty: allowed)

    @property
    def allowed(self) -> bool:
        return not self.refusals

    def as_dict(self) -> dict:
        data = asdict(self)
        for part in ("macro_f1", "per_intent"):
            data[part] = [{**asdict(r), "change": r.change} for r in getattr(self, part)]
        data["allowed"] = self.allowed
        return data


def compare(active: Optional[dict], candidate: Optional[dict], *, active_version: Optional[str],
            candidate_version: str) -> Comparison:
    """The verdict. No active model: nothing to protect, allowed. A candidate never
    evaluated (trained by `flask nlu train`), or evaluated on other held-out files than the
    active model: the gate cannot judge, refused (an admin can still override)."""
    if candidate is None:
        return Comparison(active_version, candidate_version, (), (), {}, ("the candidate was never evaluated",))
    a_f1 = (active or {}).get("macro_f1", {})
    c_f1 = candidate["macro_f1"]
    names = ["all"] + [n for n in ev.SUBSETS if n in c_f1 or n in a_f1]
    macro = tuple(Row(n, a_f1.get(n), c_f1.get(n)) for n in names)
    intents = sorted(set((active or {}).get("per_intent", {})) | set(candidate["per_intent"]))
    per_intent = tuple(Row(i, (active or {}).get("per_intent", {}).get(i), candidate["per_intent"].get(i))
                       for i in intents)
    routing = {"active": (active or {}).get("routing"), "candidate": candidate.get("routing")}
    refusals = []
    if active is not None:
        if active.get("heldout") != candidate.get("heldout"):
            refusals.append("the two models were evaluated on different held-out files")
        for row in macro:
            limit = MAX_OVERALL_DROP if row.name == "all" else MAX_VARIANT_DROP
            if row.change is not None and row.change < -limit:
                refusals.append(f"macro-F1 {row.name} drops by {-row.change:.3f} "
                                f"({row.active:.3f} -> {row.candidate:.3f}; at most {limit:.3f} allowed)")
    return Comparison(active_version, candidate_version, macro, per_intent, routing, tuple(refusals))


def comparison_from_dict(data: dict) -> Comparison:
    return Comparison(data["active_version"], data["candidate_version"],
                      tuple(Row(r["name"], r["active"], r["candidate"]) for r in data["macro_f1"]),
                      tuple(Row(r["name"], r["active"], r["candidate"]) for r in data["per_intent"]),
                      data["routing"], tuple(data["refusals"]))
