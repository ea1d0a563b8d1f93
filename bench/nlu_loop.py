"""The admins' NLU loop measured end to end (issue 13): macro-F1 before and after the labels
the loop adds from a simulated stream of real traffic (nlu/traffic/).

One run, in a temporary directory with a fresh SQLite database and a copy of the Rasa project
(config.yml and data/, without the committed traffic labels `data/traffic.yml`, so "before"
is the model that never saw the traffic):

1. trains the "before" model with `flask nlu train`'s code (nlu.training.train: fingerprint,
   train, activate) and evaluates it on nlu/heldout and nlu/probe2;
2. pushes every traffic message through the loop: classified by the active model as the
   worker does (RasaClassifier, past a greeting in front: bot.conversation.phrasing) and
   recorded as the conversation records it (tuning.records); the admin then works through
   the inbox's own groups (tuning.inbox: near-duplicates together, personal data replaced by
   tuning.privacy when accepted): confirm when the prediction is the label the admin would
   give, relabel otherwise; accepted examples are written as Rasa YAML by tuning.dataset;
   conflicts with the hand-written data are reported (and settled by discarding the inbox
   side: the hand-written label stands);
3. trains the candidate as the worker's retraining job does (TrainingQueue.request +
   TrainingRunner.run_pending: write inbox.yml, check conflicts, train without activating,
   evaluate on heldout, register, compare) and asks the registry to activate it through the
   evaluation gate;
4. evaluates the candidate on heldout and probe2, prints before / after / ratio per variant
   with automatic routing (coverage and precision at nlu.threshold / nlu.min_margin), how
   many examples the loop added and how many pieces of personal data were replaced, and
   checks that no phone number, e-mail, tax code, tracking code or name of the traffic is in
   the written YAML (exit 1 if one is).

probe2 is only measured here, never trained on. `python -m bench nlu_loop` (about 4 minutes
on 2 cores: two trainings and ~3,000 classifications); `--json FILE` writes the figures.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Optional

import yaml

REPO = Path(__file__).resolve().parent.parent
NLU = REPO / "nlu"
TRAFFIC_DIR = NLU / "traffic"
STYLES = ("vi", "vi_nodiacritics", "en", "noisy")
TRAFFIC_DATA_FILE = "traffic.yml"  # the loop's accepted labels, committed to nlu/data (excluded from "before")
ADMIN = "admin.bench@ddci.example"
TARGETS = {"all": 0.95, "vi_nodiacritics": 0.93, "en": 0.93, "noisy": 0.93}
TARGET_PRECISION, TARGET_COVERAGE = 0.99, 0.90
CONVERSATION = ("chao_hoi", "cam_on", "tra_cuu", "ngoai_pham_vi")


def read_traffic(directory: Path = TRAFFIC_DIR) -> list[dict]:
    """The traffic, in the order it "arrives": the four styles interleaved. One line per
    message: `intent<TAB>text`; blank lines and lines starting with # are skipped."""
    per_style = []
    for style in STYLES:
        rows = []
        for number, line in enumerate((directory / f"{style}.tsv").read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            intent, sep, text = line.partition("\t")
            if not sep or not text.strip():
                raise ValueError(f"{directory / style}.tsv:{number}: expected 'intent<TAB>text'")
            rows.append({"intent": intent.strip(), "text": text.strip(), "style": style})
        per_style.append(rows)
    out = []
    for i in range(max(len(r) for r in per_style)):
        out += [rows[i] for rows in per_style if i < len(rows)]
    return out


# ---- personal data in the traffic ------------------------------------------------------------
_PHONE = re.compile(r"(?<![\d+])(?:\+84[ .]?|0)(?:\d[ .]?){8,9}\d(?!\d)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_TAX = re.compile(r"(?<!\d)\d{10}(?:-\d{3})?(?!\d)")
_TRACKING = re.compile(r"[Qq][Nn]-\d{4}-\d{6}")


def personal_data(texts: list[str], names: list[str]) -> dict[str, set[str]]:
    """What of the traffic must never reach the training data: the numbers, e-mails and
    codes found by pattern, and the people's names listed in nlu/traffic/README.md."""
    found: dict[str, set[str]] = {"phone": set(), "email": set(), "tax_code": set(), "tracking_code": set(),
                                  "name": set(names)}
    for text in texts:
        found["phone"] |= {m.group(0) for m in _PHONE.finditer(text)}
        found["email"] |= {m.group(0) for m in _EMAIL.finditer(text)}
        found["tax_code"] |= {m.group(0) for m in _TAX.finditer(text)}
        found["tracking_code"] |= {m.group(0) for m in _TRACKING.finditer(text)}
    return found


def traffic_names(readme: Path = TRAFFIC_DIR / "README.md") -> list[str]:
    """The names written into the traffic (the README's "Names:" line, comma-separated)."""
    for line in readme.read_text(encoding="utf-8").splitlines():
        if line.startswith("Names:"):
            return [n.strip() for n in line[len("Names:"):].split(",") if n.strip()]
    return []


def leaks(yaml_text: str, pii: dict[str, set[str]]) -> list[str]:
    """What of `pii` the YAML still holds: numbers compared without their spaces and dots,
    e-mails and codes case-insensitively, names as whole words with their capitals (a given
    name such as "Linh" is also a common word in lower case: "linh kiện")."""
    digits = re.sub(r"[ .]", "", yaml_text)
    out = []
    for kind, values in pii.items():
        for value in values:
            if kind in ("phone", "tax_code"):
                hit = re.sub(r"[ .]", "", value) in digits
            elif kind == "name":
                hit = re.search(rf"(?<!\w){re.escape(value)}(?!\w)", yaml_text) is not None
            else:
                hit = value.lower() in yaml_text.lower()
            if hit:
                out.append(f"{kind}: {value}")
    return sorted(out)


# ---- measuring -------------------------------------------------------------------------------
def measure(archive: Path, directory: Path, threshold: float, min_margin: float) -> dict:
    from nlu import evaluate as ev
    from nlu.classifier import ArchiveClassifier
    from tuning.gate import heldout_examples

    classifier = ArchiveClassifier(archive, threshold=threshold, min_margin=min_margin)
    try:
        predictions = ev.predict(classifier, heldout_examples(directory))
    finally:
        classifier.close()
    out = {"macro_f1": ev.macro_f1_by_subset(predictions), "routing": {"all": ev.routed(predictions, threshold,
                                                                                          min_margin)},
           "per_intent": {k: v["f1"] for k, v in ev.scores(predictions)["per_intent"].items()}, "n": len(predictions)}
    for subset in ev.SUBSETS:
        part = [p for p in predictions if p.subset == subset]
        if part:
            out["routing"][subset] = ev.routed(part, threshold, min_margin)
    # No texts or errors are kept: probe2 is a measuring set, and its examples must not guide
    # the data (nlu/probe2/README.md).
    return out


def _row(name: str, before: dict, after: dict) -> str:
    b, a = before["macro_f1"].get(name), after["macro_f1"].get(name)
    rb, ra = before["routing"].get(name), after["routing"].get(name)
    target = TARGETS.get(name)
    mark = "" if target is None else ("  target ≥ %.2f %s" % (target, "met" if a >= target else "MISSED"))
    return (f"  {name:<16} {b:6.3f} -> {a:6.3f} (x{a / b:5.3f}, {a - b:+.3f})   auto {rb['auto_share']:6.1%} -> "
            f"{ra['auto_share']:6.1%}, right {rb['auto_precision']:6.1%} -> {ra['auto_precision']:6.1%}{mark}")


def table(title: str, before: dict, after: dict) -> list[str]:
    lines = [f"{title} ({after['n']} messages): macro-F1 before -> after (ratio, change); automatic routing"]
    lines += [_row(name, before, after) for name in ["all", *[s for s in STYLES if s in after["macro_f1"]]]]
    return lines


# ---- the loop --------------------------------------------------------------------------------
def run(args) -> tuple[int, dict]:
    from sqlalchemy import func, select

    from bot.conversation.phrasing import classify_past_courtesy, default_phrasing
    from nlu.classifier import RasaClassifier
    from nlu.training import train
    from store import ClassificationRecord, Database
    from tuning import dataset
    from tuning.inbox import Inbox, InboxFilter, training_text
    from tuning.jobs import Trainer, TrainingQueue, TrainingRunner
    from tuning.records import record
    from tuning.versions import GateRefused, ModelRegistry

    config = yaml.safe_load((REPO / "config.yml").read_text(encoding="utf-8"))["nlu"]
    threshold = config["threshold"] if args.threshold is None else args.threshold
    min_margin = config["min_margin"] if args.min_margin is None else args.min_margin
    similarity = config.get("inbox_similarity", 90)
    root = Path(tempfile.mkdtemp(prefix="nlu-loop-"))
    project, inbox_dir, model_dir = root / "project", root / "inbox", root / "models"
    project.mkdir()
    shutil.copy(NLU / "config.yml", project / "config.yml")
    shutil.copytree(NLU / "data", project / "data", ignore=shutil.ignore_patterns(TRAFFIC_DATA_FILE, "inbox.yml"))
    db = Database(f"sqlite:///{root / 'loop.sqlite3'}")
    db.upgrade()
    ticks = iter(range(10 ** 9))

    def clock() -> datetime:  # a driven clock (UTC): one second per call
        return datetime(2026, 12, 2, 8, 0, tzinfo=timezone.utc) + timedelta(seconds=next(ticks))

    report: dict = {"threshold": threshold, "min_margin": min_margin, "tmp": str(root)}
    quiet = (lambda m: None) if not args.verbose else print
    try:
        # 1. the model before the loop, trained as `flask nlu train` does, and measured
        started = time.monotonic()
        before_model = train(project, model_dir, force=True, progress=quiet)
        print(f"before: {before_model.version} trained on {before_model.examples} examples "
              f"({time.monotonic() - started:.0f} s)", flush=True)
        before = {name: measure(before_model.path, NLU / name, threshold, min_margin) for name in ("heldout", "probe2")}
        registry = ModelRegistry(db=db, model_dir=model_dir, clock=clock)
        registry.adopt_active()

        # 2. the traffic through the worker's classifier into the inbox
        traffic = read_traffic(Path(args.traffic))
        worker_model = RasaClassifier(model_dir, threshold=threshold, min_margin=min_margin)
        phrasing = default_phrasing()
        gold: dict[int, str] = {}
        right_before = auto_before = auto_right_before = 0
        for i, message in enumerate(traffic):
            result = classify_past_courtesy(message["text"], worker_model.classify, phrasing)
            small_talk = result.intent in CONVERSATION
            with db.session() as s:
                row = record(s, result, event_id=None, page_id="DDCI", channel="messenger",
                             language="en" if message["style"] == "en" else "vi",
                             outcome="small_talk" if small_talk else "inquiry",
                             routed_automatically=not result.needs_review, inquiry_id=None, at=clock())
                s.flush()
                gold[row.id] = message["intent"]
            right_before += result.intent == message["intent"]
            if not result.needs_review:
                auto_before += 1
                auto_right_before += result.intent == message["intent"]
        report["traffic"] = {"n": len(traffic), "by_style": dict(Counter(m["style"] for m in traffic)),
                             "right_before": right_before, "auto_before": auto_before,
                             "auto_right_before": auto_right_before}
        print(f"traffic: {len(traffic)} messages classified by the active model: {right_before} right "
              f"({right_before / len(traffic):.1%}); {auto_before} routed automatically, "
              f"{auto_right_before} of them right", flush=True)

        # the admin works through the inbox, group by group, in the inbox's order
        inbox = Inbox.for_project(db=db, project_dir=project, data_dir=inbox_dir, clock=clock, similarity=similarity)
        groups = inbox.groups(InboxFilter(limit=10 ** 6))
        decisions: Counter = Counter()
        replaced: Counter = Counter()
        for grp in groups:
            by_label: dict[str, list] = {}
            for item in grp.items:  # a group whose messages the admin labels differently is split
                by_label.setdefault(gold[item.id], []).append(item)
            for label, items in by_label.items():
                ids = [i.id for i in items]
                expected = {i.id: i.version for i in items}
                same = all(i.suggested_label == label for i in items)
                result = inbox.decide(ids, "confirm" if same else "relabel", by=ADMIN,
                                      intent=None if same else label, expected=expected)
                if not result.ok:
                    raise RuntimeError(f"decision refused: {result}")
                decisions["confirmed" if same else "relabelled"] += len(ids)
                for item in items:
                    for r in training_text(item.normalized).replacements:
                        replaced[r.kind] += 1
        with db.session() as s:
            conflicts = dataset.find_conflicts(s, project, inbox_dir)
        settled = 0
        for c in conflicts:  # the hand-written label stands: the inbox side is discarded
            ids = [int(e.source.split("#")[1]) for e in c.examples if e.source.startswith("inbox #")]
            items = inbox.items(InboxFilter(statuses=("confirmed", "relabelled"), ids=tuple(ids), limit=10 ** 6))
            done = inbox.decide([i.id for i in items], "discard", by=ADMIN, expected={i.id: i.version for i in items})
            settled += len(done.applied)
        with db.session() as s:
            inbox_file = dataset.write_inbox_file(s, inbox_dir)
            added = len(dataset.inbox_examples(dataset.accepted(s)))
        yaml_text = inbox_file.read_text(encoding="utf-8") if inbox_file else ""
        multi = sum(1 for g in groups if len(g.items) > 1)
        pii = personal_data([m["text"] for m in traffic], traffic_names(Path(args.traffic) / "README.md"))
        found_leaks = leaks(yaml_text, pii)
        report["loop"] = {"groups": len(groups), "groups_of_several": multi, "decisions": dict(decisions),
                          "conflicts": [c.describe() for c in conflicts], "conflicts_discarded": settled,
                          "examples_added": added, "rasa_examples_in_file": sum(
                              1 for line in yaml_text.splitlines() if line.startswith("    - ")),
                          "replaced": dict(replaced), "pii_in_traffic": {k: len(v) for k, v in pii.items()},
                          "leaks": found_leaks, "inbox_file": str(inbox_file)}
        print(f"inbox: {len(groups)} groups ({multi} of several near-duplicates); decisions {dict(decisions)}; "
              f"{len(conflicts)} conflict(s) with the hand-written data"
              + (f" (inbox side discarded: {settled})" if conflicts else ""), flush=True)
        for c in conflicts:
            print(f"  conflict: {c.describe()}")
        print(f"accepted examples written to {inbox_file}: {added} (personal data replaced: {dict(replaced)}; "
              f"in the traffic: {report['loop']['pii_in_traffic']})", flush=True)
        print("personal data of the traffic in the written YAML: "
              + ("none" if not found_leaks else "; ".join(found_leaks)), flush=True)
        if args.save_yaml and inbox_file:
            shutil.copy(inbox_file, args.save_yaml)
            print(f"  (copied to {args.save_yaml})")

        # 3. the worker's retraining job, then activation through the gate
        queue = TrainingQueue(db=db, clock=clock, project_dir=project, inbox_dir=inbox_dir)
        trainer = Trainer(queue=queue, registry=registry, project_dir=project, inbox_dir=inbox_dir,
                          heldout_dir=NLU / "heldout", threshold=threshold, min_margin=min_margin)
        job = queue.request(by=ADMIN)
        started = time.monotonic()
        job = TrainingRunner(queue, trainer).run_pending()
        if job.status != "done":
            raise RuntimeError(f"training job {job.status}: {job.error}\n{job.log}")
        candidate = registry.get(job.candidate_version)
        print(f"candidate: {candidate.version} trained by the worker's job on {candidate.examples} examples "
              f"({time.monotonic() - started:.0f} s)", flush=True)
        comparison = registry.comparison(candidate.version)
        try:
            registry.activate(candidate.version, by=ADMIN)
            verdict = "allowed: activated"
        except GateRefused as exc:
            verdict = f"REFUSED: {exc}"
        report["gate"] = {"allowed": comparison.allowed, "refusals": list(comparison.refusals), "verdict": verdict}
        print(f"evaluation gate on heldout: {verdict}", flush=True)

        # 4. after
        after = {name: measure(model_dir / candidate.archive, NLU / name, threshold, min_margin)
                 for name in ("heldout", "probe2")}
        report["before"], report["after"] = before, after
        report["versions"] = {"before": before_model.version, "after": candidate.version}
        lines = [""]
        for name, title in (("heldout", "nlu/heldout (the gate's set)"),
                            ("probe2", "nlu/probe2 (never trained on, measuring only)")):
            lines += table(title, before[name], after[name]) + [""]
        r = after["probe2"]["routing"]["all"]
        met = r["auto_precision"] >= TARGET_PRECISION and r["auto_share"] >= TARGET_COVERAGE
        lines.append(f"probe2 automatic routing: {r['auto_precision']:.1%} right at {r['auto_share']:.1%} coverage "
                     f"(target ≥ {TARGET_PRECISION:.0%} at ≥ {TARGET_COVERAGE:.0%}: {'met' if met else 'MISSED'}); "
                     f"threshold {threshold}, margin {min_margin}")
        print("\n".join(lines), flush=True)
        status = 1 if found_leaks else 0
        with db.session() as s:
            report["records"] = s.execute(select(func.count()).select_from(ClassificationRecord)).scalar()
        return status, report
    finally:
        db.dispose()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept {root}")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.nlu_loop", description=__doc__.split("\n")[0])
    parser.add_argument("--traffic", default=str(TRAFFIC_DIR), help="directory of the traffic's .tsv files")
    parser.add_argument("--threshold", type=float, default=None, help="default: config.yml nlu.threshold")
    parser.add_argument("--min-margin", type=float, default=None, help="default: config.yml nlu.min_margin")
    parser.add_argument("--json", default=str(REPO / "results" / "bench" / "nlu_loop.json"),
                        help="where to write the figures")
    parser.add_argument("--save-yaml", default=None, help="copy the inbox's written Rasa file here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--verbose", action="store_true", help="Rasa's training messages")
    args = parser.parse_args(argv)
    status, report = run(args)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    print(f"figures: {out}")
    return status


if __name__ == "__main__":
    sys.exit(main())
