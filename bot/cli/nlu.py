"""`flask nlu train|classify|evaluate`. Rasa is imported inside the commands, so `flask`
itself and the web process stay free of TensorFlow."""
from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup

from bot import context, runtime

nlu_cli = AppGroup("nlu", help="Train and run the NLU classifier.")


@nlu_cli.command("train")
@click.option("--force", is_flag=True, help="Train even if data and pipeline are unchanged.")
def nlu_train(force: bool) -> None:
    """Train the NLU model if missing or out of date, and activate it."""
    from nlu.training import train

    settings = context.settings()
    result = train(settings.nlu_project_dir, settings.model_dir, force=force,
                   progress=lambda m: click.echo(m, err=True))
    click.echo(json.dumps({"version": result.version, "path": str(result.path), "skipped": result.skipped,
                           "seconds": round(result.seconds, 1), "examples": result.examples}))


@nlu_cli.command("classify")
def nlu_classify() -> None:
    """Classify texts from standard input, one per line; one JSON object per line out."""
    classifier = runtime.classifier(context.settings())
    for line in sys.stdin:
        text = line.rstrip("\n")
        if not text.strip():
            continue
        result = classifier.classify(text)
        click.echo(json.dumps({
            "text": text, "intent": result.intent, "confidence": result.confidence,
            "entities": result.entities, "needs_review": result.needs_review,
            "model_version": result.model_version,
        }, ensure_ascii=False))


@nlu_cli.command("evaluate")
@click.option("--data", "data_paths", multiple=True, type=click.Path(exists=True),
              help="Rasa NLU YAML file(s) or folder(s) with labelled examples (default: the held-out set).")
@click.option("--out", "out_dir", type=click.Path(), default=None,
              help="Where the confusion matrix, predictions and report go (default: results/nlu-eval/<model>).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of a table.")
def nlu_evaluate(data_paths: tuple[str, ...], out_dir: str | None, as_json: bool) -> None:
    """Score the active model (or the Rasa server of nlu.server_url) on labelled messages:
    per-intent precision/recall/F1, macro-F1 per subset, automatic share, confusion matrix PNG."""
    from pathlib import Path

    from nlu import evaluate as ev

    settings = context.settings()
    nlu = settings.config.nlu
    classifier = runtime.classifier(settings)
    if data_paths:
        paths = [Path(p) for p in data_paths]
        files = [f for p in paths for f in (sorted(p.glob("*.yml")) if p.is_dir() else [p])]
        examples = [e for f in files for e in ev.read_examples(f, f.stem)]
    else:
        project_heldout = settings.nlu_project_dir / "heldout"
        examples = ev.heldout(project_heldout if project_heldout.is_dir() else ev.HELDOUT_DIR)
    if not examples:
        raise click.ClickException("no labelled examples found")
    version = classifier.refresh() if hasattr(classifier, "refresh") else None
    target = Path(out_dir) if out_dir else settings.model_dir.parent / "results" / "nlu-eval" / (version or "model")
    click.echo(f"Đang đánh giá {len(examples)} câu...", err=True)
    result = ev.evaluate(classifier, examples, target, threshold=nlu.threshold, min_margin=nlu.min_margin,
                         title=f"NLU {version or ''} ({len(examples)} messages)")
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        click.echo(ev.render(result, version))
