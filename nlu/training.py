"""Training: normalise and augment the Rasa data, train, and activate a versioned model.

A model's name carries the fingerprint of everything that shapes it (pipeline, training
data, this module's augmentation), so `train` is skipped when nothing changed and a new
model is activated by rewriting `active.json` atomically; the worker notices and reloads.
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
from typing import Callable, Optional

from nlu.normalize import has_diacritics, normalize, strip_diacritics

AUGMENTATION_VERSION = "strip-diacritics-v1"
ACTIVE_FILE = "active.json"


@dataclass(frozen=True)
class TrainResult:
    version: str
    path: Path
    skipped: bool
    seconds: float
    examples: int


def data_files(project_dir: Path) -> list[Path]:
    return sorted(p for p in (project_dir / "data").rglob("*.yml") if p.is_file())


def fingerprint(project_dir: Path) -> str:
    digest = hashlib.sha256(AUGMENTATION_VERSION.encode())
    for path in [project_dir / "config.yml", *data_files(project_dir)]:
        digest.update(str(path.relative_to(project_dir)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


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


def build_training_data(project_dir: Path, out_file: Path) -> int:
    """Write normalised training data plus an unaccented copy of every accented example."""
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    # Only the YAML files: the data folder also holds its README.
    parts = [load_data(str(path)) for path in data_files(project_dir)]
    source = parts[0].merge(*parts[1:])
    examples, seen = [], set()
    for message in source.training_examples:
        text = message.get("text")
        entities = message.get("entities") or []
        variants = [text if entities else normalize(text)]
        if has_diacritics(variants[0]):
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
            examples.append(Message(data=data))
    lookups = []
    for table in source.lookup_tables:
        values = list(dict.fromkeys(
            v for item in table["elements"] for v in (normalize(item), strip_diacritics(normalize(item)))
        ))
        lookups.append({**table, "elements": values})
    data = TrainingData(
        training_examples=examples,
        entity_synonyms=source.entity_synonyms,
        regex_features=source.regex_features,
        lookup_tables=lookups,
    )
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(data.nlu_as_yaml(), encoding="utf-8")
    return len(examples)


def train(
    project_dir: Path,
    model_dir: Path,
    *,
    force: bool = False,
    progress: Callable[[str], None] = print,
) -> TrainResult:
    fp = fingerprint(project_dir)
    version = f"nlu-{fp[:12]}"
    active = read_active(model_dir)
    archive = model_dir / f"{version}.tar.gz"
    if not force and active and active.get("fingerprint") == fp and archive.exists():
        progress(f"NLU model {version} is up to date (data and pipeline unchanged); skipping training.")
        return TrainResult(version, archive, True, 0.0, int(active.get("examples", 0)))
    started = time.monotonic()
    build_dir = model_dir / ".build" / version
    shutil.rmtree(build_dir, ignore_errors=True)
    progress(f"[1/3] Preparing training data from {project_dir / 'data'} (normalised + unaccented copies)...")
    count = build_training_data(project_dir, build_dir / "nlu.yml")
    progress(f"[2/3] Training {version} on {count} examples with {project_dir / 'config.yml'} (this takes a minute)...")
    from rasa.model_training import train_nlu

    result = train_nlu(
        config=str(project_dir / "config.yml"),
        nlu_data=str(build_dir / "nlu.yml"),
        output=str(model_dir),
        fixed_model_name=version,
    )
    if not result:
        raise RuntimeError("Rasa did not produce a model (see the messages above)")
    seconds = time.monotonic() - started
    activate(model_dir, {
        "version": version,
        "model": archive.name,
        "fingerprint": fp,
        "examples": count,
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "training_seconds": round(seconds, 1),
    })
    shutil.rmtree(build_dir, ignore_errors=True)
    progress(f"[3/3] Activated {version} ({seconds:.1f} s).")
    return TrainResult(version, archive, False, seconds, count)
