"""classify(text): Rasa in process by default, or a Rasa server's /model/parse, same result."""
from __future__ import annotations

import asyncio
import logging
import re
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Protocol

import requests

from nlu.entities import resolve
from nlu.normalize import normalize
from nlu.training import read_active

log = logging.getLogger(__name__)
# The classifier reads at most this much of a message: the question is at its start, and a
# bounded input keeps a huge paste from costing seconds.
MAX_CLASSIFY_CHARS = 4000
_LEADING_SLASHES = re.compile(r"^[\s/]+")


class NoModel(Exception):
    """No trained model is active yet (run `flask nlu train`)."""


@dataclass(frozen=True)
class Classification:
    text: str  # as the business wrote it; entity offsets refer to `normalized`
    intent: Optional[str]
    confidence: float
    entities: list[dict[str, Any]] = field(default_factory=list)
    ranking: list[tuple[str, float]] = field(default_factory=list)
    needs_review: bool = True
    model_version: Optional[str] = None
    normalized: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ranking"] = [list(r) for r in self.ranking]
        return data


class Classifier(Protocol):
    def classify(self, text: str) -> Classification: ...


def needs_review(confidence: float, ranking: list[tuple[str, float]], threshold: float, min_margin: float) -> bool:
    """Unsure when below the threshold, or when the runner-up is within `min_margin`."""
    if confidence < threshold:
        return True
    if min_margin > 0 and len(ranking) > 1 and ranking[0][1] - ranking[1][1] < min_margin:
        return True
    return False


def _from_parse(text: str, parsed: dict, threshold: float, min_margin: float, version: Optional[str]) -> Classification:
    intent = (parsed.get("intent") or {}).get("name")
    confidence = float((parsed.get("intent") or {}).get("confidence") or 0.0)
    ranking = [(r["name"], float(r["confidence"])) for r in parsed.get("intent_ranking") or []]
    entities = resolve(parsed.get("text") or text, [
        {k: e[k] for k in ("entity", "value", "start", "end") if k in e}
        for e in parsed.get("entities") or []
    ])
    return Classification(
        text=text,
        intent=intent,
        confidence=round(confidence, 4),
        entities=entities,
        ranking=ranking[:5],
        needs_review=intent is None or needs_review(confidence, ranking, threshold, min_margin),
        model_version=version,
        normalized=parsed.get("text") or text,
    )


def for_rasa(text: str) -> str:
    """The normalised text as Rasa must see it. Rasa reads a message that starts with "/" as
    an intent typed by hand ("/thue" -> intent "thue", confidence 1.0; "/ hỏi thuế" -> an
    intent named "hỏi thuế"), so a business typing a slash first would bypass the model and
    the abstention: the leading slashes are dropped."""
    return _LEADING_SLASHES.sub("", normalize(text))


def _no_words(text: str, version: Optional[str]) -> Classification:
    """What a text with nothing left after normalisation (only emoji, zero-width or control
    characters) is: no intent, for a person to look at. Rasa is not asked: its featurizers
    have nothing to work with."""
    return Classification(text=text, intent=None, confidence=0.0, needs_review=True, model_version=version,
                          normalized="")


def load_agent(path: Path):
    """A Rasa agent for one model archive (Rasa is imported here, not at module import)."""
    from nlu import quiet_rasa

    with quiet_rasa():
        from rasa.core.agent import Agent
        from rasa.utils.log_utils import configure_structlog

        configure_structlog(logging.WARNING)
        agent = Agent.load(str(path))
    if agent.processor is None:  # Rasa logs a bad archive and returns an agent without a model
        raise ValueError(f"{path} is not a loadable Rasa model")
    return agent


class ArchiveClassifier:
    """One given model archive, whatever is active: for evaluating a candidate before it
    is activated (tuning.gate)."""

    def __init__(self, archive: Path, *, threshold: float, min_margin: float = 0.0):
        self.threshold, self.min_margin = threshold, min_margin
        self.version = Path(archive).name.replace(".tar.gz", "")
        self._agent = load_agent(Path(archive))
        self._loop = asyncio.new_event_loop()

    def classify(self, text: str) -> Classification:
        clean = normalize(text)
        if not clean:
            return _no_words(text, self.version)
        parsed = self._loop.run_until_complete(self._agent.parse_message(clean))
        return _from_parse(text, parsed, self.threshold, self.min_margin, self.version)

    def close(self) -> None:
        self._loop.close()


class RasaClassifier:
    """Loads the active model once and reloads it when active.json names another one.

    A model that fails to load is not taken: the worker keeps classifying with the one it
    has (and says so in its log) rather than stopping; activation checks the archive
    first (tuning.versions), so this is the last line of defence."""

    def __init__(self, model_dir: Path, *, threshold: float, min_margin: float = 0.0):
        self.model_dir = Path(model_dir)
        self.threshold = threshold
        self.min_margin = min_margin
        self._agent = None
        self._version: Optional[str] = None
        self._failed: Optional[str] = None  # a version that did not load: not tried again
        self._loop = asyncio.new_event_loop()
        self._lock = threading.Lock()

    @property
    def version(self) -> Optional[str]:
        return self._version

    def refresh(self) -> Optional[str]:
        """Load the active model if it changed since the last call; returns its version."""
        active = read_active(self.model_dir)
        if not active:
            return self._version
        if active["version"] != self._version and active["version"] != self._failed:
            path = self.model_dir / active["model"]
            log.info("loading NLU model %s", path)
            try:
                agent = load_agent(path)
            except Exception:  # a broken archive must not stop the worker's loop
                log.exception("NLU model %s could not be loaded; keeping %s", path, self._version)
                self._failed = active["version"]
                if self._agent is None:
                    raise
                return self._version
            self._agent, self._version, self._failed = agent, active["version"], None
        return self._version

    def classify(self, text: str) -> Classification:
        with self._lock:
            self.refresh()
            if self._agent is None:
                raise NoModel(f"no active model in {self.model_dir}; run `flask nlu train`")
            clean = for_rasa(text)
            if not clean:
                return _no_words(text, self._version)
            parsed = self._loop.run_until_complete(self._agent.parse_message(clean))
            return _from_parse(text, parsed, self.threshold, self.min_margin, self._version)


class RemoteRasaClassifier:
    """The same interface over a Rasa server started with `rasa run --enable-api`."""

    def __init__(self, server_url: str, *, threshold: float, min_margin: float = 0.0, timeout: float = 10.0):
        self.server_url = server_url.rstrip("/")
        self.threshold = threshold
        self.min_margin = min_margin
        self.timeout = timeout
        self._http = requests.Session()
        self._version: Optional[str] = None

    @property
    def version(self) -> Optional[str]:
        return self._version

    def refresh(self) -> Optional[str]:
        try:
            status = self._http.get(f"{self.server_url}/status", timeout=self.timeout).json()
            self._version = Path(status.get("model_file") or "").name.replace(".tar.gz", "") or None
        except (requests.RequestException, ValueError) as exc:
            log.warning("Rasa server status unavailable: %s", exc)
        return self._version

    def classify(self, text: str) -> Classification:
        clean = for_rasa(text)
        if not clean:
            return _no_words(text, self._version)
        response = self._http.post(f"{self.server_url}/model/parse", json={"text": clean}, timeout=self.timeout)
        response.raise_for_status()
        if self._version is None:
            self.refresh()
        return _from_parse(text, response.json(), self.threshold, self.min_margin, self._version)


def build_classifier(model_dir: Path, threshold: float, min_margin: float, server_url: Optional[str]) -> Classifier:
    if server_url:
        return RemoteRasaClassifier(server_url, threshold=threshold, min_margin=min_margin)
    return RasaClassifier(model_dir, threshold=threshold, min_margin=min_margin)
