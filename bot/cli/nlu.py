"""`flask nlu train|classify|evaluate`. Rasa is imported inside the commands, so `flask`
itself and the web process stay free of TensorFlow."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from bot import context, runtime
from bot.cli.users import cli_actor

nlu_cli = AppGroup("nlu", help="Train and run the NLU classifier; the admins' inbox, versions and retraining.")


def _who(by: str | None) -> str:
    return by or cli_actor()


def _audit(action: str, object_type: str, object_id: str, by: str | None, details: dict) -> None:
    """The change in the audit log as the console writes it, under the operating system's user
    who ran the command (`cli:<user>`), with the --by it named (bot/cli/inquiries.py)."""
    from store import audit as log

    with context.db().session() as s:
        log.record(s, at=context.clock()(), action=action, actor=cli_actor(), address="cli", object_type=object_type,
                   object_id=object_id, details={**({"on_behalf_of": by} if by else {}), **details})


def _registry():
    return runtime.model_registry(context.settings(), context.db(), context.clock())


class KeptActive(click.ClickException):
    """No new model was activated and the active one stays in use: the gate refused the
    candidate, or another training runs, or a text is labelled two ways. Exit status 3, so
    that a script (and `make run`, which then starts with the active model) can tell it from
    a failure (status 1)."""
    exit_code = 3


@nlu_cli.command("train")
@click.option("--force", is_flag=True, help="Train even if data and pipeline are unchanged (only while no model "
                                            "is active).")
@click.option("--override-reason", default=None,
              help="Activate although the evaluation gate refuses (recorded in the audit log).")
@click.option("--by", default=None, help="Who trains (recorded with the version; default cli:<user>).")
def nlu_train(force: bool, override_reason: str | None, by: str | None) -> None:
    """Train the NLU model if missing or out of date (with the inbox's accepted examples,
    nlu.inbox_data_dir), and activate it.

    The first model (none active yet) is activated as trained. Once a model is active, a new
    one goes the way of the admins' page *Huấn luyện*: a training job (one at a time; refused
    while a text is labelled two ways), evaluated with the active model on the held-out set,
    and activated only through the evaluation gate (tuning.versions), which needs the
    database. A refusal keeps the active model, prints the comparison and exits with status 3
    (`KeptActive`); --override-reason activates anyway, audited. --force is for a deployment
    without an active model: with one, an unchanged model is never retrained in place (its
    archive would no longer be the one evaluated)."""
    from nlu.training import fingerprint, read_active, train
    from tuning import dataset

    settings = context.settings()
    db_ok = True
    try:
        with context.db().session() as s:
            dataset.write_inbox_file(s, settings.inbox_data_dir)
    except SQLAlchemyError as exc:  # no database yet (before `flask db upgrade`): train on the files as they are
        db_ok = False
        click.echo(f"(the database is not ready, the inbox's examples are not refreshed: {str(exc).splitlines()[0]})",
                   err=True)
    active = read_active(settings.model_dir)
    changed = active is None or active.get("fingerprint") != fingerprint(settings.nlu_project_dir,
                                                                          [settings.inbox_data_dir])
    if active is not None and changed:
        if not db_ok:
            raise click.ClickException(
                f"a model is active ({active['version']}) and the training data changed: the new model is "
                "evaluated and activated through the gate, which needs the database (`flask db upgrade`)")
        _train_through_the_gate(settings, override_reason, by)
        return
    if active is not None and force:
        raise click.ClickException(
            f"the active model {active['version']} was trained on exactly this data: --force would replace its "
            "archive without evaluation. It is for a deployment without an active model")
    if override_reason:
        click.echo("(--override-reason is not used: " + ("nothing changed since the active model)" if active
                                                          else "the first model has nothing to be compared with)"),
                   err=True)
    if active is None:
        _first_model(settings, db_ok, by)
        return
    # unchanged data: nothing to train (an archive gone missing is trained again in place)
    result = train(settings.nlu_project_dir, settings.model_dir, extra_dirs=[settings.inbox_data_dir],
                   progress=lambda m: click.echo(m, err=True))
    if db_ok and not result.skipped:
        _registry().register(result, by=_who(by))
    _said(result.version, result.path, result.skipped, result.seconds, result.examples, activated=False)


def _first_model(settings, db_ok: bool, by: str | None) -> None:
    """No model is active: train one and activate it as trained (nothing to compare it with).
    With `nlu.server_url` the Rasa server loads it first (`PUT /model`); if it cannot, the
    archive stays trained but nothing is activated (exit 1). Registered and audited when the
    database is there; before `flask db upgrade` only `active.json` is written (the registry
    adopts it later)."""
    from nlu.training import active_info, activate as write_active, train_candidate
    from tuning.versions import RemoteLoadFailed

    result = train_candidate(settings.nlu_project_dir, settings.model_dir, extra_dirs=[settings.inbox_data_dir],
                             force=True, progress=lambda m: click.echo(m, err=True))
    registry = _registry()
    try:
        if db_ok:
            registry.register(result, by=_who(by))
            _switch(lambda: registry.activate_first(result.version, by=_who(by)), by)
        else:
            registry.load_remote(result.path)
    except (click.ClickException, RemoteLoadFailed) as exc:
        said = exc.message if isinstance(exc, click.ClickException) else str(exc)
        raise click.ClickException(f"{result.version} is trained but not activated: {said}") from None
    if not db_ok:
        write_active(settings.model_dir, active_info(result, context.clock()()))
    click.echo(f"[3/3] Activated {result.version} ({result.seconds:.1f} s).", err=True)
    _said(result.version, result.path, False, result.seconds, result.examples, activated=True)


def _said(version: str, path, skipped: bool, seconds, examples, *, activated: bool, **more) -> None:
    """`flask nlu train`'s last line on standard output, the same keys on every path."""
    click.echo(json.dumps({"version": version, "path": str(path), "skipped": skipped,
                           "seconds": round(seconds or 0, 1), "examples": examples, "activated": activated, **more},
                          ensure_ascii=False))


def _train_through_the_gate(settings, override_reason: str | None, by: str | None) -> None:
    """A training job run here, then activation through the gate (see `nlu_train`)."""
    from tuning.jobs import TrainingBusy, TrainingError, TrainingRefused
    from tuning.versions import GateRefused

    runner = runtime.training_runner(settings, context.db(), context.clock(),
                                     echo=lambda line: click.echo(line, err=True))
    try:
        job = runner.queue.request(by=_who(by), start=True)
    except (TrainingBusy, TrainingRefused) as exc:
        raise KeptActive(f"{exc} The active model stays in use.") from None
    except TrainingError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        _audit("nlu.train.request", "training_job", str(job.id), by, {})
        done = runner.trainer.run(job.id)  # a failure inside ends the job as failed
    except BaseException as exc:  # Ctrl-C, a signal: the job must not hold the one training slot
        runner.queue.finish(job.id, "failed", error=f"interrupted: flask nlu train stopped ({type(exc).__name__})")
        raise
    if done.status == "failed":
        raise click.ClickException(f"training job #{done.id} failed: {done.error}")
    registry = _registry()
    candidate = registry.get(done.candidate_version)
    said = dict(version=candidate.version, path=registry.model_dir / candidate.archive, seconds=
                candidate.training_seconds, examples=candidate.examples, skipped=done.status == "skipped", job=done.id)
    if candidate.version == registry.active_version():
        _said(**said, activated=False)
        return
    try:
        _switch(lambda: registry.activate(candidate.version, by=_who(by), override_reason=override_reason), by)
    except GateRefused as exc:
        _refused(exc)
        _said(**said, activated=False, comparison=done.comparison)
        raise KeptActive(
            f"{candidate.version} is trained but not activated: {exc}. The active model stays "
            f"{exc.comparison.active_version}. To activate it anyway: "
            f"flask nlu activate {candidate.version} --override-reason \"...\"") from None
    _said(**said, activated=True, comparison=done.comparison)


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


# ---- versions ------------------------------------------------------------------------------
@nlu_cli.command("versions")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per version.")
def nlu_versions(as_json: bool) -> None:
    """Every trained model, newest first: scores, fingerprint, who trained / activated it."""
    registry = _registry()
    registry.adopt_active()
    for v in registry.versions():
        f1 = (v.scores or {}).get("macro_f1") or {}
        if as_json:
            click.echo(json.dumps({"version": v.version, "active": v.active, "fingerprint": v.fingerprint,
                                   "examples": v.examples, "trained_by": v.trained_by,
                                   "trained_at": v.trained_at.isoformat(), "activated_by": v.activated_by,
                                   "activated_at": v.activated_at.isoformat() if v.activated_at else None,
                                   "macro_f1": f1}, ensure_ascii=False))
        else:
            scores = " ".join(f"{k}={x:.3f}" for k, x in f1.items()) or "chưa đánh giá"
            click.echo(f"{'*' if v.active else ' '} {v.version}  huấn luyện {v.trained_at:%Y-%m-%d %H:%M} bởi "
                       f"{v.trained_by}; kích hoạt {v.activated_at:%Y-%m-%d %H:%M} bởi {v.activated_by}; {scores}"
                       if v.activated_at else
                       f"{'*' if v.active else ' '} {v.version}  huấn luyện {v.trained_at:%Y-%m-%d %H:%M} bởi "
                       f"{v.trained_by}; {scores}")


def _switch(action, by: str | None):
    """Run an activation or rollback, audit it and return it (tuning.versions.Activation).
    GateRefused goes up: each caller says a refusal its own way (`_refused`)."""
    from bot.console.tuning_texts import activation_entry
    from tuning.versions import GateRefused, VersionError

    try:
        done = action()
    except GateRefused:
        raise
    except VersionError as exc:
        raise click.ClickException(str(exc)) from None
    entry, details = activation_entry(done)
    _audit(entry, "nlu_model", done.version, by, details)
    return done


def _refused(exc) -> None:
    """A gate refusal's side-by-side comparison, as JSON on standard error."""
    click.echo(json.dumps(exc.comparison.as_dict(), ensure_ascii=False), err=True)


@nlu_cli.command("activate")
@click.argument("version")
@click.option("--override-reason", default=None, help="Activate although the evaluation gate refuses (recorded).")
@click.option("--by", default=None, help="Who activates (default cli:<user>).")
def nlu_activate(version: str, override_reason: str | None, by: str | None) -> None:
    """Make VERSION the active model (workers pick it up without a restart)."""
    from tuning.versions import GateRefused

    try:
        done = _switch(lambda: _registry().activate(version, by=_who(by), override_reason=override_reason), by)
    except GateRefused as exc:
        _refused(exc)
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(done.audit(), ensure_ascii=False))


@nlu_cli.command("rollback")
@click.option("--by", default=None, help="Who rolls back (default cli:<user>).")
def nlu_rollback(by: str | None) -> None:
    """Return to the model that was active before the current one (not gated)."""
    click.echo(json.dumps(_switch(lambda: _registry().rollback(by=_who(by)), by).audit(), ensure_ascii=False))


# ---- retraining jobs -----------------------------------------------------------------------
jobs_cli = AppGroup("jobs", help="Retraining jobs (the worker runs them).")
nlu_cli.add_command(jobs_cli)


@jobs_cli.command("request")
@click.option("--by", default=None, help="Who asks (default cli:<user>).")
def jobs_request(by: str | None) -> None:
    """Queue a retraining for the worker."""
    from tuning.jobs import TrainingError

    try:
        job = runtime.training_queue(context.settings(), context.db(), context.clock()).request(by=_who(by))
    except TrainingError as exc:
        raise click.ClickException(str(exc)) from None
    _audit("nlu.train.request", "training_job", str(job.id), by, {})
    click.echo(json.dumps({"job": job.id, "status": job.status}))


@jobs_cli.command("list")
def jobs_list() -> None:
    """The latest retraining jobs with their status and progress."""
    for job in runtime.training_queue(context.settings(), context.db(), context.clock()).recent():
        click.echo(json.dumps({"job": job.id, "status": job.status, "progress": job.progress,
                               "requested_by": job.requested_by, "candidate": job.candidate_version,
                               "error": job.error}, ensure_ascii=False))


@jobs_cli.command("run")
def jobs_run() -> None:
    """Run the next queued job in this process (what the worker does in the background)."""
    context.db().yield_to_requests()  # the worker's own work: the web's waiting requests write first
    job = runtime.training_runner(context.settings(), context.db(), context.clock()).run_pending()
    if job is None:
        click.echo("no queued training job")
        return
    click.echo(job.log, err=True)
    click.echo(json.dumps({"job": job.id, "status": job.status, "candidate": job.candidate_version,
                           "comparison": job.comparison, "error": job.error}, ensure_ascii=False))
    if job.status == "failed":
        raise SystemExit(1)


# ---- the inbox -------------------------------------------------------------------------------
inbox_cli = AppGroup("inbox", help="The admins' NLU inbox as JSON lines.")
nlu_cli.add_command(inbox_cli)


@inbox_cli.command("export")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None, help="File (default: stdout).")
@click.option("--status", "statuses", multiple=True,
              type=click.Choice(["pending", "confirmed", "relabelled", "discarded"]),
              help="Only these decisions (default: all).")
def inbox_export(out_path: str | None, statuses: tuple[str, ...]) -> None:
    """Every classified message with its decision, one JSON object per line."""
    from tuning.inbox import STATUSES, InboxFilter

    inbox = runtime.nlu_inbox(context.settings(), context.db(), context.clock())
    flt = InboxFilter(statuses=statuses or STATUSES, limit=10 ** 9)
    if out_path:
        with Path(out_path).open("w", encoding="utf-8") as fh:
            n = inbox.export(fh, flt)
    else:
        n = inbox.export(sys.stdout, flt)
    click.echo(f"{n} message(s) exported", err=True)


@inbox_cli.command("import")
@click.argument("path", type=click.File("r", encoding="utf-8"))
@click.option("--by", default=None, help="Who decides (default cli:<user>).")
def inbox_import(path, by: str | None) -> None:
    """Apply decisions from JSON lines (see tuning.inbox.Inbox.import_); bad lines are listed."""
    context.db().yield_to_requests()  # a bulk import: the web's waiting requests write first
    inbox = runtime.nlu_inbox(context.settings(), context.db(), context.clock())
    report = inbox.import_(path, by=_who(by))
    if report.applied:
        _audit("nlu.inbox.import", "classification", Path(getattr(path, "name", "-")).name, by,
               {"applied": report.applied, "errors": len(report.errors), "skipped": len(report.skipped)})
    for number, message in report.errors:
        click.echo(f"line {number}: {message}", err=True)
    click.echo(json.dumps({"applied": report.applied, "errors": len(report.errors), "skipped": len(report.skipped)}))
    if report.errors:
        raise SystemExit(1)
