"""Measure a classifier on labelled messages, the way the worker uses it.

Every prediction goes through `Classifier.classify` (normalisation, the model, in process or
on a Rasa server), so the figures are those of production. Gives per-intent precision,
recall and F1, macro-F1 overall and per subset, a confusion-matrix PNG, and the share of
messages decided without a person at a confidence threshold and margin, with its precision.
Used by `flask nlu evaluate`, `python -m nlu.compare` and the benchmark.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

import yaml

HELDOUT_DIR = Path(__file__).resolve().parent / "heldout"
SUBSETS = ("vi", "vi_nodiacritics", "en", "noisy")
# The precision that messages decided without a person must reach (issue 4).
TARGET_PRECISION = 0.97
_ANNOTATION = re.compile(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\{[^}]*\}")


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    subset: str = ""


@dataclass(frozen=True)
class Prediction:
    text: str
    gold: str
    subset: str
    intent: Optional[str]
    confidence: float
    margin: float  # top confidence minus the runner-up's
    seconds: float = 0.0

    @property
    def correct(self) -> bool:
        return self.intent == self.gold


def read_examples(path: Path, subset: str = "") -> list[Example]:
    """Intent examples of a Rasa 3 YAML file (entity annotations reduced to their text)."""
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    out = []
    for item in doc.get("nlu") or []:
        if "intent" not in item:
            continue
        for line in str(item.get("examples") or "").splitlines():
            line = line.strip()
            if line.startswith("- "):
                text = _ANNOTATION.sub(lambda m: m.group(1) or m.group(2) or "", line[2:].strip())
                out.append(Example(text, item["intent"], subset))
    return out


def heldout(directory: Path = HELDOUT_DIR) -> list[Example]:
    """The held-out test set: one subset per file (vi, vi_nodiacritics, en, noisy)."""
    return [e for name in SUBSETS for e in read_examples(Path(directory) / f"{name}.yml", name)]


def predict(classifier, examples: Iterable[Example]) -> list[Prediction]:
    out = []
    for example in examples:
        started = time.perf_counter()
        result = classifier.classify(example.text)
        seconds = time.perf_counter() - started
        ranking = list(result.ranking)
        margin = ranking[0][1] - ranking[1][1] if len(ranking) > 1 else result.confidence
        out.append(Prediction(example.text, example.intent, example.subset, result.intent,
                              float(result.confidence), float(margin), seconds))
    return out


def scores(predictions: Sequence[Prediction]) -> dict:
    """Per-intent precision/recall/F1/support over the gold labels, macro-F1, accuracy."""
    from sklearn.metrics import precision_recall_fscore_support

    labels = sorted({p.gold for p in predictions})
    gold = [p.gold for p in predictions]
    pred = [p.intent or "" for p in predictions]
    precision, recall, f1, support = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    per_intent = {
        label: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                "support": int(support[i])}
        for i, label in enumerate(labels)
    }
    return {
        "per_intent": per_intent,
        "macro_f1": float(sum(f1) / len(f1)) if len(f1) else 0.0,
        "accuracy": sum(p.correct for p in predictions) / len(predictions) if predictions else 0.0,
        "n": len(predictions),
    }


def macro_f1_by_subset(predictions: Sequence[Prediction]) -> dict[str, float]:
    out = {"all": scores(predictions)["macro_f1"]}
    for subset in dict.fromkeys(p.subset for p in predictions):
        out[subset] = scores([p for p in predictions if p.subset == subset])["macro_f1"]
    return out


def routed(predictions: Sequence[Prediction], threshold: float, min_margin: float) -> dict:
    """Messages the bot decides alone (not needs_review) and how often they are right.

    Every intent counts, conversation intents too: a greeting taken for an inquiry, or an
    inquiry answered as small talk, is a wrong automatic decision as well."""
    auto = [p for p in predictions
            if p.intent is not None and p.confidence >= threshold and not (min_margin > 0 and p.margin < min_margin)]
    right = sum(p.correct for p in auto)
    return {
        "threshold": threshold, "min_margin": min_margin, "n": len(predictions), "auto": len(auto),
        "auto_share": len(auto) / len(predictions) if predictions else 0.0,
        "auto_precision": right / len(auto) if auto else 1.0,
    }


def choose_threshold(predictions: Sequence[Prediction], target: float = TARGET_PRECISION) -> dict:
    """The threshold and margin (steps of 0.01) that decide the most messages alone while
    those decisions stay at least `target` right; ties go to the lower, simpler values."""
    best = None
    for t in range(0, 100):
        for m in range(0, 51):
            stats = routed(predictions, t / 100, m / 100)
            if stats["auto_precision"] < target:
                continue
            key = (stats["auto"], -m, -t)
            if best is None or key > best[0]:
                best = (key, stats)
    if best is None:
        return routed(predictions, 1.0, 1.0)
    return best[1]


def latency(predictions: Sequence[Prediction]) -> dict:
    import numpy as np

    ms = np.array([p.seconds * 1000 for p in predictions]) if predictions else np.zeros(1)
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "mean_ms": float(ms.mean())}


def confusion_png(predictions: Sequence[Prediction], path: Path, title: str = "") -> Path:
    """Save the confusion matrix (rows: true intent, columns: predicted) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    labels = sorted({p.gold for p in predictions} | {p.intent for p in predictions if p.intent})
    matrix = confusion_matrix([p.gold for p in predictions], [p.intent or "" for p in predictions], labels=labels)
    size = max(6.0, 0.42 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("predicted intent")
    ax.set_ylabel("true intent")
    ax.set_title(title or "NLU confusion matrix", fontsize=10)
    limit = matrix.max() / 2 if matrix.size else 0
    for i in range(len(labels)):
        for j in range(len(labels)):
            if matrix[i, j]:
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if matrix[i, j] > limit else "black")
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def report(predictions: Sequence[Prediction], threshold: float, min_margin: float) -> dict:
    return {
        "scores": scores(predictions),
        "macro_f1": macro_f1_by_subset(predictions),
        "routing": routed(predictions, threshold, min_margin),
        "latency": latency(predictions),
    }


def render(result: dict, model_version: Optional[str] = None) -> str:
    """The report as text for the terminal (labels in Vietnamese, metric names as usual)."""
    s, lines = result["scores"], []
    if model_version:
        lines.append(f"Mô hình {model_version}")
    lines.append(f"{'intent':<22} {'precision':>9} {'recall':>7} {'f1':>6} {'số câu':>8}")
    for name, row in s["per_intent"].items():
        lines.append(f"{name:<22} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['f1']:>6.3f} {row['support']:>8}")
    lines.append("")
    lines.append("macro-F1  " + "  ".join(f"{k}={v:.3f}" for k, v in result["macro_f1"].items()))
    lines.append(f"accuracy  {s['accuracy']:.3f} trên {s['n']} câu")
    r = result["routing"]
    lines.append(f"Tự động (ngưỡng {r['threshold']}, chênh lệch {r['min_margin']}): {r['auto']}/{r['n']} câu "
                 f"= {r['auto_share']:.1%}, đúng {r['auto_precision']:.1%}; còn lại chuyển phân loại thủ công")
    lat = result["latency"]
    lines.append(f"Độ trễ    p50 {lat['p50_ms']:.1f} ms, p95 {lat['p95_ms']:.1f} ms mỗi câu")
    if result.get("confusion_png"):
        lines.append(f"Ma trận nhầm lẫn: {result['confusion_png']}")
    return "\n".join(lines)


def evaluate(classifier, examples: Sequence[Example], out_dir: Path, *, threshold: float, min_margin: float,
             title: str = "") -> dict:
    """Predict, score, draw the confusion matrix and write predictions.jsonl + report.json."""
    predictions = predict(classifier, examples)
    result = report(predictions, threshold, min_margin)
    out_dir = Path(out_dir)
    result["confusion_png"] = str(confusion_png(predictions, out_dir / "confusion_matrix.png", title))
    result["model_version"] = getattr(classifier, "version", None)
    with (out_dir / "predictions.jsonl").open("w", encoding="utf-8") as fh:
        for p in predictions:
            fh.write(json.dumps(asdict(p), ensure_ascii=False) + "\n")
    (out_dir / "report.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return result
