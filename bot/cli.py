"""Command line through Flask's CLI: `flask nlu|deadline|inquiries|worker|scheduler|db|devmail`.

Commands that need Rasa import it inside the command, so `flask` itself and the web
process stay free of TensorFlow.
"""
from __future__ import annotations

import json
import signal
import sys
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from bot import context, runtime

nlu_cli = AppGroup("nlu", help="Train and run the NLU classifier.")
deadline_cli = AppGroup("deadline", help="Working-day deadlines.")
inquiries_cli = AppGroup("inquiries", help="Inquiries.")
db_cli = AppGroup("db", help="Database schema.")


def _stop_event() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest version."""
    context.db().upgrade()
    click.echo(f"database ready: {context.db().engine.url.render_as_string(hide_password=True)}")


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


def _parse_start(value: str, tz: ZoneInfo) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 date-time: {value!r}") from None
    # A start without an offset is read as local time in Quảng Ninh.
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


@deadline_cli.command("due")
@click.option("--start", required=True, help="ISO 8601 instant (no offset = Asia/Ho_Chi_Minh).")
@click.option("--days", required=True, type=click.IntRange(min=1), help="Working days.")
@click.option("--explain", is_flag=True, help="List counted and skipped days with reasons.")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True)
def deadline_due(start: str, days: int, explain: bool, lang: str) -> None:
    """Print the due instant (ISO 8601, +07:00)."""
    cal = runtime.calendar(context.settings())
    moment = _parse_start(start, cal.tz)
    due = cal.due(moment, days).astimezone(cal.tz)
    click.echo(due.isoformat())
    if explain:
        click.echo(cal.explain_due(moment, days).render(lang))


@inquiries_cli.command("export")
def inquiries_export() -> None:
    """All inquiries as JSON lines (UTC instants)."""
    from store import Inquiry

    with context.db().session() as s:
        for i in s.execute(select(Inquiry).order_by(Inquiry.id)).scalars():
            click.echo(json.dumps({
                "code": i.code, "page_id": i.page_id, "sender_id": i.sender_id, "text": i.text,
                "intent": i.intent, "confidence": i.confidence, "unit": i.unit_code, "status": i.status,
                "received_at": i.received_at.isoformat().replace("+00:00", "Z"),
                "due_at": i.due_at.isoformat().replace("+00:00", "Z") if i.due_at else None,
            }, ensure_ascii=False))


@click.command("worker")
@click.option("--once", is_flag=True, help="Process what is pending, then exit.")
def worker_command(once: bool) -> None:
    """Take inbox events, classify, route, acknowledge and notify."""
    settings = context.settings()
    w = runtime.worker(settings, context.db(), context.clock())
    if once:
        click.echo(f"handled {w.run_once()} item(s)")
        return
    version = w.classifier.refresh() if hasattr(w.classifier, "refresh") else None
    click.echo(f"worker started (model {version or 'none yet'}); Ctrl-C to stop", err=True)
    w.run_forever(_stop_event(), settings.config.app.worker_poll_seconds)


@click.command("devmail")
@click.option("--host", default=None, help="Defaults to smtp.host of config.yml.")
@click.option("--port", default=None, type=int, help="Defaults to smtp.port of config.yml.")
def devmail_command(host: str | None, port: int | None) -> None:
    """Development SMTP sink: catches the units' e-mails and shows them in the sandbox."""
    from bot.devmail import serve

    smtp = context.settings().config.smtp
    serve(context.db(), host or smtp.host, port or smtp.port, _stop_event())


def init_app(app: Flask) -> None:
    from bot.cli_cases import add_casework_commands, routing_cli
    from bot.cli_messenger import messenger_cli, officers_cli
    from bot.cli_reports import report_cli
    from bot.cli_scheduler import scheduler_command

    add_casework_commands(inquiries_cli)
    for command in (nlu_cli, deadline_cli, inquiries_cli, db_cli, worker_command, scheduler_command,
                    devmail_command, routing_cli, report_cli, messenger_cli, officers_cli):
        app.cli.add_command(command)
