"""Compare NLU pipelines by measurement: `python -m nlu.compare` (from the repository root).

For each candidate pipeline (below): stratified k-fold cross-validation on the training data
(the augmentation is applied inside each training fold, so no unaccented copy of a test
message is trained on), then one model trained on all of it, timed, and scored on the
held-out set (nlu/heldout/, four subsets) with the parse latency of each message. The
chosen candidate's out-of-fold predictions also choose the confidence threshold and margin
(nlu.evaluate.choose_threshold); the held-out set only checks them.

Results go to results/nlu-compare/<candidate>.json (one file each, so `--only` can redo
one) and a Markdown table is printed; nlu/README.md records the table of a full run.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import yaml

from nlu import evaluate as ev

REPO = Path(__file__).resolve().parent.parent
PROJECT = REPO / "nlu"
OUT = REPO / "results" / "nlu-compare"
SEED = 42

_HEAD = [
    {"name": "WhitespaceTokenizer"},
    {"name": "RegexFeaturizer", "case_sensitive": False},
]
_TAIL = [
    {"name": "RegexEntityExtractor", "case_sensitive": False, "use_lookup_tables": True, "use_regexes": True,
     "use_word_boundaries": True},
]
_COUNTS = [
    {"name": "CountVectorsFeaturizer", "analyzer": "word", "min_ngram": 1, "max_ngram": 2},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 2, "max_ngram": 5},
]


def _tfidf(fold: bool, sequence: bool, glossary: bool = False, abbreviations: bool = False) -> list[dict]:
    suffix = "folded" if fold else "accented"
    extra = {"glossary": "glossary_en_vi.txt"} if glossary else {}
    if abbreviations:
        extra["abbreviations"] = "abbreviations_vi.txt"
    return [
        {"name": "nlu.components.tfidf.TfidfFeaturizer", "alias": f"words_{suffix}", "analyzer": "word",
         "min_ngram": 1, "max_ngram": 2, "fold_diacritics": fold, "sequence_features": sequence, **extra},
        {"name": "nlu.components.tfidf.TfidfFeaturizer", "alias": f"chars_{suffix}", "analyzer": "char_wb",
         "min_ngram": 2, "max_ngram": 5, "fold_diacritics": fold, "sequence_features": sequence, **extra},
    ]


def _lr(c: float) -> dict:
    return {"name": "nlu.components.logistic.TunedLogisticRegressionClassifier", "C": c, "max_iter": 1000,
            "random_state": SEED}


# 20 epochs, not Rasa's usual 100+: on this 2-core machine one epoch of the counts pipeline
# took ~86 s (100 epochs: about 2 hours), far beyond the 4-minute training budget; training
# accuracy had already reached 0.999 at epoch 17.
_DIET = {"name": "DIETClassifier", "epochs": 20, "entity_recognition": False, "random_seed": SEED,
         "constrain_similarities": True}


@dataclass(frozen=True)
class Candidate:
    name: str
    description: str
    pipeline: list
    unaccented: bool  # train also on an unaccented copy of each accented example

    def config(self) -> dict:
        return {"recipe": "default.v1", "language": "vi", "assistant_id": "ddci-triage",
                "pipeline": self.pipeline, "policies": []}


CANDIDATES = {c.name: c for c in [
    Candidate("lr_counts_aug", "starter: Rasa CountVectors (word 1-2, char_wb 2-5) + Rasa LogisticRegression "
              "(C=1); unaccented copies",
              _HEAD + [{"name": "LexicalSyntacticFeaturizer"}] + _COUNTS
              + [{"name": "LogisticRegressionClassifier", "max_iter": 400, "random_state": SEED}] + _TAIL, True),
    Candidate("diet_counts_aug", "Rasa's usual DIET pipeline: CountVectors word + char_wb 1-4, "
              "LexicalSyntactic, DIETClassifier 20 epochs; unaccented copies",
              _HEAD + [{"name": "LexicalSyntacticFeaturizer"}, {"name": "CountVectorsFeaturizer"},
                       {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
                       _DIET] + _TAIL, True),
    Candidate("diet_tfidf_folded", "DIETClassifier 20 epochs on accent-folded TF-IDF word 1-2 + char_wb 2-5 with the glossary",
              _HEAD + _tfidf(True, True, glossary=True) + [_DIET] + _TAIL, False),
    Candidate("lr_tfidf_accented_aug", "TF-IDF word 1-2 + char_wb 2-5 on the text as written, LR C=10; "
              "unaccented copies (augmentation only)",
              _HEAD + _tfidf(False, False) + [_lr(10)] + _TAIL, True),
    Candidate("lr_tfidf_folded", "accent-folded TF-IDF word 1-2 + char_wb 2-5, LR C=10 (features only)",
              _HEAD + _tfidf(True, False) + [_lr(10)] + _TAIL, False),
    Candidate("lr_tfidf_folded_aug", "accent-folded TF-IDF word 1-2 + char_wb 2-5, LR C=10; unaccented copies",
              _HEAD + _tfidf(True, False) + [_lr(10)] + _TAIL, True),
    Candidate("lr_tfidf_both_aug", "TF-IDF on the text as written and accent-folded (4 blocks), LR C=10; "
              "unaccented copies",
              _HEAD + _tfidf(False, False) + _tfidf(True, False) + [_lr(10)] + _TAIL, True),
    Candidate("lr_tfidf_folded_glossary", "as lr_tfidf_folded, plus the English -> Vietnamese glossary "
              "(nlu/components/glossary_en_vi.txt) on English messages",
              _HEAD + _tfidf(True, False, glossary=True) + [_lr(10)] + _TAIL, False),
    Candidate("lr_tfidf_folded_glossary_abbrev", "as lr_tfidf_folded_glossary, plus the Vietnamese "
              "abbreviations (nlu/components/abbreviations_vi.txt: GTGT = gia tri gia tang, ...) both ways",
              _HEAD + _tfidf(True, False, glossary=True, abbreviations=True) + [_lr(10)] + _TAIL, False),
    Candidate("lr_tfidf_both_glossary_aug", "as lr_tfidf_both_aug, plus the English -> Vietnamese glossary",
              _HEAD + _tfidf(False, False, glossary=True) + _tfidf(True, False, glossary=True) + [_lr(10)] + _TAIL,
              True),
    Candidate("lr_tfidf_folded_c3", "as lr_tfidf_folded with C=3",
              _HEAD + _tfidf(True, False) + [_lr(3)] + _TAIL, False),
    Candidate("lr_tfidf_folded_c30", "as lr_tfidf_folded with C=30",
              _HEAD + _tfidf(True, False) + [_lr(30)] + _TAIL, False),
]}
# The candidate nlu/config.yml and nlu.training.AUGMENT_UNACCENTED implement (a test checks).
CHOSEN = "lr_tfidf_folded_glossary_abbrev"
BASELINE = "lr_counts_aug"


def style(text: str) -> str:
    """Which held-out-like subset a training message resembles (noisy is not detectable)."""
    from nlu.normalize import detect_language, has_diacritics

    if detect_language(text) == "en":
        return "en"
    return "vi" if has_diacritics(text) else "vi_nodiacritics"


class _Session:
    """Trains and loads models of one candidate in a scratch directory."""

    def __init__(self, candidate: Candidate, work: Path):
        self.candidate, self.work = candidate, work
        work.mkdir(parents=True, exist_ok=True)
        self.config = work / "config.yml"
        self.config.write_text(yaml.safe_dump(candidate.config(), sort_keys=False, allow_unicode=True),
                               encoding="utf-8")

    def train(self, source, examples, name: str) -> tuple[Path, dict, int]:
        """Train on `examples`; returns the archive, wall and CPU seconds, example count."""
        from nlu.training import prepare, train_archive, write_data

        data_file = self.work / f"{name}.yml"
        count = write_data(prepare(source, unaccented=self.candidate.unaccented, examples=examples), data_file)
        wall, cpu = time.perf_counter(), time.process_time()
        archive = train_archive(self.config, data_file, self.work / name, name)
        # CPU time too: the wall time depends on whatever else the machine is running.
        return archive, {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}, count

    @staticmethod
    def classifier(archive: Path):
        from nlu.classifier import RasaClassifier
        from nlu.training import activate

        activate(archive.parent, {"version": archive.name.replace(".tar.gz", ""), "model": archive.name})
        classifier = RasaClassifier(archive.parent, threshold=0.0)
        classifier.refresh()
        return classifier


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_candidate(candidate: Candidate, folds: int, out: Path, heldout: list) -> dict:
    from sklearn.model_selection import StratifiedKFold

    from nlu.training import load_source

    work = out / "work" / candidate.name
    shutil.rmtree(work, ignore_errors=True)
    session = _Session(candidate, work)
    source = load_source(PROJECT)
    messages = [m for m in source.training_examples if m.get("text") and m.get("intent")]
    result: dict = {"candidate": asdict(candidate), "folds": folds}

    # Held-out: one model on all the training data.
    archive, seconds, count = session.train(source, messages, "full")
    classifier = session.classifier(archive)
    # Warm-up parse (first call builds lazily-created parts), then the measured ones.
    classifier.classify("xin chào")
    predictions = ev.predict(classifier, heldout)
    result["train_seconds"] = round(seconds["wall"], 1)
    result["train_cpu_seconds"] = round(seconds["cpu"], 1)
    result["train_examples"] = count
    result["model_mb"] = round(archive.stat().st_size / 1e6, 1)
    result["heldout"] = ev.report(predictions, 0.0, 0.0)
    result["heldout_predictions"] = [asdict(p) for p in predictions]
    del classifier
    gc.collect()

    # Cross-validation on the training data.
    oof: list[ev.Prediction] = []
    if folds > 1:
        labels = [m.get("intent") for m in messages]
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
        for k, (train_idx, test_idx) in enumerate(splitter.split(labels, labels)):
            archive, _, _ = session.train(source, [messages[i] for i in train_idx], f"fold{k}")
            classifier = session.classifier(archive)
            tests = [ev.Example(messages[i].get("text"), labels[i], style(messages[i].get("text"))) for i in test_idx]
            oof.extend(ev.predict(classifier, tests))
            del classifier
            gc.collect()
            shutil.rmtree(archive.parent, ignore_errors=True)
        result["cv"] = {"macro_f1": ev.macro_f1_by_subset(oof), "accuracy": ev.scores(oof)["accuracy"]}
        result["cv_predictions"] = [asdict(p) for p in oof]
        result["threshold_from_cv"] = ev.choose_threshold(oof)
        chosen = result["threshold_from_cv"]
        result["heldout_at_cv_threshold"] = ev.routed(predictions, chosen["threshold"], chosen["min_margin"])
    result["peak_rss_mb"] = round(_rss_mb(), 0)
    return result


def table(results: list[dict]) -> str:
    """The Markdown comparison table of nlu/README.md."""
    head = ("| pipeline | CV macro-F1 | CV vi / no-diac / en | held-out macro-F1 | vi | no diacritics | English "
            "| noisy | training wall / CPU (s) | parse p50 / p95 (ms) |")
    lines = [head, "|" + "---|" * 10]
    for r in results:
        cv = r.get("cv", {}).get("macro_f1", {})
        h = r["heldout"]["macro_f1"]
        lat = r["heldout"]["latency"]
        cv_styles = " / ".join(f"{cv[s]:.3f}" for s in ("vi", "vi_nodiacritics", "en") if s in cv) or "–"
        lines.append(
            f"| `{r['candidate']['name']}` | {cv.get('all', float('nan')):.3f} | {cv_styles} | {h['all']:.3f} "
            f"| {h['vi']:.3f} | {h['vi_nodiacritics']:.3f} | {h['en']:.3f} | {h['noisy']:.3f} "
            f"| {r['train_seconds']:.0f} / {r.get('train_cpu_seconds', float('nan')):.0f} | {lat['p50_ms']:.1f} / {lat['p95_ms']:.1f} |")
    return "\n".join(lines)


def threshold_note(result: dict) -> str:
    t = result.get("threshold_from_cv")
    if not t:
        return ""
    h = result["heldout_at_cv_threshold"]
    best = ev.choose_threshold([ev.Prediction(**p) for p in result["heldout_predictions"]])
    return (f"{result['candidate']['name']}: threshold {t['threshold']}, min_margin {t['min_margin']} chosen on "
            f"cross-validation ({t['auto_share']:.1%} automatic, {t['auto_precision']:.1%} right there); "
            f"held-out at those values: {h['auto_share']:.1%} automatic, {h['auto_precision']:.1%} right "
            f"({h['auto']}/{h['n']}). For reference, the best held-out values would be threshold "
            f"{best['threshold']}, margin {best['min_margin']} ({best['auto_share']:.1%}, {best['auto_precision']:.1%}).")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nlu.compare", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=sorted(CANDIDATES), help="candidates to (re)run")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (0: held-out only)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--report", action="store_true", help="only print the table of stored results")
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    names = args.only if args.only else list(CANDIDATES)
    if not args.report:
        # Rasa's training cache would answer repeated featurizer work from disk and make the
        # training times meaningless; every model here is trained from scratch.
        os.environ["RASA_MAX_CACHE_SIZE"] = "0"
        import nlu  # noqa: F401  (quiet TensorFlow/telemetry before Rasa is imported)
        from rasa.utils.log_utils import configure_structlog

        configure_structlog(30)
        heldout = ev.heldout()
        for name in names:
            print(f"== {name}", file=sys.stderr, flush=True)
            result = run_candidate(CANDIDATES[name], args.folds, args.out, heldout)
            stored = args.out / f"{name}.json"
            if args.folds <= 1 and stored.exists():
                # A held-out/timing-only run keeps the cross-validation of the same candidate.
                previous = json.loads(stored.read_text(encoding="utf-8"))
                if previous.get("candidate") == result["candidate"]:
                    result = {**{k: v for k, v in previous.items() if k.startswith(("cv", "threshold", "heldout_at"))},
                              **result, "folds": previous.get("folds", args.folds)}
            (args.out / f"{name}.json").write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
            print(table([result]).splitlines()[-1], file=sys.stderr, flush=True)
    results = [json.loads((args.out / f"{n}.json").read_text(encoding="utf-8"))
               for n in CANDIDATES if (args.out / f"{n}.json").exists()]
    print(table(results))
    for r in results:
        note = threshold_note(r)
        if note and r["candidate"]["name"] == CHOSEN:
            print("\n" + note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
