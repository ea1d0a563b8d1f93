"""The admins' NLU inbox: what the bot classified, grouped and ordered for review, and the
admins' decisions on it.

Order: messages whose domain an officer corrected first (inquiries.corrected_intent, set
when the standing office assigns from triage or a unit's inquiry is reassigned with a domain
correction: those arrive pre-labelled), then those the classifier was unsure of
(needs_review), then the lowest confidence. Near-duplicates (tuning.similarity) form one
group with one decision; a text already in the training data is marked.

Decisions: confirm (the suggested label: the officer's correction if any, else the
prediction), relabel (to an intent the training data has; any other is an error), discard
(not training material; it stays discarded: no later decision applies to it). Each decision
is a conditional UPDATE on the row's `version`: when two admins decide the same message at
once, the second gets a Conflict carrying the first one's decision, and nothing of theirs is
written. Without an expected version a decision applies only to undecided messages; changing
a decision someone saw (say, confirmed -> relabelled) passes the version it saw. Before an
example is accepted its personal data is replaced (tuning.privacy); the accepted examples
are then rewritten to the inbox's Rasa file (tuning.dataset).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Collection, Iterable, Mapping, Optional, Sequence, TextIO

from sqlalchemy import and_, case, or_, select, update

from nlu.normalize import normalize
from store import ClassificationRecord as Row, Database, Inquiry
from tuning import dataset
from tuning.privacy import Scrubbed, scrub
from tuning.similarity import DEFAULT_THRESHOLD, group, index, key

ACTIONS = ("confirm", "relabel", "discard")
STATUSES = ("pending", "confirmed", "relabelled", "discarded")


class InboxError(Exception):
    """A decision that makes no sense (unknown intent or action, nothing to confirm...)."""


class UnknownIntent(InboxError):
    pass


@dataclass(frozen=True)
class InboxFilter:
    intents: tuple[str, ...] = ()  # predicted, corrected or decided intent
    min_confidence: Optional[float] = None
    max_confidence: Optional[float] = None
    since: Optional[datetime] = None  # created_at >= since
    until: Optional[datetime] = None  # created_at < until
    page_id: Optional[str] = None
    language: Optional[str] = None
    routed_automatically: Optional[bool] = None
    statuses: tuple[str, ...] = ("pending",)
    limit: int = 1000
    ids: tuple[int, ...] = ()  # only these messages (a group shown again after a decision)


@dataclass(frozen=True)
class InboxItem:
    id: int
    version: int
    text: str
    normalized: str
    intent: Optional[str]
    confidence: float
    runner_up: Optional[str]
    runner_up_confidence: Optional[float]
    ranking: list
    needs_review: bool
    routed_automatically: bool
    outcome: str
    page_id: Optional[str]
    channel: Optional[str]
    language: str
    model_version: Optional[str]
    inquiry_id: Optional[int]
    inquiry_code: Optional[str]
    corrected_intent: Optional[str]  # the officers' domain correction (pre-label)
    created_at: datetime
    status: str
    label: Optional[str]
    training_text: Optional[str]
    decided_by: Optional[str]
    decided_at: Optional[datetime]
    in_training_data: bool  # the same text (similarity.key) is already a training example

    @property
    def corrected(self) -> bool:
        return self.corrected_intent is not None and self.corrected_intent != self.intent

    @property
    def suggested_label(self) -> Optional[str]:
        return self.corrected_intent or self.intent


@dataclass(frozen=True)
class InboxGroup:
    """Near-duplicates: the first item leads (the highest in the order); one decision for all."""

    items: tuple[InboxItem, ...]

    @property
    def leader(self) -> InboxItem:
        return self.items[0]

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(i.id for i in self.items)

    @property
    def versions(self) -> dict[int, int]:
        return {i.id: i.version for i in self.items}


@dataclass(frozen=True)
class Decided:
    id: int
    status: str
    label: Optional[str]
    training_text: Optional[str]
    version: int


@dataclass(frozen=True)
class Conflict:
    """Someone decided first (or the row changed since it was read): their decision."""

    id: int
    status: str
    label: Optional[str]
    decided_by: Optional[str]
    decided_at: Optional[datetime]
    version: int
    message: str


@dataclass(frozen=True)
class DecisionReport:
    applied: tuple[Decided, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    refused: tuple[Conflict, ...] = ()  # discarded items, and confirm with nothing to confirm
    missing: tuple[int, ...] = ()
    data_file: Optional[str] = None

    @property
    def ok(self) -> bool:
        return not (self.conflicts or self.refused or self.missing)


class Inbox:
    def __init__(self, *, db: Database, intents: Collection[str], clock: Callable[[], datetime],
                 training_texts: Callable[[], Iterable[tuple[str, str]]] = lambda: (),
                 data_dir: Optional[Path] = None, similarity: float = DEFAULT_THRESHOLD):
        """`intents`: what a message may be labelled with (the training data's intents);
        `training_texts`: the hand-written (text, intent) pairs, to mark texts already known;
        `data_dir`: where inbox.yml is written after each decision (None: not written)."""
        self.db, self.intents, self.clock = db, frozenset(intents), clock
        self.training_texts, self.data_dir, self.similarity = training_texts, data_dir, similarity

    @classmethod
    def for_project(cls, *, db: Database, project_dir: Path, data_dir: Path, clock: Callable[[], datetime],
                    similarity: float = DEFAULT_THRESHOLD) -> "Inbox":
        return cls(db=db, intents=dataset.intents(project_dir), clock=clock, data_dir=data_dir,
                   training_texts=lambda: [(e.text, e.intent) for e in dataset.hand_written(project_dir, data_dir)],
                   similarity=similarity)

    # ---- listing ---------------------------------------------------------------------------
    def items(self, flt: InboxFilter = InboxFilter()) -> list[InboxItem]:
        corrected = and_(Inquiry.corrected_intent.is_not(None),
                         or_(Row.intent.is_(None), Inquiry.corrected_intent != Row.intent))
        query = (select(Row, Inquiry.code, Inquiry.corrected_intent)
                 .outerjoin(Inquiry, Inquiry.id == Row.inquiry_id)
                 .order_by(case((corrected, 0), else_=1), case((Row.needs_review.is_(True), 0), else_=1),
                           Row.confidence.asc(), Row.id.asc())
                 .limit(flt.limit))
        if flt.statuses:
            query = query.where(Row.status.in_(flt.statuses))
        if flt.ids:
            query = query.where(Row.id.in_(flt.ids))
        if flt.intents:
            query = query.where(or_(Row.intent.in_(flt.intents), Inquiry.corrected_intent.in_(flt.intents),
                                    Row.label.in_(flt.intents)))
        if flt.min_confidence is not None:
            query = query.where(Row.confidence >= flt.min_confidence)
        if flt.max_confidence is not None:
            query = query.where(Row.confidence <= flt.max_confidence)
        if flt.since is not None:
            query = query.where(Row.created_at >= flt.since)
        if flt.until is not None:
            query = query.where(Row.created_at < flt.until)
        if flt.page_id is not None:
            query = query.where(Row.page_id == flt.page_id)
        if flt.language is not None:
            query = query.where(Row.language == flt.language)
        if flt.routed_automatically is not None:
            query = query.where(Row.routed_automatically.is_(flt.routed_automatically))
        known = set(index(self.training_texts()))
        with self.db.session() as s:
            return [_item(r, code, corrected_intent, key(r.normalized) in known)
                    for r, code, corrected_intent in s.execute(query).all()]

    def groups(self, flt: InboxFilter = InboxFilter()) -> list[InboxGroup]:
        """The listing with near-duplicates together, in the inbox's order."""
        return [InboxGroup(tuple(g)) for g in group(self.items(flt), lambda i: i.normalized,
                                                    threshold=self.similarity)]

    def counts(self) -> dict[str, int]:
        from sqlalchemy import func

        with self.db.session() as s:
            return dict(s.execute(select(Row.status, func.count()).group_by(Row.status)).all())

    # ---- deciding --------------------------------------------------------------------------
    def decide(self, ids: Sequence[int], action: str, *, by: str, intent: Optional[str] = None,
               expected: Optional[Mapping[int, int]] = None) -> DecisionReport:
        """One decision for every message of `ids` (a group, or a bulk selection), in one
        transaction. `expected`: id -> the version the admin saw (see the module's docstring).
        An unknown action or intent is an error before anything is written."""
        if action not in ACTIONS:
            raise InboxError(f"unknown decision {action!r}: one of {', '.join(ACTIONS)}")
        if not by or not by.strip():
            raise InboxError("who decides must be named")
        if action == "relabel":
            if not intent:
                raise InboxError("relabel needs the intent to relabel to")
            if intent not in self.intents:
                raise UnknownIntent(f"unknown intent {intent!r}: not one of the training data's intents "
                                    f"({', '.join(sorted(self.intents))})")
        elif intent is not None:
            raise InboxError(f"{action} takes no intent (relabel does)")
        applied, conflicts, refused, missing = [], [], [], []
        now = self.clock()
        with self.db.session() as s:
            for row_id in dict.fromkeys(ids):
                found = s.execute(select(Row, Inquiry.corrected_intent).outerjoin(Inquiry, Inquiry.id == Row.inquiry_id)
                                  .where(Row.id == row_id)).first()
                if found is None:
                    missing.append(row_id)
                    continue
                row, corrected_intent = found
                if row.status == "discarded":
                    refused.append(_conflict(row, f"message #{row.id} was discarded by {row.decided_by}: it stays "
                                                  "discarded and cannot be confirmed or relabelled"))
                    continue
                values = self._values(row, action, intent, corrected_intent)
                if values is None:
                    refused.append(_conflict(row, f"message #{row.id} has no predicted intent to confirm: "
                                                  "relabel it or discard it"))
                    continue
                condition = Row.version == expected[row_id] if expected and row_id in expected \
                    else Row.status == "pending"
                result = s.execute(update(Row).where(Row.id == row_id, Row.status != "discarded", condition)
                                   .values(**values, decided_by=by, decided_at=now, version=Row.version + 1)
                                   .execution_options(synchronize_session=False))
                if result.rowcount != 1:
                    s.expire(row)
                    current = s.get(Row, row_id)
                    conflicts.append(_conflict(current, f"message #{row_id} was decided by {current.decided_by} at "
                                                        f"{current.decided_at:%Y-%m-%d %H:%M} UTC ({current.status}"
                                                        f"{' ' + current.label if current.label else ''}); "
                                                        "your decision was not applied"))
                    continue
                applied.append(Decided(row_id, values["status"], values["label"], values["training_text"],
                                       row.version + 1))
        data_file = self.write_data_file() if applied else None
        return DecisionReport(tuple(applied), tuple(conflicts), tuple(refused), tuple(missing),
                              str(data_file) if data_file else None)

    def decide_group(self, grp: InboxGroup, action: str, *, by: str, intent: Optional[str] = None) -> DecisionReport:
        return self.decide(grp.ids, action, by=by, intent=intent, expected=grp.versions)

    @staticmethod
    def _values(row: Row, action: str, intent: Optional[str], corrected_intent: Optional[str]) -> Optional[dict]:
        if action == "discard":
            return {"status": "discarded", "label": None, "training_text": None}
        label = intent if action == "relabel" else (corrected_intent or row.intent)
        if label is None:
            return None
        status = "confirmed" if label == row.intent else "relabelled"
        return {"status": status, "label": label, "training_text": training_text(row.normalized).annotated}

    def write_data_file(self) -> Optional[Path]:
        if self.data_dir is None:
            return None
        with self.db.session() as s:
            return dataset.write_inbox_file(s, self.data_dir)

    # ---- JSON lines ------------------------------------------------------------------------
    def export(self, out: TextIO, flt: InboxFilter = InboxFilter(statuses=STATUSES, limit=10 ** 9)) -> int:
        """One JSON object per message, with its decision (UTC instants)."""
        n = 0
        for item in self.items(flt):
            data = asdict(item)
            for k in ("created_at", "decided_at"):
                data[k] = data[k].isoformat() if data[k] else None
            out.write(json.dumps(data, ensure_ascii=False) + "\n")
            n += 1
        return n

    def import_(self, lines: Iterable[str], *, by: str) -> "ImportReport":
        """Decisions from JSON lines. A line is either a decision, {"id", "decision":
        confirm|relabel|discard, "intent" (relabel), "version" (optional: the version seen)},
        or a line of `export` (its "status" and "label" are the decision). When its "id" is
        not a message of this database (another deployment's export), an accepted line
        ("text" and a label) becomes a new imported example, accepted under its label.
        Every line is checked on its own; a bad line is reported with its number and nothing
        of it is written."""
        report = ImportReport()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
                explicit = data.get("decision")
                action = explicit or _STATUS_ACTION.get(data.get("status") or "")
                if action is None:
                    report.skipped.append((number, "no decision (pending)"))
                    continue
                intent = data.get("intent") if explicit else (data.get("label") if action == "relabel" else None)
                row_id = data.get("id")
                if row_id is not None and self._exists(int(row_id), data.get("text")):
                    expected = {int(row_id): int(data["version"])} if explicit and data.get("version") is not None \
                        else None
                    result = self.decide([int(row_id)], action, by=by, intent=intent, expected=expected)
                elif action != "discard" and data.get("text"):
                    result = self._add_example(str(data["text"]), intent or data.get("label") or data.get("intent"),
                                               data.get("language") or "vi", by=by)
                else:
                    raise InboxError(f"no message #{row_id} in this database")
            except (ValueError, TypeError, InboxError) as exc:
                report.errors.append((number, str(exc)))
                continue
            report.applied += len(result.applied)
            report.errors += [(number, c.message) for c in (*result.conflicts, *result.refused)]
            report.errors += [(number, f"no message #{i}") for i in result.missing]
        return report

    def _add_example(self, text: str, label: Optional[str], language: str, *, by: str) -> DecisionReport:
        """A labelled example from elsewhere: recorded as an imported message, then relabelled
        (the same checks and personal-data replacement as any decision)."""
        from nlu.classifier import Classification
        from tuning.records import record

        clean = normalize(text)
        if not clean:
            raise InboxError("an imported example needs a text")
        if label not in self.intents:
            raise UnknownIntent(f"unknown intent {label!r}: not one of the training data's intents")
        with self.db.session() as s:
            row = record(s, Classification(text=text, intent=None, confidence=0.0, normalized=clean),
                         event_id=None, page_id=None, channel=None, language=language, outcome="imported",
                         routed_automatically=False, inquiry_id=None, at=self.clock())
            s.flush()
            row_id = row.id
        return self.decide([row_id], "relabel", by=by, intent=label)

    def _exists(self, row_id: int, text: Optional[str]) -> bool:
        """`row_id` is a message of this database (with the same text, when the line has one)."""
        with self.db.session() as s:
            row = s.get(Row, row_id)
            return row is not None and (text is None or row.text == text)


def training_text(normalized: str) -> Scrubbed:
    """What accepting a message writes to the training data: its normalised text with personal
    data replaced. The admins' page shows it before they decide, from this same function."""
    return scrub(normalize(normalized))


_STATUS_ACTION = {"confirmed": "confirm", "relabelled": "relabel", "discarded": "discard"}


@dataclass
class ImportReport:
    applied: int = 0
    errors: list = field(default_factory=list)  # (line number, message)
    skipped: list = field(default_factory=list)


def _item(r: Row, code: Optional[str], corrected_intent: Optional[str], known: bool) -> InboxItem:
    return InboxItem(
        id=r.id, version=r.version, text=r.text, normalized=r.normalized, intent=r.intent, confidence=r.confidence,
        runner_up=r.runner_up, runner_up_confidence=r.runner_up_confidence, ranking=list(r.ranking or []),
        needs_review=r.needs_review, routed_automatically=r.routed_automatically, outcome=r.outcome,
        page_id=r.page_id, channel=r.channel, language=r.language, model_version=r.model_version,
        inquiry_id=r.inquiry_id, inquiry_code=code, corrected_intent=corrected_intent, created_at=r.created_at,
        status=r.status, label=r.label, training_text=r.training_text, decided_by=r.decided_by,
        decided_at=r.decided_at, in_training_data=known)


def _conflict(row: Row, message: str) -> Conflict:
    return Conflict(row.id, row.status, row.label, row.decided_by, row.decided_at, row.version, message)
