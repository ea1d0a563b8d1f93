"""Training: normalise (and optionally augment) the Rasa data, train, activate a versioned model.

A model's name carries the fingerprint of everything that shapes it (pipeline, training
data, normalisation, this module, the custom components and their glossary), so `train` is
skipped when nothing changed and a new model is activated by rewriting `active.json`
atomically; the worker notices and reloads. The comparison of pipelines (`python -m
nlu.compare`) reuses `prepare` and `train_archive` so it measures exactly this training.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Optional, Sequence

from nlu.normalize import has_diacritics, normalize, strip_diacritics

# Chosen by `python -m nlu.compare` (nlu/README.md): whether training also sees an
# unaccented copy of each accented example, on top of the accent-folded features.
AUGMENT_UNACCENTED = False
AUGMENTATION_VERSION = "strip-diacritics-v1" if AUGMENT_UNACCENTED else "none-v1"
# Code that shapes a model besides the Rasa project: its fingerprint covers it too.
CODE_FILES = ("normalize.py", "training.py", "components")
ACTIVE_FILE = "active.json"


@dataclass(frozen=True)
class TrainResult:
    version: str
    path: Path
    skipped: bool
    seconds: float
    examples: int
    fingerprint: str = ""


def data_files(project_dir: Path, extra_dirs: Sequence[Path] = ()) -> list[Path]:
    """The project's training files, then those of `extra_dirs` (the admins' inbox data,
    nlu.inbox_data_dir) that are not already among them."""
    files = sorted(p for p in (project_dir / "data").rglob("*.yml") if p.is_file())
    seen = {p.resolve() for p in files}
    for directory in extra_dirs:
        for path in sorted(Path(directory).glob("*.yml")) if Path(directory).is_dir() else []:
            if path.is_file() and path.resolve() not in seen:
                seen.add(path.resolve())
                files.append(path)
    return files


def _label(project_dir: Path, path: Path) -> str:
    try:
        return str(path.relative_to(project_dir))
    except ValueError:  # an extra data directory outside the project
        return f"extra/{path.name}"


def fingerprint(project_dir: Path, extra_dirs: Sequence[Path] = ()) -> str:
    digest = hashlib.sha256(AUGMENTATION_VERSION.encode())
    for path in [project_dir / "config.yml", *data_files(project_dir, extra_dirs)]:
        digest.update(_label(project_dir, path).encode())
        digest.update(path.read_bytes())
    for path in _code_files():
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _code_files() -> list[Path]:
    here = Path(__file__).resolve().parent
    files = []
    for name in CODE_FILES:
        path = here / name
        files.extend(sorted(f for f in path.iterdir() if f.suffix in (".py", ".txt")) if path.is_dir() else [path])
    return files


def read_active(model_dir: Path) -> Optional[dict]:
    try:
        return json.loads((model_dir / ACTIVE_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def activate(model_dir: Path, info: dict) -> None:
    """Point active.json at a model; atomic so a reader never sees half a file."""
    model_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=model_dir, prefix=".active-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(info, fh, ensure_ascii=False, indent=2)
    os.replace(tmp, model_dir / ACTIVE_FILE)


def load_source(project_dir: Path, extra_dirs: Sequence[Path] = ()):
    """The project's Rasa training data as written (YAML files of data/ only), plus the
    YAML files of `extra_dirs`."""
    from rasa.shared.nlu.training_data.loading import load_data

    # Only the YAML files: the data folder also holds its README.
    parts = [load_data(str(path)) for path in data_files(project_dir, extra_dirs)]
    return parts[0].merge(*parts[1:])


def prepare(source, *, unaccented: bool = AUGMENT_UNACCENTED, examples=None):
    """Normalised training data; with `unaccented`, plus an unaccented copy of every
    accented example. `examples` (default: all of `source`) lets cross-validation pass a fold."""
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    out, seen = [], set()
    for message in source.training_examples if examples is None else examples:
        text = message.get("text")
        entities = message.get("entities") or []
        variants = [text if entities else normalize(text)]
        if unaccented and has_diacritics(variants[0]):
            variants.append(strip_diacritics(variants[0]))
        for variant in variants:
            key = (variant.lower(), message.get("intent"))
            if key in seen:
                continue
            seen.add(key)
            data = {"text": variant, "intent": message.get("intent")}
            if entities:
                # Stripping keeps every character in place, so entity offsets stay valid.
                data["entities"] = [
                    {**e, "value": strip_diacritics(e["value"]) if variant is not variants[0] else e["value"]}
                    for e in entities
                ]
            out.append(Message(data=data))
    lookups = []
    for table in source.lookup_tables:
        # Locations are matched by regex on the text, so both spellings of a place are kept.
        values = list(dict.fromkeys(
            v for item in table["elements"] for v in (normalize(item), strip_diacritics(normalize(item)))
        ))
        lookups.append({**table, "elements": values})
    return TrainingData(
        training_examples=out,
        entity_synonyms=source.entity_synonyms,
        regex_features=source.regex_features,
        lookup_tables=lookups,
    )


def write_data(data, out_file: Path) -> int:
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(data.nlu_as_yaml(), encoding="utf-8")
    return len(data.training_examples)


def build_training_data(project_dir: Path, out_file: Path, *, unaccented: bool = AUGMENT_UNACCENTED,
                        extra_dirs: Sequence[Path] = ()) -> int:
    """Write the normalised (and, if configured, augmented) training data for Rasa."""
    return write_data(prepare(load_source(project_dir, extra_dirs), unaccented=unaccented), out_file)


def train_archive(config: Path, data_file: Path, output_dir: Path, name: str) -> Path:
    """Train one Rasa NLU model archive (no activation); shared with nlu.compare."""
    from rasa.model_training import train_nlu

    result = train_nlu(config=str(config), nlu_data=str(data_file), output=str(output_dir), fixed_model_name=name)
    if not result:
        raise RuntimeError("Rasa did not produce a model (see the messages above)")
    return Path(output_dir) / f"{name}.tar.gz"


def version_of(fp: str) -> str:
    return f"nlu-{fp[:12]}"


def train_candidate(
    project_dir: Path,
    model_dir: Path,
    *,
    extra_dirs: Sequence[Path] = (),
    force: bool = False,
    progress: Callable[[str], None] = print,
) -> TrainResult:
    """Train a model archive without activating it (the admins' retraining: the evaluation
    gate decides). An archive of the same fingerprint already on disk is reused
    (`skipped`), unless `force`."""
    fp = fingerprint(project_dir, extra_dirs)
    version = version_of(fp)
    archive = model_dir / f"{version}.tar.gz"
    if not force and archive.exists():
        progress(f"NLU model {version} exists already (data and pipeline unchanged); skipping training.")
        return TrainResult(version, archive, True, 0.0, 0, fp)
    started = time.monotonic()
    build_dir = model_dir / ".build" / version
    shutil.rmtree(build_dir, ignore_errors=True)
    progress(f"[1/3] Preparing training data from {project_dir / 'data'}"
             f"{''.join(f' and {d}' for d in extra_dirs)} (normalised"
             f"{' + unaccented copies' if AUGMENT_UNACCENTED else ''})...")
    count = build_training_data(project_dir, build_dir / "nlu.yml", extra_dirs=extra_dirs)
    progress(f"[2/3] Training {version} on {count} examples with {project_dir / 'config.yml'} (this takes a minute)...")
    # Rasa writes the archive under a temporary name first: a half-written file never
    # carries a version's name.
    partial = f".partial-{version}"
    train_archive(project_dir / "config.yml", build_dir / "nlu.yml", model_dir, partial)
    os.replace(model_dir / f"{partial}.tar.gz", archive)
    shutil.rmtree(build_dir, ignore_errors=True)
    return TrainResult(version, archive, False, time.monotonic() - started, count, fp)


def active_info(result: TrainResult, now: datetime) -> dict:
    return {
        "version": result.version,
        "model": result.path.name,
        "fingerprint": result.fingerprint,
        "examples": result.examples,
        "trained_at": now.isoformat(timespec="seconds"),
        "training_seconds": round(result.seconds, 1),
    }


def train(
    project_dir: Path,
    model_dir: Path,
    *,
    force: bool = False,
    extra_dirs: Sequence[Path] = (),
    progress: Callable[[str], None] = print,
) -> TrainResult:
    """`flask nlu train`: train if the fingerprint changed, and activate at once."""
    fp = fingerprint(project_dir, extra_dirs)
    version = version_of(fp)
    active = read_active(model_dir)
    archive = model_dir / f"{version}.tar.gz"
    if not force and active and active.get("fingerprint") == fp and archive.exists():
        progress(f"NLU model {version} is up to date (data and pipeline unchanged); skipping training.")
        return TrainResult(version, archive, True, 0.0, int(active.get("examples", 0)), fp)
    result = train_candidate(project_dir, model_dir, extra_dirs=extra_dirs, force=True, progress=progress)
    activate(model_dir, active_info(result, datetime.now(timezone.utc)))
    progress(f"[3/3] Activated {version} ({result.seconds:.1f} s).")
    return result
