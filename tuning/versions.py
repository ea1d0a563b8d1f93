"""Model versions: every trained model with its scores, who trained and activated it, and
one-action activation and rollback.

The database (`nlu_models`, `nlu_activations`) is the registry: it is where "who and when"
belongs and every process reads it. `models/active.json` stays the switch the worker reads
before each message (nlu.classifier.RasaClassifier.refresh), so an activation reaches a
running worker without a restart; with a Rasa server (`nlu.server_url`) the server is told to
load the archive first (`PUT /model`), and nothing switches if it refuses.

A corrupt archive is never activated: the archive must be byte for byte the one that was
loaded and evaluated when it was trained (its SHA-256 is recorded then) and must read as a
complete tar.gz with Rasa's metadata.json. That check needs no Rasa, so the web process can
run it (it must never import Rasa); the worker, should an archive still fail to load, keeps
the model it has.
"""
from __future__ import annotations

import hashlib
import tarfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Optional

import requests
from sqlalchemy import select

from nlu.training import TrainResult, activate as write_active, read_active
from store import Database, NluActivation, NluModel
from tuning.gate import Comparison, compare


class VersionError(Exception):
    """An activation or rollback that cannot be done; the message says why."""


class UnknownVersion(VersionError):
    pass


class CorruptModel(VersionError):
    pass


class RemoteLoadFailed(VersionError):
    pass


class GateRefused(VersionError):
    def __init__(self, comparison: Comparison):
        self.comparison = comparison
        super().__init__(f"activation of {comparison.candidate_version} refused by the evaluation gate: "
                         + "; ".join(comparison.refusals) + ". Give a written reason to override.")


@dataclass(frozen=True)
class ModelVersion:
    version: str
    archive: str
    fingerprint: str
    examples: int
    trained_by: str
    trained_at: datetime
    training_seconds: Optional[float]
    job_id: Optional[int]
    scores: Optional[dict]
    activated_by: Optional[str]
    activated_at: Optional[datetime]
    active: bool

    @classmethod
    def of(cls, row: NluModel, active: Optional[str]) -> "ModelVersion":
        return cls(row.version, row.archive, row.fingerprint, row.examples, row.trained_by, row.trained_at,
                   row.training_seconds, row.job_id, row.scores, row.activated_by, row.activated_at,
                   row.version == active)


@dataclass(frozen=True)
class Activation:
    """What happened, as plain data: the console writes it to its audit log."""

    version: str
    previous_version: Optional[str]
    kind: str  # activate | rollback | train
    by: str
    at: datetime
    override_reason: Optional[str]
    gate: Optional[dict]

    def audit(self) -> dict:
        return {"action": f"nlu.{self.kind}", "version": self.version, "previous_version": self.previous_version,
                "by": self.by, "at": self.at.isoformat(), "override_reason": self.override_reason,
                "gate_refusals": list((self.gate or {}).get("refusals") or [])}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_archive(path: Path) -> None:
    """A complete gzip'd tar with Rasa's metadata.json, every member readable to its end."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            names = set()
            for member in tar:
                names.add(member.name.lstrip("/"))
                if member.isfile():
                    fh = tar.extractfile(member)
                    while fh.read(1 << 20):
                        pass
    except (OSError, EOFError, tarfile.TarError) as exc:
        raise CorruptModel(f"{path.name} is not a complete model archive ({type(exc).__name__}: {exc})") from None
    if "metadata.json" not in names:
        raise CorruptModel(f"{path.name} has no metadata.json: not a Rasa model")


class ModelRegistry:
    def __init__(self, *, db: Database, model_dir: Path, clock: Callable[[], datetime],
                 server_url: Optional[str] = None, timeout: float = 300.0):
        self.db, self.model_dir, self.clock = db, Path(model_dir), clock
        self.server_url, self.timeout = (server_url.rstrip("/") if server_url else None), timeout

    # ---- reading -----------------------------------------------------------------------
    def active_version(self) -> Optional[str]:
        active = read_active(self.model_dir)
        return active.get("version") if active else None

    def versions(self) -> list[ModelVersion]:
        """Newest first."""
        active = self.active_version()
        with self.db.session() as s:
            rows = s.execute(select(NluModel).order_by(NluModel.trained_at.desc(), NluModel.version)).scalars()
            return [ModelVersion.of(r, active) for r in rows]

    def get(self, version: str) -> ModelVersion:
        with self.db.session() as s:
            row = s.get(NluModel, version)
            if row is None:
                raise UnknownVersion(f"no model version {version!r} (see `flask nlu versions`)")
            return ModelVersion.of(row, self.active_version())

    def history(self) -> list[Activation]:
        with self.db.session() as s:
            rows = s.execute(select(NluActivation).order_by(NluActivation.id.desc())).scalars()
            return [Activation(r.version, r.previous_version, r.kind, r.by, r.at, r.override_reason, r.gate)
                    for r in rows]

    def comparison(self, version: str) -> Comparison:
        """The candidate `version` against the active model, from their recorded scores."""
        candidate = self.get(version)
        active = self.active_version()
        scores = None
        if active is not None and active != version:
            with self.db.session() as s:
                row = s.get(NluModel, active)
                scores = row.scores if row is not None else None
        return compare(scores if active != version else candidate.scores, candidate.scores,
                       active_version=active, candidate_version=version)

    # ---- registering -------------------------------------------------------------------
    def register(self, result: TrainResult, *, by: str, scores: Optional[dict] = None,
                 job_id: Optional[int] = None) -> ModelVersion:
        """Record a trained archive (again: the newest training and scores win)."""
        with self.db.session() as s:
            row = s.get(NluModel, result.version) or NluModel(version=result.version)
            row.archive, row.sha256 = result.path.name, sha256_of(result.path)
            row.fingerprint, row.examples = result.fingerprint, result.examples or row.examples or 0
            row.trained_by, row.trained_at = by, self.clock()
            row.training_seconds, row.job_id = round(result.seconds, 1), job_id
            row.scores = scores if scores is not None else row.scores
            s.add(row)
            s.flush()
            return ModelVersion.of(row, self.active_version())

    def set_scores(self, version: str, scores: dict) -> None:
        with self.db.session() as s:
            s.get(NluModel, version).scores = scores

    def adopt_active(self) -> Optional[ModelVersion]:
        """The active model, registered if it was activated before the registry existed."""
        active = read_active(self.model_dir)
        if not active:
            return None
        with self.db.session() as s:
            known = s.get(NluModel, active["version"])
            if known is not None:
                return ModelVersion.of(known, active["version"])
        path = self.model_dir / active["model"]
        result = TrainResult(active["version"], path, False, float(active.get("training_seconds") or 0),
                             int(active.get("examples") or 0), active.get("fingerprint", ""))
        return self.register(result, by="(before the registry)")

    def activate_first(self, version: str, *, by: str) -> Activation:
        """`flask nlu train`'s first model, when none is active: nothing to compare it with,
        so no gate; the archive is still checked and a Rasa server (`nlu.server_url`) must
        load it first (`PUT /model`), or nothing switches. Every later model goes through
        `activate` and its gate."""
        path = self.verify(version)
        previous = self.active_version()
        if previous is not None:
            raise VersionError(f"{previous} is active already: a new model goes through the evaluation gate "
                               f"(flask nlu activate {version})")
        self.load_remote(path)
        return self._switched(version, by=by, kind="train", override_reason=None, gate=None, previous=None)

    # ---- switching ---------------------------------------------------------------------
    def verify(self, version: str) -> Path:
        with self.db.session() as s:
            row = s.get(NluModel, version)
            if row is None:
                raise UnknownVersion(f"no model version {version!r} (see `flask nlu versions`)")
            path, expected = self.model_dir / row.archive, row.sha256
        if not path.exists():
            raise CorruptModel(f"{path} is missing")
        if sha256_of(path) != expected:
            raise CorruptModel(f"{path.name} is not the archive that was trained and evaluated "
                               "(its SHA-256 differs): it was changed or cut short")
        check_archive(path)
        return path

    def activate(self, version: str, *, by: str, override_reason: Optional[str] = None) -> Activation:
        """Make `version` the model the workers use. Refused (GateRefused) when the gate says
        so and no written reason is given; never for a corrupt archive or one a Rasa server
        will not load."""
        if not by or not by.strip():
            raise VersionError("who activates must be named")
        reason = (override_reason or "").strip() or None
        path = self.verify(version)
        previous = self.active_version()
        if previous == version:
            raise VersionError(f"{version} is already the active model")
        comparison = self.comparison(version)
        if not comparison.allowed and reason is None:
            raise GateRefused(comparison)
        self.load_remote(path)
        return self._switched(version, by=by, kind="activate", override_reason=reason, gate=comparison.as_dict(),
                              previous=previous)

    def rollback(self, *, by: str) -> Activation:
        """Back to the model that was active before the current one (the last switch undone).
        Not gated: it restores a state that was live before; the archive is still checked."""
        history = self.history()
        current = self.active_version()
        last = next((a for a in history if a.version == current), None)
        if last is None or not last.previous_version:
            raise VersionError("nothing to roll back to: no earlier active model is recorded")
        target = last.previous_version
        path = self.verify(target)
        self.load_remote(path)
        return self._switched(target, by=by, kind="rollback", override_reason=None, gate=None, previous=current)

    # ---- the Rasa server ---------------------------------------------------------------
    def load_remote(self, path: Path) -> None:
        """With `nlu.server_url`, have the Rasa server load the archive (`PUT /model` with its
        absolute path, which the server must see at the same path); RemoteLoadFailed if it
        cannot or will not. Nothing to do without a server."""
        if not self.server_url:
            return
        try:
            response = requests.put(f"{self.server_url}/model", json={"model_file": str(path.resolve())},
                                    timeout=self.timeout)
        except requests.RequestException as exc:
            raise RemoteLoadFailed(f"the Rasa server {self.server_url} could not be reached: {exc}") from None
        if response.status_code >= 300:
            raise RemoteLoadFailed(f"the Rasa server refused {path.name}: HTTP {response.status_code} "
                                   f"{response.text[:300]}")

    # ---- internals ---------------------------------------------------------------------
    def _switched(self, version: str, *, by: str, kind: str, override_reason: Optional[str], gate: Optional[dict],
                  previous: Optional[str]) -> Activation:
        now = self.clock()
        with self.db.session() as s:
            row = s.get(NluModel, version)
            row.activated_by, row.activated_at = by, now
            s.add(NluActivation(version=version, previous_version=previous, kind=kind, by=by, at=now,
                                override_reason=override_reason, gate=gate))
            s.flush()
            write_active(self.model_dir, {"version": version, "model": row.archive,
                                          "fingerprint": row.fingerprint, "examples": row.examples,
                                          "trained_at": row.trained_at.isoformat(timespec="seconds"),
                                          "training_seconds": row.training_seconds,
                                          "activated_by": by, "activated_at": now.isoformat(timespec="seconds")})
        return Activation(version, previous, kind, by, now, override_reason, gate)
