"""The admins' accepted examples as Rasa training data, and the conflicts to settle first.

Accepted examples go to one file, `inbox.yml`, in the directory the deployment sets
(`nlu.inbox_data_dir`; in development the project's own `nlu/data/`), in Rasa's YAML format
(version "3.1", `- intent: X` / `examples: |`), so `rasa data validate` and Rasa's tools read
it like the hand-written files; `nlu.training` trains on it with them. The file is rewritten
whole from the database (atomically) after each decision and before each training, so the
database is the truth and the file never drifts; with nothing accepted it is removed, and the
fingerprint is then that of the hand-written data alone.

A conflict is one text (compared by `similarity.key`: normalised, folded, numbers and codes
collapsed) under two intents, across the hand-written files and the accepted examples.
Training is refused while any exists (tuning.jobs); the admin settles it by relabelling or
discarding the inbox example, or by editing the hand-written file.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

from sqlalchemy import select

from nlu.evaluate import read_examples
from nlu.training import data_files
from store import ClassificationRecord
from tuning.similarity import key, plain

INBOX_FILE = "inbox.yml"
ACCEPTED = ("confirmed", "relabelled")


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    source: str  # a data file's name, or "inbox #<record id>"


@dataclass(frozen=True)
class Conflict:
    key: str
    examples: tuple[Example, ...]

    @property
    def intents(self) -> tuple[str, ...]:
        return tuple(sorted({e.intent for e in self.examples}))

    def describe(self) -> str:
        return f"«{self.examples[0].text}»: " + "; ".join(f"{e.intent} ({e.source})" for e in self.examples)

    def as_dict(self) -> dict:
        return {"key": self.key, "intents": list(self.intents),
                "examples": [{"text": e.text, "intent": e.intent, "source": e.source} for e in self.examples]}


def hand_written(project_dir: Path, inbox_dir: Path) -> list[Example]:
    """The project's own training examples (every data file but the inbox's)."""
    inbox = (Path(inbox_dir) / INBOX_FILE).resolve()
    return [Example(e.text, e.intent, path.name) for path in data_files(Path(project_dir))
            if path.resolve() != inbox for e in read_examples(path)]


def intents(project_dir: Path) -> frozenset[str]:
    """The intents the model can learn: those of the hand-written data."""
    return frozenset(e.intent for path in data_files(Path(project_dir)) for e in read_examples(path))


def accepted(s) -> list[ClassificationRecord]:
    return list(s.execute(select(ClassificationRecord).where(ClassificationRecord.status.in_(ACCEPTED))
                          .order_by(ClassificationRecord.label, ClassificationRecord.id)).scalars())


def inbox_examples(rows: Iterable[ClassificationRecord]) -> list[Example]:
    return [Example(r.training_text, r.label, f"inbox #{r.id}") for r in rows if r.training_text and r.label]


def render(examples: Sequence[Example]) -> str:
    """Rasa 3 NLU YAML; one example per line, the same text only once per intent."""
    by_intent: dict[str, list[str]] = {}
    seen: set[tuple[str, str]] = set()
    for e in examples:
        k = (e.intent, key(e.text))
        if k in seen:
            continue
        seen.add(k)
        by_intent.setdefault(e.intent, []).append(" ".join(e.text.split()))
    lines = ['# Written by the admins\' NLU inbox (tuning/dataset.py) from its accepted examples;',
             '# personal data already replaced. Edit decisions in the inbox, not here: this file is rewritten.',
             'version: "3.1"', "nlu:"]
    for intent in sorted(by_intent):
        lines += [f"- intent: {intent}", "  examples: |"] + [f"    - {t}" for t in by_intent[intent]]
    return "\n".join(lines) + "\n"


def write_inbox_file(s, inbox_dir: Path) -> Optional[Path]:
    """Rewrite inbox.yml from the accepted examples (atomically); None when there are none."""
    path = Path(inbox_dir) / INBOX_FILE
    examples = inbox_examples(accepted(s))
    if not examples:
        path.unlink(missing_ok=True)
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".inbox-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(render(examples))
    os.replace(tmp, path)
    return path


def conflicts(hand: Sequence[Example], inbox: Sequence[Example]) -> list[Conflict]:
    """Texts that appear under more than one intent (hand-written data and accepted examples)."""
    groups: dict[str, list[Example]] = {}
    for e in [*hand, *inbox]:
        groups.setdefault(key(e.text), []).append(Example(plain(e.text), e.intent, e.source))
    return [Conflict(k, tuple(es)) for k, es in groups.items() if k and len({e.intent for e in es}) > 1]


def find_conflicts(s, project_dir: Path, inbox_dir: Path) -> list[Conflict]:
    return conflicts(hand_written(project_dir, inbox_dir), inbox_examples(accepted(s)))
